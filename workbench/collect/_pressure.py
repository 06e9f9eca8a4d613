"""Linux pressure stall information (PSI, ``/proc/pressure/*``), which psutil lacks.

PSI says what load averages only hint at: the share of wall time in which some
(or all) runnable tasks were stalled waiting for CPU, memory or I/O. That is the
signal a throttled executor wants — a busy CPU is fine, stalled work is not.
Each file holds lines such as::

    some avg10=1.84 avg60=0.72 avg300=0.41 total=2857605
    full avg10=0.00 avg60=0.00 avg300=0.00 total=0

``total`` is cumulative stall time in microseconds; its rate over our own interval
is more precise than the kernel's 10 s average, so that is what we emit.
"""

from __future__ import annotations

import os
from types import MappingProxyType
from typing import Any

from workbench.catalog import MetricSpec
from workbench.collect._base import Collector, Sample
from workbench.collect._rates import RateTracker
from workbench.errors import DataError
from workbench.labels import format_labels

__all__ = ["PressureCollector", "parse_pressure"]

RESOURCES = ("cpu", "memory", "io", "irq")


def parse_pressure(text: str) -> dict[str, dict[str, float]]:
    """Parse one PSI file into ``{scope: {"avg10": .., "avg60": .., "avg300": .., "total": ..}}``.

    Raises :class:`DataError` on a line that does not have the kernel's shape.
    """
    out: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        scope, *pairs = line.split()
        try:
            fields = {k: float(v) for k, v in (p.split("=", 1) for p in pairs)}
        except ValueError:
            fields = {}
        if scope not in ("some", "full") or "total" not in fields:
            raise DataError(
                f"Unexpected line in a pressure file: {line!r}; expected "
                "'some|full avg10=.. avg60=.. avg300=.. total=..'.",
                line=line,
            )
        out[scope] = fields
    return out


class PressureCollector(Collector):
    """``system.pressure.stall{resource,scope}``: fraction of time stalled, per tick.

    ``proc`` is the procfs root (a fixture tree in tests). The first call emits
    nothing (a rate needs two readings). A file that cannot be read or parsed is
    skipped and counted; the collector is unavailable where the kernel has no PSI
    (not Linux, older than 4.20, or booted with ``psi=0``).
    """

    name = "pressure"
    default_interval = 1.0
    option_defaults = MappingProxyType({"proc": "/proc"})
    specs = (
        MetricSpec(
            "system.pressure.stall",
            "1",
            "rate",
            "Fraction of wall time in which some (scope=some) or all (scope=full) non-idle "
            "tasks were stalled on a resource (resource=cpu|memory|io|irq), from Linux PSI.",
            source="pressure",
        ),
    )

    def __init__(self, *, interval: float | None = None, **options: Any) -> None:
        super().__init__(interval=interval, **options)
        self._dir = os.path.join(self.options["proc"], "pressure")
        self._rates = RateTracker()
        self._labels = {
            (r, s): format_labels({"resource": r, "scope": s})
            for r in RESOURCES
            for s in ("some", "full")
        }

    @classmethod
    def available(cls) -> bool:
        return _readable(os.path.join("/proc", "pressure", "cpu"))

    def _probe(self) -> bool:
        return _readable(os.path.join(self._dir, "cpu"))

    def _collect(self) -> list[Sample]:
        out: list[Sample] = []
        now = self._clock()
        for resource in RESOURCES:
            path = os.path.join(self._dir, resource)
            try:
                with open(path, encoding="ascii") as f:
                    scopes = parse_pressure(f.read())
            except FileNotFoundError:
                continue  # irq appeared in Linux 6.1; older kernels lack it
            except (OSError, UnicodeDecodeError, DataError) as exc:
                self._count_error(exc)
                continue
            for scope, fields in scopes.items():
                delta = self._rates.delta((resource, scope), fields["total"], now)
                if delta is not None:
                    stalled_us, dt = delta
                    # Clamped: the kernel's clock and ours are read microseconds apart.
                    out.append(
                        Sample(
                            "system.pressure.stall",
                            self._labels[resource, scope],
                            min(stalled_us / 1e6 / dt, 1.0),
                        )
                    )
        return out

    def close(self) -> None:
        self._rates.clear()


def _readable(path: str) -> bool:
    try:
        with open(path, encoding="ascii") as f:
            f.read()
    except OSError:
        return False
    return True
