"""The Makefile's commands: ``python -m taxi_tools.cli demo|train|retrain|monitor|rollback|seed-traffic|migrate``.

Each runs Dagster jobs in-process against the instance in ``DAGSTER_HOME``, by default ``dagster/`` in the data
home (``TAXI_HOME``), the same one ``make dev`` opens, so every run shows up in ``dagster dev``.
"""

import argparse
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

import dagster as dg
import requests
import sqlalchemy as sa

from taxi_assets import constants, logs, run_tags
from taxi_assets.data_home import DataHome
from taxi_assets.definitions import (
    mlflow_from_env,
    monitoring_from_env,
    platform_db_from_env,
    retraining_from_env,
    trip_source_from_env,
)
from taxi_assets.features.schema import read_feature_table
from taxi_assets.lake_storage import MANIFEST
from taxi_assets.model.versions import CHAMPION, model_name
from taxi_assets.partitions import month_partitions
from taxi_assets.platform_db.schema import current_revision, ensure_schema
from taxi_assets.resources import HttpTripSource
from taxi_assets.retraining.months import newest_available
from taxi_tools import settings
from taxi_tools.processes import Api
from taxi_tools.replay.client import ReplayConfig, replay_trips, run_replay
from taxi_tools.replay.scenarios import SCENARIOS, apply
from taxi_tools.runner import CommandFailedError, Runner
from taxi_tools.story import current_champion, run_story
from taxi_tools.story_types import StoryOptions

OFFLINE_HINT = (
    "The TLC download site is not reachable. To run offline, point the trip source at a local folder of TLC "
    "files:\n    make demo TAXI_TRIPS_DIR=../shared/data/tlc"
)


def tlc_reachable(source: HttpTripSource, timeout_seconds: float = 8.0) -> bool:
    """One quick request to the TLC host, so an offline machine fails in seconds rather than per file."""
    try:
        requests.head(source.zone_lookup_url, timeout=timeout_seconds, allow_redirects=True)
    except (requests.ConnectionError, requests.Timeout):
        return False
    return True


def default_service(env: Mapping[str, str]) -> str:
    """Green from the local folder (the offline files), yellow from the TLC download."""
    return "yellow" if isinstance(trip_source_from_env(env), HttpTripSource) else settings.OFFLINE_SERVICE


def command_demo(runner: Runner, args: argparse.Namespace) -> None:
    """The whole loop (train, serve, calm replay, drift replay, alarm, retraining, promotion, swap).

    With ``--serve no``: only ingest, train and promote the first champion.
    """
    service = args.service or default_service(runner.env)
    months = args.months or list(constants.DEFAULT_TRAINING_MONTHS[service])
    monitoring = ""
    if args.serve == "no":
        if args.unless_champion and (current := current_champion(runner.env, service)) is not None:
            print(f"\n{service}: champion is version {current}; nothing to train (--unless-champion).")
            return
        runner.ingest(service, months, refresh=args.refresh)
        decision = runner.train(service, months, args.holdout_months or [])["promotion_decision"]
        print(
            f"\n{service}: champion is version {decision['champion_version_after']} "
            f"(this run's challenger v{decision['challenger_version']}: {decision['decision']}; "
            f"RMSE {decision['challenger_rmse']:.3f} on {decision['holdout_rows']:,} holdout rows)."
        )
    else:
        if args.refresh:
            runner.ingest(service, months, refresh=True)
        key = runner.env.get("TAXI_API_KEYS", "").split(",")[0]
        deployment = Api(args.deployment.rstrip("/"), key) if args.deployment else None
        options = StoryOptions(
            service=service,
            training_months=tuple(months),
            calm_month=args.calm_month or settings.STORY_CALM_MONTH[service],
            drift_month=args.drift_month or settings.STORY_DRIFT_MONTH[service],
            calm_rows=args.rows or settings.STORY_CALM_ROWS,
            drift_rows=args.rows or settings.STORY_DRIFT_ROWS,
            rate=args.rate,
            compression=args.compression,
        )
        story = run_story(runner, options, args.serve == "forever", deployment=deployment)
        if deployment is not None:
            return
        monitoring = " ".join(f"{key}={value}" for key, value in story.monitoring_env.items())
    home = DataHome.from_env(runner.env).root
    print(
        f"\nData home: {home}. The runs the schedule and the sensors launched, their ticks and the "
        f"checks' history are in the Dagster UI (which also runs the daemon from then on):"
        f"\n    make dev {monitoring}      # then open http://127.0.0.1:3000"
        f"\nWhat the model did, for whom it got worse and what the platform did about it, in plain words:"
        f"\n    make dashboard {monitoring}      # then open {settings.DASHBOARD_URL}"
    )


