"""Canonical label strings: ``key=value,key2=value2`` with keys sorted.

A canonical string is cheap to store (dictionary-encoded in Parquet), cheap to
compare and readable in SQL (``labels = 'cpu=3,state=user'``). Values that
contain ``,``, ``=`` or ``\\`` are backslash-escaped so any value round-trips.

Operator labels (a person's verdict on an alert or window: a real incident or
a false alarm, kept in the home) are reached from here too (``add_label``,
``label_alert``, ``withdraw_label``, ``list_labels``, ``incident_windows``),
and live in :mod:`workbench._operator_labels`, imported on first use: the
store imports this module on the agent's hot path and must not pay for pandas.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from workbench.errors import DataError

if TYPE_CHECKING:
    from workbench._operator_labels import (
        VERDICTS,
        add_label,
        incident_windows,
        label_alert,
        list_labels,
        withdraw_label,
    )

__all__ = ["format_labels", "parse_labels", "canonical_labels", "add_label", "label_alert", "withdraw_label",
           "list_labels", "incident_windows", "VERDICTS"]

_OPERATOR = {"add_label", "label_alert", "withdraw_label", "list_labels", "incident_windows", "VERDICTS",
             "LABELS_TABLE"}


def __getattr__(name: str):
    if name in _OPERATOR:
        from workbench import _operator_labels

        return getattr(_operator_labels, name)
    raise AttributeError(f"module 'workbench.labels' has no attribute {name!r}")

_ESCAPES = str.maketrans({"\\": "\\\\", ",": "\\,", "=": "\\="})


def _check_key(key: str) -> str:
    if not key or not all(c.isalnum() or c in "_.-" for c in key):
        raise DataError(
            f"Label key {key!r} is not allowed: use letters, digits, '_', '.' or '-'.",
            key=key,
        )
    return key


def format_labels(labels: Mapping[str, object] | None) -> str:
    """Return the canonical string for a mapping of labels (``{}`` -> ``''``)."""
    if not labels:
        return ""
    parts = []
    for key in sorted(labels):
        value = labels[key]
        if value is None:
            continue
        parts.append(f"{_check_key(str(key))}={str(value).translate(_ESCAPES)}")
    return ",".join(parts)


def parse_labels(text: str | None) -> dict[str, str]:
    """Inverse of :func:`format_labels`."""
    out: dict[str, str] = {}
    if not text:
        return out
    key: list[str] = []
    value: list[str] = []
    cur = key
    it = iter(text)
    for ch in it:
        if ch == "\\":
            cur.append(next(it, ""))
        elif ch == "=" and cur is key:
            cur = value
        elif ch == ",":
            if cur is key:
                raise DataError(f"Malformed label string {text!r}: a part has no '='.", text=text)
            out["".join(key)] = "".join(value)
            key, value = [], []
            cur = key
        else:
            cur.append(ch)
    if cur is key:
        raise DataError(f"Malformed label string {text!r}: a part has no '='.", text=text)
    out["".join(key)] = "".join(value)
    return out


def canonical_labels(labels: Mapping[str, object] | str | None) -> str:
    """Accept a mapping or a label string and return the canonical string."""
    if labels is None:
        return ""
    if isinstance(labels, str):
        return format_labels(parse_labels(labels))
    return format_labels(labels)
