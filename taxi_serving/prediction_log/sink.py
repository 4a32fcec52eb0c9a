"""The prediction log writer: journal first, database next, and nothing lost in between.

``submit`` appends the row to this worker's journal (``journal.py``) before the handler answers. A background
thread ships journal records to ``prediction_log`` in batches, in order, and saves how far it got. A record the
database refuses (a constraint, a type) is found by halving the batch and moved to ``prediction_log_quarantine``
with the reason: the healthy rows of its batch arrive, nothing queues behind it. While the database is down,
records wait in the journal. A worker that died leaves its folder, which another worker (or its replacement)
adopts and ships. Shipping is idempotent: ``request_id`` is unique, and feedback only fills an empty fare.
Feedback that could not reach the database is journaled the same way (``deferred``). The database side is ``store``.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from pathlib import Path

import msgspec

from taxi_assets.platform_db.prediction_log import LogRow
from taxi_serving.prediction_log.alerts import SinkAlerts
from taxi_serving.prediction_log.deferred import DeferredFeedback, now_text
from taxi_serving.prediction_log.journal import Chunk, JournalFolder, Position, adopted, import_spill_files, orphans
from taxi_serving.prediction_log.store import (
    LogStore,
    LogStoreDownError,
    LogStoreMisconfiguredError,
    RecordRefusedError,
    SinkCounters,
    sorted_records,
)
from taxi_serving.prediction_log.writer import JournalWriter

log = logging.getLogger("taxi_serving.prediction_log.sink")


class PredictionLogSink:
    """Journal every record, ship the journal to the database, quarantine what the database refuses."""

    def __init__(
        self,
        url: str,
        journal_dir: Path,
        batch_size: int = 500,
        flush_seconds: float = 0.5,
        replay_seconds: float = 5.0,
        fsync_seconds: float = 1.0,
        service: str | None = None,
        feedback_wait_seconds: float = 3600.0,
        durable: bool = True,
    ) -> None:
        self.url = url
        # the TLC service of this API: stamped on every row that does not name one, adopted rows included
        self.service = service
        self.store = LogStore(url)
        self.journal_dir = journal_dir
        self.writer = JournalWriter(journal_dir, fsync_seconds=fsync_seconds, durable=durable)
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.replay_seconds = replay_seconds
        self.counters = SinkCounters()
        self.quarantine_reasons: collections.Counter[str] = collections.Counter()
        self._shipped_own = 0
        self._round = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prediction-log-writer", daemon=True)
        self._encoder = msgspec.json.Encoder()
        self.alerts = SinkAlerts(url, service)
        self.deferred = DeferredFeedback(
            self.writer.folder.path, self._feedback_outcome, self.quarantine, feedback_wait_seconds
        )

    # -- the request path ---------------------------------------------------------------------------------------

    def submit(self, row: LogRow) -> None:
        """Append a row to the journal (one write; raises JournalUnavailableError if the disk refuses it)."""
        self.writer.append(self._encoder.encode(row))

    def submit_feedback(self, request_id: str, actual_fare: float) -> None:
        """Journal a ground-truth fare whose database update failed; it is applied when the database answers."""
        record = {"feedback": request_id, "actual_fare": actual_fare, "at": now_text()}
        self.writer.append(self._encoder.encode(record))
        self.counters.feedback_journaled += 1

    def record_feedback(self, request_id: str, actual_fare: float) -> tuple[str, float | None]:
        """Join a ground-truth fare to its logged prediction: ("ok" | "missing" | "conflict", prediction).

        Raises LogStoreDownError when the database does not answer.
        """
        try:
            return self.store.record_feedback(request_id, actual_fare)
        except LogStoreDownError:
            self.counters.database_ok = False
            raise

    def _feedback_outcome(self, request_id: str, actual_fare: float) -> str:
        return self.record_feedback(request_id, actual_fare)[0]

    @property
    def backlog(self) -> int:
        """Records this worker journaled that are not in the database yet."""
        # the writer counts a record just after writing it, so the shipper may have read it a moment before
        return max(0, self.writer.appended - self._shipped_own)

    # -- lifecycle ----------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Open this worker's journal, migrate the database if it answers, and start shipping."""
        self.writer.open()
        moved = import_spill_files(self.journal_dir.parent / "spill", self.journal_dir)
        if moved:
            log.info("%d spill file(s) of the previous release moved into the journal", moved)
        try:
            self.store.ensure_schema()
        except LogStoreDownError as exc:
            self.counters.database_ok = False
            log.error("prediction log database unavailable at start-up, rows wait in the journal: %s", exc)
        self._thread.start()

    def flush(self, timeout: float = 10.0) -> bool:
        """Ship now; True once everything this worker journaled is in the database (False on timeout or outage)."""
        deadline = time.monotonic() + timeout
        target = self._round + 2  # a whole round that started after this call
        while time.monotonic() < deadline:
            self._wake.set()
            if self.backlog == 0:
                return True
            if self._round >= target and not self.counters.database_ok:
                return False
            time.sleep(0.002)
        return self.backlog == 0

    def stop(self) -> None:
        """Ship what the database takes, stop the writer, and leave the rest for the next worker to adopt."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self.writer.close()
        self.alerts.close()
        if self.backlog == 0 and not self.deferred.waiting():
            self.writer.folder.remove()
        else:
            log.warning("%d prediction log record(s) left in the journal for the next worker", self.backlog)
        self.store.dispose()

    def _run(self) -> None:
        last_replay = 0.0
        while True:
            stopping = self._stop.is_set()
            if not stopping:
                self._wake.wait(self.flush_seconds)
                self._wake.clear()
            try:
                self._ship_own()
                self.writer.maintain()
                if stopping or time.monotonic() - last_replay >= self.replay_seconds:
                    last_replay = time.monotonic()
                    self._adopt_orphans()
                    self.counters.feedback_applied += self.deferred.retry()
                    self.alerts.send_due()
            except Exception:
                # a bug here must not stop the writer (every later record would wait): say so, try again
                self.counters.write_failures += 1
                log.exception("unexpected prediction log writer error; the records stay in the journal")
            self._round += 1
            if stopping:
                return

    # -- shipping -----------------------------------------------------------------------------------------------

    def _ship_own(self) -> None:
        self.writer.drain()
        self._shipped_own += self._ship_folder(self.writer.folder, owner_alive=True)[0]

    def _adopt_orphans(self) -> None:
        """Ship and remove the folders of workers that are gone (a restart's predecessor, a killed process)."""
        for path in orphans(self.journal_dir, self.writer.worker):
            with adopted(path) as folder:
                if folder is None:
                    continue
                shipped, done = self._ship_folder(folder, owner_alive=False)
                self.counters.adopted += shipped
                if shipped:
                    log.info("shipped %d prediction log record(s) left by %s", shipped, path.name)
                if not done:
                    continue  # the next folder may ship: one that cannot never holds the others back
                self.deferred.take(folder)
                folder.remove()

    def _ship_folder(self, folder: JournalFolder, owner_alive: bool) -> tuple[int, bool]:
        """Ship every complete record of ``folder``: (records shipped, whether it got to the end)."""
        position, shipped = folder.committed(), 0
        while self._quarantine_damage(folder):
            chunk = folder.read(position, owner_alive)
            if chunk.resume is not None:  # a record no API worker writes (noted as damage): ship on after it
                folder.commit(position := chunk.resume)
                continue
            stored = self._ship_records(folder, chunk)
            shipped += stored
            if stored < len(chunk.records):
                return shipped, False
            if stored:
                position = chunk.position_after(stored)
                continue
            if not chunk.finished:
                return shipped, True
            if not self._finish_segment(folder, chunk):
                return shipped, False
            if chunk.next_segment is None:
                return shipped, True
            position = Position(chunk.next_segment, 0)
        return shipped, False

    def _ship_records(self, folder: JournalFolder, chunk: Chunk) -> int:
        """Ship a chunk's records in batches, save the position once after them; how many were stored.

        Saving is a file write and a rename: saved late, it only makes a restart ship some records again (idempotent).
        """
        stored = 0
        for start in range(0, len(chunk.records), self.batch_size):
            if not self._ship(chunk.records[start : start + self.batch_size]):
                break
            stored = min(start + self.batch_size, len(chunk.records))
        if stored:
            folder.commit(chunk.position_after(stored))
        return stored

    def _quarantine_damage(self, folder: JournalFolder) -> bool:
        """Quarantine what the folder found impossible (a position, a record, a lock); False if the store is down."""
        while folder.damage:
            try:
                self.quarantine(*folder.damage[0])
            except LogStoreDownError:
                return False
            folder.damage.pop(0)
        return True

    def _finish_segment(self, folder: JournalFolder, chunk: Chunk) -> bool:
        """Quarantine a torn last record, move past the segment and delete it."""
        if chunk.torn:
            try:
                self.quarantine(chunk.torn, "an incomplete journal record (the machine stopped mid-write)")
            except LogStoreDownError:
                return False
        if chunk.next_segment is not None:
            folder.commit(Position(chunk.next_segment, 0))
            folder.segment_path(chunk.start.segment).unlink(missing_ok=True)
        return True

    def _ship(self, records: list[bytes]) -> bool:
        """Store one batch of journal records; False (nothing committed) when the database is down."""
        rows, feedback, unreadable = sorted_records(records, self.service)
        try:
            for record in unreadable:
                self.quarantine(record, "an unreadable journal record")
            self._store(rows)
            for item in feedback:
                self.counters.feedback_applied += self.deferred.apply(item)
        except LogStoreDownError as exc:
            if isinstance(exc, LogStoreMisconfiguredError):  # an operator's mistake: alert, never quarantine
                self.counters.store_problem = str(exc)
                self.alerts.refusing(str(exc))
            elif self.counters.database_ok:
                log.warning("prediction log database down (%s); records wait in the journal", exc)
            self.counters.write_failures += 1
            self.counters.database_ok = False
            return False
        self.counters.database_ok, self.counters.store_problem = True, None
        self.alerts.refusing(None)
        return True

    def _store(self, rows: list[LogRow]) -> None:
        """Insert ``rows``; halve a refused batch until the refused rows are alone, and quarantine those."""
        if not rows:
            return
        try:
            self.store.insert(rows)
        except RecordRefusedError as exc:
            if len(rows) == 1:
                self.quarantine(self._encoder.encode(rows[0]), str(exc))
                return
            middle = len(rows) // 2
            self._store(rows[:middle])
            self._store(rows[middle:])
            return
        self.counters.written += len(rows)

    def quarantine(self, record: bytes, reason: str) -> None:
        """Keep a refused record with its reason (raises LogStoreDownError if even that cannot be stored)."""
        request_id = self.store.quarantine(record, reason, self.service)
        self.counters.quarantined += 1
        kind = reason.split(":", 1)[0]
        self.quarantine_reasons[kind] += 1
        self.alerts.quarantined(kind)
        log.warning("prediction log record %s quarantined: %s", request_id, reason)
