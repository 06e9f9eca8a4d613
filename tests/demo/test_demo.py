"""The demo data set: loaded through the real store into a real home."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from workbench.demo import DemoExistsError, demo_hosts, load_demo
from workbench.store import Store

REPO = Path(__file__).resolve().parents[2]


def _shipped_counts(shipped) -> pd.Series:
    counts = shipped["cloudwatch"].groupby("host").size()
    counts["workstation"] = len(shipped["workstation"])
    return counts.sort_index()


def test_several_hosts_metrics_and_days(loaded, shipped):
    store = Store(loaded["home"])
    assert store.hosts() == sorted(demo_hosts())
    assert len(store.hosts()) >= 10
    assert loaded["samples"] == len(shipped["workstation"]) + len(shipped["cloudwatch"])
    span = store.sql("SELECT host, count(DISTINCT metric) AS m, min(ts) AS first, max(ts) AS last "
                     "FROM samples_1m GROUP BY host").set_index("host")
    assert span.loc["workstation", "m"] >= 15
    days = (span["last"] - span["first"]).dt.total_seconds() / 86400
    assert (days.drop(["workstation", "ec2-a2eb1cd9"]) > 13).all()
    assert 0.25 < (span.loc["workstation", "last"] - span.loc["workstation", "first"]).total_seconds() / 3600 < 0.5


def test_history_ends_now(loaded):
    store = Store(loaded["home"])
    last = store.sql("SELECT host, max(ts) AS last FROM samples GROUP BY host").set_index("host")["last"]
    assert len(last) == len(demo_hosts())
    assert (last >= loaded["before"] - pd.Timedelta("1min")).all()
    assert (last <= loaded["after"]).all()


def test_counts_per_host_match_the_shipped_files(loaded, shipped):
    # The 1-minute rollups keep the whole history (raw samples older than 7
    # days are expired by the store's default retention).
    store = Store(loaded["home"])
    got = store.sql("SELECT host, sum(count)::BIGINT AS n FROM samples_1m GROUP BY host ORDER BY host")
    assert got.set_index("host")["n"].to_dict() == _shipped_counts(shipped).to_dict()
    raw = store.sql("SELECT host, count(*) AS n FROM samples WHERE ts >= now() - INTERVAL 6 DAY GROUP BY host")
    ws = raw.set_index("host")["n"]["workstation"]
    assert ws == len(shipped["workstation"])


def test_catalogue_units_and_value_ranges(loaded):
    store = Store(loaded["home"])
    cat = store.metrics().set_index("name")
    assert tuple(cat.loc["system.cpu.utilization", ["unit", "kind"]]) == ("1", "gauge")
    assert tuple(cat.loc["system.disk.io", ["unit", "kind"]]) == ("By/s", "rate")
    assert tuple(cat.loc["app.http.requests", ["unit", "kind"]]) == ("{request}/s", "rate")
    cpu = store.query("system.cpu.utilization", "30d", step="1h", labels={"cpu": "total", "state": "user"})
    assert cpu.value.between(0, 1).all() and cpu.value.max() > 0.5
    # user + idle = 1 for the CloudWatch hosts (busy time is all user there)
    both = store.query("system.cpu.utilization", "30d", step="1h", labels={"cpu": "total", "state": ["user", "idle"]},
                       host="rds-cc0c53")
    sums = both.groupby("ts").value.sum()
    assert ((sums - 1).abs() < 1e-9).all()


def test_anomaly_windows_are_mapped_like_the_series(loaded, shipped):
    store = Store(loaded["home"])
    win = store.sql("SELECT * FROM demo_anomalies ORDER BY host, start")
    assert len(win) == len(shipped["anomalies"]) == 27
    end = store.sql("SELECT max(ts) AS t FROM samples WHERE host = 'ec2-825cc2'")["t"][0]
    w = win[win.host == "ec2-825cc2"].iloc[0]
    # NAB: series ends 2014-04-24 00:09, window 2014-04-15 07:24 .. 2014-04-16 11:54
    assert w.start == end - (pd.Timestamp("2014-04-24 00:09") - pd.Timestamp("2014-04-15 07:24"))
    assert w.end == end - (pd.Timestamp("2014-04-24 00:09") - pd.Timestamp("2014-04-16 11:54"))
    assert w.metric == "system.cpu.utilization"
    phases = store.sql("SELECT * FROM demo_phases ORDER BY start")
    assert {"cpu", "io", "memory", "mixed", "idle"} <= set(phases.phase)


def test_second_load_is_refused_and_changes_nothing(loaded):
    store = Store(loaded["home"])
    before = store.sql("SELECT count(*) AS n FROM samples")["n"][0]
    with pytest.raises(DemoExistsError, match="already holds demo hosts") as err:
        load_demo(loaded["home"])
    assert isinstance(err.value, FileExistsError)
    assert store.sql("SELECT count(*) AS n FROM samples")["n"][0] == before


def test_replace_reloads_without_duplicates(tmp_path, small_demo, monkeypatch):
    monkeypatch.setenv("WORKBENCH_DEMO_DATA", str(small_demo))
    first = load_demo(tmp_path, now="2026-03-04 05:06:07", compact=False)
    second = load_demo(tmp_path, now="2026-03-05 05:06:07", replace=True, compact=False)
    assert first == second
    store = Store(tmp_path)
    got = store.sql("SELECT host, sum(count)::BIGINT AS n, max(ts) AS last FROM samples_1m GROUP BY host")
    assert int(got.n.sum()) == second
    last = store.sql("SELECT max(ts) AS t FROM samples")["t"][0]
    assert last == pd.Timestamp("2026-03-05 05:06:07", tz="UTC")


def test_week_alignment_keeps_weekday_and_time_of_day(tmp_path, small_demo, shipped, monkeypatch):
    monkeypatch.setenv("WORKBENCH_DEMO_DATA", str(small_demo))
    now = pd.Timestamp("2026-03-04 05:06:07", tz="UTC")
    load_demo(tmp_path, now=now, align="week", compact=False)
    store = Store(tmp_path)
    last = store.sql("SELECT max(ts) AS t FROM samples WHERE host = 'elb-8c0756'")["t"][0]
    orig = pd.Timestamp(shipped["meta"]["cloudwatch"]["hosts"]["elb-8c0756"]["original_end_utc"], tz="UTC")
    assert (last - orig) % pd.Timedelta(weeks=1) == pd.Timedelta(0)
    assert now - pd.Timedelta(weeks=1) < last <= now


def test_cli_demo_subprocess_compacts_into_rollups(tmp_path, small_demo):
    env = {**os.environ, "WORKBENCH_DEMO_DATA": str(small_demo)}
    # Ten past the hour: the workstation's 20 minutes of history then span a
    # closed hour, which compaction seals (an open hour is never sealed).
    run = subprocess.run([sys.executable, "-m", "workbench.cli", "--home", str(tmp_path), "demo",
                          "--now", "2026-03-04T05:10:00"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "loaded" in run.stdout
    store = Store(tmp_path)
    assert store.hosts() == ["ec2-825cc2", "elb-8c0756", "workstation"]
    # Compacted: closed hours and days became raw hour/day files with 1 min and 1 h rollups.
    for host in store.hosts():
        assert list((tmp_path / "hosts" / host / "1h").glob("*.parquet")), f"no hourly rollups for {host}"
        assert list((tmp_path / "hosts" / host / "1m").glob("*.parquet")), f"no minute rollups for {host}"
    assert list((tmp_path / "hosts" / "ec2-825cc2" / "raw").glob("d-*.parquet"))
    hourly = store.sql("SELECT host, sum(count)::BIGINT AS n, count(*) AS rows FROM samples_1h GROUP BY host")
    hourly = hourly.set_index("host")
    assert hourly.loc["ec2-825cc2", "n"] == 2 * 577  # two days + 1 point, user and idle
    assert hourly.loc["ec2-825cc2", "rows"] >= 2 * 48
    assert not list((tmp_path / "hosts" / "ec2-825cc2" / "incoming").glob("*.parquet"))  # inputs cleaned up
    again = subprocess.run([sys.executable, "-m", "workbench.cli", "--home", str(tmp_path), "demo"],
                           cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode != 0
    assert "already holds demo hosts" in again.stderr


# -- never a sample twice ------------------------------------------------------------------

def test_the_shipped_files_have_no_duplicated_timestamps(shipped):
    cw, ws = shipped["cloudwatch"], shipped["workstation"]
    assert not cw.duplicated(["host", "metric", "labels", "offset_ms"]).any()
    assert not ws.duplicated(["metric", "labels", "offset_ms"]).any()
    # NAB's two series that crossed the 2014-03-09 US daylight-saving change
    # keep every point, on their 5-minute grid (see data/demo/README.md).
    for host in ("ec2-1ef3de", "ec2-5abac7"):
        steps = cw[cw.host == host].sort_values("offset_ms").offset_ms.diff().dropna()
        assert (steps == 300_000).all(), steps.value_counts()
        assert (cw.host == host).sum() == shipped["meta"]["cloudwatch"]["hosts"][host]["points"] == 4730


def test_the_loaded_demo_has_no_sample_twice(loaded):
    store = Store(loaded["home"])
    raw = store.sql("SELECT count(*) AS n, count(DISTINCT (host, metric, labels, ts)) AS d FROM samples")
    assert raw.n[0] == raw.d[0]
    # Raw samples older than 7 days are expired; the minute rollups hold the
    # whole history, and a CloudWatch series has at most one point a minute.
    twice = store.sql("SELECT host, metric, labels, ts, count FROM samples_1m "
                      "WHERE host <> 'workstation' AND count > 1")
    assert twice.empty, twice.head()


def test_both_readmes_give_the_workstation_recording_its_real_length(shipped):
    minutes = round(-shipped["workstation"].offset_ms.min() / 60_000)
    assert minutes == 20
    readme = " ".join((REPO / "README.md").read_text().split())
    demo_readme = " ".join((REPO / "data" / "demo" / "README.md").read_text().split())
    assert f"a {minutes}-minute recording of a workstation" in readme
    assert f"{minutes} min of this project's agent recording" in demo_readme
    assert "half-hour" not in readme and "half hour" not in readme
