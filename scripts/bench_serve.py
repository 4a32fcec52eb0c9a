"""Load benchmark of the API: real servers on 127.0.0.1 under wrk, bounded runs.

Usage: python scripts/bench_serve.py   (``make bench-serve``; needs a champion: run ``make demo`` first, and wrk)

Rows, each a fresh server (uvicorn, ``BENCH_WORKERS`` workers, default 2) under ``wrk`` (2 threads, 32
connections, ``BENCH_SECONDS`` seconds, default 10):

  (a) a Litestar hello-world endpoint (GET /ping), the ceiling;
  (b) POST /predict with the prediction log in SQLite;  (b2) the same asking why (``?explain=true``);
  (c) the same with the log in PostgreSQL;
  (d) POST /predict/batch with 100 trips (SQLite);
  (e) MLflow's scoring server (``mlflow models serve``, 1 worker) on the same champion;
  (f) /predict (SQLite) paced at half of (b)'s rate, for the p99 at moderate load;
  (g) /predict (SQLite) with the durable journal and with records held in memory only (``TAXI_LOG_DURABLE=0``,
      what the previous release did), twice each, alternating: the cost of writing every record before answering;
  (h) /predict (SQLite) under py-spy (``serve_profile``), right after (b) on a log of its own: the workers' top
      functions by their own samples.

For (a) and (b) the servers' CPU seconds (supervisor and workers, from ``/proc``) are divided by the requests
answered: the CPU a request costs, and what /predict adds to the hello world's.

After each API run the server is stopped (its log queue flushes) and the logged rows are counted. wrk cuts
the requests in flight when its time is up, which the server may still answer and log, so an exact check
follows: 2,000 requests from a Python client against a fresh server, 200 responses == rows logged.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa
from benchutil import Figure, record
from serve_profile import Profile, Sampler, cpu_seconds

from taxi_assets.features.columns import EXAMPLE_TRIP
from taxi_assets.model.versions import CHAMPION, ModelRegistry, model_name
from taxi_assets.platform_db.prediction_log import PREDICTION_LOG

ROOT = Path(__file__).resolve().parents[1]
HOME = Path(os.environ.get("TAXI_HOME") or ROOT / ".taxi").absolute()
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = 32
KEY = "bench-key"
TRIP = EXAMPLE_TRIP
HELLO_APP = """
import os

from litestar import Litestar, Request, get, post

PID = str(os.getpid())

@get("/ping")
async def ping() -> dict[str, str]:
    return {"status": "ok", "pid": PID}

@post("/echo", status_code=200)
async def echo(request: Request) -> dict[str, str]:
    await request.body()
    return {"status": "ok"}

app = Litestar([ping, echo])
"""
WRK_SCRIPT = """
wrk.method = "{method}"
wrk.body = [[{body}]]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "{key}"
{delay}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %f %f %f\\n", summary.requests, summary.duration,
    e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


@dataclass(frozen=True)
class WrkResult:
    """What wrk measured."""

    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        """Completed requests per second."""
        return self.requests / self.seconds


@dataclass(frozen=True)
class Running:
    """A started server: its base URL and the pid of its top process."""

    url: str
    pid: int


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], workers: int = 1, seconds: float = 90) -> None:
    """Until ``workers`` different workers have answered ``url`` with 200, each on a connection of its own.

    Load must not start while a worker is still starting: wrk opens its connections once and keeps them, so a
    worker that was not listening yet would get none of them and the run would measure one worker (1 run in 5
    served 5,200 requests a second instead of 9,200-9,500, one worker idle). A worker is told by what it
    answers: the API's ``/readyz`` by the moment it loaded the champion, the hello world's ``/ping`` by its pid.
    """
    deadline = time.monotonic() + seconds
    seen: set[str] = set()
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early: {url}")
        try:
            answer = httpx.get(url, timeout=1, headers={"Connection": "close"})
            if answer.status_code == 200:
                seen.add(worker_of(answer))
                if len(seen) >= workers:
                    return
                continue
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"server not ready: {url} ({len(seen)} of {workers} workers answered)")


def worker_of(answer: httpx.Response) -> str:
    """What tells the worker that answered apart: ``loaded_at`` (the API), ``pid`` (the hello world), else nothing."""
    try:
        body = answer.json()
    except ValueError:
        return ""
    return str(body.get("loaded_at") or body.get("pid") or "") if isinstance(body, dict) else ""


