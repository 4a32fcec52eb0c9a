"""The sequential test: known answers, and its error rate and power measured by seeded simulation."""

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

RUNS = 1_000
LABELS = 5_000


def paired_squared_errors(
    runs: int, labels: int, champion_rmse: float, challenger_rmse: float, seed: int
) -> np.ndarray:
    """``runs`` sequences of champion minus challenger squared error on the same trips.

    The errors are heavy-tailed (Student t, 4 degrees of freedom, scaled to the RMSE) and correlated (0.8), as two
    fare models' errors on the same trips are: both miss the same odd trips.
    """
    rng = np.random.default_rng(seed)
    unit = np.sqrt(2.0)  # the standard deviation of t with 4 degrees of freedom
    shared = rng.standard_t(4, (runs, labels)) / unit
    own = rng.standard_t(4, (2, runs, labels)) / unit
    champion = champion_rmse * (0.8 * shared + 0.6 * own[0])
    challenger = challenger_rmse * (0.8 * shared + 0.6 * own[1])
    return np.square(champion) - np.square(challenger)


def outcomes(differences: np.ndarray, rule: SequentialRule) -> tuple[dict[str, int], list[int]]:
    """How many runs ended in each decision, and the labels each promotion took."""
    counts = {PROMOTE: 0, REJECT: 0, TIMEOUT: 0, CONTINUE: 0}
    labels = []
    for run in differences:
        verdict = first_decision(run, rule)
        counts[verdict.decision] += 1
        if verdict.decision == PROMOTE:
            labels.append(verdict.labels)
    return counts, labels


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
