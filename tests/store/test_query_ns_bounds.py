"""Time bounds finer than the stored microseconds: exact, and silent."""

import warnings

import pandas as pd

from workbench.store import Store


def test_nanosecond_bounds_select_exactly_and_do_not_warn(tmp_path):
    store = Store(tmp_path, host="box")
    ts = pd.to_datetime(["2026-01-01 00:00:00.000001", "2026-01-01 00:00:00.000002"], utc=True)
    store.append(pd.DataFrame({"ts": ts, "metric": "system.memory.utilization", "labels": "", "value": [1.0, 2.0]}))
    t0 = pd.Timestamp("2026-01-01 00:00:00.000001001", tz="UTC")  # just after the first sample
    t1 = pd.Timestamp("2026-01-01 00:00:00.000002001", tz="UTC")  # just after the second
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = store.query("system.memory.utilization", t0, t1, host="box")
    assert list(got["value"]) == [2.0]


def test_latest_table_holds_what_latest_returns(tmp_path):
    store = Store(tmp_path, host="box")
    ts = pd.date_range("2026-01-01", periods=5, freq="1s", tz="UTC")
    store.append(pd.DataFrame({"ts": ts, "metric": "system.memory.utilization", "labels": "", "value": range(5)}))
    store.append(pd.DataFrame({"ts": ts[:3], "metric": "system.cpu.utilization", "labels": "cpu=0",
                               "value": [0.1, 0.2, 0.3]}))
    frame, table = store.latest(host="box", within="1h"), store.latest_table(host="box", within="1h")
    assert table.schema.names == ["ts", "host", "metric", "labels", "value"]
    assert table.column("value").to_pylist() == frame["value"].tolist() == [0.3, 4.0]
    assert table.column("ts").to_pylist() == list(frame["ts"]) == [ts[2], ts[4]]
    assert Store(tmp_path / "empty", host="box").latest_table(host="box").num_rows == 0
