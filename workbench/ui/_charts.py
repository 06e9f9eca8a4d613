"""The live time-series chart and the per-core CPU heatmap."""

from __future__ import annotations

import math
import time
from typing import Any

import traitlets

from workbench.labels import parse_labels
from workbench.ui._base import Panel, esc, range_window, tier_for_step, unit_of
from workbench.ui._base import ts as _ts
from workbench.ui._widgets import Chart, placeholder, to_csv_bytes, to_parquet_bytes

__all__ = ["LiveChart", "CoreHeatmap", "epoch_ms"]

MAX_SERIES = 12
_SEVERITY_COLOURS = {"info": "#3b82f6", "warning": "#d97706", "critical": "#dc2626"}
_PALETTE = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#0891b2", "#dc2626", "#65a30d", "#db2777",
            "#475569", "#ca8a04", "#0d9488", "#7c3aed"]


def epoch_ms(ts: Any) -> list[int]:
    """A pandas datetime column as integer milliseconds since the epoch (plotly's date numbers)."""
    return ts.astype("datetime64[ms, UTC]").astype("int64").tolist()


def _axis_layout(unit: str) -> dict:
    y: dict[str, Any] = {"title": {"text": unit if unit not in ("", "1") else ""}, "automargin": True}
    if unit == "1":
        y["tickformat"] = ".0%"
    elif unit.startswith("By"):
        y["ticksuffix"] = "B/s" if unit.endswith("/s") else "B"
        y["tickformat"] = "~s"
    return y


