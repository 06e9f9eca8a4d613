"""Exploring stored metrics: SQL with a chart, distributions, correlations,
period over period, and (from :mod:`workbench.drilldown`) the incident drill-down.
What ``notebooks/explore.ipynb`` calls.

Every function takes a :class:`~workbench.store.Store` and returns plain
values and DataFrames (plus, where a picture helps, a plotly figure as a
dict for :class:`workbench.ui.Chart`), so a notebook cell is one call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench.drilldown import Incident, IncidentPicker, drill_down, incidents, latest_incident
from workbench.errors import DataError

__all__ = ["SqlResult", "sql", "Distribution", "distribution", "series_matrix", "correlations",
           "PeriodComparison", "period_over_period", "Incident", "IncidentPicker", "incidents", "drill_down",
           "latest_incident"]


@dataclass
class SqlResult:
    """A query's rows and a chart chosen from their shape."""

    frame: pd.DataFrame
    figure: dict[str, Any] = field(default_factory=dict)

    def _repr_html_(self) -> str:
        return self.frame.head(50)._repr_html_()


def _epoch_ms(values: pd.Series) -> list:
    return values.astype("datetime64[ms, UTC]").astype("int64").tolist()


def chart_for(frame: pd.DataFrame) -> dict[str, Any]:
    """A figure for a result: lines over a time column, bars over a text column, else nothing.

    A time column ``ts`` (or the first timestamp column) with numeric columns
    draws lines, one per numeric column (split by a text column when there is
    one); a text first column with one numeric column draws bars.
    """
    if frame.empty:
        return {}
    times = [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
    nums = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]) and c not in times]
    texts = [c for c in frame.columns if c not in times and c not in nums]
    if times and nums:
        x = times[0]
        traces = []
        if texts:
            for key, part in list(frame.groupby(texts[0], sort=True))[:12]:
                traces.append({"type": "scatter", "mode": "lines", "name": str(key),
                               "x": _epoch_ms(part[x]), "y": part[nums[0]].tolist()})
        else:
            for col in nums[:6]:
                traces.append({"type": "scatter", "mode": "lines", "name": col,
                               "x": _epoch_ms(frame[x]), "y": frame[col].tolist()})
        return {"data": traces, "layout": {"xaxis": {"type": "date", "title": {"text": "UTC"}},
                                           "yaxis": {"title": {"text": nums[0]}}, "margin": {"t": 10}}}
    if texts and nums and len(frame) <= 200:
        return {"data": [{"type": "bar", "x": frame[texts[0]].astype(str).tolist(), "y": frame[nums[0]].tolist()}],
                "layout": {"yaxis": {"title": {"text": nums[0]}}, "margin": {"t": 10, "b": 120}}}
    return {}


def sql(store: Any, query: str, params: list | dict | None = None) -> SqlResult:
    """Run DuckDB SQL over the store's views; rows and a fitting chart. Bind user input with ``params``."""
    frame = store.sql(query, params)
    return SqlResult(frame, chart_for(frame))


def _one_series(store: Any, metric: str, host: str | None, labels: Any, start: Any, end: Any, step: Any) -> pd.Series:
    frame = store.query(metric, start, end, step=step, host=host, labels=labels)
    if frame.empty:
        raise DataError(f"No samples of {metric!r}{f' on {host!r}' if host else ''} between {start} and {end or 'now'}; "
                        "widen the range or check the host and labels (`workbench metrics`).", metric=metric)
    keys = frame[["host", "labels"]].drop_duplicates()
    if len(keys) > 1:
        shown = ", ".join(f"{h}/{lab}" for h, lab in keys.head(5).itertuples(index=False))
        raise DataError(f"{metric!r} selects {len(keys)} series ({shown}...); give host= and labels= "
                        "to pick one.", metric=metric)
    return frame.set_index("ts")["value"]


