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
    "write_stream",
    "SAMPLE_WRITE",
    "ROLLUP_WRITE",
    "ROW_GROUP_ROWS",
    "SEALED_ZSTD_LEVEL",
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
# costs almost nothing per timestamp (a jittered one, as the agent records,
# 1-2 bytes), and a one-metric query touches only the row groups of that
# metric (DuckDB prunes on their min/max statistics).
#
# Values are PLAIN + zstd, not dictionary-encoded. Measured per column on the
# benchmark's synthetic week and on a real agent recording (see
# docs/benchmarks/store.md), a dictionary only wins for low-cardinality
# series and costs more on everything else, because a row group mixes series
# and pyarrow picks one encoding per column chunk: PLAIN was 2.25 vs 2.44
# bytes/value (synthetic) and 2.02 vs 2.65 (agent). BYTE_STREAM_SPLIT helps
# integral byte counts but costs 5x on psutil fractions (2.97 overall).
# Every encoding here is lossless: values round-trip bit for bit.
#
# zstd level 3 for what writers and chunk merges write on the agent's hot
# path; SEALED_ZSTD_LEVEL for sealed hour/day files and their rollups, which
# are written once and kept for days: level 6 took a real 20-minute agent
# recording from 4.09 to 3.91 bytes/sample at about the same write speed
# (levels 9-19 gained 0.1-0.3 more for 2-15x the time).
SAMPLE_WRITE = dict(
    compression="zstd",
    compression_level=3,
    use_dictionary=["host", "metric", "labels"],
    column_encoding={"ts": "DELTA_BINARY_PACKED"},
    write_statistics=True,
)
ROLLUP_WRITE = dict(
    compression="zstd",
    compression_level=3,
    use_dictionary=["host", "metric", "labels"],
    column_encoding={"ts": "DELTA_BINARY_PACKED", "last_ts": "DELTA_BINARY_PACKED"},
    write_statistics=True,
)
SEALED_ZSTD_LEVEL = 6
ROW_GROUP_ROWS = 128 * 1024


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


def write_samples(table: pa.Table, path: Path, *, row_group_size: int = ROW_GROUP_ROWS) -> int:
    return write_atomic(table, path, row_group_size=row_group_size, **SAMPLE_WRITE)


def write_rollup(table: pa.Table, path: Path) -> int:
    return write_atomic(table, path, row_group_size=ROW_GROUP_ROWS, **ROLLUP_WRITE)


def write_stream(batches, directory: Path, schema: pa.Schema, options: dict) -> tuple[Path, int, int, int] | None:
    """Write record batches (already sorted) to a fsynced temporary file in ``directory``.

    Returns ``(tmp_path, rows, tmin, tmax)`` with ``tmin``/``tmax`` the
    microsecond range of ``ts``, or None (and no file) when there were no
    rows. The caller renames the file to its final name once it knows it:
    the name carries the time range, which is only known at the end.
    Streaming keeps memory at one batch however large the output.
    """
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".stream-{os.getpid()}-{os.urandom(4).hex()}.tmp"
    rows, tmin, tmax = 0, None, None
    pending: list[pa.Table] = []
    held = 0
    try:
        with open(tmp, "wb") as fh:
            writer = pq.ParquetWriter(fh, schema, **options)
            try:

                def flush(final: bool = False) -> None:
                    # Whole row groups: DuckDB hands out small batches.
                    nonlocal pending, held
                    if not pending:
                        return
                    table = pa.concat_tables(pending)
                    cut = table.num_rows if final else table.num_rows - table.num_rows % ROW_GROUP_ROWS
                    writer.write_table(table.slice(0, cut), row_group_size=ROW_GROUP_ROWS)
                    rest = table.slice(cut)
                    pending, held = [rest], rest.num_rows

                for batch in batches:
                    if not batch.num_rows:
                        continue
                    ts = batch.column(0).cast(pa.int64()).to_numpy()
                    lo, hi = int(ts.min()), int(ts.max())
                    tmin = lo if tmin is None else min(tmin, lo)
                    tmax = hi if tmax is None else max(tmax, hi)
                    rows += batch.num_rows
                    pending.append(pa.Table.from_batches([batch]).cast(schema))
                    held += batch.num_rows
                    if held >= ROW_GROUP_ROWS:
                        flush()
                flush(final=True)
            finally:
                writer.close()
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if not rows:
        tmp.unlink(missing_ok=True)
        return None
    return tmp, rows, tmin, tmax


def read_table(path: Path, schema: pa.Schema) -> pa.Table:
    """Read and fully decode a segment; raises on any corruption."""
    table = pq.read_table(path)
    if not table.schema.equals(schema, check_metadata=False):
        table = table.select(schema.names).cast(schema)
    return table

