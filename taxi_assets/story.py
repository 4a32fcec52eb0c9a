"""The whole loop, end to end, as ``make demo`` runs it: left to the Dagster daemon once traffic flows.

Train a champion on 2022 months (by hand, in this process), then start the Dagster daemon and the API and only
send traffic: an unseen month of the same fare regime, then a month after the fare increase, each with its true
fares arriving as the trips end, each in its own monitoring window (one minute here, an hour by default). From
then on nothing is done by hand: the daemon's ``monitor_windows`` schedule judges each window as it closes, the
accuracy check fails, the ``retrain_on_failed_checks`` sensor starts the retraining, the challenger is promoted
and the API swaps to it. The story watches the instance and prints the timeline with the measured latencies.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import dagster as dg
import requests

from taxi_assets.automation import WINDOW_TAG
from taxi_assets.drift.checks import ACCURACY, DRIFT_CHECKS
from taxi_assets.modeling.feature_schema import read_feature_table
from taxi_assets.modeling.features import EXAMPLE_TRIP
from taxi_assets.partitions import MonitoringWindows
from taxi_assets.replay.client import ReplayConfig, ReplaySummary, replay_trips, run_replay
from taxi_assets.replay.scenarios import apply
from taxi_assets.runner import CommandFailedError, Runner
from taxi_assets.sensors import CHECK_KEYS, evaluation_window

API_START_SECONDS: Final = 90.0
SWAP_WAIT_SECONDS: Final = 60.0
SAMPLE_TRIP: Final = EXAMPLE_TRIP
WORKSPACE: Final = Path(__file__).resolve().parent.parent / "workspace.yaml"
# Dagster's own tags on what a schedule or a sensor launched
SCHEDULE_TAG: Final = "dagster/schedule_name"
SENSOR_TAG: Final = "dagster/sensor_name"
TERMINAL: Final = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


@dataclass(frozen=True)
class Api:
    """A running API: where it answers and the key it accepts."""

    base_url: str
    key: str
    process: subprocess.Popen[bytes]

    def ready(self) -> dict[str, Any]:
        """``/readyz``'s body (champion version, source, registry reachability)."""
        return dict(requests.get(f"{self.base_url}/readyz", timeout=5).json())

    def predict(self, trip: Mapping[str, Any]) -> requests.Response:
        """One ``POST /predict``."""
        return requests.post(f"{self.base_url}/predict", json=dict(trip), headers={"X-API-Key": self.key}, timeout=5)


