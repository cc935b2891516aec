"""A colleague's browser: headless Chromium (Debian's package, driven by Playwright through
its executable path) opens the run list and one run, on nvsense's pages and in Tiled's UI."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .conftest import make_runs
from .server import running_server

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium"
                                        if Path("/usr/bin/chromium").exists() else None)
# .ci/run installs Debian's chromium; skip only where no chromium binary exists at all
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (apt-get "
                                "install chromium; .ci/run does)")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            yield chromium
        finally:
            chromium.close()


def test_run_list_and_one_run_in_a_browser(browser, tmp_path):
    runs = make_runs(tmp_path / "nvsense-data")
    with running_server(runs.data_dir) as plan:
        page = browser.new_page()
        page.set_default_timeout(20000)
        page.goto(f"{plan.url}/runs")
        assert sorted(page.locator("a.run").all_inner_texts()) == sorted(runs.ids().values())
        page.click(f"a.run:has-text('{runs.odmr.stem}')")
        page.wait_for_url(f"**/runs/{runs.odmr.stem}")
        assert page.locator("h1").inner_text() == runs.odmr.stem
        assert page.locator("#state").inner_text() == "completed"
        results = page.locator("#results").inner_text()
        assert "field_x" in results and "400 µT" in results
        assert page.locator("svg").count() == 1  # the averaged spectrum
        assert "counts" in page.locator("#variables").inner_text()
        # Tiled's own interface browses the same tree
        page.goto(f"{plan.url}/ui/browse/")
        page.click(f"text={runs.track.stem}")
        page.wait_for_selector("text=field_parallel")
        page.close()


def test_the_browser_needs_the_key_when_one_is_set(browser, tmp_path):
    runs = make_runs(tmp_path / "nvsense-data")
    with running_server(runs.data_dir, api_key="browserkey42") as plan:
        page = browser.new_page()
        page.set_default_timeout(20000)
        response = page.goto(f"{plan.url}/runs")
        assert response.status == 401
        assert "API key required" in page.content()
        page.goto(f"{plan.url}/runs?api_key=browserkey42")
        page.click(f"a.run:has-text('{runs.track.stem}')")
        assert page.locator("#state").inner_text() == "completed"
        page.close()
