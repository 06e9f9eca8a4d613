"""CPU time per state (total and per core), CPU frequency, and load averages."""

from __future__ import annotations

import os
from types import MappingProxyType
from typing import Any, NamedTuple

import psutil

from workbench.catalog import MetricSpec
from workbench.collect._base import Collector, Sample
from workbench.labels import format_labels

__all__ = ["CpuCollector", "LoadCollector"]

# Linux also reports guest and guest_nice, but already counts them inside user and
# nice; adding them again would inflate the total (psutil's cpu_percent drops them too).
_NOT_IN_TOTAL = frozenset({"guest", "guest_nice"})


class CpuCollector(Collector):
    """``system.cpu.utilization{cpu,state}`` as a fraction of wall time, and frequency.

    Utilisation is a ratio of tick deltas between two calls, so the first call
    emits no utilisation (as psutil's ``cpu_percent`` documents for its first call);
    a core whose counters went backwards (hot-plug) is skipped for one tick.
    ``cpu=total`` is the whole machine (all cores, each state in [0, 1]).
    """

    name = "cpu"
    default_interval = 1.0
    option_defaults = MappingProxyType({"percpu": True, "frequency": True})
    specs = (
        MetricSpec(
            "system.cpu.utilization",
            "1",
            "gauge",
            "Fraction of CPU time spent in each state since the previous tick "
            "(labels cpu=N or cpu=total, state=user|nice|system|idle|iowait|irq|softirq|steal).",
            source="cpu",
        ),
        MetricSpec(
            "system.cpu.frequency",
            "Hz",
            "gauge",
            "Current clock frequency of each logical CPU (label cpu).",
            source="cpu",
        ),
    )

    def __init__(self, *, interval: float | None = None, **options: Any) -> None:
        super().__init__(interval=interval, **options)
        self._prev: dict[str, NamedTuple] = {}
        self._label_cache: dict[tuple[str, str], str] = {}

    def _labels(self, cpu: str, state: str) -> str:
        key = (cpu, state)
        text = self._label_cache.get(key)
        if text is None:
            text = self._label_cache[key] = format_labels({"cpu": cpu, "state": state})
        return text

    def _collect(self) -> list[Sample]:
        out: list[Sample] = []
        if self.options["percpu"]:
            # One read of /proc/stat for all cores; the total is their sum.
            per = psutil.cpu_times(percpu=True)
            total = type(per[0])(*(sum(col) for col in zip(*per, strict=True)))
            times = {"total": total, **{str(i): t for i, t in enumerate(per)}}
        else:
            times = {"total": psutil.cpu_times()}
        for cpu, now in times.items():
            prev = self._prev.get(cpu)
            self._prev[cpu] = now
            if prev is not None:
                out.extend(self._utilization(cpu, prev, now))
        if self.options["frequency"]:
            out.extend(self._frequency())
        return out

    def _utilization(self, cpu: str, prev: NamedTuple, now: NamedTuple) -> list[Sample]:
        fields = [f for f in now._fields if f not in _NOT_IN_TOTAL]
        deltas = {f: getattr(now, f) - getattr(prev, f) for f in fields}
        total = sum(deltas.values())
        if total <= 0 or any(d < 0 for d in deltas.values()):
            return []  # no time passed, or counters reset: skip this delta
        return [
            Sample("system.cpu.utilization", self._labels(cpu, f), d / total)
            for f, d in deltas.items()
        ]

    def _frequency(self) -> list[Sample]:
        try:
            freqs = psutil.cpu_freq(percpu=True)
        except (NotImplementedError, OSError) as exc:
            self._count_error(exc)
            return []
        return [
            Sample("system.cpu.frequency", format_labels({"cpu": i}), f.current * 1e6)
            for i, f in enumerate(freqs or ())
            if f.current and f.current > 0
        ]


class LoadCollector(Collector):
    """``system.cpu.load_average.{1m,5m,15m}``: run-queue length averaged by the kernel."""

    name = "load"
    default_interval = 5.0  # the kernel updates these every 5 s
    specs = tuple(
        MetricSpec(
            f"system.cpu.load_average.{w}",
            "{thread}",
            "gauge",
            f"Average number of runnable (and, on Linux, uninterruptible) threads over {w}.",
            source="load",
        )
        for w in ("1m", "5m", "15m")
    )

    @classmethod
    def available(cls) -> bool:
        return hasattr(os, "getloadavg") or hasattr(psutil, "getloadavg")

    def _collect(self) -> list[Sample]:
        one, five, fifteen = psutil.getloadavg()
        return [
            Sample("system.cpu.load_average.1m", "", float(one)),
            Sample("system.cpu.load_average.5m", "", float(five)),
            Sample("system.cpu.load_average.15m", "", float(fifteen)),
        ]
