"""What the demo reads from the Dagster instance while the daemon works: runs, check evaluations, ingested months."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import dagster as dg

from taxi_assets.sensors import CHECK_KEYS, evaluation_window
from taxi_tools.runner import CommandFailedError

# Dagster's own tags on what a schedule or a sensor launched
SCHEDULE_TAG: Final = "dagster/schedule_name"
SENSOR_TAG: Final = "dagster/sensor_name"
TERMINAL: Final = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


# Dagster's daemons send a heartbeat every 30 s; one silent for ten of them has stopped (a busy machine delays a
# heartbeat by seconds, not minutes)
DAEMON_SILENT_SECONDS: Final = 300.0
# how many ticks of a schedule or a sensor, after what it should act on, show that it will not act
TICKS_WITHOUT_ACTION: Final = 3


def wait_for(
    what: str,
    probe: Callable[[], Any],
    stopped: Callable[[], str | None],
    every: float = 2.0,
    explain: Callable[[], str] | None = None,
) -> Any:
    """Poll ``probe`` until it returns something truthy, for as long as ``stopped`` returns None; that value.

    There is no deadline: a busy machine takes longer, and the wait with it. The wait ends without the value only
    when ``stopped`` says why nothing more will come (a daemon that went silent, a sensor that ticked past the
    moment without acting).

    Raises:
        CommandFailedError: ``stopped`` gave a reason; the message says how long it waited, the reason, and ends
            with ``explain()`` when given (what the instance was doing).
    """
    started = time.monotonic()
    while True:
        found = probe()
        if found:
            return found
        reason = stopped()
        if reason is not None:
            detail = f"\n{explain()}" if explain is not None else ""
            raise CommandFailedError(f"gave up on {what} after {time.monotonic() - started:.0f} s: {reason}{detail}")
        time.sleep(every)


def daemon_silence(instance: dg.DagsterInstance) -> str | None:
    """Which of the instance's daemons has sent no heartbeat for ``DAEMON_SILENT_SECONDS``, in words; else None."""
    beats, now = instance.get_daemon_heartbeats(), time.time()
    for daemon in instance.get_required_daemon_types():
        beat = beats.get(daemon)
        silent = now - beat.timestamp if beat is not None else float("inf")
        if silent > DAEMON_SILENT_SECONDS:
            return f"the daemon's {daemon} has sent no heartbeat for {silent:.0f} s (is dagster-daemon running?)"
    return None


def ticked_past(instance: dg.DagsterInstance, name: str, after: float) -> str | None:
    """Why schedule or sensor ``name`` will not act: it ticked ``TICKS_WITHOUT_ACTION`` times since ``after``.

    ``after`` is in epoch seconds; the reason names what its last tick said. None while it has not had its chance.
    Used while waiting for the run it should launch: when that run has not come after so many ticks, it will not.
    """
    state = next((s for s in instance.all_instigator_state() if s.name == name), None)
    if state is None:
        return None
    ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=TICKS_WITHOUT_ACTION)
    if len(ticks) < TICKS_WITHOUT_ACTION or ticks[-1].timestamp < after:
        return None
    last = ticks[0]
    said = last.error.message.strip() if last.error else last.skip_reason or ", ".join(last.run_ids) or "nothing"
    return f"{name} ticked {len(ticks)} times since then without launching it (last tick: {said})"


def first_reason(*checks: Callable[[], str | None]) -> Callable[[], str | None]:
    """One ``stopped`` of several: the first reason any of them gives."""
    return lambda: next((reason for check in checks if (reason := check()) is not None), None)


def instance_activity(instance: dg.DagsterInstance, sensors: tuple[str, ...], runs: int = 15, ticks: int = 4) -> str:
    """The newest runs (job, partition, status, who launched them) and each sensor's newest ticks, as lines."""
    lines = ["newest runs:"]
    for record in instance.get_run_records(limit=runs):
        run, tags = record.dagster_run, record.dagster_run.tags
        launcher = tags.get(SENSOR_TAG) or tags.get(SCHEDULE_TAG) or "by hand"
        partition = tags.get("dagster/partition", "")
        lines.append(f"  {run.run_id[:8]} {run.job_name} [{partition}] {run.status.value} ({launcher})")
    states = {state.name: state for state in instance.all_instigator_state()}
    for name in sensors:
        state = states.get(name)
        if state is None:
            lines.append(f"sensor {name}: never ticked")
            continue
        lines.append(f"sensor {name} ({state.status.value}), newest ticks:")
        for tick in instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=ticks):
            said = tick.error.message.strip() if tick.error else tick.skip_reason or ", ".join(tick.run_ids)
            lines.append(f"  {tick.status.value}: {said}")
    return "\n".join(lines)


def finished_runs(instance: dg.DagsterInstance, job: str, tags: Mapping[str, str]) -> list[dg.RunRecord]:
    """Runs of ``job`` with ``tags``, once every one of them has finished (empty while any is still going)."""
    records = list(instance.get_run_records(filters=dg.RunsFilter(job_name=job, tags=dict(tags))))
    return records if records and all(r.dagster_run.status in TERMINAL for r in records) else []


def launched(instance: dg.DagsterInstance, job: str, tags: Mapping[str, str]) -> list[dg.RunRecord]:
    """Runs of ``job`` with ``tags``, whatever their status."""
    return list(instance.get_run_records(filters=dg.RunsFilter(job_name=job, tags=dict(tags))))


def run_failure(instance: dg.DagsterInstance, record: dg.RunRecord) -> list[str]:
    """Why a run ended without success, as Dagster recorded it (a failed step, the run monitor's timeout)."""
    said = []
    for kind in (dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE, dg.DagsterEventType.RUN_CANCELED):
        for entry in instance.all_logs(record.dagster_run.run_id, of_type=kind):
            event = entry.dagster_event
            data = event.event_specific_data if event is not None else None
            error = getattr(data, "error", None)
            message = error.message.strip() if error is not None else entry.user_message.strip()
            where = event.step_key if event is not None and event.step_key else "run"
            said.append(f"{where}: {message.splitlines()[0] if message else kind.value}")
    return said


def failed_checks_of_run(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """Each blocking check a run's asset failed, in words: the check, what failed, by how much, and what is next."""
    said = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.dagster_event.event_specific_data if entry.dagster_event else None
        if not isinstance(evaluation, dg.AssetCheckEvaluation) or evaluation.passed:
            continue
        metadata = {key: value.value for key, value in evaluation.metadata.items()}
        line = f"{evaluation.asset_key.to_user_string()} check {evaluation.check_name} failed"
        if metadata.get("failed_because"):
            line += f": {metadata['failed_because']}"
        if metadata.get("next"):
            line += f". Next: {metadata['next']}"
        said.append(line)
    return said


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


def sensor_ingested(instance: dg.DagsterInstance, service: str) -> list[str]:
    """The months of ``service`` the new-month sensor ingested successfully."""
    filters = dg.RunsFilter(
        job_name="ingest_job", tags={SENSOR_TAG: "ingest_new_months"}, statuses=[dg.DagsterRunStatus.SUCCESS]
    )
    partitions = [record.dagster_run.tags.get("dagster/partition", "") for record in instance.get_run_records(filters)]
    return sorted(key.split("|")[0] for key in partitions if key.endswith(f"|{service}"))
