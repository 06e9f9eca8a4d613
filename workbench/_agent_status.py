"""The agent's status file (``agent-status.json``): written by the agent, read by ``workbench status``.

The agent rewrites it every ``status_interval`` and when it stops; a reader
tells a stalled agent from a quiet one by its age beside the intervals it
records, and a live one from a dead one by the host lock.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

import psutil

from workbench._logthrottle import RepeatedFailure
from workbench.control import write_json_atomic

__all__ = ["StatusFile", "read_status"]

log = logging.getLogger("workbench.agent")

# WORKBENCH_DEBUG_MODULES=pandas,duckdb,...: the status file also lists which of them are imported.
_DEBUG_MODULES = tuple(m for m in os.environ.get("WORKBENCH_DEBUG_MODULES", "").split(",") if m)


class StatusFile:
    """What the agent's status file says, and its writing (a failure is logged rarely, never raised)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._rate_window: deque[tuple[float, int]] = deque(maxlen=120)
        self._trouble = RepeatedFailure("could not write the agent status", logger=log)

    def flushed(self, samples_written: int) -> None:
        """Note a flush, for ``samples_per_second`` (over the last 120 flushes)."""
        self._rate_window.append((time.monotonic(), samples_written))

    def samples_per_second(self) -> float:
        if len(self._rate_window) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self._rate_window[0], self._rate_window[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0

    def write(self, agent: Any, slots: list, *, running: bool) -> None:
        """Write ``agent``'s status (its collectors' ``slots``, and whether it is still ``running``)."""
        proc = agent._proc
        try:
            with proc.oneshot():
                cpu_times = proc.cpu_times()
                rss = proc.memory_info().rss
        except psutil.Error:
            cpu_times, rss = None, 0
        cfg, summary = agent.config.agent, agent.summary
        status = {
            "running": running,
            "pid": os.getpid(),
            "host": agent.host,
            "home": str(agent.store.home),
            "started": summary.started,
            "updated": time.time(),
            "last_flush": agent._last_flush,
            "samples_written": summary.samples_written,
            "samples_per_second": self.samples_per_second(),
            "dropped": summary.dropped,
            "buffered": len(agent._buf),
            # what `workbench status` needs to tell a stalled agent from a quiet one
            "interval": cfg.interval,
            "flush_interval": cfg.flush_interval,
            "status_interval": cfg.status_interval,
            "store_error": agent._store_trouble.status(),
            "cpu_seconds": (cpu_times.user + cpu_times.system) if cpu_times else None,
            "rss_bytes": rss,
            "collectors": {
                s.collector.name: {
                    "interval": s.interval,
                    "last_duration": s.last_duration,
                    "failures": s.failures,
                    "last_error": s.last_error,
                    "errors": dict(s.collector.errors),
                }
                for s in slots
            },
            "compaction": agent._compactor.compaction,
            "absorb": agent._compactor.absorb,
            "alerts": agent.alerts.status() if agent.alerts is not None else None,
            "alert_errors": agent._alert_errors,
            "control": agent._control.status() if agent._control is not None else None,
        }
        if _DEBUG_MODULES:  # which of these modules this process has loaded (benchmarks/agent_memory.py, tests)
            status["debug_modules"] = [m for m in _DEBUG_MODULES if m in sys.modules]
        try:
            write_json_atomic(self.path, status)
        except OSError as exc:  # `workbench status` sees the file grow old and says the agent is stalled
            self._trouble.failed(str(exc))
        else:
            self._trouble.ok()


def read_status(home: str | os.PathLike, host: str | None = None) -> list[dict]:
    """Status of the agent(s) recorded in ``home`` (one entry per host that has one)."""
    from workbench.store import Layout, lock_holder

    layout = Layout(Path(home).resolve())
    out = []
    for h in [host] if host else layout.hosts():
        path = layout.status(h)
        try:
            status = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            status = {"host": h}
        holder = lock_holder(layout, h)
        status["host"] = h
        status["alive"] = holder is not None and holder.get("purpose", "agent") == "agent"
        status["holder"] = holder
        out.append(status)
    return out
