"""The parquet lake as a resource: where each asset's output lives, on a folder or an object store."""

from __future__ import annotations

import tempfile
from pathlib import Path

import dagster as dg
from pydantic import Field

from taxi_assets.lake_storage import MANIFEST, LakeLocation, lake_root, read_committed


class DataLake(dg.ConfigurableResource):
    """The parquet lake: raw, quarantine, features, training sets, profiles, traffic, drift reports.

    The root is a folder, a ``file://`` URL (a volume every Dagster step and Spark executor mounts under the same
    path) or an object-store URL (``s3://bucket/prefix``, ``gs://bucket/prefix``; see :mod:`taxi_assets.lake_storage`).
    Folder outputs are committed by their manifests, never by renaming a folder, so all of them behave alike.
    """

    root: str = Field(
        description="Folder, file:// URL or object-store URL of the data lake, normally <TAXI_HOME>/lake."
    )
    scratch: str | None = Field(
        default=None,
        description="Local folder for downloads and model export when the root is an object store "
        "(default: taxi-lake-scratch under the system's temporary folder).",
    )

    @property
    def location(self) -> LakeLocation:
        """The lake root."""
        return lake_root(self.root)

    def local_scratch(self) -> Path:
        """A local folder for work that needs local files: inside the lake when it is local, else ``scratch``."""
        local = self.location.local_path
        folder = local if local is not None else Path(self.scratch or Path(tempfile.gettempdir()) / "taxi-lake-scratch")
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def downloads(self) -> Path:
        """Cache of downloaded TLC files (always local: the trip source writes them with plain file IO)."""
        return self.local_scratch() / "downloads"

    def raw(self, service: str, month: str) -> LakeLocation:
        """Canonical raw trips of one month."""
        return self.location / "raw" / service / f"{month}.parquet"

    def quarantine(self, service: str, month: str) -> LakeLocation:
        """Rows of one month that broke a value rule, with the rules they broke."""
        return self.location / "quarantine" / service / f"{month}.parquet"

    def zones(self) -> LakeLocation:
        """The normalised zone lookup."""
        return self.location / "zones" / "taxi_zones.parquet"

    def features(self, service: str, month: str) -> LakeLocation:
        """Model features of one month (a folder output: read it through its manifest)."""
        return self.location / "features" / service / f"{month}.parquet"

    def ingested_months(self, service: str) -> list[str]:
        """The months of ``service`` whose features are committed in the lake, oldest first."""
        folder = self.location / "features" / service
        if not folder.exists():
            return []
        months = [child.name.removesuffix(".parquet") for child in folder.children()]
        return sorted(month for month in months if (self.features(service, month) / MANIFEST).is_file())

    def committed_features(self, service: str, month: str) -> LakeLocation:
        """Where the committed feature table of one month is; fails clearly when it is not materialized."""
        return read_committed(self.features(service, month), f"trip_features {service} {month}")[1]

    def training_set(self, service: str) -> LakeLocation:
        """The train/test split of one service (``split=train`` / ``split=test`` in its committed generation)."""
        return self.location / "training" / service

    def traffic(self, service: str) -> LakeLocation:
        """Labelled production traffic as a feature table, split into train and most-recent holdout."""
        return self.location / "traffic" / service

    def profile_dir(self, service: str) -> LakeLocation:
        """The reference profile of one service (JSON plus reference.csv)."""
        return self.location / "profiles" / service

    def drift_report(self, service: str, window: str) -> LakeLocation:
        """The drift report of one service and window, as JSON."""
        return self.location / "drift" / service / f"{window}.json"

    def model_dir(self, service: str, run_id: str) -> LakeLocation:
        """Working copy of one training run: the saved Spark model, the ONNX export, test predictions."""
        return self.location / "models" / service / run_id
