"""One writer-compactor per host: an exclusive lock file with stale-lock takeover.

``flock`` does the real work: the kernel drops it when the holder dies, even
by ``kill -9``, so a crashed agent never blocks the next one. The file also
records who holds it (pid, host, start time, purpose) so a refusal can say
who to stop, and a new holder can report that it took over a stale lock.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time

from workbench.errors import AgentRunningError
from workbench.store._layout import Layout

__all__ = ["HostLock", "lock_holder"]

log = logging.getLogger("workbench.store")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_holder(layout: Layout, host: str) -> dict | None:
    """Who holds the host lock now (``None`` when nobody does)."""
    path = layout.lock(host)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                return json.loads(os.pread(fd, 4096, 0) or b"{}")
            except ValueError:
                return {"pid": None}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class HostLock:
    def __init__(self, layout: Layout, host: str, *, purpose: str = "agent") -> None:
        self.layout = layout
        self.host = host
        self.purpose = purpose
        self._fd: int | None = None
        self.took_over: dict | None = None

    def acquire(self) -> HostLock:
        path = self.layout.lock(self.host)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                info = json.loads(os.pread(fd, 4096, 0) or b"{}")
            except ValueError:
                info = {}
            os.close(fd)
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("started", 0)))
            raise AgentRunningError(
                f"Another {info.get('purpose', 'agent')} (pid {info.get('pid', '?')} on {info.get('hostname', '?')}, "
                f"since {since}) is already writing host {self.host!r} in {self.layout.home}. "
                f"Stop it first (kill {info.get('pid', '<pid>')}), or use --home to record into another directory.",
                pid=info.get("pid"),
                home=str(self.layout.home),
            ) from None
        try:
            old = json.loads(os.pread(fd, 4096, 0) or b"{}")
        except ValueError:
            old = {}
        if old.get("pid") and old.get("pid") != os.getpid() and not old.get("released"):
            self.took_over = old
            alive = old.get("hostname") == socket.gethostname() and _pid_alive(int(old["pid"]))
            log.warning(
                "Took over a stale lock on %s left by pid %s (%s); it ended without releasing it.",
                path, old.get("pid"), "still alive but not holding it" if alive else "no longer running",
            )
        info = {"pid": os.getpid(), "hostname": socket.gethostname(), "started": time.time(), "purpose": self.purpose}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            info = json.loads(os.pread(self._fd, 4096, 0) or b"{}")
            info["released"] = time.time()
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, json.dumps(info).encode(), 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> HostLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
