"""The dashboard's kernel-side cost without Voilà or a browser: memory and CPU per tick.

Builds the page's :class:`workbench.ui.Dashboard` in this process on
``$WORKBENCH_HOME`` (load the demo and start an agent there first), runs the
slow panels ``--scale`` times more often than the page does (so 600 ticks
cover what the page does in hours), and prints RSS and CPU per tick every 100
ticks. No comm is open, so what this leaves out (and
``benchmarks/dashboard.py`` includes) is the widget messages' serialisation
and the kernel's session; a growth seen there but not here lives in that layer.

    WORKBENCH_HOME=/tmp/h workbench demo && WORKBENCH_HOME=/tmp/h workbench agent &
    WORKBENCH_HOME=/tmp/h python benchmarks/dashboard_kernel.py --ticks 600 --scale 10
"""

from __future__ import annotations

import argparse
import gc
import time


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return float("nan")


def breakdown(d) -> str:
    import ctypes

    import pyarrow as pa

    con = d.store._con()
    duck = con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()[0] or 0
    before = rss_mib()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    after = rss_mib()
    return (f"DuckDB {duck / 2**20:.1f} MiB, Arrow {pa.total_allocated_bytes() / 2**20:.1f} MiB "
            f"({pa.default_memory_pool().backend_name}), malloc_trim {before:.1f} -> {after:.1f} MiB")


def install_profiler(d) -> dict:
    """Time every panel's refresh steps and the widgets' message sends in thread CPU.

    Returns ``{(what, step): [calls, seconds]}``, filled as the page ticks. Thread CPU, so a
    worker thread's read is charged to its panel and not to whatever else ran meanwhile.
    """
    import functools

    import ipywidgets as W

    stats: dict = {}

    def wrap(owner, attr: str, key) -> None:
        fn = getattr(owner, attr)

        @functools.wraps(fn)
        def timed(*a, **kw):
            t0 = time.thread_time()
            try:
                return fn(*a, **kw)
            finally:
                entry = stats.setdefault(key, [0, 0.0])
                entry[0] += 1
                entry[1] += time.thread_time() - t0

        setattr(owner, attr, timed)

    for panel in d.panels:
        for step in ("_refresh", "_refresh_slow", "_load_slow", "_apply_slow"):
            if step in type(panel).__dict__:
                wrap(panel, step, (type(panel).__name__, step))
    wrap(d, "tick", ("Dashboard", "tick (all on the kernel's thread)"))
    wrap(W.Widget, "send_state", ("ipywidgets", "send_state"))
    wrap(W.Widget, "_send", ("ipywidgets", "_send (serialise + send)"))
    return stats


def print_profile(stats: dict, ticks: int) -> None:
    for (what, step), (calls, seconds) in sorted(stats.items(), key=lambda kv: -kv[1][1]):
        print(f"  {what}.{step}: {seconds / ticks * 1000:.2f} ms per tick ({calls} calls, "
              f"{seconds / max(calls, 1) * 1000:.2f} ms each)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=600)
    ap.add_argument("--scale", type=int, default=10, help="run the slow panels this many times more often")
    ap.add_argument("--sleep", type=float, default=0.2, help="seconds between ticks (new samples keep arriving)")
    ap.add_argument("--every", type=int, default=100, help="report every this many ticks")
    ap.add_argument("--tracemalloc", type=int, default=0, metavar="N",
                    help="trace Python allocations and print the N sites that grew most at each report")
    ap.add_argument("--breakdown", action="store_true",
                    help="at each report also print DuckDB's and Arrow's own memory and the RSS that "
                         "glibc's malloc_trim(0) gives back (what is allocator slack, not live data)")
    ap.add_argument("--duckdb-set", action="append", default=[], metavar="NAME=VALUE",
                    help="a DuckDB setting for every connection the store opens (repeatable), "
                         "e.g. allocator_flush_threshold='8MB'")
    ap.add_argument("--profile", action="store_true",
                    help="at each report print thread CPU per tick of every panel's refresh steps")
    args = ap.parse_args()
    if args.duckdb_set:
        from workbench.store import _store

        plain = _store.Store._con

        def con(self):
            fresh = getattr(self._local, "con", None) is None
            c = plain(self)
            if fresh:
                for setting in args.duckdb_set:
                    c.execute(f"SET {setting}")
            return c

        _store.Store._con = con

    from workbench import ui

    d = ui.Dashboard()
    d.SLOW = tuple((n, max(1, e // args.scale)) for n, e in d.SLOW)
    d._every, d._due = dict(d.SLOW), dict(d.SLOW)
    d.style(), d.top(), d.body(), d.footer()
    for _ in range(20):  # caches fill, the first fits run
        d.tick()
        time.sleep(args.sleep)
    gc.collect()
    if args.tracemalloc:
        import tracemalloc

        tracemalloc.start(8)
        snap0 = tracemalloc.take_snapshot()
    stats = install_profiler(d) if args.profile else {}
    r0, c0 = rss_mib(), time.process_time()
    print(f"start: RSS {r0:.1f} MiB")
    for i in range(1, args.ticks + 1):
        d.tick()
        time.sleep(args.sleep)
        if i % args.every == 0:
            gc.collect()
            r = rss_mib()
            print(f"tick {i}: RSS {r:.1f} MiB ({(r / r0 - 1) * 100:+.1f} %), "
                  f"CPU {(time.process_time() - c0) / i * 1000:.1f} ms per tick, errors {d.stats()['errors']}",
                  flush=True)
            if args.breakdown:
                print("  " + breakdown(d), flush=True)
            if args.profile:
                print_profile(stats, i)
            if args.tracemalloc:
                snap = tracemalloc.take_snapshot()
                for stat in snap.compare_to(snap0, "traceback")[: args.tracemalloc]:
                    print(f"  {stat.size_diff / 2**20:+.2f} MiB {stat.count_diff:+d} blocks", flush=True)
                    for line in stat.traceback.format()[-6:]:
                        print("     ", line, flush=True)


if __name__ == "__main__":
    main()
