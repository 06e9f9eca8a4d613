"""Read Linux PSI (``/proc/pressure/cpu`` and ``memory``) for the governor's sampler.

CPU utilisation tops out at 100 %, so it cannot tell "both cores busy with our workers"
from "both cores busy and three more tasks waiting for them". PSI can: ``some`` is the
share of wall time in which at least one runnable task waited for a CPU (or, for
``memory``, stalled on reclaim or swap-in). That is what an interactive task feels.

The reader is the impure half (it opens files); the :class:`Governor` only receives the
numbers. Each :meth:`PressureReader.read` returns the stalled share over the interval
since the previous read, from the kernel's cumulative ``total`` (microseconds) — more
responsive than ``avg10``, a 10 s moving average that would keep lowering the limit for
seconds after the contention ended. The first read has no interval and gives ``None``
(not ``avg10``, which may still describe whatever ran before the executor started).

A missing or unreadable file (non-Linux, kernel without ``CONFIG_PSI``, ``psi=0`` on the
command line, a container hiding it) yields ``None`` and a readable :attr:`status`; the
governor then decides from CPU and memory alone.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

__all__ = ["PressureReader"]

RESOURCES = ("cpu", "memory")


class PressureReader:
    """Stalled share (0-1) of ``some`` CPU and memory pressure per interval.

    ``proc`` is the procfs root, so tests point it at a fixture tree. ``clock`` returns
    seconds (monotonic); it is a parameter so the delta arithmetic can be tested exactly.
    The deltas are the collectors' :class:`~workbench.collect._rates.RateTracker`'s.
    """

    def __init__(self, proc: str = "/proc", clock: Callable[[], float] = time.monotonic) -> None:
        self.proc = proc
        self.clock = clock
        self.status = "not read yet"
        from workbench.collect._rates import RateTracker  # imported here, as read() imports the parser

        self._rates = RateTracker()  # resource -> last (total µs, clock)

    def read(self) -> dict[str, float | None]:
        """``{"cpu": share | None, "memory": share | None}``; never raises for a missing file."""
        # One parser of the kernel's format for the whole package (the collector's).
        from workbench.collect._pressure import parse_pressure

        now = self.clock()
        out: dict[str, float | None] = {}
        problems = []
        for res in RESOURCES:
            path = os.path.join(self.proc, "pressure", res)
            try:
                with open(path) as f:
                    some = parse_pressure(f.read())["some"]
            except (OSError, KeyError, ValueError) as exc:  # DataError is a ValueError
                out[res] = None
                self._rates.forget(res)
                problems.append(f"{path}: {type(exc).__name__}: {exc}")
                continue
            # None with no interval yet (or a counter that went back): no reading.
            rate = self._rates.rate(res, some["total"], now)  # stalled µs per second
            out[res] = None if rate is None else min(1.0, rate / 1e6)
        self.status = "ok" if not problems else "unavailable (" + "; ".join(problems) + ")"
        return out
