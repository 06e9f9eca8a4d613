"""The dashboard page: shared pickers, every panel, one clock, the page log.

``notebooks/dashboard.ipynb`` builds one :class:`Dashboard` and displays its
parts in order (KPI cards first, so the first glance does not wait for the
charts). Everything that is not layout lives here, not in notebook cells.
"""

from __future__ import annotations

import getpass
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import ipywidgets as W
import traitlets
from IPython.display import HTML

from workbench._logthrottle import RepeatedFailure
from workbench.ui._alerts import AlertPanel
from workbench.ui._base import RANGES, PageLog, buttons, log, range_window
from workbench.ui._charts import CoreHeatmap, LiveChart
from workbench.ui._css import CSS
from workbench.ui._executors import ExecutorPanel
from workbench.ui._forecast import ForecastPanel
from workbench.ui._kpi import KpiCards
from workbench.ui._tables import FleetView, ProcessTable, demo_host_set
from workbench.ui._widgets import Clock

__all__ = ["Dashboard", "default_host", "load_rules"]

#: metric -> label filter the chart starts with (the rest have few series)
DEFAULT_LABELS = {"system.cpu.utilization": "cpu=total", "system.memory.usage": "", "process.cpu.utilization": ""}


def load_rules(config: Any = None) -> list:
    """Alert rules of the effective configuration (for thresholds and zones); [] without any."""
    from workbench.config import load_config
    from workbench.detect._rules import rules_from_config

    cfg = config if config is not None else load_config()
    return rules_from_config(cfg.alerts) if cfg.alerts else []


def default_host(store: Any) -> str:
    """The host a page opens on: this machine when it records, else the demo workstation, else any."""
    hosts = store.hosts()
    if store.host in hosts:
        return store.host
    if "workstation" in hosts:
        return "workstation"
    return hosts[0] if hosts else ""


def host_options(hosts: list[str]) -> list[tuple[str, str]]:
    demo = demo_host_set()
    return [(f"{h} (demo)" if h in demo else h, h) for h in hosts]


