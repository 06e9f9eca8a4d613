"""Panels without a browser: values checked against direct store queries on the demo data."""

from __future__ import annotations

import math
import time

import pandas as pd
import pyarrow as pa
import pytest

from workbench.store import Store
from workbench.ui import KpiCards, LiveChart, ProcessTable
from workbench.ui._base import (
    RANGES,
    PageLog,
    Panel,
    fmt_value,
    range_window,
    sparkline_svg,
    tier_for_step,
)
from workbench.ui._kpi import KPIS, kpi_thresholds
from workbench.ui._widgets import Chart, Table


@pytest.fixture(scope="module")
def store(demo_home) -> Store:
    return Store(demo_home)


def test_fmt_value_reads_like_a_person_would():
    assert fmt_value(0.423, "1") == "42 %"
    assert fmt_value(0.05, "1") == "5.0 %"
    assert fmt_value(3 * 1024**3, "By") == "3.0 GiB"
    assert fmt_value(1536, "By/s") == "1.5 KiB/s"
    assert fmt_value(10.5, "{thread}") == "10.5 thread"
    assert fmt_value(float("nan"), "1") == "–"
    assert fmt_value(None) == "–"


def test_range_steps_pick_the_tier_the_store_reads():
    assert [tier_for_step(RANGES[r][1]) for r in RANGES] == ["raw", "raw", "1m", "1m", "1h"]
    s, e, step = range_window("custom:2026-12-01T00:00/2026-12-05T00:00")
    assert e - s == 4 * 86400 and step == 3600 and tier_for_step(step) == "1h"
    s, e, step = range_window("custom:2026-12-01T08:00/2026-12-01T09:00")
    assert step < 60
    with pytest.raises(ValueError, match="must be after"):
        range_window("custom:2026-12-02/2026-12-01")
    with pytest.raises(ValueError, match="Unknown range"):
        range_window("3 weeks")


def test_sparkline_draws_finite_points_only():
    svg = sparkline_svg([1.0, float("nan"), 2.0, 3.0], label="x<y")
    polyline = svg.split('<polyline points="')[1].split('"')[0]
    assert len(polyline.split()) == 3
    assert "x&lt;y" in svg
    assert "<polyline" not in sparkline_svg([1.0])


def test_kpi_cards_show_the_latest_values(store):
    cards = KpiCards(store, host="workstation")
    cards.refresh()
    direct = store.sql(
        "SELECT arg_max(value, ts) AS v FROM samples WHERE host = 'workstation' AND metric = ?",
        ["system.memory.utilization"])["v"].iloc[0]
    assert cards.values["memory"] == pytest.approx(direct)
    idle = store.sql(
        "SELECT arg_max(value, ts) AS v FROM samples WHERE host = 'workstation' AND metric = 'system.cpu.utilization' "
        "AND labels = 'cpu=total,state=idle'")["v"].iloc[0]
    assert cards.values["cpu"] == pytest.approx(1 - idle)
    html = cards._cards["memory"].value
    assert fmt_value(direct, "1").split()[0] in html and 'data-kpi="memory"' in html


def test_kpi_levels_come_from_threshold_rules():
    from workbench.detect._rules import rules_from_config

    rules = rules_from_config({"rules": [
        {"name": "cpu_busy", "kind": "threshold", "metric": "system.cpu.utilization", "op": "<", "fire": 0.1,
         "labels": {"state": "idle"}, "severity": "critical"},
        {"name": "mem", "kind": "threshold", "metric": "system.memory.utilization", "fire": 0.7},
    ]})
    cpu = next(k for k in KPIS if k.key == "cpu")
    mem = next(k for k in KPIS if k.key == "memory")
    warn, crit, source = kpi_thresholds(cpu, rules)
    assert crit == pytest.approx(0.9) and source == "rule cpu_busy"
    warn, crit, source = kpi_thresholds(mem, rules)
    assert warn == pytest.approx(0.7) and source == "rule mem"
    assert kpi_thresholds(mem, [])[2] == "default"


