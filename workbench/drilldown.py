"""Incident drill-down: what the metric did, which processes were top and which executor
tasks ran around an alert or a time window, from one SQL query.

The query (:data:`CONTEXT_SQL` plus one of two window definitions) joins, by host and
time, the alert's events (``alerts``), the alerted series (``samples``), the
per-process series ``process.cpu.utilization`` and ``process.memory.usage`` (top-N
per tick, labelled ``name=...,pid=...``) and the executor's ``task_runs`` of that
host (a host's records live under ``tables/task_runs/<host>/``; a task run carries
no host column of its own). Where a task recorded a ``pid``, its process rows are
joined to it by pid as well. Every value is bound; the metric is checked against
the catalogue and the host against the home's hosts.

:func:`incidents` lists the alert episodes to pick from; :func:`drill_down` answers
for one of them, or for any window; :class:`IncidentPicker` does both on widgets.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from workbench.errors import DataError

__all__ = ["Incident", "IncidentPicker", "incidents", "drill_down", "latest_incident", "PROCESS_CPU", "PROCESS_MEMORY"]

PROCESS_CPU = "process.cpu.utilization"
PROCESS_MEMORY = "process.memory.usage"

# One firing -> the first resolution after it, per alert_id.
_EPISODES_SQL = """
    SELECT f.alert_id, f.rule, f.severity, f.host, f.metric, f.labels, f.ts::TIMESTAMPTZ AS fired,
           (SELECT min(r.ts) FROM alerts r
             WHERE r.alert_id = f.alert_id AND r.event = 'resolved' AND r.ts >= f.ts)::TIMESTAMPTZ AS resolved,
           f.summary
    FROM alerts f WHERE f.event = 'firing'
"""

_EMPTY_EPISODES = """
    SELECT NULL::VARCHAR AS alert_id, NULL::VARCHAR AS rule, NULL::VARCHAR AS severity, NULL::VARCHAR AS host,
           NULL::VARCHAR AS metric, NULL::VARCHAR AS labels, NULL::TIMESTAMPTZ AS fired,
           NULL::TIMESTAMPTZ AS resolved, NULL::VARCHAR AS summary WHERE false
