"""``/predict`` of this checkout beside another release's, on the same champion, in alternating rounds.

Usage: python scripts/bench_serve_pair.py OTHER_CHECKOUT [--other-home DIR] [--rounds 3]
(``make bench-serve-pair AGAINST=../previous``; prepare the other release with ``git worktree add ../previous <tag>``)

A difference between two releases of a few percent is smaller than this machine's drift over a few minutes, so
the two are never measured minutes apart: each round starts the other checkout's API, then this one's (the order
alternates between rounds), each a fresh server with ``BENCH_WORKERS`` workers and a SQLite log of its own, under
the same wrk load as ``make bench-serve``'s (b). Both run in this environment, on the champion of ``TAXI_HOME``
(``make demo`` first). A release whose code cannot load today's champion serves one trained by its own code from
the same months and seed: ``--other-home`` (``OTHER_HOME=``) names that data home (``make train TAXI_HOME=...`` in
the other checkout).

Printed per round: requests per second and the servers' CPU microseconds per request; then the means and this
checkout's ratio to the other (above 1: this one serves more, or spends less CPU a request).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench_serve import HOME, TRIP, api_server, measured

THIS = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Measured:
    """One server's run: requests per second and CPU microseconds per request."""

    code: str
    rate: float
    cpu_us: float


def run(code: Path, label: str, work: Path, home: Path | None = None) -> Measured:
    """A fresh server of ``code`` on the champion of ``home`` (``TAXI_HOME``), under wrk on /predict."""
    database = work / f"log-{label}-{len(list(work.glob('log-*.db')))}.db"
    with api_server(f"sqlite:///{database}", work, code=code, home=home) as running:
        result, cpu_us = measured(running, "/predict", "POST", TRIP, work)
    if result.non_2xx or result.socket_errors:
        raise RuntimeError(f"{label}: {result.non_2xx} non-2xx answers and {result.socket_errors} socket errors")
    return Measured(label, result.rate, cpu_us)


def rounds(other: Path, count: int, work: Path, other_home: Path | None = None) -> list[tuple[Measured, Measured]]:
    """(other, this) per round, the order of the two alternating; printed as they come."""
    found = []
    homes = {"other": other_home, "this": None}
    for number in range(count):
        order = [("other", other), ("this", THIS)]
        if number % 2:
            order.reverse()
        pair = {label: run(code, label, work, homes[label]) for label, code in order}
        found.append((pair["other"], pair["this"]))
        for label, _ in order:
            side = pair[label]
            print(f"round {number + 1}: {label:<6}{side.rate:>10,.0f} req/s{side.cpu_us:>8.0f} us CPU a request")
    return found


def summary(found: list[tuple[Measured, Measured]]) -> tuple[float, float]:
    """This checkout's ratios to the other: requests per second, and the other's CPU a request over this one's."""
    other_rate = statistics.mean(pair[0].rate for pair in found)
    this_rate = statistics.mean(pair[1].rate for pair in found)
    other_cpu = statistics.mean(pair[0].cpu_us for pair in found)
    this_cpu = statistics.mean(pair[1].cpu_us for pair in found)
    print(f"\nmeans over {len(found)} rounds: other {other_rate:,.0f} req/s, {other_cpu:.0f} us a request; ", end="")
    print(f"this {this_rate:,.0f} req/s, {this_cpu:.0f} us a request")
    rate_ratio, cpu_ratio = this_rate / other_rate, other_cpu / this_cpu
    print(f"this checkout against the other: {rate_ratio:.2f}x the requests per second, {cpu_ratio:.2f}x less CPU")
    return rate_ratio, cpu_ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, help="a checkout of the release to compare with")
    parser.add_argument("--other-home", type=Path, help="the data home whose champion the other checkout serves")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    other = args.other.resolve()
    if not (other / "taxi_serving" / "__main__.py").exists():
        parser.error(f"{other} is not a checkout of this project (no taxi_serving/__main__.py)")
    other_home = args.other_home.resolve() if args.other_home else None
    print(f"/predict side by side: other {other} on {other_home or HOME}, this {THIS} on {HOME}\n")
    with tempfile.TemporaryDirectory() as temp:
        summary(rounds(other, args.rounds, Path(temp), other_home))
    return 0


if __name__ == "__main__":
    sys.exit(main())
