"""The metric catalogue: every metric's unit, kind and meaning, stated once.

Names follow the OpenTelemetry semantic conventions for system metrics where
one exists (``system.cpu.utilization``, ``system.memory.usage``...). Units use
UCUM-style strings as OpenTelemetry does (``By``, ``By/s``, ``1``, ``s``, ``Cel``).

Kinds:
- ``gauge``: a value at an instant (memory used, temperature, utilisation).
- ``counter``: a monotonically increasing total since some start.
- ``rate``: a per-second rate derived from a counter over the last interval.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from workbench.errors import DataError, UnknownMetricError

__all__ = ["MetricSpec", "Catalog", "KINDS", "global_catalog", "check_metric_names", "check_compatible"]

KINDS = ("gauge", "counter", "rate")
_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")


def check_metric_names(names: Iterable[str]) -> None:
    """Refuse metric names that are not lower-case dotted words (the one rule, for specs and samples)."""
    bad = [n for n in dict.fromkeys(names) if not (isinstance(n, str) and _NAME.match(n))]
    if not bad:
        return
    shown = ", ".join(map(repr, bad[:3])) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
    raise DataError(
        f"Invalid metric names: {shown} {'is' if len(bad) == 1 else 'are'} not valid. Use lower-case dotted "
        "words such as 'system.cpu.utilization' or 'app.etl.load.duration'.",
        name=bad[0],
        metrics=bad[:10],
    )


def check_compatible(spec: MetricSpec, unit: str, kind: str, *, where: str = "registered") -> None:
    """Refuse ``spec`` when its name already stands (``where``) for another quantity: ``unit``, ``kind``."""
    if (unit, kind) != (spec.unit, spec.kind):
        raise DataError(
            f"Metric {spec.name!r} is already {where} as kind={kind!r}, unit={unit!r}; "
            f"got kind={spec.kind!r}, unit={spec.unit!r}. Use a different name for a different quantity.",
            name=spec.name,
            metric=spec.name,
        )


@dataclass(frozen=True)
class MetricSpec:
    """One catalogue entry."""

    name: str
    unit: str
    kind: str
    description: str
    source: str = ""  # collector or application that emits it

    def __post_init__(self) -> None:
        check_metric_names([self.name])
        if self.kind not in KINDS:
            raise DataError(
                f"Metric {self.name!r} has kind {self.kind!r}; expected one of {', '.join(KINDS)}.",
                name=self.name,
                kind=self.kind,
            )

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


class Catalog:
    """A thread-safe mapping of metric name -> :class:`MetricSpec`.

    Registering the same name twice with the same definition is a no-op;
    with a different unit or kind it is refused, as prometheus_client's
    registry refuses duplicate names.
    """

    def __init__(self, specs: list[MetricSpec] | None = None) -> None:
        self._specs: dict[str, MetricSpec] = {}
        self._lock = threading.Lock()
        for spec in specs or ():
            self.register(spec)

    def register(self, spec: MetricSpec) -> MetricSpec:
        with self._lock:
            old = self._specs.get(spec.name)
            if old is not None:
                check_compatible(spec, old.unit, old.kind)
            else:
                self._specs[spec.name] = spec
            return self._specs[spec.name]

    def get(self, name: str) -> MetricSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownMetricError(
                f"Unknown metric {name!r}. {_suggest(name, self._specs)}",
                metric=name,
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self):
        return iter(sorted(self._specs.values(), key=lambda s: s.name))

    def __len__(self) -> int:
        return len(self._specs)

    def names(self) -> list[str]:
        return sorted(self._specs)


def _suggest(name: str, known) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    if close:
        return "Did you mean " + " or ".join(repr(c) for c in close) + "?"
    return "See store.metrics() or `workbench sql \"select * from metrics\"` for the catalogue."


_GLOBAL = Catalog()


def global_catalog() -> Catalog:
    """The process-wide catalogue that collectors and app metrics register into."""
    return _GLOBAL
