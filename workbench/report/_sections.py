"""What a report says, computed from the store: one function per section, plain DataFrames out.

Every figure over the period comes from the hourly rollups (``samples_1h``,
which also folds in samples not rolled up yet), over whole hours, so it equals
the same aggregate over the raw samples; charts read the 1-minute tier. The
rendering to HTML is :mod:`workbench.report._html`; nothing here draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench.labels import parse_labels
from workbench.report._period import Period

__all__ = ["KPI", "KPIS", "ReportData", "load", "kpis", "family_series", "top_processes", "alerts_in_period",
           "anomalies", "forecasts", "capacity_warnings", "executor_runs", "what_changed", "fleet"]


@dataclass(frozen=True)
class KPI:
    """A headline figure: the mean of ``metric`` over series whose labels match (``1 - x`` if inverted)."""

    key: str
    label: str
    metric: str
    labels: dict[str, str] = field(default_factory=dict)
    invert: bool = False
    threshold: float | None = None  # capacity warning level, for utilisation figures


KPIS: tuple[KPI, ...] = (
    KPI("cpu", "CPU busy", "system.cpu.utilization", {"cpu": "total", "state": "idle"}, invert=True, threshold=0.9),
    KPI("memory", "Memory used", "system.memory.utilization", threshold=0.9),
    KPI("load", "Load (1 min)", "system.cpu.load_average.1m"),
    KPI("disk", "Disk full", "system.filesystem.utilization", threshold=0.9),
    KPI("swap", "Swap used", "system.paging.usage", {"state": "used"}),
    KPI("disk_io", "Disk I/O", "system.disk.io"),
    KPI("network", "Network I/O", "system.network.io"),
    KPI("requests", "HTTP requests", "app.http.requests"),
)

# Series that would crowd every chart and table (one per core); their total is kept.
_PER_CORE = "cpu"


def _matches(labels: str, want: dict[str, str]) -> bool:
    have = parse_labels(labels) if labels else {}
    return all(have.get(k) == v for k, v in want.items())


@dataclass
class ReportData:
    """Hourly partials of every selected series over the lookback, read once and shared by the sections."""

    store: Any
    period: Period
    hosts: list[str] | None
    metrics: list[str] | None
    hourly: pd.DataFrame  # ts, host, metric, labels, sum, count, min, max
    units: dict[str, str]
    lookback_start: pd.Timestamp

    def select(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame

    def window(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        h = self.hourly
        return h[(h["ts"] >= start) & (h["ts"] < end)]

    @property
    def current(self) -> pd.DataFrame:
        return self.window(self.period.start, self.period.end)

    @property
    def previous(self) -> pd.DataFrame:
        return self.window(self.period.prev_start, self.period.start)


def lookback(period: Period) -> pd.Timestamp:
    """How far back the sections read: two periods, and at least a week for daily patterns and forecasts."""
    return period.end - max(2 * period.length, pd.Timedelta("7D"))


def load(store: Any, period: Period, hosts: list[str] | None = None, metrics: list[str] | None = None) -> ReportData:
    """Read the hourly partials every section needs in one query."""
    start = lookback(period)
    conds, params = ["ts >= ?", "ts < ?"], [start.to_pydatetime(), period.end.to_pydatetime()]
    if hosts:
        conds.append("list_contains(?, host)")
        params.append(list(hosts))
    if metrics:
        conds.append("list_contains(?, metric)")
        params.append(list(metrics))
    hourly = store.sql(
        "SELECT ts, host, metric, labels, sum, count, min, max FROM samples_1h WHERE "  # noqa: S608 - fixed fragments, values bound
        + " AND ".join(conds) + " ORDER BY host, metric, labels, ts", params)
    hourly["ts"] = pd.to_datetime(hourly["ts"], utc=True)
    hourly["labels"] = hourly["labels"].fillna("").astype(str)
    hourly["count"] = hourly["count"].astype("int64")
    cat = store.metrics()
    units = dict(zip(cat["name"].astype(str), cat["unit"].astype(str), strict=True))
    return ReportData(store, period, list(hosts) if hosts else None, list(metrics) if metrics else None,
                      hourly, units, start)


# ------------------------------------------------------------------ summary ---
def _kpi_rows(frame: pd.DataFrame, kpi: KPI) -> pd.DataFrame:
    rows = frame[frame["metric"] == kpi.metric]
    if kpi.labels and len(rows):
        rows = rows[[_matches(lab, kpi.labels) for lab in rows["labels"]]]
    return rows


def _agg(rows: pd.DataFrame, kpi: KPI) -> tuple[float, float, int]:
    """(mean, peak, samples): the mean of the hosts' means (each host counts once, however often it
    samples), and the highest value any sample reached (for an inverted figure, ``1 -`` the lowest)."""
    n = int(rows["count"].sum()) if len(rows) else 0
    if not n:
        return math.nan, math.nan, 0
    per_host = rows.groupby("host")[["sum", "count"]].sum()
    per_host = per_host[per_host["count"] > 0]
    mean = float((per_host["sum"] / per_host["count"]).mean())
    if kpi.invert:
        return 1.0 - mean, 1.0 - float(rows["min"].min()), n
    return mean, float(rows["max"].max()), n


def kpis(data: ReportData) -> pd.DataFrame:
    """Per headline figure: mean and peak over the period, the previous period's mean, and the change."""
    out = []
    cur, prev = data.current, data.previous
    for kpi in KPIS:
        mean, peak, n = _agg(_kpi_rows(cur, kpi), kpi)
        pmean, _pp, pn = _agg(_kpi_rows(prev, kpi), kpi)
        if not n and not pn:
            continue
        change = mean - pmean if n and pn else math.nan
        rel = change / abs(pmean) if pn and pmean and not math.isnan(change) else math.nan
        out.append({"key": kpi.key, "label": kpi.label, "metric": kpi.metric,
                    "labels": ",".join(f"{k}={v}" for k, v in kpi.labels.items()), "invert": kpi.invert,
                    "unit": data.units.get(kpi.metric, ""), "mean": mean, "peak": peak, "samples": n,
                    "previous": pmean, "change": change, "relative_change": rel})
    return pd.DataFrame(out, columns=["key", "label", "metric", "labels", "invert", "unit", "mean", "peak", "samples",
                                      "previous", "change", "relative_change"])