"""

# The window of an alert episode: [fired - before, (resolved or fired) + after).
_WIN_ALERT = f"""
    win AS (
        SELECT host, metric, labels, alert_id, fired, resolved,
               fired - to_microseconds(?::BIGINT) AS t0,
               coalesce(resolved, fired) + to_microseconds(?::BIGINT) AS t1
        FROM ({_EPISODES_SQL})
        WHERE alert_id = ? AND abs(epoch_us(fired) - epoch_us(?::TIMESTAMPTZ)) < 1000  -- records may carry ns
    ),
    alert_rows AS (
        SELECT 'alert' AS part, a.ts, a.event, a.state, a.value, a.severity, a.summary
        FROM alerts a, win WHERE a.alert_id = win.alert_id AND a.ts >= win.t0 AND a.ts < win.t1
    )"""  # noqa: S608 - our own constant fragments

# A window given by hand: host, metric and a label condition (bound) over [t0, t1).
_WIN_GIVEN = """
    win AS (SELECT ?::VARCHAR AS host, ?::VARCHAR AS metric, NULL::VARCHAR AS labels,
                   ?::TIMESTAMPTZ AS t0, ?::TIMESTAMPTZ AS t1),
    alert_rows AS (SELECT 'alert' AS part, NULL::TIMESTAMPTZ AS ts WHERE false)"""

# Fixed fragments; {series}, {tasks} and {pid_join} are chosen from constants below.
CONTEXT_SQL = """
WITH {win},
metric_rows AS (
    SELECT 'metric' AS part, s.ts, s.labels, s.value
    FROM samples s, win
    WHERE s.host = win.host AND s.metric = win.metric AND s.ts >= win.t0 AND s.ts < win.t1 AND {series}
),
tasks AS ({tasks}),
task_rows AS (
    SELECT 'task' AS part, t.* FROM tasks t, win
    WHERE t.started IS NOT NULL AND t.started < win.t1 AND coalesce(t.ended, win.t1) >= win.t0
),
procs AS (
    SELECT s.labels AS process,
           regexp_extract(s.labels, '(^|,)name=((\\\\.|[^,\\\\])*)', 2) AS name,
           TRY_CAST(regexp_extract(s.labels, '(^|,)pid=([0-9]+)', 2) AS BIGINT) AS pid,
           avg(s.value) FILTER (WHERE s.metric = ?) AS cpu_mean,
           max(s.value) FILTER (WHERE s.metric = ?) AS cpu_peak,
           avg(s.value) FILTER (WHERE s.metric = ?) AS memory_mean,
           max(s.value) FILTER (WHERE s.metric = ?) AS memory_peak,
           min(s.ts) AS first_seen, max(s.ts) AS last_seen
    FROM samples s, win
    WHERE s.host = win.host AND s.ts >= win.t0 AND s.ts < win.t1 AND list_contains(?, s.metric)
    GROUP BY s.labels
),
ranked AS (
    SELECT *, row_number() OVER (ORDER BY cpu_mean DESC NULLS LAST, process) AS cpu_rank,
              row_number() OVER (ORDER BY memory_peak DESC NULLS LAST, process) AS memory_rank
    FROM procs
),
process_rows AS (
    SELECT 'process' AS part, r.*{pid_cols} FROM ranked r {pid_join}
    WHERE r.cpu_rank <= ? OR r.memory_rank <= ?
)
SELECT * FROM alert_rows
UNION ALL BY NAME SELECT * FROM metric_rows
UNION ALL BY NAME SELECT * FROM process_rows
UNION ALL BY NAME SELECT * FROM task_rows
"""

_NO_TASKS = ("SELECT NULL::BIGINT AS id, NULL::VARCHAR AS name, NULL::VARCHAR AS state, "
             "NULL::TIMESTAMPTZ AS started, NULL::TIMESTAMPTZ AS ended WHERE false")
_TASKS = "SELECT * FROM read_parquet(?, union_by_name = true)"
_PID_COLS = ", tp.id AS task_id, tp.name AS task_name"
_PID_JOIN = "LEFT JOIN (SELECT DISTINCT ON (pid) pid, id, name FROM task_rows WHERE pid IS NOT NULL) tp ON tp.pid = r.pid"


def incidents(store: Any, *, host: str | None = None, start: Any = None, end: Any = None) -> pd.DataFrame:
    """Alert episodes (one row per firing: alert_id, rule, severity, host, metric, labels,
    fired, resolved, summary), newest last. Empty when no alert was ever recorded."""
    if "alerts" not in store.views():
        return store.sql(_EMPTY_EPISODES)
    conds, params = [], []
    if host is not None:
        conds.append("host = ?")
        params.append(host)
    for col, op, value in (("fired", ">=", start), ("fired", "<", end)):
        if value is not None:
            conds.append(f"{col} {op} ?::TIMESTAMPTZ")
            params.append(_time(value, "start" if op == ">=" else "end"))
    where = f"WHERE {' AND '.join(conds)}" if conds else ""
    return store.sql(f"SELECT * FROM ({_EPISODES_SQL}) {where} ORDER BY fired, alert_id", params)  # noqa: S608 - fixed fragments; values bound


@dataclass
class Incident:
    """What was going on around one alert or window (all from one query, see :attr:`rows`)."""

    host: str
    metric: str
    labels: str | None  # the alerted series, or None for a window given with a label filter
    start: pd.Timestamp
    end: pd.Timestamp
    alert_id: str | None
    fired: pd.Timestamp | None
    resolved: pd.Timestamp | None
    rows: pd.DataFrame  # the query's long answer: one row per alert event, sample, process, task
    top: int
    pid_join: bool  # task_runs has a pid column, so processes were matched to tasks by pid
    task_runs_total: int  # task runs recorded on this host at all (to say why none ran then)

    def _part(self, name: str) -> pd.DataFrame:
        part = self.rows[self.rows["part"] == name]
        return part.loc[:, part.notna().any()].drop(columns="part", errors="ignore").reset_index(drop=True)

    @property
    def alert(self) -> pd.DataFrame:
        """The alert's events in the window (empty for a window given by hand)."""
        a = self._part("alert")
        return a.sort_values("ts").reset_index(drop=True) if len(a) else pd.DataFrame(columns=["ts", "event", "state", "value"])

    @property
    def metric_rows(self) -> pd.DataFrame:
        m = self._part("metric")
        return m.sort_values(["labels", "ts"]).reset_index(drop=True) if len(m) else pd.DataFrame(columns=["ts", "labels", "value"])

    def _processes(self, rank: str) -> pd.DataFrame:
        p = self._part("process")
        if p.empty:
            return p
        p = p[p[rank] <= self.top].sort_values(rank)
        cols = ["name", "pid", "cpu_mean", "cpu_peak", "memory_peak", "first_seen", "last_seen"]
        if self.pid_join and "task_name" in p:
            cols.append("task_name")
        p = p[[c for c in cols if c in p]].reset_index(drop=True)
        p["pid"] = p["pid"].astype("Int64")
        return p

    @property
    def top_cpu(self) -> pd.DataFrame:
        """The ``top`` processes by mean CPU utilization over the window."""
        return self._processes("cpu_rank")

    @property
    def top_memory(self) -> pd.DataFrame:
        """The ``top`` processes by peak resident memory over the window."""
        return self._processes("memory_rank")

    @property
    def tasks(self) -> pd.DataFrame:
        """Executor tasks (``task_runs``) whose run overlapped the window."""
        t = self._part("task")
        return t.sort_values("started").reset_index(drop=True) if len(t) else t

    def no_tasks_reason(self) -> str | None:
        if len(self.tasks):
            return None
        where = f"{_fmt(self.start)} – {_fmt(self.end)}"
        if self.task_runs_total == 0:
            return f"No executor tasks ran then: task_runs holds no runs on {self.host} at all ({where})."
        return f"No executor tasks ran then: none of the {self.task_runs_total} task runs on {self.host} overlaps {where}."

    def summary(self) -> str:
        m = self.metric_rows
        if self.alert_id:
            rule = self.alert_id.split("|", 1)[0]
            what = (f"Alert {rule} on {self.host} ({self.metric}{{{self.labels}}}) fired {_fmt(self.fired)}, "
                    + (f"resolved {_fmt(self.resolved)}" if self.resolved is not None else "not resolved"))
        else:
            what = f"Window on {self.host}, {self.metric}"
        peak = f"peak {m['value'].max():.3g}" if len(m) else "no samples of it"
        return (f"{what}. Shown: {_fmt(self.start)} – {_fmt(self.end)}, {len(m)} samples, {peak}; "
                f"{len(self.tasks)} executor tasks ran then.")

    def figure(self) -> dict[str, Any]:
        """The metric over the window, the alert's span shaded, executor tasks as bars below."""
        m = self.metric_rows
        traces: list[dict] = []
        for lab, part in m.groupby("labels", sort=True):
            traces.append({"type": "scatter", "mode": "lines", "name": lab or self.metric,
                           "x": _ms(part["ts"]), "y": part["value"].tolist()})
        shapes = []
        if self.fired is not None:
            x1 = self.resolved if self.resolved is not None else self.end
            shapes.append({"type": "rect", "xref": "x", "yref": "paper", "x0": _ms1(self.fired), "x1": _ms1(x1),
                           "y0": 0, "y1": 1, "fillcolor": "#fecaca", "opacity": 0.4, "line": {"width": 0}})
        t = self.tasks
        layout: dict[str, Any] = {"xaxis": {"type": "date", "range": [_ms1(self.start), _ms1(self.end)]},
                                  "yaxis": {"title": {"text": self.metric}}, "shapes": shapes,
                                  "margin": {"t": 10}, "legend": {"orientation": "h", "y": -0.25}}
        if len(t):
            layout["yaxis"]["domain"] = [0.35, 1]
            layout["xaxis"]["anchor"] = "y2"  # the time axis under the task bars, not across them
            layout["yaxis2"] = {"domain": [0, 0.28], "type": "category", "title": {"text": "tasks"}}
            for row in t.itertuples(index=False):
                end = row.ended if pd.notna(row.ended) else self.end
                traces.append({"type": "scatter", "mode": "lines", "yaxis": "y2", "showlegend": False,
                               "x": [_ms1(row.started), _ms1(end)], "y": [row.name, row.name],
                               "line": {"width": 8, "color": "#16a34a" if row.state == "done" else "#dc2626"},
                               "hovertext": f"{row.name} ({row.state})"})
        return {"data": traces, "layout": layout}

    def _repr_html_(self) -> str:
        def table(title: str, frame: pd.DataFrame, empty: str) -> str:
            body = frame.to_html(index=False, border=0) if len(frame) else f"<p><i>{html.escape(empty)}</i></p>"
            return f"<div style='flex:0 1 auto;min-width:260px'><h4>{html.escape(title)}</h4>{body}</div>"

        def readable(frame: pd.DataFrame) -> pd.DataFrame:
            if frame.empty:
                return frame
            out = pd.DataFrame({"process": frame["name"], "pid": frame["pid"]})
            out["CPU mean"] = frame["cpu_mean"].map(_pct)
            out["CPU peak"] = frame["cpu_peak"].map(_pct)
            out["memory peak"] = frame["memory_peak"].map(_mib)
            if "task_name" in frame:
                out["task"] = frame["task_name"].fillna("")
            return out

        tasks = self.tasks
        if len(tasks):
            tasks = pd.DataFrame({"task": tasks["name"], "state": tasks["state"],
                                  "started": tasks["started"].map(_hms), "ended": tasks["ended"].map(_hms),
                                  "CPU s": tasks["cpu_time_s"].map(lambda v: "" if pd.isna(v) else f"{v:.1f}") if "cpu_time_s" in tasks else "",
                                  "peak memory": tasks["peak_rss_bytes"].map(_mib) if "peak_rss_bytes" in tasks else ""})
        parts = [
            table(f"Top {self.top} processes by CPU", readable(self.top_cpu), "No process series in the window."),
            table(f"Top {self.top} processes by memory", readable(self.top_memory), "No process series in the window."),
            table("Executor tasks running then", tasks, self.no_tasks_reason() or ""),
        ]
        return (f"<p>{html.escape(self.summary())}</p>"
                f"<div style='display:flex;gap:32px;flex-wrap:wrap'>{''.join(parts)}</div>")


