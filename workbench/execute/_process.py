"""Process backend: one long-lived worker process per slot, replaced when it dies.

Why not ``ProcessPoolExecutor``: when one of its workers dies the whole pool breaks
(``BrokenProcessPool``) and every pending future fails, and it cannot kill a task that
passed its timeout. Here each slot owns one worker and a pipe; a worker that crashes
(segfault, ``os._exit``, OOM kill) fails only the task it was running, a timeout or a
memory limit kills that worker's process tree, and the slot starts a fresh worker.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import sys
import time
import traceback
from typing import Any

import psutil

from workbench.execute._backends import Backend, Outcome, register_backend
from workbench.execute._command import kill_tree, tree_rss
from workbench.execute._errors import (
    MemoryLimitError,
    RemoteTaskError,
    TaskTimeoutError,
    WorkerDiedError,
)
from workbench.execute._sched import lower_priority

try:  # cloudpickle (a Dask dependency) also ships lambdas and closures
    import cloudpickle as _pickler
except ImportError:  # pragma: no cover - plain pickle handles module-level functions
    _pickler = pickle

__all__ = ["ProcessBackend"]


def _peak_reset() -> None:
    try:  # Linux >= 4.0: "5" resets VmHWM so the peak is per task, not per worker lifetime
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _rss_now() -> tuple[int, int]:
    rss = hwm = 0
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) * 1024
    except OSError:
        rss = hwm = psutil.Process().memory_info().rss
    return rss, hwm


def _worker_main(conn, sys_path: list[str], nice: int | None, sched_idle: bool = False) -> None:
    sys.path[:] = sys_path
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    lower_priority(sched_idle, nice)
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return
        if not data:
            return
        _peak_reset()
        rss0, _ = _rss_now()
        t0 = time.process_time()
        try:
            fn, args, kwargs = pickle.loads(data)
            value, ok = fn(*args, **kwargs), True
        except BaseException as exc:
            value, ok = exc, False
        cpu = time.process_time() - t0
        _, peak = _rss_now()
        try:
            payload = _pickler.dumps((ok, value, cpu, peak, peak - rss0))
        except Exception as exc:
            err = RemoteTaskError(
                f"the task's {'result' if ok else 'exception'} could not be pickled back to the executor "
                f"({type(exc).__name__}: {exc}); original: {value!r}",
                remote_type=type(value).__name__,
                remote_traceback="".join(traceback.format_exception(value)) if not ok else "",
            )
            payload = _pickler.dumps((False, err, cpu, peak, peak - rss0))
        conn.send_bytes(payload)


def _own_cpu(pid: int) -> float | None:
    """CPU seconds of a worker, its reaped children included: one small /proc read per task."""
    try:
        t = psutil.Process(pid).cpu_times()
        return t.user + t.system + t.children_user + t.children_system
    except psutil.Error:
        return None


def _used_since(pid: int, cpu0: float | None) -> float | None:
    """CPU a task about to be killed has used: its worker's since the start, plus live children's.

    Only on the rare kill path does this walk the process tree (which scans all of /proc).
    """
    now = _own_cpu(pid)
    if now is None or cpu0 is None:
        return None
    try:
        for child in psutil.Process(pid).children(recursive=True):
            t = child.cpu_times()
            now += t.user + t.system
    except psutil.Error:
        pass
    return max(0.0, now - cpu0)


def _rss_of(pid: int) -> int:
    # /proc/<pid>/statm is one small read; psutil's tree walk scans every process and
    # would cost milliseconds per task on a busy machine.
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class _Worker:
    def __init__(self, ctx, nice: int | None, sched_idle: bool = False) -> None:
        parent, child = ctx.Pipe()
        self.conn = parent
        self.proc = ctx.Process(target=_worker_main, args=(child, list(sys.path), nice, sched_idle), daemon=True)
        self.proc.start()
        child.close()

    def stop(self, kill: bool = False) -> None:
        if not kill:
            try:
                self.conn.send_bytes(b"")
            except OSError:
                kill = True
            self.proc.join(1.0)
        if self.proc.is_alive() or kill:
            kill_tree(self.proc.pid)
            self.proc.join(5.0)
        self.conn.close()


class ProcessBackend(Backend):
    """Each slot owns a worker process (``forkserver`` start, ``nice`` applied once).

    ``sched_idle=True`` runs workers (and the processes their tasks start) under Linux
    ``SCHED_IDLE``, so any ordinary task that wakes up preempts them at once; where that
    is not permitted they run at nice 19 instead (see :mod:`workbench.execute._sched`).

    ``memory_limit`` (bytes, per task, optional; a task's ``resources={"memory": ...}``
    declares its own) is enforced by sampling the worker's tree RSS every 50 ms and
    killing it past the limit, which works for native allocations and child processes.
    """

    name = "process"
    measures_memory = True

    def __init__(self, nice: int | None = None, start_method: str | None = None, memory_limit: int | None = None,
                 sched_idle: bool = False) -> None:
        self.nice = nice
        self.sched_idle = sched_idle
        methods = multiprocessing.get_all_start_methods()
        self.start_method = start_method or ("forkserver" if "forkserver" in methods else "spawn")
        self.memory_limit = memory_limit
        self._ctx = multiprocessing.get_context(self.start_method)
        self._workers: set[_Worker] = set()

    def open_slot(self) -> dict:
        return {"worker": None, "rss0": 0}

    def _ensure(self, state: dict) -> _Worker:
        w = state["worker"]
        if w is None or not w.proc.is_alive():
            if w is not None:
                self._drop(state, kill=True)
            w = _Worker(self._ctx, self.nice, self.sched_idle)
            self._workers.add(w)
            state["worker"] = w
        return w

    def _drop(self, state: dict, kill: bool) -> None:
        w = state["worker"]
        state["worker"] = None
        if w is not None:
            self._workers.discard(w)
            w.stop(kill=kill)

    def close_slot(self, state: dict) -> None:
        self._drop(state, kill=False)

    def call(self, state: dict, task: Any, deadline: float | None) -> Outcome:
        try:
            data = _pickler.dumps((task.fn, task.args, task.kwargs))
        except Exception as exc:
            return Outcome(False, TypeError(f"task {task.name!r} cannot be sent to a worker process: {exc}"))
        w = self._ensure(state)
        try:
            w.conn.send_bytes(data)
        except OSError:  # died while idle: start another and send again
            self._drop(state, kill=True)
            w = self._ensure(state)
            w.conn.send_bytes(data)
        limit = task.memory if task.memory is not None else self.memory_limit
        state["rss0"] = _rss_of(w.proc.pid)
        pid = w.proc.pid
        cpu0 = _own_cpu(pid)
        while True:
            wait = 0.05 if limit is not None else 1.0
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - time.monotonic()))
            try:
                ready = w.conn.poll(wait)
                if ready:
                    ok, value, cpu, peak, grown = pickle.loads(w.conn.recv_bytes())
                    return Outcome(ok, value, cpu, peak, max(0, grown))
            except (EOFError, OSError):
                ready = True
            if ready or not w.proc.is_alive():
                w.proc.join(1.0)
                code = w.proc.exitcode
                self._drop(state, kill=True)
                how = f"killed by signal {-code} ({signal.Signals(-code).name})" if code is not None and code < 0 else f"exited with code {code}"
                hint = " — SIGKILL often means the kernel's OOM killer" if code == -signal.SIGKILL else ""
                return Outcome(False, WorkerDiedError(
                    f"the worker process (pid {pid}) running task {task.name!r} {how}{hint}; "
                    "only this task failed and the slot has a new worker.",
                    pid=pid, exitcode=code,
                ))
            if deadline is not None and time.monotonic() >= deadline:
                used, peak = _used_since(pid, cpu0), tree_rss(pid)  # read before the kill erases them
                self._drop(state, kill=True)
                return Outcome(False, TaskTimeoutError(
                    f"task {task.name!r} passed its timeout; its worker process tree (pid {pid}) was killed.",
                    pid=pid,
                ), used, peak or None)
            if limit is not None:
                rss = tree_rss(pid)
                if rss - state["rss0"] > limit:
                    used = _used_since(pid, cpu0)
                    self._drop(state, kill=True)
                    return Outcome(False, MemoryLimitError(
                        f"task {task.name!r} grew its worker by {(rss - state['rss0']) / 2**20:.0f} MiB, past its "
                        f"memory limit of {limit / 2**20:.0f} MiB; the worker was killed. Declare more memory in "
                        "resources= or make the task smaller.",
                        pid=pid, rss=rss, limit=limit,
                    ), cpu_time=used, peak_rss=rss)

    def grown(self, state: dict) -> int | None:
        w = state.get("worker") if state else None
        if w is None:
            return None
        return max(0, _rss_of(w.proc.pid) - state["rss0"])

    def pids(self) -> list[int]:
        return [w.proc.pid for w in list(self._workers) if w.proc.pid is not None]

    def shutdown(self) -> None:
        for w in list(self._workers):
            w.stop(kill=True)
        self._workers.clear()


register_backend("process", ProcessBackend)
