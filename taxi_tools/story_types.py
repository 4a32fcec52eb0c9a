"""What the story is asked to do and what it measured: the options it runs with and the result it returns.

The story (``story``) fills a ``StoryResult`` step by step; its summary (``story_summary``) prints it; the end-to-end
test reads it. All three import this module, and it imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from taxi_tools.replay.client import ReplaySummary


@dataclass(frozen=True)
class StoryOptions:
    """The story's months and traffic: what the champion learns, what is replayed, how fast, how windows close."""

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
    # compressed monitoring windows, so the story takes minutes; accuracy looks back over one window
    window_minutes: int = 1


@dataclass
class StoryResult:
    """The numbers of each step, for the summary and for the end-to-end test."""

    champion_before: str = ""
    champion_rmse: float = float("nan")
    replays: dict[str, ReplaySummary] = field(default_factory=dict)
    windows: dict[str, str] = field(default_factory=dict)
    checks: dict[str, dict[str, dg.AssetCheckEvaluation]] = field(default_factory=dict)
    retrain_run: dg.RunRecord | None = None
    decision: dict[str, Any] = field(default_factory=dict)
    # the facts of the decided challenger's model card, as MLflow keeps them after the decision
    card: dict[str, Any] = field(default_factory=dict)
    served_version_after: str = ""
    new_months: list[str] = field(default_factory=list)
    # the monitoring settings the daemon ran with (make dev needs the same to show the same windows)
    monitoring_env: dict[str, str] = field(default_factory=dict)
    # epoch seconds of each step of the timeline
    times: dict[str, float] = field(default_factory=dict)
    # the machine's 1-minute load average at the story's start and at its end (a busy machine explains a slow run)
    loads: list[float] = field(default_factory=list)

    def latency(self, start: str, end: str) -> float:
        """Seconds from one step of the timeline to another (NaN when either did not happen)."""
        return self.times[end] - self.times[start] if start in self.times and end in self.times else float("nan")
