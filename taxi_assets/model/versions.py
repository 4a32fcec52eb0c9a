"""MLflow tracking and registry for fare models: runs, versions, aliases, tags, and loading by alias.

Every registered model is named ``taxi-fare-<service>``. Aliases carry the lifecycle: ``champion`` is served,
``previous_champion`` is where a rollback returns to, ``challenger`` is the latest candidate not promoted.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from taxi_assets.constants import known_service
from taxi_assets.model.card import CARD_FACTS_FILE, CARD_FILE, render
from taxi_assets.model.explain import EXPLAIN_FILE
from taxi_assets.model.fare_model import FareModel
from taxi_assets.model.holdout import HOLDOUT_ERRORS_FILE
from taxi_assets.model.profile import SAMPLE_FILE
from taxi_assets.model.pyfunc import (
    EXPLAIN_ARTIFACT,
    HOLDOUT_ERRORS_ARTIFACT,
    ONNX_ARTIFACT,
    PREDICTION_PROFILE_ARTIFACT,
    PREDICTION_PROFILE_FILE,
    PROFILE_ARTIFACT,
    REFERENCE_SAMPLE_ARTIFACT,
    SPEC_ARTIFACT,
    FarePyfunc,
)

CHAMPION: Final = "champion"
PREVIOUS_CHAMPION: Final = "previous_champion"
CHALLENGER: Final = "challenger"
PYFUNC_PATH: Final = "model"
SPARK_MODEL_PATH: Final = "spark_model"
# The pyfunc needs only these at serving time; listing them spares MLflow inferring requirements.
PYFUNC_REQUIREMENTS: Final = ("mlflow", "onnxruntime", "pandas", "numpy", "taxi-fare-platform")


def model_name(service: str) -> str:
    """The registered model of a TLC service, ``taxi-fare-<service>``; ValueError for an unknown service."""
    return f"taxi-fare-{known_service(service)}"


def experiment_name(service: str) -> str:
    """The MLflow experiment of a TLC service: the model's own name."""
    return model_name(service)