@pytest.mark.parametrize("rng", ["1 h", "24 h", "7 d"])
def test_live_chart_reads_the_range_tier(store, rng):
    chart = LiveChart(store, host="ec2-825cc2", metric="system.cpu.utilization", labels="cpu=total", range=rng)
    chart.refresh_slow()
    start, end, step = range_window(rng)
    assert chart.tier == tier_for_step(step)
    direct = store.query("system.cpu.utilization", pd.Timestamp(start, unit="s", tz="UTC"),
                         pd.Timestamp(end, unit="s", tz="UTC"), step=step, host="ec2-825cc2", labels={"cpu": "total"})
    traces = [t for t in chart.chart.figure["data"] if t.get("mode", "").startswith("lines") and not t.get("fill")]
    assert sum(len(t["x"]) for t in traces) == pytest.approx(len(direct), abs=len(traces))
    assert chart.chart.figure["layout"]["meta"]["tier"] == chart.tier


def test_live_chart_appends_only_new_buckets(tmp_path):
    store = Store(tmp_path, host="live")
    now = time.time()
    step = RANGES["15 min"][1]
    t0 = math.floor(now / step) * step - 300
    ts = pd.to_datetime([t0 + i for i in range(300)], unit="s", utc=True)
    store.append(pd.DataFrame({"ts": ts, "metric": "system.memory.utilization", "labels": "", "value": 0.5}))
    chart = LiveChart(store, host="live", metric="system.memory.utilization", range="15 min")
    chart.refresh_slow()
    before = len(chart.chart.figure["data"][0]["x"])
    sent = []
    chart.chart.send = lambda msg, buffers=None: sent.append(msg)  # record what reaches the browser
    # nothing new: nothing is read into the figure or sent
    chart.refresh()
    assert sent == []
    # three more whole buckets of data
    last = chart._last_bucket
    more = pd.to_datetime([last + i for i in range(int(3 * step))], unit="s", utc=True)
    store.append(pd.DataFrame({"ts": more, "metric": "system.memory.utilization", "labels": "", "value": 0.75}))
    chart._last_bucket, real = last, time.time
    import workbench.ui._charts as charts

    charts.time.time = lambda: last + 3 * step + 0.5
    try:
        chart.refresh()
    finally:
        charts.time.time = real
    assert len(sent) == 1 and sent[0]["type"] == "extend"
    assert len(sent[0]["update"]["x"][0]) == 3 and sent[0]["update"]["y"][0] == [0.75, 0.75, 0.75]
    assert len(chart.chart.figure["data"][0]["x"]) == before + 3


def test_a_failing_refresh_reaches_the_page_log_and_the_next_one_runs():
    class Broken:
        calls = 0

        def latest(self, **kw):
            Broken.calls += 1
            raise OSError("disk gone")

        latest_table = latest  # what the panels read every tick

    log = PageLog().attach()
    try:
        panel = ProcessTable(Broken(), host="h")
        panel.refresh()
        panel.refresh()
        assert Broken.calls == 2 and panel.errors == 2
        # a refresh failing every tick is one line (then one a minute with the count), not one per tick
        assert log.count == 1 and "disk gone" in log._html.value and "raise OSError" in log._html.value  # its traceback
        Broken.latest = Broken.latest_table = lambda self, **kw: pa.table(  # the disk is back
            {"ts": pa.array([], pa.timestamp("us", "UTC")), "metric": pa.array([], pa.string()),
             "labels": pa.array([], pa.string()), "value": pa.array([], pa.float64())})
        panel.refresh()
    finally:
        log.detach()
    assert panel.errors == 2
    assert log.count == 2 and "recovered after 2 failure(s)" in log._html.value


def test_process_table_matches_the_newest_collection(store):
    panel = ProcessTable(store, host="workstation")
    panel.refresh()
    newest = store.sql("SELECT max(ts) AS t FROM samples WHERE host = 'workstation' AND metric = 'process.memory.usage'")["t"].iloc[0]
    direct = store.sql("SELECT labels, value FROM samples WHERE host = 'workstation' AND metric = 'process.memory.usage' "
                       "AND ts = ?", [newest.to_pydatetime()])
    assert len(panel.table.rows) == len(direct) > 0
    assert sorted(r[3][1] for r in panel.table.rows) == sorted(direct["value"].tolist())


