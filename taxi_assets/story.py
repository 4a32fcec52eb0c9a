"""The whole loop, end to end, as ``make demo`` runs it.

Train a champion on 2022 months, serve it, replay an unseen month of the same fare regime (no alarm), replay a
month after the fare increase with delayed true fares, watch the accuracy check fail, let the retraining sensor
request its run, promote the retrained challenger and see the API swap to it. Every step is a real Dagster run
in the instance, real HTTP traffic to a real uvicorn server, and a real sensor evaluation.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import dagster as dg
import requests

from taxi_assets.definitions import build_resources
from taxi_assets.drift.checks import ACCURACY
from taxi_assets.modeling.feature_schema import read_feature_table
from taxi_assets.modeling.features import EXAMPLE_TRIP
from taxi_assets.partitions import window_service_key
from taxi_assets.replay.client import ReplayConfig, ReplaySummary, replay_trips, run_replay
from taxi_assets.replay.scenarios import apply
from taxi_assets.runner import CommandFailedError, Runner
from taxi_assets.sensors import retrain_on_failed_checks

API_START_SECONDS: Final = 90.0
SWAP_WAIT_SECONDS: Final = 60.0
SAMPLE_TRIP: Final = EXAMPLE_TRIP


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
    """The story's months and traffic: what the champion learns, what is replayed, how fast."""

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


@dataclass
class StoryResult:
    """The numbers of each step, for the summary and for the end-to-end test."""

    champion_before: str = ""
    champion_rmse: float = float("nan")
    replays: dict[str, ReplaySummary] = field(default_factory=dict)
    checks: dict[str, dict[str, dg.AssetCheckEvaluation]] = field(default_factory=dict)
    sensor_before: str = ""
    sensor_requests: list[dg.RunRequest] = field(default_factory=list)
    sensor_after: str = ""
    decision: dict[str, Any] = field(default_factory=dict)
    served_version_after: str = ""
    swap_seconds: float = float("nan")


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


def monitor(runner: Runner, service: str) -> dict[str, dg.AssetCheckEvaluation]:
    """Today's drift report and its checks."""
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    runner.run("monitor_job", str(window_service_key(day, service)))
    return dict(runner.checks)


def sensor_tick(runner: Runner, cursor: str | None, retrain_months: int = 1) -> dg.SensorResult | dg.SkipReason:
    """One evaluation of the retraining sensor against the instance, as the daemon would run it."""
    resources = build_resources({**runner.env, "TAXI_RETRAIN_MONTHS": str(retrain_months)})
    used = ("lake", "alerts", "trip_source", "retraining")
    context = dg.build_sensor_context(
        instance=runner.instance, cursor=cursor, resources={name: resources[name] for name in used}
    )
    result = retrain_on_failed_checks(context)
    assert isinstance(result, dg.SensorResult | dg.SkipReason)  # the sensor returns one or the other
    return result


def launch(runner: Runner, request: dg.RunRequest) -> dict[str, dict[str, Any]]:
    """Execute a run the sensor requested, with its job, partition, config and tags."""
    assert request.job_name is not None  # the sensor names the job of every request
    return runner.run(request.job_name, request.partition_key, request.run_config.get("ops"), request.tags)


def skip_text(result: dg.SensorResult | dg.SkipReason) -> str:
    """What a sensor evaluation said when it requested nothing."""
    if isinstance(result, dg.SkipReason):
        return str(result.skip_message)
    return str(result.skip_reason.skip_message) if result.skip_reason else ""


def retrain_by_sensor(runner: Runner, story: StoryResult, retrain_months: int) -> None:
    """Tick the sensor until it has launched its retraining run (ingest runs first, if it asks for them)."""
    cursor = None
    for _ in range(3):
        result = sensor_tick(runner, cursor, retrain_months)
        if isinstance(result, dg.SkipReason) or not result.run_requests:
            story.sensor_after = skip_text(result)
            print(f"\n== sensor: {story.sensor_after}")
            return
        cursor = result.cursor or cursor
        for request in result.run_requests:
            story.sensor_requests.append(request)
            print(f"\n== sensor requested {request.job_name} [{request.partition_key}] (run key {request.run_key})")
            outcome = launch(runner, request)
            if "promotion_decision" in outcome:
                story.decision = outcome["promotion_decision"]
    story.sensor_after = skip_text(sensor_tick(runner, cursor, retrain_months))
    print(f"\n== sensor, once more: {story.sensor_after}")


