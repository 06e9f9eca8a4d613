"""Compaction, rollups, retention and garbage collection for one host.

One process per host runs this (the agent, or ``workbench compact`` when no
agent runs); the host lock guarantees it. Every change becomes visible to
readers through one atomic manifest replacement, so a reader sees either the
inputs of a merge or its output, never both and never neither.

Life of a sample::

    incoming/ (L0, one file per flush)
      -> raw chunk "c0" (absorbed every cycle; size-tiered merges c0 -> c1 -> ...)
      -> raw hour file once the hour is closed (+ seal_delay); its 1 min and
         1 h partial rollups are written in the same manifest update
      -> raw day file once the day is closed; rollup partials merge into day
         (1m) and month (1h) files
      -> dropped when older than the tier's retention
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from workbench.store._layout import Layout, parse_l0_name
from workbench.store._manifest import FileEntry, Manifest, load_manifest, save_manifest
from workbench.store._quarantine import quarantine_file
from workbench.store._segment import (
    _ROLLUP_WRITE,
    _SAMPLE_WRITE,
    ROLLUP_SCHEMA,
    SAMPLE_SCHEMA,
    read_table,
    sort_samples,
    write_rollup,
    write_samples,
)
from workbench.store._timeutil import now_us

__all__ = ["Compactor", "CompactionReport", "CompactionPolicy"]

log = logging.getLogger("workbench.store.compact")

US = 1_000_000
HOUR = 3600 * US
DAY = 86400 * US


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
            con = duckdb.connect(config={"threads": 1, "memory_limit": "512MB"})
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
        self._absorb(m, now, report)
        self._merge_chunks(m, now, report)
        self._seal_hours(m, now, report)
        self._seal_days(m, now, report)
        self._seal_months(m, now, report)
        self._expire(m, now, report)
        if report.changed() or report.deleted:
            save_manifest(self.layout.manifest(self.host), m)
        report.seconds = time.perf_counter() - t0
        return report

    # -- steps --------------------------------------------------------------
    def _absorb(self, m: Manifest, now: int, report: CompactionReport) -> None:
        inc = self.layout.incoming(self.host)
        try:
            names = sorted(os.listdir(inc))
        except FileNotFoundError:
            return
        tables, taken, rows = [], [], 0

        def emit() -> None:
            nonlocal tables, taken, rows
            if tables:
                self._add_chunks(m, sort_samples(pa.concat_tables(tables)), gen=0)
            for n in taken:
                m.absorbed[n] = now
            report.absorbed += len(taken)
            tables, taken, rows = [], [], 0

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
            tables.append(t)
            taken.append(name)
            rows += t.num_rows
            if rows >= 4 * self.policy.batch_rows:  # bound memory after a long outage
                emit()
        emit()

    def _add_chunks(self, m: Manifest, table: pa.Table, gen: int) -> None:
        """Write ``table`` as one chunk per hour bucket it touches."""
        ts = table.column("ts").cast(pa.int64()).to_numpy()
        hours = ts - ts % HOUR
        if hours[0] == hours[-1] and (hours == hours[0]).all():
            parts = [(int(hours[0]), table)]
        else:  # one stable sort instead of a filter per hour
            order = np.argsort(hours, kind="stable")
            table, hours = table.take(pa.array(order)), hours[order]
            starts = np.flatnonzero(np.r_[True, hours[1:] != hours[:-1]])
            ends = np.r_[starts[1:], len(hours)]
            parts = [(int(hours[a]), table.slice(a, b - a)) for a, b in zip(starts, ends, strict=True)]
        for h, part in parts:
            pts = part.column("ts").cast(pa.int64()).to_numpy()
            tmin, tmax = int(pts.min()), int(pts.max())
            name = self._new_name("raw", f"c{gen}", tmin, tmax)
            size = write_samples(part, self._path(name))
            m.files.append(FileEntry(name, "raw", f"c{gen}", tmin, tmax, part.num_rows, size, bucket=h))

    def _merge_chunks(self, m: Manifest, now: int, report: CompactionReport) -> None:
        fan = self.policy.fanout
        while True:
            groups: dict[tuple[int, str], list[FileEntry]] = {}
            for f in m.tier("raw"):
                if f.level.startswith("c"):
                    groups.setdefault((f.bucket, f.level), []).append(f)
            todo = [(k, v) for k, v in groups.items() if len(v) >= fan]
            if not todo:
                return
            for (_bucket, level), entries in todo:
                gen = int(level[1:]) + 1
                tables = self._read_entries(m, entries, SAMPLE_SCHEMA, report)
                self._retire(m, entries, now)
                if tables:
                    self._add_chunks(m, sort_samples(pa.concat_tables(tables)), gen)
                report.merged += len(entries)

    def _read_entries(self, m, entries, schema, report) -> list[pa.Table]:
        out = []
        for e in entries:
            try:
                out.append(read_table(self._path(e.name), schema))
            except FileNotFoundError:
                log.warning("compaction input %s vanished; skipping it", e.name)
            except Exception as exc:  # noqa: BLE001
                self._quarantine(m, e.name, f"{type(exc).__name__}: {exc}", report)
        return out

    def _seal_hours(self, m: Manifest, now: int, report: CompactionReport) -> None:
        delay = int(self.policy.seal_delay_s * US)
        buckets = sorted({f.bucket for f in m.tier("raw") if f.level.startswith("c")})
        for h in buckets:
            if h + HOUR + delay > now:
                continue
            chunks = [f for f in m.tier("raw") if f.level.startswith("c") and f.bucket == h]
            olds = [f for f in m.tier("raw") if f.level == "hour" and f.bucket == h]
            chunk_paths = [str(self._path(f.name)) for f in chunks if self._readable(m, f, report)]
            if chunk_paths:
                for tier, interval in (("1m", "1 minute"), ("1h", "1 hour")):
                    part = self._partials(chunk_paths, interval)
                    if part.num_rows:
                        self._add_rollup(m, tier, "hour", part, h)
            inputs = [f for f in olds if self._readable(m, f, report)]
            paths = chunk_paths + [str(self._path(f.name)) for f in inputs]
            if paths:
                self._merge_to(m, paths, "raw", "hour", h, rolled=True)
            self._retire(m, chunks + inputs, now)
            report.sealed_hours += 1

    def _seal_days(self, m: Manifest, now: int, report: CompactionReport) -> None:
        delay = int(self.policy.seal_delay_s * US)
        for tier, src, dst in (("raw", "hour", "day"), ("1m", "hour", "day"), ("1h", "hour", "day")):
            days = sorted({_day(f.bucket) for f in m.tier(tier) if f.level == src})
            for d in days:
                if d + DAY + delay > now:
                    continue
                ins = [f for f in m.tier(tier) if f.level in (src, dst) and _day(f.bucket) == d]
                ins = [f for f in ins if self._readable(m, f, report)]
                paths = [str(self._path(f.name)) for f in ins]
                if paths:
                    self._merge_to(m, paths, tier, dst, d, rolled=True)
                self._retire(m, ins, now)
                report.sealed_days += tier == "raw"

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
                self._merge_to(m, paths, "1h", "month", mo, rolled=True)
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
        path = self._path(f.name)
        try:
            pq.ParquetFile(path).metadata  # noqa: B018 - reading the footer validates it
            return True
        except FileNotFoundError:
            m.files = [x for x in m.files if x.name != f.name]
            log.error("manifest names %s but it is missing; dropping it from the manifest", f.name)
            return False
        except Exception as exc:  # noqa: BLE001
            self._quarantine(m, f.name, f"{type(exc).__name__}: {exc}", report)
            return False

    def _partials(self, paths: list[str], interval: str) -> pa.Table:
        sql = f"""
            SELECT time_bucket(INTERVAL '{interval}', ts) AS ts, host, metric, labels,
                   min(value) AS min, max(value) AS max, sum(value) AS sum,
                   count(*)::BIGINT AS count, arg_max(value, ts) AS last, max(ts) AS last_ts
            FROM read_parquet(?) GROUP BY ALL ORDER BY host, metric, labels, ts
        """  # noqa: S608 - interval comes from a fixed tuple above, never from input
        return self.con.sql(sql, params=[paths]).to_arrow_table().cast(ROLLUP_SCHEMA)

    def _add_rollup(self, m: Manifest, tier: str, level: str, table: pa.Table, bucket: int) -> None:
        ts = table.column("ts").cast(pa.int64()).to_numpy()
        tmin, tmax = int(ts.min()), int(ts.max())
        name = self._new_name(tier, level[0], tmin, tmax)
        size = write_rollup(table, self._path(name))
        m.files.append(FileEntry(name, tier, level, tmin, tmax, table.num_rows, size, bucket=bucket, rolled=True))

    def _merge_to(self, m: Manifest, paths: list[str], tier: str, level: str, bucket: int, *, rolled: bool) -> None:
        """Merge sorted inputs into one sorted file, a batch of metrics at a time.

        Batching by metric range bounds memory: a day of a busy host does not
        have to fit in the agent's RAM to be rewritten.
        """
        con = self.con
        counts = con.execute(
            "SELECT metric, count(*) FROM read_parquet(?) GROUP BY metric ORDER BY metric", [paths]
        ).fetchall()
        if not counts:
            return
        batches, cur, rows = [], [], 0
        for metric, n in counts:
            if cur and rows + n > self.policy.batch_rows:
                batches.append((cur[0], cur[-1]))
                cur, rows = [], 0
            cur.append(metric)
            rows += n
        batches.append((cur[0], cur[-1]))
        schema = SAMPLE_SCHEMA if tier == "raw" else ROLLUP_SCHEMA
        opts = _SAMPLE_WRITE if tier == "raw" else _ROLLUP_WRITE
        if tier == "raw":
            select = "SELECT * FROM read_parquet(?)"
        else:  # combine partials of the same bucket
            select = """SELECT ts, host, metric, labels, min(min) AS min, max(max) AS max,
                        sum(sum) AS sum, sum(count)::BIGINT AS count, arg_max(last, last_ts) AS last,
                        max(last_ts) AS last_ts FROM read_parquet(?) WHERE metric BETWEEN ? AND ?
                        GROUP BY ALL"""
        tmin = tmax = None
        total = 0
        tmp = self._path(f"{tier}/.merge-{secrets.token_hex(4)}.tmp")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            writer = pq.ParquetWriter(fh, schema, **opts)
            for lo, hi in batches:
                if tier == "raw":
                    sql = select + " WHERE metric BETWEEN ? AND ? ORDER BY host, metric, labels, ts"
                else:
                    sql = f"SELECT * FROM ({select}) ORDER BY host, metric, labels, ts"  # noqa: S608 - fixed SQL fragments; every value is bound
                part = con.sql(sql, params=[paths, lo, hi]).to_arrow_table().cast(schema)
                if not part.num_rows:
                    continue
                ts = part.column("ts").cast(pa.int64()).to_numpy()
                tmin = int(ts.min()) if tmin is None else min(tmin, int(ts.min()))
                tmax = int(ts.max()) if tmax is None else max(tmax, int(ts.max()))
                total += part.num_rows
                writer.write_table(part, row_group_size=self.policy.batch_rows // 2)
            writer.close()
            fh.flush()
            os.fsync(fh.fileno())
        if not total:
            tmp.unlink(missing_ok=True)
            return
        name = self._new_name(tier, level[0], tmin, tmax)
        os.replace(tmp, self._path(name))
        m.files.append(
            FileEntry(name, tier, level, tmin, tmax, total, self._path(name).stat().st_size, bucket=bucket, rolled=rolled)
        )