# ------------------------------------------------------------------- charts ---
def family_of(metric: str) -> str:
    """``system.cpu.utilization`` -> ``system.cpu``; ``app.http.requests`` -> ``app.http``."""
    parts = metric.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 else metric


def _keep_series(labels: str) -> bool:
    """Per-core CPU series stay out of charts and tables (their total is there)."""
    cpu = parse_labels(labels).get(_PER_CORE) if labels else None
    return cpu is None or cpu == "total"


def family_series(data: ReportData, max_series: int = 12) -> dict[tuple[str, str], pd.DataFrame]:
    """Per (family, unit): the period's series at the chart step (``ts, host, metric, labels, value``).

    At most ``max_series`` series per chart, those with the highest mean;
    process metrics have their own section.
    """
    cur = data.current
    cur = cur[~cur["metric"].str.startswith("process.")]
    if cur.empty:
        return {}
    means = (cur.groupby(["host", "metric", "labels"], sort=False)[["sum", "count"]].sum()
             .assign(mean=lambda d: d["sum"] / d["count"]).reset_index())
    means = means[[_keep_series(lab) for lab in means["labels"]]]
    means["family"] = means["metric"].map(family_of)
    means["unit"] = means["metric"].map(lambda m: data.units.get(m, ""))
    chosen = {}
    for (fam, unit), grp in means.groupby(["family", "unit"], sort=True):
        chosen[(fam, unit)] = grp.sort_values("mean", ascending=False).head(max_series)
    metrics = sorted({m for g in chosen.values() for m in g["metric"]})
    hosts = sorted({h for g in chosen.values() for h in g["host"]})
    frame = data.store.query(metrics, data.period.start.to_pydatetime(), data.period.end.to_pydatetime(),
                             step=data.period.step, host=hosts)
    frame["labels"] = frame["labels"].fillna("").astype(str)
    out = {}
    for key, grp in chosen.items():
        keys = set(zip(grp["host"], grp["metric"], grp["labels"], strict=True))
        mask = [k in keys for k in zip(frame["host"], frame["metric"], frame["labels"], strict=True)]
        out[key] = frame[mask].reset_index(drop=True)
    return out