def drill_down(
    store: Any,
    incident: Mapping[str, Any] | pd.Series | None = None,
    *,
    host: str | None = None,
    metric: str | None = None,
    labels: Mapping[str, Any] | str | None = None,
    start: Any = None,
    end: Any = None,
    before: Any = "5min",
    after: Any = "5min",
    top: int = 5,
) -> Incident:
    """Everything around one alert episode (a row of :func:`incidents`) or one window.

    With ``incident`` (needs ``alert_id`` and ``fired``), the window is
    ``[fired - before, (resolved or fired) + after)`` on the alert's host and series.
    Without it, give ``host``, ``metric`` (``labels`` to pick series) and ``start``/``end``.
    """
    from workbench.store import label_filter
    from workbench.store._timeutil import parse_duration

    if not isinstance(top, int) or isinstance(top, bool) or top < 1:
        raise DataError(f"top must be a positive whole number of processes; got {top!r}.", top=top)
    before_s = parse_duration(before, what="before")
    after_s = parse_duration(after, what="after")
    views = store.views()
    if incident is not None:
        inc = dict(incident)
        missing = [k for k in ("alert_id", "fired") if k not in inc or pd.isna(inc[k])]
        if missing:
            raise DataError(f"An incident needs alert_id and fired (a row of drilldown.incidents()); missing {missing}. "
                            "For a window, pass host=, metric=, start= and end= instead.", missing=missing)
        if "alerts" not in views:
            raise DataError(f"No alerts are recorded in {store.home}, so alert {inc['alert_id']!r} cannot be found; "
                            "drill into a window instead (host=, metric=, start=, end=).", alert_id=inc["alert_id"])
        found = incidents(store)
        near = (found["fired"] - _time(inc["fired"], "fired")).abs() < pd.Timedelta(milliseconds=1)  # records may carry ns
        match = found[(found["alert_id"] == inc["alert_id"]) & near]
        if match.empty:
            raise DataError(f"Alert {inc['alert_id']!r} has no firing at {inc['fired']} in the alerts table; "
                            "pick a row of drilldown.incidents(store).", alert_id=inc["alert_id"])
        ep = match.iloc[0]
        host, metric = str(ep["host"]), str(ep["metric"])
        t0 = ep["fired"] - pd.Timedelta(seconds=before_s)
        t1 = (ep["resolved"] if pd.notna(ep["resolved"]) else ep["fired"]) + pd.Timedelta(seconds=after_s)
        win, win_params = _WIN_ALERT, [int(before_s * 1e6), int(after_s * 1e6), str(ep["alert_id"]), ep["fired"].floor("us").to_pydatetime()]
        series, series_params = "s.labels = win.labels", []
        alert_id, fired = str(ep["alert_id"]), ep["fired"]
        resolved = ep["resolved"] if pd.notna(ep["resolved"]) else None
        series_labels: str | None = str(ep["labels"])
    else:
        if host is None or metric is None or start is None:
            raise DataError("Give an incident (a row of drilldown.incidents(store)), or host=, metric= and start= "
                            f"(end= defaults to now); got host={host!r}, metric={metric!r}, start={start!r}.")
        store.check_metric(metric)
        t0 = _time(start, "start")
        t1 = _time(end, "end") if end is not None else pd.Timestamp.now("UTC")
        if t1 <= t0:
            raise DataError(f"The window must end after it starts; got start={t0}, end={t1}.", start=str(t0), end=str(t1))
        win, win_params = _WIN_GIVEN, [host, metric, t0.to_pydatetime(), t1.to_pydatetime()]
        cond, series_params = label_filter(labels)
        series = cond.replace("labels", "s.labels") if cond else "true"
        alert_id = fired = resolved = None
        series_labels = None
    if host not in store.hosts():
        raise DataError(f"Host {host!r} has no data in {store.home}; hosts there: {', '.join(store.hosts()[:8])}.", host=host)
    task_files = _task_files(store, host)
    columns = _columns(store, task_files)
    pid_join = "pid" in columns
    sql = CONTEXT_SQL.format(
        win=win, series=series, tasks=_TASKS if task_files else _NO_TASKS,
        pid_cols=_PID_COLS if pid_join else "", pid_join=_PID_JOIN if pid_join else "",
    )
    params = [*win_params, *series_params, *([task_files] if task_files else []),
              PROCESS_CPU, PROCESS_CPU, PROCESS_MEMORY, PROCESS_MEMORY, [PROCESS_CPU, PROCESS_MEMORY], top, top]
    rows = store.sql(sql, params)
    total = int(store.sql("SELECT count(*) AS n FROM read_parquet(?, union_by_name = true)", [task_files])["n"].iloc[0]) if task_files else 0
    return Incident(host, metric, series_labels, t0, t1, alert_id, fired, resolved, rows, top, pid_join, total)


