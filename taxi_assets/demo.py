"""``make demo``: materialize zones -> raw -> features -> training set -> reference profile through Dagster.

Runs in-process against the Dagster instance in ``DAGSTER_HOME`` (the Makefile points it at the project root,
whose dagster.yaml keeps runs under the data home), so every run shows up in ``dagster dev`` afterwards.
"""

import os
import sys
from collections.abc import Mapping

import dagster as dg
import requests

from taxi_assets import constants
from taxi_assets.definitions import build_defs, data_home, trip_source_from_env
from taxi_assets.partitions import month_service_key
from taxi_assets.resources import HttpTripSource

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
    "path",
    "profile_path",
    "sample_path",
)
# Dagster's step-by-step log stays in the run's record (dagster dev); the console shows warnings and errors.
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
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


def run_demo(env: Mapping[str, str], instance: dg.DagsterInstance) -> int:
    """Materialize the chain for the demo service's training window; return a process exit code."""
    source = trip_source_from_env(env)
    # Offline the shared folder holds green 2022-01..03; online the story trains on yellow 2022-09..11.
    service = constants.DEFAULT_DEMO_SERVICE if not isinstance(source, HttpTripSource) else "yellow"
    months = constants.DEFAULT_TRAINING_MONTHS[service]
    defs = build_defs(env)
    steps: list[tuple[str, str | dg.MultiPartitionKey | None]] = [("zones_job", None)]
    steps += [("ingest_job", month_service_key(month, service)) for month in months]
    steps += [("reference_job", service)]
    print(f"Data home: {data_home(env)}   trip source: {type(source).__name__}   service: {service}")
    for job_name, partition in steps:
        label = f"{job_name} [{partition}]" if partition else job_name
        print(f"\n== {label}", flush=True)
        result = defs.resolve_job_def(job_name).execute_in_process(
            instance=instance,
            partition_key=str(partition) if partition else None,
            run_config=QUIET_CONSOLE,
            raise_on_error=False,
        )
        if not result.success:
            for event in result.get_step_failure_events():
                error = event.step_failure_data.error
                print(
                    f"error in {event.step_key}: {error.message.strip() if error else 'failed'}",
                    file=sys.stderr,
                )
            return 1
        for event in result.get_asset_materialization_events():
            materialization = event.step_materialization_data.materialization
            print(f"  {materialization.asset_key.to_user_string()}")
            for key in SHOWN_METADATA:
                if key in materialization.metadata:
                    print(f"    {key}: {materialization.metadata[key].value}")
    print(
        "\nDone. Outputs are in the data lake above. To browse the asset graph, the runs and their metadata:"
        "\n    make dev      # then open http://127.0.0.1:3000"
    )
    return 0


def main() -> int:
    """Entry point of ``python -m taxi_assets.demo``."""
    source = trip_source_from_env(os.environ)
    if isinstance(source, HttpTripSource) and not tlc_reachable(source):
        print(f"error: {OFFLINE_HINT}", file=sys.stderr)
        return 2
    if os.environ.get("DAGSTER_HOME"):
        with dg.DagsterInstance.get() as instance:
            return run_demo(os.environ, instance)
    with dg.DagsterInstance.ephemeral() as instance:
        print("note: DAGSTER_HOME is not set; runs are not kept (use `make demo`).", file=sys.stderr)
        return run_demo(os.environ, instance)


if __name__ == "__main__":
    sys.exit(main())
