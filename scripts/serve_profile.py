"""Where a server's CPU goes under load: its CPU seconds per request, and its top functions (``make bench-serve``).

``cpu_seconds(pid)`` adds the user and system time of a process and all its descendants (uvicorn's supervisor and
its workers) from ``/proc`` (Linux). ``Sampler`` runs py-spy on the same tree while a load runs: py-spy reads the
interpreters' stacks from outside, ``--nonblocking``, so the workers are never paused. ``top_functions`` then
tells what each function costs itself (its own samples, children excluded), with the share of samples that were
in the prediction log's shipping thread.
"""

from __future__ import annotations

import collections
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

# a frame of py-spy's raw output: "function (path/to/file.py:line)"
SHIPPING_FRAME: Final = "PredictionLogSink._run"
SAMPLES_PER_SECOND: Final = 200


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (Linux ``/proc``); processes that ended meanwhile are left out."""
    found, waiting = [], [pid]
    while waiting:
        current = waiting.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                waiting += [int(child) for child in task.read_text().split()]
            except OSError:
                continue
    return found


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of ``pid`` and its descendants so far (0 where ``/proc`` has none)."""
    ticks = 0
    for process in descendants(pid):
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


def py_spy() -> str | None:
    """The py-spy of this environment (the dev extra installs it), else one on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


@dataclass(frozen=True)
class Function:
    """One function's own share of the samples."""

    name: str
    share: float


@dataclass(frozen=True)
class Profile:
    """What the samples say: samples in all, the shipping thread's share, the top functions by own samples."""

    samples: int
    shipping_share: float
    top: list[Function]


def top_functions(raw: str, count: int = 12) -> Profile:
    """Read py-spy's raw (collapsed) output: one stack a line, frames joined by ``;``, then the sample count."""
    own: collections.Counter[str] = collections.Counter()
    total = shipping = 0
    for line in raw.splitlines():
        stack, _, number = line.rpartition(" ")
        if not stack or not number.isdigit():
            continue
        samples = int(number)
        frames = stack.split(";")
        total += samples
        own[_function(frames[-1])] += samples
        if any(frame.startswith(SHIPPING_FRAME) for frame in frames):
            shipping += samples
    if not total:
        return Profile(0, 0.0, [])
    top = [Function(name, samples / total) for name, samples in own.most_common(count)]
    return Profile(total, shipping / total, top)


def _function(frame: str) -> str:
    """``name (path/file.py:12)`` -> ``name (file.py)``: lines of one function count together."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    return f"{name} ({Path(path).name})" if path else name


class Sampler:
    """py-spy sampling a process tree for ``seconds`` in the background; ``profile()`` waits and reads it."""

    def __init__(self, pid: int, seconds: float, folder: Path) -> None:
        self.output = folder / f"py-spy-{pid}.txt"
        executable = py_spy()
        self.process: subprocess.Popen[bytes] | None = None
        if executable is None:
            return
        command = [executable, "record", "--pid", str(pid), "--subprocesses", "--nonblocking", "--format", "raw"]
        command += ["--rate", str(SAMPLES_PER_SECOND), "--duration", str(max(1, round(seconds)))]
        command += ["--output", str(self.output)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def profile(self) -> Profile | str:
        """The profile, or why there is none (py-spy missing, or not allowed to read the process)."""
        if self.process is None:
            return "py-spy is not installed (the dev extra installs it)"
        _, error = self.process.communicate(timeout=120)
        if self.process.returncode != 0 or not self.output.exists():
            lines = error.decode(errors="replace").strip().splitlines()
            return f"py-spy failed: {lines[-1] if lines else f'exit {self.process.returncode}'}"
        return top_functions(self.output.read_text())
