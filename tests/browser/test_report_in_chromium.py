"""The report of a small simulated day, opened in a real headless browser (Debian's chromium).

Checks what a unit test cannot: the page's scripts run without errors, nothing is fetched from
the network, and the campaign graph is drawn with one node per member. Leaves a screenshot in
the artefacts directory (``DETECTOR_TEST_ARTEFACTS``, default ``tmp/artefacts``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from detector.report import render_report
from detector.report.data import campaigns
from detector.report.runs import simulated_alerts
from detector.settings import Settings
from detector.simulate import default_scenario

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
ARTEFACTS = Path(os.environ.get("DETECTOR_TEST_ARTEFACTS", REPO / "tmp" / "artefacts"))
_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _chromium() -> str:
    found = shutil.which(os.environ.get("DETECTOR_TEST_CHROMIUM", "chromium"))
    if found is None:
        pytest.skip(
            "no chromium (DETECTOR_TEST_CHROMIUM or PATH): install Debian's package with `apt-get install -y chromium`"
        )
    return found


@pytest.fixture
def page_errors() -> list[str]:
    return []


@pytest.fixture
def browser_page(tmp_path: Path, page_errors: list[str]) -> Iterator[object]:
    """A fresh chromium (its own empty profile) and one page that records errors and requests."""
    executable = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (dev extra) is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=executable,
            args=_FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            page = browser.new_page()
            page.on(
                "console",
                lambda message: page_errors.append(message.text) if message.type == "error" else None,
            )
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            yield page
        finally:
            browser.close()


def test_report_of_a_simulated_day_renders_offline_with_its_campaign_graph(
    tmp_path: Path, browser_page: object, page_errors: list[str]
) -> None:
    """A 6-hour simulated day's report loads with no console errors and no network request, and
    every figure is drawn, and its campaign graph has one node per account the campaign named."""
    from playwright.sync_api import Page, Route

    assert isinstance(browser_page, Page)
    page = browser_page
    alerts, labels = simulated_alerts(default_scenario(hours=6.0, benign_accounts=60), 3, Settings())
    found = campaigns(alerts)
    assert found, "the scenario plants a hydra campaign; its coordinated alert is the graph under test"
    report = tmp_path / "report.html"
    report.write_text(render_report(alerts, labels, title="browser test: seed 3, 6 h"))

    fetched: list[str] = []

    def refuse(route: Route) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            fetched.append(route.request.url)
            route.abort()

    page.route("**/*", refuse)
    page.goto(report.as_uri(), wait_until="load")
    campaign = found[0]
    graph = f"campaign-{campaign.alert_id}"
    page.wait_for_selector(f"#{graph} .main-svg")
    nodes = page.evaluate(
        f"document.getElementById('{graph}').data.find(t => t.name === 'accounts').x.length"
    )
    figures = page.evaluate("document.querySelectorAll('.plotly-graph-div').length")
    undrawn = page.evaluate(
        "[...document.querySelectorAll('.plotly-graph-div')].filter(d => !d.querySelector('.main-svg')).length"
    )
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTEFACTS / "report.png"
    page.screenshot(path=str(screenshot), full_page=True)
    print(f"report screenshot: {screenshot}")

    assert page_errors == []
    assert fetched == []
    assert nodes == len(campaign.members)
    assert figures >= 4  # over time, severity mix, at least one campaign, the catches figure
    assert undrawn == 0
