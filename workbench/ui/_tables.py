"""The process table (top-N of one host) and the fleet view (one row per host)."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import traitlets

from workbench.labels import parse_labels
from workbench.ui._base import Panel, esc, fmt_value, frame_rows, latest_rows, sparkline_svg
from workbench.ui._kpi import KPIS, kpi_series
from workbench.ui._widgets import Table

__all__ = ["ProcessTable", "FleetView", "demo_host_set", "process_frame"]


@functools.cache
def demo_host_set() -> frozenset[str]:
    """Hosts the shipped demo data set writes (labelled as demo data wherever hosts are listed)."""
    try:
        from workbench.demo import demo_hosts

        return frozenset(demo_hosts())
    except Exception:  # noqa: BLE001 - no demo files shipped: no host is a demo host
        return frozenset()


_PROCESS_METRICS = ("process.cpu.utilization", "process.memory.usage")


def process_rows(rows: list[tuple]) -> list[dict[str, Any]]:
    """Top processes from :func:`~workbench.ui._base.frame_rows` of a latest() frame:
    dicts of pid, name, cpu, memory, cmdline.

    Only the newest collection counts (processes that have since left the
    top-N or exited are not shown).
    """
    rows = [r for r in rows if r[1] in _PROCESS_METRICS]
    newest: dict[str, Any] = {}
    for ts, metric, _labels, _value in rows:
        if metric not in newest or ts > newest[metric]:
            newest[metric] = ts
    out: dict[str, dict[str, Any]] = {}
    for ts, metric, labels, value in rows:
        if newest[metric] - ts > 1_000_000:  # microseconds
            continue
        lab = parse_labels(labels)
        pid = lab.get("pid", "?")
        row = out.setdefault(pid, {"pid": pid, "name": lab.get("name", ""), "cmdline": lab.get("cmdline", ""),
                                   "cpu": math.nan, "memory": math.nan})
        row["cpu" if metric == "process.cpu.utilization" else "memory"] = float(value)
    return list(out.values())


def process_frame(latest: Any) -> Any:
    """:func:`process_rows` of a :meth:`Store.latest` frame, as a DataFrame (pid, name, cpu, memory, cmdline)."""
    import pandas as pd

    return pd.DataFrame(process_rows(frame_rows(latest)), columns=["pid", "name", "cpu", "memory", "cmdline"])


class ProcessTable(Panel):
    """The host's top processes by CPU and memory, sortable and filterable in the browser."""

    title_text = "Processes"

    def __init__(self, store: Any = None, **kwargs: Any) -> None:
        self.table = Table(
            columns=[{"key": "pid", "label": "PID", "numeric": True}, {"key": "name", "label": "Name"},
                     {"key": "cpu", "label": "CPU", "numeric": True}, {"key": "memory", "label": "Memory", "numeric": True},
                     {"key": "cmdline", "label": "Command"}],
            sort_by="cpu", title="processes", empty_text="no process data for this host",
        )
        self._procs: list[dict[str, Any]] = []
        super().__init__(store, **kwargs)
        self.children = [self._header, self.table]

    def _refresh(self) -> None:
        if not self.host:
            return
        procs = process_rows(latest_rows(self.store, self.host))
        self._procs = procs
        rows = []
        for r in procs:
            pid = int(r["pid"]) if str(r["pid"]).isdigit() else -1
            rows.append([(r["pid"], pid), (r["name"], r["name"]), (fmt_value(r["cpu"], "1"), r["cpu"]),
                         (fmt_value(r["memory"], "By"), r["memory"]), (r["cmdline"], r["cmdline"])])
        self.table.set_rows(rows)

    @property
    def frame(self) -> Any:
        """What the table shows, as a DataFrame (pid, name, cpu, memory, cmdline)."""
        import pandas as pd

        return pd.DataFrame(self._procs, columns=["pid", "name", "cpu", "memory", "cmdline"])

    def _inputs_changed(self) -> None:
        self.refresh()


_FLEET_KPIS = [k for k in KPIS if k.key in ("cpu", "memory", "disk")]


class FleetView(Panel):
    """One row per host in the home: CPU, memory and disk sparklines, alert counts.

    Clicking a row sets ``selected`` (a page links it to its host picker).
    """

    title_text = "Fleet"
    selected = traitlets.Unicode("")
    window = traitlets.Unicode("6h")

    def __init__(self, store: Any = None, **kwargs: Any) -> None:
        cols = [{"key": "host", "label": "Host", "html": True}]
        for k in _FLEET_KPIS:
            cols.append({"key": k.key, "label": k.label, "numeric": True, "html": True})
        cols.append({"key": "alerts", "label": "Alerts", "numeric": True})
        self.table = Table(columns=cols, sort_by="alerts", clickable=True, title="fleet",
                           empty_text="no hosts in this home yet")
        self.hosts: list[str] = []
        self.table.on_row(self._pick)
        self._handlers: list[Callable[[str], None]] = []
        super().__init__(store, **kwargs)
        self.children = [self._header, self.table]

    def _pick(self, index: int) -> None:
        if 0 <= index < len(self.hosts):
            self.selected = self.hosts[index]

    def _load_slow(self) -> tuple[list[str], list]:
        import pandas as pd

        hosts = self.store.hosts()
        metrics = sorted({k.metric for k in _FLEET_KPIS} & set(self.store.metrics()["name"]))
        frame = self.store.query(metrics, self.window, step="10min") if metrics else pd.DataFrame(
            columns=["ts", "host", "metric", "labels", "value"])
        counts = _alert_counts(self.store)
        demo = demo_host_set()
        rows = []
        for h in hosts:
            part = frame[frame["host"] == h]
            badge = ' <span class="wb-badge" title="imported demo data, not a live agent">demo</span>' if h in demo else ""
            row: list[tuple[str, Any]] = [(f"<b>{esc(h)}</b>{badge}", h)]
            for k in _FLEET_KPIS:
                series = kpi_series(part, k)
                last = float(series.iloc[-1]) if len(series) else math.nan
                spark = sparkline_svg(list(series.values), width=64, height=20, label=f"{k.label} of {h}")
                row.append((f'{spark} <span class="wb-fleet-v">{esc(fmt_value(last, k.unit))}</span>', last))
            n = counts.get(h, 0)
            row.append((str(n), n))
            rows.append(row)
        return hosts, rows

    def _apply_slow(self, data: tuple[list[str], list]) -> None:
        hosts, rows = data
        self.hosts = hosts
        self.table.set_rows(rows)
        if self.selected in hosts:
            self.table.selected = hosts.index(self.selected)

    def _refresh(self) -> None:
        pass

    def _inputs_changed(self) -> None:
        if self.selected != self.host and self.host in self.hosts:
            self.table.selected = self.hosts.index(self.host)


def _alert_counts(store: Any) -> dict[str, int]:
    """Firing and pending alerts per host, from the alert records."""
    try:
        from workbench import alerts

        active = alerts.active(store)
    except ImportError:
        return {}
    if not len(active):
        return {}
    return {str(h): int(n) for h, n in active.groupby("host").size().items()}
