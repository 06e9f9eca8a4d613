"""Temperatures, fans and battery, where psutil exposes them.

Most servers, VMs and containers have none of these: the collector is then
unavailable and returns ``[]`` — an absent sensor is not an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psutil

from workbench.catalog import MetricSpec
from workbench.collect._base import Collector, Sample
from workbench.labels import format_labels

__all__ = ["SensorsCollector", "temperature_samples", "fan_samples", "battery_samples"]


def _sensor_label(sensor: str, label: str, index: int) -> str:
    # Unnamed inputs of one chip ("" for each core on some boards) stay distinct.
    return format_labels({"sensor": sensor, "label": label or f"{sensor}{index}"})


def temperature_samples(temps: Mapping[str, Sequence[Any]]) -> list[Sample]:
    """Samples from ``psutil.sensors_temperatures()``-shaped data."""
    out = []
    for sensor, readings in temps.items():
        for i, r in enumerate(readings):
            if r.current is None:
                continue
            out.append(Sample("system.temperature", _sensor_label(sensor, r.label, i), float(r.current)))
    return out


def fan_samples(fans: Mapping[str, Sequence[Any]]) -> list[Sample]:
    """Samples from ``psutil.sensors_fans()``-shaped data."""
    return [
        Sample("system.fan.speed", _sensor_label(sensor, r.label, i), float(r.current))
        for sensor, readings in fans.items()
        for i, r in enumerate(readings)
    ]


def battery_samples(battery: Any) -> list[Sample]:
    """Samples from a ``psutil.sensors_battery()`` result (``None``: no battery)."""
    if battery is None:
        return []
    out = [
        Sample("system.battery.charge", "", float(battery.percent) / 100.0),
        Sample("system.battery.power_plugged", "", 1.0 if battery.power_plugged else 0.0),
    ]
    secs = battery.secsleft
    if secs not in (psutil.POWER_TIME_UNLIMITED, psutil.POWER_TIME_UNKNOWN) and secs >= 0:
        out.append(Sample("system.battery.time_remaining", "", float(secs)))
    return out


class SensorsCollector(Collector):
    """``system.temperature``, ``system.fan.speed`` and ``system.battery.*``.

    Default interval 10 s: these move slowly, and reading hwmon files costs a few
    syscalls per input. Unavailable (``[]``) when none of the three exists.
    """

    name = "sensors"
    default_interval = 10.0
    specs = (
        MetricSpec(
            "system.temperature",
            "Cel",
            "gauge",
            "Temperature of each sensor input (labels sensor, label).",
            source="sensors",
        ),
        MetricSpec(
            "system.fan.speed",
            "{rpm}",
            "gauge",
            "Fan speed in revolutions per minute (labels sensor, label).",
            source="sensors",
        ),
        MetricSpec(
            "system.battery.charge", "1", "gauge", "Battery charge as a fraction of full.",
            source="sensors",
        ),
        MetricSpec(
            "system.battery.power_plugged", "1", "gauge",
            "1 when on mains power, 0 on battery.", source="sensors",
        ),
        MetricSpec(
            "system.battery.time_remaining", "s", "gauge",
            "Estimated seconds of battery left (absent when plugged in or unknown).",
            source="sensors",
        ),
    )

    @classmethod
    def available(cls) -> bool:
        return bool(_read_temperatures() or _read_fans() or _read_battery())

    def _collect(self) -> list[Sample]:
        return (
            temperature_samples(_read_temperatures())
            + fan_samples(_read_fans())
            + battery_samples(_read_battery())
        )


def _read_temperatures() -> Mapping[str, Sequence[Any]]:
    fn = getattr(psutil, "sensors_temperatures", None)  # absent on Windows and macOS
    return fn() if fn else {}


def _read_fans() -> Mapping[str, Sequence[Any]]:
    fn = getattr(psutil, "sensors_fans", None)
    return fn() if fn else {}


def _read_battery() -> Any:
    fn = getattr(psutil, "sensors_battery", None)
    return fn() if fn else None
