"""The dashboard in a real Voilà server, opened in a real headless Chromium."""

from __future__ import annotations

import json
import math
import time

import pytest

from tests.ui.conftest import open_dashboard, start_dashboard, stop, wait_http

pytestmark = pytest.mark.slow


def test_page_renders_offline_with_no_error(browser, dashboard):
    page, watch = open_dashboard(browser, dashboard)
    assert_whole_page_without_error(page, watch)
    page.close()


def assert_whole_page_without_error(page, watch) -> None:
    """After a few refresh ticks: no traceback, no console error, nothing fetched beyond
    127.0.0.1, a page log without errors, and every panel on the page."""
    page.wait_for_timeout(2500)
    body = page.inner_text("body")
    assert "Traceback" not in body, body[:2000]
    assert watch.errors == [], watch.errors
    assert watch.foreign() == [], f"requests beyond 127.0.0.1: {watch.foreign()}"
    assert page.inner_text(".wb-log-title").endswith("no errors"), page.inner_text(".wb-log")
    for cls in ("wb-kpicards", "wb-livechart", "wb-alertpanel", "wb-forecastpanel", "wb-coreheatmap",
                "wb-processtable", "wb-fleetview", "wb-executorpanel"):
        assert page.locator(f".{cls}").count() == 1, cls


def test_a_page_without_a_warm_kernel_renders_progressively_with_no_error(browser, demo_home, output_dir):
    """`workbench dashboard --no-preheat` renders progressively (the front end loads while the
    kernel starts): the same page, every panel, no error, nothing fetched from outside."""
    server, proc = start_dashboard(demo_home, preheat=False, log_path=output_dir / "voila-progressive.log")
    try:
        assert "--VoilaConfiguration.progressive_rendering=True" in server.command()
        page, watch = open_dashboard(browser, server)
        assert_whole_page_without_error(page, watch)
        assert page.locator("#rendered_cells .wb-card-value").count() >= 6  # the live cards, not the glance
        page.screenshot(path=str(output_dir / "dashboard-progressive-1280.png"), full_page=True)
        page.close()
    finally:
        stop(proc)


def test_kpi_card_shows_what_store_latest_returns(browser, dashboard, demo_home):
    from workbench.store import Store
    from workbench.ui._base import fmt_value
    from workbench.ui._kpi import KPIS, kpi_values

    page, _ = open_dashboard(browser, dashboard)
    latest = Store(demo_home).latest(host="workstation", within="10min")
    want = kpi_values(latest)
    for key in ("memory", "disk", "load"):
        card = page.locator(f'[data-kpi="{key}"]')
        shown = float(card.get_attribute("data-value"))
        assert math.isclose(shown, want[key], rel_tol=1e-9), (key, shown, want[key])
        unit = next(k.unit for k in KPIS if k.key == key)
        assert card.locator(".wb-card-value").inner_text().replace("\n", "").strip() == \
            fmt_value(want[key], unit).strip()
    page.close()


def test_first_glance_shows_current_values_until_the_live_cards_replace_it(browser, dashboard, demo_home,
                                                                          output_dir):
    """The header and KPI cards come as HTML from the server before Voilà's front end starts,
    with the values the live cards will show; the live cards then take their place."""
    from workbench.store import Store
    from workbench.ui._kpi import kpi_values

    page = browser.new_page(viewport={"width": 1280, "height": 720})
    watch = __import__("tests.ui.conftest", fromlist=["PageWatch"]).PageWatch(page)
    page.goto(dashboard.url(), wait_until="commit")
    page.wait_for_selector("#wb-glance [data-kpi='memory']", timeout=30_000)
    page.screenshot(path=str(output_dir / "dashboard-first-glance.png"))
    want = kpi_values(Store(demo_home).latest(host="workstation", within="10min"))
    for key in ("memory", "disk", "load"):
        shown = float(page.locator(f"#wb-glance [data-kpi='{key}']").get_attribute("data-value"))
        assert math.isclose(shown, want[key], rel_tol=1e-9), (key, shown, want[key])
    assert "workstation" in page.inner_text("#wb-glance .wb-glance-head")
    page.wait_for_selector("#rendered_cells [data-kpi='memory']", timeout=60_000)
    page.wait_for_selector("#wb-glance", state="detached", timeout=5_000)
    assert page.locator("[data-kpi='memory']").count() == 1
    assert watch.errors == [] and watch.foreign() == []
    page.close()


