"""What the story prints at its end: one line per step with its numbers, then the measured timeline."""

from __future__ import annotations

import os
from typing import Any

from taxi_assets import run_tags
from taxi_assets.monitoring.checks import ACCURACY
from taxi_tools.story_types import StoryOptions, StoryResult


def _number(value: object) -> str:
    return f"{float(value):.3f}" if isinstance(value, int | float) else "n/a"


def _steps(seconds: object) -> str:
    """The retraining's steps and their seconds, as the run recorded them with its decision."""
    if not isinstance(seconds, list) or not seconds:
        return ""
    return " (" + ", ".join(f"{step} {float(value):.1f} s" for step, value in seconds) + ")"


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
        + (f" ({run.dagster_run.tags.get(run_tags.REASON, '')})" if run else ""),
    ]
    if decision:
        lines.append(
            f"5. {decision['decision']} v{decision['challenger_version']}: RMSE {decision['challenger_rmse']:.3f} vs "
            f"champion {decision['champion_rmse']:.3f} on {decision['holdout_rows']:,} rows of {decision['holdout']}"
            + _segments(decision.get("segments_blocked"))
        )
    lines.append(f"6. the API serves v{story.served_version_after}")
    drifted = f"replayed {drift}"
    timeline = [
        f"last drifted request -> failed accuracy check: {story.latency(drifted, 'check_failed'):.1f} s "
        f"(the window closes, the schedule ticks, the run judges it)",
        f"failed check -> retraining run requested: {story.latency('check_failed', 'retrain_requested'):.1f} s",
        f"retraining requested -> promotion decision: {story.latency('retrain_requested', 'decided'):.1f} s"
        + _steps(decision.get("run_step_seconds")),
        f"promotion -> the API serves the new version: {story.latency('decided', 'swapped'):.1f} s",
    ]
    if story.new_months:
        lines.append(
            f"7. sensor ingest_new_months ingested {', '.join(story.new_months)} as it appeared in the trip source"
        )
    if story.card:
        lines.append(_card(story.card))
    timeline.append(_machine(story.loads))
    print("\n== summary\n" + "\n".join(lines) + "\n\n== timeline (measured)\n" + "\n".join(timeline))


def _segments(blocked: object) -> str:
    """The segment gate's verdict as the decision recorded it (nothing for a decision without the gate)."""
    if not isinstance(blocked, str):
        return ""
    return "; worse for no segment" if blocked == "none" else f"; worse for {blocked}"


def _card(facts: dict[str, Any]) -> str:
    """The decided version's model card in one line: what it learned from, what it measured, what was decided."""
    segments = sum(len(values) for values in facts.get("segments", {}).values())
    limits = len(facts.get("limits", []))
    decisions = ", ".join(str(d.get("action")) for d in facts.get("decisions", [])) or "none yet"
    return (
        f"8. the model card of v{facts.get('version')} (model_card.md of its MLflow run): learned from "
        f"{', '.join(facts.get('training', {}).get('months', [])) or 'n/a'}, accuracy in {segments} segments, "
        f"{limits} known limit{'' if limits == 1 else 's'}, decisions: {decisions}"
    )


def _machine(loads: list[float]) -> str:
    """The machine the timeline was measured on: its cores and how busy it was."""
    cores = os.cpu_count() or 1
    said = f"the machine: {cores} cores"
    if len(loads) == 2:
        said += f", load average {loads[0]:.1f} at the start and {loads[1]:.1f} at the end"
        # the story's own processes keep about its cores busy; twice that is other work
        if max(loads) > 2 * cores:
            said += " (other work competed for the cores: every step took what it needed, no step had a deadline)"
    return said