@contextmanager
def running_api(env: Mapping[str, str], service: str, poll_seconds: float | None = None) -> Iterator[Api]:
    """Start the API (``python -m taxi_serving``) on the champion (``TAXI_API_PORT``, default 8000); stop it on exit.

    Raises:
        CommandFailedError: the API did not become ready.
    """
    port = env.get("TAXI_API_PORT") or "8000"
    key = (env.get("TAXI_API_KEYS") or "local-dev-key").split(",")[0]
    server_env = {**env, "TAXI_SERVICE": service, "TAXI_API_KEYS": env.get("TAXI_API_KEYS") or key}
    if poll_seconds is not None:
        server_env["TAXI_MODEL_POLL_SECONDS"] = str(poll_seconds)
    command = [sys.executable, "-m", "taxi_serving", "--host", "127.0.0.1", "--port", port, "--log-level", "warning"]
    print(f"\n== starting the API on http://127.0.0.1:{port} (docs: /schema)", flush=True)
    process = subprocess.Popen(command, env=server_env)
    api = Api(f"http://127.0.0.1:{port}", key, process)
    try:
        deadline = time.monotonic() + API_START_SECONDS
        while True:
            try:
                if requests.get(f"{api.base_url}/readyz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None:
                raise CommandFailedError("the API did not start (is the port taken? set TAXI_API_PORT)")
            if time.monotonic() > deadline:
                raise CommandFailedError(f"the API was not ready after {API_START_SECONDS:.0f} s")
            time.sleep(0.3)
        yield api
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def show_sample_request(api: Api) -> None:
    """Print one request as curl would send it, and the API's answer."""
    body = json.dumps(SAMPLE_TRIP)
    print(
        f"\n$ curl -s -X POST {api.base_url}/predict -H 'X-API-Key: {api.key}' -H 'Content-Type: application/json' \\"
    )
    print(f"    -d '{body}'")
    print(api.predict(SAMPLE_TRIP).text)


@dataclass(frozen=True)
class StoryOptions:
    """The story's months and traffic: what the champion learns, what is replayed, how fast, how windows close."""

    service: str
    training_months: tuple[str, ...]
    calm_month: str
    drift_month: str
    calm_rows: int
    drift_rows: int
    rate: float
    compression: float
    seed: int = 0
    # The story replays the drift month as if it were live traffic, so retraining must not also learn that month
    # from the TLC file (its trips would be the holdout too): one month, the newest, which is after it.
    retrain_months: int = 1
    # compressed monitoring windows, so the story takes minutes; accuracy looks back over one window
    window_minutes: int = 1
    # how long the story waits for each step the daemon takes before it gives up
    step_timeout_seconds: float = 600.0


@dataclass
class StoryResult:
    """The numbers of each step, for the summary and for the end-to-end test."""

    champion_before: str = ""
    champion_rmse: float = float("nan")
    replays: dict[str, ReplaySummary] = field(default_factory=dict)
    windows: dict[str, str] = field(default_factory=dict)
    checks: dict[str, dict[str, dg.AssetCheckEvaluation]] = field(default_factory=dict)
    retrain_run: dg.RunRecord | None = None
    decision: dict[str, Any] = field(default_factory=dict)
    served_version_after: str = ""
    new_months: list[str] = field(default_factory=list)
    # the monitoring settings the daemon ran with (make dev needs the same to show the same windows)
    monitoring_env: dict[str, str] = field(default_factory=dict)
    # epoch seconds of each step of the timeline
    times: dict[str, float] = field(default_factory=dict)

    def latency(self, start: str, end: str) -> float:
        """Seconds from one step of the timeline to another (NaN when either did not happen)."""
        return self.times[end] - self.times[start] if start in self.times and end in self.times else float("nan")


def story_env(env: Mapping[str, str], options: StoryOptions, instance: dg.DagsterInstance) -> dict[str, str]:
    """The environment of the daemon and the API: this instance, compressed windows, the story's retraining."""
    today = datetime.now(UTC).strftime("%Y-%m-%d-00:00")
    return {
        **env,
        "DAGSTER_HOME": str(Path(instance.root_directory).absolute()),
        "TAXI_MONITOR_WINDOW_MINUTES": str(options.window_minutes),
        "TAXI_MONITOR_START": env.get("TAXI_MONITOR_START") or today,
        "TAXI_MONITOR_ACCURACY_HOURS": str(options.window_minutes / 60),
        "TAXI_RETRAIN_MONTHS": str(options.retrain_months),
        # a story replayed on the same data home a second time retrains again
        "TAXI_RETRAIN_COOLDOWN_SECONDS": env.get("TAXI_RETRAIN_COOLDOWN_SECONDS") or "60",
    }


@contextmanager
def running_daemon(env: Mapping[str, str], instance: dg.DagsterInstance) -> Iterator[subprocess.Popen[bytes]]:
    """``dagster-daemon run`` on the instance (schedules, sensors, the run queue); stopped with its runs on exit."""
    command = [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(WORKSPACE)]
    log = Path(env["DAGSTER_HOME"]) / "daemon.log"
    print(f"\n== starting the Dagster daemon on {env['DAGSTER_HOME']} (its log and its runs': {log})", flush=True)
    with log.open("ab") as sink:
        process = subprocess.Popen(command, env=dict(env), start_new_session=True, stdout=sink, stderr=sink)
    try:
        deadline = time.monotonic() + API_START_SECONDS
        while not _daemons_alive(instance):
            if process.poll() is not None:
                raise CommandFailedError("the Dagster daemon stopped at start (is DAGSTER_HOME writable?)")
            if time.monotonic() > deadline:
                raise CommandFailedError(f"the Dagster daemon sent no heartbeat within {API_START_SECONDS:.0f} s")
            time.sleep(1.0)
        yield process
    finally:
        # the daemon's process group holds its code server and the runs it launched
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _daemons_alive(instance: dg.DagsterInstance) -> bool:
    """Whether the scheduler, the sensor daemon and the run queue have each sent a heartbeat in the last minute."""
    beats = instance.get_daemon_heartbeats()
    needed = ("SCHEDULER", "SENSOR", "QUEUED_RUN_COORDINATOR")
    return all(name in beats and time.time() - beats[name].timestamp < 60 for name in needed)


def replay_month(runner: Runner, api: Api, options: StoryOptions, month: str, rows: int) -> ReplaySummary:
    """Replay a sample of one ingested month through the API, with true fares as the trips complete."""
    features = read_feature_table(runner.lake.committed_features(options.service, month))
    trips = apply("none", replay_trips(features, rows, options.seed))
    print(f"\n== replaying {len(trips):,} trips of {options.service} {month} at {options.rate:,.0f}/s", flush=True)
    config = ReplayConfig(api.base_url, api.key, rate=options.rate, compression=options.compression)
    summary = run_replay(trips, config)
    for line in summary.lines():
        print(f"  {line}")
    return summary


def fresh_window(windows: MonitoringWindows, needed_seconds: float, after: str | None = None) -> str:
    """Wait, if need be, until a window (later than ``after``) starts that has ``needed_seconds`` left; its key."""
    now = datetime.now(UTC)
    window = windows.containing(now)
    if (windows.bounds(window)[1] - now).total_seconds() < needed_seconds or (after is not None and window <= after):
        start = windows.bounds(window)[1] + timedelta(seconds=1)
        time.sleep(max(0.0, (start - datetime.now(UTC)).total_seconds()))
        window = windows.containing(start)
    return window


def replay_in_window(
    runner: Runner, api: Api, options: StoryOptions, month: str, rows: int, after: str | None = None
) -> tuple[str, ReplaySummary]:
    """Replay a month inside one monitoring window later than ``after`` (it must not spill into the next)."""
    windows = MonitoringWindows(options.window_minutes)
    # the replay's requests, the last true fares (a trip's length over the compression) and a margin
    needed = rows / options.rate * 2 + 240 * 60 / options.compression + 5
    if needed > windows.length.total_seconds():
        raise CommandFailedError(
            f"{rows:,} trips at {options.rate:,.0f}/s do not fit one {windows.minutes}-minute window"
        )
    window = fresh_window(windows, needed, after)
    return window, replay_month(runner, api, options, month, rows)


def wait_for(what: str, probe: Callable[[], Any], timeout: float, every: float = 2.0) -> Any:
    """Poll ``probe`` until it returns something truthy; that value.

    Raises:
        CommandFailedError: not within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise CommandFailedError(f"waited {timeout:.0f} s for {what}")
        time.sleep(every)


def finished_runs(instance: dg.DagsterInstance, job: str, tags: Mapping[str, str]) -> list[dg.RunRecord]:
    """Runs of ``job`` with ``tags``, once every one of them has finished (empty while any is still going)."""
    records = list(instance.get_run_records(filters=dg.RunsFilter(job_name=job, tags=dict(tags))))
    return records if records and all(r.dagster_run.status in TERMINAL for r in records) else []


def window_evaluations(
    instance: dg.DagsterInstance, service: str, window: str
) -> dict[str, tuple[dg.AssetCheckEvaluation, float]]:
    """The drift checks' evaluations of one window of one service, with when each was recorded."""
    found: dict[str, tuple[dg.AssetCheckEvaluation, float]] = {}
    for key in CHECK_KEYS:
        for record in instance.event_log_storage.get_asset_check_execution_history(key, limit=50):
            event = record.event
            if event is None or event.dagster_event is None:
                continue
            evaluation = event.dagster_event.event_specific_data
            if (
                isinstance(evaluation, dg.AssetCheckEvaluation)
                and key.name not in found
                and evaluation_window(evaluation, record.partition) == (service, window)
            ):
                found[key.name] = (evaluation, event.timestamp)
    return found


def judged_window(runner: Runner, options: StoryOptions, story: StoryResult, month: str) -> None:
    """Wait for the schedule's run on the month's window; keep its check evaluations."""
    window = story.windows[month]
    tags = {WINDOW_TAG: window, SCHEDULE_TAG: "monitor_windows"}
    print(f"\n== waiting for the daemon to judge window {window} (it closes, the schedule ticks)", flush=True)
    runs = wait_for(
        f"the monitor_windows run of window {window}",
        lambda: finished_runs(runner.instance, "monitor_job", tags),
        options.step_timeout_seconds,
    )
    evaluations = window_evaluations(runner.instance, options.service, window)
    story.checks[month] = {name: evaluation for name, (evaluation, _) in evaluations.items()}
    if ACCURACY in evaluations and not evaluations[ACCURACY][0].passed:
        story.times["check_failed"] = evaluations[ACCURACY][1]
    for name in DRIFT_CHECKS:
        if name in story.checks[month]:
            check = story.checks[month][name]
            outcome = "passed" if check.passed else f"FAILED ({check.severity.value})"
            print(f"  monitor_job run {runs[0].dagster_run.run_id[:8]} (schedule monitor_windows): {name} {outcome}")


def retrained_by_sensor(runner: Runner, options: StoryOptions, story: StoryResult) -> None:
    """Wait for the sensor's retraining run on the drift window, and for its promotion decision."""
    window = story.windows[options.drift_month]
    tags = {WINDOW_TAG: window, SENSOR_TAG: "retrain_on_failed_checks"}
    print("\n== waiting for the sensor to start the retraining", flush=True)
    requested = wait_for(
        "the retraining run",
        lambda: list(runner.instance.get_run_records(filters=dg.RunsFilter(job_name="retrain_job", tags=tags))),
        options.step_timeout_seconds,
    )
    story.times["retrain_requested"] = requested[0].create_timestamp.timestamp()
    print(f"  retrain_job run {requested[0].dagster_run.run_id[:8]} launched by sensor retrain_on_failed_checks")
    print("\n== waiting for the retraining (labelled traffic + newest month -> challenger -> promotion decision)")
    (record,) = wait_for(
        "the retraining run to finish",
        lambda: finished_runs(runner.instance, "retrain_job", tags),
        options.step_timeout_seconds,
    )
    story.retrain_run = record
    if record.dagster_run.status != dg.DagsterRunStatus.SUCCESS:
        raise CommandFailedError(f"retrain_job run {record.dagster_run.run_id} {record.dagster_run.status.value}")
    event = runner.instance.get_latest_materialization_event(dg.AssetKey("promotion_decision"))
    if event is None or event.asset_materialization is None:
        raise CommandFailedError("the retraining recorded no promotion decision")
    story.decision = {key: value.value for key, value in event.asset_materialization.metadata.items()}
    story.times["decided"] = event.timestamp


def sensor_ingested(instance: dg.DagsterInstance, service: str) -> list[str]:
    """The months of ``service`` the new-month sensor ingested successfully."""
    filters = dg.RunsFilter(
        job_name="ingest_job", tags={SENSOR_TAG: "ingest_new_months"}, statuses=[dg.DagsterRunStatus.SUCCESS]
    )
    partitions = [record.dagster_run.tags.get("dagster/partition", "") for record in instance.get_run_records(filters)]
    return sorted(key.split("|")[0] for key in partitions if key.endswith(f"|{service}"))


def wait_for_swap(api: Api, version: str) -> float:
    """Epoch seconds when the API first answered with ``version``.

    Raises:
        CommandFailedError: it did not within ``SWAP_WAIT_SECONDS``.
    """
    started = time.monotonic()
    while time.monotonic() - started < SWAP_WAIT_SECONDS:
        if str(api.ready().get("champion_version")) == version:
            return time.time()
        time.sleep(0.25)
    raise CommandFailedError(f"the API did not swap to v{version} within {SWAP_WAIT_SECONDS:.0f} s")


def run_story(
    runner: Runner,
    options: StoryOptions,
    keep_serving: bool = False,
    when_running: Callable[[], None] | None = None,
) -> StoryResult:
    """Every step of the loop; prints as it goes and returns the numbers.

    ``when_running`` is called once the daemon runs (the end-to-end test drops a new month file there).
    """
    story = StoryResult()
    months = list(options.training_months)
    runner.ingest(options.service, [*months, options.calm_month, options.drift_month], refresh=False)
    outcome = runner.train(options.service, months, [])["promotion_decision"]
    story.champion_before = str(outcome["champion_version_after"])
    story.champion_rmse = float(outcome["challenger_rmse"])
    env = story_env(runner.env, options, runner.instance)
    story.monitoring_env = {key: env[key] for key in ("TAXI_MONITOR_WINDOW_MINUTES", "TAXI_MONITOR_START")}
    with running_daemon(env, runner.instance), running_api(env, options.service, poll_seconds=1.0) as api:
        if when_running is not None:
            when_running()
        show_sample_request(api)
        # back to back, each in its own window: the daemon judges the calm one while the drift one is replayed
        for month, rows in ((options.calm_month, options.calm_rows), (options.drift_month, options.drift_rows)):
            after = max(story.windows.values(), default=None)
            story.windows[month], story.replays[month] = replay_in_window(runner, api, options, month, rows, after)
            story.times[f"replayed {month}"] = story.replays[month].finished_requests
        judged_window(runner, options, story, options.calm_month)
        judged_window(runner, options, story, options.drift_month)
        retrained_by_sensor(runner, options, story)
        if story.decision.get("decision") == "promote":
            story.times["swapped"] = wait_for_swap(api, str(story.decision["champion_version_after"]))
        answer = api.predict(SAMPLE_TRIP)
        story.served_version_after = str(answer.json().get("model_version", ""))
        story.new_months = sensor_ingested(runner.instance, options.service)
        print_summary(options, story)
        if keep_serving:
            print("\nThe daemon keeps judging windows and the API keeps serving (and swapping). Ctrl-C to stop.")
            try:
                api.process.wait()
            except KeyboardInterrupt:
                print("\nstopping the API and the daemon")
    return story


def _number(value: object) -> str:
    return f"{float(value):.3f}" if isinstance(value, int | float) else "n/a"


def print_summary(options: StoryOptions, story: StoryResult) -> None:
    """One line per step of the story with its numbers, then the timeline's latencies."""
    calm, drift = options.calm_month, options.drift_month
    accuracy = story.checks.get(drift, {}).get(ACCURACY)
    numbers: dict[str, Any] = {k: v.value for k, v in accuracy.metadata.items()} if accuracy else {}
    statistic = str(numbers.get("statistic", "")).upper()
    failed_calm = [name for name, check in story.checks.get(calm, {}).items() if not check.passed]
    decision = story.decision
    run = story.retrain_run
    lines = [
        f"1. champion v{story.champion_before} trained on {options.service} {', '.join(options.training_months)}: "
        f"holdout RMSE {story.champion_rmse:.3f}",
        f"2. replayed {calm} in window {story.windows.get(calm)} ({story.replays[calm].sent:,} trips, same fares); "
        f"judged by the schedule: checks failed: {', '.join(failed_calm) or 'none'}",
        f"3. replayed {drift} in window {story.windows.get(drift)} ({story.replays[drift].sent:,} trips, after the "
        f"fare increase): accuracy {'FAILED' if accuracy and not accuracy.passed else 'passed'}, {statistic} "
        f"{_number(numbers.get('value'))} on {numbers.get('labelled_rows', 0):,} labelled rows vs threshold "
        f"{_number(numbers.get('threshold'))} (holdout {_number(numbers.get('holdout_value'))})",
        f"4. the sensor started retrain_job run {run.dagster_run.run_id[:8] if run else 'none'}"
        + (f" ({run.dagster_run.tags.get('taxi/reason', '')})" if run else ""),
    ]
    if decision:
        lines.append(
            f"5. {decision['decision']} v{decision['challenger_version']}: RMSE {decision['challenger_rmse']:.3f} vs "
            f"champion {decision['champion_rmse']:.3f} on {decision['holdout_rows']:,} rows of {decision['holdout']}"
        )
    lines.append(f"6. the API serves v{story.served_version_after}")
    drifted = f"replayed {drift}"
    timeline = [
        f"last drifted request -> failed accuracy check: {story.latency(drifted, 'check_failed'):.1f} s "
        f"(the window closes, the schedule ticks, the run judges it)",
        f"failed check -> retraining run requested: {story.latency('check_failed', 'retrain_requested'):.1f} s",
        f"retraining requested -> promotion decision: {story.latency('retrain_requested', 'decided'):.1f} s",
        f"promotion -> the API serves the new version: {story.latency('decided', 'swapped'):.1f} s",
    ]
    if story.new_months:
        lines.append(
            f"7. sensor ingest_new_months ingested {', '.join(story.new_months)} as it appeared in the trip source"
        )
    print("\n== summary\n" + "\n".join(lines) + "\n\n== timeline (measured)\n" + "\n".join(timeline))
