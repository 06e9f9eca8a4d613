"""Compaction, rollups, retention and garbage collection for one host.

One process per host runs this (the agent, or ``workbench compact`` when no
agent runs); the host lock guarantees it. Every change becomes visible to
readers through one atomic manifest replacement, so a reader sees either the
inputs of a merge or its output, never both and never neither.

Life of a sample::

    incoming/ (L0, one file per flush)
      -> raw chunk "c0" while its hour is open (absorbed every cycle;
         size-tiered merges c0 -> c1 -> ...)
      -> raw hour file once the hour is closed (+ seal_delay), with its 1 min
         and 1 h partial rollups, in the same manifest update
      -> raw day file once the day is closed; rollup partials merge into day
         (1m) and month (1h) files
      -> dropped when older than the tier's retention

Sealing works on *units*: a closed day, or a closed hour of a day still
open. A unit's inputs are whatever the manifest and ``incoming/`` hold for
its period (L0 rows, chunks, older hour or day files, older partials); its
outputs are one raw file and one partial file per rollup tier, each written
by one sorted DuckDB query streamed to disk. A backlog (an agent that was
down, a bulk load such as the demo) therefore goes from L0 straight into day
files -- three files per day instead of a chunk, an hour file and two
rollups per hour and then a rewrite into the day -- and every unit of a
cycle becomes visible in the cycle's single manifest replacement.

Two entry points share one manifest and must never run at the same time
(the agent calls both from its one compactor thread):

* :meth:`Compactor.absorb_once`, the light step, run by the agent itself
  every few seconds: L0 files of open hours become raw chunks (and chunks
  merge), so readers of recent data open a handful of files instead of one
  per second of recording. It needs only pyarrow's Parquet reader and
  writer -- no DuckDB, no pyarrow.compute, no pandas -- because it runs in
  the agent's process, whose resident memory is a published figure.
* :meth:`Compactor.run_once`, the full cycle (sealing hours and days,
  rollups, expiry), run in a short-lived child process that imports DuckDB.

This module therefore imports DuckDB and ``pyarrow.compute`` only inside the
methods of the full cycle.
"""

from __future__ import annotations

import array
import datetime as _dt
import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from workbench._atomic import replace_durable
from workbench.store._layout import Layout, parse_l0_name
from workbench.store._manifest import FileEntry, Manifest, load_manifest, save_manifest
from workbench.store._quarantine import quarantine_file
from workbench.store._segment import (
    ROLLUP_SCHEMA,
    ROLLUP_WRITE,
    ROW_GROUP_ROWS,
    SAMPLE_SCHEMA,
    SAMPLE_WRITE,
    SEALED_ZSTD_LEVEL,
    TS,
    SegmentWriter,
    check_segment,
    read_segment,
    read_table,
    sort_samples,
    ts_range,
    write_samples,
    write_stream,
)
from workbench.store._sql import INTERVALS, rollup_sql
from workbench.store._timeutil import now_us

if TYPE_CHECKING:
    import duckdb

__all__ = ["Compactor", "CompactionReport", "CompactionPolicy"]

log = logging.getLogger("workbench.store.compact")

US = 1_000_000
HOUR = 3600 * US
DAY = 86400 * US

# Row groups of chunks: chunks live an hour at most and are read whole by the
# queries of recent data; a smaller group bounds what the agent holds in
# memory while it absorbs or merges, and lets DuckDB skip groups by time.
CHUNK_GROUP_ROWS = 32 * 1024
# At most this many L0 files per light step, so a backlog never holds the
# agent's compactor thread for long; the rest waits for the next step.
ABSORB_MAX_FILES = 2000


def _hour(t: int) -> int:
    return t - t % HOUR


def _day(t: int) -> int:
    return t - t % DAY


def _month(t: int) -> int:
    d = _dt.datetime.fromtimestamp(t / US, tz=_dt.UTC)
    start = _dt.datetime(d.year, d.month, 1, tzinfo=_dt.UTC)
    return int(start.timestamp()) * US


def _month_end(start: int) -> int:
    d = _dt.datetime.fromtimestamp(start / US, tz=_dt.UTC)
    nxt = _dt.datetime(d.year + (d.month == 12), d.month % 12 + 1, 1, tzinfo=_dt.UTC)
    return int(nxt.timestamp()) * US


