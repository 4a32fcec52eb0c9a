"""Journal folders and log rows for the prediction log's tests: what a worker writes, damaged as the probes found."""

from pathlib import Path
from typing import Final

import msgspec
import sqlalchemy as sa

from taxi_assets.platform_db.prediction_log import PREDICTION_LOG, PREDICTION_LOG_QUARANTINE
from taxi_serving.service import log_row


def rows(count: int, tag: str) -> list[dict[str, object]]:
    return [
        log_row(
            request_id=f"{tag}-{i}",
            endpoint="/predict",
            status="ok",
            status_code=200,
            features={"trip_distance": 1.0 + i, "pickup_borough": "Queens"},
            arm="champion",
            model_version="1",
            prediction=10.0 + i,
            latency_ms=0.1,
        )
        for i in range(count)
    ]


def logged_ids(url: str, tag: str) -> set[str]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        found = connection.execute(
            sa.select(PREDICTION_LOG.c.request_id).where(PREDICTION_LOG.c.request_id.like(f"{tag}-%"))
        ).scalars()
        ids = set(found)
    engine.dispose()
    return ids


def quarantined(url: str) -> list[dict[str, object]]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        found = [dict(row) for row in connection.execute(sa.select(PREDICTION_LOG_QUARANTINE)).mappings()]
    engine.dispose()
    return found


def orphan_folder(journal: Path, name: str, segment: bytes, lock: bool = True) -> Path:
    """A dead worker's folder as it left it: a lock file (unless ``lock`` is False) and one segment."""
    folder = journal / name
    folder.mkdir(parents=True)
    if lock:
        (folder / "lock").touch()
    (folder / "000001.jsonl").write_bytes(segment)
    return folder


def encoded(count: int, tag: str) -> bytes:
    return b"".join(msgspec.json.encode(row) + b"\n" for row in rows(count, tag))


# the records of ``damaged_journals`` that ship, by tag, and the reasons of the four quarantined
SHIPPED_OF_DAMAGED: Final = {"pastend": 300, "before": 150, "after": 150, "nolock": 300, "shape1": 100, "shape2": 199,
                             "healthy": 300}  # fmt: skip


def damaged_journals(journal: Path) -> list[Path]:
    """The dead workers' folders the probes found damaged, and one healthy folder."""
    past_end = orphan_folder(journal, "past-end", encoded(300, "pastend"))
    (past_end / "committed").write_text(f"1 {len(encoded(300, 'pastend')) + 5_000}\n")
    huge = b'["' + b"x" * (5 << 20) + b'"]\n'
    long_line = orphan_folder(journal, "long-line", encoded(150, "before") + huge + encoded(150, "after"))
    unlocked = orphan_folder(journal, "otherhost-12345-deadbeef", encoded(300, "nolock"), lock=False)
    wrong_shape = orphan_folder(
        journal, "wrong-shape", encoded(100, "shape1") + b'["short", 1]\n' + encoded(199, "shape2")
    )
    healthy = orphan_folder(journal, "healthy", encoded(300, "healthy"))
    return [past_end, long_line, unlocked, wrong_shape, healthy]
