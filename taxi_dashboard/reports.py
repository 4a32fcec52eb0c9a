"""The drift reports of the lake as frames: one row per window and model version, per feature, per segment.

They come from ``drift/<service>/<window>.json``, one per monitoring window, each naming the Dagster run that
wrote it. Nothing is computed here that a report does not hold (a threshold is the verdict's own rule applied to
the verdict's own numbers): the screens only pick, sort and word it. No Streamlit here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import numpy as np
import pandas as pd

from taxi_assets.lake_storage import lake_root
from taxi_assets.monitoring.accuracy import AccuracyVerdict

WINDOW_FORMAT: Final = "%Y-%m-%d-%H:%M"


@dataclass(frozen=True)
class Reports:
    """One service's drift reports as frames, oldest window first; each row is one model version in one window."""

    windows: pd.DataFrame
    features: pd.DataFrame
    segments: pd.DataFrame
    distributions: dict[tuple[str, str], dict[str, dict[str, list[Any]]]]

    @property
    def empty(self) -> bool:
        """No report written yet."""
        return self.windows.empty

    def champion_rows(self) -> pd.DataFrame:
        """Per window, the row of the version that was champion when it was judged (else its only version)."""
        frame = self.windows
        if frame.empty:
            return frame
        preferred = frame[frame["is_champion"]]
        rest = frame[~frame["window"].isin(preferred["window"])].drop_duplicates("window", keep="last")
        return pd.concat([preferred, rest]).sort_values("window").reset_index(drop=True)


WINDOW_COLUMNS: Final = (
    "window", "start", "end", "version", "is_champion", "dagster_run_id", "rows", "rejected", "rejection_rate",
    "labelled_rows", "mae", "rmse", "bias", "judged", "statistic", "value", "baseline", "threshold", "degraded",
    "prediction_psi", "drifted_features", "new_categories",
)  # fmt: skip
FEATURE_COLUMNS: Final = (
    "window",
    "version",
    "feature",
    "psi",
    "psi_limit",
    "js",
    "js_limit",
    "counted",
    "drifted",
    "at_training_usd",
    "now_usd",
    "moves_fares",
)
SEGMENT_COLUMNS: Final = (
    "window", "version", "segment", "value", "rows", "mae", "mae_low", "mae_high", "bias", "judged", "threshold",
    "baseline", "effect_low", "effect_high", "degraded",
)  # fmt: skip


def load_reports(root: str, service: str, newest: int | None = None) -> Reports:
    """The drift reports of ``service`` under the lake ``root`` (the ``newest`` windows' only, when given).

    Empty frames before the first report.
    """
    folder = lake_root(root) / "drift" / service
    found = sorted((child for child in folder.children() if child.name.endswith(".json")), key=lambda c: c.name)
    windows: list[dict[str, Any]] = []
    features: list[dict[str, Any]] = []
    segments: list[dict[str, Any]] = []
    shown: dict[tuple[str, str], dict[str, dict[str, list[Any]]]] = {}
    for location in found[-newest:] if newest else found:
        report = json.loads(location.read_text())
        window = location.name.removesuffix(".json")
        for version, summary in report.get("versions", {}).items():
            windows.append(_window_row(report, window, version, summary))
            features += _feature_rows(window, version, summary)
            segments += _segment_rows(window, version, summary)
            shown[(window, version)] = summary.get("distributions", {})
    return Reports(
        pd.DataFrame(windows, columns=list(WINDOW_COLUMNS)),
        pd.DataFrame(features, columns=list(FEATURE_COLUMNS)),
        pd.DataFrame(segments, columns=list(SEGMENT_COLUMNS)),
        shown,
    )


def window_start(window: str) -> datetime:
    """The start of a window from its key (``2026-11-29-12:00``), in UTC."""
    return pd.Timestamp(datetime.strptime(window, WINDOW_FORMAT), tz="UTC").to_pydatetime()


