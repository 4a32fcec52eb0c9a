"""What the benchmark scripts share: the machine they ran on, and the record each run leaves.

Every benchmark appends its figures to ``docs/benchmarks/<bench>.jsonl`` (one JSON object per run: date, commit,
machine kind, load average, figures), so a release can be compared with the last one on the same kind of
machine: ``make bench-check`` (``scripts/bench_check.py``). ``TAXI_BENCH_RECORDS`` points elsewhere (the tests
do, so their tiny runs never land in the docs).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# the one-minute load average when the benchmark started: a busy machine's figures are not comparable
LOAD_AT_START = os.getloadavg()[0]


def cpu_model() -> str:
    """The CPU's model name (Linux), else the architecture."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.machine()


def memory_gib() -> int:
    """Physical memory in GiB, rounded (0 where it cannot be read)."""
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)
    except (ValueError, OSError, AttributeError):
        return 0


def machine_kind() -> str:
    """What makes two runs comparable: cores, memory and CPU model."""
    return f"{os.cpu_count()} cores, {memory_gib()} GiB, {cpu_model()}"


@dataclass(frozen=True)
class Figure:
    """One measured figure, its unit and which way is better.

    ``baseline`` names another figure of the same run that the machine's speed moves the same way (the hello
    world for the API's rates, Evidently for the drift report, the empty page for the dashboard): ``make
    bench-check`` then compares this figure's ratio to it, so a slower machine day is not taken for a regression.
    """

    value: float
    unit: str
    better: Literal["lower", "higher"]
    baseline: str | None = None


def records_dir() -> Path:
    return Path(os.environ.get("TAXI_BENCH_RECORDS") or PROJECT_ROOT / "docs" / "benchmarks")


def _commit() -> str:
    """The checkout's commit, marked ``+changes`` when tracked files differ from it (measured before a commit)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = done.stdout.strip() or "unknown"
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    return f"{commit}+changes" if changed.stdout.strip() else commit


def record(bench: str, figures: dict[str, Figure]) -> Path:
    """Append this run's figures to the bench's record file; its path."""
    folder = records_dir()
    folder.mkdir(parents=True, exist_ok=True)
    entry = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "machine": machine_kind(),
        "load_at_start": round(LOAD_AT_START, 2),
        "load_at_end": round(os.getloadavg()[0], 2),
        "figures": {name: _as_record(figure) for name, figure in figures.items()},
    }
    path = folder / f"{bench}.jsonl"
    with path.open("a") as out:
        out.write(json.dumps(entry, sort_keys=True) + "\n")
    print(f"recorded in {path}")
    return path


def _as_record(figure: Figure) -> dict[str, Any]:
    """A figure as stored: without ``baseline`` when it has none."""
    return {key: value for key, value in asdict(figure).items() if key != "baseline" or value is not None}


def read_records(bench: str, folder: Path | None = None) -> list[dict[str, Any]]:
    """Every recorded run of ``bench``, oldest first."""
    path = (folder or records_dir()) / f"{bench}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