def test_chart_and_table_send_json_safe_values():
    chart = Chart({"data": [{"type": "scatter", "x": [1], "y": [1.0]}], "layout": {}})
    sent = []
    chart.send = lambda msg, buffers=None: sent.append(msg)
    chart.extend([[2, 3]], [[float("nan"), 2.0]], [0], max_points=2)
    assert sent[0]["update"]["y"] == [[None, 2.0]]
    assert chart.figure["data"][0]["x"] == [2, 3] and chart.figure["data"][0]["y"] == [None, 2.0]
    table = Table(columns=[{"key": "a", "label": "A", "numeric": True}])
    table.set_rows([[("–", float("nan"))], [("1", 1.0)]])
    assert table.rows == [[["–", None]], [["1", 1.0]]]


def test_export_is_what_the_chart_shows(store):
    chart = LiveChart(store, host="workstation", metric="system.memory.utilization", range="1 h")
    chart.refresh_slow()
    name, data = chart.export("csv")
    assert name.endswith(".csv")
    back = pd.read_csv(__import__("io").BytesIO(data))
    assert len(back) == len(chart.frame) > 0
    name, data = chart.export("parquet")
    assert pd.read_parquet(__import__("io").BytesIO(data))["value"].tolist() == chart.frame["value"].tolist()


def test_fleet_lists_every_host_with_demo_labels(store):
    from workbench.ui import FleetView

    fleet = FleetView(store)
    fleet.refresh_slow()
    hosts = [r[0][1] for r in fleet.table.rows]
    assert hosts == store.hosts() and len(hosts) == 17
    assert all("demo" in r[0][0] for r in fleet.table.rows)
    fleet._pick(hosts.index("ec2-825cc2"))
    assert fleet.selected == "ec2-825cc2"


def test_forecast_panel_draws_bands_around_the_mean(store):
    from workbench.ui import ForecastPanel

    panel = ForecastPanel(store, host="ec2-825cc2", metric="system.cpu.utilization", labels="state=user", horizon="6 h")
    panel.refresh_slow()
    panel.wait(120)
    res = panel.result
    assert "error" not in res, res
    fc = res["forecast"]
    assert len(fc) == 72
    assert (fc["lo_95"] <= fc["lo_80"] + 1e-12).all() and (fc["lo_80"] <= fc["mean"] + 1e-12).all()
    assert (fc["mean"] <= fc["hi_80"] + 1e-12).all() and (fc["hi_80"] <= fc["hi_95"] + 1e-12).all()
    names = [t.get("name") for t in panel.chart.figure["data"]]
    assert names == ["history", "95 % interval", "80 % interval", "forecast"]
    assert "model" in panel._info.value


def test_panel_inputs_are_traitlets_a_page_can_link():
    import traitlets

    assert {"store", "host", "metric", "labels", "range", "theme"} <= set(Panel.class_trait_names())
    a, b = LiveChart(), LiveChart()
    traitlets.link((a, "host"), (b, "host"))
    a.host = "x"
    assert b.host == "x"


def test_capacity_card_says_when_a_growing_disk_reaches_90_percent(tmp_path):
    from workbench.ui._forecast import capacity_cards

    store = Store(tmp_path, host="box")
    hours = 14 * 24
    ts = pd.date_range(end=pd.Timestamp.now("UTC").floor("h"), periods=hours, freq="1h")
    rng = __import__("numpy").random.default_rng(0)
    value = 0.5 + 0.3 * (pd.Series(range(hours)) / hours).to_numpy() + rng.normal(0, 0.002, hours)
    store.append(pd.DataFrame({"ts": ts, "metric": "system.filesystem.utilization",
                               "labels": "device=/dev/sda1,mountpoint=/,type=ext4", "value": value}))
    cards = capacity_cards(store, "box")
    assert [c["what"] for c in cards] == ["/"]
    text = cards[0]["text"]
    # 0.8 now, +0.3 per 14 days: 90 % in about 4.7 days
    assert text.startswith("reaches 90% in ~") and "days" in text and "[" in text, text
    days = float(text.split("~")[1].split()[0])
    assert 3.5 <= days <= 6.0, text


