import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from taxi_assets.registry.decisions import DecisionRecord, DecisionStore
from taxi_assets_tests.postgres import require_postgres

POSTGRES_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def postgres_or_skip() -> str:
    require_postgres()
    return POSTGRES_URL


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[DecisionStore, str]]:
    url = f"sqlite:///{tmp_path / 'platform.db'}" if request.param == "sqlite" else postgres_or_skip()
    decisions = DecisionStore(url)
    # a service name of our own keeps runs on a shared database apart
    yield decisions, f"svc-{uuid.uuid4().hex[:8]}"
    decisions.dispose()


def test_decisions_round_trip_with_their_evidence(store: tuple[DecisionStore, str]) -> None:
    decisions, service = store
    first = DecisionRecord(
        service=service,
        model_name=f"taxi-fare-{service}",
        action="promote",
        reason="no champion yet",
        challenger_version="1",
        champion_version=None,
        new_champion_version="1",
        rules={"checks_passed": {"passed": True}},
        challenger_metrics={"rmse": 3.57, "p99_ms": 0.009},
        dagster_run_id="run-1",
    )
    second = DecisionRecord(
        service=service,
        model_name=f"taxi-fare-{service}",
        action="reject",
        reason="RMSE improvement 0.000 < required 0.5",
        challenger_version="2",
        champion_version="1",
        new_champion_version="1",
        rules={"rmse_improvement": {"passed": False, "value": 0.0, "threshold": 0.5}},
        challenger_metrics={"rmse": 3.57},
        champion_metrics={"rmse": 3.57},
        dagster_run_id="run-2",
    )
    ids = [decisions.record(first), decisions.record(second)]
    assert ids[1] > ids[0]
    history = decisions.history(service)
    assert [record.action for record in history] == ["promote", "reject"]
    assert history[1].rules["rmse_improvement"]["threshold"] == 0.5
    assert history[1].champion_metrics == {"rmse": 3.57}
    assert history[0].champion_version is None
    assert history[0].dagster_run_id == "run-1"
    assert history[0].decided_at is not None


def test_table_creation_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'platform.db'}"
    DecisionStore(url).dispose()
    again = DecisionStore(url)
    assert again.history("green") == []
    again.dispose()