def latest_incident(store: Any, *, host: str | None = None, metric: str = "system.cpu.utilization",
                    labels: Mapping[str, Any] | str | None = None, last: Any = "15min", **kw: Any) -> Incident:
    """The newest alert episode (of ``host``); with no alert recorded, a window instead.

    The window is the demo's CPU-stress phase where the home holds the demo
    (``demo_phases``), else the ``last`` minutes of ``host`` (default: this
    store's host) on ``metric``/``labels`` (default: total user CPU).
    """
    found = incidents(store, host=host)
    if len(found):
        return drill_down(store, found.iloc[-1], **kw)
    labels = {"cpu": "total", "state": "user"} if labels is None and metric == "system.cpu.utilization" else labels
    if "demo_phases" in store.views():
        phases = store.sql("SELECT host, start, \"end\" FROM demo_phases WHERE phase = 'cpu' "
                           "AND (?::VARCHAR IS NULL OR host = ?) ORDER BY start LIMIT 1", [host, host])
        if len(phases):
            p = phases.iloc[0]
            return drill_down(store, host=p["host"], metric=metric, labels=labels, start=p["start"], end=p["end"], **kw)
    return drill_down(store, host=host or store.host, metric=metric, labels=labels, start=last, **kw)


def _task_files(store: Any, host: str | None) -> list[str]:
    if host is None:
        return []
    skipped = getattr(store, "_skipped", {})
    return sorted(str(p) for p in store.layout.table_dir("task_runs", host).glob("*.parquet") if str(p) not in skipped)


