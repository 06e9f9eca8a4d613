"""Back-testing rules and detectors on history, and suggesting thresholds from it.

Replays history through the very same :class:`AlertManager` (with a clock
that follows the data), so what a back-test reports is what the live agent
would have done: when each alert would have fired, how often it flapped, and,
given labelled incidents, precision, recall and lead time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench.detect._base import Detector, score_series
from workbench.detect._errors import RuleError
from workbench.detect._manager import AlertManager, Forecaster
from workbench.detect._rules import Rule
from workbench.errors import DataError

__all__ = ["BacktestResult", "backtest_rule", "backtest_detector", "suggest_threshold"]


@dataclass(frozen=True)
class BacktestResult:
    """Episodes (one row per firing: host, metric, labels, fired, resolved) and their quality."""

    episodes: pd.DataFrame
    records: pd.DataFrame
    flaps: int
    precision: float | None
    recall: float | None
    mean_lead_seconds: float | None

    def summary(self) -> dict[str, Any]:
        return {
            "alerts": len(self.episodes),
            "flaps": self.flaps,
            "precision": self.precision,
            "recall": self.recall,
            "mean_lead_seconds": self.mean_lead_seconds,
        }


def _check_frame(frame: pd.DataFrame) -> pd.DataFrame:
    missing = {"ts", "value"} - set(frame.columns)
    if missing:
        raise DataError(
            f"History needs columns ts and value (plus host, metric, labels); missing {sorted(missing)}.",
            missing=sorted(missing),
        )
    out = frame.copy()
    out["ts"] = pd.to_datetime(out["ts"], utc=True)
    for col, default in (("host", ""), ("metric", ""), ("labels", "")):
        if col not in out:
            out[col] = default
    return out.sort_values("ts", kind="stable").reset_index(drop=True)


def backtest_rule(
    rule: Rule,
    history: pd.DataFrame,
    incidents: Sequence[tuple[Any, Any]] | None = None,
    *,
    tick_every: float | None = None,
    forecaster: Forecaster | None = None,
    flap_window: float = 900.0,
    max_lead: float = 3600.0,
) -> BacktestResult:
    """Replay ``history`` (columns ts, host, metric, labels, value) through ``rule``.

    ``incidents`` are labelled ``(start, end)`` periods; an alert that fires
    between ``start - max_lead`` and ``end`` detects it, and its lead time is
    ``start - fired`` (positive = before the incident began).
    """
    frame = _check_frame(history)
    secs = pd.to_datetime(frame["ts"], utc=True).astype("datetime64[ns, UTC]").astype("int64").to_numpy() / 1e9  # unit-safe: pandas 3 defaults to us
    now = {"t": float(secs[0]) if len(secs) else 0.0}
    mgr = AlertManager([rule], clock=lambda: now["t"], forecaster=forecaster, flap_window=flap_window)
    step = tick_every if tick_every is not None else max(rule.for_seconds / 4, rule.after_seconds / 4, 1.0)
    next_tick = now["t"]
    hosts, metrics, labels, values = (frame[c].to_numpy() for c in ("host", "metric", "labels", "value"))
    for i, t in enumerate(secs):
        while next_tick <= t:
            now["t"] = next_tick
            mgr.tick(next_tick)
            next_tick += step
        now["t"] = float(t)
        mgr.observe(float(t), str(hosts[i]), str(metrics[i]), values[i], str(labels[i]))
    records = mgr.drain_records()
    episodes = _episodes(records)
    return _quality(episodes, records, incidents, max_lead, flap_window)


def backtest_detector(
    detector: Detector,
    series: pd.Series,
    threshold: float,
    incidents: Sequence[tuple[Any, Any]] | None = None,
    *,
    max_lead: float = 3600.0,
    flap_window: float = 900.0,
) -> BacktestResult:
    """Score ``series`` with ``detector`` and treat ``score >= threshold`` as an alert."""
    scores = score_series(detector, series)
    rule = Rule(name="backtest", kind="threshold", metric="anomaly_score", fire=threshold, resolve=threshold)
    frame = pd.DataFrame({"ts": series.index, "value": scores.to_numpy() - 1e-12, "metric": "anomaly_score"})
    return backtest_rule(rule, frame, incidents, max_lead=max_lead, flap_window=flap_window)


def _episodes(records: pd.DataFrame) -> pd.DataFrame:
    rows = []
    open_: dict[str, dict] = {}
    for rec in records.itertuples(index=False):
        if rec.event == "firing":
            open_[rec.alert_id] = {"alert_id": rec.alert_id, "host": rec.host, "metric": rec.metric,
                                   "labels": rec.labels, "fired": rec.ts, "resolved": pd.NaT}
        elif rec.event == "resolved" and rec.alert_id in open_:
            ep = open_.pop(rec.alert_id)
            ep["resolved"] = rec.ts
            rows.append(ep)
    rows.extend(open_.values())
    cols = ["alert_id", "host", "metric", "labels", "fired", "resolved"]
    return pd.DataFrame(rows, columns=cols).sort_values("fired").reset_index(drop=True)


def _quality(episodes, records, incidents, max_lead, flap_window) -> BacktestResult:
    fired = pd.to_datetime(episodes["fired"], utc=True)
    flaps = 0
    for _, group in episodes.groupby("alert_id"):
        starts = pd.to_datetime(group["fired"], utc=True).sort_values()
        ends = pd.to_datetime(group["resolved"], utc=True).sort_values()
        flaps += int(((starts.iloc[1:].to_numpy() - ends.iloc[:-1].to_numpy()) < pd.Timedelta(seconds=flap_window)).sum())
    if not incidents:
        return BacktestResult(episodes, records, flaps, None, None, None)
    spans = [(pd.Timestamp(a, tz="UTC") if pd.Timestamp(a).tzinfo is None else pd.Timestamp(a),
              pd.Timestamp(b, tz="UTC") if pd.Timestamp(b).tzinfo is None else pd.Timestamp(b)) for a, b in incidents]
    lead = pd.Timedelta(seconds=max_lead)
    useful = np.zeros(len(episodes), bool)
    leads = []
    for start, end in spans:
        hit = ((fired >= start - lead) & (fired <= end)).to_numpy()
        useful |= hit
        if hit.any():
            leads.append((start - fired[hit].min()).total_seconds())
    precision = float(useful.mean()) if len(episodes) else None
    recall = len(leads) / len(spans)
    return BacktestResult(episodes, records, flaps, precision, recall, float(np.mean(leads)) if leads else None)


def suggest_threshold(
    values: pd.Series,
    *,
    quantile: float | None = None,
    alerts_per_day: float | None = None,
    op: str = ">",
) -> dict[str, float]:
    """Suggest a fire level from history: a ``quantile`` or a target ``alerts_per_day``.

    For a target rate, the level is the lowest one whose up-crossings (each a
    would-be alert) happen at most ``alerts_per_day`` times per day over the
    history. Returns ``{"fire": ..., "resolve": ..., "alerts_per_day": ...}``
    with a resolve level a little on the safe side for hysteresis; pass it to
    a rule dict to accept it.
    """
    if (quantile is None) == (alerts_per_day is None):
        raise RuleError("Give exactly one of quantile=... or alerts_per_day=... to suggest a threshold.")
    s = values.dropna()
    if len(s) < 10:
        raise DataError(f"Need at least 10 values of history to suggest a threshold; got {len(s)}.", n=len(s))
    x = s.to_numpy(float) if op == ">" else -s.to_numpy(float)
    days = max((s.index[-1] - s.index[0]) / pd.Timedelta(days=1), 1e-9) if isinstance(s.index, pd.DatetimeIndex) else len(s) / 86400
    if quantile is not None:
        if not 0 < quantile < 1:
            raise RuleError(f"quantile must be in (0, 1); got {quantile}.")
        level = float(np.quantile(x, quantile))
    else:
        level = float(x.max())
        for cand in np.unique(np.quantile(x, np.linspace(0.5, 1.0, 201)))[::-1]:
            if _crossings(x, cand) / days > alerts_per_day:
                break
            level = float(cand)
    spread = float(np.quantile(x, 0.75) - np.quantile(x, 0.25)) or abs(level) * 0.01
    resolve = level - 0.1 * spread
    rate = _crossings(x, level) / days
    sign = 1.0 if op == ">" else -1.0
    return {"fire": sign * level, "resolve": sign * resolve, "alerts_per_day": rate}


def _crossings(x: np.ndarray, level: float) -> int:
    above = x > level
    return int(above[0]) + int((above[1:] & ~above[:-1]).sum())