class Dashboard(traitlets.HasTraits):
    """All panels of the page, linked to shared host / metric / range pickers.

    ``tick()`` is the one refresh step (the browser's :class:`Clock` calls it
    every ``interval`` seconds): current values every tick, history and lists
    every few ticks, forecasts every few minutes, one slow panel per tick so
    that no tick keeps a click waiting.
    """

    host = traitlets.Unicode("")
    metric = traitlets.Unicode("system.cpu.utilization")
    labels = traitlets.Unicode("cpu=total")
    range = traitlets.Unicode("1 h")
    theme = traitlets.Unicode("light")

    #: (panel attribute, every how many 2 s ticks its slow refresh runs): about as often as what it
    #: shows can change (the sparklines are minute buckets, the fleet's ten-minute ones; the history
    #: chart's raw ranges grow every tick without it); the forecast refits every 15 minutes
    SLOW = (("alerts", 3), ("heatmap", 15), ("kpis", 30), ("live", 30), ("fleet", 150), ("forecast", 450))

    def __init__(self, store: Any = None, *, config: Any = None, interval: float = 2.0, host: str | None = None,
                 by: str | None = None) -> None:
        super().__init__()
        from workbench.store import Store

        # Its own store asks small questions every tick: one DuckDB thread per query costs less
        # CPU than two at the same latency (kernel CPU per tick 20.6 against 23.1 ms, history
        # and fleet reads as fast). A store passed in keeps its owner's settings.
        self.store = store if store is not None else Store(threads=1)
        self.by = by or f"{getpass.getuser()}@dashboard"
        self.page_log = PageLog().attach()
        try:
            self.rules = load_rules(config)
        except Exception:  # noqa: BLE001 - a bad config must not blank the page; it is shown
            log.exception("alert rules could not be read (run `workbench config` for details)")
            self.rules = []
        self.host = host or default_host(self.store)
        p = {"store": self.store}
        self.kpis = KpiCards(**p, rules=self.rules)
        self.live = LiveChart(**p, rules=self.rules)
        self.heatmap = CoreHeatmap(**p)
        self.processes = ProcessTable(**p)
        self.alerts = AlertPanel(**p, by=self.by)
        self.forecast = ForecastPanel(**p)
        self.executors = ExecutorPanel(**p, by=self.by)
        self.fleet = FleetView(**p)
        self.panels = [self.kpis, self.live, self.heatmap, self.processes, self.alerts, self.forecast,
                       self.executors, self.fleet]
        self._build_pickers()
        for panel in self.panels:
            for name in ("host", "range", "theme"):
                traitlets.dlink((self, name), (panel, name))
        for panel in (self.live, self.forecast):
            traitlets.dlink((self, "metric"), (panel, "metric"))
            traitlets.dlink((self, "labels"), (panel, "labels"))
        self.fleet.observe(lambda c: setattr(self, "host", c["new"]) if c["new"] else None, names="selected")
        self.clock = Clock(interval_ms=int(interval * 1000))
        self.clock.observe(lambda _c: self.tick(), names="tick")
        self.ticks = 0
        self._every = dict(self.SLOW)
        self._due = dict(self.SLOW)  # panel -> the tick its next slow refresh is due
        # Slow reads run here, off the kernel's thread, so that a click never waits behind one
        # (a thread, not a process: the reads are DuckDB queries, which release the GIL).
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wb-slow-refresh")
        self._loading: dict[str, Any] = {}
        self.tick_seconds: list[float] = []
        self._tick_failing = RepeatedFailure("refresh tick failed", logger=log)  # once, then once a minute
        self._loaded = False

    # -- pickers ---------------------------------------------------------
    def _build_pickers(self) -> None:
        hosts = self.store.hosts()
        self.host_picker = W.Dropdown(options=host_options(hosts) or [("no hosts yet", "")], description="Host",
                                      value=self.host if self.host in hosts else (hosts[0] if hosts else ""),
                                      layout=W.Layout(width="240px"))
        names = list(self.store.metrics()["name"])
        if self.metric not in names and names:
            self.metric = names[0]
            self.labels = ""
        self.metric_picker = W.Dropdown(options=names or [self.metric], value=self.metric, description="Metric",
                                        layout=W.Layout(width="330px"))
        self.labels_box = W.Text(value=self.labels, description="Labels", placeholder="key=value,…",
                                 layout=W.Layout(width="200px"), continuous_update=False)
        self.range_picker = W.ToggleButtons(options=[*RANGES, "custom"], value=self.range, description="Range",
                                            style={"button_width": "66px"})
        self.custom_range = W.Text(placeholder="2026-12-01T08:00/2026-12-01T12:00", description="From/to",
                                   continuous_update=False, layout=W.Layout(width="320px", display="none"))
        self.theme_picker = W.ToggleButtons(options=[("Light", "light"), ("Dark", "dark")], value=self.theme,
                                            style={"button_width": "56px"})
        traitlets.link((self.host_picker, "value"), (self, "host"))
        traitlets.link((self.metric_picker, "value"), (self, "metric"))
        traitlets.link((self.labels_box, "value"), (self, "labels"))
        traitlets.link((self.theme_picker, "value"), (self, "theme"))
        self.metric_picker.observe(self._on_metric_pick, names="value")
        self.range_picker.observe(self._on_range_pick, names="value")
        self.custom_range.observe(self._on_range_pick, names="value")
        self.observe(self._on_theme, names="theme")
        csv, parquet, png = buttons([
            ("CSV", "download what the history chart shows as CSV", lambda _b: self.export("csv")),
            ("Parquet", "download what the history chart shows as Parquet", lambda _b: self.export("parquet")),
            ("PNG", "save the history chart as a PNG", lambda _b: self.live.chart.download_png(
                f"{self.host}_{self.metric}")),
        ])
        self.export_box = W.HBox([W.HTML('<span class="wb-small wb-muted">Export</span>'), csv, parquet, png],
                                 layout=W.Layout(align_items="center"))
        self.header = W.HBox([W.HTML('<span class="wb-brand">Workbench</span>'), self.host_picker, self.range_picker,
                              self.custom_range, self.theme_picker])
        self.header.add_class("wb-header")
        self.chart_bar = W.HBox([self.metric_picker, self.labels_box, self.export_box],
                                layout=W.Layout(flex_flow="row wrap", align_items="center"))
        self.chart_bar.add_class("wb-bar")

    def _on_metric_pick(self, change: dict) -> None:
        self.labels = DEFAULT_LABELS.get(change["new"], "")

    def _on_range_pick(self, _change: dict) -> None:
        if self.range_picker.value != "custom":
            self.custom_range.layout.display = "none"
            self.range = self.range_picker.value
            return
        self.custom_range.layout.display = ""
        text = self.custom_range.value.strip()
        if not text:
            return
        try:
            range_window(f"custom:{text}")
        except Exception as exc:  # noqa: BLE001 - a typo in the box is explained on the page
            log.warning("custom range %r: %s Write START/END, e.g. 2026-12-01T08:00/2026-12-01T12:00 (UTC).", text, exc)
            return
        self.range = f"custom:{text}"

    def _on_theme(self, change: dict) -> None:
        if change["new"] == "dark":
            self.header.add_class("wb-dark")
        else:
            self.header.remove_class("wb-dark")

    def export(self, fmt: str) -> None:
        name, data = self.live.export(fmt)
        mime = "text/csv" if fmt == "csv" else "application/vnd.apache.parquet"
        self.live.chart.download(name, data, mime)

    # -- the page ----------------------------------------------------------
    def style(self) -> HTML:
        return HTML(CSS)

    def top(self) -> W.Widget:
        """Header and KPI cards: shown first, from one small query."""
        self.kpis.refresh()
        return W.VBox([self.header, self.kpis])

    def load(self) -> None:
        """Read every panel's history once (before the body is displayed)."""
        t0 = time.perf_counter()
        for panel in self.panels:
            panel.refresh_slow()
            panel.refresh()
        self._loaded = True
        log.debug("dashboard loaded in %.2f s", time.perf_counter() - t0)

    def body(self) -> W.Widget:
        if not self._loaded:
            self.load()
        live = W.VBox([self.live, self.chart_bar])
        live.add_class("wb-wide")
        self.live.add_class("wb-flat")
        grid = W.Box([live, self.alerts, self.forecast, self.heatmap, self.processes, self.fleet, self.executors])
        grid.add_class("wb-grid")
        return grid

    def footer(self) -> W.Widget:
        return W.VBox([self.page_log, self.clock])

    def widget(self) -> W.Widget:
        """The whole page as one widget (for JupyterLab)."""
        return W.VBox([W.HTML(CSS), self.top(), self.body(), self.footer()])

    # -- the clock ---------------------------------------------------------
    def tick(self) -> None:
        t0 = time.perf_counter()
        self.ticks += 1
        try:
            for name, job in list(self._loading.items()):
                if job[1].done():
                    del self._loading[name]
                    getattr(self, name).apply_loaded(job)
            for panel in (self.kpis, self.live, self.processes, self.alerts, self.executors, self.forecast):
                panel.refresh()
            # one slow panel per tick, the most overdue; the rest wait their turn (never skipped)
            overdue = [(due, name) for name, due in self._due.items() if due <= self.ticks and name not in self._loading]
            if overdue:
                due, name = min(overdue)
                self._due[name] = max(due + self._every[name], self.ticks + 1)  # keeps each panel's rate
                panel = getattr(self, name)
                if panel.loads_in_background:  # read in the worker; drawn by a later tick
                    self._loading[name] = panel.load_slow_in(self._worker)
                else:
                    panel.refresh_slow()
        except Exception as exc:  # noqa: BLE001 - a tick must never stop the clock
            self._tick_failing.failed(f"{type(exc).__name__}: {exc}", f" (tick {self.ticks})", exc_info=True)
        else:
            self._tick_failing.ok()
        finally:
            self.tick_seconds.append(time.perf_counter() - t0)
            del self.tick_seconds[:-100]

    def stats(self) -> dict[str, Any]:
        ts = sorted(self.tick_seconds)
        p50 = ts[len(ts) // 2] if ts else math.nan
        return {"ticks": self.ticks, "tick_p50_s": p50, "tick_max_s": ts[-1] if ts else math.nan,
                "errors": sum(p.errors for p in self.panels), "log_messages": self.page_log.count}


logging.getLogger("workbench.ui").setLevel(logging.INFO)