class LiveChart(Panel):
    """Several series of one metric on one host over the chosen range.

    Threshold zones come from the configured rules, markers from the
    ``alerts`` records and the demo's labelled anomalies. On ranges drawn from
    raw samples each :meth:`refresh` reads only buckets completed since the
    last one and appends them in place; rollup ranges are re-read by
    :meth:`refresh_slow`.
    """

    title_text = "History"
    rules = traitlets.List()
    max_series = traitlets.Int(MAX_SERIES)

    def __init__(self, store: Any = None, **kwargs: Any) -> None:
        self.chart = Chart(height=300, title="history")
        self._last_bucket: float | None = None
        self._order: list[str] = []
        self._step = 15.0
        self.tier = "raw"
        self.frame = None  # what the chart shows, for export
        super().__init__(store, **kwargs)
        self.children = [self._header, self.chart]
        traitlets.link((self, "theme"), (self.chart, "theme"))

    # -- data ------------------------------------------------------------
    def _query(self, start: float, end: float, step: float):
        labels = parse_labels(self.labels) if self.labels else None
        return self.store.query(self.metric, _ts(start), _ts(end), step=step, host=self.host, labels=labels)

    def _unit(self) -> str:
        return unit_of(self.store, self.metric)

    def _load_slow(self) -> dict | None:
        if not (self.host and self.metric):
            return None
        start, end, step = range_window(self.range)
        tier = tier_for_step(step)
        # Raw ranges grow tick by tick with whole buckets only (the last, still
        # filling, bucket is appended once complete); rollup ranges are re-read.
        end_b = math.floor(end / step) * step if tier == "raw" else end
        frame = self._query(start, end_b, step)
        series = list(dict.fromkeys(frame["labels"]))[: self.max_series] if len(frame) else []
        unit = self._unit()
        traces = []
        for i, labels in enumerate(series):
            part = frame[frame["labels"] == labels]
            traces.append({
                # a fresh agent has a point or two: lines alone would draw nothing
                "type": "scatter", "mode": "lines" if len(part) > 20 else "lines+markers",
                "name": labels or self.metric, "x": epoch_ms(part["ts"]), "y": part["value"].tolist(),
                "line": {"width": 1.5, "color": _PALETTE[i % len(_PALETTE)]},
                "hovertemplate": "%{y:.4g}<extra>" + esc(labels or self.metric) + "</extra>",
            })
        shapes, annotations = self._zones(frame)
        traces += self._markers(start, end)
        layout = {
            "margin": {"l": 56, "r": 12, "t": 8, "b": 36}, "uirevision": f"{self.host}|{self.metric}|{self.range}",
            # no axis title: under the two-line date ticks it ran into the legend; the header says UTC
            "xaxis": {"type": "date", "range": [start * 1000, end * 1000]},
            "yaxis": _axis_layout(unit), "showlegend": True,
            "yaxis2": {"overlaying": "y", "range": [0, 1], "visible": False, "fixedrange": True},
            "legend": {"orientation": "h", "y": -0.25, "font": {"size": 11}},
            "shapes": shapes, "annotations": annotations,
            "meta": {"tier": tier, "step": step, "host": self.host, "metric": self.metric},
        }
        if not traces:
            layout["annotations"] = [{"text": f"no data for {esc(self.metric)} on {esc(self.host)} in the last {esc(self.range)}",
                                      "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}]
        tier_name = {"raw": "raw samples", "1m": "1-minute rollups", "1h": "hourly rollups"}[tier]
        header = self._title_html(f' <span class="wb-muted wb-small">{esc(self.metric)} · {esc(self.host)} · '
                                  f'{esc(self.range)} · {tier_name}, {step:g} s buckets · times in UTC</span>')
        return {"figure": {"data": traces, "layout": layout}, "header": header, "frame": frame, "series": series,
                "step": step, "tier": tier, "end": end_b}

    def _apply_slow(self, data: dict | None) -> None:
        if data is None:
            return
        self._step, self.tier, self._last_bucket = data["step"], data["tier"], data["end"]
        self.frame, self._order = data["frame"], data["series"]
        self.chart.figure = data["figure"]
        self._header.value = data["header"]

    def _refresh(self) -> None:
        """Append buckets completed since the last call (raw-sample ranges only)."""
        if not (self.host and self.metric) or self._last_bucket is None or self.tier != "raw":
            return
        step = self._step
        end_b = math.floor(time.time() / step) * step
        if end_b <= self._last_bucket:
            return
        frame = self._query(self._last_bucket, end_b, step)
        self._last_bucket = end_b
        if not len(frame):
            return
        if set(frame["labels"]) - set(self._order) and len(self._order) < self.max_series:
            self._refresh_slow()  # a new series appeared: redraw once
            return
        xs, ys, idx = [], [], []
        for i, labels in enumerate(self._order):
            part = frame[frame["labels"] == labels]
            if len(part):
                xs.append(epoch_ms(part["ts"]))
                ys.append(part["value"].tolist())
                idx.append(i)
        if idx:
            s, e, _ = range_window(self.range)
            keep = int((e - s) / step) + 2
            self.chart.extend(xs, ys, idx, max_points=keep)
            import pandas as pd

            self.frame = pd.concat([self.frame, frame], ignore_index=True).tail(keep * max(1, len(self._order)))

    def _zones(self, frame: Any) -> tuple[list, list]:
        shapes, notes = [], []
        top = float(frame["value"].max()) if len(frame) else 1.0
        for rule in self.rules:
            if rule.kind != "threshold" or rule.metric != self.metric or rule.fire is None:
                continue
            if rule.host and rule.host != self.host:
                continue
            colour = _SEVERITY_COLOURS.get(rule.severity, "#d97706")
            y0, y1 = (rule.fire, max(top, rule.fire) * 1.05 + 1e-9) if rule.op in (">", ">=") else (0, rule.fire)
            shapes.append({"type": "rect", "xref": "paper", "x0": 0, "x1": 1, "y0": y0, "y1": y1, "layer": "below",
                           "fillcolor": colour, "opacity": 0.08, "line": {"width": 0}})
            shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": rule.fire, "y1": rule.fire,
                           "line": {"color": colour, "width": 1, "dash": "dash"}})
            notes.append({"text": f"{esc(rule.name)} ({rule.severity})", "xref": "paper", "x": 1, "xanchor": "right",
                          "y": rule.fire, "yanchor": "bottom", "showarrow": False, "font": {"size": 10, "color": colour}})
        return shapes, notes

    def _markers(self, start: float, end: float) -> list[dict]:
        traces = []
        views = set(self.store.views())
        if "alerts" in views:
            ev = self.store.sql(
                "SELECT ts, rule, severity, value, event FROM alerts WHERE host = ? AND metric = ? "
                "AND ts >= ? AND ts < ? AND event IN ('firing', 'resolved') ORDER BY ts",
                [self.host, self.metric, _ts(start).to_pydatetime(), _ts(end).to_pydatetime()])
            for event, symbol, colour in (("firing", "x", "#dc2626"), ("resolved", "circle-open", "#16a34a")):
                part = ev[ev["event"] == event]
                if len(part):
                    traces.append({"type": "scatter", "mode": "markers", "name": f"alert {event}",
                                   "x": epoch_ms(part["ts"]), "y": part["value"].tolist(),
                                   "text": part["rule"].tolist(),
                                   "marker": {"symbol": symbol, "size": 9, "color": colour},
                                   "hovertemplate": "%{text}: %{y:.4g}<extra>" + event + "</extra>"})
        if "demo_anomalies" in views:
            win = self.store.sql(
                'SELECT "start", "end" FROM demo_anomalies WHERE host = ? AND metric = ? AND "end" >= ? AND "start" < ?',
                [self.host, self.metric, _ts(start).to_pydatetime(), _ts(end).to_pydatetime()])
            for s, e in zip(epoch_ms(win["start"]), epoch_ms(win["end"]), strict=True):
                traces.append({"type": "scatter", "mode": "lines", "fill": "toself", "hoverinfo": "name",
                               "name": "labelled anomaly", "showlegend": False,
                               "x": [s, e, e, s, s], "y": [0, 0, 1, 1, 0], "yaxis": "y2",
                               "fillcolor": "rgba(147,51,234,0.10)", "line": {"width": 0}})
        return traces

    # -- export ----------------------------------------------------------
    def export(self, fmt: str = "csv") -> tuple[str, bytes]:
        """What the chart shows as ``(filename, bytes)``: ``csv`` or ``parquet``."""
        import pandas as pd

        frame = self.frame if self.frame is not None else pd.DataFrame()
        base = f"{self.host}_{self.metric}_{self.range.replace(' ', '')}"
        if fmt == "parquet":
            return f"{base}.parquet", to_parquet_bytes(frame)
        return f"{base}.csv", to_csv_bytes(frame)


