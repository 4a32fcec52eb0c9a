"""Feedback that arrived before its prediction reached the database: deferred in the worker's folder, retried.

A fare posted to ``/feedback`` while the database was down is journaled; shipped, it may still find no
prediction to join (the prediction may wait in another worker's journal). Such feedback waits in
``deferred.jsonl`` in this worker's journal folder and is tried again each round; what waits longer than
``feedback_wait_seconds`` is quarantined with its reason.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import msgspec

from taxi_serving.prediction_log.journal import JournalFolder
from taxi_serving.prediction_log.store import LogStoreDownError

log = logging.getLogger("taxi_serving.prediction_log.sink")
DEFERRED: Final = "deferred.jsonl"
# joins a fare to its prediction: "ok", "missing" (no such prediction yet) or "conflict" (a fare already there)
RecordFeedback = Callable[[str, float], str]
# moves a record the log cannot take to the quarantine, with the reason
Quarantine = Callable[[bytes, str], None]


class DeferredFeedback:
    """Journaled feedback whose prediction has not reached the database yet: kept in this worker's folder.

    Each round tries it again; what waited longer than ``wait_seconds`` is quarantined. The file is replaced in
    one step by what still waits (only the writer thread writes it), so it never goes missing: a process killed
    in the middle leaves the whole file, and applying again is idempotent.
    """

    def __init__(self, folder: Path, record: RecordFeedback, quarantine: Quarantine, wait_seconds: float) -> None:
        self.path = folder / DEFERRED
        self.record = record
        self.quarantine = quarantine
        self.wait_seconds = wait_seconds
        self._encoder = msgspec.json.Encoder()

    def waiting(self) -> bool:
        """Whether any feedback still waits for its prediction."""
        return self.path.exists() and self.path.stat().st_size > 0

    def apply(self, item: dict[str, Any]) -> bool:
        """Apply one journaled feedback record, deferring it when its prediction is not in the database yet.

        True when its fare was joined now.
        """
        request_id, fare = item.get("feedback"), item.get("actual_fare")
        if not isinstance(request_id, str) or isinstance(fare, bool) or not isinstance(fare, int | float):
            self.quarantine(self._encoder.encode(item), "a feedback record without request_id or fare")
            return False
        outcome = self.record(request_id, float(fare))
        if outcome == "missing":
            with self.path.open("ab") as handle:
                handle.write(self._encoder.encode(item) + b"\n")
                handle.flush()
        elif outcome != "ok":
            log.info("journaled feedback for %s found a fare already recorded; the first one stands", request_id)
        return outcome == "ok"

    def retry(self) -> int:
        """Apply deferred feedback whose prediction has arrived; quarantine what waited too long.

        Returns how many fares were joined. While the database is down the file stays as it is.
        """
        if not self.waiting():
            return 0
        still: list[dict[str, Any]] = []
        applied = 0
        try:
            for line in self.path.read_bytes().splitlines():
                item = msgspec.json.decode(line)
                outcome = self.record(item["feedback"], float(item["actual_fare"]))
                if outcome == "ok":
                    applied += 1
                elif outcome == "missing":
                    if _age_seconds(item.get("at")) > self.wait_seconds:
                        self.quarantine(line, "feedback whose prediction never reached the log")
                    else:
                        still.append(item)
        except LogStoreDownError:
            return 0  # the file stays as it is: every item is tried again
        replacement = self.path.with_suffix(".next")
        with replacement.open("wb") as handle:
            handle.write(b"".join(self._encoder.encode(item) + b"\n" for item in still))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(replacement, self.path)
        return applied

    def take(self, folder: JournalFolder) -> None:
        """An adopted folder's deferred feedback becomes this worker's."""
        path = folder.path / DEFERRED
        if path.exists() and path.stat().st_size:
            with self.path.open("ab") as handle:
                handle.write(path.read_bytes())


def now_text() -> str:
    """The time a feedback record is journaled, as ``_age_seconds`` reads it back."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00:00")


def _age_seconds(text: object) -> float:
    try:
        return (datetime.now(UTC) - datetime.fromisoformat(str(text))).total_seconds()
    except ValueError:
        return float("inf")
