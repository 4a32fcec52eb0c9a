"""The CLI's in-process runner: a run shows each step as it goes, readable, and lands in the instance."""

from pathlib import Path

import dagster as dg
import pytest

from taxi_assets_tests.support import TLC_DIR
from taxi_tools.runner import Runner


def test_a_run_prints_each_step_as_it_starts_and_ends_and_nothing_in_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"TAXI_HOME": str(tmp_path), "TAXI_TRIPS_DIR": str(TLC_DIR), "TAXI_LOG_FORMAT": "text"}
    with dg.DagsterInstance.ephemeral() as instance:
        materialized = Runner(env, instance).run("zones_job")
        (run,) = instance.get_run_records()
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[:3] == ["", "== zones_job", "  taxi_zones ..."]
    assert lines[3].startswith("  taxi_zones done in ")
    assert "taxi_zones" in materialized
    assert run.dagster_run.status == dg.DagsterRunStatus.SUCCESS
    assert "{" not in err  # the quiet console logs nothing below CRITICAL, in no format
