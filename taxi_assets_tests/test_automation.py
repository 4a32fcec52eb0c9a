"""What runs by itself: the monitoring schedule, the new-month sensor and the freshness retraining schedule."""

import os
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from mlflow import MlflowClient

from taxi_assets.automation import ingest_new_months
from taxi_assets.definitions import build_defs
from taxi_assets.lake_storage import MANIFEST
from taxi_assets.model.versions import CHALLENGER, CHAMPION, model_name
from taxi_assets.platform_db.prediction_log import PREDICTION_LOG
from taxi_assets.platform_db.schema import ensure_schema
from taxi_assets.registry.rollout import SHADOW, Stage
from taxi_assets.resources import (
    DataLake,
    HttpTripSource,
    LocalTripSource,
    MlflowResource,
    PlatformDatabase,
    RetrainingPolicy,
    RolloutPolicy,
    RolloutSettings,
)


def log_rows(url: str, rows: list[tuple[str, datetime]]) -> None:
    """Prediction log rows of (service, logged_at), as the API writes them."""
    engine = sa.create_engine(url)
    ensure_schema(engine)
    with engine.begin() as connection:
        for index, (service, moment) in enumerate(rows):
            connection.execute(
                PREDICTION_LOG.insert().values(
                    request_id=f"r{index}",
                    logged_at=moment,
                    endpoint="/predict",
                    status="ok",
                    status_code=200,
                    service=service,
                )
            )
    engine.dispose()


def tick(defs: dg.Definitions, name: str, moment: datetime, **resources: object) -> tuple[list[dg.RunRequest], str]:
    """One evaluation of a schedule of ``defs`` at ``moment``: its run requests and its skip message."""
    context = dg.build_schedule_context(
        scheduled_execution_time=moment, resources=resources, repository_def=defs.get_repository_def()
    )
    data = defs.get_schedule_def(name).evaluate_tick(context)
    return list(data.run_requests or []), str(data.skip_message or "")


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, 1, hour, minute, tzinfo=UTC)


def test_each_closed_window_is_judged_for_the_services_that_had_traffic_in_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'platform.db'}"
    log_rows(url, [("green", at(13, 5)), ("green", at(13, 59)), ("yellow", at(14, 0)), ("yellow", at(14, 30))])
    defs = build_defs({"TAXI_HOME": str(tmp_path)})
    database = PlatformDatabase(url=url)
    requests, _ = tick(defs, "monitor_windows", at(14), platform_db=database)
    assert [(r.partition_key, r.run_key) for r in requests] == [
        ("green|2026-03-01-13:00", "monitor-green-2026-03-01-13:00")
    ]
    assert requests[0].tags["taxi/window"] == "2026-03-01-13:00"
    assert requests[0].tags["taxi/requests"] == "2"
    # yellow's first row is at the very start of the next window: that window's, not this one's
    requests, _ = tick(defs, "monitor_windows", at(15), platform_db=database)
    assert [r.partition_key for r in requests] == ["yellow|2026-03-01-14:00"]
    requests, skipped = tick(defs, "monitor_windows", at(16), platform_db=database)
    assert requests == []
    assert "no traffic in window 2026-03-01-15:00" in skipped
    # short windows tick on their own cron
    five = build_defs({"TAXI_HOME": str(tmp_path), "TAXI_MONITOR_WINDOW_MINUTES": "5"})
    assert five.get_schedule_def("monitor_windows").cron_schedule == "*/5 * * * *"
    requests, _ = tick(five, "monitor_windows", at(14, 5), platform_db=database)
    assert [r.partition_key for r in requests] == ["yellow|2026-03-01-14:00"]


def committed(lake: DataLake, service: str, month: str) -> None:
    (lake.features(service, month) / MANIFEST).write_text("{}")


def evaluate(lake: DataLake, source: object, cursor: str | None = None) -> tuple[list[dg.RunRequest], str, str | None]:
    context = dg.build_sensor_context(cursor=cursor, resources={"lake": lake, "trip_source": source})
    result = ingest_new_months(context)
    assert isinstance(result, dg.SensorResult)
    skip = str(result.skip_reason.skip_message) if result.skip_reason else ""
    return list(result.run_requests or []), skip, result.cursor