def test_range_change_redraws_from_the_rollup_tier(browser, dashboard, demo_home):
    from workbench.store import Store

    page, _ = open_dashboard(browser, dashboard)
    plot = page.locator(".wb-livechart .wb-chart-plot")
    assert plot.get_attribute("data-tier") == "raw"
    page.locator(".wb-header").get_by_role("button", name="7 d").click()
    page.wait_for_selector('.wb-livechart .wb-chart-plot[data-tier="1h"]', timeout=10_000)
    shown = json.loads(plot.get_attribute("data-points"))
    now = time.time()
    direct = Store(demo_home).query("system.cpu.utilization", f"{7 * 24}h", step="1h", host="workstation",
                                    labels={"cpu": "total"})
    per_series = direct.groupby("labels").size().tolist()
    assert len(per_series) >= 2 and sum(per_series) > 0
    assert shown[: len(per_series)] == per_series, (shown, per_series, now)
    page.locator(".wb-header").get_by_role("button", name="15 min").click()
    page.wait_for_selector('.wb-livechart .wb-chart-plot[data-tier="raw"]', timeout=10_000)
    page.close()


@pytest.mark.parametrize("width,height", [(1280, 720), (768, 1024)])
@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_screenshots_fit_the_width(browser, dashboard, output_dir, width, height, dark):
    page, watch = open_dashboard(browser, dashboard, width=width, height=height, dark=dark)
    page.wait_for_timeout(1500)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page is {overflow}px wider than a {width}px window"
    path = output_dir / f"dashboard-{'dark' if dark else 'light'}-{width}.png"
    # Voilà scrolls #rendered_cells, not the document: grow the window to the whole page
    full = page.evaluate("document.getElementById('rendered_cells').scrollHeight")
    page.set_viewport_size({"width": width, "height": max(height, int(full) + 20)})
    page.wait_for_timeout(800)
    page.screenshot(path=str(path))
    assert path.stat().st_size > 20_000
    if dark:  # the page really is dark: the body's background is not white
        bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert bg not in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)"), bg
    assert watch.errors == []
    page.close()


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_no_serious_accessibility_violation(browser, dashboard, output_dir, dark):
    from axe_playwright_python.sync_playwright import Axe

    page, _ = open_dashboard(browser, dashboard, dark=dark)
    page.wait_for_timeout(1000)
    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    (output_dir / f"axe-{'dark' if dark else 'light'}.json").write_text(json.dumps(results.response["violations"], indent=1))
    summary = [(v["id"], v["impact"], [n["target"] for n in v["nodes"][:3]]) for v in bad]
    assert not bad, summary
    page.close()


def test_token_protected_dashboard_refuses_without_token(demo_home, output_dir):
    import urllib.request

    server, proc = start_dashboard(demo_home, token="s3cret-test-token", preheat=False,
                                   log_path=output_dir / "voila-token.log")
    try:
        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        opener = urllib.request.build_opener(NoRedirect)
        try:
            resp = opener.open(server.url(), timeout=10)
            status, body = resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, ""
        assert status in (302, 303, 403), (status, body[:300])
        assert "wb-card" not in body and "dashboard.ipynb" not in body
        for url in (server.url() + "workbench/glance",):  # the first glance is as protected as the page
            try:
                resp = opener.open(url, timeout=10)
                status, body = resp.status, resp.read().decode()
            except urllib.error.HTTPError as exc:
                status, body = exc.code, ""
            assert status in (302, 303, 403) and "wb-card" not in body, (url, status, body[:300])
        glance = urllib.request.urlopen(server.url() + "workbench/glance?token=s3cret-test-token", timeout=30).read()
        assert b'data-kpi="memory"' in glance
        assert wait_http(server.url() + "?token=s3cret-test-token") == 200
    finally:
        stop(proc)



def test_a_closed_page_kernel_is_culled_within_two_minutes(browser, demo_home, output_dir):
    """The refresh clock runs in the browser: once the tab is gone the kernel idles and is culled
    (Voilà itself never stops it, voila#1458)."""
    import psutil

    from workbench.ui._serve import CULL_IDLE_SECONDS, CULL_INTERVAL_SECONDS

    server, proc = start_dashboard(demo_home, preheat=False, log_path=output_dir / "voila-cull.log")
    try:
        voila = psutil.Process(proc.pid)

        def kernels():
            return [c for c in voila.children(recursive=True) if "ipykernel" in " ".join(c.cmdline())]

        before = {k.pid for k in kernels()}  # start_dashboard's own GET rendered a page too
        page, _ = open_dashboard(browser, server)
        mine = [k for k in kernels() if k.pid not in before]
        assert len(mine) == 1
        page.wait_for_timeout(5000)
        assert mine[0].is_running()  # ticking, connected: alive

        def alive() -> bool:
            return mine[0].is_running() and mine[0].status() != psutil.STATUS_ZOMBIE

        page.close()
        closed = time.monotonic()
        while alive() and time.monotonic() - closed < 120:
            time.sleep(2)
        gone_after = time.monotonic() - closed
        assert not alive(), f"the closed page's kernel still runs after {gone_after:.0f} s"
        assert gone_after <= CULL_IDLE_SECONDS + CULL_INTERVAL_SECONDS + 15
    finally:
        stop(proc)
