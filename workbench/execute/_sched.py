"""Run batch work at the lowest CPU priority: ``SCHED_IDLE``, else nice 19.

Why not only ``nice``: a nice-10 worker still gets a weighted share of a core whenever it
is runnable, so a normal-priority interactive task that wakes up can wait behind it for
several milliseconds, and the wait grows when another tenant already holds a core. A
``SCHED_IDLE`` task runs only when nothing else wants the CPU and is preempted at once
when an ordinary task wakes; an unprivileged Linux process may put itself (or one of its
threads) in that class. Where the call is refused (another OS, a seccomp filter, an old
kernel) the fallback is nice 19, the weakest ordinary priority.

Children inherit both the policy and the niceness, so a task that starts subprocesses
keeps them in the background too.
"""

from __future__ import annotations

import os

__all__ = ["lower_priority", "current_policy"]


def lower_priority(sched_idle: bool, nice: int | None = None, tid: int = 0) -> str:
    """Lower the priority of process/thread ``tid`` (0: the caller); return what applied.

    ``nice`` is added first (kept even under ``SCHED_IDLE``: it also orders I/O under the
    default I/O scheduler class). With ``sched_idle`` the policy becomes ``SCHED_IDLE``,
    falling back to nice 19 when that is not permitted. For a thread, ``tid`` is its
    native id (``threading.get_native_id()``); on Linux both calls then affect that one
    thread only. Uses only syscalls, so it is safe between ``fork`` and ``exec``.
    """
    applied = []
    if nice:
        try:
            current = os.getpriority(os.PRIO_PROCESS, tid)
            os.setpriority(os.PRIO_PROCESS, tid, min(19, current + nice))
            applied.append(f"nice +{nice}")
        except OSError:
            pass
    if not sched_idle:
        return ", ".join(applied) or "unchanged"
    try:
        os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
        applied.append("SCHED_IDLE")
    except (AttributeError, OSError):  # no SCHED_IDLE here, or not permitted
        try:
            os.setpriority(os.PRIO_PROCESS, tid, 19)
            applied.append("nice 19 (SCHED_IDLE not permitted)")
        except OSError:
            applied.append("unchanged (neither SCHED_IDLE nor nice 19 permitted)")
    return ", ".join(applied)


def current_policy(tid: int = 0) -> str:
    """``"SCHED_IDLE"``, ``"SCHED_OTHER"``, ... for ``tid`` (0: the caller), or ``"unknown"``."""
    try:
        policy = os.sched_getscheduler(tid)
    except (AttributeError, OSError):
        return "unknown"
    for name in ("SCHED_OTHER", "SCHED_BATCH", "SCHED_IDLE", "SCHED_FIFO", "SCHED_RR"):
        if getattr(os, name, None) == policy:
            return name
    return str(policy)