def wait_for_swap(api: Api, version: str) -> float:
    """Seconds until the API serves ``version``.

    Raises:
        CommandFailedError: it did not within ``SWAP_WAIT_SECONDS``.
    """
    started = time.monotonic()
    while time.monotonic() - started < SWAP_WAIT_SECONDS:
        if str(api.ready().get("champion_version")) == version:
            return time.monotonic() - started
        time.sleep(0.5)
    raise CommandFailedError(f"the API did not swap to v{version} within {SWAP_WAIT_SECONDS:.0f} s")


def run_story(runner: Runner, options: StoryOptions, keep_serving: bool = False) -> StoryResult:
    """Every step of the loop; prints as it goes and returns the numbers."""
    story = StoryResult()
    months = list(options.training_months)
    runner.ingest(options.service, [*months, options.calm_month, options.drift_month], refresh=False)
    runner.run("reference_job", options.service, {"training_set": {"config": {"months": months}}})
    outcome = runner.train(options.service, months, [])["promotion_decision"]
    story.champion_before = str(outcome["champion_version_after"])
    story.champion_rmse = float(outcome["challenger_rmse"])
    with running_api(runner.env, options.service, poll_seconds=1.0) as api:
        show_sample_request(api)
        story.replays[options.calm_month] = replay_month(runner, api, options, options.calm_month, options.calm_rows)
        story.checks[options.calm_month] = monitor(runner, options.service)
        story.sensor_before = skip_text(sensor_tick(runner, None, options.retrain_months))
        print(f"\n== sensor: {story.sensor_before}")
        story.replays[options.drift_month] = replay_month(runner, api, options, options.drift_month, options.drift_rows)
        story.checks[options.drift_month] = monitor(runner, options.service)
        retrain_by_sensor(runner, story, options.retrain_months)
        if story.decision.get("decision") == "promote":
            story.swap_seconds = wait_for_swap(api, str(story.decision["champion_version_after"]))
        answer = api.predict(SAMPLE_TRIP)
        story.served_version_after = str(answer.json().get("model_version", ""))
        print_summary(options, story)
        if keep_serving:
            print("\nThe API keeps serving the champion (and swaps in a new one when promoted). Ctrl-C to stop.")
            try:
                api.process.wait()
            except KeyboardInterrupt:
                print("\nstopping the API")
    return story


def _number(value: object) -> str:
    return f"{float(value):.3f}" if isinstance(value, int | float) else "n/a"


def print_summary(options: StoryOptions, story: StoryResult) -> None:
    """One line per step of the story, with its numbers."""
    calm, drift = options.calm_month, options.drift_month
    accuracy = story.checks.get(drift, {}).get(ACCURACY)
    numbers: dict[str, Any] = {k: v.value for k, v in accuracy.metadata.items()} if accuracy else {}
    statistic = str(numbers.get("statistic", "")).upper()
    failed_calm = [name for name, check in story.checks.get(calm, {}).items() if not check.passed]
    decision = story.decision
    lines = [
        f"1. champion v{story.champion_before} trained on {options.service} {', '.join(options.training_months)}: "
        f"holdout RMSE {story.champion_rmse:.3f}",
        f"2. replayed {calm} ({story.replays[calm].sent:,} trips, same fares): checks failed: "
        f"{', '.join(failed_calm) or 'none'}; sensor: {story.sensor_before}",
        f"3. replayed {drift} ({story.replays[drift].sent:,} trips, after the fare increase): accuracy "
        f"{'FAILED' if accuracy and not accuracy.passed else 'passed'}, {statistic} {_number(numbers.get('value'))} on "
        f"{numbers.get('labelled_rows', 0):,} labelled rows vs threshold {_number(numbers.get('threshold'))} "
        f"(holdout {_number(numbers.get('holdout_value'))}; RMSE {_number(numbers.get('rmse'))})",
        f"4. sensor requested {len(story.sensor_requests)} run(s): "
        f"{', '.join(f'{r.job_name} [{r.partition_key}]' for r in story.sensor_requests) or 'none'}",
    ]
    if decision:
        lines.append(
            f"5. {decision['decision']} v{decision['challenger_version']}: RMSE {decision['challenger_rmse']:.3f} vs "
            f"champion {decision['champion_rmse']:.3f} on {decision['holdout_rows']:,} rows of {decision['holdout']}"
        )
    lines.append(
        f"6. the API serves v{story.served_version_after}"
        + (
            f" (swapped {story.swap_seconds:.1f} s after the promotion)"
            if story.swap_seconds == story.swap_seconds
            else ""
        )
    )
    print("\n== summary\n" + "\n".join(lines))