def test_a_month_file_dropped_into_the_trip_folder_is_ingested_once_and_again_when_replaced(tmp_path: Path) -> None:
    lake = DataLake(root=str(tmp_path / "lake"))
    committed(lake, "green", "2022-01")
    committed(lake, "green", "2022-02")
    trips = tmp_path / "trips"
    (trips / "green").mkdir(parents=True)
    for month in ("2022-01", "2022-02"):
        (trips / f"green_tripdata_{month}.parquet").write_bytes(b"x")
    (trips / "yellow_tripdata_2025-01.parquet").write_bytes(b"x")  # yellow has nothing in the lake: left alone
    (trips / "green_tripdata_2022-13.parquet").write_bytes(b"x")  # not a month
    source = LocalTripSource(root=str(trips))
    requests, skipped, _ = evaluate(lake, source)
    assert requests == []
    assert "green: newest in the lake 2022-02" in skipped
    assert "yellow: nothing in the lake yet" in skipped

    dropped = trips / "green" / "green_tripdata_2022-03.parquet"
    dropped.write_bytes(b"first")
    (first,) = evaluate(lake, source)[0]
    assert first.partition_key == "2022-03|green"
    assert first.tags["taxi/trigger"] == "new_month"
    assert evaluate(lake, source)[0][0].run_key == first.run_key  # the daemon launches a run key once
    # a corrected file is a new version: ingested again
    dropped.write_bytes(b"corrected")
    os.utime(dropped, ns=(1, 2))
    (again,) = evaluate(lake, source)[0]
    assert again.partition_key == first.partition_key
    assert again.run_key != first.run_key
    # once ingested, it is the newest month: nothing more to do
    committed(lake, "green", "2022-03")
    assert evaluate(lake, source)[0] == []


class Tlc(BaseHTTPRequestHandler):
    """A TLC host that publishes green 2022-03 only, and counts the questions."""

    asked: list[str] = []

    def do_HEAD(self) -> None:
        Tlc.asked.append(self.path)
        self.send_response(200 if self.path.endswith("green_tripdata_2022-03.parquet") else 403)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def tlc() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Tlc)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Tlc.asked = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_the_tlc_is_asked_for_the_next_month_at_most_once_an_hour_and_an_outage_is_said(
    tmp_path: Path, tlc: str
) -> None:
    lake = DataLake(root=str(tmp_path / "lake"))
    committed(lake, "green", "2022-02")
    source = HttpTripSource(base_url=tlc)
    (request,), _, cursor = evaluate(lake, source)
    assert request.partition_key == "2022-03|green"
    assert Tlc.asked == ["/trip-data/green_tripdata_2022-03.parquet"]
    requests, skipped, _ = evaluate(lake, source, cursor)
    assert requests == []
    assert "green: the source was asked" in skipped
    assert len(Tlc.asked) == 1
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    requests, skipped, _ = evaluate(lake, HttpTripSource(base_url=f"http://127.0.0.1:{closed}"))
    assert requests == []
    assert "green: the source did not answer" in skipped