def test_dashboard_links_pickers_and_fleet_clicks_to_every_panel(store):
    from workbench.ui import Dashboard

    dash = Dashboard(store)
    assert dash.host == "workstation"  # no live agent in this home: the demo workstation
    dash.top()
    dash.load()
    dash.fleet._pick(dash.fleet.hosts.index("ec2-825cc2"))
    assert dash.host == "ec2-825cc2" == dash.host_picker.value
    assert {p.host for p in dash.panels} == {"ec2-825cc2"}
    assert dash.kpis.values["cpu"] == pytest.approx(
        1 - store.latest("system.cpu.utilization", host="ec2-825cc2", labels={"state": "idle"})["value"].iloc[0])
    dash.range_picker.value = "7 d"
    assert {p.range for p in dash.panels} == {"7 d"} and dash.live.tier == "1h"
    dash.range_picker.value = "custom"
    dash.custom_range.value = "2026-12-02T00:00/2026-12-01T00:00"  # backwards: refused on the page
    assert dash.range == "7 d" and "must be after" in dash.page_log._html.value
    dash.theme_picker.value = "dark"
    assert "wb-dark" in dash.header._dom_classes and dash.live.chart.theme == "dark"
    for _ in range(3):
        dash.tick()
    assert dash.ticks == 3
    dash.page_log.detach()


def test_latest_reads_only_what_is_new_and_drops_series_gone_quiet(tmp_path):
    from workbench.ui import _base

    store = Store(tmp_path, host="live")
    now = time.time()

    def put(t, metric, value, labels=""):
        store.append(pd.DataFrame({"ts": pd.to_datetime([t], unit="s", utc=True), "metric": metric,
                                   "labels": labels, "value": value}))

    put(now - 400, "system.memory.utilization", 0.2)  # quiet for 400 s: inside a 10 min window
    put(now - 5, "system.cpu.load_average.1m", 1.0)
    entry = _base._Latest(store, "live", "10min")
    entry.refresh()
    assert {r[1]: r[3] for r in entry.rows} == {"system.memory.utilization": 0.2, "system.cpu.load_average.1m": 1.0}
    windows = []
    real = store.latest_table
    store.latest_table = lambda **kw: (windows.append(kw["within"]), real(**kw))[1]
    put(now - 1, "system.cpu.load_average.1m", 2.0)
    entry.refresh()
    assert float(windows[-1].rstrip("s")) < 60  # the second read asks only for the last seconds
    assert {r[1]: r[3] for r in entry.rows} == {"system.memory.utilization": 0.2, "system.cpu.load_average.1m": 2.0}
    # ten minutes later the memory series has gone quiet: it drops out, as Store.latest(within=10min) drops it
    put(now + 300, "system.cpu.load_average.1m", 3.0)
    entry.read_at -= 300  # as if the last read was five minutes ago
    entry.refresh()
    assert {r[1]: r[3] for r in entry.rows} == {"system.cpu.load_average.1m": 3.0}
    assert sorted(r[1] for r in entry.rows) == sorted(store.latest(host="live", within="10min")["metric"])


def test_every_trace_a_panel_draws_is_in_the_shipped_plotly_bundle(store):
    """The page loads plotly.js's cartesian partial bundle, not the full one: a trace type
    outside it (scattergl, scatter3d, ...) would leave its chart blank."""
    import re

    from workbench.ui import Dashboard
    from workbench.ui._widgets import plotly_js

    registered = set(re.findall(r'"(\w+)",basePlotModule', plotly_js().decode()))
    assert {"scatter", "bar", "heatmap"} <= registered
    dash = Dashboard(store)
    dash.top()
    dash.load()
    charts = [w for p in dash.panels for w in _walk(p) if isinstance(w, Chart)]
    assert len(charts) >= 4
    used = {t.get("type", "scatter") for c in charts for t in c.figure.get("data", [])}
    assert used and used <= registered, used - registered
    dash.page_log.detach()


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def test_every_slow_refresh_gets_its_turn(store):
    """One slow panel per tick, and none starves: each runs about once per its period."""
    from workbench.ui import Dashboard

    dash = Dashboard(store)
    counts = dict.fromkeys(dash._every, 0)
    for name in counts:
        def counted(name=name):
            counts[name] += 1
        panel = getattr(dash, name)
        if panel.loads_in_background:
            panel._load_slow = counted
            panel._apply_slow = lambda data: None
        else:
            panel.refresh_slow = counted
    for panel in dash.panels:
        panel.refresh = lambda: None
    for _ in range(600):
        dash.tick()
        time.sleep(0.001)  # room for the worker thread
    dash._worker.shutdown(wait=True)
    for name, every in dash._every.items():
        assert 600 // every - 3 <= counts[name] <= 600 // every, (name, counts)
    dash.page_log.detach()


