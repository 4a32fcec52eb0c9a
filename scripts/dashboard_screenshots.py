"""The screenshots of the docs: every screen of the dashboard on a data home, in Debian's chromium.

Usage: python scripts/dashboard_screenshots.py HOME OUTDIR   (after ``make demo``: HOME is the data home, .taxi)
Writes OUTDIR/dashboard-<screen>.png for each screen in the sidebar.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bench_dashboard import CHROMIUM, dashboard

SCREENS = ("Overview", "Accuracy over time", "By segment", "Drift", "Service health", "History")


def main(home: Path, out: Path) -> int:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with dashboard(home, 30) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 1500})
        page.goto(url)
        for screen in SCREENS:
            page.get_by_role("link", name=screen).click()
            page.get_by_role("heading").first.wait_for(timeout=60_000)
            # Streamlit shows its status widget while the script runs; the charts draw once it is gone
            page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=60_000)
            page.wait_for_timeout(1_500)
            path = out / f"dashboard-{screen.lower().replace(' ', '-')}.png"
            page.screenshot(path=path, full_page=True)
            print(path)
        browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1]), Path(sys.argv[2])))