class CoreHeatmap(Panel):
    """Busy fraction (1 - idle) per CPU core over the range, one row per core."""

    title_text = "CPU per core"

    def __init__(self, store: Any = None, **kwargs: Any) -> None:
        self.chart = Chart(height=220, title="cpu per core")
        super().__init__(store, **kwargs)
        self.children = [self._header, self.chart]
        traitlets.link((self, "theme"), (self.chart, "theme"))

    def _load_slow(self) -> dict | None:
        if not self.host:
            return None
        start, end, step = range_window(self.range)
        step = max(step, 10.0)
        frame = self.store.query("system.cpu.utilization", _ts(start), _ts(end), step=step, host=self.host,
                                 labels={"cpu": "*", "state": "idle"})
        if len(frame):
            frame = frame[~frame["labels"].str.contains("cpu=total", regex=False)]
        if not len(frame):
            return placeholder(f"no per-core CPU data for {esc(self.host)}")
        frame = frame.assign(core=[int(parse_labels(lab)["cpu"]) for lab in frame["labels"]], busy=1 - frame["value"])
        grid = frame.pivot_table(index="core", columns="ts", values="busy", aggfunc="mean").sort_index()
        z = [[None if not math.isfinite(v) else round(float(v), 4) for v in row] for row in grid.to_numpy()]
        import pandas as pd

        return {
            "data": [{"type": "heatmap", "z": z, "x": epoch_ms(pd.Series(grid.columns)),
                      "y": [f"cpu {c}" for c in grid.index], "zmin": 0, "zmax": 1,
                      "colorscale": "YlOrRd", "reversescale": True, "colorbar": {"tickformat": ".0%", "thickness": 10},
                      "hovertemplate": "%{y} %{x}: %{z:.0%}<extra></extra>"}],
            "layout": {"margin": {"l": 56, "r": 12, "t": 8, "b": 44}, "xaxis": {"type": "date"},
                       "yaxis": {"autorange": "reversed", "automargin": True},
                       "uirevision": f"{self.host}|{self.range}", "meta": {"tier": tier_for_step(step)}},
        }

    def _apply_slow(self, figure: dict | None) -> None:
        if figure is not None:
            self.chart.figure = figure