@dataclass
class CompactionPolicy:
    """Knobs of compaction; defaults suit a 1 s agent on a workstation."""

    fanout: int = 8  # merge this many same-generation chunks of one hour
    seal_delay_s: float = 120.0  # lateness allowed before an hour/day is closed
    grace_s: float = 60.0  # how long retired files stay for slow readers
    retention_s: dict[str, float] = field(
        default_factory=lambda: {"raw": 7 * 86400.0, "1m": 90 * 86400.0, "1h": 5 * 365 * 86400.0}
    )
    batch_rows: int = 256 * 1024  # rows per merge step; bounds the compactor's memory


@dataclass
class CompactionReport:
    absorbed: int = 0
    merged: int = 0
    sealed_hours: int = 0
    sealed_days: int = 0
    sealed_months: int = 0
    expired: int = 0
    deleted: int = 0
    quarantined: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def changed(self) -> bool:
        return bool(
            self.absorbed or self.merged or self.sealed_hours or self.sealed_days
            or self.sealed_months or self.expired or self.quarantined
        )


class Compactor:
    def __init__(self, layout: Layout, host: str, policy: CompactionPolicy | None = None, *, clock=now_us):
        self.layout = layout
        self.host = host
        self.policy = policy or CompactionPolicy()
        self.clock = clock
        self._con: duckdb.DuckDBPyConnection | None = None

    # -- plumbing -----------------------------------------------------------
    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            import duckdb

            # A sealed day is sorted by one query; past the memory limit DuckDB
            # spills to a dot-directory of the host (readers ignore dot-names).
            spill = self.layout.host_dir(self.host) / ".compact-spill"
            con = duckdb.connect(
                config={"threads": 1, "memory_limit": "512MB", "temp_directory": str(spill)}
            )
            con.execute("SET TimeZone='UTC'")
            self._con = con
        return self._con

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def _path(self, name: str) -> Path:
        return self.layout.host_dir(self.host) / name

    def _new_name(self, tier: str, kind: str, tmin: int, tmax: int) -> str:
        return f"{tier}/{kind}-{tmin}-{tmax}-{secrets.token_hex(3)}.parquet"

    def _retire(self, m: Manifest, entries: list[FileEntry], now: int) -> None:
        names = {e.name for e in entries}
        m.files = [f for f in m.files if f.name not in names]
        for n in names:
            m.obsolete[n] = now

    def _quarantine(self, m: Manifest, name: str, reason: str, report: CompactionReport) -> None:
        dest = quarantine_file(self.layout, self.host, self._path(name), name, reason)
        m.files = [f for f in m.files if f.name != name]
        m.quarantined.append({"name": name, "reason": reason, "at": self.clock(), "moved_to": str(dest)})
        report.quarantined.append(name)

    # -- one cycle ----------------------------------------------------------
    def run_once(self) -> CompactionReport:
        t0 = time.perf_counter()
        report = CompactionReport()
        m = load_manifest(self.layout.manifest(self.host), self.host)
        now = self.clock()
        self._gc(m, now, report)
        delay = int(self.policy.seal_delay_s * US)
        open_from = _hour(now - delay - HOUR) + HOUR  # hours before this are closed
        days_end = _day(now - delay - DAY) + DAY  # days before this are closed
        l0_hours = self._absorb(m, now, open_from, report)
        self._merge_chunks(m, now, open_from, report)
        self._seal(m, now, l0_hours, open_from, days_end, report)
        self._seal_months(m, now, report)
        self._expire(m, now, report)
        if report.changed() or report.deleted:
            save_manifest(self.layout.manifest(self.host), m)
        report.seconds = time.perf_counter() - t0
        return report

    def absorb_once(self) -> CompactionReport:
        """The light step: absorb L0 files of open hours into chunks, merge chunks, collect garbage.

        Safe to run between full cycles (never during one): it changes the
        manifest the same way the full cycle does, in one atomic replacement.
        L0 files it cannot handle cheaply -- rows in a closed hour, an hour
        boundary inside the file, another schema -- stay in ``incoming/``
        for :meth:`run_once`.
        """
        t0 = time.perf_counter()
        report = CompactionReport()
        m = load_manifest(self.layout.manifest(self.host), self.host)
        now = self.clock()
        self._gc(m, now, report)
        open_from = _hour(now - int(self.policy.seal_delay_s * US) - HOUR) + HOUR
        self._absorb_open(m, now, open_from, report)
        self._merge_chunks(m, now, open_from, report)
        if report.changed() or report.deleted:
            save_manifest(self.layout.manifest(self.host), m)
        report.seconds = time.perf_counter() - t0
        return report

    # -- steps --------------------------------------------------------------
    def _absorb_open(self, m: Manifest, now: int, open_from: int, report: CompactionReport) -> None:
        """Concatenate L0 files wholly inside one open hour into one new chunk per hour.

        Rows are not re-sorted (that needs ``pyarrow.compute``): a chunk is
        read whole by the queries that touch it and is rewritten in sorted
        order when its hour is sealed, so order inside it buys nothing.
        """
        inc = self.layout.incoming(self.host)
        try:
            names = sorted(os.listdir(inc))
        except FileNotFoundError:
            return
        writers: dict[int, tuple[SegmentWriter, list[str]]] = {}
        try:
            taken = 0
            for name in names:
                parsed = parse_l0_name(name)
                if name.startswith(".") or name in m.absorbed or parsed is None:
                    continue
                if parsed.tmin < open_from or _hour(parsed.tmin) != _hour(parsed.tmax):
                    continue  # the full cycle seals or splits it
                if taken >= ABSORB_MAX_FILES:
                    break
                taken += 1
                try:
                    t = read_segment(inc / name)
                except FileNotFoundError:
                    continue
                except Exception as exc:  # noqa: BLE001 - any decode failure means a bad file
                    self._quarantine(m, f"incoming/{name}", f"{type(exc).__name__}: {exc}", report)
                    continue
                if not t.schema.equals(SAMPLE_SCHEMA, check_metadata=False):
                    continue  # needs a cast (pyarrow.compute): the full cycle's job
                span = ts_range(t)
                if span is not None and (span[0] < open_from or _hour(span[0]) != _hour(span[1])):
                    continue  # its name understates its range; the full cycle reads the rows
                if span is not None:
                    bucket = _hour(span[0])
                    if bucket not in writers:
                        w = SegmentWriter(self.layout.tier_dir(self.host, "raw"), SAMPLE_SCHEMA, SAMPLE_WRITE,
                                          group_rows=CHUNK_GROUP_ROWS)
                        writers[bucket] = (w, [])
                    writers[bucket][0].write(t)
                    writers[bucket][1].append(name)
                else:  # no rows: nothing to keep, only to mark
                    m.absorbed[name] = now
                    report.absorbed += 1
            for bucket, (w, absorbed) in writers.items():
                name = self._new_name("raw", "c0", w.tmin, w.tmax)
                size = w.commit(self._path(name))
                m.files.append(FileEntry(name, "raw", "c0", w.tmin, w.tmax, w.rows, size, bucket=bucket))
                for n in absorbed:
                    m.absorbed[n] = now
                report.absorbed += len(absorbed)
        finally:
            for w, _ in writers.values():
                w.abort()  # no-op for committed ones

    def _absorb(self, m: Manifest, now: int, open_from: int, report: CompactionReport) -> dict[str, set[int]]:
        """Absorb every L0 file: rows of open hours become chunks, the rest is sealed by :meth:`_seal`.

        Each file is decoded in full (which is what validates it; a bad one
        is quarantined) but only its open-hour rows are kept. Returns, per
        absorbed L0 path, the closed hours it has rows in; :meth:`_seal`
        reads those rows straight from the file, and the file counts as
        absorbed in the same manifest update that publishes the sealed units.
        """
        inc = self.layout.incoming(self.host)
        try:
            names = sorted(os.listdir(inc))
        except FileNotFoundError:
            return {}
        import pyarrow.compute as pc  # the full cycle only (see the module docstring)

        closed: dict[str, set[int]] = {}
        tables, rows = [], 0

        def emit() -> None:
            nonlocal tables, rows
            if tables:
                self._add_chunks(m, sort_samples(pa.concat_tables(tables)), gen=0)
            tables, rows = [], 0

        for name in names:
            if name.startswith(".") or name in m.absorbed or parse_l0_name(name) is None:
                continue
            try:
                t = read_table(inc / name, SAMPLE_SCHEMA)
            except FileNotFoundError:
                continue
            except Exception as exc:  # noqa: BLE001 - any decode failure means a bad file
                self._quarantine(m, f"incoming/{name}", f"{type(exc).__name__}: {exc}", report)
                continue
            span = ts_range(t)
            if span is not None and span[0] < open_from:
                hours = _hours(t)
                closed[str(inc / name)] = {h for h in hours if h < open_from}
                part = t.filter(pc.greater_equal(t["ts"], _ts_scalar(open_from))) if span[1] >= open_from else None
            else:
                part = t if span is not None else None
            if part is not None and part.num_rows:
                tables.append(part)
                rows += part.num_rows
            m.absorbed[name] = now
            report.absorbed += 1
            if rows >= 4 * self.policy.batch_rows:  # bound memory after a long outage
                emit()
        emit()
        return closed

    def _add_chunks(self, m: Manifest, table: pa.Table, gen: int) -> None:
        """Write ``table`` (sorted, rows of open hours only: two or three at most) as one chunk per hour."""
        import pyarrow.compute as pc

        hours = sorted(_hours(table))
        for h in hours:
            part = table if len(hours) == 1 else table.filter(
                pc.equal(pc.floor_temporal(table["ts"], unit="hour"), _ts_scalar(h)))
            tmin, tmax = ts_range(part)
            name = self._new_name("raw", f"c{gen}", tmin, tmax)
            size = write_samples(part, self._path(name))
            m.files.append(FileEntry(name, "raw", f"c{gen}", tmin, tmax, part.num_rows, size, bucket=h))

    def _merge_chunks(self, m: Manifest, now: int, open_from: int, report: CompactionReport) -> None:
        """Size-tiered merges of the chunks of open hours (closed ones are about to be sealed whole).

        A merge streams its inputs one at a time into the new chunk, without
        sorting (see :meth:`_absorb_open`), so it needs only the Parquet
        reader and writer and holds about one row group in memory: the agent
        runs it between full cycles.
        """
        fan = self.policy.fanout
        while True:
            groups: dict[tuple[int, str], list[FileEntry]] = {}
            for f in m.tier("raw"):
                if f.level.startswith("c") and f.bucket >= open_from:
                    groups.setdefault((f.bucket, f.level), []).append(f)
            todo = [(k, v) for k, v in groups.items() if len(v) >= fan]
            if not todo:
                return
            for (bucket, level), entries in todo:
                level_out = f"c{int(level[1:]) + 1}"
                with SegmentWriter(self.layout.tier_dir(self.host, "raw"), SAMPLE_SCHEMA, SAMPLE_WRITE,
                                   group_rows=CHUNK_GROUP_ROWS) as w:
                    for e in entries:
                        try:
                            w.write(read_table(self._path(e.name), SAMPLE_SCHEMA))
                        except FileNotFoundError:
                            log.warning("compaction input %s vanished; skipping it", e.name)
                        except Exception as exc:  # noqa: BLE001 - a bad file is set aside, the rest merge
                            self._quarantine(m, e.name, f"{type(exc).__name__}: {exc}", report)
                    if w.rows:
                        name = self._new_name("raw", level_out, w.tmin, w.tmax)
                        size = w.commit(self._path(name))
                        m.files.append(FileEntry(name, "raw", level_out, w.tmin, w.tmax, w.rows, size,
                                                 bucket=bucket))
                self._retire(m, entries, now)
                report.merged += len(entries)

    def _seal(self, m: Manifest, now: int, l0_hours: dict[str, set[int]], open_from: int, days_end: int,
              report: CompactionReport) -> None:
        """Seal every closed period that has new input: closed days whole, closed hours of open days."""

        def unit_of(bucket: int) -> tuple[str, int]:
            return ("day", _day(bucket)) if bucket < days_end else ("hour", _hour(bucket))

        units: dict[tuple[str, int], set[int]] = {}  # unit -> hours with samples not yet rolled up
        for f in m.files:
            if f.tier == "raw" and f.level.startswith("c") and f.bucket < open_from:
                units.setdefault(unit_of(f.bucket), set()).add(f.bucket)
            elif f.level == "hour" and f.bucket < days_end:  # hour files (any tier) of a closed day
                units.setdefault(unit_of(f.bucket), set())
        for hours in l0_hours.values():
            for h in hours:
                units.setdefault(unit_of(h), set()).add(h)
        for level, start in sorted(units, key=lambda u: (u[1], u[0])):
            end = start + (DAY if level == "day" else HOUR)
            l0 = [p for p, hours in l0_hours.items() if any(start <= h < end for h in hours)]
            self._seal_unit(m, now, level, start, end, l0, report)
            report.sealed_hours += len(units[(level, start)])
            report.sealed_days += level == "day"

    def _seal_unit(self, m: Manifest, now: int, level: str, start: int, end: int, l0: list[str],
                   report: CompactionReport) -> None:
        """Rewrite one closed hour or day as one raw file and one partial file per rollup tier."""
        in_unit = [f for f in m.files if start <= f.bucket < end and (f.tier == "raw" or f.level in ("hour", "day"))]
        inputs = [f for f in in_unit if self._readable(m, f, report)]
        raw = [f for f in inputs if f.tier == "raw"]
        unrolled = [str(self._path(f.name)) for f in raw if not f.rolled] + l0
        bounds = [_us_datetime(start), _us_datetime(end)]
        if raw or l0:
            paths = [str(self._path(f.name)) for f in raw] + l0
            if self._kept("raw", end, now):
                sql = (
                    "SELECT ts, host, metric, labels, value FROM read_parquet(?) "
                    "WHERE ts >= ? AND ts < ? ORDER BY host, metric, labels, ts"
                )
                self._write(m, sql, [paths, *bounds], "raw", level, start, rolled=True)
        minute_file = None
        for tier in INTERVALS:
            older = [str(self._path(f.name)) for f in inputs if f.tier == tier]
            if tier == "1h" and minute_file is not None and not older:
                # Partials merge exactly, so the hour tier is the minute tier
                # regrouped: read the fresh 1 min file, 60x smaller than raw.
                sql = rollup_sql(tier, partials="read_parquet(?)")
                params = [[minute_file]]
            else:
                partials = samples = None
                params = []
                if older:
                    partials = "read_parquet(?)"
                    params.append(older)
                if unrolled:
                    samples = "read_parquet(?) WHERE ts >= ? AND ts < ?"
                    params += [unrolled, *bounds]
                if not params:
                    continue
                sql = rollup_sql(tier, partials=partials, samples=samples)
            if self._kept(tier, end, now):
                entry = self._write(m, sql, params, tier, level, start, rolled=True)
                if tier == "1m" and entry is not None:
                    minute_file = str(self._path(entry.name))
        self._retire(m, in_unit, now)

    def _kept(self, tier: str, end: int, now: int) -> bool:
        """False when everything a unit would write to ``tier`` is already past retention."""
        keep = self.policy.retention_s.get(tier)
        return keep is None or end - 1 >= now - int(keep * US)

    def _write(self, m: Manifest, sql: str, params: list, tier: str, level: str, bucket: int, *,
               rolled: bool) -> FileEntry | None:
        """Stream a sorted query result into a new file of ``tier`` and list it in ``m``."""
        schema, opts = (SAMPLE_SCHEMA, SAMPLE_WRITE) if tier == "raw" else (ROLLUP_SCHEMA, ROLLUP_WRITE)
        opts = {**opts, "compression_level": SEALED_ZSTD_LEVEL}
        reader = self.con.sql(sql, params=params).to_arrow_reader(ROW_GROUP_ROWS)
        done = write_stream(reader, self.layout.tier_dir(self.host, tier), schema, opts)
        if done is None:
            return None
        tmp, rows, tmin, tmax = done
        name = self._new_name(tier, level[0], tmin, tmax)
        replace_durable(tmp, self._path(name))
        entry = FileEntry(name, tier, level, tmin, tmax, rows, self._path(name).stat().st_size, bucket=bucket,
                          rolled=rolled)
        m.files.append(entry)
        return entry

    def _seal_months(self, m: Manifest, now: int, report: CompactionReport) -> None:
        delay = int(self.policy.seal_delay_s * US)
        months = sorted({_month(f.bucket) for f in m.tier("1h") if f.level == "day"})
        for mo in months:
            if _month_end(mo) + delay > now:
                continue
            ins = [f for f in m.tier("1h") if f.level in ("day", "month") and _month(f.bucket) == mo]
            ins = [f for f in ins if self._readable(m, f, report)]
            paths = [str(self._path(f.name)) for f in ins]
            if paths:
                self._write(m, rollup_sql("1h", partials="read_parquet(?)"), [paths], "1h", "month", mo, rolled=True)
            self._retire(m, ins, now)
            report.sealed_months += 1

    def _expire(self, m: Manifest, now: int, report: CompactionReport) -> None:
        for tier, keep in self.policy.retention_s.items():
            cutoff = now - int(keep * US)
            old = [f for f in m.tier(tier) if f.tmax < cutoff]
            if old:
                self._retire(m, old, now)
                report.expired += len(old)

    def _gc(self, m: Manifest, now: int, report: CompactionReport) -> None:
        grace = int(self.policy.grace_s * US)
        hdir = self.layout.host_dir(self.host)
        # Files a reader quarantined leave the manifest here (the reader could
        # not edit it); the move itself already made them invisible.
        qdir = self.layout.quarantine_dir / self.host
        if qdir.exists():
            gone = [f for f in m.files if (qdir / f.name).exists()]
            for f in gone:
                m.files.remove(f)
                m.quarantined.append({"name": f.name, "reason": "quarantined by a reader", "at": now})
                report.quarantined.append(f.name)
        for name, when in list(m.absorbed.items()):
            if when + grace <= now:
                (hdir / "incoming" / name).unlink(missing_ok=True)
                del m.absorbed[name]
                report.deleted += 1
        for name, when in list(m.obsolete.items()):
            if when + grace <= now:
                (hdir / name).unlink(missing_ok=True)
                del m.obsolete[name]
                report.deleted += 1
        # Orphans: outputs of a cycle that crashed before its manifest was
        # saved, and temporaries of crashed writers.
        live = {f.name for f in m.files} | set(m.obsolete)
        wall = time.time()
        for sub in ("raw", "1m", "1h", "incoming"):
            try:
                entries = list(os.scandir(hdir / sub))
            except FileNotFoundError:
                continue
            for ent in entries:
                rel = f"{sub}/{ent.name}"
                try:
                    age = wall - ent.stat().st_mtime
                except FileNotFoundError:
                    continue
                if ent.name.startswith(".") and age > 3600:
                    os.unlink(ent.path)
                elif sub != "incoming" and not ent.name.startswith(".") and rel not in live and age > self.policy.grace_s:
                    log.warning("removing orphan %s left by an interrupted compaction", rel)
                    os.unlink(ent.path)

    # -- helpers ------------------------------------------------------------
    def _readable(self, m: Manifest, f: FileEntry, report: CompactionReport) -> bool:
        """Verify ``f`` in full (every page decoded, every checksum matched) before it is merged.

        DuckDB, which reads the inputs of a seal, checks neither page
        checksums nor values, so without this a damaged page could be rolled
        up into ``samples_1m``/``samples_1h`` and rewritten, with fresh
        checksums, into the day file. A damaged input is quarantined instead.
        """
        try:
            reason = check_segment(self._path(f.name))
        except FileNotFoundError:
            m.files = [x for x in m.files if x.name != f.name]
            log.error("manifest names %s but it is missing; dropping it from the manifest", f.name)
            return False
        if reason is not None:
            self._quarantine(m, f.name, reason, report)
            return False
        return True


# In the full cycle's arrow compute calls, a Python number as an argument
# (or ``pa.scalar``) makes pyarrow probe it for being a pandas object, which
# imports pandas: ~45 MiB and ~0.2 s of the child's cycle for nothing. Hence
# scalars cut from an array, and ``floor_temporal`` instead of arithmetic.


def _ts_scalar(us: int) -> pa.Scalar:
    """A ``ts`` value (microseconds since the epoch) as an Arrow scalar, without importing pandas."""
    return pa.Array.from_buffers(TS, 1, [None, pa.py_buffer(array.array("q", [us]))])[0]


def _hours(table: pa.Table) -> set[int]:
    """Start (us) of every hour ``table`` has rows in (full cycle only: uses pyarrow.compute)."""
    import pyarrow.compute as pc

    starts = pc.unique(pc.floor_temporal(table.column("ts"), unit="hour")).cast(pa.int64())
    return set(starts.to_pylist())


def _us_datetime(us: int) -> _dt.datetime:
    """A bound parameter for a TIMESTAMPTZ comparison, exact to the microsecond."""
    return _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC) + _dt.timedelta(microseconds=us)
