"""make bench-dashboard and the docs' screenshot script on tiny input, so they cannot rot."""

import json
import sys
from pathlib import Path

import pytest

from taxi_assets_tests.support import PROJECT_ROOT, needs

sys.path.insert(0, str(PROJECT_ROOT / "scripts"))
import bench_dashboard
import dashboard_screenshots

pytestmark = pytest.mark.slow  # three dashboard servers and a browser


def test_the_filled_home_is_what_the_overview_reads(tmp_path: Path) -> None:
    newest = bench_dashboard.fill_reports(tmp_path, days=1, rows=200, seed=0)
    bench_dashboard.fill_tables(tmp_path, predictions=500, days=1, newest=newest, seed=0)
    reports = sorted((tmp_path / "lake" / "drift" / "green").glob("*.json"))
    assert len(reports) == 24
    assert reports[-1].stem == newest
    # the last six hours are after a fare increase: the newest window's accuracy fails, an earlier one's does not
    overall = [json.loads(p.read_text())["versions"]["1"]["calibrated_accuracy"]["overall"] for p in reports]
    assert overall[-1]["value"] > max(overall[-1]["noise_limit"], overall[-1]["baseline"] + overall[-1]["min_effect"])
    assert overall[0]["value"] < max(overall[0]["noise_limit"], overall[0]["baseline"] + overall[0]["min_effect"])


def test_the_benchmark_prints_cold_warm_and_empty_paint_times(capsys: pytest.CaptureFixture[str]) -> None:
    needs(Path(bench_dashboard.CHROMIUM).exists(), "Debian's chromium", "apt-get install -y chromium")
    code = bench_dashboard.main(["--days", "1", "--predictions", "1000", "--window-rows", "200", "--loads", "1"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "data home: 24 hourly drift reports" in printed
    rows = {
        line.split()[0]: line.split()[1:]
        for line in printed.splitlines()
        if line.split()[:1] in (["cold"], ["warm"], ["revisit"], ["empty"])
    }
    assert set(rows) == {"cold", "warm", "revisit", "empty"}
    assert all(float(median) > 0 for median, _, _ in rows.values())
    assert rows["empty"][2] == "1.00"


def test_the_screenshot_script_writes_one_picture_per_screen(tmp_path: Path) -> None:
    needs(Path(bench_dashboard.CHROMIUM).exists(), "Debian's chromium", "apt-get install -y chromium")
    home = tmp_path / "home"
    newest = bench_dashboard.fill_reports(home, days=1, rows=200, seed=0)
    bench_dashboard.fill_tables(home, predictions=200, days=1, newest=newest, seed=0)
    assert dashboard_screenshots.main(home, tmp_path / "img") == 0
    pictures = sorted(tmp_path.glob("img/*.png"))
    assert [picture.name for picture in pictures] == sorted(
        f"dashboard-{screen.lower().replace(' ', '-')}.png" for screen in dashboard_screenshots.SCREENS
    )
    assert all(picture.read_bytes().startswith(b"\x89PNG") for picture in pictures)
