"""The retraining sensor's cursor: per service, the newest evaluation handled and the last launch, kept in JSON."""

from taxi_assets import constants
from taxi_assets.retraining.cursor import SensorCursor


def test_a_new_cursor_has_handled_nothing() -> None:
    cursor = SensorCursor.parse(None)
    assert [cursor.last_id(service) for service in constants.SERVICES] == [0] * len(constants.SERVICES)
    assert cursor.oldest_handled() == 0


def test_services_move_on_apart_and_read_back_from_json() -> None:
    cursor = SensorCursor.parse(None)
    cursor.handled("green", 42, 1_000.0)
    cursor.handled("yellow", 17, 900.0)
    again = SensorCursor.parse(cursor.dumps())
    assert (again.last_id("green"), again.last_launch("green")) == (42, 1_000.0)
    assert (again.last_id("yellow"), again.last_launch("yellow")) == (17, 900.0)
    assert again.oldest_handled() == 17  # the service furthest behind says where reading starts


def test_a_launch_never_moves_back() -> None:
    cursor = SensorCursor.parse(None)
    cursor.handled("green", 5, 2_000.0)
    cursor.handled("green", 6, 1_500.0)  # acknowledged inside the cooldown, counted from an older launch
    assert (cursor.last_id("green"), cursor.last_launch("green")) == (6, 2_000.0)


def test_a_cursor_from_before_services_were_kept_apart_applies_to_every_service() -> None:
    legacy = SensorCursor.parse('{"last_id": 30, "last_launch": 123.0}')
    assert {legacy.last_id(service) for service in constants.SERVICES} == {30}
    assert {legacy.last_launch(service) for service in constants.SERVICES} == {123.0}