def command_train(runner: Runner, args: argparse.Namespace) -> None:
    """Ingest the months if needed, then train and decide."""
    service = args.service or default_service(runner.env)
    months = args.months or list(constants.DEFAULT_TRAINING_MONTHS[service])
    runner.ingest(service, [*months, *(args.holdout_months or [])], refresh=args.refresh)
    decision = runner.train(service, months, args.holdout_months or [])["promotion_decision"]
    print(
        f"\n{service}: {decision['decision']} v{decision['challenger_version']}; "
        f"champion is v{decision['champion_version_after']} ({decision['reason']})"
    )


def command_retrain(runner: Runner, args: argparse.Namespace) -> None:
    """What the sensor launches on a failed check, by hand: labelled traffic + the retraining months, and decide."""
    service = args.service or default_service(runner.env)
    policy = retraining_from_env(runner.env)
    source = trip_source_from_env(runner.env)

    def available(month: str) -> bool:
        return (runner.lake.features(service, month) / MANIFEST).is_file() or source.has_month(service, month)

    today = datetime.now(UTC).date()
    months = args.months or newest_available(today, policy.months, available, constants.FIRST_MONTH)
    runner.ingest(service, months, refresh=args.refresh)
    config = {"months": months, "include_traffic": True, "expected_months": len(args.months or []) or policy.months}
    ops = {"training_set": {"config": config}}
    decision = runner.run("retrain_job", service, ops, {run_tags.TRIGGER: "manual"})["promotion_decision"]
    print(
        f"\n{service}: {decision['decision']} v{decision['challenger_version']}; "
        f"champion is v{decision['champion_version_after']} ({decision['reason']})"
    )


def command_seed_traffic(runner: Runner, args: argparse.Namespace) -> None:
    """Replay a TLC month through the running API (``make serve``), with a drift scenario and delayed fares."""
    service = args.service or default_service(runner.env)
    month = args.month or settings.STORY_DRIFT_MONTH[service]
    runner.ingest(service, [month], refresh=args.refresh)
    api = settings.ApiAddress.from_env(runner.env)
    try:
        requests.get(f"{api.base_url}/healthz", timeout=3)
    except requests.ConnectionError as exc:
        raise CommandFailedError(f"no API answers at {api.base_url}: start it with 'make serve' first") from exc
    trips = replay_trips(read_feature_table(runner.lake.committed_features(service, month)), args.rows, args.seed)
    trips = apply(args.scenario, trips, args.strength, args.seed)
    print(f"\n== replaying {len(trips):,} trips of {service} {month} (scenario {args.scenario}) to {api.base_url}")
    config = ReplayConfig(
        api.base_url, api.key, rate=args.rate, compression=args.compression, feedback_delay_minutes=args.feedback_delay
    )
    for line in run_replay(trips, config).lines():
        print(f"  {line}")
    print("\nJudge the traffic with: make monitor")


def command_monitor(runner: Runner, args: argparse.Namespace) -> None:
    """Materialize the current monitoring window's drift report (its traffic so far) and run its checks.

    The daemon's ``monitor_windows`` schedule judges every window as it closes; this judges the open one now.
    """
    service = args.service or default_service(runner.env)
    windows = monitoring_from_env(runner.env).windows()
    runner.run("monitor_job", str(windows.key(windows.containing(datetime.now(UTC)), service)))


def command_rollback(runner: Runner, args: argparse.Namespace) -> None:
    """Move the champion back to the previous champion."""
    service = args.service or default_service(runner.env)
    runner.run("rollback_job", ops={"rollback_champion": {"config": {"service": service}}})
    registry = mlflow_from_env(runner.env).registry()
    print(f"\n{model_name(service)}: champion is now v{registry.alias(model_name(service), CHAMPION)}")


def command_migrate(runner: Runner, args: argparse.Namespace) -> None:
    """Bring the platform database to the newest schema revision (every process also does so on first use)."""
    engine = sa.create_engine(platform_db_from_env(runner.env).url)
    try:
        before = current_revision(engine)
        ensure_schema(engine)
        after = current_revision(engine)
    finally:
        engine.dispose()
    where = engine.url.render_as_string(hide_password=True)
    print(f"{where}: schema revision {before or 'none'} -> {after}" if before != after else f"{where}: at {after}")


