"""What "Why and for whom" reads: a logged fare explained by its version, the newest segment gate, a card's words."""

import pandas as pd
import pytest
import sqlalchemy as sa

from taxi_assets.model.versions import ModelRegistry
from taxi_assets.platform_db.prediction_log import PREDICTION_LOG
from taxi_assets_tests.dashboard.support import Home
from taxi_dashboard import tables
from taxi_dashboard.why import ExplainedFare, card_body, contribution_table, explain_logged, segment_comparison


def tracking(home: Home) -> str:
    return f"sqlite:///{home.path / 'mlflow' / 'mlflow.db'}"


def first(home: Home, status: str) -> tuple[str, float | None]:
    engine = sa.create_engine(home.url)
    with engine.connect() as connection:
        found = connection.execute(
            sa.select(PREDICTION_LOG.c.request_id, PREDICTION_LOG.c.prediction).where(PREDICTION_LOG.c.status == status)
        ).first()
    engine.dispose()
    assert found is not None
    return str(found[0]), found[1]


def test_a_logged_fare_is_explained_by_its_version_and_adds_up(home: Home) -> None:
    request_id, fare = first(home, "ok")
    found = explain_logged(home.url, tracking(home), "green", request_id)
    assert isinstance(found, ExplainedFare)
    assert (found.version, found.fare) == (home.version, fare)
    total = found.why.base_fare + sum(found.why.contributions.values()) + found.why.floor_adjustment
    assert total == pytest.approx(fare, abs=1e-6)
    table = contribution_table(found)
    assert table["added $"].abs().is_monotonic_decreasing
    assert set(table["feature"]) == set(found.trip)


def test_unknown_and_refused_requests_are_said_in_words(home: Home) -> None:
    assert (
        explain_logged(home.url, tracking(home), "green", "nope") == "No logged prediction has the request id 'nope'."
    )
    refused, _ = first(home, "rejected")
    said = explain_logged(home.url, tracking(home), "green", refused)
    assert said == f"Request {refused!r} was refused: no fare was returned to explain."


def test_the_newest_gated_decision_is_compared_and_live_ones_are_passed_over(home: Home) -> None:
    decisions = tables.decisions(home.url, "green")
    found = segment_comparison(decisions)
    assert found is not None
    decision, table = found
    assert decision["challenger_version"] == home.promoted
    assert {"trips", "champion error $", "challenger error $", "95 % low", "blocked"} <= set(table.columns)
    live = pd.DataFrame([{"id": 99, "rules": {"segments": {"pickup_borough": {}}, "live": {}}}])
    assert segment_comparison(live) is None
    assert segment_comparison(pd.DataFrame()) is None


def test_a_cards_words_come_without_its_front_matter(home: Home) -> None:
    card = ModelRegistry(tracking(home)).card("taxi-fare-green", home.promoted)
    assert card is not None
    body = card_body(card)
    assert body.startswith(f"# taxi-fare-green version {home.promoted}")
    assert "version: " not in body.split("\n", 1)[0]
    assert card_body("# plain") == "# plain"
