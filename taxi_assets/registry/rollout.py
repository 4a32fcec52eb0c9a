"""Rollout stages of a challenger on live traffic, and the step each live verdict calls for. Pure.

A challenger that passed the offline rules (``promotion.py``) does not replace the champion at once when the
service's plan has stages: it enters ``shadow`` (scored on every request, answering none), then optionally
``ab`` (answering a share of clients), and becomes champion only on live evidence (``sequential.py``). After a
promotion the old champion runs in shadow beside the new one for the ``guardrail``: if the new champion does
worse than the old one on the same trips, beyond the margin, it is rolled back.

The stage lives on the model version the ``challenger`` alias points at, as tags the API reads each time it
polls the registry (``stage_tags``), so no process has to be restarted for a stage to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from taxi_assets.registry.sequential import PROMOTE, REJECT, TIMEOUT, SequentialRule, Verdict

SHADOW: Final = "shadow"
AB: Final = "ab"
GUARDRAIL: Final = "guardrail"
STAGES: Final = (SHADOW, AB)
# a stage in which the API scores (or serves) the challenger alias's version
LIVE_STAGES: Final = (SHADOW, AB, GUARDRAIL)
ENDED: Final = "ended"

STAGE_TAG: Final = "rollout.stage"
SHARE_TAG: Final = "rollout.share"
STARTED_TAG: Final = "rollout.started_at"
AGAINST_TAG: Final = "rollout.against"

# the steps a live verdict leads to; each but CONTINUE is recorded as a decision
CONTINUE: Final = "continue"
ADVANCE: Final = "advance"
PROMOTE_LIVE: Final = "promote"
REJECT_LIVE: Final = "reject"
ROLLBACK_LIVE: Final = "rollback"
CLEARED: Final = "cleared"


@dataclass(frozen=True)
class RolloutPlan:
    """A service's rollout: which stages, the A/B share, and the sequential test's level and limits.

    ``margin`` and ``guardrail_margin`` are in squared dollars: the mean per-trip difference in squared error
    (champion minus challenger) a challenger must beat to be promoted, and (new champion minus old) a new
    champion must exceed to be rolled back. No stages means the offline decision promotes at once.
    """

    stages: tuple[str, ...] = ()
    ab_share: float = 0.1
    alpha: float = 0.05
    margin: float = 0.0
    min_labels: int = 200
    max_labels: int = 20_000
    max_hours: float = 72.0
    guardrail: bool = True
    guardrail_margin: float = 0.0
    guardrail_labels: int = 5_000

    def __post_init__(self) -> None:
        unknown = [stage for stage in self.stages if stage not in STAGES]
        if unknown or list(self.stages) != sorted(set(self.stages), key=STAGES.index):
            raise ValueError(f"stages must be an ordered subset of {', '.join(STAGES)}, not {','.join(self.stages)}")
        if not 0 < self.ab_share < 1:
            raise ValueError(f"ab_share must be in (0, 1), not {self.ab_share}")
        if self.max_hours <= 0:
            raise ValueError(f"max_hours must be positive, not {self.max_hours}")
        self.rule(SHADOW)  # validates alpha and the label limits, naming them
        self.rule(GUARDRAIL)

    def rule(self, stage: str) -> SequentialRule:
        """The sequential test of ``stage``: the promotion margin, or the guardrail's."""
        if stage == GUARDRAIL:
            return SequentialRule(self.alpha, self.guardrail_margin, min(self.min_labels, self.guardrail_labels),
                                  self.guardrail_labels)  # fmt: skip
        return SequentialRule(self.alpha, self.margin, self.min_labels, self.max_labels)

    def first_stage(self) -> str | None:
        """Where a challenger that passed the offline rules goes: a stage, or None to be promoted at once."""
        return self.stages[0] if self.stages else None

    def after(self, stage: str) -> str | None:
        """The stage after ``stage``, or None when the next step is champion."""
        position = self.stages.index(stage) + 1 if stage in self.stages else len(self.stages)
        return self.stages[position] if position < len(self.stages) else None


@dataclass(frozen=True)
class Stage:
    """The stage a version is in: since when, compared with which champion, and the share it answers in A/B."""

    name: str
    version: str
    against: str
    started_at: datetime
    share: float = 0.0

    def tags(self) -> dict[str, str]:
        """The version tags that carry the stage."""
        return {
            STAGE_TAG: self.name,
            AGAINST_TAG: self.against,
            STARTED_TAG: self.started_at.isoformat(),
            SHARE_TAG: repr(self.share),
        }

    @classmethod
    def from_tags(cls, version: str, tags: dict[str, str]) -> Stage | None:
        """The stage on a version's tags, or None when it is in no live stage."""
        name = tags.get(STAGE_TAG)
        if name not in LIVE_STAGES or AGAINST_TAG not in tags or STARTED_TAG not in tags:
            return None
        share = float(tags.get(SHARE_TAG) or 0.0)
        return cls(name, version, tags[AGAINST_TAG], datetime.fromisoformat(tags[STARTED_TAG]), share)


@dataclass(frozen=True)
class Step:
    """What a live verdict calls for, and why in one line."""

    action: str
    reason: str
    next_stage: str | None = None


def next_step(stage: Stage, verdict: Verdict, plan: RolloutPlan, now: datetime) -> Step:
    """The step ``verdict`` on ``stage`` calls for at ``now``.

    In shadow and A/B the differences are champion minus challenger: a confident gain over the margin advances
    the challenger (to the next stage, or champion); a confident shortfall rejects it; so do the label limit
    and the stage's maximum duration. In the guardrail they are new champion minus old: a confident loss beyond
    the margin rolls back; a confident "not worse", or the limit reached without either, clears it.
    """
    hours = (now - stage.started_at).total_seconds() / 3600
    evidence = (
        f"mean difference {verdict.mean:.3f} USD² in [{verdict.low:.3f}, {verdict.high:.3f}] at "
        f"{1 - verdict.alpha:.0%} confidence over {verdict.labels} labels, margin {verdict.margin:g}"
    )
    if stage.name == GUARDRAIL:
        if verdict.decision == PROMOTE:
            return Step(ROLLBACK_LIVE, f"new champion v{stage.against} does worse than v{stage.version}: {evidence}")
        if verdict.decision in (REJECT, TIMEOUT) or hours >= plan.max_hours:
            return Step(CLEARED, f"new champion v{stage.against} is not worse than v{stage.version}: {evidence}")
        return Step(CONTINUE, evidence)
    if verdict.decision == PROMOTE:
        following = plan.after(stage.name)
        where = f"enters {following}" if following else "becomes champion"
        return Step(ADVANCE if following else PROMOTE_LIVE, f"live {stage.name}: better, {where}: {evidence}",
                    following)  # fmt: skip
    ended = {
        REJECT: "cannot be better by the margin",
        TIMEOUT: f"no decision within {plan.max_labels} labels",
        CONTINUE: f"no decision within {plan.max_hours:g} h",
    }
    if verdict.decision != CONTINUE or hours >= plan.max_hours:
        return Step(REJECT_LIVE, f"live {stage.name}: {ended[verdict.decision]}: {evidence}")
    return Step(CONTINUE, evidence)


def boundary_ratio(verdict: Verdict) -> float:
    """The test statistic: the mean's distance from the margin over the confidence radius.

    Above 1 the lower bound has crossed the margin (promote, or roll back in the guardrail); below -1 the upper
    bound has (reject, or clear).
    """
    width = (verdict.high - verdict.low) / 2
    if not width or width != width or width == float("inf"):
        return 0.0
    return (verdict.mean - verdict.margin) / width
