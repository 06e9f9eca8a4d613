"""The incident drill-down's one query against direct store queries, on a copy of the demo
home with alerts replayed by the real AlertManager and task runs written by the executor's sink."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from workbench import explore
from workbench.detect import backtest_rule, rule_from_dict
from workbench.errors import DataError, UnknownMetricError
from workbench.execute._record import StoreSink
from workbench.execute._runs import TaskRun
from workbench.store import Store

HOST, METRIC, SERIES = "workstation", "system.cpu.utilization", "cpu=total,state=user"
RULE = {"name": "cpu-busy", "kind": "threshold", "metric": METRIC, "labels": {"cpu": "total", "state": "user"},
        "fire": 0.8, "resolve": 0.6, "for": "20s"}


@pytest.fixture(scope="module")
def home(demo_home, tmp_path_factory):
    home = tmp_path_factory.mktemp("drill") / "home"
    shutil.copytree(demo_home, home)
    store = Store(home, host=HOST)
    hist = store.query(METRIC, "1d", host=HOST, labels={"cpu": "total", "state": "user"})
    records = backtest_rule(rule_from_dict(RULE), hist).records  # what the agent's AlertManager records
    store.append_records("alerts", records)
    first = explore.incidents(store).iloc[0]
    t = first["fired"].timestamp()
    sink = StoreSink(store)  # the executor's own writer of task_runs
    sink.write([
        TaskRun(1, "k1", "compress", ("demo",), "done", 0.0, t - 100, t - 90, t + 30, 1, 50.0, 2**20, None, "process"),
        TaskRun(2, "k2", "train", ("demo",), "failed", 0.0, t - 3000, t - 2900, t - 2000, 1, 5.0, None, "boom", "thread"),
        TaskRun(3, "k3", "never", ("demo",), "cancelled", 0.0, t - 10, None, t, 0, None, None, None, "thread"),
    ])
    sink.flush()
    return home


@pytest.fixture(scope="module")
def store(home) -> Store:
    return Store(home, host=HOST)


def _window(store, alert_id, fired, before=300, after=300):
    ep = store.sql("SELECT min(ts) FILTER (WHERE event = 'resolved' AND ts >= ?) AS resolved FROM alerts WHERE alert_id = ?",
                   [fired.to_pydatetime(), alert_id]).iloc[0]
    end = ep["resolved"] if pd.notna(ep["resolved"]) else fired
    return fired - pd.Timedelta(seconds=before), pd.Timestamp(end).floor("us") + pd.Timedelta(seconds=after)


def test_incidents_are_the_firings_of_the_alerts_table(store):
    found = explore.incidents(store)
    direct = store.sql("SELECT alert_id, ts FROM alerts WHERE event = 'firing' ORDER BY ts")
    assert len(found) == len(direct) >= 2
    diff = (found["fired"] - pd.to_datetime(direct["ts"], utc=True)).abs()
    assert (diff < pd.Timedelta(microseconds=1)).all()  # the backtest's times carry float ns; the view keeps us
    assert found["resolved"].iloc[0] > found["fired"].iloc[0]


def test_alert_drill_down_equals_direct_queries(store):
    ep = explore.incidents(store).iloc[0]
    inc = explore.drill_down(store, ep, before="5min", after="5min")
    t0, t1 = _window(store, ep["alert_id"], ep["fired"])
    assert inc.start == t0 and abs((inc.end - t1).total_seconds()) < 1e-3
    args = [t0.to_pydatetime(), inc.end.to_pydatetime()]

    direct = store.sql("SELECT ts, value FROM samples WHERE host = ? AND metric = ? AND labels = ? AND ts >= ? AND ts < ? ORDER BY ts",
                       [HOST, METRIC, SERIES, *args])
    got = inc.metric_rows
    assert len(got) == len(direct) > 100 and set(got["labels"]) == {SERIES}
    assert got["value"].tolist() == direct["value"].tolist()

    events = store.sql("SELECT event FROM alerts WHERE alert_id = ? AND ts >= ? AND ts < ? ORDER BY ts", [ep["alert_id"], *args])
    assert inc.alert["event"].tolist() == events["event"].tolist() and "firing" in events["event"].tolist()

    procs = store.sql("""
        SELECT labels, avg(value) FILTER (WHERE metric = 'process.cpu.utilization') AS cpu,
               max(value) FILTER (WHERE metric = 'process.memory.usage') AS mem
        FROM samples WHERE host = ? AND metric LIKE 'process.%' AND ts >= ? AND ts < ? GROUP BY labels""", [HOST, *args])
    by_cpu = procs.sort_values("cpu", ascending=False).head(inc.top)
    assert inc.top_cpu["cpu_mean"].round(9).tolist() == by_cpu["cpu"].round(9).tolist()
    assert inc.top_cpu["pid"].tolist() == [int(s.split("pid=")[1]) for s in by_cpu["labels"]]
    by_mem = procs.sort_values("mem", ascending=False).head(inc.top)
    assert inc.top_memory["memory_peak"].tolist() == by_mem["mem"].tolist()

    tasks = store.sql('SELECT name FROM task_runs WHERE started IS NOT NULL AND started < ? AND coalesce("ended", ?) >= ? ORDER BY started',
                      [args[1], args[1], args[0]])
    assert inc.tasks["name"].tolist() == tasks["name"].tolist() == ["compress"]
    assert inc.no_tasks_reason() is None
    fig = inc.figure()
    assert fig["layout"]["shapes"] and any(t.get("yaxis") == "y2" for t in fig["data"])
    html = inc._repr_html_()
    assert "compress" in html and "Top 5 processes by CPU" in html


def test_window_drill_down_with_a_label_filter(store):
    phase = store.sql("SELECT start, \"end\" FROM demo_phases WHERE phase = 'memory'").iloc[0]
    inc = explore.drill_down(store, host=HOST, metric="system.memory.usage", labels={"state": ["used", "cached"]},
                             start=phase["start"], end=phase["end"], top=3)
    direct = store.query("system.memory.usage", phase["start"], phase["end"], host=HOST,
                         labels={"state": ["used", "cached"]})
    got = inc.metric_rows
    assert len(got) == len(direct) > 100
    assert got.sort_values(["labels", "ts"])["value"].tolist() == direct.sort_values(["labels", "ts"])["value"].tolist()
    assert inc.alert.empty and len(inc.top_memory) <= 3
    assert inc.tasks.empty
    assert inc.no_tasks_reason().startswith("No executor tasks ran then: none of the 3 task runs")


def test_tasks_that_recorded_a_pid_are_joined_to_their_process(home):
    store = Store(home, host=HOST)
    inc0 = explore.drill_down(store, explore.incidents(store).iloc[0])
    pid = int(inc0.top_cpu["pid"].iloc[0])
    t = inc0.start + pd.Timedelta(seconds=30)
    store.append_records("task_runs", pd.DataFrame({
        "id": [9], "name": ["render"], "state": ["done"], "started": [t], "ended": [t + pd.Timedelta(minutes=1)], "pid": [pid]}))
    try:
        inc = explore.drill_down(store, explore.incidents(store).iloc[0])
        assert inc.pid_join
        row = inc.top_cpu[inc.top_cpu["pid"] == pid].iloc[0]
        assert row["task_name"] == "render"
        assert inc.top_cpu[inc.top_cpu["pid"] != pid]["task_name"].isna().all()
    finally:
        for p in store.layout.table_dir("task_runs", HOST).glob("*.parquet"):
            if store.sql("SELECT count(*) AS n FROM read_parquet(?) WHERE name = 'render'", [str(p)])["n"].iloc[0]:
                p.unlink()


def test_demo_home_without_alerts_falls_back_to_a_window(demo_home):
    store = Store(demo_home)
    assert explore.incidents(store).empty
    inc = explore.latest_incident(store)
    phase = store.sql("SELECT start, \"end\" FROM demo_phases WHERE phase = 'cpu'").iloc[0]
    assert inc.host == HOST and inc.start == phase["start"] and inc.alert_id is None
    assert len(inc.top_cpu) > 0 and inc.top_cpu["cpu_mean"].is_monotonic_decreasing
    assert inc.no_tasks_reason() == (f"No executor tasks ran then: task_runs holds no runs on {HOST} at all "
                                     f"({inc.start:%Y-%m-%d %H:%M:%S} UTC – {inc.end:%Y-%m-%d %H:%M:%S} UTC).")


def test_bad_input_is_refused_with_what_to_do(store):
    with pytest.raises(UnknownMetricError):
        explore.drill_down(store, host=HOST, metric="system.cpu.utilisation", start="1h")
    with pytest.raises(DataError, match="Host 'nope' has no data"):
        explore.drill_down(store, host="nope", metric=METRIC, start="1h")
    with pytest.raises(DataError, match="must end after it starts"):
        explore.drill_down(store, host=HOST, metric=METRIC, start="1h", end="2h")
    with pytest.raises(DataError, match="no firing at"):
        explore.drill_down(store, {"alert_id": "x", "fired": "2020-01-01"})
    with pytest.raises(DataError, match="top must be"):
        explore.drill_down(store, host=HOST, metric=METRIC, start="1h", top=0)
    with pytest.raises(DataError, match="missing"):
        explore.drill_down(store, {"alert_id": "x"})


def test_incident_picker_follows_the_choice(store, demo_home):
    picker = explore.IncidentPicker(store, before="2min", after="2min")
    found = explore.incidents(store)
    assert len(picker.pick.options) == len(found) and picker.pick.value == 0
    assert picker.incident.fired == found["fired"].iloc[-1]  # the newest first
    oldest = len(found) - 1
    picker.pick.value = oldest
    direct = explore.drill_down(store, found.iloc[0], before="2min", after="2min")
    assert picker.incident.fired == found["fired"].iloc[0]
    assert picker.incident.metric_rows["value"].tolist() == direct.metric_rows["value"].tolist()
    assert picker.chart.figure == direct.figure() and "Top 5 processes by CPU" in picker.details.value
    fresh = explore.IncidentPicker(Store(demo_home))
    assert fresh.pick.disabled and fresh.incident.alert_id is None and "No executor tasks ran then" in fresh.details.value
