"""The whole loop, end to end, as ``make demo`` runs it: left to the Dagster daemon once traffic flows.

Train a champion on 2022 months (by hand, in this process), then start the Dagster daemon and the API and only
send traffic: an unseen month of the same fare regime, then a month after the fare increase, each with its true
fares arriving as the trips end, each in its own monitoring window (one minute here, an hour by default). From
then on nothing is done by hand: the daemon's ``monitor_windows`` schedule judges each window as it closes, the
accuracy check fails, the ``retrain_on_failed_checks`` sensor starts the retraining, the challenger is promoted
and the API swaps to it. The story watches the instance and prints the timeline with the measured latencies.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from taxi_assets import run_tags
from taxi_assets.constants import MAX_TRIP_DURATION_MINUTES
from taxi_assets.data_home import DataHome
from taxi_assets.features.schema import read_feature_table
from taxi_assets.model.versions import CHAMPION, ModelRegistry, model_name
from taxi_assets.monitoring.checks import ACCURACY, DRIFT_CHECKS
from taxi_assets.partitions import MonitoringWindows
from taxi_tools.instance_watch import (
    SCHEDULE_TAG,
    SENSOR_TAG,
    daemon_silence,
    failed_checks_of_run,
    finished_runs,
    first_reason,
    instance_activity,
    launched,
    run_failure,
    sensor_ingested,
    ticked_past,
    wait_for,
    window_evaluations,
)
from taxi_tools.processes import SAMPLE_TRIP, Api, running_api, running_daemon, show_sample_request, wait_for_swap
from taxi_tools.replay.client import ReplayConfig, ReplaySummary, replay_trips, run_replay
from taxi_tools.replay.scenarios import apply
from taxi_tools.runner import CommandFailedError, Runner
from taxi_tools.story_summary import print_summary
from taxi_tools.story_types import StoryOptions, StoryResult


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


def replay_month(
    runner: Runner, api: Api, options: StoryOptions, month: str, rows: int, deadline: float | None = None
) -> ReplaySummary:
    """Replay a sample of one ingested month through the API, with true fares as the trips complete.

    No request is sent after ``deadline`` (epoch seconds), when given.
    """
    features = read_feature_table(runner.lake.committed_features(options.service, month))
    trips = apply("none", replay_trips(features, rows, options.seed))
    print(f"\n== replaying {len(trips):,} trips of {options.service} {month} at {options.rate:,.0f}/s", flush=True)
    config = ReplayConfig(api.base_url, api.key, rate=options.rate, compression=options.compression, deadline=deadline)
    summary = run_replay(trips, config)
    for line in summary.lines():
        print(f"  {line}")
    return summary


# the share of a window a replay starts with at least, whatever its rate says it needs
SPARE_WINDOW_SHARE = 0.75
# the seconds between a replay's last true fare and its window's end
DEADLINE_MARGIN_SECONDS = 5.0


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
    """Replay a month inside one monitoring window later than ``after``.

    It cannot spill into the next: requests stop early enough for the last true fare to arrive before the window
    ends (a loaded machine sends fewer trips; the summary counts those skipped).
    """
    windows = MonitoringWindows(options.window_minutes)
    # the last true fares arrive a trip's length (plus the fare system's lag) over the compression after their answer
    last_fare = (MAX_TRIP_DURATION_MINUTES + ReplayConfig.feedback_delay_minutes) * 60 / options.compression
    needed = rows / options.rate * 2 + last_fare + DEADLINE_MARGIN_SECONDS
    length = windows.length.total_seconds()
    if needed > length:
        raise CommandFailedError(
            f"{rows:,} trips at {options.rate:,.0f}/s do not fit one {windows.minutes}-minute window"
        )
    # a loaded machine serves below the asked rate: start with most of a window left, so the replay cannot spill
    window = fresh_window(windows, max(needed, SPARE_WINDOW_SHARE * length), after)
    deadline = windows.bounds(window)[1].timestamp() - last_fare - DEADLINE_MARGIN_SECONDS
    return window, replay_month(runner, api, options, month, rows, deadline)


def judged_window(runner: Runner, options: StoryOptions, story: StoryResult, month: str) -> None:
    """Wait for the schedule's run on the month's window; keep its check evaluations."""
    window = story.windows[month]
    tags = {run_tags.WINDOW: window, SCHEDULE_TAG: "monitor_windows"}
    print(f"\n== waiting for the daemon to judge window {window} (it closes, the schedule ticks)", flush=True)
    closed = MonitoringWindows(options.window_minutes).bounds(window)[1].timestamp()
    runs = wait_for(
        f"the monitor_windows run of window {window}",
        lambda: finished_runs(runner.instance, "monitor_job", tags),
        first_reason(
            lambda: daemon_silence(runner.instance),
            lambda: (
                None
                if launched(runner.instance, "monitor_job", tags)
                else ticked_past(runner.instance, "monitor_windows", closed)
            ),
        ),
        explain=lambda: instance_activity(runner.instance, ()),
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
    """Wait for the sensor's retraining run on the drift window, and for its promotion decision.

    Raises:
        CommandFailedError: the drift window's accuracy check did not fail with ERROR (nothing would retrain),
            or a step did not come; the message says what the instance was doing.
    """
    window = story.windows[options.drift_month]
    accuracy = story.checks.get(options.drift_month, {}).get(ACCURACY)
    if accuracy is None or accuracy.passed or accuracy.severity != dg.AssetCheckSeverity.ERROR:
        numbers = {key: value.value for key, value in accuracy.metadata.items()} if accuracy else {}
        raise CommandFailedError(f"the accuracy check of window {window} did not fail with ERROR: {numbers}")
    tags = {run_tags.WINDOW: window, SENSOR_TAG: "retrain_on_failed_checks"}

    def activity() -> str:
        return instance_activity(runner.instance, ("retrain_on_failed_checks", "ingest_new_months"))

    print("\n== waiting for the sensor to start the retraining", flush=True)
    requested = wait_for(
        "the retraining run",
        lambda: launched(runner.instance, "retrain_job", tags),
        first_reason(
            lambda: daemon_silence(runner.instance),
            lambda: ticked_past(runner.instance, "retrain_on_failed_checks", story.times.get("check_failed", 0.0)),
        ),
        explain=activity,
    )
    story.times["retrain_requested"] = requested[0].create_timestamp.timestamp()
    print(f"  retrain_job run {requested[0].dagster_run.run_id[:8]} launched by sensor retrain_on_failed_checks")
    print("\n== waiting for the retraining (labelled traffic + newest month -> challenger -> promotion decision)")
    # no deadline here: the run takes what the machine gives it, and the instance's run monitoring ends a run
    # past its maximum runtime (dagster.yaml), which this wait then reports
    (record,) = wait_for(
        "the retraining run to finish",
        lambda: finished_runs(runner.instance, "retrain_job", tags),
        lambda: daemon_silence(runner.instance),
        explain=activity,
    )
    story.retrain_run = record
    if record.dagster_run.status != dg.DagsterRunStatus.SUCCESS:
        failed = failed_checks_of_run(runner.instance, record.dagster_run.run_id)
        because = "".join(f"\n  {line}" for line in [*run_failure(runner.instance, record), *failed])
        raise CommandFailedError(
            f"retrain_job run {record.dagster_run.run_id} {record.dagster_run.status.value}{because}"
        )
    event = runner.instance.get_latest_materialization_event(dg.AssetKey("promotion_decision"))
    if event is None or event.asset_materialization is None:
        raise CommandFailedError("the retraining recorded no promotion decision")
    story.decision = {key: value.value for key, value in event.asset_materialization.metadata.items()}
    story.times["decided"] = event.timestamp
    registry = ModelRegistry(DataHome.from_env(runner.env).tracking_uri)
    decided = str(story.decision.get("challenger_version", ""))
    story.card = (registry.card_facts(model_name(options.service), decided) if decided else None) or {}


def current_champion(env: Mapping[str, str], service: str) -> str | None:
    """The version the service's champion alias points to in the registry of ``env``, if any."""
    return ModelRegistry(DataHome.from_env(env).tracking_uri).alias(model_name(service), CHAMPION)


