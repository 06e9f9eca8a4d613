"""The agent's compaction supervision: absorb in this process, compact in a child.

Both run on one thread of the agent (:meth:`CompactionSupervisor.run`) so
that no file work ever delays a tick:

* every ``absorb_interval`` (10 s) the agent itself absorbs the one-second L0
  files of open hours into a few larger chunk files
  (:meth:`Compactor.absorb_once`, Parquet reader and writer only);
* every ``compact_interval`` the heavy part (sealing hours and days,
  rollups, expiry) runs in a short-lived child process
  (:mod:`workbench.store._compaction_child`) that imports DuckDB, so the agent
  never does (docs/benchmarks/agent.md).

Both parts write the host's manifest; running them one after the other on
that one thread is what guarantees they never do so at the same time (the
child takes no lock of its own: it works under the agent's host lock).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from workbench._logthrottle import RepeatedFailure
from workbench.store._compact import CompactionPolicy, Compactor

__all__ = ["CompactionSupervisor"]

log = logging.getLogger("workbench.agent")

# A compaction child that runs longer than this is killed (and counted as a
# failure); it is generous because a first run after a long outage can merge
# hours of files.
_COMPACT_TIMEOUT = 900.0


class CompactionSupervisor:
    """Absorb every ``absorb_interval``; start a full compaction child every ``compact_interval``.

    ``summary`` (the agent's :class:`~workbench.agent.AgentSummary`) counts the
    cycles and failures; :attr:`compaction` and :attr:`absorb` are what the
    agent's metrics and status file show.
    """

    def __init__(self, store: Any, host: str, config: Any, *, absorb_interval: float,
                 stop: threading.Event, summary: Any) -> None:
        self.store, self.host, self.config = store, host, config
        self.absorb_interval = absorb_interval
        self.stop, self.summary = stop, summary
        self.compaction: dict[str, Any] = {}
        self.absorb: dict[str, Any] = {"runs": 0, "failures": 0, "absorbed": 0, "merged": 0, "last_error": ""}
        self._absorb_trouble = RepeatedFailure("absorbing L0 files failed", logger=log)

    def run(self) -> None:
        """The thread's loop, until ``stop`` is set.

        One thread runs both, one after the other: that is what keeps the
        agent's absorb step and the child from replacing the manifest at the
        same time.
        """
        full_every = self.config.agent.compact_interval
        compactor = Compactor(self.store.layout, self.host,
                              CompactionPolicy(**self.config.compaction_policy_kwargs()))
        next_full = time.monotonic() + full_every
        while not self.stop.wait(min(self.absorb_interval, full_every)):
            if time.monotonic() >= next_full:
                self.compact_once()
                next_full = time.monotonic() + full_every
            else:
                self.absorb_once(compactor)

    def absorb_once(self, compactor: Compactor) -> None:
        """One light step in this process; a failure is logged and counted, the files stay in L0."""
        a = self.absorb
        a["runs"] += 1
        try:
            report = compactor.absorb_once()
        except Exception as exc:  # noqa: BLE001 - the next step or the full cycle retries
            a["failures"] += 1
            a["last_error"] = f"{type(exc).__name__}: {exc}"
            # a traceback only for the unexpected: a full disk needs none
            self._absorb_trouble.failed(a["last_error"], "; the files stay in incoming/ and are retried",
                                        exc_info=not isinstance(exc, OSError))
            return
        self._absorb_trouble.ok()
        a.update(at=time.time(), seconds=report.seconds, absorbed=a["absorbed"] + report.absorbed,
                 merged=a["merged"] + report.merged)

    def compact_once(self) -> None:
        """One compaction cycle in a child process; a failure is logged and counted, data stays in L0."""
        policy = json.dumps(self.config.compaction_policy_kwargs())
        cmd = [sys.executable, "-m", "workbench.store._compaction_child", str(self.store.home), self.host,
               policy, str(os.getpid())]
        # The child must import this very package, even when it runs from a checkout.
        root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])]))
        t0 = time.monotonic()
        error, proc, report = "", None, {}
        try:
            # Own session: a Ctrl-C at the terminal stops the agent, which lets the
            # running cycle finish, instead of interrupting the child midway.
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=_COMPACT_TIMEOUT, env=env, check=False,
                                  start_new_session=True)
        except subprocess.TimeoutExpired:
            error = f"timed out after {_COMPACT_TIMEOUT:g} s and was killed"
        except OSError as exc:
            error = f"could not start the compaction process: {exc}"
        else:
            if proc.returncode == 0:
                try:
                    report = json.loads(proc.stdout.strip().splitlines()[-1])
                except (ValueError, IndexError):
                    error = f"printed no report (stdout {proc.stdout[-200:]!r})"
            else:
                tail = proc.stderr.strip().splitlines()[-1:] or ["no message"]
                error = f"exited with status {proc.returncode}: {tail[0]}"
                if self.stop.is_set() and proc.returncode < 0:
                    return  # stopped with the agent; nothing went wrong
        wall = time.monotonic() - t0
        summary = self.summary
        summary.compactions += 1
        if error:
            summary.compaction_failures += 1
            log.error("compaction failed (%d of %d cycles so far): %s; samples stay in incoming/ and the next "
                      "cycle retries", summary.compaction_failures, summary.compactions, error)
            if proc is not None and proc.stderr:
                log.debug("compaction stderr:\n%s", proc.stderr)
            self.compaction = {**self.compaction, "last_error": error, "failed_at": time.time(),
                               "failures": summary.compaction_failures}
            return
        self.compaction = {
            "at": time.time(), "seconds": report.get("seconds"), "wall_seconds": wall,
            "absorbed": report.get("absorbed"), "sealed_hours": report.get("sealed_hours"),
            "quarantined": report.get("quarantined"), "peak_rss_bytes": report.get("peak_rss_bytes"),
            "runs": summary.compactions, "failures": summary.compaction_failures,
            "last_error": self.compaction.get("last_error", ""),
        }
