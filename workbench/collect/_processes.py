"""Process counts by status, and the top-N processes by CPU and by memory."""

from __future__ import annotations

import heapq
from collections import Counter
from types import MappingProxyType
from typing import Any

import psutil

from workbench._params import Integral, Interval
from workbench.catalog import MetricSpec
from workbench.collect._base import Collector, Sample
from workbench.collect._rates import RateTracker
from workbench.collect._redact import redact_cmdline
from workbench.labels import format_labels

__all__ = ["ProcessCollector"]

_PROCESS_LABELS = "labels pid, name, cmdline (secrets redacted, ~120 characters)"


class ProcessCollector(Collector):
    """``system.processes.count{status}`` and per-process metrics for the top-N.

    Cost is what matters here (a monitor that becomes the load is glances' most
    reported problem), so each tick reads only ``status``, ``cpu_times`` and
    ``memory_info`` for every process — two small /proc files on Linux, read once
    under ``Process.oneshot()`` — and keeps ``psutil.Process`` handles between
    ticks. Names, command lines, thread counts and I/O counters are read only for
    the ``top_n`` processes by CPU and the ``top_n`` by resident memory, so the
    number of series is bounded by ``2 * top_n`` per tick; a process that exits
    simply stops appearing and its state is dropped.

    CPU utilisation follows OpenTelemetry: CPU seconds over wall seconds divided by
    the number of logical CPUs, so 1.0 is the whole machine. Like every rate it
    needs two readings, so the first tick ranks by memory only, and a process's
    I/O rates start on its second tick in the top set. A PID reused between two
    ticks is detected only when its CPU time went backwards; with Linux's 4 M PID
    space that needs 4 M process starts within one interval, which we accept.

    Default interval 5 s: measured on this machine (``benchmarks/collector_cost.py``),
    one tick costs about 20 ms of CPU with ~400 processes, i.e. 0.4 % of a core at 5 s
    (a glances-style scan of the same processes: about 65 ms).
    """

    name = "processes"
    default_interval = 5.0
    option_defaults = MappingProxyType({"top_n": 10, "cmdline_chars": 120})
    _parameter_constraints = MappingProxyType({
        "top_n": [Interval(Integral, 1, None, closed="left")],
        "cmdline_chars": [Interval(Integral, 1, None, closed="left")],
    })
    specs = (
        MetricSpec(
            "system.processes.count",
            "{process}",
            "gauge",
            "Number of processes per status (label status=running|sleeping|disk-sleep|zombie|...).",
            source="processes",
        ),
        MetricSpec(
            "process.cpu.utilization",
            "1",
            "gauge",
            f"CPU time over wall time divided by the number of CPUs (1 = whole machine); {_PROCESS_LABELS}.",
            source="processes",
        ),
        MetricSpec(
            "process.memory.usage",
            "By",
            "gauge",
            f"Resident set size; {_PROCESS_LABELS}.",
            source="processes",
        ),
        MetricSpec(
            "process.thread.count",
            "{thread}",
            "gauge",
            f"Number of threads; {_PROCESS_LABELS}.",
            source="processes",
        ),
        MetricSpec(
            "process.disk.io",
            "By/s",
            "rate",
            f"Bytes per second read or written (label direction=read|write); {_PROCESS_LABELS}.",
            source="processes",
        ),
    )

    def __init__(self, *, interval: float | None = None, **options: Any) -> None:
        super().__init__(interval=interval, **options)
        self._handles: dict[int, psutil.Process] = {}
        self._cpu = RateTracker()
        self._io = RateTracker()
        self._ncpu = psutil.cpu_count() or 1

    def _pids(self) -> list[int]:
        """The PIDs to visit this tick (a separate step, as in ``process_iter``)."""
        return psutil.pids()

    def _collect(self) -> list[Sample]:
        now = self._clock()
        statuses: Counter[str] = Counter()
        by_cpu: list[tuple[float, int]] = []
        by_mem: list[tuple[int, int]] = []
        handles: dict[int, psutil.Process] = {}
        for pid in self._pids():
            proc = self._handles.get(pid)
            status = None
            try:
                if proc is None:
                    proc = psutil.Process(pid)
                handles[pid] = proc
                with proc.oneshot():
                    status = proc.status()
                    statuses[status] += 1
                    if status == psutil.STATUS_ZOMBIE:
                        continue
                    times = proc.cpu_times()
                    rss = proc.memory_info().rss
            except psutil.ZombieProcess:
                # Exited, not yet reaped: nothing to measure, and not an error.
                if status is None:
                    statuses[psutil.STATUS_ZOMBIE] += 1
                continue
            except psutil.NoSuchProcess as exc:
                self._count_error(exc)  # exited between listing and reading
                handles.pop(pid, None)
                continue
            except psutil.AccessDenied as exc:
                self._count_error(exc)
                continue
            util = self._cpu.rate(pid, times.user + times.system, now)
            if util is not None and util > 0:
                by_cpu.append((min(util / self._ncpu, 1.0), pid))
            if rss > 0:  # kernel threads have no memory of their own
                by_mem.append((rss, pid))
        self._handles = handles
        self._cpu.keep_only(handles)

        out = [
            Sample("system.processes.count", format_labels({"status": s}), float(n))
            for s, n in sorted(statuses.items())
        ]
        top_n = self.options["top_n"]
        cpu_of = {pid: u for u, pid in by_cpu}
        rss_of = {pid: r for r, pid in by_mem}
        chosen = {pid for _, pid in heapq.nlargest(top_n, by_cpu)}
        chosen |= {pid for _, pid in heapq.nlargest(top_n, by_mem)}
        for pid in sorted(chosen):
            out.extend(self._describe(handles[pid], cpu_of.get(pid), rss_of.get(pid, 0), now))
        self._io.keep_only((pid, d) for pid in chosen for d in ("read", "write"))
        return out

    def _describe(
        self, proc: psutil.Process, util: float | None, rss: int, now: float
    ) -> list[Sample]:
        """Samples for one chosen process; [] if it vanished meanwhile (counted)."""
        try:
            with proc.oneshot():
                name = proc.name()
                cmdline = proc.cmdline()
                threads = proc.num_threads()
        except (psutil.NoSuchProcess, psutil.AccessDenied) as exc:
            self._count_error(exc)
            return []
        labels = {
            "pid": proc.pid,
            "name": name,
            "cmdline": redact_cmdline(cmdline, self.options["cmdline_chars"]) if cmdline else "",
        }
        text = format_labels(labels)
        out = [
            Sample("process.memory.usage", text, float(rss)),
            Sample("process.thread.count", text, float(threads)),
        ]
        if util is not None:
            out.append(Sample("process.cpu.utilization", text, util))
        try:
            io = proc.io_counters()
        except (psutil.NoSuchProcess, psutil.AccessDenied) as exc:
            self._count_error(exc)
            return out
        except (AttributeError, NotImplementedError):
            return out  # macOS has no per-process I/O counters
        for direction, value in (("read", io.read_bytes), ("write", io.write_bytes)):
            rate = self._io.rate((proc.pid, direction), value, now)
            if rate is not None:
                out.append(
                    Sample("process.disk.io", format_labels({**labels, "direction": direction}), rate)
                )
        return out

    def close(self) -> None:
        self._handles.clear()
        self._cpu.clear()
        self._io.clear()
