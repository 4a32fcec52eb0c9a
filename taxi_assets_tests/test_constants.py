"""The defaults every process shares: the services, and the one rule that names a valid one."""

import pytest

from taxi_assets import constants


def test_a_known_service_passes_and_an_unknown_one_is_named_with_the_valid_ones() -> None:
    assert [constants.known_service(service) for service in constants.SERVICES] == ["green", "yellow"]
    with pytest.raises(ValueError, match="unknown TLC service 'fhv': one of green, yellow"):
        constants.known_service("fhv")


def test_the_first_month_is_the_oldest_of_any_service() -> None:
    assert constants.FIRST_MONTH == "2009-01"
    assert set(constants.SERVICE_FIRST_MONTH) == set(constants.SERVICES)
