"""Whether a worker still runs: this process does, a child that exited and was reaped does not."""

import os
import subprocess
import sys

from taxi_serving.processes import alive


def test_a_running_process_is_alive_and_a_reaped_one_is_not() -> None:
    assert alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not alive(child.pid)


def test_a_process_of_another_user_counts_as_alive() -> None:
    assert alive(1)  # init: signalling it may be refused, but it exists