def _columns(store: Any, files: list[str]) -> list[str]:
    if not files:
        return []
    return store.sql("SELECT column_name FROM (DESCRIBE SELECT * FROM read_parquet(?, union_by_name = true))", [files])["column_name"].tolist()


def _time(value: Any, what: str) -> pd.Timestamp:
    from workbench.store._timeutil import resolve_time

    t = resolve_time(value, now=pd.Timestamp.now("UTC").floor("us"), what=what)
    return pd.Timestamp(t).tz_convert("UTC") if pd.Timestamp(t).tzinfo else pd.Timestamp(t).tz_localize("UTC")


def _pct(v: Any) -> str:
    return "" if pd.isna(v) else f"{100 * v:.1f} %"


def _mib(v: Any) -> str:
    return "" if pd.isna(v) else f"{v / 2**20:,.0f} MiB"


def _hms(t: Any) -> str:
    return "" if pd.isna(t) else pd.Timestamp(t).strftime("%H:%M:%S")


def _fmt(t: Any) -> str:
    return pd.Timestamp(t).strftime("%Y-%m-%d %H:%M:%S UTC")


def _ms(values: pd.Series) -> list:
    return pd.to_datetime(values, utc=True).astype("datetime64[ms, UTC]").astype("int64").tolist()


def _ms1(t: Any) -> int:
    return int(pd.Timestamp(t).tz_convert("UTC").value // 1_000_000) if pd.Timestamp(t).tzinfo else int(pd.Timestamp(t).value // 1_000_000)


class IncidentPicker:
    """Pick an alert episode from a list; the metric around it, the top processes and the
    executor tasks then follow the choice. With no alert recorded, it shows the window
    :func:`latest_incident` falls back to. ``picker.incident`` is the :class:`Incident` shown.
    """

    def __init__(self, store: Any, *, host: str | None = None, **kw: Any) -> None:
        import ipywidgets as w

        from workbench.ui import Chart

        self.store, self._kw = store, kw
        self.episodes = incidents(store, host=host).iloc[::-1].reset_index(drop=True)  # newest first
        options = [(self._describe(row), i) for i, row in self.episodes.iterrows()]
        self.pick = w.Dropdown(options=options or [("no alerts recorded: a window instead", -1)],
                               description="alert", layout=w.Layout(width="640px"), disabled=not options)
        self.chart = Chart(height=340)
        self.details = w.HTML()
        self.message = w.HTML()
        self.widget = w.VBox([self.pick, self.message, self.chart, self.details])
        self.incident = latest_incident(store, host=host, **kw)
        self._show()
        self.pick.observe(lambda _c: self._guard(self._choose), names="value")

    @staticmethod
    def _describe(row: pd.Series) -> str:
        res = f"{pd.Timestamp(row['resolved']):%H:%M:%S}" if pd.notna(row["resolved"]) else "open"
        rule = str(row["alert_id"]).split("|", 1)[0]
        return f"{pd.Timestamp(row['fired']):%Y-%m-%d %H:%M:%S} – {res}  {rule} on {row['host']} ({row['severity']})"

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _guard(self, fn) -> None:
        try:
            self.message.value = ""
            fn()
        except Exception as exc:  # noqa: BLE001 - a callback's error goes on the page, not into the void
            self.message.value = f"<span style='color:#b91c1c'>{html.escape(str(exc))}</span>"

    def _choose(self) -> None:
        if self.pick.value >= 0:
            self.incident = drill_down(self.store, self.episodes.iloc[self.pick.value], **self._kw)
            self._show()

    def _show(self) -> None:
        self.chart.figure = self.incident.figure()
        self.details.value = ("<style>.wb-incident{line-height:1.4}.wb-incident table{border-collapse:collapse}"
                              ".wb-incident td,.wb-incident th{padding:2px 8px;text-align:right}</style>"
                              f"<div class='wb-incident'>{self.incident._repr_html_()}</div>")
