"""The report a notebook shows: one :class:`Report`, one method per section, each an HTML block.

``notebooks/report.ipynb`` is a parameters cell and one call per section::

    rep = Report(since=since, until=until, hosts=hosts, metrics=metrics, horizon=horizon, title=title)
    rep.header()      # title, period, plotly.js once
    rep.summary()     # ... and so on

Each method returns a :class:`Section` (rendered through ``_repr_html_``) that
also keeps the numbers it shows in ``section.data``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pandas as pd

from workbench.report import _sections as S
from workbench.report._html import (
    PALETTE,
    STYLE,
    chart,
    data_attr,
    esc,
    fmt,
    fmt_change,
    fmt_time,
    plotly_js,
    table,
    unit_title,
    yaxis_for,
)
from workbench.report._period import Period, resolve_period

__all__ = ["Report", "Section"]


@dataclass
class Section:
    """One block of the report: its HTML and the numbers behind it."""

    id: str
    html: str
    data: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:  # the text/plain twin of the HTML output: short, not the whole page again
        return f"<report section {self.id}>"

    def _repr_html_(self) -> str:
        return f'<div class="wb-report"><section class="wb-section" id="wb-{self.id}">{self.html}</section></div>'


def _epoch_ms(ts: pd.Series | pd.Index) -> list:
    return pd.DatetimeIndex(ts).tz_convert("UTC").tz_localize(None).astype("datetime64[ms]").astype("int64").tolist()


def _iso(ts: pd.Series | pd.Index) -> list[str]:
    return [t.strftime("%Y-%m-%dT%H:%M:%S") for t in pd.DatetimeIndex(ts).tz_convert("UTC")]


def _series_name(host: str, metric: str, labels: str, *, family: str, metric_too: bool = True) -> str:
    """A short legend entry: the host, the metric's last part when a chart has several, the label values."""
    from workbench.labels import parse_labels

    short = metric[len(family) + 1:] if metric.startswith(family + ".") else metric
    values = [v for v in (parse_labels(labels) if labels else {}).values() if v != "total"]
    return " ".join(p for p in (host, short if metric_too else "", "/".join(values)) if p)


