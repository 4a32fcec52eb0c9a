"""What the demo says when the daemon does not do what it waits for, and how it knows without a deadline."""

import time

import dagster as dg
import pytest
from dagster._core.remote_origin import InProcessCodeLocationOrigin, RemoteInstigatorOrigin, RemoteRepositoryOrigin
from dagster._core.scheduler.instigation import InstigatorState, InstigatorStatus, InstigatorType, TickData, TickStatus
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._daemon.types import DaemonHeartbeat

from taxi_tools.instance_watch import (
    DAEMON_SILENT_SECONDS,
    daemon_silence,
    first_reason,
    instance_activity,
    ticked_past,
    wait_for,
)
from taxi_tools.runner import CommandFailedError


@dg.asset
def one() -> int:
    return 1


def test_a_wait_ends_with_the_reason_and_what_the_instance_was_doing() -> None:
    with dg.instance_for_test() as instance:
        result = dg.materialize([one], instance=instance)
        with pytest.raises(CommandFailedError) as failed:
            wait_for(
                "nothing",
                lambda: [],
                lambda: "the daemon stopped",
                every=0.0,
                explain=lambda: instance_activity(instance, ("x",)),
            )
    message = str(failed.value)
    assert message.startswith("gave up on nothing after 0 s: the daemon stopped\nnewest runs:")
    assert f"{result.run_id[:8]} __ephemeral_asset_job__ [] SUCCESS (by hand)" in message
    assert message.endswith("sensor x: never ticked")


def test_a_wait_has_no_deadline_while_nothing_says_it_is_over() -> None:
    polls = iter([None, None, None, None, "found"])
    reasons: list[str | None] = []

    def stopped() -> str | None:
        reasons.append(None)
        return None

    assert wait_for("something", lambda: next(polls), stopped, every=0.0) == "found"
    assert len(reasons) == 4
    with pytest.raises(CommandFailedError, match=r"^gave up on nothing after 0 s: second$"):
        wait_for("nothing", lambda: None, first_reason(lambda: None, lambda: "second", lambda: "third"), every=0.0)


def test_a_daemon_without_a_recent_heartbeat_is_named() -> None:
    with dg.instance_for_test() as instance:
        assert "has sent no heartbeat for inf s" in str(daemon_silence(instance))
        now = time.time()
        for daemon in instance.get_required_daemon_types():
            instance.add_daemon_heartbeat(DaemonHeartbeat(now, daemon, "d", None))
        assert daemon_silence(instance) is None
        instance.add_daemon_heartbeat(DaemonHeartbeat(now - DAEMON_SILENT_SECONDS - 5, "SENSOR", "d", None))
        assert str(daemon_silence(instance)).startswith("the daemon's SENSOR has sent no heartbeat for 30")


def test_a_sensor_that_ticked_past_the_moment_without_acting_is_reported_with_its_last_tick() -> None:
    with dg.instance_for_test() as instance:
        assert ticked_past(instance, "retrain", time.time()) is None  # never ticked: it has not had its chance
        code = InProcessCodeLocationOrigin(LoadableTargetOrigin(module_name="taxi_assets.definitions"))
        origin = RemoteInstigatorOrigin(RemoteRepositoryOrigin(code, "__repository__"), "retrain")
        state = instance.add_instigator_state(InstigatorState(origin, InstigatorType.SENSOR, InstigatorStatus.RUNNING))
        moment = time.time()

        def tick(at: float, reason: str) -> None:
            instance.create_tick(
                TickData(
                    instigator_origin_id=state.instigator_origin_id,
                    instigator_name="retrain",
                    instigator_type=InstigatorType.SENSOR,
                    status=TickStatus.SKIPPED,
                    timestamp=at,
                    selector_id=state.selector_id,
                    skip_reason=reason,
                )
            )

        tick(moment - 30, "before the moment")
        tick(moment + 30, "cooling down")
        tick(moment + 60, "cooling down")
        assert ticked_past(instance, "retrain", moment) is None  # two ticks since: it may still act
        tick(moment + 90, "service green cools down until 12:00")
        assert ticked_past(instance, "retrain", moment) == (
            "retrain ticked 3 times since then without launching it (last tick: service green cools down until 12:00)"
        )