@dataclass
class Distribution:
    """Summary of one series' values, with a fitted normal for comparison."""

    values: pd.Series
    stats: pd.Series
    normal: tuple[float, float]  # mean, standard deviation
    ks_pvalue: float  # Kolmogorov-Smirnov against the fitted normal (small: not normal)

    def figure(self, bins: int = 40) -> dict[str, Any]:
        """Histogram (density), the fitted normal's density, and a box plot above."""
        from scipy import stats as st

        v = self.values.to_numpy()
        mu, sigma = self.normal
        xs = np.linspace(v.min(), v.max(), 200)
        pdf = st.norm.pdf(xs, mu, sigma) if sigma > 0 else np.zeros_like(xs)
        kde = st.gaussian_kde(v)(xs).tolist() if v.size > 2 and np.ptp(v) > 0 else [0.0] * len(xs)
        return {
            "data": [
                {"type": "histogram", "x": v.tolist(), "histnorm": "probability density", "nbinsx": bins,
                 "name": "values", "marker": {"color": "#93c5fd"}, "yaxis": "y"},
                {"type": "scatter", "mode": "lines", "x": xs.tolist(), "y": kde, "name": "density (KDE)",
                 "line": {"color": "#1d4ed8"}},
                {"type": "scatter", "mode": "lines", "x": xs.tolist(), "y": pdf.tolist(),
                 "name": f"normal μ={mu:.3g} σ={sigma:.3g}", "line": {"color": "#dc2626", "dash": "dash"}},
                {"type": "box", "x": v.tolist(), "name": "box", "yaxis": "y2", "marker": {"color": "#475569"},
                 "boxpoints": False},
            ],
            "layout": {"yaxis": {"domain": [0, 0.78], "title": {"text": "density"}},
                       "yaxis2": {"domain": [0.82, 1], "showticklabels": False},
                       "bargap": 0.02, "margin": {"t": 10}, "legend": {"orientation": "h", "y": -0.2}},
        }


def distribution(store: Any, metric: str, *, host: str | None = None, labels: Any = None, start: Any = "1d",
                 end: Any = None, step: Any = None) -> Distribution:
    """Distribution of one series: percentiles, skew, kurtosis, and how normal it is."""
    from scipy import stats as st

    y = _one_series(store, metric, host, labels, start, end, step).dropna()
    if len(y) < 3:
        raise DataError(f"{len(y)} samples of {metric!r}: a distribution needs at least 3.", metric=metric)
    v = y.to_numpy(dtype=float)
    mu, sigma = float(v.mean()), float(v.std(ddof=1))
    stats = pd.Series({
        "count": float(v.size), "mean": mu, "std": sigma, "min": float(v.min()),
        "p05": float(np.quantile(v, 0.05)), "p50": float(np.median(v)), "p95": float(np.quantile(v, 0.95)),
        "p99": float(np.quantile(v, 0.99)), "max": float(v.max()),
        "skew": float(st.skew(v)), "kurtosis": float(st.kurtosis(v)),
    })
    ks = float(st.kstest(v, "norm", args=(mu, sigma)).pvalue) if sigma > 0 else 0.0
    return Distribution(y, stats, (mu, sigma), ks)


def series_matrix(store: Any, metric: str | list[str], *, hosts: list[str] | None = None, labels: Any = None,
                  start: Any = "1d", end: Any = None, step: Any = "5min") -> pd.DataFrame:
    """Series side by side, one column per ``host/metric{labels}``, on a common time grid."""
    frame = store.query(metric, start, end, step=step, host=hosts, labels=labels)
    if frame.empty:
        raise DataError(f"No samples of {metric!r} in the range; widen it or check the names (`workbench metrics`).")
    frame = frame.assign(series=frame["host"] + "/" + frame["metric"] +
                         frame["labels"].map(lambda s: f"{{{s}}}" if s else ""))
    return frame.pivot_table(index="ts", columns="series", values="value", aggfunc="mean").sort_index()


def correlations(matrix: pd.DataFrame, *, method: str = "pearson", min_periods: int = 12) -> pd.DataFrame:
    """Correlation between every pair of columns of :func:`series_matrix` (``pearson`` or ``spearman``)."""
    if method not in ("pearson", "spearman", "kendall"):
        raise DataError(f"method must be 'pearson', 'spearman' or 'kendall'; got {method!r}.")
    usable = matrix.loc[:, matrix.notna().sum() >= min_periods]
    usable = usable.loc[:, usable.std() > 0]
    return usable.corr(method=method, min_periods=min_periods)


def correlation_figure(corr: pd.DataFrame) -> dict[str, Any]:
    names = [str(c) for c in corr.columns]
    z = [[None if not math.isfinite(v) else round(float(v), 3) for v in row] for row in corr.to_numpy()]
    return {"data": [{"type": "heatmap", "z": z, "x": names, "y": names, "zmin": -1, "zmax": 1,
                      "colorscale": "RdBu", "reversescale": True, "hovertemplate": "%{y} × %{x}: %{z}<extra></extra>"}],
            "layout": {"margin": {"l": 220, "b": 160, "t": 10}, "yaxis": {"autorange": "reversed"}}}


