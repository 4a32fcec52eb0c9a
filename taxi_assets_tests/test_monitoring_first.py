"""Monitoring first: with a retraining running and a challenger in shadow, each window is judged within a minute.

A real ``dagster-daemon`` on one-minute windows and the run queue of ``dagster.yaml`` (two slots, one for Spark);
the API serving a champion with a challenger in shadow; real green trips with their true fares at a steady rate;
and a retraining (``train_job``: Spark on both cores) launched into the same queue. Every window that closes
while the retraining runs is judged within 60 s of its close, and the live stage is judged only at its test's
looks, not every minute.
"""

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
from mlflow import MlflowClient

from taxi_assets import run_tags
from taxi_assets.definitions import rollout_from_env
from taxi_assets.features.schema import read_feature_table
from taxi_assets.model.versions import CHALLENGER, ModelRegistry, model_name
from taxi_assets.partitions import MonitoringWindows
from taxi_assets.registry.rollout import SHADOW
from taxi_assets.registry.stages import Stage, current_stage
from taxi_assets_tests.champions import Trained, register
from taxi_assets_tests.monitored import champion
from taxi_assets_tests.serving.servers import free_port
from taxi_assets_tests.support import PROJECT_ROOT, TLC_DIR
from taxi_tools.instance_watch import SCHEDULE_TAG
from taxi_tools.processes import WORKSPACE, running_api, running_daemon
from taxi_tools.replay.client import ReplayConfig, ReplaySummary, replay_trips, run_replay
from taxi_tools.runner import Runner

pytestmark = pytest.mark.slow  # a real daemon, a real API and a Spark retraining for several minutes

JUDGED_WITHIN_SECONDS = 60.0
# windows that must close while the retraining runs
WINDOWS = 2
# requests a second: a steady stream that reaches the live test's minimum of 200 labels within a minute
RATE = 5.0


def launch_retraining(env: dict[str, str]) -> None:
    """``train_job`` for green into the instance's run queue, as the UI's launchpad would (the daemon starts it).

    Long enough to span more than two windows: 300 trees on two months (about 110 s for 200 on a quiet machine).
    """
    config = {
        "ops": {
            "training_set": {"config": {"months": ["2022-01", "2022-02"]}},
            "challenger_model": {"config": {"max_iter": 300}},
        }
    }
    command = [str(Path(sys.executable).parent / "dagster"), "job", "launch", "-w", str(WORKSPACE), "-j", "train_job"]
    command += ["--config-json", json.dumps(config), "--tags", json.dumps({"dagster/partition": "green"})]
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=300)


def test_windows_are_judged_within_a_minute_while_a_retraining_runs_and_a_challenger_is_in_shadow(
    trained: Trained, tmp_path: Path
) -> None:
    # the trip folder holds only the months the retraining needs: no new month for the sensor to ingest meanwhile
    trips = tmp_path / "trips"
    trips.mkdir()
    shutil.copy(TLC_DIR / "taxi_zone_lookup.csv", trips)
    for month in ("2022-01", "2022-02"):
        (trips / f"green_tripdata_{month}.parquet").symlink_to(TLC_DIR / "green" / f"green_tripdata_{month}.parquet")
    home = tmp_path / "home"
    dagster_home = home / "dagster"
    dagster_home.mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "dagster.yaml", dagster_home)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TAXI_", "MLFLOW_", "DAGSTER"))}
    env |= {
        "TAXI_HOME": str(home),
        "TAXI_TRIPS_DIR": str(trips),
        "TAXI_API_PORT": str(free_port()),
        "TAXI_API_KEYS": "first-key",
        "DAGSTER_HOME": str(dagster_home),
        "TAXI_MONITOR_WINDOW_MINUTES": "1",
        "TAXI_MONITOR_START": datetime.now(UTC).strftime("%Y-%m-%d-00:00"),
        "TAXI_MONITOR_ACCURACY_HOURS": str(1 / 60),
    }
    windows = MonitoringWindows(1)
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        runner = Runner(env, instance)
        runner.ingest("green", ["2022-01", "2022-02"], refresh=False)
        champion_version, _ = champion(home, trained, "a")
        tracking = f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
        registry = ModelRegistry(tracking, (home / "mlflow" / "artifacts").as_uri())
        challenger_version = register(registry, trained, "b", alias=CHALLENGER)
        client, name = MlflowClient(tracking_uri=tracking, registry_uri=tracking), model_name("green")
        for key, value in Stage(SHADOW, challenger_version, champion_version, datetime.now(UTC)).tags().items():
            client.set_model_version_tag(name, challenger_version, key, value)
        sample = replay_trips(read_feature_table(runner.lake.committed_features("green", "2022-02")), 3_000, 0)
        with running_daemon(env, instance), running_api(env, "green", poll_seconds=1.0) as api:
            sent: list[ReplaySummary] = []
            config = ReplayConfig(api.base_url, api.key, rate=RATE, compression=3_000.0, clients=4)
            traffic = threading.Thread(target=lambda: sent.append(run_replay(sample, config)), daemon=True)
            traffic.start()
            launch_retraining(env)
            judged = watch_windows(instance, windows)
            assert current_stage(registry, name) is not None  # still in shadow: nothing else ended it
            rollouts = list(instance.get_run_records(filters=dg.RunsFilter(job_name="rollout_job")))
    late = {window: seconds for window, seconds in judged.items() if seconds > JUDGED_WITHIN_SECONDS}
    assert len(judged) >= WINDOWS, judged
    assert not late, judged
    # the live stage was judged at its test's looks only (the minimum of labels, then each quarter more)
    rule = rollout_from_env(env).plan("green").rule(SHADOW)
    looks = {rule.look(int(r.dagster_run.tags[run_tags.LABELS])) for r in rollouts}
    assert len(rollouts) == len(looks), [r.dagster_run.tags[run_tags.LABELS] for r in rollouts]


def watch_windows(instance: dg.DagsterInstance, windows: MonitoringWindows) -> dict[str, float]:
    """Seconds from each window's close to the end of its judging, for the windows closing while the retraining ran.

    Waits for the retraining to start, then for ``WINDOWS`` windows to close while it is still running.
    """
    retraining = dg.RunsFilter(job_name="train_job")
    closing: list[str] = []
    current = None
    while len(closing) < WINDOWS:
        (record,) = instance.get_run_records(filters=retraining)
        status = record.dagster_run.status
        assert not record.dagster_run.is_finished, (
            f"the retraining ended ({status.value}) after {len(closing)} of {WINDOWS} windows: {closing}"
        )
        window = windows.containing(datetime.now(UTC))
        if status == dg.DagsterRunStatus.STARTED:
            if current is not None and window != current:
                closing.append(current)  # it closed while the retraining ran
            current = window
        time.sleep(1.0)
    judged: dict[str, float] = {}
    for window in closing:
        close = windows.bounds(window)[1].timestamp()
        tags = {run_tags.WINDOW: window, SCHEDULE_TAG: "monitor_windows"}
        while True:
            runs = list(instance.get_run_records(filters=dg.RunsFilter(job_name="monitor_job", tags=tags)))
            ended = [r.end_time for r in runs if r.dagster_run.is_finished and r.end_time is not None]
            if ended:
                judged[window] = round(max(ended) - close, 1)
                break
            assert time.time() - close < 10 * JUDGED_WITHIN_SECONDS, f"window {window} was never judged"
            time.sleep(1.0)
    return judged
