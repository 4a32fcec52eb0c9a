"""The sequential test of live promotion, measured by seeded simulation: false promotions, power, labels needed.

Usage: python scripts/simulate_rollout.py [--runs 1000] [--labels 5000] [--seed 11]   (``make simulate-rollout``)

Each run is one challenger in shadow: ``labels`` trips both models scored, read one label at a time by the
platform's test (``taxi_assets/registry/sequential.py``) with its default rule (alpha, no margin, 200 labels
before any decision) and ``max_labels`` set to ``labels``. The errors are heavy-tailed (Student t, 4 degrees of
freedom, scaled to each model's RMSE) and correlated 0.8 between the two models, as two fare models miss the
same odd trips. The champion's RMSE is 3.5 USD, about the 2022 champion's on 2023 trips after retraining.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from taxi_assets.registry.sequential import CONTINUE, PROMOTE, REJECT, TIMEOUT, SequentialRule, first_decision

CHAMPION_RMSE = 3.5
# (label, challenger RMSE, alpha): equal models, better by 0.5 and 1.0 RMSE, worse by 0.5
CASES = (
    ("equal", 3.5, 0.05),
    ("equal", 3.5, 0.01),
    ("better by 0.5 RMSE", 3.0, 0.05),
    ("better by 0.5 RMSE", 3.0, 0.01),
    ("better by 1.0 RMSE", 2.5, 0.05),
    ("better by 1.0 RMSE", 2.5, 0.01),
    ("worse by 0.5 RMSE", 4.0, 0.05),
)


def paired_squared_errors(
    runs: int, labels: int, champion_rmse: float, challenger_rmse: float, seed: int
) -> np.ndarray:
    """``runs`` sequences of champion minus challenger squared error on the same trips (heavy tails, correlated)."""
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


def main(argv: Sequence[str] | None = None) -> int:
    """Print one row per case: promoted, rejected, timed out, and the labels promotions took."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1_000)
    parser.add_argument("--labels", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    print(f"{args.runs} seeded runs of {args.labels} labels each; champion RMSE {CHAMPION_RMSE} USD\n")
    print(f"{'challenger':<20} {'alpha':>5} {'promoted':>9} {'rejected':>9} {'timed out':>9} {'mean labels':>11} "
          f"{'median':>7}")  # fmt: skip
    for case, (label, challenger_rmse, alpha) in enumerate(CASES):
        rule = SequentialRule(alpha=alpha, max_labels=args.labels)
        differences = paired_squared_errors(args.runs, args.labels, CHAMPION_RMSE, challenger_rmse, args.seed + case)
        counts, labels = outcomes(differences, rule)
        mean = f"{np.mean(labels):,.0f}" if labels else "-"
        median = f"{np.median(labels):,.0f}" if labels else "-"
        print(f"{label:<20} {alpha:>5} {counts[PROMOTE]:>9,} {counts[REJECT]:>9,} "
              f"{counts[TIMEOUT] + counts[CONTINUE]:>9,} {mean:>11} {median:>7}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