def test_a_long_slow_read_never_holds_up_a_tick(store):
    """The history chart's slow read runs in the worker thread; the tick that starts it returns
    at once, a later tick draws its result, and a read for inputs since changed is dropped."""
    from workbench.ui import Dashboard

    dash = Dashboard(store)
    dash.top()
    dash.load()
    real = dash.live._load_slow

    def slow():
        time.sleep(1.0)
        return real()

    dash.live._load_slow = slow
    dash._due = {name: (0 if name == "live" else 10**9) for name in dash._due}
    dash.live.chart.figure = {"data": [], "layout": {}}
    t0 = time.perf_counter()
    dash.tick()
    assert time.perf_counter() - t0 < 0.5 and "live" in dash._loading
    dash._loading["live"][1].result(timeout=60)
    dash.tick()
    assert "live" not in dash._loading and len(dash.live.chart.figure["data"]) > 0
    # a read started for one range is not drawn once the range has changed
    dash._due["live"] = 0
    dash.tick()
    job = dash._loading["live"]
    dash.live.generation += 1  # as a range pick does
    job[1].result(timeout=60)
    dash.live.chart.figure = {"data": [], "layout": {}}
    dash.live.apply_loaded(job)
    assert dash.live.chart.figure["data"] == []
    dash.page_log.detach()


def test_alert_panel_labels_an_alert_as_a_false_alarm(tmp_path):
    """An operator's verdict from the alert panel lands in the home's label store, tied to the alert."""
    from workbench import labels
    from workbench.detect import backtest_rule, rule_from_dict
    from workbench.ui import AlertPanel

    store = Store(tmp_path, host="box")
    now = time.time()
    ts = pd.to_datetime([now - 3600 + 10 * i for i in range(300)], unit="s", utc=True)
    values = [0.95 if 100 <= i < 130 else 0.2 for i in range(300)]  # one burst, long resolved
    series = pd.DataFrame({"ts": ts, "host": "box", "metric": "system.memory.utilization", "labels": "", "value": values})
    store.append(series.drop(columns="host"))
    rule = rule_from_dict({"name": "mem-high", "kind": "threshold", "metric": "system.memory.utilization",
                           "fire": 0.9, "resolve": 0.5, "for": "30s"})
    store.append_records("alerts", backtest_rule(rule, series).records)
    panel = AlertPanel(store, by="tester")
    panel.refresh_slow()
    rows = [w for w in panel._list.children if isinstance(w, __import__("ipywidgets").HBox)]
    assert len(rows) == 1 and "resolved" in rows[0].children[0].value
    label_button = rows[0].children[1]
    label_button.click()
    assert panel._confirm.layout.display == "" and panel._verdict.layout.display == ""
    panel._verdict.value = "false_alarm"
    panel._reason.value = "a backup job, expected"
    next(b for b in panel._confirm.children[-1].children if b.description == "Confirm").click()
    found = labels.list_labels(store, include_demo=False)
    alert_id = store.sql("SELECT DISTINCT alert_id FROM alerts")["alert_id"].tolist()
    assert found["verdict"].tolist() == ["false_alarm"] and found["alert_id"].tolist() == alert_id
    assert found["note"].tolist() == ["a backup job, expected"] and found["by"].tolist() == ["tester"]
    assert "labelled false alarm" in panel._list.children[0].children[0].value
    assert "as a false alarm" in panel._status.value
    # nothing written since: the next slow refresh reads nothing; a new record is read at once
    panel._list.children = ()
    panel.refresh_slow()
    assert panel._list.children == ()
    labels.label_alert(store, {"host": "box", "fired": ts[100], "alert_id": alert_id[0]}, "incident")
    panel.refresh_slow()
    assert len(panel._list.children) == 1


