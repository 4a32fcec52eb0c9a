"""Hostile bytes and a full disk against real two-worker servers, on SQLite and on PostgreSQL.

Every integer feature with 400 digits and every control character in text is a 4xx on every route, never a 5xx,
and each refused prediction is in the log; a journal on a disk that fills under load makes the API not ready and
503, and after space returns and the API restarts every answered 200 is in the log; the damaged journals of dead
workers ship what can be shipped and quarantine the rest with the reason.
"""

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from taxi_assets.features.columns import INTEGER_FEATURES
from taxi_assets.platform_db.prediction_log import PREDICTION_LOG, PREDICTION_LOG_QUARANTINE
from taxi_assets_tests.champions import Trained, register
from taxi_assets_tests.postgres import fresh_database, require_postgres
from taxi_assets_tests.serving.prediction_log.support import (
    SHIPPED_OF_DAMAGED,
    damaged_journals,
    logged_ids,
    quarantined,
)
from taxi_assets_tests.serving.servers import Load, registry_for, running_server, wait_ready
from taxi_assets_tests.serving.support import HEADERS, trip
from taxi_assets_tests.support import missing

CONTROL = ("\x00", "\t", "\x07", "\x1b", "\x7f")


@contextlib.contextmanager
def log_database(kind: str, home: Path) -> Iterator[str]:
    if kind == "postgres":
        require_postgres()
        with fresh_database("hostile") as url:
            yield url
    else:
        yield f"sqlite:///{home / 'log.db'}"


