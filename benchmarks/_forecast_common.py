"""Shared pieces of the forecasting benchmarks: M4 loading, Naive2, per-series scores, tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.tsa.stattools import acf

from workbench.forecast import coverage, mase_scale, smape

START = pd.Timestamp("2000-01-01")  # M4 gives no timestamps; hourly from an arbitrary origin


def load_m4(train_csv: str, test_csv: str, limit: int | None = None, freq: str = "h"):
    """Return ``{unique_id: (train Series, test ndarray)}`` in file order."""
    train = pd.read_csv(train_csv)
    test = pd.read_csv(test_csv)
    id_col = train.columns[0]
    test = test.set_index(test.columns[0])
    out = {}
    for _, row in train.iterrows():
        uid = str(row[id_col])
        values = row.iloc[1:].to_numpy(dtype=float)
        values = values[~np.isnan(values)]
        idx = pd.date_range(START, periods=values.size, freq=freq)
        out[uid] = (pd.Series(values, index=idx, name=uid), test.loc[uid].to_numpy(dtype=float))
        if limit is not None and len(out) >= limit:
            break
    return out


def _seasonality_test(y: np.ndarray, m: int) -> bool:
    """M4's test: lag-m autocorrelation significant at 90 %."""
    if m <= 1 or y.size < 3 * m:
        return False
    r = acf(y, nlags=m, fft=True)
    limit = 1.645 * np.sqrt((1 + 2 * np.sum(r[1:m] ** 2)) / y.size)
    return bool(abs(r[m]) > limit)


def naive2(y: np.ndarray, h: int, m: int) -> np.ndarray:
    """M4's Naive2: naive on the classically (multiplicatively) seasonally adjusted series."""
    y = np.asarray(y, dtype=float)
    if _seasonality_test(y, m):
        from statsmodels.tsa.seasonal import seasonal_decompose

        dec = seasonal_decompose(y, model="multiplicative", period=m, two_sided=True)
        seasonal = np.asarray(dec.seasonal)
        last_season = seasonal[-m:]
        future = np.array([last_season[i % m] for i in range(h)])
        adjusted = y / seasonal
        return np.full(h, adjusted[-1]) * future
    return np.full(h, y[-1])


def score_rows(uid, model, y_train, y_test, fc: pd.DataFrame | dict, m: int):
    """One row of per-series scores for a forecast frame with mean/lo/hi columns."""
    mean = np.asarray(fc["mean"], dtype=float)
    scale = mase_scale(y_train, m)
    row = {
        "unique_id": uid,
        "model": model,
        "smape": smape(y_test, mean),
        "mase": float(np.mean(np.abs(y_test - mean)) / scale) if scale > 0 else np.nan,
    }
    for lv in (80, 95):
        lo, hi = fc.get(f"lo_{lv}"), fc.get(f"hi_{lv}")
        row[f"cov_{lv}"] = coverage(y_test, lo, hi) if lo is not None else np.nan
    return row


def summarise(scores: pd.DataFrame, times: dict[str, float], baseline: str = "Naive2") -> pd.DataFrame:
    """OWA per model against ``baseline`` on the series each model was run on."""
    rows = []
    for model, grp in scores.groupby("model", sort=False):
        base = scores[(scores.model == baseline) & scores.unique_id.isin(grp.unique_id)]
        s, ms = grp.smape.mean(), grp.mase.mean()
        owa = 0.5 * (s / base.smape.mean() + ms / base.mase.mean())
        rows.append(
            {
                "model": model,
                "series": grp.unique_id.nunique(),
                "OWA": owa,
                "sMAPE": s,
                "MASE": ms,
                "cov_80": grp.cov_80.mean(),
                "cov_95": grp.cov_95.mean(),
                "wall_s": times.get(model, np.nan),
            }
        )
    return pd.DataFrame(rows)
