"""Store benchmark: ingest rate, compaction, bytes per sample and the three
dashboard queries, beside the same queries on a plain DuckDB table holding
the same rows, measured in the same run.

    python benchmarks/store.py [--days 7] [--metrics 20] [--out DIR]
    python benchmarks/store.py --recording HOME   # bytes/sample of a real agent recording


The data: ``--metrics`` series at 1 s for ``--days`` days ending now, shaped
like what the agent records (utilisation fractions at psutil's precision,
integer byte counts that drift, byte rates with bursts), so that encodings
and compression are exercised as in real use.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from workbench.store import CompactionPolicy, Compactor, Store
from workbench.store._manifest import load_manifest
from workbench.store._segment import SAMPLE_SCHEMA, TS


def make_series(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n)
    daily = np.sin(2 * np.pi * t / 86400.0)
    if kind == "util":  # psutil percent has one decimal -> fraction with 3 decimals
        x = 0.3 + 0.2 * daily + 0.08 * rng.standard_normal(n)
        return np.round(np.clip(x, 0, 1), 3)
    if kind == "bytes":  # memory in use: page-granular random walk
        steps = rng.integers(-64, 65, n) * 4096
        return (8 * 2**30 + np.cumsum(steps)).astype(float)
    # rates: mostly quiet, bursts
    base = np.abs(rng.normal(2e4, 5e3, n)) * (1 + daily)
    burst = rng.random(n) < 0.01
    base[burst] *= rng.uniform(10, 100, burst.sum())
    return np.round(base)


def build(store: Store, days: int, n_metrics: int, chunk: int = 3600) -> tuple[int, float, list[str]]:
    rng = np.random.default_rng(0)
    n = days * 86400
    end = pd.Timestamp.now("UTC").floor("s")
    start_us = int((end - pd.Timedelta(seconds=n)).value // 1000)
    kinds = ["util", "bytes", "rate", "rate"]
    metrics = [f"bench.m{i:02d}" for i in range(n_metrics)]
    series = {m: make_series(kinds[i % 4], n, rng) for i, m in enumerate(metrics)}
    store._ensure_catalog(metrics)
    total, spent = 0, 0.0
    # Writers append what they collected: here one file per hour of all series
    # (the agent writes one per second; compaction makes them the same files).
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        k = hi - lo
        ts = np.arange(start_us + lo * 1_000_000, start_us + hi * 1_000_000, 1_000_000, dtype=np.int64)
        table = pa.Table.from_arrays(
            [
                pa.array(np.tile(ts, n_metrics)).cast(TS),
                pa.array(["bench-host"] * (k * n_metrics)),
                pa.array(np.repeat(metrics, k)),
                pa.array([""] * (k * n_metrics)),
                pa.array(np.concatenate([series[m][lo:hi] for m in metrics])),
            ],
            schema=SAMPLE_SCHEMA,
        )
        t0 = time.perf_counter()
        store.append_arrow(table, host="bench-host", trusted=True)
        spent += time.perf_counter() - t0
        total += table.num_rows
    return total, spent, metrics


def sealed_raw_files(store: Store, hosts: list[str] | None = None) -> list[Path]:
    """The compacted raw files readers use: hour and day files live in the manifests.

    Retired files wait out the readers' grace period on disk; counting them
    (as a glob would) counts a sealed hour twice, in its hour and day file.
    """
    out = []
    for host in hosts or store.hosts():
        m = load_manifest(store.layout.manifest(host), host)
        out += [store.layout.host_dir(host) / f.name for f in m.tier("raw") if f.level in ("hour", "day")]
    return out


def bytes_breakdown(paths: list[Path]) -> str:
    """Bytes per sample in ``paths``, split by column (compressed, from the Parquet footers)."""
    rows, total, cols = 0, 0, {}
    for p in paths:
        md = pq.read_metadata(p)
        rows += md.num_rows
        total += os.path.getsize(p)
        for rg in range(md.num_row_groups):
            for c in range(md.num_columns):
                col = md.row_group(rg).column(c)
                cols[col.path_in_schema] = cols.get(col.path_in_schema, 0) + col.total_compressed_size
    if not rows:
        return "no sealed raw files"
    parts = [f"{k} {v / rows:.2f}" for k, v in cols.items()]
    parts.append(f"footers {(total - sum(cols.values())) / rows:.2f}")
    return f"{total / rows:.2f} bytes/sample over {rows:,} samples in {len(paths)} files ({', '.join(parts)})"


def measure_recording(src: Path) -> None:
    """Seal a copy of a real recording (clock two days past its end) and report bytes per sample."""
    home = Path(tempfile.mkdtemp(prefix="wb-rec-"))
    try:
        shutil.copytree(src, home, dirs_exist_ok=True)
        store = Store(home)
        end = store.sql("select max(ts) t from samples")["t"][0]
        clock = int((end + pd.Timedelta("2D")).value // 1000)
        for host in store.hosts():
            comp = Compactor(store.layout, host, CompactionPolicy(), clock=lambda: clock)
            comp.run_once()
            comp.close()
        series = store.sql("select host, count(distinct (metric, labels)) n from samples group by 1").set_index("host")
        for host in store.hosts():
            n = series.n.get(host, 0)
            print(f"{host} ({n} series): {bytes_breakdown(sealed_raw_files(store, [host]))}")
    finally:
        shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def _as_before_checksums():
    """The store as it was before page checksums: no CRC written, none verified, inputs checked by footer only.

    For a same-run A/B of compaction only; the shipped store has no switch for this.
    """
    from workbench.store import _compact, _segment

    saved = (_segment.read_segment, _compact.read_segment, _compact.check_segment,
             _segment.SAMPLE_WRITE["write_page_checksum"], _segment.ROLLUP_WRITE["write_page_checksum"])

    def read_plain(path):
        with pq.ParquetFile(path) as pf:
            return pf.read()

    def footer_only(path):
        pq.ParquetFile(path).metadata  # noqa: B018 - what _readable did before
        return None

    _segment.read_segment = _compact.read_segment = read_plain
    _compact.check_segment = footer_only
    _segment.SAMPLE_WRITE["write_page_checksum"] = _segment.ROLLUP_WRITE["write_page_checksum"] = False
    try:
        yield
    finally:
        (_segment.read_segment, _compact.read_segment, _compact.check_segment,
         _segment.SAMPLE_WRITE["write_page_checksum"], _segment.ROLLUP_WRITE["write_page_checksum"]) = saved


def _ab(fa, fb, repeat: int) -> tuple[float, float]:
    """Median seconds of ``fa`` and ``fb``, run alternately (after one warm-up each), so load hits both alike."""
    fa(), fb()
    a, b = [], []
    for _ in range(repeat):
        for fn, acc in ((fa, a), (fb, b)):
            t0 = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t0)
    return statistics.median(a), statistics.median(b)


def checksum_cost(store: Store, n_metrics: int, repeat: int = 15) -> None:
    """What page checksums cost, with and without them in the same run (alternating, median of ``repeat``).

    Every page the store writes carries a CRC-32 (``write_page_checksum``);
    its own reads (compaction inputs, ``workbench verify``) verify it, DuckDB's
    do not. Measured on the largest sealed raw day file: pyarrow writes of its
    rows with the sealed-file options; full pyarrow reads with and without
    verification; a DuckDB scan; then a whole compaction of one day of
    L0 files, as shipped and as before checksums; and the scrub of the home.
    """
    from workbench.store._segment import SAMPLE_WRITE, SEALED_ZSTD_LEVEL, check_segment

    days = [p for p in sealed_raw_files(store) if p.name.startswith("d-")]
    if not days:
        print("checksums: no sealed day file to measure")
        return
    src = max(days, key=os.path.getsize)
    table = pq.ParquetFile(src).read()
    n = table.num_rows
    out = Path(tempfile.mkdtemp(prefix="wb-crc-"))
    opts = {**SAMPLE_WRITE, "compression_level": SEALED_ZSTD_LEVEL}
    files = {crc: out / f"day-{crc}.parquet" for crc in (False, True)}
    print(f"\nchecksums: one sealed day, {n:,} samples, {os.path.getsize(src) / 2**20:.1f} MiB "
          f"(alternating runs, median of {repeat})")
    print(f"{'':<40} {'without CRC':>12} {'with CRC':>12} {'cost':>7}")

    def row(name, a, b, unit=n):
        print(f"{name:<40} {unit / a / 1e6:>8.2f} M/s {unit / b / 1e6:>8.2f} M/s {b / a - 1:>+7.1%}")

    try:
        def write(crc):
            return lambda: pq.write_table(table, files[crc], row_group_size=128 * 1024,
                                          **{**opts, "write_page_checksum": crc})

        row("write (pyarrow, zstd 6)", *_ab(write(False), write(True), repeat))
        row("read in full (pyarrow), verify off / on",
            *_ab(lambda: pq.ParquetFile(files[True]).read(),
                 lambda: pq.ParquetFile(files[True], page_checksum_verification=True).read(), repeat))
        con = duckdb.connect()

        def scan(crc):
            return lambda: con.execute("SELECT sum(value), max(ts) FROM read_parquet(?)", [str(files[crc])]).fetchall()

        row("DuckDB scan sum(value), max(ts)", *_ab(scan(False), scan(True), repeat))
        a, b = os.path.getsize(files[False]), os.path.getsize(files[True])
        print(f"{'file size':<40} {a:>10,d} B {b:>10,d} B {b / a - 1:>+7.2%}")
        c = statistics.median(_ab(lambda: check_segment(files[True]), lambda: check_segment(files[True]), 3))
        print(f"check_segment of the day (what compaction adds per input): {c * 1000:.0f} ms ({n / c / 1e6:.2f} M samples/s)")

        # A whole compaction of one day of hourly L0 files (plus the open hour), both ways.
        base = out / "one-day"
        day_store = Store(base, host="bench-host")
        total, _, _ = build(day_store, 1, n_metrics)
        runs: dict[bool, list[float]] = {False: [], True: []}
        for i in range(3):
            for crc in (False, True):
                home = out / f"compact-{crc}-{i}"
                shutil.copytree(base, home)
                comp = Compactor(Store(home).layout, "bench-host", CompactionPolicy())
                ctx = contextlib.nullcontext() if crc else _as_before_checksums()
                with ctx:
                    t0 = time.perf_counter()
                    comp.run_once()
                    runs[crc].append(time.perf_counter() - t0)
                comp.close()
                shutil.rmtree(home)
        row(f"compaction of a day ({total:,} samples, 3 runs)", statistics.median(runs[False]),
            statistics.median(runs[True]), total)
        t0 = time.perf_counter()
        rep = store.verify()
        dt = time.perf_counter() - t0
        print(f"workbench verify of the week's home: {rep.checked} files, {rep.bytes / 2**20:.1f} MiB in {dt:.2f} s "
              f"({rep.bytes / 2**20 / dt:.0f} MiB/s), {len(rep.damaged)} damaged")
    finally:
        shutil.rmtree(out, ignore_errors=True)


def median_ms(fn, repeat: int = 20) -> float:
    fn()  # warm: first call pays imports and OS cache
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--metrics", type=int, default=20)
    ap.add_argument("--out", default=None, help="keep the home here instead of a temporary dir")
    ap.add_argument("--recording", default=None, help="only measure bytes/sample of this home's recording")
    args = ap.parse_args()
    if args.recording:
        measure_recording(Path(args.recording))
        return
    home = Path(args.out or tempfile.mkdtemp(prefix="wb-bench-"))
    store = Store(home, host="bench-host")
    total, spent, metrics = build(store, args.days, args.metrics)
    print(f"ingest: {total:,} samples in {spent:.1f} s -> {total / spent:,.0f} samples/s (Store.append_arrow, 1 file/hour of data)")
    t0 = time.perf_counter()
    comp = Compactor(store.layout, "bench-host", CompactionPolicy())
    rep = comp.run_once()
    comp.close()
    dt = time.perf_counter() - t0
    print(f"compaction: {dt:.1f} s ({total / dt:,.0f} samples/s) sealed {rep.sealed_hours} hours, {rep.sealed_days} days")
    print("storage:", bytes_breakdown(sealed_raw_files(store)))
    checksum_cost(store, args.metrics)

    # Peer: the same rows in a plain DuckDB table.
    peer_path = home / "peer.duckdb"
    peer = duckdb.connect(str(peer_path))
    peer.execute("SET TimeZone='UTC'")
    t0 = time.perf_counter()
    from workbench.store._snapshot import take_snapshot

    peer.execute("CREATE TABLE samples AS SELECT * FROM read_parquet(?)", [take_snapshot(store.layout).raw()])
    peer_rows = peer.execute("select count(*) from samples").fetchone()[0]
    print(f"peer load: {time.perf_counter() - t0:.1f} s, {peer_rows:,} rows")
    now = pd.Timestamp.now("UTC")
    m0, five = metrics[0], metrics[:5]
    q = {
        "last 1 h raw, 1 metric": (
            lambda: store.query(m0, "1h"),
            lambda: peer.execute("SELECT ts, value FROM samples WHERE metric = ? AND ts >= ? ORDER BY ts", [m0, (now - pd.Timedelta("1h")).to_pydatetime()]).df(),
        ),
        "last 24 h in 500 buckets": (
            lambda: store.query(m0, "24h", step=86400 / 500),
            lambda: peer.execute(
                "SELECT time_bucket(INTERVAL '172.8 seconds', ts) t, avg(value) FROM samples WHERE metric = ? AND ts >= ? GROUP BY 1 ORDER BY 1",
                [m0, (now - pd.Timedelta("24h")).to_pydatetime()],
            ).df(),
        ),
        "last 7 d of 5 metrics in 1,000 points": (
            lambda: store.query(five, "7d", step=7 * 86400 / 1000),
            lambda: peer.execute(
                "SELECT metric, time_bucket(INTERVAL '604.8 seconds', ts) t, avg(value) FROM samples WHERE list_contains(?, metric) AND ts >= ? GROUP BY 1, 2 ORDER BY 1, 2",
                [five, (now - pd.Timedelta("7D")).to_pydatetime()],
            ).df(),
        ),
    }
    print(f"\n{'query (median of 20)':<40} {'workbench':>10} {'duckdb table':>13} {'ratio':>6}")
    for name, (ours, theirs) in q.items():
        a, b = median_ms(ours), median_ms(theirs)
        print(f"{name:<40} {a:>8.1f}ms {b:>11.1f}ms {a / b:>6.2f}")
    n1 = len(store.query(m0, "1h"))
    n2 = len(store.query(m0, "24h", step=86400 / 500))
    n3 = len(store.query(five, "7d", step=7 * 86400 / 1000))
    print(f"\nrows returned: {n1}, {n2}, {n3}")
    if not args.out:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