def test_alert_rows_are_kept_across_reads_and_closed_when_their_alert_leaves(tmp_path):
    """Re-reading the alerts updates the listed rows in place (no new widgets registered with the
    kernel each read); a row whose alert is no longer listed is closed, its layouts with it."""
    import ipywidgets as W
    from ipywidgets.widgets.widget import _instances

    from workbench.detect import backtest_rule, rule_from_dict
    from workbench.ui import AlertPanel

    store = Store(tmp_path, host="box")
    now = time.time()
    ts = pd.to_datetime([now - 3000 + 10 * i for i in range(300)], unit="s", utc=True)
    values = [0.95 if i >= 250 else 0.2 for i in range(300)]  # firing now
    series = pd.DataFrame({"ts": ts, "host": "box", "metric": "system.memory.utilization", "labels": "", "value": values})
    store.append(series.drop(columns="host"))
    rule = rule_from_dict({"name": "mem-high", "kind": "threshold", "metric": "system.memory.utilization",
                           "fire": 0.9, "resolve": 0.5, "for": "30s"})
    store.append_records("alerts", backtest_rule(rule, series).records)
    panel = AlertPanel(store, by="tester")
    panel.refresh_slow()
    rows = [w for w in panel._list.children if isinstance(w, W.HBox)]
    assert len(rows) == 1 and "firing" in rows[0].children[0].value
    registered = len(_instances)
    for _ in range(4):
        panel._seen = None  # as if a record was written: every row is re-read
        panel.refresh_slow()
    assert len(_instances) == registered
    assert [id(w) for w in panel._list.children] == [id(w) for w in rows]
    # the buttons act on the record of the latest read
    rows[0].children[2].children[0].click()
    assert panel._pending_action[0] == "ack" and "mem-high" in panel._confirm_text.value
    panel._hide_confirm()
    # another host: nothing listed, the two rows and every widget in them are closed
    inner = [rows[0].children[0], rows[0].children[0].layout, rows[0].children[2].children[0].style]
    panel.only_host, panel.host = True, "elsewhere"
    panel._seen = None
    panel.refresh_slow()
    assert "No alerts firing" in panel._list.children[0].value
    assert all(w.comm is None for w in [*rows, *inner])
    assert len(_instances) < registered


def test_forecast_after_a_recording_gap_is_fitted_on_what_came_after(tmp_path):
    # An agent stopped for 40 minutes (a laptop asleep) left a hole no model may bridge:
    # the panel used to show prepare_series' refusal instead of a forecast.
    from workbench.ui._forecast import fit_forecast

    store = Store(tmp_path, host="box")
    end = pd.Timestamp.now("UTC").floor("min")
    before = pd.date_range(end=end - pd.Timedelta("100min"), periods=60, freq="1min")
    after = pd.date_range(end=end, periods=60, freq="1min")
    ts = before.append(after)
    value = 0.3 + 0.1 * (pd.Series(range(len(ts))) % 10 / 10).to_numpy()
    store.append(pd.DataFrame({"ts": ts, "metric": "system.memory.utilization", "labels": "", "value": value}))
    res = fit_forecast(store, "box", "system.memory.utilization", "", "1 h")
    assert "error" not in res, res
    assert res["y"].index[0] > before[-1] and len(res["y"]) == 60
    assert "recording gap" in res["gap"] and f"{before[-1] + pd.Timedelta('1min'):%H:%M}" in res["gap"]
    assert len(res["forecast"]) > 0 and res["forecast"]["mean"].notna().all()


def test_since_last_gap_keeps_short_holes_and_cuts_at_the_last_long_one():
    from workbench.ui._forecast import since_last_gap

    idx = pd.date_range("2026-01-01", periods=30, freq="1min", tz="UTC")
    y = pd.Series(1.0, index=idx)
    y.iloc[3:5] = float("nan")  # short: kept, prepare_series fills it
    assert since_last_gap(y)[1] is None and since_last_gap(y)[0] is y
    y.iloc[8:15] = float("nan")  # 7 > 5 points
    y.iloc[18:25] = float("nan")
    tail, gap = since_last_gap(y)
    assert gap == (idx[18], idx[24]) and list(tail.index) == list(idx[25:])
