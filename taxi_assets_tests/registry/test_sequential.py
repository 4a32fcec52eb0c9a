"""The sequential test: known answers, and its error rate and power measured by seeded simulation."""

import itertools
import sys

import numpy as np
import pytest

from taxi_assets.registry.sequential import (
    CONTINUE,
    PROMOTE,
    REJECT,
    TIMEOUT,
    Evidence,
    SequentialRule,
    first_decision,
    judge,
    radius,
)
from taxi_assets_tests.support import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "scripts"))
from simulate_rollout import main, outcomes, paired_squared_errors

RUNS = 1_000
LABELS = 5_000


def test_equal_models_are_promoted_at_most_at_the_configured_rate_over_a_thousand_seeded_runs() -> None:
    for alpha in (0.05, 0.01):
        rule = SequentialRule(alpha=alpha, max_labels=LABELS)
        counts, _ = outcomes(paired_squared_errors(RUNS, LABELS, 3.5, 3.5, seed=11), rule)
        assert counts[PROMOTE] / RUNS <= alpha, counts
        assert counts[PROMOTE] + counts[REJECT] + counts[TIMEOUT] == RUNS


def test_a_challenger_only_as_good_as_the_margin_is_not_promoted_more_often_than_alpha() -> None:
    # better by exactly the margin: the boundary case of the null hypothesis
    margin = 3.5**2 - 3.4**2
    rule = SequentialRule(alpha=0.05, margin=margin, max_labels=LABELS)
    counts, _ = outcomes(paired_squared_errors(RUNS, LABELS, 3.5, 3.4, seed=12), rule)
    assert counts[PROMOTE] / RUNS <= 0.05, counts


@pytest.mark.parametrize(("better_by", "power", "most_labels"), [(0.5, 0.95, 1_500), (1.0, 0.99, 600)])
def test_a_better_challenger_is_promoted_and_a_bigger_gain_takes_fewer_labels(
    better_by: float, power: float, most_labels: int
) -> None:
    rule = SequentialRule(alpha=0.05, max_labels=LABELS)
    counts, labels = outcomes(paired_squared_errors(RUNS, LABELS, 3.5, 3.5 - better_by, seed=13), rule)
    assert counts[PROMOTE] / RUNS >= power, counts
    assert counts[REJECT] == 0
    assert np.mean(labels) <= most_labels
    assert min(labels) >= rule.min_labels


def test_a_worse_challenger_is_rejected_and_never_promoted() -> None:
    rule = SequentialRule(alpha=0.05, max_labels=LABELS)
    counts, _ = outcomes(paired_squared_errors(RUNS // 4, LABELS, 3.0, 3.5, seed=14), rule)
    assert counts[PROMOTE] == 0
    assert counts[REJECT] / (RUNS // 4) >= 0.99


def test_judging_running_sums_after_each_batch_decides_as_walking_the_sequence() -> None:
    rule = SequentialRule(alpha=0.05, min_labels=50, max_labels=3_000)
    (run,) = paired_squared_errors(1, 3_000, 3.5, 3.0, seed=15)
    walked = first_decision(run, rule)
    evidence = Evidence()
    for label in range(3_000):
        evidence = evidence.add(run[label : label + 1])
        verdict = judge(evidence, rule)
        if verdict.decision != CONTINUE:
            break
    assert (verdict.decision, verdict.labels) == (walked.decision, walked.labels)
    assert verdict.low == pytest.approx(walked.low)
    assert verdict.high == pytest.approx(walked.high)


def test_known_answers() -> None:
    rule = SequentialRule(alpha=0.05, tuned_for=100, min_labels=2, max_labels=10)
    # n = 100, variance 4, rho = 1/100: radius = 2 * sqrt(2 * 2 / (100**2 / 100) * ln(sqrt(2) / 0.05))
    assert float(radius(100, 4.0, rule)) == pytest.approx(2 * np.sqrt(0.04 * np.log(np.sqrt(2) / 0.05)))
    # the radius shrinks with labels, and grows as alpha falls
    assert radius(1_000, 4.0, rule) < radius(100, 4.0, rule)
    assert radius(100, 4.0, SequentialRule(alpha=0.01, tuned_for=100)) > radius(100, 4.0, rule)
    evidence = Evidence().add(np.array([1.0, 3.0, np.nan]))
    assert (evidence.labels, evidence.mean, evidence.variance) == (2, 2.0, 2.0)
    assert judge(Evidence(), rule).decision == CONTINUE
    assert first_decision(np.zeros(10), rule).decision in (REJECT, TIMEOUT)
    assert first_decision(np.array([]), rule).decision == CONTINUE
    with pytest.raises(ValueError, match="alpha"):
        SequentialRule(alpha=1.5)
    with pytest.raises(ValueError, match="min_labels"):
        SequentialRule(min_labels=10, max_labels=5)


def test_the_simulation_script_prints_a_row_per_case(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--runs", "20", "--labels", "1500"]) == 0
    printed = capsys.readouterr().out
    assert "20 seeded runs of 1500 labels each" in printed
    rows = [line.split() for line in printed.splitlines() if line.startswith(("equal", "better", "worse"))]
    assert len(rows) == 7
    # a challenger better by 1.0 RMSE is promoted in every run; a worse one never
    better = next(row for row in rows if row[:4] == ["better", "by", "1.0", "RMSE"] and row[4] == "0.05")
    assert better[5] == "20"
    assert next(row for row in rows if row[0] == "worse")[5] == "0"


def test_the_test_looks_at_its_minimum_then_each_quarter_more_and_at_its_maximum() -> None:
    rule = SequentialRule(min_labels=200, max_labels=1_000)
    assert rule.look(0) is None
    assert rule.look(199) is None
    assert [rule.look(n) for n in (200, 249, 250, 312, 313, 999, 1_000, 5_000)] == [
        200, 200, 250, 250, 313, 959, 1_000, 1_000,
    ]  # fmt: skip
    looks = sorted({rule.look(n) for n in range(200, 1_001)} - {None})
    # from 200 to 1,000 labels: 9 looks instead of one a minute, none more than a quarter after the last
    assert len(looks) == 9
    assert all(later <= earlier * 1.25 + 1 for earlier, later in itertools.pairwise(looks))
