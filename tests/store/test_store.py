import json
import warnings

import numpy as np
import pandas as pd
import pytest

from workbench.errors import DataError, QueryError, UnknownMetricError
from workbench.store import CompactionPolicy, Compactor, Store, StoreWarning

T0 = pd.Timestamp("2026-11-20T00:00:00Z")


def _frame(n, metric="system.cpu.utilization", labels="cpu=0", start=T0, step="1s", value=None):
    ts = start + pd.to_timedelta(np.arange(n) * pd.Timedelta(step).total_seconds(), unit="s")
    vals = np.arange(n, dtype=float) if value is None else value
    return pd.DataFrame({"ts": ts, "metric": metric, "labels": labels, "value": vals})


def _compact(store, now, **policy):
    comp = Compactor(store.layout, store.host, CompactionPolicy(**policy), clock=lambda: int(now.value // 1000))
    try:
        return comp.run_once()
    finally:
        comp.close()


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "home", host="h1")


def test_append_then_query_raw_and_rollups_agree_with_pandas(store):
    rng = np.random.default_rng(1)
    frames = []
    for cpu in range(2):
        df = _frame(3 * 3600, labels=f"cpu={cpu}", value=rng.normal(50, 10, 3 * 3600))
        frames.append(df)
        for i in range(0, len(df), 900):  # many small segments, as the agent writes
            store.append(df.iloc[i : i + 900])
    truth = pd.concat(frames, ignore_index=True)
    # before compaction: everything comes from L0 files
    got = store.query("system.cpu.utilization", T0, T0 + pd.Timedelta("1h"), step="10min", labels={"cpu": "1"})
    exp = truth[(truth.labels == "cpu=1") & (truth.ts < T0 + pd.Timedelta("1h"))]
    exp = exp.groupby(exp.ts.dt.floor("10min"))["value"].mean()
    np.testing.assert_allclose(got["value"].to_numpy(), exp.to_numpy())
    # after compaction (hours and the day sealed) the answers are the same
    rep = _compact(store, T0 + pd.Timedelta("2D"))
    assert rep.sealed_hours == 3 and rep.sealed_days == 1
    got2 = store.query("system.cpu.utilization", T0, T0 + pd.Timedelta("1h"), step="10min", labels={"cpu": "1"})
    np.testing.assert_allclose(got2["value"].to_numpy(), exp.to_numpy())
    for tier, step in (("1m", "1min"), ("1h", "1h")):
        for agg, fn in (("min", "min"), ("max", "max"), ("mean", "mean"), ("count", "count"), ("last", "last")):
            q = store.query("system.cpu.utilization", step=step, agg=agg, labels="cpu=0")
            sub = truth[truth.labels == "cpu=0"]
            e = sub.groupby(sub.ts.dt.floor(step))["value"].agg(fn)
            np.testing.assert_allclose(q["value"].to_numpy(), e.to_numpy(), err_msg=f"{tier} {agg}")
    raw = store.sql("select count(*) n, sum(value) s from samples")
    assert raw.n[0] == len(truth)
    assert raw.s[0] == pytest.approx(truth.value.sum())
    m = store.sql("select sum(count) n from samples_1m")
    assert m.n[0] == len(truth)


def test_late_samples_after_sealing_are_counted_once(store):
    store.append(_frame(7200))
    _compact(store, T0 + pd.Timedelta("3h"))
    late = _frame(10, start=T0 + pd.Timedelta("30min") + pd.Timedelta("0.5s"), value=np.full(10, 1000.0))
    store.append(late)
    for _ in range(2):
        one = store.sql("select sum(count) n, sum(sum) s from samples_1m")
        assert one.n[0] == 7210 and one.s[0] == sum(range(7200)) + 10 * 1000.0
        _compact(store, T0 + pd.Timedelta("3h"))
    assert store.sql("select count(*) n from samples").n[0] == 7210


def test_latest_returns_newest_value_per_series(store):
    store.append(_frame(100, labels="cpu=0"))
    store.append(_frame(50, labels="cpu=1", value=np.full(50, 7.0)))
    got = store.latest("system.cpu.utilization").set_index("labels")
    assert got.loc["cpu=0", "value"] == 99.0
    assert got.loc["cpu=1", "value"] == 7.0
    assert got.loc["cpu=0", "ts"] == T0 + pd.Timedelta("99s")


def test_unknown_metric_suggests_close_names(store):
    store.append(_frame(10))
    with pytest.raises(UnknownMetricError, match="Did you mean 'system.cpu.utilization'"):
        store.query("system.cpu.utilisation")


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"ts": [T0], "metric": ["a.b"]}), r"missing \['value'\]"),
        (pd.DataFrame({"ts": [T0], "metric": ["a.b"], "value": ["high"]}), "1 values are not numbers"),
        (pd.DataFrame({"ts": [None], "metric": ["a.b"], "value": [1.0]}), "missing or unreadable ts"),
        (pd.DataFrame({"ts": [T0], "metric": ["Bad Name"], "value": [1.0]}), "Invalid metric names"),
        (pd.DataFrame({"ts": [T0], "metric": ["a.b"], "value": [1.0], "colour": ["red"]}), "Unexpected sample columns"),
    ],
)
def test_bad_samples_are_refused_with_a_clear_message_and_nothing_written(store, frame, message):
    store.append(_frame(5))
    with pytest.raises(DataError, match=message):
        store.append(frame)
    assert store.sql("select count(*) n from samples").n[0] == 5


