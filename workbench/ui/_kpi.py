"""KPI cards: CPU, memory, swap, load, disk and network of one host.

Each card shows the current value with its unit, the change of the mean over
the shown range against the range before it, a sparkline, and a colour from
the configured alert rules (threshold rules on the card's metric and labels),
or from defaults when no rule covers it. Cards are plain HTML: they draw with
the page's first bytes, before any chart library arrives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as W
import traitlets

from workbench.labels import parse_labels
from workbench.ui._base import (
    Panel,
    esc,
    fmt_value,
    frame_rows,
    latest_rows,
    range_window,
    sparkline_svg,
)
from workbench.ui._base import ts as _ts

__all__ = ["KPIS", "Kpi", "KpiCards", "card_html", "kpi_history", "kpi_values", "kpi_thresholds"]


@dataclass(frozen=True)
class Kpi:
    """One card: which series, how to combine them (``sum``, ``max``, ``ratio``), and a linear
    transform ``scale * x + offset`` (CPU busy is ``1 - idle``)."""

    key: str
    label: str
    metric: str
    labels: dict[str, str] = field(default_factory=dict)
    unit: str = "1"
    combine: str = "max"
    scale: float = 1.0
    offset: float = 0.0
    ratio_of: tuple[str, str] | None = None  # (numerator state, denominator states "a+b")
    warn: float | None = None
    crit: float | None = None


KPIS: tuple[Kpi, ...] = (
    Kpi("cpu", "CPU", "system.cpu.utilization", {"cpu": "total", "state": "idle"}, scale=-1.0, offset=1.0,
        warn=0.80, crit=0.95),
    Kpi("memory", "Memory", "system.memory.utilization", warn=0.85, crit=0.95),
    Kpi("swap", "Swap", "system.paging.usage", combine="ratio", ratio_of=("used", "used+free"), warn=0.5, crit=0.8),
    Kpi("load", "Load (1 min)", "system.cpu.load_average.1m", unit="{thread}"),
    Kpi("disk", "Disk (fullest)", "system.filesystem.utilization", combine="max", warn=0.85, crit=0.95),
    Kpi("network", "Network", "system.network.io", unit="By/s", combine="sum"),
)


def _matches(labels: str, want: dict[str, str]) -> bool:
    have = parse_labels(labels) if labels else {}
    return all(have.get(k) == v for k, v in want.items())


# The KPI arithmetic runs on plain rows (see ``_base.frame_rows``).
def _combine(kpi: Kpi, rows: list[tuple[str, float]]) -> float:
    """One number from ``(labels, value)`` rows of one metric at one time."""
    if kpi.labels:
        rows = [r for r in rows if _matches(r[0], kpi.labels)]
    if not rows:
        return math.nan
    if kpi.combine == "ratio" and kpi.ratio_of:
        num, den = kpi.ratio_of
        states = {parse_labels(lab).get("state"): v for lab, v in rows}
        total = sum(states.get(s, math.nan) for s in den.split("+"))
        return states.get(num, math.nan) / total if total and total > 0 else math.nan
    values = [float(v) for _, v in rows]
    x = sum(values) if kpi.combine == "sum" else max(values)
    return kpi.scale * x + kpi.offset


def kpi_values(latest: Any, kpis: tuple[Kpi, ...] = KPIS) -> dict[str, float]:
    """Current value of each KPI from a :meth:`Store.latest` frame of one host (or its :func:`frame_rows`)."""
    by_metric: dict[str, list[tuple[str, float]]] = {}
    for _when, metric, labels, value in (latest if isinstance(latest, list) else frame_rows(latest)):
        by_metric.setdefault(metric, []).append((labels, value))
    return {kpi.key: _combine(kpi, by_metric.get(kpi.metric, [])) for kpi in kpis}


def kpi_series(frame: Any, kpi: Kpi) -> Any:
    """The KPI per timestamp from a bucketed query frame (``ts, metric, labels, value``)."""
    import pandas as pd

    by_ts: dict[Any, list[tuple[str, float]]] = {}
    for ts, metric, labels, value in frame_rows(frame):
        if metric == kpi.metric:
            by_ts.setdefault(ts, []).append((labels, value))
    if not by_ts:
        return pd.Series(dtype=float)
    index = sorted(by_ts)
    return pd.Series([_combine(kpi, by_ts[t]) for t in index], index=pd.to_datetime(index, unit="us", utc=True))


def kpi_thresholds(kpi: Kpi, rules: list) -> tuple[float | None, float | None, str]:
    """(warning, critical, source) for a card, from threshold rules on its series.

    A rule on the card's metric whose label matchers accept the card's labels
    counts; its level goes through the card's transform (a rule ``idle < 0.1``
    is a CPU card level of 0.9). Without such a rule: the card's defaults.
    """
    warn, crit, source = kpi.warn, kpi.crit, "default"
    for rule in rules:
        if getattr(rule, "kind", None) != "threshold" or rule.metric != kpi.metric or rule.fire is None:
            continue
        if kpi.labels and not rule.labels.matches(kpi.labels):
            continue
        level = kpi.scale * rule.fire + kpi.offset
        if rule.severity == "critical":
            crit = level
        else:
            warn = level
        source = f"rule {rule.name}"
    return warn, crit, source


def _state(value: float, warn: float | None, crit: float | None) -> str:
    if not math.isfinite(value):
        return "none"
    if crit is not None and value >= crit:
        return "crit"
    if warn is not None and value >= warn:
        return "warn"
    return "ok"


class KpiCards(Panel):
    """One card per KPI of ``host``: value, change against the previous period, sparkline."""

    title_text = "Now"
    rules = traitlets.List()
    values = traitlets.Dict()

    def __init__(self, store: Any = None, kpis: tuple[Kpi, ...] = KPIS, **kwargs: Any) -> None:
        self.kpis = kpis
        self._cards = {k.key: W.HTML(layout=W.Layout(min_width="0")) for k in kpis}
        for card in self._cards.values():
            card.add_class("wb-card")
        self._history: dict[str, Any] = {}
        self._change: dict[str, float] = {}
        super().__init__(store, **kwargs)
        grid = W.Box(list(self._cards.values()))
        grid.add_class("wb-cards")
        self.children = [grid]
        self._draw()

    def _refresh(self) -> None:
        if not self.host:
            return
        values = kpi_values(latest_rows(self.store, self.host), self.kpis)
        if values != self.values:  # NaN != NaN redraws a card without data: harmless
            self.values = values
            self._draw()

    def _load_slow(self) -> Any:
        return kpi_history(self.store, self.host, self.range, self.kpis) if self.host else None

    def _apply_slow(self, data: Any) -> None:
        if data is not None:
            self._history, self._change = data
            self._draw()

    def _inputs_changed(self) -> None:
        self._history, self._change, self.values = {}, {}, {}
        super()._inputs_changed()

    def _draw(self) -> None:
        for kpi in self.kpis:
            self._cards[kpi.key].value = card_html(kpi, self.values.get(kpi.key, math.nan), self.rules, self.range,
                                                   self._history.get(kpi.key), self._change.get(kpi.key, math.nan))


def kpi_history(store: Any, host: str, rng: str, kpis: tuple[Kpi, ...] = KPIS) -> tuple[dict[str, Any], dict[str, float]]:
    """Each KPI over the range ``rng`` (~60 points, for its sparkline) and the change of its
    mean against the range before: ``({key: series}, {key: change})``."""
    start, end, _step = range_window(rng)
    span = end - start
    step = max(60.0, round(span / 60 / 60) * 60)  # ~60 points, at least the minute tier
    metrics = sorted({k.metric for k in kpis} & set(store.metrics()["name"]))
    if not metrics:
        return {}, {}
    frame = store.query(metrics, start - span, end, step=step, host=host)
    cut = _ts(start)
    history: dict[str, Any] = {}
    change: dict[str, float] = {}
    for kpi in kpis:
        series = kpi_series(frame, kpi)
        if not len(series):
            history[kpi.key], change[kpi.key] = series, math.nan
            continue
        now_part = series[series.index >= cut]
        before = series[series.index < cut]
        history[kpi.key] = now_part
        a, b = (float(now_part.mean()) if len(now_part) else math.nan,
                float(before.mean()) if len(before) else math.nan)
        change[kpi.key] = a - b
    return history, change


def card_html(kpi: Kpi, value: float, rules: list, rng: str, history: Any = None, delta: float = math.nan) -> str:
    """One card as HTML: value with unit, colour from the rules, sparkline, change against the previous range."""
    warn, crit, source = kpi_thresholds(kpi, rules)
    state = _state(value, warn, crit)
    spark = sparkline_svg(list(history.values) if history is not None else [], label=f"{kpi.label} over {rng}")
    if math.isfinite(delta):
        sign = "▲" if delta > 0 else "▼" if delta < 0 else "="
        change = f'{sign} {esc(fmt_value(abs(delta), kpi.unit))} vs previous {esc(rng)}'
    else:
        change = "no earlier data"
    levels = []
    if warn is not None:
        levels.append(f"warning ≥ {fmt_value(warn, kpi.unit)}")
    if crit is not None:
        levels.append(f"critical ≥ {fmt_value(crit, kpi.unit)}")
    tip = esc(f"{kpi.metric} {kpi.labels or ''} · " + (", ".join(levels) + f" ({source})" if levels else "no threshold"))
    return (
        f'<div class="wb-card-in wb-{state}" title="{tip}" data-kpi="{kpi.key}" '
        f'data-value="{value if math.isfinite(value) else ""}">'
        f'<div class="wb-card-label">{esc(kpi.label)}</div>'
        f'<div class="wb-card-value">{_value_html(fmt_value(value, kpi.unit))}</div>'
        f'<div class="wb-card-spark">{spark}</div>'
        f'<div class="wb-card-change wb-muted">{change}</div></div>'
    )


def _value_html(text: str) -> str:
    """``10.5 thread`` as a big number and a small unit, so long units never overflow a card."""
    number, _, unit = text.partition(" ")
    return f'{esc(number)}<span class="wb-card-unit"> {esc(unit)}</span>' if unit else esc(number)
