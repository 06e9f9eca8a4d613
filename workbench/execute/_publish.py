"""A named executor shows itself and obeys control actions (``workbench.control``).

``ThrottledExecutor(name="nightly")`` builds an :class:`ExecutorControl`. It

* takes a lock file beside its status file (``HOME/control/executors/<host>/<name>.lock``,
  through :class:`~workbench.store._lock.HostLock`), so a second executor of the
  same name on the same host is refused, and a crashed one never blocks the next;
* applies the actions addressed to ``executor:<name>`` and ``executor:<name>@<host>``
  (pause, resume, drain, cancel, set_limit, reprioritise) when it starts — actions
  made while no such executor ran apply then — and every ``interval`` seconds after;
* writes its live state (queue, running, done, failed, limit and the governor's
  reason, throughput, paused/draining) to ``<name>.json`` atomically every
  ``interval`` seconds and once more, as ``stopped``, at shutdown.

One daemon thread does both; an unnamed executor has none of this.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from workbench.errors import AgentRunningError, ConfigError, ExecutorRunningError

if TYPE_CHECKING:
    from workbench.control import Action
    from workbench.execute._executor import ThrottledExecutor

__all__ = ["ExecutorControl"]

log = logging.getLogger("workbench.execute")


def _num(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


class ExecutorControl:
    """The control-plane side of one named executor (see the module docstring)."""

    def __init__(self, name: str, store: Any = None, *, interval: float = 1.0) -> None:
        from workbench.control import _NAME, ActionPoller, _LockPlace, executor_status_path
        from workbench.store._lock import HostLock
        from workbench.store._store import Store

        if not isinstance(name, str) or not _NAME.match(name):
            raise ConfigError(f"name must be 1-64 letters, digits, '_', '.' or '-'; got {name!r}.", name=name)
        if not (isinstance(interval, (int, float)) and interval > 0):
            raise ConfigError(f"control_interval must be a positive number of seconds; got {interval!r}.")
        self.name = name
        self.store = store if isinstance(store, Store) else Store(store)
        self.host = self.store.host
        self.interval = float(interval)
        self.path = executor_status_path(self.store.home, self.host, name)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock = HostLock(_LockPlace(self.path.with_suffix(".lock")), self.host,
                                  purpose=f"executor {name}").acquire()
        except AgentRunningError as exc:
            pid = exc.fields.get("pid")
            raise ExecutorRunningError(
                f"An executor named {name!r} already runs on host {self.host!r} (pid {pid}) in {self.store.home}. "
                f"Give this one another name=, or stop that one first (`workbench executors` lists them).",
                name=name, host=self.host, pid=pid) from None
        self.owner = f"executor:{name}@{self.host}"
        self.poller = ActionPoller(self.store, self.owner, [f"executor:{name}", self.owner], "executor")
        self.draining = False
        self.started = time.time()
        self._executor: ThrottledExecutor | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    def start(self, executor: ThrottledExecutor) -> None:
        """Apply what is waiting, publish, and start the thread that keeps doing both."""
        self._executor = executor
        self.step()
        self._thread = threading.Thread(target=self._loop, name=f"throttled-control-{self.name}", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.step()

    def step(self) -> None:
        """One poll and one status write; never raises."""
        self.poller.poll(self.apply)
        self.publish()

    # ----------------------------------------------------------------- actions ---
    def apply(self, action: Action) -> str:
        ex = self._executor
        args = action.args
        if action.action == "pause":
            ex.pause()
            self.draining = False
            st = ex.stats()
            return f"paused: {st['running']} running task(s) finish, {st['queued']} queued wait"
        if action.action == "resume":
            ex.resume()
            self.draining = False
            return "resumed"
        if action.action == "drain":
            ex.pause()
            self.draining = True
            return f"draining: {ex.stats()['running']} running task(s) finish, no more start"
        if action.action == "cancel":
            n = ex.cancel(**args)
            return f"cancelled {n} waiting task(s)"
        if action.action == "set_limit":
            ex.set_limits(max_workers=args["max_workers"])
            st = ex.stats()
            return f"limit now {st['limit']} ({st['limit_reason']})"
        if action.action == "reprioritise":
            sel = {k: v for k, v in args.items() if k != "priority"}
            n = ex.reprioritise(args["priority"], **sel)
            return f"{n} waiting task(s) now have priority {args['priority']:g}"
        raise ValueError(f"unhandled action {action.action!r}")  # check_action lets no other through

    # ----------------------------------------------------------------- publish ---
    def state(self) -> dict[str, Any]:
        st = self._executor.stats() if self._executor is not None else {}
        running = not self._closed
        if not running:
            phase = "stopped"
        elif self.draining:
            phase = "drained" if st.get("running", 0) == 0 else "draining"
        elif st.get("paused"):
            phase = "paused"
        else:
            phase = "running"
        keys = ("queued", "blocked", "delayed", "running", "submitted", "done", "failed", "timed_out",
                "cancelled", "rejected", "retried", "throughput", "limit", "limit_reason", "admission",
                "paused", "cpu", "memory")
        out = {k: _num(st.get(k)) for k in keys}
        out["queued"] = (st.get("queued") or 0) + (st.get("blocked") or 0) + (st.get("delayed") or 0)
        out.update(name=self.name, host=self.host, hostname=socket.gethostname(), pid=os.getpid(),
                   started=self.started, updated=time.time(), stopped=not running, state=phase,
                   draining=self.draining, control=self.poller.status())
        return out

    def publish(self) -> None:
        from workbench.control import write_json_atomic

        try:
            write_json_atomic(self.path, self.state())
        except Exception as exc:  # noqa: BLE001 - publishing must never break the executor
            log.warning("could not publish executor %r state to %s: %s", self.name, self.path, exc)

    def close(self) -> None:
        """Stop the thread, publish ``stopped`` and release the name."""
        if self._closed:
            return
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        self._closed = True
        self.publish()
        self._lock.release()

    def release(self) -> None:
        """Give the name back without publishing (the executor failed to start)."""
        self._closed = True
        self._lock.release()
