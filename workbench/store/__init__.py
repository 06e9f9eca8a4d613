"""Storage of samples and records: Parquet segments queried with DuckDB.

See ``_layout.py`` for the directory layout, ``_manifest.py`` and
``_snapshot.py`` for how readers stay exact while the agent compacts,
``_compact.py`` for compaction, rollups and retention (run by the agent in
``_compaction_child.py``), ``_store.py`` for the :class:`Store` facade,
``_catalogue.py`` for the metric catalogue and record tables, and ``_sql.py``
for the SQL fragments they all compose.

Names are imported on first use (PEP 562), not here: the agent's hot path
needs only the layout, the lock and Parquet writes, and importing DuckDB and
pandas with everything else would double its resident memory.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Store": "_store",
    "register_table": "_catalogue",
    "AGGREGATIONS": "_sql",
    "label_filter": "_sql",
    "StoreWarning": "_quarantine",
    "VerifyReport": "_verify",
    "Compactor": "_compact",
    "CompactionPolicy": "_compact",
    "CompactionReport": "_compact",
    "HostLock": "_lock",
    "lock_holder": "_lock",
    "Layout": "_layout",
    "default_host": "_layout",
    "SAMPLE_SCHEMA": "_segment",
    "ROLLUP_SCHEMA": "_segment",
    "parse_duration": "_timeutil",
    "resolve_time": "_timeutil",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench.store' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"workbench.store.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
