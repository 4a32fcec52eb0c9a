"""Replay trips through the running API: ``/predict`` at a set rate, then ``/feedback`` as each trip completes.

Time is compressed: with ``compression`` 120, one wall-clock second stands for two minutes of the trips' time,
so a 15-minute trip's true fare is posted 7.5 s after its prediction (plus ``feedback_delay_minutes``, also in
trip time: the lag of the fare system). Requests go out on schedule from one asyncio loop with a bounded number
in flight; a slow API lowers the achieved rate, which the summary reports. With a ``deadline``, a request not yet
sent by then is skipped and counted, so a replay meant for one monitoring window cannot spill into the next.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
import numpy as np
import pandas as pd

from taxi_assets.features.columns import FEATURES, TARGET
from taxi_tools.replay.scenarios import INVALID

MAX_IN_FLIGHT: Final = 32
REQUEST_TIMEOUT_SECONDS: Final = 10.0
# a true fare is posted up to this many times while the answer is transient (no answer, or one of TRANSIENT)
FEEDBACK_TRIES: Final = 4
TRANSIENT: Final = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class ReplayConfig:
    """Where to send, how fast, and how late the true fares arrive."""

    base_url: str
    api_key: str
    rate: float = 200.0
    compression: float = 120.0
    feedback_delay_minutes: float = 2.0
    clients: int = 100
    # epoch seconds after which no request is sent (the rest are skipped and counted); None sends every trip
    deadline: float | None = None


@dataclass
class ReplaySummary:
    """What happened: requests by outcome, feedback by outcome, and the rates achieved."""

    sent: int = 0
    # trips not sent because the deadline had passed
    skipped: int = 0
    status: Counter[int] = field(default_factory=Counter)
    feedback_ok: int = 0
    feedback_failed: int = 0
    # every true fare that never reached /feedback, by reason (its prediction refused, or the post itself)
    not_posted: Counter[str] = field(default_factory=Counter)
    transport_errors: int = 0
    model_versions: Counter[str] = field(default_factory=Counter)
    # from the first request to the last answer, and to the last true fare
    seconds: float = 0.0
    total_seconds: float = 0.0
    # when the last request was answered, in epoch seconds
    finished_requests: float = float("nan")
    mean_abs_error: float = float("nan")

    @property
    def rate(self) -> float:
        """Requests per wall-clock second achieved."""
        return self.sent / self.seconds if self.seconds else float("nan")

    def lines(self) -> list[str]:
        """The summary as printable lines."""
        codes = ", ".join(f"{code}: {count:,}" for code, count in sorted(self.status.items()))
        versions = ", ".join(f"v{version}: {count:,}" for version, count in sorted(self.model_versions.items()))
        return [
            f"requests sent: {self.sent:,} in {self.seconds:.1f} s ({self.rate:,.0f}/s); by status: {codes}"
            + (f"; {self.skipped:,} skipped at the deadline" if self.skipped else ""),
            f"served by: {versions or 'none'}; transport errors: {self.transport_errors}",
            f"true fares posted to /feedback: {self.feedback_ok:,} (failed: {self.feedback_failed}); "
            f"the last {self.total_seconds - self.seconds:.1f} s after the last request",
            f"mean |prediction - true fare|: {self.mean_abs_error:.2f} USD",
        ] + [f"true fares not posted: {count:,} ({reason})" for reason, count in self.not_posted.most_common()]


def refusal(response: httpx.Response) -> str:
    """A refused request in a few words: the status and the fields it named, or its error code."""
    try:
        body = response.json()
    except ValueError:
        return str(response.status_code)
    fields = sorted({str(item.get("field")) for item in body.get("fields") or [] if isinstance(item, dict)})
    if fields:
        return f"{response.status_code} on {', '.join(fields)}"
    return f"{response.status_code} {body.get('error', '')}".strip()


def trip_payload(row: dict[str, Any]) -> dict[str, Any]:
    """The JSON body for one trip: its features, or the broken payload a bad-request scenario put in."""
    body = {name: _plain(row[name]) for name in FEATURES}
    broken = row.get(INVALID)
    if isinstance(broken, dict):
        for name, value in broken.items():
            if value is None:
                body.pop(name, None)
            else:
                body[name] = value
    return body


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


class _Replay:
    """One replay in flight: the requests sent on schedule, the feedback due, the tasks still running."""

    def __init__(self, client: httpx.AsyncClient, config: ReplayConfig) -> None:
        self.client = client
        self.config = config
        self.summary = ReplaySummary()
        self.errors: list[float] = []
        self.pending: list[tuple[float, int, str, float]] = []  # (due, order, request_id, fare), a heap
        self.gate = asyncio.Semaphore(MAX_IN_FLIGHT)
        self.tasks: set[asyncio.Task[None]] = set()
        self.requests: set[asyncio.Task[None]] = set()
        self.last_answer = float("nan")

    def past_deadline(self) -> bool:
        return self.config.deadline is not None and time.time() >= self.config.deadline

    async def predict(self, index: int, row: dict[str, Any]) -> None:
        """Ask for one fare in the slot the sender took for it; when served, schedule its true fare."""
        body = trip_payload(row) | {"client_id": f"replay-{index % self.config.clients}"}
        self.summary.sent += 1
        try:
            response = await self.client.post("/predict", json=body)
        except httpx.TransportError as error:
            self.summary.transport_errors += 1
            self.summary.not_posted[f"no prediction: {type(error).__name__}"] += 1
            return
        finally:
            self.last_answer = time.monotonic()
            self.gate.release()
        self.summary.status[response.status_code] += 1
        if response.status_code != 200:
            self.summary.not_posted[f"no prediction: {refusal(response)}"] += 1
            return
        answer = response.json()
        self.summary.model_versions[str(answer["model_version"])] += 1
        self.errors.append(abs(float(answer["fare"]) - float(row[TARGET])))
        trip_minutes = float(row["trip_duration_minutes"]) + self.config.feedback_delay_minutes
        due = time.monotonic() + trip_minutes * 60.0 / self.config.compression
        heapq.heappush(self.pending, (due, index, str(answer["request_id"]), float(row[TARGET])))

    async def feedback(self, request_id: str, fare: float) -> None:
        """Post one true fare; a transient failure (no answer, 503) is tried again, up to ``FEEDBACK_TRIES``."""
        reason = ""
        for attempt in range(FEEDBACK_TRIES):
            if attempt:
                await asyncio.sleep(0.2 * 2**attempt)
            async with self.gate:
                try:
                    response = await self.client.post("/feedback", json={"request_id": request_id, "actual_fare": fare})
                except httpx.TransportError as error:
                    reason = type(error).__name__
                    continue
            if response.status_code == 200:
                self.summary.feedback_ok += 1
                return
            reason = refusal(response)
            if response.status_code not in TRANSIENT:
                break
        self.summary.feedback_failed += 1
        self.summary.not_posted[f"feedback: {reason}"] += 1

    def spawn(self, coroutine: Any) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def post_due_feedback(self) -> None:
        now = time.monotonic()
        while self.pending and self.pending[0][0] <= now:
            _, _, request_id, fare = heapq.heappop(self.pending)
            self.spawn(self.feedback(request_id, fare))

    async def run(self, records: list[dict[str, Any]]) -> ReplaySummary:
        """Send every record at the configured rate (until the deadline), then wait for the last true fare.

        The sender takes a slot before each request, after the true fares already due: a slow API lowers the
        rate of requests, never delays the fares behind a queue of requests.
        """
        started = time.monotonic()
        for index, row in enumerate(records):
            delay = started + index / self.config.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self.post_due_feedback()
            await self.gate.acquire()
            if self.past_deadline():
                self.gate.release()
                self.summary.skipped += len(records) - index
                break
            request = self.spawn(self.predict(index, row))
            self.requests.add(request)
            request.add_done_callback(self.requests.discard)
        while self.requests:
            self.post_due_feedback()
            await asyncio.sleep(0.01)
        answered = self.last_answer if self.summary.sent else time.monotonic()
        self.summary.seconds = answered - started
        self.summary.finished_requests = time.time() - (time.monotonic() - answered)
        while self.tasks or self.pending:
            self.post_due_feedback()
            wait = min(0.05, max(0.0, self.pending[0][0] - time.monotonic())) if self.pending else 0.01
            await asyncio.sleep(wait)
        self.summary.total_seconds = time.monotonic() - started
        self.summary.mean_abs_error = float(np.mean(self.errors)) if self.errors else float("nan")
        return self.summary


async def replay(trips: pd.DataFrame, config: ReplayConfig) -> ReplaySummary:
    """Send every trip (in order, at ``config.rate``), then post each served trip's true fare when it completes."""
    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT)
    records: list[dict[str, Any]] = [{str(k): v for k, v in r.items()} for r in trips.to_dict("records")]
    async with httpx.AsyncClient(
        base_url=config.base_url,
        headers={"X-API-Key": config.api_key},
        limits=limits,
        timeout=REQUEST_TIMEOUT_SECONDS,
    ) as client:
        return await _Replay(client, config).run(records)


def run_replay(trips: pd.DataFrame, config: ReplayConfig) -> ReplaySummary:
    """Synchronous entry point (a fresh event loop)."""
    return asyncio.run(replay(trips, config))


def replay_trips(features: pd.DataFrame, rows: int | None, seed: int) -> pd.DataFrame:
    """A seeded sample of a month's trips (all when ``rows`` is None or larger), in pickup order."""
    sample = features if rows is None or rows >= len(features) else features.sample(n=rows, random_state=seed)
    return sample.sort_values("pickup_datetime", kind="stable").reset_index(drop=True)
