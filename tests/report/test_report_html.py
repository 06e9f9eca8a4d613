"""The shipped report on the demo data: every section is in the HTML, with the store's numbers."""

from __future__ import annotations

import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow

SECTIONS = ["header", "summary", "charts", "processes", "alerts", "forecast", "executor", "changes", "fleet"]


@pytest.fixture(scope="module")
def page(report_run):
    return Path(report_run.html).read_text(encoding="utf-8")


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[dict[str, str]] = []

    def handle_starttag(self, tag, attrs):
        data = {k[5:]: v or "" for k, v in attrs if k.startswith("data-")}
        if data:
            self.found.append(data)


@pytest.fixture(scope="module")
def elements(page):
    parser = _Elements()
    parser.feed(page)
    return parser.found


@pytest.fixture(scope="module")
def period(elements):
    meta = next(e for e in elements if "start" in e and "end" in e)
    return pd.Timestamp(meta["start"]), pd.Timestamp(meta["end"])


def _attrs(elements: list[dict[str, str]], key: str) -> list[dict[str, str]]:
    """Every element that carries ``data-<key>``, with all its data-* attributes (in page order)."""
    return [e for e in elements if key in e]


def test_run_is_kept_with_notebook_html_and_record(report_run):
    d = Path(report_run.dir)
    assert report_run.status == "ok"
    assert {"report.html", "report.ipynb", "run.json"} <= {p.name for p in d.iterdir()}
    run = json.loads((d / "run.json").read_text())
    assert run["status"] == "ok" and run["params"]["since"] == "1d" and run["html_bytes"] > 0
    index = (d.parent.parent / "index.html").read_text()
    assert f'{d.name}/report.html' in index and 'data-status="ok"' in index


def test_every_section_is_there_and_code_is_hidden(page):
    for s in SECTIONS:
        assert f'id="wb-{s}"' in page, s
    for h in ("Summary", "Metrics by family", "Top processes", "Alerts and anomalies", "Forecasts for the next",
              "Capacity warnings", "Executor", "What changed", "Fleet (17 hosts)"):
        assert h in page, h
    assert "Daily test report" in page
    assert "rep.summary()" not in page and "from workbench.report import" not in page  # --no-input
    assert "Traceback" not in page
    assert "<script src=" not in page  # no require.js / MathJax / widget manager from a CDN
    assert page.count("plotly.js v") == 1 or page.count("* plotly.js") == 1  # plotly.js once


def _fleet_mean(store, metric, labels, start, end, invert=False):
    df = store.sql("SELECT host, avg(value) AS v FROM samples WHERE metric = ? AND labels = ? AND ts >= ? AND ts < ? "
                   "GROUP BY host", [metric, labels, start.to_pydatetime(), end.to_pydatetime()])
    v = float(df["v"].mean())
    return 1 - v if invert else v


def test_summary_numbers_equal_direct_queries_of_the_raw_samples(elements, period, demo_home):
    from workbench.store import Store

    store = Store(demo_home)
    start, end = period
    cards = {c["kpi"]: c for c in _attrs(elements, "kpi")}
    assert {"cpu", "memory", "requests", "network"} <= set(cards)
    cpu = cards["cpu"]
    assert math.isclose(float(cpu["value"]), _fleet_mean(store, "system.cpu.utilization", "cpu=total,state=idle",
                                                         start, end, invert=True), rel_tol=1e-9)
    assert math.isclose(float(cpu["previous"]), _fleet_mean(store, "system.cpu.utilization", "cpu=total,state=idle",
                                                            start - (end - start), start, invert=True), rel_tol=1e-9)
    req = cards["requests"]
    assert math.isclose(float(req["value"]), _fleet_mean(store, "app.http.requests", "", start, end), rel_tol=1e-9)
    peak = store.sql("SELECT max(value) FROM samples WHERE metric = 'app.http.requests' AND ts >= ? AND ts < ?",
                     [start.to_pydatetime(), end.to_pydatetime()]).iloc[0, 0]
    assert math.isclose(float(req["peak"]), float(peak), rel_tol=1e-12)


def test_fleet_and_process_rows_equal_direct_queries(elements, period, demo_home):
    from workbench.store import Store

    store = Store(demo_home)
    start, end = period
    rows = {r["host"]: r for r in _attrs(elements, "cpu") if "host" in r}
    assert len(rows) == 17
    direct = store.sql("SELECT host, 1 - avg(value) AS busy FROM samples WHERE metric = 'system.cpu.utilization' "
                       "AND labels = 'cpu=total,state=idle' AND ts >= ? AND ts < ? GROUP BY host",
                       [start.to_pydatetime(), end.to_pydatetime()])
    assert len(direct) >= 10
    for r in direct.itertuples():
        assert math.isclose(float(rows[r.host]["cpu"]), r.busy, rel_tol=1e-9), r.host
    procs = _attrs(elements, "cpu-mean")
    assert procs, "the demo workstation records processes"
    top = procs[0]
    want = store.sql("SELECT avg(value) FROM samples WHERE metric = 'process.cpu.utilization' AND host = ? AND "
                     "regexp_matches(labels, ?) AND ts >= ? AND ts < ?",
                     [top["host"], f"(^|,)name={re.escape(top['name'])}(,|$)", start.to_pydatetime(),
                      end.to_pydatetime()]).iloc[0, 0]
    assert math.isclose(float(top["cpu-mean"]), float(want), rel_tol=1e-9)


def test_charts_forecasts_and_changes_are_drawn_from_the_data(page, elements):
    charts = [(e["chart"], e["traces"]) for e in _attrs(elements, "chart")]
    names = [c for c, _ in charts]
    assert "system.cpu|1" in names and "app.http|{request}/s" in names and "fleet" in names
    assert all(int(n) >= 1 for _, n in charts)
    assert "forecast|cpu" in names
    fc = _attrs(elements, "forecast")
    assert fc and all(math.isfinite(float(f["mean"])) for f in fc)
    # the demo workstation's history is only minutes long: every one of its series started in this period
    started = {e["started"] for e in _attrs(elements, "started")}
    assert "workstation|system.memory.utilization" in started
