"""``scripts/serve_profile.py``: a process tree's CPU time and its top functions, on real processes and py-spy."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from taxi_assets_tests.support import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "scripts"))
import serve_profile

SPINNER = """
import time

def spin_the_wheel(seconds):
    started = time.process_time()
    while time.process_time() - started < seconds:
        pass

spin_the_wheel(float(__import__("sys").argv[1]))
time.sleep(60)
"""


def spinning_tree(seconds: float) -> subprocess.Popen[bytes]:
    """A shell whose Python child burns ``seconds`` of CPU in ``spin_the_wheel``, then sleeps."""
    command = f"{sys.executable} -c '{SPINNER}' {seconds}"
    return subprocess.Popen(["/bin/sh", "-c", command])


def test_cpu_seconds_add_up_the_whole_process_tree() -> None:
    shell = spinning_tree(0.6)
    try:
        deadline = time.monotonic() + 20
        while serve_profile.cpu_seconds(shell.pid) < 0.6 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(serve_profile.descendants(shell.pid)) == 2
        spent = serve_profile.cpu_seconds(shell.pid)
        assert 0.6 <= spent < 5  # the child's spin, counted through its parent shell
        time.sleep(0.5)
        assert serve_profile.cpu_seconds(shell.pid) - spent < 0.1  # asleep now: no more CPU
    finally:
        shell.kill()
        shell.wait()


def test_py_spy_finds_the_function_that_burns_the_cpu(tmp_path: Path) -> None:
    assert serve_profile.py_spy() is not None, "py-spy comes with the dev extra"
    shell = spinning_tree(30)
    try:
        time.sleep(0.5)
        profile = serve_profile.Sampler(shell.pid, 2, tmp_path).profile()
    finally:
        shell.kill()
        shell.wait()
    assert isinstance(profile, serve_profile.Profile), profile
    assert profile.samples > 50
    assert profile.top[0].name.startswith("spin_the_wheel (<string>)")
    assert profile.top[0].share > 0.5
    assert profile.shipping_share == 0


def test_top_functions_count_own_samples_per_function_and_the_shipping_thread() -> None:
    raw = "\n".join(
        [
            "main (app.py:1);handle (route.py:10);send (uvicorn.py:524) 50",
            "main (app.py:1);handle (route.py:11);send (uvicorn.py:551) 20",
            "main (app.py:1);handle (route.py:12) 10",
            "run (threading.py:982);PredictionLogSink._run (sink.py:163);insert (store.py:123) 20",
            "not a stack line",
        ]
    )
    profile = serve_profile.top_functions(raw, count=2)
    assert profile.samples == 100
    assert [(f.name, f.share) for f in profile.top] == [("send (uvicorn.py)", 0.7), ("insert (store.py)", 0.2)]
    assert profile.shipping_share == pytest.approx(0.2)
    assert serve_profile.top_functions("").samples == 0
