"""The launcher: a fresh metrics folder per start (stopped launchers' folders swept), and bad settings named."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from taxi_serving.__main__ import main, metrics_folder


def test_each_start_gets_an_empty_folder_and_the_folders_of_stopped_launchers_go(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    root = tmp_path / "serving" / "metrics"
    host = socket.gethostname()
    stale, running = root / f"{host}-{child.pid}", root / f"{host}-{os.getpid()}"
    for folder in (stale, running):
        folder.mkdir(parents=True)
        (folder / "counter_1.db").write_bytes(b"old values")
    (root / "notes").mkdir()  # not a launcher's folder: left alone
    folder = metrics_folder(tmp_path, os.getpid())
    assert folder == running
    assert list(folder.iterdir()) == []  # this launcher starts from zero
    assert not stale.exists()
    assert (root / "notes").is_dir()


def test_replicas_sharing_a_data_home_never_share_or_sweep_each_others_folder(tmp_path: Path) -> None:
    """Two containers on one volume: the same launcher pid, different hosts (Docker names a container's host)."""
    first = metrics_folder(tmp_path, 8, host="replica-a")
    (first / "counter_15.db").write_bytes(b"replica a's counts")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    other_host = tmp_path / "serving" / "metrics" / f"replica-a-{dead.pid}"
    other_host.mkdir()
    second = metrics_folder(tmp_path, 8, host="replica-b")
    assert second != first
    assert (first / "counter_15.db").read_bytes() == b"replica a's counts"
    assert other_host.is_dir()  # another host's pid cannot be checked from here, so its folder stays


def test_a_setting_that_cannot_be_is_named_and_nothing_starts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TAXI_LOG_FORMAT", "yaml")
    assert main(["--port", "1"]) == 2
    assert capsys.readouterr().err.startswith("error: ")