COMMANDS: dict[str, Callable[[Runner, argparse.Namespace], None]] = {
    "demo": command_demo,
    "train": command_train,
    "retrain": command_retrain,
    "monitor": command_monitor,
    "seed-traffic": command_seed_traffic,
    "rollback": command_rollback,
    "migrate": command_migrate,
}


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Command-line arguments; months as YYYY-MM, comma-separated."""

    def months(text: str) -> list[str]:
        return [month.strip() for month in text.split(",") if month.strip()]

    parser = argparse.ArgumentParser(prog="python -m taxi_tools.cli", description=__doc__)
    parser.add_argument("command", choices=list(COMMANDS))
    parser.add_argument(
        "--service", choices=constants.SERVICES, help="TLC service (default: green offline, yellow online)"
    )
    parser.add_argument("--months", type=months, help="training months, e.g. 2022-01,2022-02")
    parser.add_argument("--holdout-months", type=months, help="score champion and challenger on these months")
    parser.add_argument("--refresh", action="store_true", help="re-ingest months already in the lake")
    parser.add_argument(
        "--serve",
        choices=["forever", "sample", "no"],
        default="forever",
        help="demo: start the API and keep it up (forever), stop after the sample request (sample), or skip it",
    )
    parser.add_argument(
        "--deployment",
        metavar="URL",
        help="demo: drive the loop against a running deployment's API (its proxy) and daemon instead of starting "
        "them; the key is the first of TAXI_API_KEYS",
    )
    parser.add_argument(
        "--unless-champion",
        action="store_true",
        help="demo --serve no: do nothing when the service already has a champion (the deployment's first start)",
    )
    parser.add_argument("--calm-month", help="demo: the unseen month of the same fare regime to replay first")
    parser.add_argument("--drift-month", help="demo: the month after the fare increase to replay next")
    parser.add_argument("--month", help="seed-traffic: the month to replay (default: the drift month)")
    parser.add_argument("--rows", type=int, help="trips to replay (a seeded sample of the month)")
    parser.add_argument("--rate", type=float, default=settings.REPLAY_RATE, help="requests per second")
    parser.add_argument(
        "--compression",
        type=float,
        default=settings.REPLAY_COMPRESSION,
        help="trip seconds per wall-clock second (true fares arrive when trips complete)",
    )
    parser.add_argument(
        "--feedback-delay", type=float, default=2.0, help="minutes (trip time) after completion a fare arrives"
    )
    parser.add_argument("--scenario", choices=list(SCENARIOS), default="none", help="drift applied to the trips")
    parser.add_argument("--strength", type=float, help="scenario strength (default: the scenario's own)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample and the scenario")
    return parser.parse_args(argv)


def months_outside_partitions(args: argparse.Namespace) -> str:
    """What is wrong with the months asked for (empty when nothing): each must be a TLC month the service has."""
    keys = month_partitions.get_partition_keys()
    asked = [*(args.months or []), *(args.holdout_months or [])]
    asked += [month for month in (args.month, args.calm_month, args.drift_month) if month]
    for month in asked:
        if month not in keys:
            return f"month {month} is not a TLC month here: YYYY-MM from {keys[0]} to {keys[-1]}"
        first = constants.SERVICE_FIRST_MONTH.get(args.service or "", keys[0])
        if month < first:
            return f"month {month} is before the first {args.service} trip records ({first})"
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    outside = months_outside_partitions(args)
    if outside:
        print(f"error: {outside}", file=sys.stderr)
        return 2
    # a person reads the CLI: its own log, its in-process runs' and Spark's are readable unless asked otherwise
    env = {**os.environ, logs.FORMAT_ENV: logs.log_format(os.environ, logs.TEXT)}
    logs.configure(env[logs.FORMAT_ENV], "WARNING")  # libraries only when it matters
    logging.getLogger("taxi").setLevel(logs.log_level(env))  # the platform's alerts and notes
    source = trip_source_from_env(env)
    if (
        args.command in ("demo", "train", "retrain")
        and isinstance(source, HttpTripSource)
        and not tlc_reachable(source)
    ):
        print(f"error: {OFFLINE_HINT}", file=sys.stderr)
        return 2
    with dg.DagsterInstance.from_config(str(settings.instance_home(env))) as instance:
        try:
            COMMANDS[args.command](Runner(env, instance), args)
        except CommandFailedError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