class Report:
    """Everything the report shows, for one period, set of hosts and metrics."""

    def __init__(self, since: Any = "1d", until: Any = None, hosts: list[str] | None = None,
                 metrics: list[str] | None = None, horizon: Any = "1d", title: str = "Workbench report",
                 store: Any = None, now: Any = None) -> None:
        from workbench.store import Store
        from workbench.store._timeutil import parse_duration

        self.store = store if store is not None else Store()
        self.period: Period = resolve_period(since, until, now=now)
        self.hosts = list(hosts) if hosts else None
        self.metrics = list(metrics) if metrics else None
        self.horizon = pd.Timedelta(seconds=parse_duration(horizon, what="horizon"))
        self.title = title
        if self.metrics:
            for m in self.metrics:
                self.store.check_metric(m)
        if self.hosts:
            known = set(self.store.hosts())
            missing = [h for h in self.hosts if h not in known]
            if missing:
                from workbench.errors import DataError

                raise DataError(f"hosts names {missing[0]!r}, which has no data in {self.store.home}; "
                                f"its hosts are: {', '.join(sorted(known)) or 'none'}.", parameter="hosts")

    @cached_property
    def data(self) -> S.ReportData:
        return S.load(self.store, self.period, self.hosts, self.metrics)

    @cached_property
    def _alerts(self) -> pd.DataFrame:
        return S.alerts_in_period(self.data)

    # -------------------------------------------------------------- header ---
    def header(self) -> Section:
        d = self.data
        hosts = sorted(d.current["host"].unique())
        generated = pd.Timestamp.now("UTC").strftime("%Y-%m-%d %H:%M UTC")
        scope = (f"{len(hosts)} host{'s' if len(hosts) != 1 else ''}"
                 + (f" (of {', '.join(self.hosts)})" if self.hosts else ""))
        html = (STYLE + plotly_js()
                + f'<h1>{esc(self.title)}</h1><div class="wb-meta" data-start="{esc(self.period.start.isoformat())}" '
                  f'data-end="{esc(self.period.end.isoformat())}">Period {esc(self.period.label())} '
                  f"(compared with the {esc(_human(self.period.length))} before) · {esc(scope)} · "
                  f"forecast horizon {esc(_human(self.horizon))} · generated {esc(generated)}</div>")
        return Section("header", html, {"hosts": hosts})

    def _xrange(self, whole_hours: bool = False) -> dict[str, Any]:
        """Every chart of the period spans the whole period, so charts line up and gaps show
        (up to now, or to the end of the current hour for charts of hourly bars)."""
        end = self.period.end if whole_hours else self.period.shown_end
        return {"type": "date", "range": [self.period.start.strftime("%Y-%m-%dT%H:%M:%S"),
                                          end.strftime("%Y-%m-%dT%H:%M:%S")]}

    # ------------------------------------------------------------- summary ---
    def summary(self) -> Section:
        k = S.kpis(self.data)
        cards = []
        for r in k.itertuples(index=False):
            cls = ""
            moved = abs(r.relative_change) >= 0.005 if math.isfinite(r.relative_change) else r.change != 0
            if isinstance(r.change, float) and math.isfinite(r.change) and moved:
                cls = "wb-up" if r.change > 0 else "wb-down"
            cards.append(
                f'<div class="wb-card" data-kpi="{esc(r.key)}" {data_attr("value", r.mean)} '
                f'{data_attr("previous", r.previous)} {data_attr("peak", r.peak)} data-metric="{esc(r.metric)}" '
                f'data-labels="{esc(r.labels)}">'
                f'<div class="wb-card-label">{esc(r.label)}</div>'
                f'<div class="wb-card-value">{esc(fmt(r.mean, r.unit))}</div>'
                f'<div class="wb-card-sub"><span class="{cls}">{esc(fmt_change(r.change, r.relative_change, r.unit))}'
                f'</span> vs {esc(fmt(r.previous, r.unit))} · peak {esc(fmt(r.peak, r.unit))}</div></div>')
        body = (f'<div class="wb-cards">{"".join(cards)}</div>' if cards
                else '<p class="wb-note">No headline metric has data in this period.</p>')
        return Section("summary", "<h2>Summary</h2>" + body
                       + '<p class="wb-note">Means over the period across the hosts shown; the change is against '
                         "the period before.</p>", {"kpis": k})

    # -------------------------------------------------------------- charts ---
    def charts(self) -> Section:
        fams = S.family_series(self.data)
        parts, shown = [], {}
        for (family, unit), frame in fams.items():
            if frame.empty:
                continue
            traces = []
            groups = list(frame.groupby(["host", "metric", "labels"], sort=True))
            several = len({m for (_h, m, _l), _g in groups}) > 1
            for i, ((host, metric, labels), grp) in enumerate(groups):
                traces.append({"type": "scatter", "mode": "lines", "x": _iso(grp["ts"]), "y": grp["value"].tolist(),
                               "name": _series_name(host, metric, labels, family=family, metric_too=several),
                               "line": {"width": 1.4, "color": PALETTE[i % len(PALETTE)]}})
            fig = {"data": traces, "layout": {"title": {"text": f"{family} ({unit_title(unit)})",
                                                        "font": {"size": 13}},
                                              "yaxis": yaxis_for(unit), "xaxis": self._xrange()}}
            parts.append(chart(fig, name=f"{family}|{unit}", height=280))
            shown[(family, unit)] = frame
        body = f'<div class="wb-grid">{"".join(parts)}</div>' if parts else \
            '<p class="wb-note">No samples in this period.</p>'
        return Section("charts", f"<h2>Metrics by family</h2><p class=\"wb-note\">At {esc(self.period.step)} "
                                 "resolution; at most 12 series per chart, those with the highest mean; per-core CPU "
                                 "is left out (the total is there).</p>" + body, {"families": shown})

    # ----------------------------------------------------------- processes ---
    def processes(self) -> Section:
        top = S.top_processes(self.data)
        if top.empty:
            body = '<p class="wb-note">No process metrics in this period.</p>'
        else:
            body = table(top, [("host", "host", None), ("name", "process", None),
                               ("cpu_mean", "CPU mean", lambda v: fmt(v, "1")),
                               ("cpu_peak", "CPU peak", lambda v: fmt(v, "1")),
                               ("memory_peak", "memory peak", lambda v: fmt(v, "By"))],
                         attrs=lambda r: f'{data_attr("host", r["host"])} {data_attr("name", r["name"])} '
                                         f'{data_attr("cpu-mean", float(r["cpu_mean"]))}')
        return Section("processes", "<h2>Top processes</h2>" + body, {"top": top})

    # ------------------------------------------------------ alerts/anomaly ---
    def alerts(self) -> Section:
        al = self._alerts
        an = S.anomalies(self.data)
        if al.empty:
            a_html = '<p class="wb-note">No alert fired, resolved or escalated in this period.</p>'
        else:
            a_html = table(al.tail(30), [("ts", "when (UTC)", fmt_time), ("event", "event", None),
                                         ("severity", "severity", None), ("rule", "rule", None),
                                         ("host", "host", None), ("metric", "metric", None),
                                         ("labels", "labels", None), ("value", "value", _num),
                                         ("summary", "evidence", None)],
                           attrs=lambda r: f'data-alert="{esc(r["rule"])}" {data_attr("event", r["event"])}')
        if an.empty:
            n_html = '<p class="wb-note">No hour of the headline series stood out from the hours before it.</p>'
        else:
            units = self.data.units
            shown = an.assign(value_s=[fmt(v, units.get(m, "")) for v, m in zip(an["value"], an["metric"], strict=True)],
                              baseline_s=[fmt(v, units.get(m, "")) for v, m in zip(an["baseline"], an["metric"],
                                                                                  strict=True)])
            n_html = table(shown, [("ts", "hour (UTC)", fmt_time), ("host", "host", None), ("kpi", "figure", None),
                                   ("labels", "labels", None), ("value_s", "value", str),
                                   ("baseline_s", "usual (median)", str), ("score", "score", lambda v: f"{v:.2f}")],
                           attrs=lambda r: f'{data_attr("host", r["host"])} {data_attr("score", r["score"])}')
        n_alerts = int(al["event"].isin(["fired", "firing"]).sum()) if len(al) else 0
        return Section("alerts", f"<h2>Alerts and anomalies</h2><h3>Alerts ({n_alerts} fired)</h3>{a_html}"
                                 f"<h3>Anomalies ({len(an)})</h3><p class=\"wb-note\">Hourly means scored by a robust "
                                 "z-score against the 72 hours before (0.5 = five robust deviations); shown from "
                                 "0.75.</p>" + n_html, {"alerts": al, "anomalies": an})

    # ------------------------------------------------------------ forecast ---
    def forecast(self) -> Section:
        fcs = S.forecasts(self.data, self.horizon)
        caps = S.capacity_warnings(self.data, self.horizon)
        parts = []
        for key, f in fcs.items():
            kpi, y, fc, unit = f["kpi"], f["history"], f["forecast"], f["unit"]
            y = y[y.index >= self.period.end - max(self.period.length, pd.Timedelta("2D"))]
            x = _iso(fc.index)
            traces = [_band(x, fc, "95", "rgba(37,99,235,0.12)"), _band(x, fc, "80", "rgba(37,99,235,0.25)"),
                      {"type": "scatter", "mode": "lines", "x": _iso(y.index), "y": y.tolist(), "name": "observed",
                       "line": {"color": "#1f2937", "width": 1.4}},
                      {"type": "scatter", "mode": "lines", "x": x, "y": fc["mean"].tolist(), "name": "forecast",
                       "line": {"color": "#2563eb", "dash": "dash"}}]
            fig = {"data": traces, "layout": {"title": {"text": f"{kpi.label}: next {_human(self.horizon)} "
                                                                f"({f['model']})", "font": {"size": 13}},
                                              "yaxis": yaxis_for(unit), "xaxis": {"type": "date"}}}
            parts.append(chart(fig, name=f"forecast|{key}", height=280))
            end = fc.iloc[-1]
            parts.append(f'<p class="wb-meta" data-forecast="{esc(key)}" {data_attr("mean", float(end["mean"]))}>'
                         f"At the horizon: {esc(fmt(end['mean'], unit))} (80 %: {esc(fmt(end['lo_80'], unit))} – "
                         f"{esc(fmt(end['hi_80'], unit))}; 95 %: {esc(fmt(end['lo_95'], unit))} – "
                         f"{esc(fmt(end['hi_95'], unit))})</p>")
        if not parts:
            parts.append('<p class="wb-note">Too little history (a day of hours is needed) to forecast.</p>')
        if caps.empty:
            cap_html = (f'<p class="wb-note">No host is forecast to cross a capacity threshold within '
                        f"{esc(_human(self.horizon))}.</p>")
        else:
            warn = caps[caps["status"].isin(["already", "expected"])]
            maybe = caps[caps["status"] == "possible"]
            warn = warn.assign(level=warn["status"].map({"already": "over now", "expected": "expected"}),
                               at=[fmt_time(t) if s == "expected" else "now" for t, s in zip(warn["eta"], warn["status"],
                                                                                          strict=True)],
                               range=[f"{fmt_time(a)} – {fmt_time(b) or 'after the horizon'}" if s == "expected"
                                      else "" for a, b, s in zip(warn["earliest"], warn["latest"], warn["status"],
                                                                 strict=True)])
            cap_html = "" if warn.empty else table(
                warn, [("host", "host", None), ("kpi", "figure", None), ("labels", "labels", None),
                       ("now", "last hour", lambda v: fmt(v, "1")), ("threshold", "threshold", lambda v: fmt(v, "1")),
                       ("level", "state", None), ("at", "crossing (UTC)", None), ("range", "95 % range", None)],
                attrs=lambda r: f'{data_attr("host", r["host"])} {data_attr("status", r["status"])}')
            if len(maybe):
                cap_html += (f'<p class="wb-note">{len(maybe)} more series stay below their threshold in the forecast '
                             f"but could cross it within the 95 % interval: "
                             f"{esc(', '.join(sorted(set(maybe['host']))))}.</p>")
        return Section("forecast", f"<h2>Forecasts for the next {esc(_human(self.horizon))}</h2>" + "".join(parts)
                       + "<h3>Capacity warnings</h3>" + cap_html, {"forecasts": fcs, "capacity": caps})

    # ------------------------------------------------------------ executor ---
    def executor(self) -> Section:
        ex = S.executor_runs(self.data)
        if not ex["total"]:
            return Section("executor", '<h2>Executor</h2><p class="wb-note">No task ended in this period.</p>', ex)
        by = ex["by_name"]
        states = [c for c in by.columns if c not in ("name", "mean_run_s")]
        cols = [("name", "task", None)] + [(s, s, lambda v: f"{int(v)}") for s in states]
        cols.append(("mean_run_s", "mean run", lambda v: f"{v:.2f} s" if v == v else ""))
        hourly = ex["hourly"]
        traces = [{"type": "bar", "x": _iso(hourly.index + pd.Timedelta("30min")), "y": hourly[s].tolist(), "name": s,
                   "width": 3600 * 1000 * 0.9, "hovertemplate": "%{y} " + s + "<extra></extra>",
                   "marker": {"color": {"done": "#16a34a", "failed": "#dc2626"}.get(s, PALETTE[i % len(PALETTE)])}}
                  for i, s in enumerate(hourly.columns)]
        fig = {"data": traces, "layout": {"barmode": "stack", "title": {"text": "tasks ended per hour"},
                                          "yaxis": {"title": {"text": "tasks"}}, "xaxis": self._xrange(whole_hours=True)}}
        failed = ex["failures"]
        f_html = ("" if failed.empty else "<h3>Failures (latest)</h3>" + table(
            failed, [("ended", "ended (UTC)", fmt_time), ("name", "task", None), ("state", "state", None),
                     ("error", "error", None)]))
        done = int(by["done"].sum()) if "done" in by else 0
        return Section("executor", f'<h2>Executor</h2><p class="wb-meta" data-tasks="{ex["total"]}" '
                                   f'data-done="{done}">{ex["total"]} tasks ended, {done} done '
                                   f"({done / max(1.0, self.period.length / pd.Timedelta('1h')):.1f} per hour).</p>"
                       + table(by, cols) + chart(fig, name="executor", height=240) + f_html, ex)

    # -------------------------------------------------------- what changed ---
    def changes(self) -> Section:
        ch = S.what_changed(self.data)
        parts = []
        sh = ch["shifts"]
        if sh.empty:
            parts.append('<p class="wb-note">No series moved its level by 10 % or more.</p>')
        else:
            rows = []
            for r in sh.itertuples(index=False):  # no colour: up is bad for CPU busy, good for idle
                rows.append(f'<li data-host="{esc(r.host)}" data-metric="{esc(r.metric)}" '
                            f'data-labels="{esc(r.labels)}" {data_attr("change", float(r.change))}>'
                            f"<b>{esc(r.host)}</b> {esc(r.metric)} {esc(r.labels)}: "
                            f"{esc(fmt(r.previous, r.unit))} → {esc(fmt(r.current, r.unit))} "
                            f'<span>({esc(fmt_change(r.change, r.relative_change, r.unit))}, '
                            f"{abs(r.z):.1f}× its hourly spread)</span></li>")
            parts.append("<h3>Largest shifts in level</h3><ul>" + "".join(rows) + "</ul>")
        pat = ch["patterns"]
        if len(pat):
            parts.append("<h3>Daily patterns</h3><ul>" + "".join(
                f'<li data-pattern="{esc(r.change)}"><b>{esc(r.host)}</b> {esc(r.metric)} {esc(r.labels)}: '
                f"{esc(r.change)} (hour of day explains {r.strength_before:.0%} → {r.strength_now:.0%} of its "
                "variance)</li>" for r in pat.itertuples(index=False)) + "</ul>")
        for key, what in (("started", "Started in this period"),
                               ("stopped", "Stopped (seen in the previous period, not in this one)")):
            df = ch[key]
            if len(df):
                by = df.groupby(["host", "metric"]).size().reset_index(name="series")
                parts.append(f"<h3>{what}</h3><ul>" + "".join(
                    f'<li data-{key}="{esc(r.host)}|{esc(r.metric)}"><b>{esc(r.host)}</b> {esc(r.metric)}'
                    f"{f' ({r.series} series)' if r.series > 1 else ''}</li>" for r in by.itertuples(index=False))
                             + "</ul>")
        return Section("changes", "<h2>What changed</h2>" + "".join(parts), ch)

    # --------------------------------------------------------------- fleet ---
    def fleet(self) -> Section:
        fl = S.fleet(self.data, self._alerts)
        if len(fl) < 2:
            return Section("fleet", "", {"fleet": fl})
        table_html = table(fl, [("host", "host", None), ("samples", "samples", lambda v: f"{int(v):,}"),
                                ("series", "series", lambda v: f"{int(v)}"),
                                ("last_hour", "last hour seen", fmt_time),
                                ("cpu", "CPU busy", lambda v: fmt(v, "1")),
                                ("memory", "memory used", lambda v: fmt(v, "1")),
                                ("alerts", "alerts", lambda v: f"{int(v)}")],
                           attrs=lambda r: f'{data_attr("host", r["host"])} {data_attr("cpu", float(r["cpu"]))}')
        cpu = fl.dropna(subset=["cpu"]).sort_values("cpu", ascending=False)
        fig = {"data": [{"type": "bar", "x": cpu["host"].tolist(), "y": cpu["cpu"].tolist(), "name": "CPU busy",
                         "marker": {"color": "#2563eb"}}],
               "layout": {"title": {"text": "CPU busy, mean over the period"}, "yaxis": {"tickformat": ".0%"},
                          "hovermode": "closest", "margin": {"b": 100}}}
        return Section("fleet", f"<h2>Fleet ({len(fl)} hosts)</h2>" + chart(fig, name="fleet", height=300)
                       + table_html, {"fleet": fl})


def _band(x: list[str], fc: pd.DataFrame, level: str, color: str) -> dict[str, Any]:
    """A forecast interval as a filled band (upper edge forward, lower edge back)."""
    return {"type": "scatter", "x": x + x[::-1], "y": fc[f"hi_{level}"].tolist() + fc[f"lo_{level}"].tolist()[::-1],
            "fill": "toself", "fillcolor": color, "line": {"width": 0}, "name": f"{level} % interval",
            "hoverinfo": "skip"}


def _num(v: Any) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return ""
    return f"{f:.4g}" if math.isfinite(f) else ""


def _human(td: pd.Timedelta) -> str:
    s = td.total_seconds()
    for unit, n in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if s >= n and s % n == 0:
            k = int(s // n)
            return f"{k} {unit}{'s' if k != 1 else ''}"
    return f"{s:g} s"
