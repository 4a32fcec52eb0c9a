"""Rollout plans, stage tags and the step each live verdict calls for: pure, with known answers."""

from datetime import UTC, datetime, timedelta

import pytest

from taxi_assets.registry.rollout import (
    AB,
    ADVANCE,
    CLEARED,
    CONTINUE,
    GUARDRAIL,
    PROMOTE_LIVE,
    REJECT_LIVE,
    ROLLBACK_LIVE,
    SHADOW,
    RolloutPlan,
    Stage,
    boundary_ratio,
    next_step,
)
from taxi_assets.registry.sequential import CONTINUE as TEST_CONTINUES
from taxi_assets.registry.sequential import PROMOTE, REJECT, TIMEOUT, Verdict

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def verdict(decision: str, mean: float = 1.0, low: float = 0.5, high: float = 1.5) -> Verdict:
    return Verdict(decision, 400, mean, low, high, 0.0, 0.05)


def test_a_plan_names_what_is_wrong_with_it() -> None:
    assert RolloutPlan().first_stage() is None
    plan = RolloutPlan(stages=(SHADOW, AB))
    assert (plan.first_stage(), plan.after(SHADOW), plan.after(AB)) == (SHADOW, AB, None)
    assert RolloutPlan(stages=(AB,)).first_stage() == AB
    with pytest.raises(ValueError, match="ordered subset of shadow, ab, not ab,shadow"):
        RolloutPlan(stages=(AB, SHADOW))
    with pytest.raises(ValueError, match="not canary"):
        RolloutPlan(stages=("canary",))
    with pytest.raises(ValueError, match="ab_share must be in"):
        RolloutPlan(ab_share=1.0)
    with pytest.raises(ValueError, match="alpha must be in"):
        RolloutPlan(alpha=0.0)
    with pytest.raises(ValueError, match="min_labels <= max_labels"):
        RolloutPlan(min_labels=500, max_labels=100)
    # the guardrail's own limit, and its margin
    rule = RolloutPlan(guardrail_labels=300, guardrail_margin=2.0).rule(GUARDRAIL)
    assert (rule.max_labels, rule.min_labels, rule.margin) == (300, 200, 2.0)


def test_a_stage_survives_its_tags_and_only_live_stages_are_read() -> None:
    stage = Stage(AB, "4", "3", NOW, 0.25)
    assert Stage.from_tags("4", stage.tags()) == stage
    assert Stage.from_tags("4", stage.tags() | {"rollout.stage": "ended"}) is None
    assert Stage.from_tags("4", {}) is None


@pytest.mark.parametrize(
    ("stage", "stages", "decision", "hours", "expected"),
    [
        (SHADOW, (SHADOW,), PROMOTE, 1, PROMOTE_LIVE),
        (SHADOW, (SHADOW, AB), PROMOTE, 1, ADVANCE),
        (AB, (SHADOW, AB), PROMOTE, 1, PROMOTE_LIVE),
        (SHADOW, (SHADOW,), REJECT, 1, REJECT_LIVE),
        (SHADOW, (SHADOW,), TIMEOUT, 1, REJECT_LIVE),
        (SHADOW, (SHADOW,), TEST_CONTINUES, 1, CONTINUE),
        (SHADOW, (SHADOW,), TEST_CONTINUES, 80, REJECT_LIVE),
        (GUARDRAIL, (), PROMOTE, 1, ROLLBACK_LIVE),
        (GUARDRAIL, (), REJECT, 1, CLEARED),
        (GUARDRAIL, (), TIMEOUT, 1, CLEARED),
        (GUARDRAIL, (), TEST_CONTINUES, 1, CONTINUE),
        (GUARDRAIL, (), TEST_CONTINUES, 80, CLEARED),
    ],
)
def test_each_verdict_leads_to_its_step(
    stage: str, stages: tuple[str, ...], decision: str, hours: int, expected: str
) -> None:
    plan = RolloutPlan(stages=stages, max_hours=72)
    step = next_step(Stage(stage, "2", "1", NOW - timedelta(hours=hours)), verdict(decision), plan, NOW)
    assert step.action == expected
    assert "over 400 labels" in step.reason
    assert step.next_stage == (AB if expected == ADVANCE else None)


def test_the_statistic_crosses_one_where_the_bound_crosses_the_margin() -> None:
    assert boundary_ratio(verdict(PROMOTE, mean=1.0, low=0.5, high=1.5)) == pytest.approx(2.0)
    assert boundary_ratio(verdict(TEST_CONTINUES, mean=0.4, low=-0.1, high=0.9)) == pytest.approx(0.8)
    assert boundary_ratio(verdict(REJECT, mean=-2.0, low=-3.0, high=-1.0)) == pytest.approx(-2.0)
    assert boundary_ratio(Verdict(TEST_CONTINUES, 0, float("nan"), float("-inf"), float("inf"), 0.0, 0.05)) == 0.0
