"""The report's HTML opened from disk in a real headless Chromium: offline, no error, charts drawn."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ui.conftest import PageWatch

pytestmark = pytest.mark.slow


def test_report_opens_offline_with_charts_drawn(browser, report_run, output_dir):
    url = Path(report_run.html).resolve().as_uri()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    watch = PageWatch(page)
    blocked: list[str] = []

    def gate(route):  # anything but the file itself is refused (and counted)
        if route.request.url == url:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", gate)
    page.goto(url)
    page.wait_for_function("document.querySelectorAll('.wb-chart').length > 0 && "
                           "document.querySelectorAll('.wb-chart .js-plotly-plot .main-svg').length >= "
                           "document.querySelectorAll('.wb-chart').length", timeout=30_000)
    charts = page.locator(".wb-chart").count()
    drawn = page.evaluate("[...document.querySelectorAll('.wb-chart')].filter("
                          "c => c.querySelector('.js-plotly-plot .main-svg .scatterlayer, "
                          ".js-plotly-plot .main-svg .barlayer')).length")
    assert charts >= 8 and drawn == charts, (charts, drawn)
    # a line was actually drawn, not only axes
    assert page.locator(".wb-chart .scatterlayer path.js-line").count() > 10
    assert watch.errors == [], watch.errors
    assert blocked == [], f"the report asked for {blocked}"
    assert [u for u in watch.requests if u != url] == [], watch.requests
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1
    page.screenshot(path=str(output_dir / "report-light.png"), full_page=True)
    page.close()


def test_index_page_links_the_report(browser, report_run, output_dir):
    index = Path(report_run.dir).parent.parent / "index.html"
    page = browser.new_page(viewport={"width": 1000, "height": 600})
    watch = PageWatch(page)
    page.goto(index.resolve().as_uri())
    link = page.locator('tr[data-report="daily"] a').first
    href = link.get_attribute("href")
    assert (index.parent / href).resolve() == Path(report_run.html).resolve()
    assert watch.errors == [] and len(watch.requests) == 1
    page.screenshot(path=str(output_dir / "report-index.png"))
    page.close()
