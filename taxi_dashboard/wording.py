"""Numbers in words a dispatcher or a product manager reads; the technical name goes in the tooltip.

Pure functions of what ``sources`` loaded, so each sentence is tested against the numbers it states.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Final

import pandas as pd

from taxi_assets.registry.rollout import GUARDRAIL, SHADOW, Stage

# check name -> (what it means in plain words, what the check computes)
CHECKS: Final = {
    "accuracy": ("Fare estimates are less accurate", "drift_report check `accuracy`: error on matured labels"),
    "feature_drift": ("Trips look different from training", "drift_report check `feature_drift`: PSI / JS"),
    "prediction_drift": ("Fare estimates have shifted", "drift_report check `prediction_drift`: PSI of predictions"),
    "validation_failure_rate": (
        "More requests are rejected as invalid",
        "drift_report check `validation_failure_rate`: rejected / all requests",
    ),
}
SEVERITIES: Final = {"ERROR": "serious: the platform retrains", "WARN": "worth a look"}
# alert kind -> plain words
KINDS: Final = {
    "check_failed": "a check failed",
    "check_resolved": "a check recovered",
    "retrain_started": "retraining started",
    "retrain_requested": "retraining asked for",
    "retrain_failed": "retraining failed",
    "promoted": "new model promoted",
    "rejected": "new model not promoted",
    "rolled_back": "rolled back to the previous model",
    "log_quarantined": "prediction log rows quarantined",
}
SEGMENTS: Final = {"pickup_borough": "pickup borough", "payment_type": "payment type", "time_of_day": "time of day"}
PAYMENT_TYPES: Final = {
    "1": "credit card",
    "2": "cash",
    "3": "no charge",
    "4": "dispute",
    "5": "unknown",
    "6": "voided",
}


def dollars(value: float) -> str:
    """``$1.23`` (``-$1.23`` below zero), or "n/a" for a missing number."""
    if value is None or math.isnan(value):
        return "n/a"
    return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"


def share(value: float) -> str:
    """``1.2 %``, or "n/a"."""
    return "n/a" if value is None or math.isnan(value) else f"{100 * value:.1f} %"


def when(moment: Any) -> str:
    """A UTC time as people read it: ``Nov 29, 12:37 UTC``."""
    if moment is None or (isinstance(moment, float) and math.isnan(moment)) or moment is pd.NaT:
        return "unknown"
    stamp = pd.Timestamp(moment)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return f"{stamp.strftime('%b')} {stamp.day}, {stamp.strftime('%H:%M')} UTC"


def segment_value(segment: str, value: str) -> str:
    """A segment value in words (payment type 2 is "cash")."""
    return PAYMENT_TYPES.get(value, value) if segment == "payment_type" else value


def duration(start: Any, end: Any) -> str:
    """A window's length in words: ``1 minute``, ``60 minutes`` is ``1 hour``, ``1 day``."""
    minutes = (pd.Timestamp(end) - pd.Timestamp(start)).total_seconds() / 60
    for size, unit in ((24 * 60, "day"), (60, "hour"), (1, "minute")):
        if minutes >= size and minutes % size == 0:
            count = int(minutes // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{minutes:g} minutes"


def headline(row: pd.Series | None) -> str:
    """The overview's first sentence, from the newest judged window of the champion."""
    if row is None:
        return "No window has been judged yet: fare estimates have no matured true fares to compare with."
    length = duration(row["start"], row["end"])
    sentence = (
        f"Fare estimates are off by {dollars(row['mae'])} on average in the window of {length} that ended "
        f"{when(row['end'])}"
    )
    normally = row["baseline"] if row["statistic"] == "mae" else math.nan
    return sentence + (f" (normally {dollars(normally)})." if not math.isnan(normally) else ".")


def bias_sentence(bias: float) -> str:
    """Under- or over-charging, from the mean of estimate minus true fare."""
    if math.isnan(bias):
        return "No matured true fares to measure over- or under-charging."
    if abs(bias) < 0.005:
        return "Estimates are neither high nor low on average."
    direction = "above" if bias > 0 else "below"
    return f"Estimates are {dollars(abs(bias))} {direction} the true fare on average."


def champion_sentence(version: str | None, decision: dict[str, Any] | None) -> str:
    """Which model answers, since when and why (from the decision that made it champion)."""
    if not version:
        return "No model is champion yet: the API has nothing to serve."
    if decision is None:
        return f"Model version {version} answers requests (it was champion before any recorded decision)."
    since = when(decision["decided_at"])
    if decision["action"] == "rollback":
        return f"Model version {version} answers requests since {since}: rolled back to it ({decision['reason']})."
    return f"Model version {version} answers requests since {since}: {decision['reason']}."


def stage_sentence(stage: Stage) -> str:
    """The challenger's live stage in words: what the API does with it, since when, and what ends it."""
    since = when(stage.started_at)
    if stage.name == GUARDRAIL:
        return (
            f"Model version {stage.version}, the previous champion, is scored beside version {stage.against} on "
            f"every request since {since}: if version {stage.against} turns out confidently worse on the same "
            "trips once their fares arrive, it is rolled back."
        )
    doing = (
        "is scored on every request without answering any"
        if stage.name == SHADOW
        else f"answers {share(stage.share)} of clients"
    )
    return (
        f"Challenger version {stage.version} {doing} since {since} ({stage.name}): it replaces version "
        f"{stage.against} only when its error on the true fares is confidently lower."
    )


def incident_sentence(incident: dict[str, Any]) -> str:
    """One open incident in words."""
    plain, _ = CHECKS.get(incident["check_name"], (incident["check_name"], ""))
    severity = SEVERITIES.get(incident["severity"], incident["severity"].lower())
    windows = incident["failed_windows"]
    return (
        f"{plain} ({severity}): since window {incident['first_window']}, {windows} window"
        f"{'s' if windows != 1 else ''} so far, model version {incident['model_version']}."
    )


def retraining_sentence(started: dict[str, Any] | None, decision: dict[str, Any] | None) -> str:
    """The last retraining and its outcome (the decision recorded after it, if any)."""
    if started is None:
        return "No retraining has been started."
    sentence = f"Last retraining started {when(started['raised_at'])} ({started['title']})"
    if decision is None or pd.Timestamp(decision["decided_at"]) < pd.Timestamp(started["raised_at"]):
        return sentence + "; no decision recorded yet."
    outcomes = {
        "promote": "promoted",
        "shadow": "sent the challenger into shadow, to be promoted only on live evidence",
        "ab": "sent the challenger into an A/B split, to be promoted only on live evidence",
    }
    outcome = outcomes.get(decision["action"], "kept the champion")
    return sentence + f"; it {outcome}: {decision['reason']}."


def traffic_sentence(rows: int, rejected: int, end: datetime | Any) -> str:
    """Requests and the share rejected in the newest window."""
    total = rows + rejected
    rate = rejected / total if total else math.nan
    return f"{total:,} requests in the window that ended {when(end)}; {share(rate)} rejected as invalid."


def rules_sentence(rules: dict[str, Any]) -> str:
    """Every promotion rule's result with the value it saw and the threshold it applied, then the holdout."""
    parts = []
    for name, result in sorted(rules.items()):
        if name == "live" and isinstance(result, dict):
            parts.append(live_sentence(result))
        elif name == "segments" and isinstance(result, dict) and "passed" in result:
            blocked = ", ".join(result.get("value") or []) or "no segment worse"
            verdict = "passed" if result["passed"] else "FAILED"
            parts.append(f"segments {verdict} ({blocked}; {result.get('tests')} tests)")
        elif name in ("segments", "plan"):
            continue  # the rollout plan: in the table's JSON, too long for a sentence
        elif isinstance(result, dict) and "passed" in result:
            verdict = "passed" if result["passed"] else "FAILED"
            value, threshold = _short(result.get("value")), _short(result.get("threshold"))
            parts.append(f"{name} {verdict} ({value} against {threshold})")
        else:
            parts.append(f"{name}: {_short(result)}")
    return "; ".join(parts)


def live_sentence(live: dict[str, Any]) -> str:
    """The sequential test behind a live decision: the stage, the labels, the mean difference and its bounds."""
    confidence = f"{1 - float(live['alpha']):.0%}"
    return (
        f"live {live['stage']} test: {live['decision']} after {int(live['labels']):,} true fares, mean squared-error "
        f"difference {_short(float(live['mean_difference']))} USD² in [{_short(float(live['low']))}, "
        f"{_short(float(live['high']))}] at {confidence} (margin {_short(float(live['margin']))}, statistic "
        f"{_short(float(live['statistic']))})"
    )


def _short(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {'ok' if v is True else 'failed' if v is False else v}" for k, v in value.items())
    return str(value)