def test_nan_values_are_dropped_with_a_warning(store):
    df = _frame(4, value=np.array([1.0, np.nan, 3.0, np.inf]))
    with pytest.warns(StoreWarning, match="Dropped 2 samples"):
        assert store.append(df) == 2


def test_sql_injection_through_user_input_is_inert(store):
    store.append(_frame(10))
    evil = "x' OR '1'='1"
    with pytest.raises(UnknownMetricError):
        store.query(evil)
    assert store.query("system.cpu.utilization", labels={"cpu": evil}).empty
    assert store.query("system.cpu.utilization", labels={"cpu": "0') OR true --"}).empty
    got = store.sql("select count(*) n from samples where metric = ?", [evil])
    assert got.n[0] == 0
    with pytest.raises(QueryError, match="Views: samples"):
        store.sql("select * from no_such_view")


def test_labels_with_commas_and_equals_round_trip(store):
    df = _frame(3, labels=None)
    df["labels"] = [{"cmdline": "python -c a=1,b=2", "pid": 7}] * 3
    store.append(df)
    got = store.query("system.cpu.utilization", labels={"cmdline": "python -c a=1,b=2"})
    assert len(got) == 3
    from workbench.labels import parse_labels

    assert parse_labels(got.labels[0]) == {"cmdline": "python -c a=1,b=2", "pid": "7"}


def test_hosts_are_partitioned_and_queried_together(tmp_path):
    a = Store(tmp_path, host="alpha")
    b = Store(tmp_path, host="beta")
    a.append(_frame(10))
    b.append(_frame(20))
    assert sorted(a.hosts()) == ["alpha", "beta"]
    got = a.sql("select host, count(*) n from samples group by 1 order by 1")
    assert got.n.tolist() == [10, 20]
    assert len(a.query("system.cpu.utilization", host="beta")) == 20


def test_retention_drops_old_files_per_tier(store):
    store.append(_frame(3600 * 3))
    _compact(store, T0 + pd.Timedelta("2D"))
    assert store.sql("select count(*) n from samples").n[0] == 3600 * 3
    rep = _compact(store, T0 + pd.Timedelta("12D"), retention_s={"raw": 7 * 86400, "1m": 90 * 86400, "1h": 1e9})
    assert rep.expired >= 1
    assert store.sql("select count(*) n from samples").n[0] == 0
    assert store.sql("select sum(count) n from samples_1m").n[0] == 3600 * 3  # rollups kept longer


def test_record_tables_are_views(store):
    store.append_records("task_runs", pd.DataFrame({"id": [1, 2], "state": ["done", "failed"]}))
    store.append_records("task_runs", pd.DataFrame({"id": [3], "state": ["done"], "attempts": [2]}))
    got = store.sql("select state, count(*) n from task_runs group by 1 order by 1")
    assert got.n.tolist() == [2, 1]
    with pytest.raises(DataError):
        store.append_records("samples", pd.DataFrame({"x": [1]}))


