"""A model card per registered version: what it prices, for whom, from what, how well, where it fails, why it serves.

The card is Markdown whose YAML front matter holds every fact (``front_matter`` reads them back); the body says the
same in words. ``card_facts`` gathers the facts at training, ``with_decision`` adds each decision about the
version, ``render`` writes the card. Both are kept beside the version in MLflow (``versions.ModelRegistry``:
``model_card.md`` and ``model_card.json`` in its run's artifacts), so the card is readable offline, with the
registry's files alone.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np
import pandas as pd
import yaml

from taxi_assets.model.evaluation import Z_95, regression_metrics
from taxi_assets.model.explain import FareExplainer
from taxi_assets.model.segments import accuracy_by_segment

CARD_FILE: Final = "model_card.md"
CARD_FACTS_FILE: Final = "model_card.json"
# holdout trips whose explanations are averaged into the card's global importance (seeded)
IMPORTANCE_ROWS: Final = 200
# (first day, what changed): a model that learned only from months before one prices later trips by old rules
FARE_CHANGES: Final = (("2022-12-19", "the TLC's metered fare increase of 2022-12-19 (about +30 % a mile)"),)
# a segment with fewer holdout trips than this is named as a limit: its numbers are too thin to judge it
THIN_SEGMENT_ROWS: Final = 200


def _number(value: float) -> float | int | None:
    if isinstance(value, int | np.integer):
        return int(value)
    return round(float(value), 4) if math.isfinite(float(value)) else None


def importance(explainer: FareExplainer, encoded: np.ndarray, features: list[str], seed: int = 0) -> dict[str, Any]:
    """Mean absolute contribution of each feature in USD over up to ``IMPORTANCE_ROWS`` rows, largest first."""
    rows = np.random.default_rng(seed).choice(len(encoded), size=min(IMPORTANCE_ROWS, len(encoded)), replace=False)
    phi = np.array([explainer.contributions(encoded[row].tolist()) for row in sorted(rows.tolist())])
    means = np.abs(phi).mean(axis=0) if len(phi) else np.zeros(len(features))
    ranked = sorted(zip(features, means.tolist(), strict=True), key=lambda item: -item[1])
    return {"rows": len(rows), "base_fare_usd": _number(explainer.base), "mean_abs_usd": dict(ranked)}


def card_facts(
    identity: dict[str, str],
    manifest: dict[str, Any],
    test: pd.DataFrame,
    actual: np.ndarray,
    predicted: np.ndarray,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """Every fact of a new version's card.

    ``identity``: ``model``, ``version``, ``service``, ``run_id``; ``manifest``: the training set's (months,
    rows, hashes, seed); ``test`` with ``actual`` and ``predicted``: its holdout; ``extra``: ``params``, ``checks``,
    ``features`` and ``importance`` (``importance()``, or None for a version without its trees).
    """
    metrics = regression_metrics(actual, predicted).as_dict()
    absolute = np.abs(np.asarray(predicted, dtype=np.float64) - np.asarray(actual, dtype=np.float64))
    half = Z_95 * absolute.std(ddof=1) / math.sqrt(len(absolute)) if len(absolute) > 1 else float("nan")
    segments = {
        column: {value: {k: _number(v) for k, v in asdict(result).items()} for value, result in values.items()}
        for column, values in accuracy_by_segment(test, actual, predicted).items()
    }
    facts: dict[str, Any] = {
        **identity,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "predicts": f"the metered fare (fare_amount, USD: before tips, tolls and surcharges) of one NYC "
        f"{identity['service']} taxi trip, from the 12 features of the trip known when it ends",
        "training": {
            "months": list(manifest.get("months", [])),
            "rows_train": manifest.get("rows_train"),
            "rows_test": len(test),
            "test_fraction": manifest.get("test_fraction"),
            "split_seed": manifest.get("seed"),
            "train_hash": manifest.get("train_hash"),
            # what the metrics below were measured on: a split of the months, or the API's newest labelled traffic
            "measured_on": "the API's most recent labelled traffic"
            if manifest.get("holdout") == "labelled_traffic"
            else "a held-out split of the same months",
        },
        "features": list(extra["features"]),
        "params": dict(extra["params"]),
        "metrics": {k: _number(v) for k, v in metrics.items()}
        | {"mae_low": _number(metrics["mae"] - half), "mae_high": _number(metrics["mae"] + half)},
        "segments": segments,
        "importance": extra.get("importance"),
        "checks": dict(extra["checks"]),
        "decisions": [],
    }
    facts["limits"] = known_limits(facts)
    return facts


def known_limits(facts: dict[str, Any]) -> list[str]:
    """Where the version is known to be weak: fare changes after its months, thin segments, its worst segments."""
    limits = []
    months = facts["training"]["months"]
    for day, change in FARE_CHANGES:
        if months and max(months) < day[:7]:
            limits.append(f"learned only from months before {change}: it under-prices trips after it")
    thin = [
        f"{column}={value} ({row['rows']} trips)"
        for column, values in facts["segments"].items()
        for value, row in values.items()
        if row["rows"] < THIN_SEGMENT_ROWS
    ]
    if thin:
        limits.append(f"too few holdout trips to judge: {', '.join(thin)}")
    overall = facts["metrics"]["mae"] or 0.0
    worst = sorted(
        (
            (row["mae"], f"{column}={value}")
            for column, values in facts["segments"].items()
            for value, row in values.items()
            if row["rows"] >= THIN_SEGMENT_ROWS and row["mae"] is not None
        ),
        reverse=True,
    )[:3]
    for mae, name in worst:
        if mae > 1.5 * overall:
            limits.append(f"{name}: MAE ${mae:.2f}, against ${overall:.2f} over all trips")
    return limits


def with_decision(facts: dict[str, Any], decision: dict[str, Any]) -> dict[str, Any]:
    """``facts`` with one more decision about the version (its action, reason, evidence and time)."""
    return facts | {"decisions": [*facts.get("decisions", []), decision]}


def front_matter(card: str) -> dict[str, Any]:
    """The facts of a rendered card.

    Raises:
        ValueError: ``card`` does not open with front matter.
    """
    if not card.startswith("---\n") or "\n---\n" not in card[4:]:
        raise ValueError("a model card opens with YAML front matter between two --- lines")
    loaded = yaml.safe_load(card[4 : card.index("\n---\n", 4)])
    if not isinstance(loaded, dict):
        raise ValueError("a model card's front matter is a mapping")
    return loaded


def render(facts: dict[str, Any]) -> str:
    """The card: the facts as front matter, then the same in words."""
    head = yaml.safe_dump(facts, sort_keys=False, allow_unicode=True, width=1000)
    return f"---\n{head}---\n\n" + "\n".join(_body(facts)) + "\n"


def _body(facts: dict[str, Any]) -> list[str]:
    metrics, training = facts["metrics"], facts["training"]
    lines = [
        f"# {facts['model']} version {facts['version']}",
        "",
        f"**What it predicts.** {facts['predicts'][0].upper()}{facts['predicts'][1:]}. For dispatch and price "
        "estimates shown before a trip, not for billing: the meter decides the fare.",
        "",
        f"**What it learned from.** TLC {facts['service']} trip records of {', '.join(training['months'])} "
        f"({training['rows_train']:,} training trips), features {', '.join(facts['features'])}. Measured on "
        f"{training.get('measured_on', 'held-out trips')} ({training['rows_test']:,} trips).",
        "",
        f"**How well.** On those trips: RMSE ${metrics['rmse']:.2f}, MAE ${metrics['mae']:.2f} "
        f"(95 % interval ${metrics['mae_low']:.2f} to ${metrics['mae_high']:.2f}), mean signed error "
        f"${metrics['bias']:+.2f}. Checks: "
        + ", ".join(f"{name} {result}" for name, result in facts["checks"].items())
        + ".",
        "",
        "## For whom: accuracy per segment of those trips",
        "",
        "| segment | value | trips | MAE (95 % interval) | RMSE | mean signed error |",
        "|---|---|---:|---|---:|---:|",
    ]
    for column, values in facts["segments"].items():
        for value, row in values.items():
            low, high = row.get("mae_low"), row.get("mae_high")
            interval = f" ({low:.2f} to {high:.2f})" if low is not None and high is not None else ""
            lines.append(
                f"| {column} | {value} | {row['rows']:,} | ${row['mae']:.2f}{interval} | ${row['rmse']:.2f} | "
                f"${row['bias']:+.2f} |"
            )
    lines += ["", "## Known limits", ""] + [f"- {limit}" for limit in facts["limits"] or ["none found"]]
    lines += _importance_lines(facts.get("importance"))
    lines += ["", "## Decisions", ""]
    for decision in facts.get("decisions", []) or []:
        lines.append(f"- {decision.get('at', '')}: **{decision['action']}**: {decision['reason']}")
    if not facts.get("decisions"):
        lines.append("- none yet")
    return lines


def _importance_lines(found: dict[str, Any] | None) -> list[str]:
    if not found:
        return ["", "## What drives its fares", "", "- this version carries no trees for explanations"]
    lines = [
        "",
        "## What drives its fares",
        "",
        f"Mean absolute contribution to the fare over {found['rows']} held-out trips (exact TreeSHAP on its own "
        f"trees), from a base fare of ${found['base_fare_usd']:.2f}:",
        "",
    ]
    return lines + [f"- {name}: ${value:.2f}" for name, value in found["mean_abs_usd"].items()]
