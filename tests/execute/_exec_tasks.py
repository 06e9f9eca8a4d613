"""Module-level task functions for the executor tests (worker processes import them)."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time


def square(x: int) -> int:
    return x * x


def pid_of_worker() -> int:
    return os.getpid()


def exit_hard(code: int = 3) -> None:
    os._exit(code)


def segfault() -> None:
    ctypes.string_at(0)


def sigkill_self() -> None:  # what the kernel's OOM killer does
    os.kill(os.getpid(), signal.SIGKILL)


def hang_with_child(pidfile: str) -> None:
    """Start a grandchild that sleeps, write its pid, then spin forever."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open(pidfile, "w") as f:
        f.write(str(child.pid))
    while True:
        time.sleep(0.01)


def allocate(mb: int, hold: float = 0.0) -> int:
    block = bytearray(mb * 2**20)
    for i in range(0, len(block), 4096):  # touch every page so RSS really grows
        block[i] = 1
    time.sleep(hold)
    return len(block)


def burn(seconds: float) -> float:
    end = time.process_time() + seconds
    x = 0.0
    while time.process_time() < end:
        x += 1.0
    return x


def unpicklable_error() -> None:
    import threading

    raise RuntimeError("cannot travel", threading.Lock())  # a lock does not pickle


def fail_value() -> None:
    raise ValueError("permanent")
