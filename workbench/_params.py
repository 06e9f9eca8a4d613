"""One parameter check: a declarative constraint table per class, checked by one function.

Shaped like scikit-learn's ``_parameter_constraints`` and
``validate_parameter_constraints`` (``sklearn/utils/_param_validation.py``; STYLE 10b).
A class declares, for each parameter it wants checked, the list of what a value
may be; the value is good when it satisfies **any** entry::

    class ETS(BaseForecaster):
        _parameter_constraints = {
            "max_fourier": [Interval(Integral, 0, None, closed="left")],
            "season_length": [None, Interval(Integral, 1, None, closed="left")],
            "initialization": [Options("auto", "heuristic", "estimated")],
        }

and :func:`check_params` checks an object (or given values) against it. An entry is

- an :class:`Interval` of ``numbers.Integral`` or ``numbers.Real`` (bools are never
  numbers here; NaN is in no interval; an unbounded side given as ``None`` is
  open unless ``closed`` says otherwise, so ``inf`` is refused by ``(0, inf)``);
- :class:`Options` (the value is one of these, compared by type and value);
- ``None`` (the value ``None``), a class (``isinstance``), ``"callable"``;
- :class:`Each` (a list, tuple or range whose every item satisfies the inner entries).

A bad value raises :class:`~workbench.errors.ParameterError` everywhere (forecasters,
detectors, the executor's ``Retry``/``Governor``/``ThrottledExecutor``, collectors'
options, ``workbench.toml`` sections). It is a :class:`ConfigError` and a
:class:`DataError` (hence a ``ValueError``), so every older ``except`` keeps working,
and its message follows STYLE 12: what, what was given, what it must be::

    ETS(initialization=...) must be one of 'auto', 'heuristic', 'estimated'; got 'fast'.

Checks that relate two parameters (``min_workers <= max_workers``) stay with
their class, as in scikit-learn. This module imports nothing heavy (the agent
uses it).
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Iterable, Mapping
from numbers import Integral, Real
from typing import Any

from workbench.errors import ParameterError

__all__ = ["Interval", "Options", "Each", "check_params", "describe", "invalid_value", "satisfies",
           "ParameterError", "Integral", "Real"]

_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = 60


def _num(x: float) -> str:
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:g}" if isinstance(x, float) else str(x)


class Interval:
    """Numbers of ``type`` (``Integral`` or ``Real``) between ``left`` and ``right`` (``None``: unbounded).

    ``closed`` is ``"both"``, ``"left"``, ``"right"`` or ``"neither"``, as in scikit-learn;
    ``doc`` is a short reason shown in the error ("it counts the first try"); ``text``
    replaces the generated description where a part has its own words ("positive").
    """

    def __init__(self, type: type, left: float | None, right: float | None, *, closed: str = "both",
                 doc: str = "", text: str = "") -> None:
        if type not in (Integral, Real):
            raise TypeError(f"Interval type must be numbers.Integral or numbers.Real; got {type!r}")
        if closed not in ("both", "left", "right", "neither"):
            raise ValueError(f"closed must be 'both', 'left', 'right' or 'neither'; got {closed!r}")
        if left is not None and right is not None and left > right:
            raise ValueError(f"Interval left={left} is above right={right}")
        self.type, self.left, self.right, self.closed, self.doc, self.text = type, left, right, closed, doc, text

    def satisfied_by(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, self.type):
            return False
        lo_closed = self.closed in ("both", "left")
        hi_closed = self.closed in ("both", "right")
        if not isinstance(value, Integral):
            try:
                if math.isnan(value):
                    return False
            except (TypeError, ValueError, OverflowError):
                return False
        lo = -math.inf if self.left is None else self.left
        hi = math.inf if self.right is None else self.right
        return (lo <= value if lo_closed else lo < value) and (value <= hi if hi_closed else value < hi)

    def describe(self) -> str:
        if self.text:
            return self.text
        lo_closed = self.closed in ("both", "left")
        hi_closed = self.closed in ("both", "right")
        finite = self.type is Real and ((self.right is None and not hi_closed) or (self.left is None and not lo_closed))
        kind = "an integer" if self.type is Integral else ("a finite number" if finite else "a number")
        if self.left is not None and self.right is not None:
            return (f"{kind} in the range {'[' if lo_closed else '('}{_num(self.left)}, "
                    f"{_num(self.right)}{']' if hi_closed else ')'}")
        if self.left is not None:
            return f"{kind} {'of at least' if lo_closed else 'greater than'} {_num(self.left)}"
        if self.right is not None:
            return f"{kind} {'of at most' if hi_closed else 'less than'} {_num(self.right)}"
        return kind

    def _invalid(self) -> list[Any]:
        """Values just outside, for :func:`invalid_value`."""
        out: list[Any] = []
        step = 1 if self.type is Integral else 1e-3
        for bound, closed, sign in ((self.left, self.closed in ("both", "left"), -1),
                                    (self.right, self.closed in ("both", "right"), 1)):
            if bound is None:
                continue
            if not closed:
                out.append(bound)
            edge = bound + sign * step
            out.append(int(edge) if self.type is Integral and float(edge).is_integer() else edge)
        if self.type is Integral:
            out.append(1.5)
        out.append(math.nan)
        return out

    def __repr__(self) -> str:
        return f"Interval({self.type.__name__}, {self.left!r}, {self.right!r}, closed={self.closed!r})"


class Options:
    """One of the given values (compared by type and value: ``1`` is not ``True``, ``"1"`` is not ``1``)."""

    def __init__(self, *values: Any, doc: str = "", text: str = "") -> None:
        if len(values) == 1 and isinstance(values[0], set | frozenset | list | tuple):
            values = tuple(values[0])
        self.values, self.doc, self.text = tuple(values), doc, text

    def satisfied_by(self, value: Any) -> bool:
        for v in self.values:
            if v is value:
                return True
            if type(v) is type(value):
                try:
                    if bool(v == value):
                        return True
                except Exception:  # an array or the like compares element-wise
                    continue
        return False

    def describe(self) -> str:
        if self.text:
            return self.text
        return "one of " + ", ".join(repr(v) for v in self.values)

    def _invalid(self) -> list[Any]:
        return ["not-a-valid-option"]

    def __repr__(self) -> str:
        return f"Options{self.values!r}"


class Each:
    """A list, tuple, range or array (not a string) whose every item satisfies one of ``constraints``;
    ``min_len`` items at least, or exactly ``length``."""

    def __init__(self, *constraints: Any, min_len: int = 0, length: int | None = None, doc: str = "") -> None:
        self.constraints, self.min_len, self.length, self.doc = list(constraints), min_len, length, doc

    def satisfied_by(self, value: Any) -> bool:
        if not isinstance(value, list | tuple | range) and type(value).__name__ != "ndarray":
            return False
        items = list(value)
        if len(items) < self.min_len or (self.length is not None and len(items) != self.length):
            return False
        return all(satisfies(item, self.constraints) for item in items)

    def describe(self) -> str:
        if self.length is not None:
            return f"a list of {self.length} items, each {describe(self.constraints)}"
        empty = "a non-empty " if self.min_len else "a "
        return f"{empty}list whose items are each {describe(self.constraints)}"

    def _invalid(self) -> list[Any]:
        n = self.length if self.length is not None else max(self.min_len, 1)
        out = [[bad] * n for bad in _candidates(self.constraints)]
        if self.length is not None:
            out.insert(0, [0] * (self.length + 1))
        elif self.min_len:
            out.insert(0, [])
        return out

    def __repr__(self) -> str:
        return f"Each({', '.join(map(repr, self.constraints))}, min_len={self.min_len}, length={self.length})"


def _one(constraint: Any, value: Any) -> bool:
    if constraint is None:
        return value is None
    if constraint == "callable":
        return callable(value)
    if isinstance(constraint, type):
        if constraint in (int, float) and isinstance(value, bool):
            return False
        return isinstance(value, constraint)
    return constraint.satisfied_by(value)


def satisfies(value: Any, constraints: Iterable[Any]) -> bool:
    """Whether ``value`` satisfies any of ``constraints`` (one row of a table)."""
    return any(_one(c, value) for c in constraints)


def _describe_one(constraint: Any) -> str:
    if constraint is None:
        return "None"
    if constraint == "callable":
        return "a callable"
    if isinstance(constraint, type):
        name = {bool: "bool (True or False)", str: "string", int: "integer", float: "number"}.get(
            constraint, constraint.__name__)
        return f"{'an' if name[0].lower() in 'aeiou' else 'a'} {name}"
    return constraint.describe()


def describe(constraints: Iterable[Any]) -> str:
    """What a value must be, in words: ``"None or an integer of at least 1"``."""
    constraints = list(constraints)
    parts = ["None"] if any(c is None for c in constraints) else []  # first: "None or a list of ..." reads one way
    parts += [_describe_one(c) for c in constraints if c is not None]
    if len(parts) <= 2:
        return " or ".join(parts)
    return ", ".join(parts[:-1]) + " or " + parts[-1]


def _candidates(constraints: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for c in constraints:
        if hasattr(c, "_invalid"):
            out.extend(c._invalid())
    return [*out, "not-a-valid-value", -1, math.nan, object()]


def invalid_value(constraints: Iterable[Any]) -> Any:
    """A value that satisfies none of ``constraints`` (just past a bound where there is one),
    for contract tests: every constrained parameter must refuse it."""
    constraints = list(constraints)
    for candidate in _candidates(constraints):
        if not satisfies(candidate, constraints):
            return candidate
    raise ValueError(f"no value is refused by {constraints!r}")


def constraints_of(obj_or_cls: Any) -> Mapping[str, list[Any]]:
    """The class's ``_parameter_constraints`` table (``{}`` when it declares none)."""
    cls = obj_or_cls if isinstance(obj_or_cls, type) else type(obj_or_cls)
    return getattr(cls, "_parameter_constraints", None) or {}


