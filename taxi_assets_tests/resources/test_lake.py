"""The lake as a resource: one layout under its root, months known by their manifests, missing inputs named."""

from pathlib import Path

import pytest

from taxi_assets.errors import MissingInputError
from taxi_assets.lake_storage import write_manifest
from taxi_assets.resources import DataLake


def test_every_output_has_its_place_under_the_root(tmp_path: Path) -> None:
    lake = DataLake(root=str(tmp_path / "lake"))
    places = {
        "raw": lake.raw("green", "2022-01"),
        "quarantine": lake.quarantine("green", "2022-01"),
        "zones": lake.zones(),
        "features": lake.features("yellow", "2023-02"),
        "training": lake.training_set("green"),
        "traffic": lake.traffic("green"),
        "profile": lake.profile_dir("green"),
        "drift": lake.drift_report("green", "2026-03-02-10:00"),
        "model": lake.model_dir("green", "run1"),
    }
    relative = {name: str(Path(place.path).relative_to(tmp_path / "lake")) for name, place in places.items()}
    assert relative == {
        "raw": "raw/green/2022-01.parquet",
        "quarantine": "quarantine/green/2022-01.parquet",
        "zones": "zones/taxi_zones.parquet",
        "features": "features/yellow/2023-02.parquet",
        "training": "training/green",
        "traffic": "traffic/green",
        "profile": "profiles/green",
        "drift": "drift/green/2026-03-02-10:00.json",
        "model": "models/green/run1",
    }
    assert lake.downloads() == tmp_path / "lake" / "downloads"  # a local lake keeps its own scratch


def test_only_months_with_a_committed_manifest_count_as_ingested(tmp_path: Path) -> None:
    lake = DataLake(root=str(tmp_path / "lake"))
    assert lake.ingested_months("green") == []
    for month in ("2022-02", "2022-01", "2022-03"):
        Path(lake.features("green", month).path).mkdir(parents=True)
    for month in ("2022-02", "2022-01"):  # 2022-03's run died before its commit
        write_manifest(lake.features("green", month), {"rows": 1})
    assert lake.ingested_months("green") == ["2022-01", "2022-02"]


def test_features_not_materialized_fail_naming_the_step_and_partition(tmp_path: Path) -> None:
    lake = DataLake(root=str(tmp_path / "lake"))
    with pytest.raises(MissingInputError, match="trip_features green 2022-05"):
        lake.committed_features("green", "2022-05")
