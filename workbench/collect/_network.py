"""Network I/O per interface, as per-second rates."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import psutil

from workbench.catalog import MetricSpec
from workbench.collect._base import Collector, Sample
from workbench.collect._rates import RateTracker
from workbench.labels import format_labels

__all__ = ["NetworkCollector"]

# metric -> (unit, description, (receive field, transmit field)) in psutil's snetio
_FIELDS = {
    "system.network.io": ("By/s", "Bytes per second", ("bytes_recv", "bytes_sent")),
    "system.network.packets": ("{packet}/s", "Packets per second", ("packets_recv", "packets_sent")),
    "system.network.errors": ("{error}/s", "Errors per second", ("errin", "errout")),
    "system.network.dropped": ("{packet}/s", "Dropped packets per second", ("dropin", "dropout")),
}


class NetworkCollector(Collector):
    """``system.network.{io,packets,errors,dropped}{device,direction}`` as rates.

    The first call emits nothing (rates need two readings); a counter that went
    backwards (interface reset, 32-bit wrap) skips one tick. Interfaces matching
    ``exclude`` (a regular expression, none by default) are skipped.
    """

    name = "network"
    default_interval = 1.0
    option_defaults = MappingProxyType({"exclude": ""})
    specs = tuple(
        MetricSpec(
            metric,
            unit,
            "rate",
            f"{text} received or transmitted (labels device, direction=receive|transmit).",
            source="network",
        )
        for metric, (unit, text, _) in _FIELDS.items()
    )

    def __init__(self, *, interval: float | None = None, **options: Any) -> None:
        super().__init__(interval=interval, **options)
        self._exclude = self._regex_option("exclude")
        self._rates = RateTracker()
        self._label_cache: dict[tuple[str, str], str] = {}

    def _collect(self) -> list[Sample]:
        counters = psutil.net_io_counters(pernic=True, nowrap=False) or {}
        now = self._clock()
        out: list[Sample] = []
        seen = []
        for device, c in counters.items():
            if self._exclude is not None and self._exclude.search(device):
                continue
            for metric, (_, _, (rx, tx)) in _FIELDS.items():
                for direction, field in (("receive", rx), ("transmit", tx)):
                    key = (metric, device, direction)
                    seen.append(key)
                    rate = self._rates.rate(key, getattr(c, field), now)
                    if rate is not None:
                        out.append(Sample(metric, self._labels(device, direction), rate))
        self._rates.keep_only(seen)
        if len(self._label_cache) > 2 * len(counters):  # interfaces come and go (veth)
            self._label_cache.clear()
        return out

    def _labels(self, device: str, direction: str) -> str:
        key = (device, direction)
        text = self._label_cache.get(key)
        if text is None:
            text = self._label_cache[key] = format_labels({"device": device, "direction": direction})
        return text

    def close(self) -> None:
        self._rates.clear()
