"""Physical memory and swap (paging) usage."""

from __future__ import annotations

import psutil

from workbench.catalog import MetricSpec
from workbench.collect._base import Collector, Sample
from workbench.labels import format_labels

__all__ = ["MemoryCollector"]

_MEMORY_STATES = ("used", "free", "cached", "buffers", "available")


class MemoryCollector(Collector):
    """``system.memory.*`` and ``system.paging.*`` from one ``virtual_memory()`` and
    one ``swap_memory()`` call. States a platform lacks (``buffers`` on macOS) are
    simply not emitted."""

    name = "memory"
    default_interval = 1.0
    specs = (
        MetricSpec(
            "system.memory.usage",
            "By",
            "gauge",
            "Bytes of physical memory per state (label state=used|free|cached|buffers|available; "
            "states overlap, e.g. available includes most of cached).",
            source="memory",
        ),
        MetricSpec("system.memory.limit", "By", "gauge", "Total physical memory.", source="memory"),
        MetricSpec(
            "system.memory.utilization",
            "1",
            "gauge",
            "Fraction of memory not available to new work: (total - available) / total.",
            source="memory",
        ),
        MetricSpec(
            "system.paging.usage",
            "By",
            "gauge",
            "Bytes of swap per state (label state=used|free).",
            source="memory",
        ),
        MetricSpec(
            "system.paging.utilization",
            "1",
            "gauge",
            "Fraction of swap in use (absent when there is no swap).",
            source="memory",
        ),
    )

    _STATE_LABELS = {s: format_labels({"state": s}) for s in (*_MEMORY_STATES,)}

    def _collect(self) -> list[Sample]:
        vm = psutil.virtual_memory()
        out = [
            Sample("system.memory.usage", self._STATE_LABELS[s], float(getattr(vm, s)))
            for s in _MEMORY_STATES
            if hasattr(vm, s)
        ]
        out.append(Sample("system.memory.limit", "", float(vm.total)))
        if vm.total > 0:
            out.append(
                Sample("system.memory.utilization", "", (vm.total - vm.available) / vm.total)
            )
        swap = psutil.swap_memory()
        out.append(Sample("system.paging.usage", self._STATE_LABELS["used"], float(swap.used)))
        out.append(Sample("system.paging.usage", self._STATE_LABELS["free"], float(swap.free)))
        if swap.total > 0:
            out.append(Sample("system.paging.utilization", "", swap.used / swap.total))
        return out