def scatter_with_fit(matrix: pd.DataFrame, x: str, y: str) -> dict[str, Any]:
    """Scatter of two columns with an ordinary least-squares line and its R²."""
    both = matrix[[x, y]].dropna()
    if len(both) < 3:
        raise DataError(f"{len(both)} common points between {x!r} and {y!r}: too few to fit a line.")
    slope, intercept = np.polyfit(both[x], both[y], 1)
    r = float(np.corrcoef(both[x], both[y])[0, 1])
    xs = [float(both[x].min()), float(both[x].max())]
    return {"data": [{"type": "scatter", "mode": "markers", "x": both[x].tolist(), "y": both[y].tolist(),
                      "name": "points", "marker": {"size": 4, "opacity": 0.6}},
                     {"type": "scatter", "mode": "lines", "x": xs, "y": [slope * v + intercept for v in xs],
                      "name": f"y = {slope:.3g}·x + {intercept:.3g}  (R² = {r * r:.2f})"}],
            "layout": {"xaxis": {"title": {"text": x}}, "yaxis": {"title": {"text": y}}, "margin": {"t": 10}}}


@dataclass
class PeriodComparison:
    """One period against the one before it, aligned step by step."""

    frame: pd.DataFrame  # offset, current, previous, difference
    mean_current: float
    mean_previous: float
    change: float  # mean_current - mean_previous
    relative_change: float
    t_pvalue: float  # Welch's t-test on the two periods' values
    mw_pvalue: float  # Mann-Whitney U (no normality assumed)

    @property
    def significant(self) -> bool:
        """Both tests reject "same level" at 1 % (samples of a series are autocorrelated: be strict)."""
        return self.t_pvalue < 0.01 and self.mw_pvalue < 0.01

    def figure(self) -> dict[str, Any]:
        hours = (self.frame["offset"].dt.total_seconds() / 3600).tolist()
        return {"data": [
            {"type": "scatter", "mode": "lines", "x": hours, "y": self.frame["previous"].tolist(), "name": "previous",
             "line": {"color": "#94a3b8"}},
            {"type": "scatter", "mode": "lines", "x": hours, "y": self.frame["current"].tolist(), "name": "current",
             "line": {"color": "#1d4ed8"}},
            {"type": "bar", "x": hours, "y": self.frame["difference"].tolist(), "name": "difference", "yaxis": "y2",
             "marker": {"color": "#f59e0b"}, "opacity": 0.5},
        ], "layout": {"xaxis": {"title": {"text": "hours into the period"}, "anchor": "y2"},
                      "yaxis": {"domain": [0.35, 1]}, "yaxis2": {"domain": [0, 0.28], "title": {"text": "Δ"}},
                      "margin": {"t": 10}, "legend": {"orientation": "h", "y": -0.35}}}


def period_over_period(store: Any, metric: str, *, host: str | None = None, labels: Any = None,
                       period: str = "7d", step: str = "1h", end: Any = None) -> PeriodComparison:
    """The last ``period`` against the ``period`` before it: aligned values, the change, and its significance."""
    from scipy import stats as st

    from workbench.store._timeutil import parse_duration

    length = pd.Timedelta(seconds=parse_duration(period, what="period"))
    stop = pd.Timestamp.now("UTC") if end is None else pd.Timestamp(end)
    if stop.tzinfo is None:
        stop = stop.tz_localize("UTC")
    stop = stop.floor(step)
    y = _one_series(store, metric, host, labels, stop - 2 * length, stop, step)
    cur = y[y.index >= stop - length]
    prev = y[y.index < stop - length]
    if len(cur) < 3 or len(prev) < 3:
        raise DataError(f"{metric!r} has {len(prev)} points in the previous {period} and {len(cur)} in the current one "
                        "(at least 3 each needed): choose a shorter period or a finer step.", metric=metric)
    a = pd.Series(cur.to_numpy(), index=cur.index - (stop - length))
    b = pd.Series(prev.to_numpy(), index=prev.index - (stop - 2 * length))
    joined = pd.DataFrame({"current": a, "previous": b})
    joined["difference"] = joined["current"] - joined["previous"]
    joined = joined.rename_axis("offset").reset_index()
    mc, mp = float(cur.mean()), float(prev.mean())
    t_p = float(st.ttest_ind(cur, prev, equal_var=False).pvalue)
    mw_p = float(st.mannwhitneyu(cur, prev).pvalue)
    return PeriodComparison(joined, mc, mp, mc - mp, (mc - mp) / mp if mp else math.nan, t_p, mw_p)
