"""Scheduled reports in the agent: start each due report in a child process, never wait for it.

The agent calls :meth:`ReportService.poll` once per loop; it costs a clock
read and a comparison until something is due or a child has ended. A run
is ``python -m workbench.report._child JOB.json``: papermill, the kernel,
nbconvert, delivery and the failure alert all live and die in that child,
so the agent's own memory does not grow with reports (it imports only this
module, the policy and croniter).

State (``HOME/reports/.schedule.json``): the slot each report last ran for
(so a restart catches up once, see :mod:`._schedule`) and the outcome of
each report's latest run, which ``workbench report --list`` shows.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from workbench.report._schedule import SchedulePolicy
from workbench.report._store import reports_dir, write_json_atomic

__all__ = ["ReportService", "read_schedule_state", "report_service"]

log = logging.getLogger("workbench.report")


def _state_path(home: Path) -> Path:
    return reports_dir(home) / ".schedule.json"


def read_schedule_state(home: str | os.PathLike) -> dict[str, Any]:
    try:
        return json.loads(_state_path(Path(home)).read_text())
    except (FileNotFoundError, ValueError):
        return {"last_slots": {}, "runs": {}}


class ReportService:
    """Apply the schedule policy: start due reports as child processes, collect their outcome."""

    def __init__(self, specs: dict[str, Any], home: str | os.PathLike, notify: dict[str, Any] | None = None,
                 alerts: dict[str, Any] | None = None, *, host: str = "", clock: Callable[[], float] = time.time,
                 python: str = sys.executable) -> None:
        self.home = Path(home).resolve()
        self.specs = {n: s for n, s in specs.items() if s.cron and s.enabled}
        self.notify, self.alerts, self.host = notify or {}, alerts or {}, host
        self.clock, self.python = clock, python
        state = read_schedule_state(self.home)
        self.runs: dict[str, dict[str, Any]] = dict(state.get("runs", {}))
        self.policy = SchedulePolicy({n: s.cron for n, s in self.specs.items()}, state.get("last_slots", {}))
        self.children: dict[str, tuple[subprocess.Popen, float]] = {}
        self._wake = 0.0
        self.started_count = 0

    # -------------------------------------------------------------- loop ---
    def poll(self) -> None:
        """Collect ended children and start due reports; returns at once (never waits on a child)."""
        for name, (proc, started) in list(self.children.items()):
            if proc.poll() is not None:
                del self.children[name]
                self._ended(name, proc.returncode, started)
        now = self.clock()
        if now < self._wake:
            return
        for name, slot in self.policy.due(now):
            self._start(name, slot, now)
        self._save()
        self._wake = self.policy.wake(now)

    def _start(self, name: str, slot: float, now: float) -> None:
        spec = self.specs[name]
        base = reports_dir(self.home) / name
        base.mkdir(parents=True, exist_ok=True)
        job = base / ".job.json"
        write_json_atomic(job, {"spec": asdict(spec), "home": str(self.home), "notify": self.notify,
                                "alerts": self.alerts, "host": self.host, "slot": slot})
        logf = open(base / ".child.log", "ab")  # noqa: SIM115 - handed to the child; closed below
        try:
            proc = subprocess.Popen([self.python, "-m", "workbench.report._child", str(job)], stdout=logf,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=os.getcwd(),
                                    start_new_session=True)
        except OSError as exc:
            log.error("could not start report %s: %s", name, exc)
            self.runs[name] = {"status": "failed", "started": now, "ended": now, "error": f"could not start: {exc}"}
            return
        finally:
            logf.close()
        self.policy.started(name, slot)
        self.children[name] = (proc, now)
        self.runs[name] = {**self.runs.get(name, {}), "status": "running", "started": now, "slot": slot,
                           "pid": proc.pid}
        self.started_count += 1
        log.info("report %s started (slot %s, pid %d)", name, time.strftime("%Y-%m-%d %H:%M", time.gmtime(slot)),
                 proc.pid)

    def _ended(self, name: str, code: int, started: float) -> None:
        self.policy.finished(name)
        ended = self.clock()
        rec: dict[str, Any] = {"started": started, "ended": ended, "duration_s": ended - started, "exit": code}
        try:
            last = json.loads((reports_dir(self.home) / name / "last_run.json").read_text())
        except (FileNotFoundError, ValueError):
            last = {}
        if last and float(last.get("started", 0)) >= started - 1:
            rec.update(status=last.get("status"), dir=last.get("dir"), cell=last.get("cell"),
                       error=last.get("error", ""), duration_s=last.get("duration_s", rec["duration_s"]))
        elif code == 3:
            rec.update(status="skipped", error="the same report was already running (its lock was held)")
        else:
            rec.update(status="failed", error=f"the report process exited with code {code} before it recorded a "
                                              f"run; see {reports_dir(self.home) / name / '.child.log'}")
            self._alert_died(name, code)
        self.runs[name] = rec
        self._save()
        (log.info if rec["status"] == "ok" else log.warning)("report %s %s in %.1f s%s", name, rec["status"],
                                                             rec["duration_s"],
                                                             f": {rec['error']}" if rec.get("error") else "")
        self._wake = 0.0  # a slot may have passed while it ran: look again at once

    def _alert_died(self, name: str, code: int) -> None:
        """A run killed before it could raise its own failure alert: a short child raises it."""
        base = reports_dir(self.home) / name
        try:
            with open(base / ".child.log", "ab") as logf:
                subprocess.Popen([self.python, "-m", "workbench.report._child", str(base / ".job.json"), "--died",
                                  str(code)], stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True)
        except OSError as exc:
            log.error("could not raise the alert for report %s: %s", name, exc)

    def _save(self) -> None:
        try:
            reports_dir(self.home).mkdir(parents=True, exist_ok=True)
            write_json_atomic(_state_path(self.home), {"last_slots": self.policy.last_slots(), "runs": self.runs})
        except OSError as exc:
            log.error("could not save the report schedule state: %s", exc)

    def running(self) -> list[str]:
        return list(self.children)

    def close(self, timeout: float = 0.0) -> None:
        """On agent stop: wait up to ``timeout`` for running reports (they go on by themselves after)."""
        deadline = time.monotonic() + timeout
        for name, (proc, started) in list(self.children.items()):
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.info("report %s still running (pid %d); it finishes on its own", name, proc.pid)
                continue
            del self.children[name]
            self._ended(name, proc.returncode, started)
        self._save()


def report_service(cfg: Any, home: str | os.PathLike, host: str = "") -> ReportService | None:
    """The service the configuration asks for, or ``None`` when no report has a cron schedule."""
    if not cfg.reports:
        return None
    from workbench.report._config import report_specs

    specs = report_specs(cfg.reports, cfg.notify)
    if not any(s.cron and s.enabled for s in specs.values()):
        return None
    return ReportService(specs, home, cfg.notify, cfg.alerts, host=host)
