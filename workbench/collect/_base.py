"""The collector contract: :class:`Sample` rows and the :class:`Collector` base class.

Shaped after prometheus_client's ``Collector`` protocol: one ``collect()`` that
returns typed samples. The base class does the bookkeeping (options, interval,
error counts, availability) so that a subclass writes one method, ``_collect``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar, NamedTuple

from workbench._params import Interval, Real, check_params
from workbench.catalog import MetricSpec
from workbench.errors import ConfigError, ParameterError

__all__ = ["Sample", "Collector"]


class Sample(NamedTuple):
    """One measurement; the agent stamps it with ``ts`` and ``host``."""

    metric: str
    labels: str  # canonical "k=v,k2=v2" string, see workbench.labels
    value: float


class Collector:
    """Base class of every collector.

    Subclasses set ``name``, ``default_interval``, ``specs`` (every metric they may
    emit) and ``option_defaults`` (every option they accept, with its default, whose
    type is the type a given value must have), and implement ``_collect``. Options
    with a range or a set of values also get a row in ``_parameter_constraints``
    (:mod:`workbench._params`), e.g. ``{"top_n": [Interval(Integral, 1, None)]}``;
    a bad value is a :class:`~workbench.errors.ParameterError` (a ConfigError).

    ``collect()`` must not raise for partial problems (a vanished process, one
    unreadable mount): the subclass skips the item and calls ``_count_error``. A
    failure of the whole source may raise; the agent catches and counts it.
    """

    name: ClassVar[str]
    default_interval: ClassVar[float] = 1.0
    default_on: ClassVar[bool] = True
    specs: ClassVar[tuple[MetricSpec, ...]] = ()
    option_defaults: ClassVar[Mapping[str, Any]] = MappingProxyType({})
    _parameter_constraints: ClassVar[Mapping[str, list[Any]]] = MappingProxyType({})
    #: the row of ``interval``, shared by every collector
    _INTERVAL: ClassVar[dict[str, list[Any]]] = {"interval": [Interval(Real, 0, None, closed="neither",
                                                                        doc="in seconds")]}
    # The clock rates are computed against; an instance attribute in tests.
    _clock: ClassVar[Callable[[], float]] = staticmethod(time.monotonic)

    def __init__(self, *, interval: float | None = None, **options: Any) -> None:
        self.options: dict[str, Any] = {**self.option_defaults, **self._check_options(options)}
        self.interval: float = self._check_interval(interval)
        self.errors: dict[str, int] = {}
        self._available: bool | None = None

    # -- the contract ---------------------------------------------------------------

    @classmethod
    def available(cls) -> bool:
        """Whether this platform has the source at all (sensors, battery, PSI...).

        An unavailable collector is not an error: ``collect()`` returns ``[]``.
        """
        return True

    def metrics(self) -> list[MetricSpec]:
        """Every metric this collector may emit, with unit, kind and description."""
        return list(self.specs)

    def collect(self) -> list[Sample]:
        """Read the source once and return its samples (``[]`` when unavailable)."""
        if self._available is None:
            # Asked once per instance: probing (e.g. scanning sysfs for sensors)
            # costs as much as a read, and hardware does not come and go per tick.
            self._available = bool(self._probe())
        if not self._available:
            return []
        return self._collect()

    def close(self) -> None:
        """Release handles and state; the collector may not be used afterwards."""

    # -- for subclasses -------------------------------------------------------------

    def _collect(self) -> list[Sample]:
        raise NotImplementedError

    def _probe(self) -> bool:
        """Availability for this instance; override when it depends on options."""
        return self.available()

    def _count_error(self, kind: str | BaseException) -> None:
        """Count one skipped item under its error kind (e.g. ``"AccessDenied"``)."""
        key = kind if isinstance(kind, str) else type(kind).__name__
        self.errors[key] = self.errors.get(key, 0) + 1

    def _regex_option(self, key: str) -> re.Pattern[str] | None:
        """Compile a regular-expression option (``""`` means none), or a clear error."""
        text = self.options[key]
        if not text:
            return None
        try:
            return re.compile(text)
        except re.error as exc:
            raise ConfigError(
                f"Option {key!r} of collector {self.name!r} is not a valid regular "
                f"expression: {text!r} ({exc}).",
                collector=self.name,
                option=key,
            ) from None

    # -- validation -----------------------------------------------------------------

    @classmethod
    def _check_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        valid = ["interval", *sorted(cls.option_defaults)]
        unknown = sorted(set(options) - set(cls.option_defaults))
        if unknown:
            raise ConfigError(
                f"Collector {cls.name!r} has no option {', '.join(map(repr, unknown))}; "
                f"valid options are: {', '.join(valid)}.",
                collector=cls.name,
                given=unknown,
                valid=valid,
            )
        for key, value in options.items():
            default = cls.option_defaults[key]
            expected = type(default)
            ok = isinstance(value, expected) and not (
                expected is not bool and isinstance(value, bool)
            )
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                ok = True
            if not ok:
                raise ParameterError(
                    f"Option {key!r} of collector {cls.name!r} must be of type "
                    f"{expected.__name__}; got {type(value).__name__} {value!r}.",
                    collector=cls.name,
                    option=key,
                    expected=expected.__name__,
                )
            check_params(cls, {key: value}, where=f"Option {{name!r}} of collector {cls.name!r}",
                         collector=cls.name, option=key)
        return dict(options)

    @classmethod
    def _check_interval(cls, interval: float | None) -> float:
        if interval is None:
            return float(cls.default_interval)
        check_params(cls, {"interval": interval}, constraints=cls._INTERVAL,
                     where=f"The {{name}} of collector {cls.name!r}", collector=cls.name, option="interval")
        return float(interval)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} interval={self.interval}>"
