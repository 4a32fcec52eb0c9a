"""``make bench-check``: a figure more than the tolerance worse than the last run on this machine kind fails."""

import json
import sys
from pathlib import Path

import pytest

from taxi_assets_tests.support import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "scripts"))
import bench_check
import benchutil
from benchutil import Figure


@pytest.fixture
def records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TAXI_BENCH_RECORDS", str(tmp_path))
    return tmp_path


def recorded(figures: dict[str, Figure]) -> None:
    benchutil.record("drift", figures)


def test_a_record_names_the_machine_kind_its_load_and_figures(records: Path) -> None:
    recorded({"report at 1,000,000 rows": Figure(0.2, "s", "lower")})
    (entry,) = benchutil.read_records("drift")
    assert entry["machine"] == benchutil.machine_kind()
    assert f"{benchutil.os.cpu_count()} cores" in entry["machine"]
    assert entry["load_at_start"] >= 0
    assert entry["figures"] == {"report at 1,000,000 rows": {"value": 0.2, "unit": "s", "better": "lower"}}
    assert json.loads((records / "drift.jsonl").read_text().splitlines()[0]) == entry


@pytest.mark.parametrize(
    ("before", "after", "better", "fails"),
    [
        (0.20, 0.26, "lower", True),  # 30 % slower
        (0.20, 0.23, "lower", False),  # 15 %: within the tolerance
        (0.20, 0.10, "lower", False),  # faster
        (6_000, 4_200, "higher", True),  # 30 % fewer requests per second
        (6_000, 5_100, "higher", False),
    ],
)
def test_compare_only_fails_on_a_figure_more_than_20_percent_worse(
    records: Path, before: float, after: float, better: str, fails: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    for value in (before, after):
        recorded({"figure": Figure(value, "s", better)})  # type: ignore[arg-type]
    assert bench_check.main(["drift", "--compare-only"]) == (1 if fails else 0)
    printed = capsys.readouterr()
    assert ("WORSE" in printed.out) == fails
    assert ("REGRESSED: drift" in printed.err) == fails


def test_records_of_another_machine_kind_are_not_compared(records: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recorded({"figure": Figure(0.1, "s", "lower")})
    elsewhere = json.loads((records / "drift.jsonl").read_text())
    elsewhere["machine"] = "64 cores, 512 GiB, another CPU"
    with (records / "drift.jsonl").open("a") as out:
        out.write(json.dumps(elsewhere) + "\n")
    recorded({"figure": Figure(0.5, "s", "lower")})
    assert bench_check.main(["drift", "--compare-only"]) == 1  # 0.1 -> 0.5 here; the other machine's row is skipped
    assert "+400%" in capsys.readouterr().out


def test_an_unknown_benchmark_is_refused_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        bench_check.main(["drfit"])
    assert "unknown benchmark(s) drfit" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("ours", "theirs", "fails"),
    [
        ((0.20, 0.26), (8.0, 10.4), False),  # the whole machine 30 % slower: ours against Evidently unchanged
        ((0.20, 0.26), (8.0, 8.0), True),  # ours 30 % slower on the same machine speed: a planted regression
        ((0.20, 0.20), (8.0, 5.6), True),  # Evidently 30 % faster, ours not: we lost ground
    ],
)
def test_a_figure_with_a_baseline_is_compared_through_it(
    records: Path,
    ours: tuple[float, float],
    theirs: tuple[float, float],
    fails: bool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for own, baseline in zip(ours, theirs, strict=True):
        recorded(
            {
                "Evidently psi at 1,000,000 rows": Figure(baseline, "s", "lower"),
                "report at 1,000,000 rows": Figure(own, "s", "lower", baseline="Evidently psi at 1,000,000 rows"),
            }
        )
    assert bench_check.main(["drift", "--compare-only"]) == (1 if fails else 0)
    printed = capsys.readouterr().out
    (line,) = [line for line in printed.splitlines() if "report at" in line]
    assert "against Evidently psi at 1,000,000 rows" in line
    assert ("WORSE" in line) == fails
    # Evidently's own time measures the machine: shown, never a failure of ours
    (yardstick,) = [line for line in printed.splitlines() if line.strip().startswith("Evidently psi at")]
    assert "the machine's yardstick" in yardstick
    assert "WORSE" not in yardstick


def test_a_baseline_missing_from_the_older_record_falls_back_to_the_figure_itself(
    records: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recorded({"report at 1,000,000 rows": Figure(0.20, "s", "lower")})
    recorded(
        {
            "Evidently psi at 1,000,000 rows": Figure(10.4, "s", "lower"),
            "report at 1,000,000 rows": Figure(0.26, "s", "lower", baseline="Evidently psi at 1,000,000 rows"),
        }
    )
    assert bench_check.main(["drift", "--compare-only"]) == 1
    assert "absolute) WORSE" in capsys.readouterr().out
