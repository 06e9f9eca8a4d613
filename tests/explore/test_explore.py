"""workbench.explore against direct SQL on the demo data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from workbench import explore
from workbench.errors import DataError
from workbench.store import Store

HOST, METRIC, LABELS = "ec2-825cc2", "system.cpu.utilization", {"state": "user"}


@pytest.fixture(scope="module")
def store(demo_home) -> Store:
    return Store(demo_home)


def _direct(store, start_sql="now() - INTERVAL 7 DAY"):
    return store.sql(
        f"SELECT value FROM samples WHERE host = ? AND metric = ? AND labels = 'cpu=total,state=user' AND ts >= {start_sql}",  # noqa: S608 - constant
        [HOST, METRIC])["value"]


def test_sql_returns_rows_and_picks_a_chart(store):
    res = explore.sql(store, "SELECT host, count(*) AS n FROM samples GROUP BY 1 ORDER BY 1")
    assert res.frame["host"].tolist() == store.hosts()
    assert res.figure["data"][0]["type"] == "bar"
    res = explore.sql(store, "SELECT ts, host, mean FROM samples_1h WHERE metric = ? ORDER BY ts", [METRIC])
    assert res.figure["data"][0]["type"] == "scatter" and res.figure["layout"]["xaxis"]["type"] == "date"
    assert explore.sql(store, "SELECT 1 AS x WHERE false").figure == {}


def test_distribution_matches_direct_sql(store):
    d = explore.distribution(store, METRIC, host=HOST, labels=LABELS, start="7d")
    v = _direct(store).to_numpy()
    assert d.stats["count"] == pytest.approx(v.size, abs=2)  # the window's edge moves with the clock
    assert d.stats["mean"] == pytest.approx(v.mean(), rel=1e-3)
    assert d.stats["p95"] == pytest.approx(np.quantile(v, 0.95), rel=1e-3)
    assert d.stats["skew"] == pytest.approx(st.skew(v), abs=0.02)
    assert 0 <= d.ks_pvalue <= 1
    fig = d.figure()
    assert [t["type"] for t in fig["data"]] == ["histogram", "scatter", "scatter", "box"]


def test_one_series_is_required(store):
    with pytest.raises(DataError, match="selects .* series"):
        explore.distribution(store, METRIC, start="7d")
    with pytest.raises(DataError, match="No samples"):
        explore.distribution(store, METRIC, host="nope", start="7d")


def test_correlations_are_pandas_correlations_of_the_aligned_matrix(store):
    m = explore.series_matrix(store, METRIC, labels=LABELS, start="7d", step="1h")
    assert m.shape[1] == store.sql(
        "SELECT count(DISTINCT host || labels) AS n FROM samples WHERE metric = ? AND regexp_matches(labels, '(^|,)state=user(,|$)')",
        [METRIC])["n"].iloc[0]
    c = explore.correlations(m)
    a, b = c.columns[:2]
    both = m[[a, b]].dropna()
    assert c.loc[a, b] == pytest.approx(np.corrcoef(both[a], both[b])[0, 1])
    assert np.allclose(np.diag(c), 1.0)
    with pytest.raises(DataError, match="method"):
        explore.correlations(m, method="cosine")


def test_period_over_period_means_and_tests(store):
    end = pd.Timestamp.now("UTC").floor("1h")
    p = explore.period_over_period(store, METRIC, host=HOST, labels=LABELS, period="1d", step="1h", end=end)
    hourly = store.query(METRIC, end - pd.Timedelta(days=2), end, step="1h", host=HOST, labels=LABELS).set_index("ts")["value"]
    cur, prev = hourly[hourly.index >= end - pd.Timedelta(days=1)], hourly[hourly.index < end - pd.Timedelta(days=1)]
    assert p.mean_current == pytest.approx(cur.mean()) and p.mean_previous == pytest.approx(prev.mean())
    assert p.t_pvalue == pytest.approx(st.ttest_ind(cur, prev, equal_var=False).pvalue)
    assert len(p.frame) == 24 and (p.frame["difference"].dropna() == (p.frame["current"] - p.frame["previous"]).dropna()).all()


def test_period_over_period_detects_a_real_shift(tmp_path):
    store = Store(tmp_path, host="h")
    end = pd.Timestamp("2026-12-01T00:00Z")
    ts = pd.date_range(end=end - pd.Timedelta("1h"), periods=48, freq="1h")
    rng = np.random.default_rng(1)
    value = np.r_[rng.normal(0.3, 0.02, 24), rng.normal(0.6, 0.02, 24)]
    store.append(pd.DataFrame({"ts": ts, "metric": "system.memory.utilization", "labels": "", "value": value}))
    p = explore.period_over_period(store, "system.memory.utilization", host="h", period="1d", step="1h", end=end)
    assert p.significant and p.change == pytest.approx(0.3, abs=0.03)