@pytest.mark.slow
def test_the_freshness_retraining_trains_each_service_with_a_champion_on_its_newest_months(tmp_path: Path) -> None:
    lake = DataLake(root=str(tmp_path / "lake"))
    for month in ("2022-01", "2022-02", "2022-03"):
        committed(lake, "green", month)
    committed(lake, "yellow", "2025-01")  # months but no champion: not retrained
    mlflow = MlflowResource(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    defs = build_defs({"TAXI_HOME": str(tmp_path)})
    assert defs.get_schedule_def("freshness_retrain").default_status == dg.DefaultScheduleStatus.STOPPED
    resources = {"lake": lake, "mlflow": mlflow, "retraining": RetrainingPolicy(months=2)}
    requests, skipped = tick(defs, "freshness_retrain", at(6), **resources)
    assert requests == []
    assert "no service has both a champion and months" in skipped
    client = MlflowClient(tracking_uri=mlflow.tracking_uri, registry_uri=mlflow.tracking_uri)
    client.create_registered_model(model_name("green"))
    version = client.create_model_version(model_name("green"), source=str(tmp_path / "model"))
    client.set_registered_model_alias(model_name("green"), CHAMPION, version.version)
    (request,), _ = tick(defs, "freshness_retrain", at(6), **resources)
    assert request.partition_key == "green"
    assert request.run_config == {"ops": {"training_set": {"config": {"months": ["2022-02", "2022-03"]}}}}
    assert request.tags["taxi/trigger"] == "freshness"


def test_a_challenger_in_a_live_stage_is_judged_only_when_a_decision_can_be_due(tmp_path: Path) -> None:
    database = PlatformDatabase(url=f"sqlite:///{tmp_path / 'platform.db'}")
    mlflow = MlflowResource(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    rollout = RolloutPolicy(services={"green": RolloutSettings(max_hours=1.0, min_labels=4)})
    defs = build_defs({"TAXI_HOME": str(tmp_path)})
    sensor = defs.resolve_sensor_def("judge_live_rollouts")

    def evaluate() -> tuple[list[dg.RunRequest], str]:
        context = dg.build_sensor_context(
            instance=dg.DagsterInstance.ephemeral(),
            resources={"mlflow": mlflow, "platform_db": database, "rollout": rollout},
            repository_def=defs.get_repository_def(),
        )
        data = sensor.evaluate_tick(context)
        return list(data.run_requests or []), str(data.skip_message or "")

    client = MlflowClient(tracking_uri=mlflow.tracking_uri, registry_uri=mlflow.tracking_uri)
    name = model_name("green")
    client.create_registered_model(name)
    for _ in range(2):
        client.create_model_version(name, source=str(tmp_path / "model"))
    client.set_registered_model_alias(name, CHAMPION, "1")
    client.set_registered_model_alias(name, CHALLENGER, "2")
    # a challenger alias without a stage (an offline rejection keeps it) is not judged
    assert evaluate() == ([], "no challenger is in a live stage (shadow, A/B or the guardrail)")
    started = datetime.now(UTC) - timedelta(minutes=30)
    for key, value in Stage(SHADOW, "2", "1", started).tags().items():
        client.set_model_version_tag(name, "2", key, value)
    engine = sa.create_engine(database.url)
    ensure_schema(engine)

    def log_labelled(first: int, count: int, moment: datetime) -> None:
        with engine.begin() as connection:
            for index in range(first, first + count):
                connection.execute(
                    PREDICTION_LOG.insert().values(
                        request_id=f"r{index}", logged_at=moment, endpoint="/predict", status="ok", status_code=200,
                        service="green", arm="champion", model_version="1", prediction=10.0, actual_fare=11.0,
                    )
                )  # fmt: skip

    log_labelled(0, 5, started - timedelta(minutes=1))  # before the stage: not its labels
    log_labelled(5, 3, started + timedelta(minutes=1))
    # below the test's minimum no decision can be due: no run, and the tick says why
    assert evaluate() == ([], "no decision can be due yet: green v2 in shadow: 3 of 4 labels")
    log_labelled(8, 2, started + timedelta(minutes=2))
    (request,), _ = evaluate()
    assert request.partition_key == "green"
    # looks at 4, then each quarter more (5, 7, 9, 12, ...): 5 labels are the look at 5
    assert request.run_key == f"rollout-green-v2-shadow-{started:%Y%m%dT%H%M%S}-5"
    assert (request.tags["taxi/stage"], request.tags["taxi/labels"]) == ("shadow", "5")
    # one more label is no new look: the same run key (Dagster runs a key once); the next look a new one
    log_labelled(10, 1, started + timedelta(minutes=3))
    assert evaluate()[0][0].run_key == request.run_key
    log_labelled(11, 1, started + timedelta(minutes=3))
    assert evaluate()[0][0].run_key.endswith("-7")
    # once the stage's time is up it is judged once more, to time it out
    client.set_model_version_tag(name, "2", "rollout.started_at", (started - timedelta(hours=1)).isoformat())
    assert evaluate()[0][0].run_key.endswith("-expired")
    engine.dispose()
