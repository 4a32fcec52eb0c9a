"""`make calibrate` on tiny input: the script runs end to end and its numbers mean what the table says."""

import sys
from pathlib import Path

import pytest

from taxi_assets.monitoring.checks import ACCURACY, DRIFT_CHECKS, ERROR
from taxi_assets_tests.support import PROJECT_ROOT, TLC_DIR

sys.path.insert(0, str(PROJECT_ROOT / "scripts"))
import calibrate


@pytest.mark.slow
def test_calibrate_prints_the_table_and_catches_the_fare_increase(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [str(TLC_DIR), "--rows", "4000", "--trees", "10", "--windows", "4", "--sizes", "300,600"]
    results = calibrate.main([*args, "--work", str(tmp_path)])
    printed = capsys.readouterr().out
    assert len(results) == 3 + len(calibrate.CONCEPT_STRENGTHS)
    for name, by_size in results.items():
        assert set(by_size) == {300, 600}
        for shares in by_size.values():
            assert {check for check, _ in shares} == set(DRIFT_CHECKS)
            assert all(0.0 <= share <= 1.0 for share in shares.values())
        assert f"| {name} | 600 |" in printed
    # 300 labels are too few to judge accuracy (500 needed); 600 of the real fare increase always fail it
    fare = results["fare increase: 2023-01 vs champion 2022-01..02"]
    assert fare[300][(ACCURACY, ERROR)] == 0.0
    assert fare[600][(ACCURACY, ERROR)] == 1.0
    assert "| mae |" in printed
    assert "Goals:" in printed
