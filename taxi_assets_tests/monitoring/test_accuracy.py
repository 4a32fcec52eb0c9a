"""Calibrated accuracy: thresholds from the holdout's own errors at the window's label count."""

import numpy as np
import pandas as pd
import pytest

from taxi_assets.model.holdout import ERROR
from taxi_assets.monitoring.accuracy import STATISTICS, AccuracyRule, HoldoutCalibration, make_statistic


def heavy_tailed_holdout(rows: int, seed: int = 0) -> pd.DataFrame:
    """Errors like a fare model's: mostly a dollar or two, a few negotiated fares off by hundreds."""
    rng = np.random.default_rng(seed)
    errors = rng.standard_t(df=3, size=rows) * 1.5
    tail = rng.random(rows) < 0.002
    errors[tail] = -rng.uniform(150, 300, size=int(tail.sum()))
    boroughs = rng.choice(["Manhattan", "Queens", "Brooklyn"], size=rows, p=[0.5, 0.3, 0.2])
    return pd.DataFrame({ERROR: errors, "pickup_borough": boroughs, "payment_type": rng.choice([1.0, 2.0], rows)})


def test_statistics_match_their_definitions() -> None:
    errors = np.array([-3.0, 1.0, 2.0, -4.0])
    assert make_statistic("mae", errors).of(errors) == pytest.approx(2.5)
    assert make_statistic("rmse", errors).of(errors) == pytest.approx(np.sqrt(30 / 4))
    assert make_statistic("abs_bias", errors).of(errors) == pytest.approx(1.0)
    huber = make_statistic("huber", errors)  # delta is the holdout's 90th percentile of |error|: 3.7
    assert huber.of(np.array([1.0])) == pytest.approx(0.5)
    assert huber.of(np.array([10.0])) == pytest.approx(3.7 * (10 - 1.85))
    winsorised = make_statistic("winsorised_rmse", errors)
    assert winsorised.of(np.array([100.0])) == pytest.approx(np.quantile(np.abs(errors), 0.99))
    assert np.isnan(make_statistic("mae", errors).of(np.array([])))
    with pytest.raises(ValueError, match="unknown accuracy statistic 'mape'"):
        make_statistic("mape", errors)


@pytest.mark.parametrize("statistic", STATISTICS)
def test_windows_drawn_from_the_holdout_fail_at_the_stated_rate(statistic: str) -> None:
    holdout = heavy_tailed_holdout(20_000)
    rule = AccuracyRule(statistic, alpha=0.05, min_effect=0.0, min_relative_effect=0.0, min_labels=300)
    calibration = HoldoutCalibration(holdout, rule)
    rng = np.random.default_rng(99)
    errors = holdout[ERROR].to_numpy()
    failed = [calibration.verdict(rng.choice(errors, 300), rule.alpha).degraded for _ in range(1_000)]
    # binomial(1000, 0.05): 50 expected, 99.9 % of draws between 29 and 74
    assert 29 <= sum(failed) <= 74


@pytest.mark.slow
def test_the_threshold_narrows_as_labels_grow_and_never_goes_below_the_material_effect() -> None:
    rule = AccuracyRule(min_effect=0.25, min_relative_effect=0.1)
    calibration = HoldoutCalibration(heavy_tailed_holdout(20_000), rule)
    baseline = calibration.baseline()  # about 1.94: 10 % of it is less than 0.25
    limits = [calibration.noise_limit(n, 0.01) for n in (100, 500, 5_000, 20_000, 20_001)]
    assert limits == sorted(limits, reverse=True)
    # the bootstrap at 20,000 labels and its 1/sqrt(n) extrapolation just above agree: the switch leaves no step
    assert limits[-1] - baseline == pytest.approx(limits[-2] - baseline, rel=1e-3)
    assert calibration.noise_limit(80_000, 0.01) - baseline == pytest.approx((limits[-2] - baseline) / 2)
    verdict = calibration.verdict(np.full(50_000, baseline + 0.2), 0.01)
    assert verdict.threshold == pytest.approx(baseline + 0.25)
    assert not verdict.degraded  # significant, but not material
    relative = HoldoutCalibration(calibration.holdout, AccuracyRule(min_effect=0.25, min_relative_effect=0.5))
    assert relative.verdict(np.full(50_000, baseline + 0.5), 0.01).threshold == pytest.approx(1.5 * baseline)


def test_one_negotiated_fare_does_not_flip_a_window_that_a_fare_increase_does() -> None:
    holdout = heavy_tailed_holdout(20_000)
    calibration = HoldoutCalibration(holdout, AccuracyRule())
    rng = np.random.default_rng(5)
    calm = rng.choice(holdout[ERROR].to_numpy()[np.abs(holdout[ERROR].to_numpy()) < 50], 500)
    calm[0] = -290.0  # a $330 negotiated fare predicted at $40
    assert not calibration.verdict(calm, 0.01).degraded
    raised = calm - 3.9  # the model under-predicts by the fare increase's bias
    verdict = calibration.verdict(raised, 0.01)
    assert verdict.degraded
    assert verdict.effect_low > 0 < verdict.effect < verdict.effect_high


def test_segments_are_judged_at_the_bonferroni_level_and_a_worse_segment_is_named() -> None:
    holdout = heavy_tailed_holdout(30_000)
    calibration = HoldoutCalibration(holdout, AccuracyRule(min_segment_labels=100))
    rng = np.random.default_rng(8)
    window = holdout.sample(n=3_000, random_state=1).reset_index(drop=True)
    errors = window[ERROR].to_numpy().copy()
    queens = window["pickup_borough"].to_numpy() == "Queens"
    errors[queens] -= 4.0 + rng.random(int(queens.sum()))
    judgement = calibration.judge(errors, {s: window[s].to_numpy() for s in ("pickup_borough", "payment_type")})
    tested = {(s.segment, s.value) for s in judgement.segments}
    assert tested == {("pickup_borough", b) for b in ("Manhattan", "Queens", "Brooklyn")} | {
        ("payment_type", "1"),
        ("payment_type", "2"),
    }
    assert all(s.verdict.alpha == pytest.approx(0.01 / 5) for s in judgement.segments)
    assert "pickup_borough=Queens" in judgement.degraded_segments()
    assert "pickup_borough=Manhattan" not in judgement.degraded_segments()


def test_thresholds_are_seeded_and_an_empty_holdout_is_refused() -> None:
    holdout = heavy_tailed_holdout(5_000)
    first = HoldoutCalibration(holdout, AccuracyRule()).noise_limit(700, 0.01)
    assert HoldoutCalibration(holdout, AccuracyRule()).noise_limit(700, 0.01) == first
    assert HoldoutCalibration(holdout, AccuracyRule(seed=12)).noise_limit(700, 0.01) != first
    with pytest.raises(ValueError, match="no errors"):
        HoldoutCalibration(holdout.head(0), AccuracyRule())


def test_a_window_a_few_labels_short_of_the_minimum_is_judged_on_what_it_has() -> None:
    holdout = heavy_tailed_holdout(5_000)
    rule = AccuracyRule(min_labels=500, label_tolerance=0.02)
    assert rule.labels_needed == 490
    calibration = HoldoutCalibration(holdout, rule)
    errors = holdout[ERROR].to_numpy()
    assert calibration.judge(errors[:490], {}).judged
    assert not calibration.judge(errors[:489], {}).judged
    # the noise limit is the one of the labels the window has, not of the minimum
    assert calibration.judge(errors[:490], {}).overall.labels == 490
    assert AccuracyRule(min_labels=500, label_tolerance=0.0).labels_needed == 500