@contextmanager
def api_server(
    database_url: str,
    workdir: Path,
    durable: bool = True,
    workers: int | None = None,
    code: Path | None = None,
    home: Path | None = None,
) -> Iterator[Running]:
    """The API on the champion of ``home`` (``HOME``); ``durable=False`` holds log records in memory until shipped.

    ``code`` runs the API of another checkout of the project (it goes first on ``PYTHONPATH``), in this environment.
    """
    port = free_port()
    env = {
        **os.environ,
        "TAXI_HOME": str(home or HOME),
        "TAXI_DATABASE_URL": database_url,
        "TAXI_API_KEYS": KEY,
        "TAXI_MODEL_POLL_SECONDS": "30",
        "TAXI_LOG_DURABLE": "1" if durable else "0",
        # the champion alone: a challenger in a live stage (the demo leaves one) would be scored and logged too
        "TAXI_FOLLOW_ROLLOUT": "0",
        "TAXI_CHALLENGER_SHARE": "0",
        "TAXI_SHADOW": "0",
    }
    if code is not None:
        env["PYTHONPATH"] = str(code)
    command = [sys.executable, "-m", "taxi_serving", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(workers or WORKERS), "--log-level", "warning"]
    with server(command, env, f"http://127.0.0.1:{port}/readyz", workdir, workers or WORKERS) as running:
        yield Running(running.url.removesuffix("/readyz"), running.pid)


@contextmanager
def server(command: list[str], env: dict[str, str], ready_url: str, cwd: Path, workers: int = 1) -> Iterator[Running]:
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_ready(ready_url, process, workers)
        yield Running(ready_url, process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def wrk(url: str, method: str, body: object, workdir: Path, delay_ms: float | None = None) -> WrkResult:
    script = workdir / f"wrk-{time.monotonic_ns()}.lua"
    delay = f"function delay() return {delay_ms:.3f} end" if delay_ms else ""
    payload = json.dumps(body) if body is not None else ""
    script.write_text(WRK_SCRIPT.format(method=method, body=payload, key=KEY, delay=delay))
    completed = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--timeout", "5s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+)", completed.stdout)
    if match is None:
        raise RuntimeError(f"unexpected wrk output: {completed.stdout}")
    requests, micros, non_2xx, errors = (int(match.group(i)) for i in range(1, 5))
    p50, p95, p99 = (float(match.group(i)) / 1000 for i in range(5, 8))
    return WrkResult(requests, micros / 1e6, non_2xx, errors, p50, p95, p99)


def measured(running: Running, path: str, method: str, body: object, workdir: Path) -> tuple[WrkResult, float]:
    """Run wrk on ``running.url + path``; the server's CPU microseconds per answered request meanwhile."""
    before = cpu_seconds(running.pid)
    result = wrk(running.url + path, method, body, workdir)
    return result, (cpu_seconds(running.pid) - before) / max(1, result.requests) * 1e6


def profiled(running: Running, workdir: Path) -> tuple[WrkResult, Profile | str]:
    """Run wrk on /predict with py-spy sampling the server's processes for the same time."""
    sampler = Sampler(running.pid, SECONDS, workdir)
    result = wrk(running.url + "/predict", "POST", TRIP, workdir)
    return result, sampler.profile()


def print_profile(profile: Profile | str) -> None:
    """The top functions by their own samples, and the log shipping thread's share."""
    if isinstance(profile, str):
        print(f"\n(h) no profile: {profile}")
        return
    print(f"\n(h) /predict under py-spy: {profile.samples:,} samples of the workers; own time of the top functions")
    for function in profile.top:
        print(f"    {function.share:>6.1%}  {function.name}")
    print(f"    the prediction log's shipping thread (journal to database): {profile.shipping_share:.1%} of samples")