class ModelRegistry:
    """Tracking and registry calls for one MLflow store (a SQLite file or a server)."""

    def __init__(self, tracking_uri: str, artifact_root: str | None = None) -> None:
        self.tracking_uri = tracking_uri
        self.artifact_root = artifact_root
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    def experiment_id(self, name: str) -> str:
        """The experiment's id, creating it (with its artifacts under ``artifact_root``) when new."""
        experiment = self.client.get_experiment_by_name(name)
        if experiment is not None:
            return str(experiment.experiment_id)
        location = f"{self.artifact_root.rstrip('/')}/{name}" if self.artifact_root else None
        return str(self.client.create_experiment(name, artifact_location=location))

    @contextmanager
    def run(self, experiment: str, run_name: str, tags: Mapping[str, str]) -> Iterator[str]:
        """An MLflow run in ``experiment``; yields its id and ends it FINISHED, or FAILED on an exception."""
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        with mlflow.start_run(experiment_id=self.experiment_id(experiment), run_name=run_name, tags=dict(tags)) as run:
            yield str(run.info.run_id)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log parameters to the active run."""
        mlflow.log_params(dict(params))

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        """Log metrics to the active run."""
        mlflow.log_metrics(dict(metrics))

    def log_dict(self, content: Mapping[str, Any], artifact_file: str) -> None:
        """Log a JSON document as an artifact of the active run."""
        mlflow.log_dict(dict(content), artifact_file)

    def log_fare_model(
        self, serving_dir: Path, spark_model_dir: Path, example: pd.DataFrame, profile_path: Path | None = None
    ) -> str:
        """Log the Spark model and the ONNX pyfunc to the active run; return the pyfunc's URI.

        The pyfunc carries the reference profile of its training set, whose ranges the API validates against, and
        what monitoring judges it by: its prediction profile and its holdout errors (when in ``serving_dir``).
        """
        mlflow.log_artifacts(str(spark_model_dir), artifact_path=SPARK_MODEL_PATH)
        artifacts = {
            ONNX_ARTIFACT: str(serving_dir / "model.onnx"),
            SPEC_ARTIFACT: str(serving_dir / "feature_spec.json"),
        }
        if profile_path is not None:
            artifacts[PROFILE_ARTIFACT] = str(profile_path)
            if (profile_path.parent / SAMPLE_FILE).is_file():
                artifacts[REFERENCE_SAMPLE_ARTIFACT] = str(profile_path.parent / SAMPLE_FILE)
        if (serving_dir / PREDICTION_PROFILE_FILE).is_file():
            artifacts[PREDICTION_PROFILE_ARTIFACT] = str(serving_dir / PREDICTION_PROFILE_FILE)
        if (serving_dir / HOLDOUT_ERRORS_FILE).is_file():
            artifacts[HOLDOUT_ERRORS_ARTIFACT] = str(serving_dir / HOLDOUT_ERRORS_FILE)
        if (serving_dir / EXPLAIN_FILE).is_file():
            artifacts[EXPLAIN_ARTIFACT] = str(serving_dir / EXPLAIN_FILE)
        with warnings.catch_warnings():
            # MLflow hints that integer columns cannot hold missing values: the integer features never are missing
            # (the API refuses a trip without one), and integers are what MLflow users pass (pyfunc.signature_types)
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")
            info = mlflow.pyfunc.log_model(
                name=PYFUNC_PATH,
                python_model=FarePyfunc(),
                artifacts=artifacts,
                input_example=example,
                pip_requirements=list(PYFUNC_REQUIREMENTS),
            )
        return str(info.model_uri)

    def register(self, model_uri: str, name: str, run_id: str, tags: Mapping[str, str]) -> str:
        """Register ``model_uri`` as a new version of ``name``; return the version number."""
        try:
            self.client.get_registered_model(name)
        except MlflowException:
            self.client.create_registered_model(name, description="NYC taxi fare model (Spark GBT, served as ONNX).")
        # a logged model's URI (models:/m-...) names its model id, which an MLflow server requires beside it
        model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
        version = self.client.create_model_version(name, model_uri, run_id=run_id, tags=dict(tags), model_id=model_id)
        return str(version.version)

    def alias(self, name: str, alias: str) -> str | None:
        """The version an alias points to, or None when the alias (or the model) does not exist."""
        try:
            return str(self.client.get_model_version_by_alias(name, alias).version)
        except MlflowException:
            return None

    def set_alias(self, name: str, alias: str, version: str) -> None:
        """Point ``alias`` at ``version``."""
        self.client.set_registered_model_alias(name, alias, version)

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove ``alias`` if it exists."""
        if self.alias(name, alias) is not None:
            self.client.delete_registered_model_alias(name, alias)

    def tag_version(self, name: str, version: str, tags: Mapping[str, Any]) -> None:
        """Set tags on a model version; non-string values are stored as JSON."""
        for key, value in tags.items():
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
            self.client.set_model_version_tag(name, version, key, text)

    def version_tags(self, name: str, version: str) -> dict[str, str]:
        """All tags of a model version."""
        return dict(self.client.get_model_version(name, version).tags)

    def write_card(self, name: str, version: str, facts: Mapping[str, Any]) -> str:
        """Write the version's model card (and its facts as JSON) to its run's artifacts; return the card's URI.

        A card written again replaces the last one; the version's ``model_card`` tag says where it is.
        """
        run_id = self.client.get_model_version(name, version).run_id
        if not run_id:
            raise ValueError(f"{name} v{version} has no MLflow run to keep its model card")
        # the card first: a card that could not be written leaves the facts as they were, both still agreeing
        self.client.log_text(run_id, render(dict(facts)), CARD_FILE)
        self.client.log_dict(run_id, dict(facts), CARD_FACTS_FILE)
        uri = f"runs:/{run_id}/{CARD_FILE}"
        self.client.set_model_version_tag(name, version, "model_card", uri)
        return uri

    def card_facts(self, name: str, version: str) -> dict[str, Any] | None:
        """The facts of the version's model card, or None for a version registered without one."""
        text = self._version_text(name, version, CARD_FACTS_FILE)
        loaded = json.loads(text) if text is not None else None
        return loaded if isinstance(loaded, dict) else None

    def card(self, name: str, version: str) -> str | None:
        """The version's model card as Markdown, or None for a version registered without one."""
        return self._version_text(name, version, CARD_FILE)

    def _version_text(self, name: str, version: str, path: str) -> str | None:
        run_id = self.client.get_model_version(name, version).run_id
        if not run_id:
            return None
        with tempfile.TemporaryDirectory() as scratch:
            try:
                local = self.client.download_artifacts(run_id, path, scratch)
            except (MlflowException, OSError):
                return None
            return Path(local).read_text()

    def load_pyfunc(self, name: str, version: str) -> FarePyfunc:
        """Load a registered version through MLflow's pyfunc loader: the ONNX model and its reference profile."""
        mlflow.set_registry_uri(self.tracking_uri)
        mlflow.set_tracking_uri(self.tracking_uri)
        wrapper = mlflow.pyfunc.load_model(f"models:/{name}/{version}").unwrap_python_model()
        if not isinstance(wrapper, FarePyfunc) or wrapper.model is None:
            raise TypeError(f"models:/{name}/{version} is not a fare model logged by this project")
        return wrapper

    def load_fare_model(self, name: str, version: str) -> FareModel:
        """Load a registered version's ONNX fare model."""
        model = self.load_pyfunc(name, version).model
        assert model is not None  # load_pyfunc checked it
        return model
