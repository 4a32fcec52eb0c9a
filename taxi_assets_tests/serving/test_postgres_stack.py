"""The production paths on PostgreSQL (127.0.0.1:5432), and the loop between them.

A Dagster instance on Postgres storage, MLflow on a Postgres backend, the platform database on Postgres.
Each test gets databases of its own (created and dropped here), so runs never see each other's state.
"""

import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml

from taxi_assets.alerting import Alerter
from taxi_assets.definitions import build_resources
from taxi_assets.model.versions import CHAMPION, ModelRegistry, model_name
from taxi_assets.monitoring.checks import ACCURACY
from taxi_assets.resources import DataLake, MlflowResource
from taxi_assets.sensors import retrain_on_failed_checks
from taxi_assets_tests.champions import Trained, register
from taxi_assets_tests.monitored import DAILY_ENV, drift_report, log_traffic, sensor_resources, today
from taxi_assets_tests.postgres import SERVER, create_database, drop_database, require_postgres


@pytest.fixture
def databases() -> Iterator[dict[str, str]]:
    """Fresh Postgres databases for Dagster, MLflow and the platform; skipped only off CI with no server."""
    require_postgres()
    suffix = uuid.uuid4().hex[:10]
    names = {role: f"taxi_{role}_{suffix}" for role in ("dagster", "mlflow", "platform")}
    for name in names.values():
        create_database(name)
    try:
        yield {role: f"{SERVER}/{name}" for role, name in names.items()}
    finally:
        for name in names.values():
            drop_database(name)


def postgres_instance(home: Path, url: str) -> dg.DagsterInstance:
    """A Dagster instance whose run, event-log and schedule storage is Postgres (as docker/dagster.yaml sets)."""
    home.mkdir(parents=True, exist_ok=True)
    # SQLAlchemy 2.1's default PostgreSQL driver is psycopg 3; the lock pins psycopg2
    driver_url = url.replace("postgresql://", "postgresql+psycopg2://")
    (home / "dagster.yaml").write_text(yaml.safe_dump({"storage": {"postgres": {"postgres_url": driver_url}}}))
    return dg.DagsterInstance.from_config(str(home))


def test_mlflow_on_postgres_registers_and_aliases(trained: Trained, tmp_path: Path, databases: dict[str, str]) -> None:
    tracking = databases["mlflow"].replace("postgresql://", "postgresql+psycopg2://")
    registry = ModelRegistry(tracking, (tmp_path / "artifacts").as_uri())
    first = register(registry, trained, "a")
    second = register(registry, trained, "b", alias=None)
    name = model_name("green")
    assert registry.alias(name, CHAMPION) == first
    registry.set_alias(name, CHAMPION, second)
    assert registry.alias(name, CHAMPION) == second
    assert registry.load_fare_model(name, second).predict(trained.holdout.head(3)).shape == (3,)


def test_a_failed_check_on_a_postgres_instance_is_read_by_the_sensor(
    trained: Trained, tmp_path: Path, databases: dict[str, str]
) -> None:
    env = {
        "TAXI_HOME": str(tmp_path),
        "MLFLOW_TRACKING_URI": databases["mlflow"].replace("postgresql://", "postgresql+psycopg2://"),
        "TAXI_DATABASE_URL": databases["platform"].replace("postgresql://", "postgresql+psycopg2://"),
    }
    resources = build_resources({**env, **DAILY_ENV})
    # a database tracking URI (not a server) needs an artifact root, or MLflow writes ./mlruns
    mlflow = MlflowResource(tracking_uri=env["MLFLOW_TRACKING_URI"], artifact_root=(tmp_path / "artifacts").as_uri())
    resources["mlflow"] = mlflow
    registry = mlflow.registry()
    version = register(registry, trained, "a")
    registry.tag_version(model_name("green"), version, {"metrics": {"rmse": 3.0}})
    predictions = registry.load_fare_model(model_name("green"), version).predict(trained.holdout)
    higher = trained.holdout["fare_amount"].to_numpy() * 1.5
    log_traffic(
        tmp_path, trained.holdout, predictions, version, higher, rejected=0, database_url=env["TAXI_DATABASE_URL"]
    )

    with postgres_instance(tmp_path / "dagster", databases["dagster"]) as instance:
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        result = dg.materialize(
            [drift_report],
            instance=instance,
            resources=resources,
            partition_key=today("green"),
            run_config={"ops": {"drift_report": {"config": {"min_rows": 100, "min_labelled_rows": 100}}}},
        )
        checks = {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}
        assert not checks[ACCURACY].passed
        context = dg.build_sensor_context(
            instance=instance,
            resources=sensor_resources(tmp_path, DataLake(root=str(tmp_path / "lake"))),
        )
        tick = retrain_on_failed_checks(context)
    assert isinstance(tick, dg.SensorResult)
    (request,) = tick.run_requests or []
    assert request.job_name == "ingest_job"  # the retraining month is not in this lake: ingested first
    kinds = [row["kind"] for row in Alerter(env["TAXI_DATABASE_URL"]).history("green")]
    assert kinds == ["check_failed"]
