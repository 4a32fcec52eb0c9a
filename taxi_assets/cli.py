"""The Makefile's commands: ``python -m taxi_assets.cli demo|train|rollback``.

Each runs Dagster jobs in-process against the instance in ``DAGSTER_HOME`` (the Makefile points it at the
project root, whose dagster.yaml keeps runs under the data home), so every run shows up in ``dagster dev``.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import requests

from taxi_assets import constants
from taxi_assets.definitions import build_defs, data_home, mlflow_from_env, trip_source_from_env
from taxi_assets.lifecycle.registry import CHAMPION, model_name
from taxi_assets.partitions import month_service_key
from taxi_assets.resources import DataLake, HttpTripSource

SHOWN_METADATA = (
    "rows_in",
    "rows_valid",
    "rows_quarantined",
    "quarantine_by_rule",
    "rows_out",
    "outliers_by_rule",
    "rows_train",
    "rows_test",
    "bins_per_feature",
    "model_version",
    "rmse",
    "mae",
    "r2",
    "mape",
    "parity_max_abs_diff",
    "decision",
    "reason",
    "champion_version_after",
    "path",
    "profile_path",
)
# Dagster's step-by-step log stays in the run's record (dagster dev); the console shows warnings and errors.
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
OFFLINE_HINT = (
    "The TLC download site is not reachable. To run offline, point the trip source at a local folder of TLC "
    "files:\n    make demo TAXI_TRIPS_DIR=../shared/data/tlc"
)


class CommandFailedError(Exception):
    """A job failed; its step errors were printed."""


def tlc_reachable(source: HttpTripSource, timeout_seconds: float = 8.0) -> bool:
    """One quick request to the TLC host, so an offline machine fails in seconds rather than per file."""
    try:
        requests.head(source.zone_lookup_url, timeout=timeout_seconds, allow_redirects=True)
    except (requests.ConnectionError, requests.Timeout):
        return False
    return True


class Runner:
    """Runs the code location's jobs in-process and prints what they materialized."""

    def __init__(self, env: Mapping[str, str], instance: dg.DagsterInstance) -> None:
        self.env = env
        self.defs = build_defs(env)
        self.instance = instance
        self.lake = DataLake(root=str(data_home(env) / "lake"))
        self.checks: dict[str, dg.AssetCheckEvaluation] = {}

    def run(
        self,
        job: str,
        partition: str | None = None,
        ops: dict[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Run a job; return each materialized asset's metadata. Raises CommandFailedError on a failed step."""
        print(f"\n== {job}{f' [{partition}]' if partition else ''}", flush=True)
        result = self.defs.resolve_job_def(job).execute_in_process(
            instance=self.instance,
            partition_key=partition,
            run_config={**QUIET_CONSOLE, **({"ops": ops} if ops else {})},
            tags=dict(tags or {}),
            raise_on_error=False,
        )
        if not result.success:
            for event in result.get_step_failure_events():
                error = event.step_failure_data.error
                print(f"error in {event.step_key}: {error.message.strip() if error else 'failed'}", file=sys.stderr)
            raise CommandFailedError(job)
        materialized: dict[str, dict[str, Any]] = {}
        for event in result.get_asset_materialization_events():
            materialization = event.step_materialization_data.materialization
            metadata = {key: value.value for key, value in materialization.metadata.items()}
            materialized[materialization.asset_key.to_user_string()] = metadata
            print(f"  {materialization.asset_key.to_user_string()}")
            for key in SHOWN_METADATA:
                if key in metadata:
                    print(f"    {key}: {metadata[key]}")
        self.checks = {}
        for evaluation in result.get_asset_check_evaluations():
            self.checks[evaluation.check_name] = evaluation
            outcome = "passed" if evaluation.passed else f"FAILED ({evaluation.severity.value})"
            print(f"  check {evaluation.check_name}: {outcome}{check_numbers(evaluation)}")
        return materialized

    def ingest(self, service: str, months: Sequence[str], refresh: bool) -> None:
        """Zones once, then raw -> features for each month not yet in the lake (or every month with refresh)."""
        if refresh or not self.lake.zones().exists():
            self.run("zones_job")
        for month in months:
            if refresh or not (self.lake.features(service, month) / "_manifest.json").exists():
                self.run("ingest_job", str(month_service_key(month, service)))
            else:
                print(f"\n== ingest_job [{month}|{service}]: already in the lake (--refresh to redo)")

    def train(self, service: str, months: Sequence[str], holdout_months: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Split the window, train and register a challenger, decide on promotion."""
        ops = {
            "training_set": {"config": {"months": list(months)}},
            "promotion_decision": {"config": {"holdout_months": list(holdout_months)}},
        }
        return self.run("train_job", service, ops)


def check_numbers(evaluation: dg.AssetCheckEvaluation) -> str:
    """The value and threshold a check saw, when it has them (drift_report's checks)."""
    metadata = {key: value.value for key, value in evaluation.metadata.items()}
    shown = []
    for key in ("rmse", "psi", "rate", "count"):
        if key in metadata and "threshold" in metadata:
            shown.append(f"{key} {float(metadata[key]):.3f} vs threshold {float(metadata['threshold']):.3f}")
    if metadata.get("drifted_features"):
        shown.append(f"drifted: {', '.join(metadata['drifted_features'])}")
    if metadata.get("note"):
        shown.append(str(metadata["note"]))
    return f" - {'; '.join(shown)}" if shown else ""


def default_service(env: Mapping[str, str]) -> str:
    """Green from the local folder (the offline files), yellow from the TLC download."""
    return "yellow" if isinstance(trip_source_from_env(env), HttpTripSource) else constants.DEFAULT_DEMO_SERVICE


def command_demo(runner: Runner, args: argparse.Namespace) -> None:
    """Ingest the training window, fit the reference profile, train and promote the first champion."""
    service = args.service or default_service(runner.env)
    months = args.months or list(constants.DEFAULT_TRAINING_MONTHS[service])
    runner.ingest(service, months, refresh=args.refresh)
    runner.run("reference_job", service, {"training_set": {"config": {"months": months}}})
    outcome = runner.train(service, months, args.holdout_months or [])
    decision = outcome["promotion_decision"]
    print(
        f"\n{service}: champion is version {decision['champion_version_after']} "
        f"(this run's challenger v{decision['challenger_version']}: {decision['decision']}; "
        f"RMSE {decision['challenger_rmse']:.3f} on {decision['holdout_rows']:,} holdout rows)."
        f"\nData home: {data_home(runner.env)}. Browse the asset graph, runs, checks and metadata with:"
        "\n    make dev      # then open http://127.0.0.1:3000"
    )
    if args.serve != "no":
        serve_and_show(runner.env, service, keep_serving=args.serve == "forever")


SAMPLE_TRIP = {
    "trip_distance": 2.4,
    "passenger_count": 1,
    "pickup_hour": 18,
    "pickup_day_of_week": 2,
    "pickup_month": 3,
    "trip_duration_minutes": 14.5,
    "is_weekend": 0,
    "is_rush_hour": 1,
    "RatecodeID": 1,
    "payment_type": 1,
    "pickup_borough": "Manhattan",
    "dropoff_borough": "Manhattan",
}


def serve_and_show(env: Mapping[str, str], service: str, keep_serving: bool) -> None:
    """Start the API on the champion, show one request with curl and its answer, then serve until Ctrl-C."""
    port = env.get("TAXI_API_PORT") or "8000"
    key = (env.get("TAXI_API_KEYS") or "local-dev-key").split(",")[0]
    server_env = {**env, "TAXI_SERVICE": service, "TAXI_API_KEYS": env.get("TAXI_API_KEYS") or key}
    command = [sys.executable, "-m", "uvicorn", "--factory", "taxi_serving.app:app_from_env"]
    command += ["--host", "127.0.0.1", "--port", port, "--no-access-log", "--log-level", "warning"]
    print(f"\n== starting the API on http://127.0.0.1:{port} (docs: /schema)", flush=True)
    process = subprocess.Popen(command, env=server_env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None:
                raise CommandFailedError("the API did not start (is the port taken? set TAXI_API_PORT)")
            time.sleep(0.3)
        body = json.dumps(SAMPLE_TRIP)
        print(f"\n$ curl -s -X POST {base}/predict -H 'X-API-Key: {key}' -H 'Content-Type: application/json' \\")
        print(f"    -d '{body}'")
        answer = requests.post(f"{base}/predict", data=body, headers={"X-API-Key": key}, timeout=5)
        print(answer.text)
        if keep_serving:
            print("\nThe API keeps serving the champion (and swaps in a new one when promoted). Ctrl-C to stop.")
            process.wait()
    except KeyboardInterrupt:
        print("\nstopping the API")
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


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
    """What the sensor does on a failed check, by hand: train on the retraining months and decide."""
    service = args.service or default_service(runner.env)
    args.months = args.months or list(constants.RETRAIN_MONTHS[service])
    command_train(runner, args)


def command_monitor(runner: Runner, args: argparse.Namespace) -> None:
    """Materialize today's drift report (the prediction log since midnight UTC) and run its checks."""
    service = args.service or default_service(runner.env)
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    runner.run("monitor_job", day, {"drift_report": {"config": {"service": service}}})


def command_rollback(runner: Runner, args: argparse.Namespace) -> None:
    """Move the champion back to the previous champion."""
    service = args.service or default_service(runner.env)
    runner.run("rollback_job", ops={"rollback_champion": {"config": {"service": service}}})
    registry = mlflow_from_env(runner.env).registry()
    print(f"\n{model_name(service)}: champion is now v{registry.alias(model_name(service), CHAMPION)}")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Command-line arguments; months as YYYY-MM, comma-separated."""

    def months(text: str) -> list[str]:
        return [month.strip() for month in text.split(",") if month.strip()]

    parser = argparse.ArgumentParser(prog="python -m taxi_assets.cli", description=__doc__)
    parser.add_argument("command", choices=["demo", "train", "retrain", "monitor", "rollback"])
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
    return parser.parse_args(argv)


COMMANDS = {
    "demo": command_demo,
    "train": command_train,
    "retrain": command_retrain,
    "monitor": command_monitor,
    "rollback": command_rollback,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    env = os.environ
    source = trip_source_from_env(env)
    if (
        args.command in ("demo", "train", "retrain")
        and isinstance(source, HttpTripSource)
        and not tlc_reachable(source)
    ):
        print(f"error: {OFFLINE_HINT}", file=sys.stderr)
        return 2
    instance = dg.DagsterInstance.get() if env.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    with instance:
        try:
            COMMANDS[args.command](Runner(env, instance), args)
        except CommandFailedError:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
