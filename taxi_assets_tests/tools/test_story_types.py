"""The story's result: the latency between two steps of its timeline, and NaN for a step that did not happen."""

import math

from taxi_tools.story_types import StoryOptions, StoryResult


def test_latency_is_the_time_between_two_steps_and_nan_when_one_is_missing() -> None:
    story = StoryResult(times={"check_failed": 100.0, "retrain_requested": 105.5})
    assert story.latency("check_failed", "retrain_requested") == 5.5
    assert math.isnan(story.latency("check_failed", "swapped"))
    assert math.isnan(story.latency("never", "retrain_requested"))


def test_the_options_keep_the_story_off_the_month_it_replays() -> None:
    options = StoryOptions("green", ("2022-01",), "2022-03", "2023-01", 10, 10, 1.0, 600.0)
    # retraining on one month, the newest, which is after the replayed one: the replay is never its holdout
    assert (options.retrain_months, options.window_minutes, options.seed) == (1, 1, 0)