# ----------------------------------------------------------------- processes ---
def top_processes(data: ReportData, n: int = 10) -> pd.DataFrame:
    """Processes by mean CPU over the period (per host and name), with their peak CPU and memory."""
    cur = data.current
    proc = cur[cur["metric"].isin(["process.cpu.utilization", "process.memory.usage"])]
    cols = ["host", "name", "cpu_mean", "cpu_peak", "memory_peak", "samples"]
    if proc.empty:
        return pd.DataFrame(columns=cols)
    proc = proc.assign(name=[parse_labels(lab).get("name", "?") if lab else "?" for lab in proc["labels"]])
    g = proc.groupby(["host", "name", "metric"], sort=False).agg(sum=("sum", "sum"), count=("count", "sum"),
                                                                 max=("max", "max")).reset_index()
    cpu = g[g["metric"] == "process.cpu.utilization"].set_index(["host", "name"])
    mem = g[g["metric"] == "process.memory.usage"].set_index(["host", "name"])
    out = pd.DataFrame({"cpu_mean": cpu["sum"] / cpu["count"], "cpu_peak": cpu["max"], "samples": cpu["count"]})
    out = out.join(mem["max"].rename("memory_peak"), how="outer").reset_index()
    out = out.sort_values(["cpu_mean", "memory_peak"], ascending=False, na_position="last").head(n)
    return out[cols].reset_index(drop=True)


# ------------------------------------------------------------ alerts, anomalies ---
_ALERT_COLS = ["ts", "rule", "severity", "event", "host", "metric", "labels", "value", "score", "summary"]


def alerts_in_period(data: ReportData) -> pd.DataFrame:
    """Alert records of the period that mark a change (fired, resolved, escalated), oldest first."""
    store = data.store
    if "alerts" not in store.views():
        return pd.DataFrame(columns=_ALERT_COLS)
    params: list[Any] = [data.period.start.to_pydatetime(), data.period.end.to_pydatetime()]
    host_cond = ""
    if data.hosts:
        host_cond = " AND list_contains(?, host)"
        params.append(data.hosts)
    df = store.sql("SELECT ts, rule, severity, event, host, metric, labels, value, score, summary FROM alerts "  # noqa: S608 - fixed fragments, values bound
                   "WHERE ts >= ? AND ts < ? AND event IN ('fired', 'firing', 'resolved', 'escalated')"
                   + host_cond + " ORDER BY ts", params)
    return df[_ALERT_COLS]


