"""Parquet segment files: the schema, atomic writes and validated reads.

A segment is immutable once it has its final name. It is written under a
dot-name in the same directory, fsynced, then renamed, so a reader (which
ignores dot-names) sees either nothing or the whole file, and a crash leaves
at worst a stray temporary that the compactor removes later.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = [
    "SAMPLE_SCHEMA",
    "ROLLUP_SCHEMA",
    "write_atomic",
    "write_samples",
    "write_rollup",
    "read_table",
    "sort_samples",
    "fsync_dir",
]

TS = pa.timestamp("us", tz="UTC")

SAMPLE_SCHEMA = pa.schema(
    [
        pa.field("ts", TS, nullable=False),
        pa.field("host", pa.string(), nullable=False),
        pa.field("metric", pa.string(), nullable=False),
        pa.field("labels", pa.string(), nullable=False),
        pa.field("value", pa.float64(), nullable=False),
    ]
)

# Rollups hold *partial* aggregates that merge: min of mins, max of maxes,
# sums and counts add, and ``last`` is the value at the greatest ``last_ts``.
# Late samples therefore only add another partial row for the same bucket,
# and readers combine partials with one GROUP BY.
ROLLUP_SCHEMA = pa.schema(
    [
        pa.field("ts", TS, nullable=False),  # bucket start
        pa.field("host", pa.string(), nullable=False),
        pa.field("metric", pa.string(), nullable=False),
        pa.field("labels", pa.string(), nullable=False),
        pa.field("min", pa.float64(), nullable=False),
        pa.field("max", pa.float64(), nullable=False),
        pa.field("sum", pa.float64(), nullable=False),
        pa.field("count", pa.int64(), nullable=False),
        pa.field("last", pa.float64(), nullable=False),
        pa.field("last_ts", TS, nullable=False),
    ]
)

# Sorted by series then time, timestamps delta-encoded: a regular 1 s series
# costs about one byte per timestamp, and a one-metric query touches only
# the row groups of that metric (DuckDB prunes on their min/max statistics).
_SAMPLE_WRITE = dict(
    compression="zstd",
    compression_level=3,
    use_dictionary=["host", "metric", "labels", "value"],
    column_encoding={"ts": "DELTA_BINARY_PACKED"},
    write_statistics=True,
)
_ROLLUP_WRITE = dict(
    compression="zstd",
    compression_level=3,
    use_dictionary=["host", "metric", "labels"],
    column_encoding={"ts": "DELTA_BINARY_PACKED", "last_ts": "DELTA_BINARY_PACKED"},
    write_statistics=True,
)


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(table: pa.Table, path: Path, *, row_group_size: int | None = None, **options) -> int:
    """Write ``table`` to ``path`` atomically; return the file size in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            pq.write_table(table, fh, row_group_size=row_group_size, **options)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path.stat().st_size


def sort_samples(table: pa.Table) -> pa.Table:
    return table.sort_by([("host", "ascending"), ("metric", "ascending"), ("labels", "ascending"), ("ts", "ascending")])


def write_samples(table: pa.Table, path: Path, *, row_group_size: int = 128 * 1024) -> int:
    return write_atomic(table, path, row_group_size=row_group_size, **_SAMPLE_WRITE)


def write_rollup(table: pa.Table, path: Path) -> int:
    return write_atomic(table, path, row_group_size=128 * 1024, **_ROLLUP_WRITE)


def read_table(path: Path, schema: pa.Schema) -> pa.Table:
    """Read and fully decode a segment; raises on any corruption."""
    table = pq.read_table(path)
    if not table.schema.equals(schema, check_metadata=False):
        table = table.select(schema.names).cast(schema)
    return table

