"""Disk I/O per block device, as per-second rates."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import psutil

from workbench.catalog import MetricSpec
from workbench.collect._base import Collector, Sample
from workbench.collect._rates import RateTracker
from workbench.labels import format_labels

__all__ = ["DiskIOCollector"]


class DiskIOCollector(Collector):
    """``system.disk.io``, ``system.disk.operations`` (rates) and ``system.disk.io_time``
    (busy fraction) per device.

    Rates need two readings: the first call emits nothing, and a counter that went
    backwards skips one tick (see ``_rates``). psutil's own ``nowrap`` bookkeeping is
    not used because its state is process-global and would be shared with any other
    caller in the agent. Devices matching ``exclude`` (a regular expression; loop and
    RAM disks by default) are skipped.
    """

    name = "disk"
    default_interval = 1.0
    option_defaults = MappingProxyType({"exclude": r"^(loop|ram)\d+$"})
    specs = (
        MetricSpec(
            "system.disk.io",
            "By/s",
            "rate",
            "Bytes per second read or written (labels device, direction=read|write).",
            source="disk",
        ),
        MetricSpec(
            "system.disk.operations",
            "{operation}/s",
            "rate",
            "Completed read or write operations per second (labels device, direction).",
            source="disk",
        ),
        MetricSpec(
            "system.disk.io_time",
            "1",
            "rate",
            "Fraction of wall time the device was busy with I/O (label device; 1 = saturated).",
            source="disk",
        ),
    )

    def __init__(self, *, interval: float | None = None, **options: Any) -> None:
        super().__init__(interval=interval, **options)
        self._exclude = self._regex_option("exclude")
        self._rates = RateTracker()

    def _collect(self) -> list[Sample]:
        counters = psutil.disk_io_counters(perdisk=True, nowrap=False) or {}
        now = self._clock()
        out: list[Sample] = []
        seen = []
        for device, c in counters.items():
            if self._exclude is not None and self._exclude.search(device):
                continue
            for direction, nbytes, nops in (
                ("read", c.read_bytes, c.read_count),
                ("write", c.write_bytes, c.write_count),
            ):
                labels = format_labels({"device": device, "direction": direction})
                seen += [("io", device, direction), ("ops", device, direction)]
                rate = self._rates.rate(("io", device, direction), nbytes, now)
                if rate is not None:
                    out.append(Sample("system.disk.io", labels, rate))
                rate = self._rates.rate(("ops", device, direction), nops, now)
                if rate is not None:
                    out.append(Sample("system.disk.operations", labels, rate))
            busy_ms = getattr(c, "busy_time", None)  # Linux and FreeBSD only
            if busy_ms is not None:
                seen.append(("busy", device))
                delta = self._rates.delta(("busy", device), busy_ms, now)
                if delta is not None:
                    busy, dt = delta
                    # Clamped: the kernel's busy clock and ours are read a few µs apart.
                    out.append(
                        Sample(
                            "system.disk.io_time",
                            format_labels({"device": device}),
                            min(busy / 1000.0 / dt, 1.0),
                        )
                    )
        self._rates.keep_only(seen)
        return out

    def close(self) -> None:
        self._rates.clear()