def log_counts(url: str) -> tuple[dict[str, int], int]:
    """Rows of the log by status, and rows in the quarantine."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        by_status = sa.select(PREDICTION_LOG.c.status, sa.func.count()).group_by(PREDICTION_LOG.c.status)
        statuses = {str(status): int(count) for status, count in connection.execute(by_status)}
        quarantined = connection.execute(sa.select(sa.func.count()).select_from(PREDICTION_LOG_QUARANTINE)).scalar()
    engine.dispose()
    return statuses, int(quarantined or 0)


def hostile_requests(base: dict[str, object]) -> Iterator[tuple[str, str]]:
    """(path, raw body): 400-digit integers in each integer feature, control characters in each text field."""
    huge = "9" * 400
    for name in INTEGER_FEATURES:
        for sign in ("", "-"):
            single = json.dumps(base | {name: 0}).replace(f'"{name}": 0', f'"{name}": {sign}{huge}')
            yield "/predict", single
            yield "/predict/batch", '{"trips": [' + single + "]}"
    yield "/feedback", '{"request_id": "abc", "actual_fare": ' + huge + "}"
    for character in CONTROL:
        yield "/predict", json.dumps(base | {"client_id": f"dispatch{character}7"})
        yield "/predict", json.dumps(base | {"pickup_borough": f"Queens{character}"})
        yield "/predict/batch", json.dumps({"trips": [base], "client_id": character})
        yield "/feedback", json.dumps({"request_id": f"id{character}", "actual_fare": 10.0})


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_no_number_and_no_control_character_is_a_5xx_on_a_real_two_worker_server(
    trained: Trained, tmp_path: Path, database: str
) -> None:
    register(registry_for(tmp_path), trained, "a")
    base = trip(trained.holdout)
    statuses: dict[int, int] = {}
    with log_database(database, tmp_path) as url:
        with running_server(tmp_path, extra_env={"TAXI_DATABASE_URL": url}, workers=2, poll_seconds=30) as api:
            wait_ready(api.base)
            with httpx.Client(base_url=api.base, headers=HEADERS | {"Content-Type": "application/json"}) as client:
                sent = list(hostile_requests(base))
                for path, body in sent:
                    response = client.post(path, content=body)
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    assert response.status_code < 500, (path, body[:120], response.text)
                    assert "Traceback" not in response.text
                assert client.post("/predict", json=base).status_code == 200  # and it still serves
        # the server has stopped: every worker's journal is shipped
        by_status, quarantined_rows = log_counts(url)
    assert set(statuses) == {422}, statuses
    refused_predictions = sum(1 for path, _ in sent if path != "/feedback")
    assert by_status == {"rejected": refused_predictions, "ok": 1}
    assert quarantined_rows == 0


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A small filesystem mounted at ``path`` (mounting needs root, as CI has)."""
    if os.geteuid() != 0:
        missing("root, to mount a small tmpfs", "run the tests as root")
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(folder: Path) -> Path:
    """Write a file until the disk is full."""
    filler = folder / "filler"
    handle = os.open(filler, os.O_CREAT | os.O_WRONLY)
    with contextlib.suppress(OSError):
        while True:
            os.write(handle, b"f" * 65536)
    with contextlib.suppress(OSError):
        while True:
            os.write(handle, b"f")
    os.close(handle)
    return filler


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_a_journal_disk_filled_under_load_loses_no_answered_row_across_a_restart(
    trained: Trained, tmp_path: Path, database: str
) -> None:
    register(registry_for(tmp_path), trained, "a")
    with log_database(database, tmp_path) as url, tmpfs(tmp_path / "serving" / "journal", "2m") as journal:
        env = {"TAXI_DATABASE_URL": url}
        with running_server(tmp_path, extra_env=env, workers=2, poll_seconds=30) as api:
            wait_ready(api.base)
            with Load(api.base, trip(trained.holdout), clients=6) as load:
                assert load.wait_for(500, timeout=60)
                filler = fill(journal)
                time.sleep(2.0)
                full = httpx.get(f"{api.base}/readyz", timeout=10)
                refused_while_full = load.statuses.get(503, 0)
                filler.unlink()  # space returns
                time.sleep(2.0)
            answered_first = list(load.answered)
        with running_server(tmp_path, extra_env=env, workers=2, poll_seconds=30) as api:  # the restart
            wait_ready(api.base)
            with Load(api.base, trip(trained.holdout), clients=2) as again:
                assert again.wait_for(50, timeout=60)
            answered = answered_first + list(again.answered)
        engine = sa.create_engine(url)
        with engine.connect() as connection:
            logged = set(
                connection.execute(
                    sa.select(PREDICTION_LOG.c.request_id).where(PREDICTION_LOG.c.status == "ok")
                ).scalars()
            )
        engine.dispose()
    assert full.status_code == 503, full.text
    assert "the journal cannot be written" in full.json()["detail"]
    assert refused_while_full > 0  # answered 503, never 200 without a record
    assert set(load.statuses) <= {200, 503}, load.statuses
    missing_rows = set(answered) - logged
    assert not missing_rows, f"{len(missing_rows)} of {len(answered)} answered 200s are not in the log"


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_corrupted_journals_left_by_dead_workers_lose_nothing_silently_on_a_real_server(
    trained: Trained, tmp_path: Path, database: str
) -> None:
    """A restarted two-worker API finds the damaged folders of dead workers: each record ships or is quarantined."""
    register(registry_for(tmp_path), trained, "a")
    journal = tmp_path / "serving" / "journal"
    folders = damaged_journals(journal)
    with log_database(database, tmp_path) as url:
        with running_server(tmp_path, extra_env={"TAXI_DATABASE_URL": url}, workers=2, poll_seconds=30) as api:
            wait_ready(api.base)
            deadline = time.monotonic() + 60
            while any(folder.exists() for folder in folders) and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1.5)  # each worker carries its counts into the shared metrics once a second
            metrics = httpx.get(f"{api.base}/metrics").text
        counts = {tag: len(logged_ids(url, tag)) for tag in SHIPPED_OF_DAMAGED}
        reasons = sorted(str(row["reason"]).split(" (")[0].split(":")[0] for row in quarantined(url))
    assert not any(folder.exists() for folder in folders)
    assert counts == SHIPPED_OF_DAMAGED
    assert reasons == [
        "a journal folder without its lock file",
        "a journal record of 5242884 bytes, over a read's 4194304",
        "an impossible journal position",
        "an unreadable journal record",
    ]
    assert "taxi_api_log_rows_quarantined_total 4.0" in metrics, [
        line for line in metrics.splitlines() if "log_" in line and not line.startswith("#")
    ]