def test_corrupt_segments_are_quarantined_and_the_rest_stays_queryable(store):
    store.append(_frame(3600, start=T0))
    _compact(store, T0 + pd.Timedelta("3h"))
    store.append(_frame(100, start=T0 + pd.Timedelta("2h")))  # an L0 file
    files = sorted((store.home / "hosts" / "h1" / "raw").glob("h-*.parquet"))  # the live hour file
    assert len(files) == 1
    data = files[0].read_bytes()
    files[0].write_bytes(data[: len(data) // 2])  # truncated, as by a failing disk
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        n = store.sql("select count(*) n from samples").n[0]
    assert n == 100
    assert any(issubclass(w.category, StoreWarning) and "Quarantined" in str(w.message) for w in caught)
    q = store.quarantined()
    assert len(q) == 1 and q.file[0].startswith("raw/")
    assert (store.home / "quarantine").exists()
    # the compactor notices and records it; the store keeps working
    rep = _compact(store, T0 + pd.Timedelta("4h"))
    assert rep.quarantined
    assert store.sql("select count(*) n from samples").n[0] == 100


def test_a_backlog_of_closed_days_is_sealed_straight_into_day_files(store):
    # Two closed days and three closed hours of today, written as one L0 file
    # (as a bulk load or an agent back from an outage would leave them).
    n = 2 * 86400 // 10 + 3 * 360
    df = _frame(n, step="10s", value=np.arange(n) * 0.1)
    store.append(df)
    rep = _compact(store, T0 + pd.Timedelta("2D3h5min"))
    assert rep.sealed_days == 2 and rep.sealed_hours == 51 and rep.absorbed == 1
    m = json.loads((store.home / "hosts" / "h1" / "manifest.json").read_text())
    levels = sorted((f["tier"], f["level"]) for f in m["files"])
    # one raw, 1 min and 1 h file per day, the same per closed hour of today: no chunks
    assert levels == sorted([(t, "day") for t in ("raw", "1m", "1h") for _ in range(2)]
                            + [(t, "hour") for t in ("raw", "1m", "1h") for _ in range(3)])
    got = store.sql("select count(*) n, sum(value) s from samples")
    assert got.n[0] == n and got.s[0] == pytest.approx(df.value.sum())
    assert store.sql("select sum(count) n from samples_1h").n[0] == n
    hourly = store.query("system.cpu.utilization", step="1h", agg="max")
    exp = df.groupby(df.ts.dt.floor("1h"))["value"].max()
    np.testing.assert_array_equal(hourly.value.to_numpy(), exp.to_numpy())
    # values round-trip bit for bit through the sealed files
    raw = store.query("system.cpu.utilization")
    np.testing.assert_array_equal(raw.value.to_numpy(), df.value.to_numpy())


def test_a_seal_that_fails_midway_leaves_every_sample_readable_exactly_once(store):
    n = 3 * 86400 // 10
    df = _frame(n, step="10s")
    store.append(df)
    host_dir = store.home / "hosts" / "h1"
    # A real failure part way through: the raw and 1 min files of the first
    # day get written, then the 1 h tier cannot be (its directory is a
    # dangling link, as after an unmounted volume; even root cannot write).
    (host_dir / "1h").symlink_to(store.home / "unmounted")
    with pytest.raises(OSError):
        _compact(store, T0 + pd.Timedelta("4D"))
    assert list((host_dir / "raw").glob("d-*.parquet")), "the seal did not get midway"
    assert not (host_dir / "manifest.json").exists()
    got = store.sql("select count(*) n, count(distinct ts) d from samples")
    assert got.n[0] == n and got.d[0] == n
    assert store.sql("select sum(count) n from samples_1h").n[0] == n
    # Once the cause is gone, the next cycle seals everything, and the files
    # the failed cycle left behind are removed as orphans.
    (host_dir / "1h").unlink()
    rep = _compact(store, T0 + pd.Timedelta("4D"))
    assert rep.sealed_days == 3
    got = store.sql("select count(*) n, count(distinct ts) d from samples")
    assert got.n[0] == n and got.d[0] == n
    assert store.sql("select sum(count) n from samples_1m").n[0] == n
    _compact(store, T0 + pd.Timedelta("4D"), grace_s=0)
    live = json.loads((host_dir / "manifest.json").read_text())["files"]
    on_disk = {f"{p.parent.name}/{p.name}" for p in host_dir.glob("*/*.parquet") if p.parent.name != "incoming"}
    assert on_disk == {f["name"] for f in live}


def test_chunks_of_an_open_hour_merge_and_then_seal_once_closed(store):
    for i in range(4):  # four flushes, each compacted while the hour is open
        store.append(_frame(60, start=T0 + pd.Timedelta(minutes=10 * i), value=np.full(60, float(i))))
        _compact(store, T0 + pd.Timedelta("50min"), fanout=2)
    m = json.loads((store.home / "hosts" / "h1" / "manifest.json").read_text())
    assert sorted(f["level"] for f in m["files"]) == ["c2"]  # c0+c0 -> c1, c1+c1 -> c2
    assert store.sql("select count(*) n, sum(value) s from samples").iloc[0].tolist() == [240, 60.0 * 6]
    rep = _compact(store, T0 + pd.Timedelta("63min"), fanout=2)
    assert rep.sealed_hours == 1 and rep.sealed_days == 0
    m = json.loads((store.home / "hosts" / "h1" / "manifest.json").read_text())
    assert sorted((f["tier"], f["level"]) for f in m["files"]) == [("1h", "hour"), ("1m", "hour"), ("raw", "hour")]
    assert store.sql("select sum(count) n from samples_1m").n[0] == 240
