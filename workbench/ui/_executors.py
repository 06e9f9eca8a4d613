"""The executor panel: every named executor recording into the home, across
hosts, with its queue, running tasks, throughput, the governor's limit and
reason, and pause / resume / drain / cancel / limit acting through control
records (:mod:`workbench.control`) on whichever process runs it.
"""

from __future__ import annotations

import os
import time
from collections import deque
from typing import Any

import ipywidgets as W
import traitlets

from workbench.ui._base import Panel, SentActions, ago, buttons
from workbench.ui._widgets import Chart, Table

__all__ = ["ExecutorPanel"]


class ExecutorPanel(Panel):
    """Named executors in the home; select one to steer it."""

    title_text = "Executors"
    selected = traitlets.Unicode("")

    def __init__(self, store: Any = None, *, by: str | None = None, **kwargs: Any) -> None:
        self.by = by
        self.table = Table(
            columns=[{"key": "name", "label": "Executor"}, {"key": "host", "label": "Host"},
                     {"key": "state", "label": "State"}, {"key": "queued", "label": "Queued", "numeric": True},
                     {"key": "running", "label": "Running", "numeric": True},
                     {"key": "done", "label": "Done", "numeric": True}, {"key": "failed", "label": "Failed", "numeric": True},
                     {"key": "limit", "label": "Limit", "numeric": True}, {"key": "reason", "label": "Why"},
                     {"key": "tput", "label": "Tasks/s", "numeric": True}],
            sort_by="name", descending=False, clickable=True, filterable=False, title="executors",
            empty_text="no named executor has recorded into this home (ThrottledExecutor(name=...) or workbench run)",
        )
        self.table.on_row(self._pick)
        self.chart = Chart(height=160, title="throughput")
        self._limit = W.BoundedIntText(value=2, min=1, max=1024, description="Limit", layout=W.Layout(width="150px"))
        controls = buttons([
            ("Pause", "start no new tasks", lambda _b: self._act("pause")),
            ("Resume", "start tasks again", lambda _b: self._act("resume")),
            ("Drain", "finish running tasks, start no more", lambda _b: self._act("drain")),
            ("Cancel queued", "cancel every waiting task", lambda _b: self._act("cancel")),
            ("Set limit", "set the concurrency limit", lambda _b: self._act("set_limit", {"max_workers": int(self._limit.value)})),
        ])
        for b in controls:
            b.add_class(f"wb-exec-{b.description.split()[0].lower()}")
        self._controls = W.HBox([*controls, self._limit], layout=W.Layout(flex_flow="row wrap"))
        self._status = W.HTML()
        self.chart.layout.display = "none"  # until an executor shows up
        self._controls.layout.display = "none"
        self._names: list[str] = []
        self._tput: dict[str, deque] = {}
        self._sent = SentActions("the executor", "(is its process running? it applies when it starts)")
        self.frame = None
        self._seen: tuple | None = None
        self._calls = 0
        super().__init__(store, **kwargs)
        traitlets.link((self, "theme"), (self.chart, "theme"))
        self.children = [self._header, self.table, self._controls, self._status, self.chart]

    def _pick(self, index: int) -> None:
        if 0 <= index < len(self._names):
            self.selected = self._names[index]
            self._draw_chart()

    #: re-read unchanged status files this often anyway (a process that died changes no file)
    RECHECK_EVERY = 5

    def _signature(self) -> tuple:
        """(file, mtime) of every published status: running executors rewrite theirs every second or two."""
        from workbench import control

        base = control.executor_dir(self.store.home, "_").parent
        try:
            return tuple(sorted((e.path, e.stat().st_mtime_ns) for d in os.scandir(base) if d.is_dir()
                                for e in os.scandir(d.path) if e.name.endswith(".json")))
        except OSError:
            return ()

    def _refresh(self) -> None:
        from workbench import control

        self._calls += 1
        sig = self._signature()
        if sig == self._seen and self._calls % self.RECHECK_EVERY:
            self._check_outcomes()
            return
        self._seen = sig
        frame = control.executors(self.store)
        self.frame = frame
        rows, names = [], []
        now = time.time()
        for r in frame.to_dict("records"):
            key = f"{r['name']}@{r['host']}"
            names.append(key)
            state = "gone" if not r.get("alive") else "paused" if r.get("paused") else \
                "draining" if r.get("draining") else "running"
            if not r.get("alive"):
                state += f" ({ago(_epoch(r.get('updated')), now)})"
            tput = float(r.get("throughput") or 0.0)
            self._tput.setdefault(key, deque(maxlen=300)).append((now * 1000, tput))
            rows.append([(r["name"], r["name"]), (r["host"], r["host"]), (state, state),
                         (str(r.get("queued", "")), r.get("queued")), (str(r.get("running", "")), r.get("running")),
                         (str(r.get("done", "")), r.get("done")), (str(r.get("failed", "")), r.get("failed")),
                         (str(r.get("limit", "")), r.get("limit")), (str(r.get("limit_reason") or ""), ""),
                         (f"{tput:.2f}", tput)])
        self._names = names
        self.table.set_rows(rows)
        self.chart.layout.display = "" if names else "none"
        self._controls.layout.display = "" if names else "none"
        if not self.selected and names:
            self.selected = names[0]
        if self.selected in names:
            self.table.selected = names.index(self.selected)
        self._check_outcomes()
        self._draw_chart()

    def _draw_chart(self) -> None:
        pts = list(self._tput.get(self.selected, ()))
        self.chart.figure = {"data": [{"type": "scatter", "mode": "lines", "name": "tasks/s",
                                       "x": [p[0] for p in pts], "y": [p[1] for p in pts],
                                       "line": {"color": "#16a34a"}}],
                             "layout": {"margin": {"l": 40, "r": 10, "t": 8, "b": 28}, "xaxis": {"type": "date"},
                                        "yaxis": {"title": {"text": "tasks/s"}, "rangemode": "tozero"},
                                        "uirevision": self.selected}}

    def _act(self, action: str, args: dict | None = None) -> None:
        from workbench import control

        if not self.selected:
            self._status.value = '<span class="wb-muted">select an executor first</span>'
            return
        name = self.selected.split("@", 1)[0]
        action_id = control.act(self.store, f"executor:{name}", action, args or {}, reason="dashboard", by=self.by)
        self._sent.add(action_id, f"{action} {name}")
        self._show_status()

    def _check_outcomes(self) -> None:
        if self._sent:
            self._sent.poll(self.store)
            self._show_status()

    def _show_status(self) -> None:
        self._status.value = self._sent.html()


def _epoch(ts: Any) -> float:
    import pandas as pd

    try:
        return pd.Timestamp(ts).timestamp() if not isinstance(ts, (int, float)) else float(ts)
    except (TypeError, ValueError):
        return float("nan")
