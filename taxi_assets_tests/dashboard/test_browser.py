"""The dashboard in a real browser: Debian's chromium driven by Playwright, against the real servers.

Each screen loads and says what it should, and the retrain button launches a run the Dagster UI then shows.
"""

import re
from pathlib import Path

import dagster as dg
import pytest

from taxi_assets.lake_storage import lake_root, write_manifest
from taxi_assets_tests.dashboard.services import running_dashboard, running_webserver
from taxi_assets_tests.dashboard.support import SHIFTED_BOROUGH, Home
from taxi_assets_tests.support import needs

pytestmark = pytest.mark.slow  # a browser, the dashboard's server and the Dagster webserver
CHROMIUM = Path("/usr/bin/chromium")
# screen in the sidebar -> a text it must show for this data home
SCREENS = {
    "Accuracy over time": "Hollow points|red band",
    "By segment": f"Pickup borough {SHIFTED_BOROUGH}: fare estimates are off by",
    "Drift": "Drifted \\(counted\\) in window",
    "Service health": "Why requests were rejected",
    "History": "Promotion decisions and rollbacks",
}


@pytest.fixture(scope="module")
def chromium() -> Path:
    needs(CHROMIUM.exists(), "Debian's chromium", "apt-get install -y chromium")
    return CHROMIUM


def test_each_screen_loads_and_the_retrain_button_starts_a_run_dagster_shows(
    chromium: Path, home: Home, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    write_manifest(lake_root(str(home.path / "lake")) / "features" / "green" / "2023-02.parquet", {"rows": 1})
    with (
        running_webserver(home.path, tmp_path / "webserver.log") as dagster,
        running_dashboard(
            home.path, {"TAXI_DASHBOARD_KEYS": "alice:s3cret", "TAXI_DAGSTER_URL": dagster.url}, tmp_path / "dash.log"
        ) as dashboard,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(dashboard.url)
        expect(page.get_by_text("Enter a dashboard key")).to_be_visible(timeout=30_000)
        page.get_by_label("Dashboard key", exact=True).fill("s3cret")
        page.get_by_label("Dashboard key", exact=True).press("Enter")
        expect(page.get_by_text("Fare estimates are less accurate (worth a look)")).to_be_visible(timeout=30_000)
        expect(page.get_by_text(re.compile("^Fare estimates are off by"))).to_be_visible()
        page.screenshot(path=tmp_path / "overview.png", full_page=True)
        for screen, text in SCREENS.items():
            page.get_by_role("link", name=screen).click()
            expect(page.get_by_text(re.compile(text)).first).to_be_visible(timeout=30_000)
            page.screenshot(path=tmp_path / f"{screen}.png", full_page=True)
        page.get_by_role("link", name="Retrain").click()
        page.get_by_label("Why", exact=True).fill("checked in the browser")
        page.get_by_label("Why", exact=True).press("Enter")
        page.get_by_role("button", name="Retrain now").click()
        shown = page.get_by_text(re.compile(r"^retrain_job run [0-9a-f-]{36} is QUEUED\.$"))
        expect(shown).to_be_visible(timeout=30_000)
        run_id = shown.inner_text().split()[2]
        # the link opens the run in the Dagster UI, which shows it
        assert page.get_by_role("link", name="Open the run in Dagster").get_attribute("href") == (
            f"{dagster.url}/runs/{run_id}"
        )
        page.goto(f"{dagster.url}/runs/{run_id}")
        expect(page.get_by_text("retrain_job").first).to_be_visible(timeout=60_000)
        page.screenshot(path=tmp_path / "dagster-run.png")
        browser.close()
    with dg.DagsterInstance.from_config(str(home.path / "dagster")) as instance:
        run = instance.get_run_by_id(run_id)
    assert run is not None
    assert run.tags["taxi/reason"] == "asked for on the dashboard by alice: checked in the browser"