def first_champion(runner: Runner, options: StoryOptions, story: StoryResult, deployed: bool) -> None:
    """Train the story's champion; against a deployment, keep the champion it already serves (its first training)."""
    current = current_champion(runner.env, options.service) if deployed else None
    if current is not None:
        story.champion_before = current
        tags = ModelRegistry(DataHome.from_env(runner.env).tracking_uri).version_tags(
            model_name(options.service), current
        )
        story.champion_rmse = float(json.loads(tags.get("metrics", "{}")).get("rmse", "nan"))
        return
    outcome = runner.train(options.service, list(options.training_months), [])["promotion_decision"]
    story.champion_before = str(outcome["champion_version_after"])
    story.champion_rmse = float(outcome["challenger_rmse"])


def run_story(
    runner: Runner,
    options: StoryOptions,
    keep_serving: bool = False,
    when_running: Callable[[], None] | None = None,
    deployment: Api | None = None,
) -> StoryResult:
    """Every step of the loop; prints as it goes and returns the numbers.

    ``when_running`` is called once the daemon runs (the end-to-end test drops a new month file there). With a
    ``deployment`` (the compose stack's API, reached through its proxy) the story starts neither a daemon nor an
    API: the deployment's daemon judges the windows and retrains, and its API serves and swaps.
    """
    story = StoryResult(loads=[os.getloadavg()[0]])
    if deployment is not None:
        # the deployment's daemon cuts windows by its own settings, which the replay must follow
        options = dataclasses.replace(options, window_minutes=int(runner.env.get("TAXI_MONITOR_WINDOW_MINUTES") or 60))
    months = list(options.training_months)
    runner.ingest(options.service, [*months, options.calm_month, options.drift_month], refresh=False)
    first_champion(runner, options, story, deployed=deployment is not None)
    env = story_env(runner.env, options, runner.instance)
    story.monitoring_env = {key: env[key] for key in ("TAXI_MONITOR_WINDOW_MINUTES", "TAXI_MONITOR_START")}
    daemon: contextlib.AbstractContextManager[object] = (
        contextlib.nullcontext() if deployment else running_daemon(env, runner.instance)
    )
    served: contextlib.AbstractContextManager[Api] = (
        contextlib.nullcontext(deployment) if deployment else running_api(env, options.service, poll_seconds=1.0)
    )
    with daemon, served as api:
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
        story.loads.append(os.getloadavg()[0])
        print_summary(options, story)
        if deployment is not None:
            print(f"\nThe deployment behind {deployment.base_url} keeps judging windows and serving.")
        if keep_serving and api.process is not None:
            print("\nThe daemon keeps judging windows and the API keeps serving (and swapping). Ctrl-C to stop.")
            try:
                api.process.wait()
            except KeyboardInterrupt:
                print("\nstopping the API and the daemon")
    return story
