"""Storage of samples and records: Parquet segments queried with DuckDB.

See ``_layout.py`` for the directory layout, ``_manifest.py`` and
``_snapshot.py`` for how readers stay exact while the agent compacts, and
``_compact.py`` for compaction, rollups and retention.
"""

from workbench.store._compact import CompactionPolicy, CompactionReport, Compactor
from workbench.store._layout import Layout, default_host
from workbench.store._lock import HostLock, lock_holder
from workbench.store._quarantine import StoreWarning
from workbench.store._segment import ROLLUP_SCHEMA, SAMPLE_SCHEMA
from workbench.store._store import AGGREGATIONS, Store, label_filter, register_table
from workbench.store._timeutil import parse_duration, resolve_time

__all__ = [
    "Store",
    "StoreWarning",
    "register_table",
    "Compactor",
    "CompactionPolicy",
    "CompactionReport",
    "HostLock",
    "lock_holder",
    "Layout",
    "default_host",
    "SAMPLE_SCHEMA",
    "ROLLUP_SCHEMA",
    "AGGREGATIONS",
    "label_filter",
    "parse_duration",
    "resolve_time",
]