def check_params(obj_or_cls: Any, params: Mapping[str, Any] | None = None, *, where: str | None = None,
                 constraints: Mapping[str, Iterable[Any]] | None = None, **fields: Any) -> None:
    """Refuse any value in ``params`` that its row of the constraint table does not allow.

    ``params`` defaults to the object's ``get_params()`` (or its attributes named
    in the table); only names that have a row are checked. ``constraints``
    defaults to the class's ``_parameter_constraints``. ``where`` says how the
    message names a parameter: a template with ``{name}`` (and ``{cls}``, the class
    name: ``"[executor] {name}"``, ``"Option {name!r} of collector 'cpu'"``), or a
    prefix (``"[executor]"`` gives ``"[executor] max_workers"``); by default the
    class's ``_parameter_where`` template if it has one, else ``"Governor(cpu_target=...)"``.
    ``fields`` are added to the error's structured fields.
    """
    cls = obj_or_cls if isinstance(obj_or_cls, type) else type(obj_or_cls)
    table = constraints_of(cls) if constraints is None else constraints
    if not table:
        return
    if params is None:
        if isinstance(obj_or_cls, type):
            raise TypeError("check_params(cls) needs params=...; give the values to check")
        getter = getattr(obj_or_cls, "get_params", None)
        params = getter() if callable(getter) else {k: getattr(obj_or_cls, k) for k in table
                                                    if hasattr(obj_or_cls, k)}
    if where is None:
        where = getattr(cls, "_parameter_where", None)
    for name, value in params.items():
        allowed = table.get(name)
        if allowed is None:
            continue
        allowed = list(allowed)
        if satisfies(value, allowed):
            continue
        if where is None:
            label = f"{cls.__name__}({name}=...)"
        elif "{name" in where or "{cls" in where:
            label = where.format(name=name, cls=cls.__name__)
        else:
            label = f"{where} {name}"
        expected = describe(allowed)
        docs = "; ".join(d for c in allowed if (d := getattr(c, "doc", "")))
        raise ParameterError(
            f"{label} must be {expected}{f' ({docs})' if docs else ''}; got {_repr.repr(value)}.",
            param=name, given=_repr.repr(value), expected=expected, owner=cls.__name__, **fields,
        )
