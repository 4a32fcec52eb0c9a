"""Nothing answered is lost: workers killed with SIGKILL mid-load, PostgreSQL cut off mid-load, on real servers.

Each test runs uvicorn with several workers on a real champion, a load of concurrent clients, and counts at
the end: every request answered 200 has its row in ``prediction_log``, once.
"""

import os
import signal
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from taxi_assets.platform_db.prediction_log import PREDICTION_LOG, PREDICTION_LOG_QUARANTINE
from taxi_assets_tests.champions import Trained, register
from taxi_assets_tests.postgres import POSTGRES, TcpProxy, api_role_database, as_owner, fresh_database, require_postgres
from taxi_assets_tests.serving.servers import Load, registry_for, running_server, wait_ready
from taxi_assets_tests.serving.support import trip


def logged(url: str) -> tuple[set[str], int]:
    """The request ids of the served rows, and the number of rows (to see duplicates)."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        ids = connection.execute(
            sa.select(PREDICTION_LOG.c.request_id).where(PREDICTION_LOG.c.status == "ok")
        ).scalars()
        found = list(ids)
    engine.dispose()
    return set(found), len(found)


def wait_logged(url: str, answered: list[str], seconds: float = 90) -> set[str]:
    deadline = time.monotonic() + seconds
    while True:
        ids, _ = logged(url)
        if set(answered) <= ids or time.monotonic() > deadline:
            return ids
        time.sleep(0.5)


def journal_records(home: Path) -> int:
    """Records still in journal segments (0 once every worker's journal has been shipped and removed)."""
    root = home / "serving" / "journal"
    return sum(len(path.read_bytes().splitlines()) for path in root.glob("*/*.jsonl") if path.name[0].isdigit())


# each database once, and both worker counts once (the four pairs took a minute more of CI for no new failure mode)
@pytest.mark.parametrize(("database", "workers"), [("sqlite", 2), ("postgres", 4)])
def test_kill_9_of_every_worker_mid_load_loses_no_answered_row(
    trained: Trained, tmp_path: Path, database: str, workers: int
) -> None:
    if database == "postgres":
        require_postgres()
    register(registry_for(tmp_path), trained, "a")
    with fresh_database("kill") if database == "postgres" else _sqlite(tmp_path) as url:
        env = {"TAXI_DATABASE_URL": url}
        with running_server(tmp_path, extra_env=env, workers=workers, poll_seconds=30) as api:
            wait_ready(api.base)
            with Load(api.base, trip(trained.holdout)) as load:
                for _ in range(3):
                    time.sleep(1.5)
                    killed = api.workers()
                    assert len(killed) == workers
                    for pid in killed:
                        os.kill(pid, signal.SIGKILL)
                    # uvicorn starts replacements; they adopt the dead workers' journals
                    deadline = time.monotonic() + 60
                    while (set(api.workers()) & set(killed) or len(api.workers()) < workers) and (
                        time.monotonic() < deadline
                    ):
                        time.sleep(0.2)
                    wait_ready(api.base)
                time.sleep(1.0)
            answered = load.answered
            ids = wait_logged(url, answered)
        _, rows = logged(url)
    assert len(answered) > 300, load.statuses
    lost = set(answered) - ids
    assert not lost, f"{len(lost)} of {len(answered)} answered requests are not in the log"
    assert rows == len(ids)  # no duplicates
    # rows logged beyond the answers: requests in flight when their worker died (logged, never answered)
    assert len(ids) - len(answered) <= 3 * workers * load.clients
    assert journal_records(tmp_path) == 0


@pytest.mark.parametrize("workers", [4])
def test_postgres_cut_for_10_seconds_mid_load_five_times_loses_and_duplicates_nothing(
    trained: Trained, tmp_path: Path, workers: int
) -> None:
    require_postgres()
    register(registry_for(tmp_path), trained, "a")
    proxy = TcpProxy(POSTGRES)
    try:
        with fresh_database("outage") as direct:
            through_proxy = direct.replace(":5432/", f":{proxy.port}/")
            env = {"TAXI_DATABASE_URL": through_proxy}
            with running_server(tmp_path, extra_env=env, workers=workers, poll_seconds=30) as api:
                wait_ready(api.base)
                with Load(api.base, trip(trained.holdout)) as load:
                    for _ in range(5):
                        time.sleep(1.5)
                        proxy.cut()
                        time.sleep(10)
                        during = len(load.answered)
                        proxy.restore()
                        time.sleep(1.5)
                answered = load.answered
                ids = wait_logged(direct, answered)
            # the server has stopped: every journal shipped and removed
            final, rows = logged(direct)
        assert journal_records(tmp_path) == 0
    finally:
        proxy.close()
    assert during > 0  # the API kept answering through the outage
    assert set(answered) <= ids
    assert final == set(answered)  # a clean stop: nothing logged that was not answered
    assert rows == len(answered)  # no duplicates
    assert load.statuses.get(500, 0) == 0


class _sqlite:  # noqa: N801 - used like fresh_database
    def __init__(self, home: Path) -> None:
        self.url = f"sqlite:///{home / 'platform.db'}"

    def __enter__(self) -> str:
        return self.url

    def __exit__(self, *exc: object) -> None:
        return None


def test_insert_revoked_under_load_then_granted_back_quarantines_nothing_and_loses_nothing(
    trained: Trained, tmp_path: Path
) -> None:
    """An operator's mistake on a real two-worker server: rows wait, /readyz says why, nothing is quarantined."""
    require_postgres()
    register(registry_for(tmp_path), trained, "a")
    with api_role_database("revoked") as database:
        env = {"TAXI_DATABASE_URL": database.url}
        with running_server(tmp_path, extra_env=env, workers=2, poll_seconds=30) as api:
            wait_ready(api.base)
            with Load(api.base, trip(trained.holdout), clients=4) as load:
                assert load.wait_for(200, timeout=60)
                as_owner(database.owner_url, f"REVOKE INSERT ON prediction_log FROM {database.role}")
                during = len(load.answered)
                time.sleep(4.0)
                readiness = [httpx.get(f"{api.base}/readyz", timeout=10).json() for _ in range(4)]
                answered_while_revoked = len(load.answered) - during
                as_owner(database.owner_url, f"GRANT INSERT ON prediction_log TO {database.role}")
                time.sleep(2.0)
            answered = load.answered
            ids = wait_logged(database.owner_url, answered)
        _, rows = logged(database.owner_url)
        engine = sa.create_engine(database.owner_url)
        with engine.connect() as connection:
            quarantined = connection.execute(sa.select(sa.func.count()).select_from(PREDICTION_LOG_QUARANTINE)).scalar()
        engine.dispose()
    assert answered_while_revoked > 50  # the API kept answering, each answer journaled
    refusing = [state for state in readiness if not state["ready"]]
    assert refusing, readiness
    assert all("refuses this API's rows (InsufficientPrivilege" in state["detail"] for state in refusing)
    assert quarantined == 0
    assert set(answered) <= ids
    assert rows == len(ids)
