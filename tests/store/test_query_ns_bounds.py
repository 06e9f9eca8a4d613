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
