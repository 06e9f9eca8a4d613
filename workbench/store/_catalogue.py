"""What a home holds besides samples: its metric catalogue and its record tables.

The metric catalogue is one JSON file per metric in ``HOME/catalog`` (see
``_layout.py``), written by every process that records; the rules an entry
must follow (its name, no second quantity under one name) are
:mod:`workbench.catalog`'s. Record tables (``alerts``, ``task_runs``...) are
declared by the parts that own them, so that their views exist, empty,
before the first row is written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

import pyarrow as pa

from workbench._atomic import write_bytes_atomic
from workbench.catalog import MetricSpec, check_compatible
from workbench.errors import DataError, UnknownMetricError
from workbench.store._layout import Layout

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MetricCatalogue", "register_table", "table_schemas", "record_tables", "check_table_name", "BUILTIN_VIEWS"]

#: the views every store has, before the record tables
BUILTIN_VIEWS = ("samples", "samples_1m", "samples_1h", "metrics")
_TABLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_TABLE_SCHEMAS: dict[str, pa.Schema] = {}


def register_table(name: str, schema: pa.Schema) -> None:
    """Declare a record table (``alerts``, ``task_runs``, ``forecasts``...)."""
    if not _TABLE_NAME.match(name):
        raise DataError(f"Table name {name!r} is not valid: use lower-case letters, digits and '_'.")
    _TABLE_SCHEMAS[name] = schema


def table_schemas() -> dict[str, pa.Schema]:
    """The declared record tables, by name (a view exists for each even with no rows yet)."""
    return _TABLE_SCHEMAS


def check_table_name(table: str) -> None:
    """Refuse a record table name that is not a plain identifier, or that is a built-in view's."""
    if not _TABLE_NAME.match(table) or table in BUILTIN_VIEWS:
        raise DataError(f"Record table name {table!r} is not allowed: use lower-case letters, digits and '_' "
                        "and not a built-in view name.", table=table)


def record_tables(layout: Layout) -> list[str]:
    """Every record table: those declared and those with files in the home."""
    try:
        on_disk = [p.name for p in (layout.home / "tables").iterdir() if p.is_dir()]
    except FileNotFoundError:
        on_disk = []
    return sorted(set(_TABLE_SCHEMAS) | set(on_disk))


class MetricCatalogue:
    """The metric catalogue of one home, re-read only when its directory changes."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self._cache: tuple[float, dict[str, dict]] | None = None

    def entries(self) -> dict[str, dict]:
        """Every entry, by metric name (as ``MetricSpec.to_dict()``)."""
        d = self.layout.catalog_dir
        try:
            mtime = d.stat().st_mtime
        except FileNotFoundError:
            return {}
        if self._cache and self._cache[0] == mtime:
            return self._cache[1]
        out = {}
        for p in d.glob("*.json"):
            try:
                entry = json.loads(p.read_text())
            except (OSError, ValueError):
                continue
            out[entry["name"]] = entry
        self._cache = (mtime, out)
        return out

    def register(self, specs: Iterable[MetricSpec]) -> None:
        """Write entries (idempotent; a conflicting unit or kind is refused). Raises ``OSError`` as it came."""
        cat = self.entries()
        d = self.layout.catalog_dir
        try:
            d.mkdir(parents=True, exist_ok=True)
            for spec in specs:
                old = cat.get(spec.name)
                if old is not None:
                    if old.get("source") != "append":  # an entry Store.append made up gives way
                        check_compatible(spec, old["unit"], old["kind"], where=f"catalogued in {self.layout.home}")
                    if old == spec.to_dict():
                        continue
                write_bytes_atomic(d / f"{spec.name}.json", json.dumps(spec.to_dict()), durable=False)
        finally:
            self._cache = None

    def placeholders(self, names: Iterable[str]) -> list[MetricSpec]:
        """Entries for the metrics among ``names`` that have none (samples appended before any spec)."""
        cat = self.entries()
        return [MetricSpec(n, "", "gauge", "recorded with Store.append; no catalogue entry given", source="append")
                for n in names if n not in cat]

    def check(self, metric: str) -> None:
        """Raise :class:`UnknownMetricError`, with close names, for a metric not in the catalogue."""
        cat = self.entries()
        if metric not in cat:
            import difflib

            close = difflib.get_close_matches(metric, list(cat), n=3, cutoff=0.6)
            hint = ("Did you mean " + " or ".join(map(repr, close)) + "?") if close else (
                "`workbench metrics` (store.metrics() in Python) lists the catalogue.")
            raise UnknownMetricError(f"Unknown metric {metric!r} in {self.layout.home}. {hint}", metric=metric)

    def frame(self) -> pd.DataFrame:
        """The catalogue as a DataFrame: name, unit, kind, description, source."""
        import pandas as pd

        cols = ["name", "unit", "kind", "description", "source"]
        rows = sorted(self.entries().values(), key=lambda e: e["name"])
        return pd.DataFrame(rows, columns=cols)
