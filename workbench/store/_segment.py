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

from workbench._atomic import atomic_open, replace_durable, temp_name

__all__ = [
    "SAMPLE_SCHEMA",
    "ROLLUP_SCHEMA",
    "write_atomic",
    "write_samples",
    "write_rollup",
    "write_stream",
    "SAMPLE_WRITE",
    "ROLLUP_WRITE",
    "RECORD_WRITE",
    "check_segment",
    "ROW_GROUP_ROWS",
    "SEALED_ZSTD_LEVEL",
    "read_table",
    "read_segment",
    "ts_range",
    "SegmentWriter",
    "sort_samples",
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
#
# Every page carries a CRC-32 of its bytes (``write_page_checksum``), and
# every read by the store's own code verifies it (:func:`read_segment`,
# :func:`check_segment`): bytes flipped on disk inside a page of incompressible
# values decode without any error, as garbage (a sum of -4.7e306 was seen), so
# decoding alone cannot tell. DuckDB 2.0 does not verify page checksums, so
# queries do not either; compaction verifies every input before it merges it
# and ``workbench verify`` checks every file. Cost: see docs/benchmarks/store.md.
SAMPLE_WRITE = dict(
    compression="zstd",
    compression_level=3,
    use_dictionary=["host", "metric", "labels"],
    column_encoding={"ts": "DELTA_BINARY_PACKED"},
    write_statistics=True,
    write_page_checksum=True,
)
ROLLUP_WRITE = dict(
    compression="zstd",
    compression_level=3,
    use_dictionary=["host", "metric", "labels"],
    column_encoding={"ts": "DELTA_BINARY_PACKED", "last_ts": "DELTA_BINARY_PACKED"},
    write_statistics=True,
    write_page_checksum=True,
)
RECORD_WRITE = dict(compression="zstd", write_page_checksum=True)
SEALED_ZSTD_LEVEL = 6
ROW_GROUP_ROWS = 128 * 1024


def write_atomic(table: pa.Table, path: Path, *, row_group_size: int | None = None, **options) -> int:
    """Write ``table`` to ``path`` atomically and durably; return the file size in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as fh:
        pq.write_table(table, fh, row_group_size=row_group_size, **options)
    return path.stat().st_size


def sort_samples(table: pa.Table) -> pa.Table:
    return table.sort_by([("host", "ascending"), ("metric", "ascending"), ("labels", "ascending"), ("ts", "ascending")])


def write_samples(table: pa.Table, path: Path, *, row_group_size: int = ROW_GROUP_ROWS) -> int:
    return write_atomic(table, path, row_group_size=row_group_size, **SAMPLE_WRITE)


def write_rollup(table: pa.Table, path: Path) -> int:
    return write_atomic(table, path, row_group_size=ROW_GROUP_ROWS, **ROLLUP_WRITE)


def ts_range(table: pa.Table) -> tuple[int, int] | None:
    """The microsecond range of ``table``'s ``ts`` column, or None when it has no rows.

    Read straight from the column's data buffers: ``to_numpy()`` and
    ``pyarrow.compute`` would load pandas and the compute registry (~55 MiB
    resident together), and the agent calls this when it absorbs L0 files.
    """
    lo = hi = None
    for chunk in table.column("ts").chunks:
        if not len(chunk):
            continue
        data = chunk.buffers()[1]
        values = memoryview(data)[chunk.offset * 8:(chunk.offset + len(chunk)) * 8].cast("q")
        clo, chi = min(values), max(values)
        lo = clo if lo is None else min(lo, clo)
        hi = chi if hi is None else max(hi, chi)
    return None if lo is None else (lo, hi)


class SegmentWriter:
    """Write one segment table by table, then publish it atomically under its final name.

    The final name carries the file's time range, known only at the end, so
    the rows go to a dot-named temporary in the target directory (readers
    ignore dot-names); :meth:`commit` fsyncs and renames it. Tables are
    buffered into row groups of ``group_rows`` rows, which bounds memory to
    about one row group however much is written. Leaving the ``with`` block
    without a commit removes the temporary.
    """

    def __init__(self, directory: Path, schema: pa.Schema, options: dict, *, group_rows: int = ROW_GROUP_ROWS):
        directory.mkdir(parents=True, exist_ok=True)
        self.schema = schema
        self.group_rows = group_rows
        self.rows = 0
        self.tmin: int | None = None
        self.tmax: int | None = None
        self._tmp = temp_name(directory / "stream")
        self._fh = open(self._tmp, "wb")  # noqa: SIM115 - closed by commit() or abort()
        self._writer = pq.ParquetWriter(self._fh, schema, **options)
        self._pending: list[pa.Table] = []
        self._held = 0

    def __enter__(self) -> SegmentWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.abort()

    def write(self, table: pa.Table) -> None:
        """Append ``table`` (already in ``schema``); rows are written a whole row group at a time."""
        span = ts_range(table)
        if span is None:
            return
        self.tmin = span[0] if self.tmin is None else min(self.tmin, span[0])
        self.tmax = span[1] if self.tmax is None else max(self.tmax, span[1])
        self.rows += table.num_rows
        self._pending.append(table)
        self._held += table.num_rows
        if self._held >= self.group_rows:
            self._flush()

    def _flush(self, final: bool = False) -> None:
        if not self._pending:
            return
        table = pa.concat_tables(self._pending)
        cut = table.num_rows if final else table.num_rows - table.num_rows % self.group_rows
        if cut:
            self._writer.write_table(table.slice(0, cut), row_group_size=self.group_rows)
        rest = table.slice(cut)
        self._pending, self._held = ([rest], rest.num_rows) if rest.num_rows else ([], 0)

    def close_temporary(self) -> Path | None:
        """Finish and fsync the temporary; return it, or None (and no file) when nothing was written."""
        if self._fh is None:
            raise RuntimeError("this segment was already committed or aborted")
        try:
            self._flush(final=True)
            self._writer.close()
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
        except BaseException:
            self.abort()
            raise
        self._fh = None
        if not self.rows:
            self._tmp.unlink(missing_ok=True)
            return None
        return self._tmp

    def commit(self, path: Path) -> int:
        """Publish the segment as ``path`` (same directory); return its size in bytes."""
        tmp = self.close_temporary()
        if tmp is None:
            raise ValueError("an empty segment cannot be committed; check .rows first")
        replace_durable(tmp, path)
        return path.stat().st_size

    def abort(self) -> None:
        """Drop the temporary, unless it was already committed or handed over."""
        if self._fh is None:
            return
        try:
            self._writer.close()
        except Exception:  # noqa: BLE001, S110 - the file is being thrown away
            pass
        self._fh.close()
        self._fh = None
        self._tmp.unlink(missing_ok=True)


def write_stream(batches, directory: Path, schema: pa.Schema, options: dict) -> tuple[Path, int, int, int] | None:
    """Write record batches (already sorted) to a fsynced temporary file in ``directory``.

    Returns ``(tmp_path, rows, tmin, tmax)`` with ``tmin``/``tmax`` the
    microsecond range of ``ts``, or None (and no file) when there were no
    rows. The caller renames the file to its final name once it knows it:
    the name carries the time range, which is only known at the end.
    Streaming keeps memory at one row group however large the output.
    """
    w = SegmentWriter(directory, schema, options)
    try:
        for batch in batches:
            if batch.num_rows:  # DuckDB hands out small batches; the writer regroups them
                w.write(pa.Table.from_batches([batch]).cast(schema))
        tmp = w.close_temporary()
    except BaseException:
        w.abort()
        raise
    return None if tmp is None else (tmp, w.rows, w.tmin, w.tmax)


def read_segment(path: Path) -> pa.Table:
    """Read and fully decode one Parquet file, as stored, verifying its page checksums; raises on any damage.

    ``pq.ParquetFile(path).read()`` rather than ``pq.read_table``: the latter
    goes through ``pyarrow.dataset`` (and with it pandas), ~50 MiB resident
    and a tenth of a second of imports, and is twice as slow on small files.
    Files written before the store wrote checksums are only decoded.
    """
    with pq.ParquetFile(path, page_checksum_verification=True) as pf:
        return pf.read()


def check_segment(path: Path | str) -> str | None:
    """Why ``path`` is damaged (``"OSError: ..."``), or None when every page decodes and matches its checksum.

    Reads one row group at a time, so memory stays at about one row group
    whatever the file's size. A missing file raises :class:`FileNotFoundError`
    (it is gone, not damaged: the caller decides what that means).
    """
    try:
        with pq.ParquetFile(path, page_checksum_verification=True) as pf:
            for i in range(pf.num_row_groups):
                pf.read_row_group(i)
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to open or decode is damage
        return f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    return None


def read_table(path: Path, schema: pa.Schema) -> pa.Table:
    """Read and fully decode a segment; raises on any corruption."""
    table = read_segment(path)
    if not table.schema.equals(schema, check_metadata=False):
        table = table.select(schema.names).cast(schema)
    return table

