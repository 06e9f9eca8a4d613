"""Report benchmark: the daily report on a week of 1 s data, its HTML, and the agent while one runs.

    python benchmarks/report.py [--days 7] [--series 20] [--keep DIR]

Builds a home with ``--series`` series of 1 s samples over ``--days`` days
(the metrics the report headlines: CPU, memory, load, disk, network, disk
I/O, HTTP requests), compacts it as the agent would (hour rollups), then
measures, in the same run:

* ``workbench report daily`` (papermill, our offline HTML export): wall time
  (target <= 60 s) and HTML size;
* the peer: ``jupyter nbconvert --execute --to html --no-input`` on the same
  notebook (nbconvert's own template): wall time, size, and the scripts it
  loads from other hosts (ours: none);
* a real ``workbench agent`` with the report scheduled (due at once): its
  peak RSS while the report's child process runs, beside its RSS before,
  and the child's own peak.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "report.ipynb"

# (metric, labels, kind): 20 series the report's sections read
SERIES = [
    ("system.cpu.utilization", "cpu=total,state=idle", "idle"),
    ("system.cpu.utilization", "cpu=total,state=user", "util"),
    ("system.cpu.utilization", "cpu=total,state=system", "small"),
    ("system.cpu.utilization", "cpu=total,state=iowait", "small"),
    ("system.memory.utilization", "", "util"),
    ("system.memory.usage", "state=used", "bytes"),
    ("system.memory.usage", "state=available", "bytes"),
    ("system.cpu.load_average.1m", "", "load"),
    ("system.cpu.load_average.5m", "", "load"),
    ("system.filesystem.utilization", "device=vda1,mountpoint=/", "fill"),
    ("system.network.io", "device=eth0,direction=receive", "rate"),
    ("system.network.io", "device=eth0,direction=transmit", "rate"),
    ("system.disk.io", "device=vda,direction=read", "rate"),
    ("system.disk.io", "device=vda,direction=write", "rate"),
    ("system.disk.operations", "device=vda,direction=read", "rate"),
    ("system.disk.operations", "device=vda,direction=write", "rate"),
    ("system.paging.usage", "state=used", "bytes"),
    ("system.processes.count", "status=running", "load"),
    ("system.pressure.stall", "resource=cpu,scope=some", "small"),
    ("app.http.requests", "", "rate"),
]


def series(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n)
    daily = np.sin(2 * np.pi * t / 86400.0)
    if kind in ("util", "idle"):
        x = np.clip(0.35 + 0.2 * daily + 0.08 * rng.standard_normal(n), 0, 1)
        return np.round(1 - x if kind == "idle" else x, 3)
    if kind == "small":
        return np.round(np.clip(0.02 + 0.01 * daily + 0.01 * rng.standard_normal(n), 0, 1), 3)
    if kind == "fill":
        return np.round(0.6 + 0.25 * t / n + 0.001 * rng.standard_normal(n), 4)
    if kind == "load":
        return np.round(np.clip(2 + daily + 0.3 * rng.standard_normal(n), 0, None), 2)
    if kind == "bytes":
        return (8 * 2**30 + np.cumsum(rng.integers(-64, 65, n) * 4096)).astype(float)
    base = np.abs(rng.normal(2e4, 5e3, n)) * (1 + daily)
    burst = rng.random(n) < 0.01
    base[burst] *= rng.uniform(10, 100, burst.sum())
    return np.round(base)


def build(home: Path, days: int, n_series: int) -> tuple[int, float, float]:
    from workbench.demo import _known_specs
    from workbench.store import CompactionPolicy, Compactor, Store
    from workbench.store._segment import SAMPLE_SCHEMA, TS

    store = Store(home, host="bench-host")
    specs = _known_specs()
    chosen = SERIES[:n_series]
    store.register_metrics([specs[m] for m in sorted({m for m, _, _ in chosen}) if m in specs])
    rng = np.random.default_rng(0)
    n = days * 86400
    end = pd.Timestamp.now("UTC").floor("s")
    start_us = int((end - pd.Timedelta(seconds=n)).value // 1000)
    values = [series(k, n, rng) for _, _, k in chosen]
    t0 = time.perf_counter()
    total = 0
    for lo in range(0, n, 3600):
        hi = min(n, lo + 3600)
        k = hi - lo
        ts = np.arange(start_us + lo * 1_000_000, start_us + hi * 1_000_000, 1_000_000, dtype=np.int64)
        table = pa.Table.from_arrays([
            pa.array(np.tile(ts, len(chosen))).cast(TS),
            pa.array(["bench-host"] * (k * len(chosen))),
            pa.array(np.repeat([m for m, _, _ in chosen], k)),
            pa.array(np.repeat([lab for _, lab, _ in chosen], k)),
            pa.array(np.concatenate([v[lo:hi] for v in values])),
        ], schema=SAMPLE_SCHEMA)
        store.append_arrow(table, host="bench-host", trusted=True)
        total += table.num_rows
    ingest = time.perf_counter() - t0
    t0 = time.perf_counter()
    comp = Compactor(store.layout, "bench-host", CompactionPolicy())
    comp.run_once()
    comp.close()
    return total, ingest, time.perf_counter() - t0


def foreign_scripts(html: str) -> list[str]:
    return sorted(set(re.findall(r'<script[^>]+src="(https?://[^"]+)"', html)))


def run_ours(home: Path) -> tuple[float, Path]:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "workbench.cli", "--home", str(home), "report", "daily", "--since",
                          "1d", "-p", "horizon=1d", "-p", "title=Daily report"], capture_output=True, text=True,
                         cwd=REPO)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"workbench report failed:\n{out.stderr[-3000:]}")
    return wall, Path(out.stdout.splitlines()[0].strip())


def run_peer(home: Path, tmp: Path) -> tuple[float, Path]:
    target = tmp / "peer.html"
    env = dict(os.environ, WORKBENCH_HOME=str(home))
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--execute", "--to", "html", "--no-input",
                          "--output", str(target), str(NOTEBOOK)], capture_output=True, text=True, env=env, cwd=REPO)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"nbconvert failed:\n{out.stderr[-3000:]}")
    return wall, target


def agent_while_reporting(home: Path, tmp: Path, timeout: float = 300) -> dict[str, float]:
    toml = tmp / "workbench.toml"
    toml.write_text('[reports.scheduled]\ncron = "* * * * *"\n[reports.scheduled.params]\nsince = "1d"\n')
    reports = home / "reports"
    reports.mkdir(exist_ok=True)
    # due at the next minute: the agent runs a while first, so "before" is its settled size
    (reports / ".schedule.json").write_text(json.dumps({"last_slots": {"scheduled": time.time()}, "runs": {}}))
    env = dict(os.environ, WORKBENCH_HOME=str(home))
    proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", "--config", str(toml), "agent", "--host", "bench-agent",
                             "--duration", str(int(timeout))], env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    agent = psutil.Process(proc.pid)
    before: list[int] = []
    during: list[int] = []
    after: list[int] = []
    ended_at = None
    child_peak = 0
    seen_child = False
    last = reports / "scheduled" / "last_run.json"
    t_end = time.monotonic() + timeout
    try:
        while time.monotonic() < t_end:
            try:
                rss = agent.memory_info().rss
                children = agent.children(recursive=True)
            except psutil.Error:  # the agent itself is gone
                break
            kids = []
            for c in children:
                try:
                    if "workbench.report._child" in " ".join(c.cmdline()):
                        kids.append(c)
                except psutil.Error:  # a child that has just ended
                    pass
            if kids:
                seen_child = True
                during.append(rss)
                for c in kids:
                    try:
                        tree = [c, *c.children(recursive=True)]
                        child_peak = max(child_peak, sum(p.memory_info().rss for p in tree))
                    except psutil.Error:
                        pass
            elif not seen_child:
                before.append(rss)
            elif last.exists():
                after.append(rss)
                ended_at = ended_at or time.monotonic()
                if time.monotonic() - ended_at > 10:
                    break
            time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    run = json.loads(last.read_text()) if last.exists() else {}
    settled = before[len(before) // 2:] or [0]
    return {"agent_rss_before": max(settled), "agent_rss_peak_during": max(during) if during else 0,
            "agent_rss_after": max(after) if after else 0,
            "child_tree_peak": child_peak, "status": run.get("status", "none"), "run_s": run.get("duration_s", 0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--series", type=int, default=20, choices=range(1, len(SERIES) + 1), metavar="N")
    ap.add_argument("--keep", type=Path, help="build the home here and keep it (default: a temporary one)")
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--no-agent", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wb-bench-report-"))
    home = args.keep or tmp / "home"
    try:
        rows, ingest, compact = build(home, args.days, args.series)
        print(f"data: {rows:,} samples ({args.series} series x {args.days} d at 1 s); ingest {ingest:.1f} s, "
              f"compaction {compact:.1f} s", flush=True)
        wall, html = run_ours(home)
        page = html.read_text(encoding="utf-8")
        print(f"ours : workbench report daily   {wall:6.1f} s  HTML {len(page.encode()) / 2**20:5.2f} MiB  "
              f"scripts from other hosts: {len(foreign_scripts(page))}  (target <= 60 s)", flush=True)
        if not args.no_peer:
            pwall, phtml = run_peer(home, tmp)
            ppage = phtml.read_text(encoding="utf-8")
            print(f"peer : jupyter nbconvert --execute --to html --no-input  {pwall:6.1f} s  "
                  f"HTML {len(ppage.encode()) / 2**20:5.2f} MiB  scripts from other hosts: "
                  f"{len(foreign_scripts(ppage))} {foreign_scripts(ppage)}", flush=True)
        if not args.no_agent:
            a = agent_while_reporting(home, tmp)
            print(f"agent: RSS {a['agent_rss_before'] / 2**20:.1f} MiB before, peak {a['agent_rss_peak_during'] / 2**20:.1f}"
                  f" MiB while the scheduled report ran ({a['status']}, {a['run_s']:.1f} s), "
                  f"{a['agent_rss_after'] / 2**20:.1f} MiB in the 10 s after; the report's child "
                  f"process tree peaked at {a['child_tree_peak'] / 2**20:.0f} MiB", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
