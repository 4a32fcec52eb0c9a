"""MLflow as a resource: an embedded store in a new folder, its experiments' artifacts where it says."""

from pathlib import Path

from taxi_assets.model.versions import experiment_name
from taxi_assets.resources import MlflowResource


def test_the_embedded_store_keeps_new_experiments_artifacts_under_its_root(tmp_path: Path) -> None:
    artifacts = tmp_path / "mlflow" / "artifacts"
    resource = MlflowResource(
        tracking_uri=f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}", artifact_root=artifacts.as_uri()
    )
    registry = resource.registry()
    experiment = registry.experiment_id(experiment_name("green"))
    with registry.run(experiment_name("green"), "resource-test", tags={"taxi/trigger": "manual"}) as run_id:
        registry.log_metrics({"rmse": 3.1})
        registry.log_dict({"months": ["2022-01"]}, "lineage.json")
    assert run_id
    assert (tmp_path / "mlflow" / "mlflow.db").is_file()
    assert registry.experiment_id(experiment_name("green")) == experiment  # found again, not made twice
    assert list(artifacts.rglob("lineage.json")), "the run's artifacts live under the configured root"