def anomalies(data: ReportData, threshold: float = 0.75, n: int = 12) -> pd.DataFrame:
    """Hours of the period whose headline series stood out (robust z-score against the hours before).

    Each row is evidence: the hour, the series, its value, the median it was
    compared with, and the score in [0, 1] (0.5 at five robust deviations).
    """
    from workbench.detect import MADDetector, score_series

    cols = ["ts", "host", "kpi", "metric", "labels", "value", "baseline", "score"]
    rows = []
    for kpi in KPIS:
        frame = _kpi_rows(data.hourly, kpi)
        for (host, labels), grp in frame.groupby(["host", "labels"], sort=True):
            y = pd.Series((grp["sum"] / grp["count"]).to_numpy(), index=grp["ts"]).sort_index()
            if len(y) < 30 or not (y.index >= data.period.start).any():
                continue
            scores = score_series(MADDetector(window=72, grace_period=24), y)
            base = y.rolling(72, min_periods=24).median().shift(1)
            hit = (scores >= threshold) & (y.index >= data.period.start)
            for ts in y.index[hit.to_numpy()]:
                value = float(y[ts])
                rows.append({"ts": ts, "host": host, "kpi": kpi.label, "metric": kpi.metric, "labels": labels,
                             "value": 1 - value if kpi.invert else value,
                             "baseline": 1 - float(base[ts]) if kpi.invert else float(base[ts]),
                             "score": float(scores[ts])})
    df = pd.DataFrame(rows, columns=cols)
    return df.sort_values("score", ascending=False).head(n).sort_values("ts").reset_index(drop=True)


# ------------------------------------------------------------------ forecasts ---
def fleet_kpi_series(data: ReportData, kpi: KPI) -> pd.Series:
    """The headline figure per hour over the lookback: the mean of the hosts' hourly means."""
    rows = _kpi_rows(data.hourly, kpi)
    if rows.empty:
        return pd.Series(dtype=float, index=pd.DatetimeIndex([], tz="UTC"))
    g = rows.groupby(["ts", "host"])[["sum", "count"]].sum()
    y = (g["sum"] / g["count"]).groupby(level="ts").mean()
    return (1 - y) if kpi.invert else y


def _hours(td: pd.Timedelta) -> int:
    return max(1, int(td / pd.Timedelta("1h")))


def forecasts(data: ReportData, horizon: pd.Timedelta, keys: tuple[str, ...] = ("cpu", "memory", "load", "disk",
                                                                                 "requests")) -> dict[str, Any]:
    """Per headline figure: its hourly history and a forecast over ``horizon`` with 80 % and 95 % intervals."""
    from workbench.forecast import ETS, SeasonalNaive

    out = {}
    h = _hours(horizon)
    for kpi in KPIS:
        if kpi.key not in keys:
            continue
        y = fleet_kpi_series(data, kpi)
        if y.empty:
            continue
        y = y[y.index < data.period.end]
        if len(y) < 24:
            continue
        y = y.asfreq("1h").interpolate(limit_direction="both")
        season = 24 if len(y) >= 72 else None
        # Additive error and season, trend chosen by AICc: the multiplicative forms cost ~15x the
        # fitting time for hourly utilisation series and seldom win on them.
        try:
            model = ETS(season_length=season, error="add", seasonal="add") if season else ETS(error="add")
            fc = model.fit(y).predict(h, level=(80, 95))
            name = model.form_name_
        except Exception:  # noqa: BLE001 - a series a model cannot fit falls back to the seasonal baseline
            model = SeasonalNaive(season_length=season or 1)
            fc = model.fit(y).predict(h, level=(80, 95))
            name = "seasonal naive"
        out[kpi.key] = {"kpi": kpi, "history": y, "forecast": fc, "model": name,
                        "unit": data.units.get(kpi.metric, "")}
    return out


def capacity_warnings(data: ReportData, horizon: pd.Timedelta) -> pd.DataFrame:
    """Hosts whose utilisation figures are forecast to cross their threshold within ``horizon``."""
    from workbench.forecast import Drift, time_to_threshold

    cols = ["host", "kpi", "metric", "labels", "now", "threshold", "status", "eta", "earliest", "latest", "message"]
    rows = []
    h = _hours(horizon)
    for kpi in KPIS:
        if kpi.threshold is None:
            continue
        frame = _kpi_rows(data.hourly, kpi)
        for (host, labels), grp in frame.groupby(["host", "labels"], sort=True):
            y = pd.Series((grp["sum"] / grp["count"]).to_numpy(), index=grp["ts"]).sort_index()
            if kpi.invert:
                y = 1 - y
            if len(y) < 12:
                continue
            y = y.asfreq("1h").interpolate(limit_direction="both")
            try:
                cross = time_to_threshold(y, kpi.threshold, horizon=h, model=Drift())
            except Exception:  # noqa: BLE001 - a flat or broken series has no crossing to report
                continue
            if cross.status == "not_within_horizon":
                continue
            rows.append({"host": host, "kpi": kpi.label, "metric": kpi.metric, "labels": labels,
                         "now": float(y.iloc[-1]), "threshold": kpi.threshold, "status": cross.status,
                         "eta": cross.eta, "earliest": cross.earliest, "latest": cross.latest,
                         "message": cross.message})
    return pd.DataFrame(rows, columns=cols)


