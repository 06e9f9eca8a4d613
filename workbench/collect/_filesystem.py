"""Disk space per mounted filesystem."""

from __future__ import annotations

from types import MappingProxyType

import psutil

from workbench.catalog import MetricSpec
from workbench.collect._base import Collector, Sample
from workbench.labels import format_labels

__all__ = ["FilesystemCollector"]


class FilesystemCollector(Collector):
    """``system.filesystem.usage{device,mountpoint,state}`` and utilisation per mount.

    Default interval 30 s: space changes slowly, and a ``statvfs`` on a hung network
    mount can block, so it should not sit in the 1 s path. Only physical devices are
    listed unless ``all_partitions=True`` (psutil's ``disk_partitions(all=...)``).
    A mount that cannot be read (permission, stale NFS handle) is skipped and counted.
    """

    name = "filesystem"
    default_interval = 30.0
    option_defaults = MappingProxyType({"all_partitions": False})
    specs = (
        MetricSpec(
            "system.filesystem.usage",
            "By",
            "gauge",
            "Bytes per state (label state=used|free|reserved; reserved is kept for root) "
            "with labels device, mountpoint, type.",
            source="filesystem",
        ),
        MetricSpec(
            "system.filesystem.utilization",
            "1",
            "gauge",
            "used / (used + free) as df reports it, per device and mountpoint.",
            source="filesystem",
        ),
    )

    def _collect(self) -> list[Sample]:
        out: list[Sample] = []
        seen: set[str] = set()
        for part in psutil.disk_partitions(all=self.options["all_partitions"]):
            if part.mountpoint in seen:  # over-mounted path: statvfs sees the top one only
                continue
            seen.add(part.mountpoint)
            try:
                usage = psutil.disk_usage(part.mountpoint)
            except OSError as exc:
                self._count_error(exc)
                continue
            base = {"device": part.device, "mountpoint": part.mountpoint, "type": part.fstype}
            reserved = max(usage.total - usage.used - usage.free, 0)
            for state, value in (("used", usage.used), ("free", usage.free), ("reserved", reserved)):
                out.append(
                    Sample(
                        "system.filesystem.usage",
                        format_labels({**base, "state": state}),
                        float(value),
                    )
                )
            if usage.used + usage.free > 0:
                out.append(
                    Sample(
                        "system.filesystem.utilization",
                        format_labels(base),
                        usage.used / (usage.used + usage.free),
                    )
                )
        return out