def logged_ok_rows(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            query = sa.select(sa.func.count()).select_from(PREDICTION_LOG).where(PREDICTION_LOG.c.status == "ok")
            return int(connection.execute(query).scalar_one())
    except sa.exc.ProgrammingError:
        return 0
    except sa.exc.OperationalError:
        return 0
    finally:
        engine.dispose()


def exact_check(database_url: str, workdir: Path, per_thread: int = 500, workers: int | None = None) -> tuple[int, int]:
    """``4 x per_thread`` requests from 4 Python threads against a fresh server: (200 responses, rows logged)."""
    before = logged_ok_rows(database_url)
    ok = 0
    lock = threading.Lock()

    def send(base: str) -> None:
        nonlocal ok
        with httpx.Client(base_url=base, headers={"X-API-Key": KEY}) as client:
            for _ in range(per_thread):
                if client.post("/predict", json=TRIP).status_code == 200:
                    with lock:
                        ok += 1

    with api_server(database_url, workdir, workers=workers) as running:
        threads = [threading.Thread(target=send, args=(running.url,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return ok, logged_ok_rows(database_url) - before


def row(label: str, result: WrkResult, logged: str = "") -> str:
    return (
        f"{label:<46}{result.rate:>10,.0f}{result.p50_ms:>8.2f}{result.p95_ms:>8.2f}{result.p99_ms:>8.2f}"
        f"{result.non_2xx + result.socket_errors:>7}{logged:>22}"
    )


def main() -> int:
    registry = ModelRegistry(f"sqlite:///{HOME / 'mlflow' / 'mlflow.db'}")
    champion = registry.alias(model_name("green"), CHAMPION)
    if champion is None:
        print(f"no champion of {model_name('green')} under {HOME}: run `make demo` first", file=sys.stderr)
        return 1
    print(
        f"champion: {model_name('green')} v{champion}; {WORKERS} uvicorn workers; wrk -t2 -c{CONNECTIONS} -d{SECONDS}s"
    )
    print(f"machine: {os.cpu_count()} cores (server, wrk and the database share them)\n")
    header = f"{'run':<46}{'req/s':>10}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'errors':>7}{'logged rows / 200s':>22}"
    print(header)
    results: dict[str, WrkResult] = {}
    cpu: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        hello_world(work, results, cpu)
        sqlite_url = f"sqlite:///{work / 'bench-log.db'}"
        journal_cost(sqlite_url, work, results)
        predictions(sqlite_url, work, results, cpu)
        # right after (b), on a log of its own: the profile of the same request path, nothing left over to ship
        with api_server(f"sqlite:///{work / 'bench-profile.db'}", work) as running:
            results["profiled"], profile = profiled(running, work)
        print(row("(h) POST /predict, SQLite, under py-spy", results["profiled"]), flush=True)
        half = results["sqlite"].rate / 2
        # each connection waits this long before its next request: at most `half` requests per second in all
        delay_ms = CONNECTIONS * 1000 / half
        with api_server(sqlite_url, work) as running:
            results["paced"] = wrk(running.url + "/predict", "POST", TRIP, work, delay_ms=delay_ms)
        print(row(f"(f) POST /predict paced to ~{half:,.0f} req/s, SQLite", results["paced"]), flush=True)
        results["mlflow"] = mlflow_scoring(work)
        print(row("(e) mlflow models serve (1 worker), /invocations", results["mlflow"]), flush=True)
        ok, logged = exact_check(sqlite_url, work)
    print_profile(profile)
    print(f"\nexact check: {ok:,} responses 200, {logged:,} rows logged -> {'equal' if ok == logged else 'DIFFERENT'}")
    summary(results, cpu)
    return 0 if ok == logged else 1


def hello_world(work: Path, results: dict[str, WrkResult], cpu: dict[str, float]) -> None:
    """(a): the ceiling, with its CPU per request."""
    (work / "bench_hello.py").write_text(HELLO_APP)
    port = free_port()
    hello = [sys.executable, "-m", "uvicorn", "bench_hello:app", "--host", "127.0.0.1", "--port", str(port)]
    hello += ["--workers", str(WORKERS), "--no-access-log", "--log-level", "warning"]
    with server(hello, dict(os.environ), f"http://127.0.0.1:{port}/ping", work, WORKERS) as running:
        base = Running(running.url.removesuffix("/ping"), running.pid)
        results["hello"], cpu["hello"] = measured(base, "/ping", "GET", None, work)
        results["echo"] = wrk(base.url + "/echo", "POST", TRIP, work)
    print(row("(a) Litestar hello world, GET /ping", results["hello"]), flush=True)
    print(row("    same server, POST /echo of the trip body", results["echo"]), flush=True)


def journal_cost(sqlite_url: str, work: Path, results: dict[str, WrkResult]) -> None:
    """(g): memory-only records (the previous release's behaviour) against one write per answered request.

    Twice each, alternating; the best run of each counts.
    """
    for attempt in range(2):
        for key, durable in (("memory", False), ("journal", True)):
            with api_server(sqlite_url, work, durable=durable) as running:
                result = wrk(running.url + "/predict", "POST", TRIP, work)
            if key not in results or result.rate > results[key].rate:
                results[key] = result
            label = "journal (one write per request)" if durable else "records in memory only"
            print(row(f"(g{attempt + 1}) POST /predict, SQLite, {label}", result), flush=True)


def predictions(sqlite_url: str, work: Path, results: dict[str, WrkResult], cpu: dict[str, float]) -> None:
    """(b), (c), (d): /predict on each log database and the batch endpoint, rows logged against answers."""
    for key, label, url_db, path, body in (
        ("sqlite", "(b) POST /predict, log in SQLite", sqlite_url, "/predict", TRIP),
        ("explain", "(b2) POST /predict?explain=true, SQLite", sqlite_url, "/predict?explain=true", TRIP),
        ("postgres", "(c) POST /predict, log in PostgreSQL", POSTGRES_URL, "/predict", TRIP),
        ("batch", "(d) POST /predict/batch of 100, SQLite", sqlite_url, "/predict/batch", {"trips": [TRIP] * 100}),
    ):
        before = logged_ok_rows(url_db)
        with api_server(url_db, work) as running:
            results[key], cpu[key] = measured(running, path, "POST", body, work)
        logged = logged_ok_rows(url_db) - before
        per_request = 100 if key == "batch" else 1
        ok = (results[key].requests - results[key].non_2xx) * per_request
        print(row(label, results[key], f"{logged:,} / {ok:,}"), flush=True)


def mlflow_scoring(work: Path) -> WrkResult:
    """(e): MLflow's own scoring server on the same champion."""
    port = free_port()
    mlflow_env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{HOME / 'mlflow' / 'mlflow.db'}",
        # the scoring server starts `uvicorn` by name: the one of this environment
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    }
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{model_name('green')}@champion"]
    command += ["--env-manager", "local", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with server(command, mlflow_env, f"http://127.0.0.1:{port}/ping", work) as running:
        return wrk(running.url.replace("/ping", "/invocations"), "POST", {"dataframe_records": [TRIP]}, work)


def summary(results: dict[str, WrkResult], cpu: dict[str, float]) -> None:
    """The ratios against the targets, and the record ``make bench-check`` compares."""
    predict = results["sqlite"].rate
    print(f"/predict (SQLite log) vs hello world: {predict / results['hello'].rate:.0%} (target >= 50%)")
    print(f"/predict (SQLite log) vs POST echo: {predict / results['echo'].rate:.0%}")
    print(f"/predict (SQLite log) vs MLflow scoring server: {predict / results['mlflow'].rate:.1f}x (target >= 10x)")
    journal = results["journal"].rate / results["memory"].rate
    print(f"/predict with the journal vs records in memory only (best of 2 each): {journal:.0%} (target >= 80%)")
    paced = results["paced"]
    print(f"p99 at ~half the peak rate: {paced.p99_ms:.2f} ms at {paced.rate:,.0f} req/s (target < 10 ms)")
    explain, cost = results["explain"].rate, (cpu["explain"] - cpu["sqlite"]) / 1000
    print(
        f"/predict?explain=true: {explain:,.0f} req/s, {cpu['explain'] / 1000:.2f} ms of server CPU a request "
        f"(without the flag {cpu['sqlite'] / 1000:.2f} ms): explaining a fare costs {cost:.2f} ms"
    )
    print(
        f"server CPU per request: hello world {cpu['hello']:.0f} us, /predict (SQLite log) {cpu['sqlite']:.0f} us "
        f"(validating, scoring, journaling and shipping the row add {cpu['sqlite'] - cpu['hello']:.0f} us), "
        f"/predict (PostgreSQL log) {cpu['postgres']:.0f} us"
    )
    hello = "Litestar hello world, GET /ping"
    hello_cpu = "server CPU per hello world request"
    record(
        "serve",
        {
            hello: Figure(results["hello"].rate, "req/s", "higher"),
            "POST /predict, SQLite log": Figure(predict, "req/s", "higher", baseline=hello),
            "POST /predict, PostgreSQL log": Figure(results["postgres"].rate, "req/s", "higher", baseline=hello),
            "POST /predict/batch of 100, SQLite": Figure(results["batch"].rate, "req/s", "higher", baseline=hello),
            "/predict over the hello world": Figure(predict / results["hello"].rate, "x", "higher"),
            "p99 at half the peak rate": Figure(paced.p99_ms, "ms", "lower"),
            hello_cpu: Figure(cpu["hello"], "us", "lower"),
            "server CPU per /predict request, SQLite log": Figure(cpu["sqlite"], "us", "lower", baseline=hello_cpu),
            "server CPU per /predict?explain=true request": Figure(cpu["explain"], "us", "lower", baseline=hello_cpu),
        },
    )


if __name__ == "__main__":
    sys.exit(main())