# ------------------------------------------------------------------- executor ---
def executor_runs(data: ReportData) -> dict[str, pd.DataFrame]:
    """Tasks that ended in the period: counts per name and state, throughput per hour, the failures."""
    store = data.store
    empty = {"by_name": pd.DataFrame(), "hourly": pd.DataFrame(), "failures": pd.DataFrame(), "total": 0}
    if "task_runs" not in store.views():
        return empty
    runs = store.sql("SELECT name, state, ended, run_s, wait_s, error FROM task_runs WHERE ended >= ? AND ended < ? "
                     "ORDER BY ended", [data.period.start.to_pydatetime(), data.period.end.to_pydatetime()])
    if runs.empty:
        return empty
    runs["ended"] = pd.to_datetime(runs["ended"], utc=True)
    by_name = (runs.pivot_table(index="name", columns="state", values="ended", aggfunc="count", fill_value=0)
               .join(runs.groupby("name")["run_s"].mean().rename("mean_run_s")).reset_index())
    by_name.columns.name = None
    hourly = (runs.assign(hour=runs["ended"].dt.floor("1h")).pivot_table(index="hour", columns="state",
                                                                          values="name", aggfunc="count",
                                                                          fill_value=0))
    hourly.columns.name = None
    failures = runs[runs["state"].isin(["failed", "timed_out"])][["ended", "name", "state", "error"]].tail(10)
    return {"by_name": by_name, "hourly": hourly, "failures": failures.reset_index(drop=True), "total": len(runs)}


