"""The policies as Dagster resources: defaults from constants, a rollout plan per service, bad settings named."""

import pytest

from taxi_assets import constants
from taxi_assets.resources import MonitoringPolicy, RetrainingPolicy, RolloutPolicy, RolloutSettings


def test_the_defaults_are_the_constants() -> None:
    retraining, monitoring = RetrainingPolicy(), MonitoringPolicy()
    assert (retraining.months, retraining.cooldown_seconds) == (
        constants.RETRAIN_MONTH_COUNT,
        constants.RETRAIN_COOLDOWN_SECONDS,
    )
    assert monitoring.windows().length.total_seconds() == constants.MONITORING_WINDOW_MINUTES * 60


def test_a_service_not_listed_is_promoted_offline_and_a_listed_one_follows_its_stages() -> None:
    policy = RolloutPolicy(services={"yellow": RolloutSettings(stages="shadow, ab", ab_share=0.2)})
    assert policy.plan("green").first_stage() is None
    yellow = policy.plan("yellow")
    assert (yellow.stages, yellow.first_stage(), yellow.ab_share) == (("shadow", "ab"), "shadow", 0.2)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        (RolloutSettings(stages="ab,shadow"), "stages must be an ordered subset"),
        (RolloutSettings(stages="canary"), "stages must be an ordered subset"),
        (RolloutSettings(stages="ab", ab_share=1.0), "ab_share must be in"),
        (RolloutSettings(stages="shadow", max_hours=0.0), "max_hours must be positive"),
    ],
)
def test_a_setting_out_of_range_fails_naming_it(settings: RolloutSettings, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        RolloutPolicy(services={"green": settings}).plan("green")
