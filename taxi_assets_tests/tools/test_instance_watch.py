"""What the demo says when the daemon does not do what it waits for."""

import dagster as dg
import pytest

from taxi_tools.instance_watch import instance_activity, wait_for
from taxi_tools.runner import CommandFailedError


@dg.asset
def one() -> int:
    return 1


def test_a_timeout_ends_with_what_the_instance_was_doing() -> None:
    with dg.instance_for_test() as instance:
        result = dg.materialize([one], instance=instance)
        with pytest.raises(CommandFailedError) as failed:
            wait_for("nothing", lambda: [], timeout=0.0, every=0.0, explain=lambda: instance_activity(instance, ("x",)))
    message = str(failed.value)
    assert message.startswith("waited 0 s for nothing\nnewest runs:")
    assert f"{result.run_id[:8]} __ephemeral_asset_job__ [] SUCCESS (by hand)" in message
    assert message.endswith("sensor x: never ticked")


def test_without_an_explanation_a_timeout_is_one_line() -> None:
    with pytest.raises(CommandFailedError, match=r"^waited 0 s for nothing$"):
        wait_for("nothing", lambda: None, timeout=0.0, every=0.0)