# --------------------------------------------------------------- what changed ---
def _series_stats(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        index = pd.MultiIndex.from_tuples([], names=["host", "metric", "labels"])
        return pd.DataFrame({"sum": pd.Series(dtype=float), "count": pd.Series(dtype="int64"),
                             "hour_std": pd.Series(dtype=float)}, index=index)
    g = frame.groupby(["host", "metric", "labels"], sort=False)
    return pd.DataFrame({"sum": g["sum"].sum(), "count": g["count"].sum(),
                         "hour_std": g.apply(lambda d: float((d["sum"] / d["count"]).std(ddof=0)),
                                             include_groups=False)})


def _daily_strength(y: pd.Series) -> float:
    """Share of an hourly series' variance explained by the hour of day (0: none, 1: all)."""
    if len(y) < 48 or y.nunique() < 3:
        return math.nan
    total = float(y.var(ddof=0))
    if not total or not math.isfinite(total):
        return math.nan
    resid = y - y.groupby(y.index.hour).transform("mean")
    return max(0.0, 1.0 - float(resid.var(ddof=0)) / total)


def what_changed(data: ReportData, n: int = 8) -> dict[str, pd.DataFrame]:
    """Largest shifts in level, daily patterns that appeared or went, series that started or stopped."""
    h = data.hourly
    h = h[~h["metric"].str.startswith("process.").to_numpy() & np.array([_keep_series(lab) for lab in h["labels"]], bool)]
    cur = _series_stats(h[(h["ts"] >= data.period.start) & (h["ts"] < data.period.end)])
    prev = _series_stats(h[(h["ts"] >= data.period.prev_start) & (h["ts"] < data.period.start)])
    both = cur.merge(prev, left_index=True, right_index=True, how="inner", suffixes=("_cur", "_prev"))
    both = both[(both["count_cur"] > 0) & (both["count_prev"] > 0)]
    shifts = pd.DataFrame({"current": both["sum_cur"] / both["count_cur"],
                           "previous": both["sum_prev"] / both["count_prev"]})
    spread = np.maximum(both["hour_std_prev"].to_numpy(), 1e-12)
    shifts["change"] = shifts["current"] - shifts["previous"]
    shifts["relative_change"] = shifts["change"] / shifts["previous"].abs().where(shifts["previous"] != 0)
    shifts["z"] = shifts["change"] / spread
    shifts = shifts[(shifts["relative_change"].abs() >= 0.1) | shifts["relative_change"].isna()]
    shifts = (shifts.assign(_a=shifts["z"].abs()).sort_values("_a", ascending=False).drop(columns="_a")
              .head(n).reset_index())
    shifts["unit"] = shifts["metric"].map(lambda m: data.units.get(m, ""))

    first = h.groupby(["host", "metric", "labels"])["ts"].min()
    last = h.groupby(["host", "metric", "labels"])["ts"].max()
    started = first[first >= data.period.start].rename("first_hour").reset_index()
    stopped = last[(last < data.period.start) & (last >= data.period.prev_start)].rename("last_hour").reset_index()

    # daily patterns: the last week against the week before would need two weeks; compare
    # the period's half of the lookback with the half before it
    mid = data.lookback_start + (data.period.end - data.lookback_start) / 2
    patterns = []
    for (host, metric, labels), grp in h.groupby(["host", "metric", "labels"], sort=True):
        y = pd.Series((grp["sum"] / grp["count"]).to_numpy(), index=grp["ts"])
        a, b = _daily_strength(y[y.index < mid]), _daily_strength(y[y.index >= mid])
        if math.isnan(a) or math.isnan(b):
            continue
        if b >= 0.5 and a < 0.25:
            patterns.append({"host": host, "metric": metric, "labels": labels, "change": "new daily pattern",
                             "strength_before": a, "strength_now": b})
        elif a >= 0.5 and b < 0.25:
            patterns.append({"host": host, "metric": metric, "labels": labels, "change": "daily pattern gone",
                             "strength_before": a, "strength_now": b})
    patterns_df = pd.DataFrame(patterns, columns=["host", "metric", "labels", "change", "strength_before",
                                                  "strength_now"])
    return {"shifts": shifts, "started": started, "stopped": stopped, "patterns": patterns_df}


# ---------------------------------------------------------------------- fleet ---
def fleet(data: ReportData, alerts: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per host with data in the period: samples, series, last hour seen, CPU and memory means."""
    cur = data.current
    cols = ["host", "samples", "series", "last_hour", "cpu", "memory", "alerts"]
    if cur.empty:
        return pd.DataFrame(columns=cols)
    g = cur.groupby("host")
    out = pd.DataFrame({"samples": g["count"].sum(), "series": g.apply(
        lambda d: d[["metric", "labels"]].drop_duplicates().shape[0], include_groups=False),
        "last_hour": g["ts"].max()})
    for key in ("cpu", "memory"):
        kpi = next(k for k in KPIS if k.key == key)
        rows = _kpi_rows(cur, kpi)
        if rows.empty:
            out[key] = math.nan
            continue
        m = rows.groupby("host")[["sum", "count"]].sum()
        v = m["sum"] / m["count"]
        out[key] = (1 - v) if kpi.invert else v
    fired = alerts[alerts["event"].isin(["fired", "firing"])] if alerts is not None and len(alerts) else None
    out["alerts"] = fired.groupby("host").size() if fired is not None else 0
    out["alerts"] = out["alerts"].fillna(0).astype(int)
    return out.reset_index()[cols].sort_values("host").reset_index(drop=True)