def _window_row(report: dict[str, Any], window: str, version: str, summary: dict[str, Any]) -> dict[str, Any]:
    bounds = report.get("bounds") or [window_start(window).isoformat(), None]
    overall = (summary.get("calibrated_accuracy") or {}).get("overall") or {}
    accuracy = summary.get("accuracy") or {}
    total = summary["rows"] + summary["rejected"]
    return {
        "window": window,
        "start": pd.Timestamp(bounds[0]),
        "end": pd.Timestamp(bounds[1]) if bounds[1] else pd.NaT,
        "version": str(version),
        "is_champion": str(report.get("champion")) == str(version),
        "dagster_run_id": report.get("dagster_run_id"),
        "rows": summary["rows"],
        "rejected": summary["rejected"],
        "rejection_rate": summary["rejected"] / total if total else np.nan,
        "labelled_rows": summary["labelled_rows"],
        "mae": _number(accuracy.get("mae")),
        "rmse": _number(accuracy.get("rmse")),
        "bias": _number(accuracy.get("bias")),
        "judged": bool((summary.get("calibrated_accuracy") or {}).get("judged", False)),
        "statistic": overall.get("statistic", ""),
        "value": _number(overall.get("value")),
        "baseline": _number(overall.get("baseline")),
        "threshold": _threshold(overall),
        "degraded": bool((summary.get("calibrated_accuracy") or {}).get("judged")) and _degraded(overall),
        "prediction_psi": _number(summary.get("prediction_psi")),
        "drifted_features": list(summary.get("drifted_features", [])),
        "new_categories": dict(summary.get("new_categories", {})),
    }


def _feature_rows(window: str, version: str, summary: dict[str, Any]) -> list[dict[str, Any]]:
    not_counted = set(summary.get("not_counted", []))
    drifted = set(summary.get("drifted_features", []))
    limits, js, js_limits = summary.get("psi_limit", {}), summary.get("js", {}), summary.get("js_limit", {})
    drivers = summary.get("attribution") or {}
    before, now = drivers.get("reference", {}), drivers.get("window", {})
    moving = set(drivers.get("moving_predictions", []))
    return [
        {
            "window": window,
            "version": str(version),
            "feature": name,
            "psi": _number(value),
            "psi_limit": _number(limits.get(name)),
            "js": _number(js.get(name)),
            "js_limit": _number(js_limits.get(name)),
            "counted": name not in not_counted,
            "drifted": name in drifted,
            # what the feature adds to a fare on average (absolute, USD): at training and in the window
            "at_training_usd": _number(before.get(name)),
            "now_usd": _number(now.get(name)),
            "moves_fares": name in moving,
        }
        for name, value in summary.get("psi", {}).items()
    ]


def _segment_rows(window: str, version: str, summary: dict[str, Any]) -> list[dict[str, Any]]:
    judged = {
        (s["segment"], s["value"]): s["verdict"] for s in (summary.get("calibrated_accuracy") or {}).get("segments", [])
    }
    rows = []
    for segment, values in summary.get("accuracy_by_segment", {}).items():
        for value, accuracy in values.items():
            verdict = judged.get((segment, value))
            rows.append(
                {
                    "window": window,
                    "version": str(version),
                    "segment": segment,
                    "value": value,
                    "rows": accuracy["rows"],
                    "mae": _number(accuracy["mae"]),
                    "mae_low": _number(accuracy.get("mae_low")),
                    "mae_high": _number(accuracy.get("mae_high")),
                    "bias": _number(accuracy["bias"]),
                    "judged": verdict is not None,
                    "threshold": _threshold(verdict or {}),
                    "baseline": _number((verdict or {}).get("baseline")),
                    "effect_low": _number((verdict or {}).get("effect_low")),
                    "effect_high": _number((verdict or {}).get("effect_high")),
                    "degraded": verdict is not None and _degraded(verdict),
                }
            )
    return rows


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else np.nan


def _threshold(verdict: dict[str, Any]) -> float:
    """The value over which a verdict fails (``AccuracyVerdict.threshold``); NaN without a verdict."""
    return AccuracyVerdict(**verdict).threshold if verdict else np.nan


def _degraded(verdict: dict[str, Any]) -> bool:
    """Whether a verdict's value is over its threshold (``AccuracyVerdict.degraded``)."""
    return bool(verdict) and AccuracyVerdict(**verdict).degraded
