"""Agent overhead beside Glances, measured in the same run on the same machine.

Issue #2: "CPU % of one core and RSS over 60 s at 1 s intervals with every
default collector on, with ~300 extra idle processes running, measured in the
same run as Glances (``glances --export csv``, refresh 1 s). Target: the
agent's CPU <= 0.7 x Glances' and <= 1 % of one core; RSS <= 80 MiB."

How it measures, and why that way:

* Both monitors run as real subprocesses, one after the other (never at the
  same time, so neither pays for scanning the other), each with the same
  ~300 idle ``sleep`` children of this script alive.
* Each gets a warm-up (imports, first-tick priming) that is excluded; the
  window that counts is ``--duration`` seconds of steady state. Start-up CPU
  is printed separately so it is not hidden.
* CPU is read from outside with psutil: user + system time of the monitor,
  plus time of its children — live ones and, through ``children_user`` /
  ``children_system``, those that exited and were reaped (the agent's
  compaction child). So work moved into a child is still counted.
* RSS is sampled twice a second: the monitor's own RSS and, separately, the
  peak RSS of any child process, because a child's memory is real but
  short-lived and should not be blended into the resident figure.
* The agent absorbs its L0 files into chunks itself every 10 s (inside the
  measured window), and runs the full compaction cycle in a child process
  every ``compact_interval`` (300 s by default), which a 60 s window would
  mostly miss. So after the agent's run the script stages what one default
  cycle finds -- 300 s of the agent's own L0 files, copied under new names,
  absorbed 10 at a time by the agent's own absorb step -- runs the same
  child command the agent runs over it, and adds its CPU spread over 300 s
  to the agent's figure. Its peak RSS is reported on its own.
* ``--live-reads SECONDS`` measures the other side instead: how many files a
  reader of a live agent's home must open, and the latency of "last 5 min"
  and "last 1 h" of one metric while the agent records.

    nice -n 5 .venv/bin/python benchmarks/agent_overhead.py [--duration 60] [--procs 300]
        [--config workbench.toml] [--only agent|glances] [--json out.json] [--strict]
    nice -n 5 .venv/bin/python benchmarks/agent_overhead.py --live-reads 150

Prints both figures, the ratio and whether each target is met; the exit status
is 0 unless ``--strict`` is given and a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

TARGET_RATIO = 0.7  # agent CPU <= 0.7 x Glances'
TARGET_CPU_PCT = 1.0  # <= 1 % of one core
TARGET_RSS_MIB = 80.0


@dataclass
class Usage:
    """What one monitor cost over the measured window."""

    name: str
    cpu_pct: float  # of one core, over the window
    startup_cpu_s: float  # CPU spent before the window opened (imports, priming)
    rss_mean_mib: float
    rss_max_mib: float
    child_rss_max_mib: float  # peak RSS of any child (0 if it never had one)
    children_seen: int
    window_s: float
    rss_samples: list[float] = field(default_factory=list, repr=False)


def _cpu_total(proc: psutil.Process) -> float:
    """CPU seconds of ``proc``, its reaped children and its live children."""
    t = proc.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in proc.children(recursive=True):
        try:
            ct = child.cpu_times()
            total += ct.user + ct.system
        except psutil.Error:
            pass  # exited between listing and reading; counted once reaped
    return total


def measure(name: str, cmd: list[str], *, warmup: float, duration: float, env: dict | None = None,
            cwd: str | None = None) -> Usage:
    """Start ``cmd``, skip ``warmup`` seconds, then measure ``duration`` seconds."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd,
                            start_new_session=True)
    ps = psutil.Process(proc.pid)
    try:
        time.sleep(warmup)
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited during warm-up (code {proc.returncode}): "
                               f"{proc.stderr.read().decode(errors='replace')[-2000:]}")
        startup = _cpu_total(ps)
        t0, c0 = time.monotonic(), startup
        rss, child_peak, seen = [], 0.0, set()
        while (now := time.monotonic()) < t0 + duration:
            try:
                rss.append(ps.memory_info().rss / 2**20)
                for child in ps.children(recursive=True):
                    try:
                        child_peak = max(child_peak, child.memory_info().rss / 2**20)
                        seen.add(child.pid)
                    except psutil.Error:
                        pass
            except psutil.Error:
                break
            time.sleep(min(0.5, max(0.0, t0 + duration - now)))
        c1, t1 = _cpu_total(ps), time.monotonic()
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited during the measurement (code {proc.returncode}): "
                               f"{proc.stderr.read().decode(errors='replace')[-2000:]}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    return Usage(name, (c1 - c0) / (t1 - t0) * 100.0, startup, statistics.fmean(rss), max(rss), child_peak,
                 len(seen), t1 - t0, rss)


def agent_cmd(home: Path, total: float, config: str | None) -> list[str]:
    extra = ["--config", config] if config else []
    return [sys.executable, "-m", "workbench.cli", *extra, "--home", str(home), "agent", "--duration", f"{total:g}"]


def glances_cmd(glances: str, csv: Path, total: float) -> list[str]:
    # --stop-after counts refreshes; it is only a safety net, we stop it ourselves.
    return [glances, "--export", "csv", "--export-csv-file", str(csv), "-t", "1", "--quiet",
            "--disable-webui", "--disable-check-update", "--stop-after", str(int(total) + 30)]


@dataclass
class Compaction:
    """Cost of one default compaction cycle of the agent, on the agent's own files."""

    files: int  # L0 files absorbed (what one cycle at the default interval finds)
    cpu_s: float  # CPU of that cycle (child process: start-up, imports, work)
    cpu_idle_s: float  # CPU of a cycle with nothing to absorb (start-up and imports alone)
    peak_rss_mib: float
    interval_s: float  # the agent's default compact_interval
    # The child on 300 s of L0 files nobody absorbed (the agent's absorb step failing, or
    # the layout before the agent absorbed): the old default cycle, kept for comparison.
    l0_cpu_s: float = 0.0
    l0_peak_rss_mib: float = 0.0

    @property
    def amortized_pct(self) -> float:
        """CPU % of one core that compaction adds, averaged over its interval."""
        return self.cpu_s / self.interval_s * 100.0


def _run_compaction_child(home: Path, host: str, policy: str) -> tuple[float, dict]:
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([sys.executable, "-m", "workbench.store._compaction_child", str(home), host, policy,
                           str(os.getpid())], capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"compaction child failed ({proc.returncode}): {proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, json.loads(proc.stdout.strip().splitlines()[-1])


def measure_compaction(agent_home: Path, work: Path, config: str | None) -> Compaction:
    """Run the agent's compaction child on what it finds after one interval of the agent's recording.

    The agent's files are staged as the agent produces them: ``flush_interval``
    L0 files at a time, with the agent's own absorb step (``absorb_once``, in
    this process: its CPU is agent-loop CPU, already inside the measured
    window) after every ``absorb_interval`` of them. Then the child runs the
    full cycle on the result, as it would every ``compact_interval``.
    """
    from workbench.config import Config, load_config
    from workbench.store._compact import CompactionPolicy, Compactor
    from workbench.store._layout import Layout

    cfg = load_config(config) if config else Config()  # as the agent sees it: that file or every default
    policy = json.dumps(cfg.compaction_policy_kwargs())
    (host,) = [p.name for p in (agent_home / "hosts").iterdir() if p.is_dir()]
    files = sorted(p for p in (agent_home / "hosts" / host / "incoming").glob("*.parquet"))
    if not files:
        raise RuntimeError(f"the agent wrote no L0 files under {agent_home}")
    want = round(cfg.agent.compact_interval / cfg.agent.flush_interval)
    per_absorb = max(1, round(min(cfg.agent.absorb_interval, cfg.agent.compact_interval) / cfg.agent.flush_interval))
    def stage(home: Path, absorb: bool) -> int:
        incoming = home / "hosts" / host / "incoming"
        incoming.mkdir(parents=True)
        steps = Compactor(Layout(home), host, CompactionPolicy(**cfg.compaction_policy_kwargs()))
        by_steps = 0
        for i in range(want):  # copies keep the agent's file contents and time range; new stream names
            src = files[i % len(files)]
            _stream, seq, tmin, tmax = src.stem.rsplit("-", 3)
            shutil.copyfile(src, incoming / f"benchcopy{i // len(files)}-{seq}-{tmin}-{tmax}.parquet")
            if absorb and (i + 1) % per_absorb == 0:
                by_steps += steps.absorb_once().absorbed
        return by_steps

    by_steps = stage(work, absorb=True)
    cpu, report = _run_compaction_child(work, host, policy)
    if by_steps + report["absorbed"] != want:
        raise RuntimeError(f"{by_steps} + {report['absorbed']} of {want} staged files were absorbed")
    idle, report2 = _run_compaction_child(work, host, policy)
    peak = max(report["peak_rss_bytes"], report2["peak_rss_bytes"]) / 2**20
    stage(work / "l0-only", absorb=False)
    l0_cpu, report3 = _run_compaction_child(work / "l0-only", host, policy)
    if report3["absorbed"] != want:
        raise RuntimeError(f"compaction absorbed {report3['absorbed']} of {want} staged files")
    return Compaction(want, cpu, idle, peak, cfg.agent.compact_interval, l0_cpu, report3["peak_rss_bytes"] / 2**20)


def live_reads(seconds: float, config: str | None, *, repeats: int = 21) -> dict:
    """What a reader of a live agent's home pays: files to open, and query latency.

    Records for ``seconds`` with a real agent, counting once a second the files
    a reader's snapshot would open for "the last 5 minutes" (L0 files not yet
    absorbed plus raw chunks) and the L0 files waiting in ``incoming/``; then,
    with the agent still recording, times two dashboard queries: the last
    5 min and the last 1 h of one metric, raw (median of ``repeats`` runs).
    """
    from workbench.store import Store
    from workbench.store._layout import Layout
    from workbench.store._snapshot import take_snapshot

    with tempfile.TemporaryDirectory(prefix="wb-live-reads-") as tmp:
        home = Path(tmp) / "home"
        env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
        proc = subprocess.Popen(agent_cmd(home, seconds + 120, config), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=env, cwd=tmp, start_new_session=True)
        counts: list[tuple[float, int, int]] = []  # (seconds since start, files to open, L0 in incoming/)
        try:
            t0 = time.monotonic()
            while (el := time.monotonic() - t0) < seconds:
                time.sleep(1.0)
                if proc.poll() is not None:
                    raise RuntimeError(f"the agent exited (code {proc.returncode}): "
                                       f"{proc.stderr.read().decode(errors='replace')[-2000:]}")
                layout = Layout(home)
                if not layout.hosts():
                    continue
                snap = take_snapshot(layout)
                now_us = time.time_ns() // 1000
                opened = len(snap.raw(now_us - 300 * 1_000_000, None))
                l0 = sum(f.tier == "l0" for f in snap.files)
                counts.append((el, opened, l0))
            store = Store(home)
            lat = {}
            for label, start in (("last 5 min, one metric", "5min"), ("last 1 h raw, one metric", "1h")):
                store.query("system.cpu.utilization", start)  # warm the connection and the page cache
                runs = []
                for _ in range(repeats):
                    q0 = time.perf_counter()
                    df = store.query("system.cpu.utilization", start)
                    runs.append(time.perf_counter() - q0)
                lat[label] = (statistics.median(runs) * 1000, len(df))
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
    late = [c for c in counts if c[0] >= 30]  # after the first absorb interval(s)
    out = {
        "seconds": seconds,
        "max_files_to_open": max(c[1] for c in late),
        "mean_files_to_open": statistics.fmean(c[1] for c in late),
        "max_l0_waiting": max(c[2] for c in late),
        "final_files_to_open": counts[-1][1],
        "latency_ms": {k: v[0] for k, v in lat.items()},
        "rows": {k: v[1] for k, v in lat.items()},
    }
    print(f"live reads after {seconds:g} s of recording (counted from 30 s on):")
    print(f"  files a 5-minute query opens: max {out['max_files_to_open']}, mean {out['mean_files_to_open']:.1f}, "
          f"at the end {out['final_files_to_open']}; L0 files waiting: max {out['max_l0_waiting']}")
    for k, (ms, rows) in lat.items():
        print(f"  {k}: median {ms:.1f} ms ({rows} rows, {repeats} runs)")
    return out


def find_glances() -> str:
    here = Path(sys.executable).with_name("glances")
    found = str(here) if here.exists() else shutil.which("glances")
    if not found:
        raise SystemExit("glances is not installed: run `.venv/bin/pip install 'glances>=4.0'` "
                         "(or `make bench`, which installs the bench extra), then retry.")
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=60.0, help="measured seconds per monitor (default 60)")
    ap.add_argument("--warmup", type=float, default=8.0, help="seconds excluded after each start (default 8)")
    ap.add_argument("--procs", type=int, default=300, help="idle sleep processes to start (default 300)")
    ap.add_argument("--only", choices=("agent", "glances"), help="measure one monitor only")
    ap.add_argument("--json", help="also write the results to this JSON file")
    ap.add_argument("--config", help="run the agent with this workbench.toml (default: none, every default)")
    ap.add_argument("--strict", action="store_true", help="exit with status 1 when a target is not met")
    ap.add_argument("--live-reads", type=float, metavar="SECONDS",
                    help="instead: record SECONDS with an agent and measure what its readers pay (files, latency)")
    args = ap.parse_args(argv)
    if args.config:
        args.config = str(Path(args.config).resolve())
    if args.live_reads:
        load = os.getloadavg()
        print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        out = live_reads(args.live_reads, args.config)
        if args.json:
            Path(args.json).write_text(json.dumps({**out, "load_average": load,
                                                   "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, indent=1))
        return 0

    glances = find_glances() if args.only != "agent" else ""
    total = args.warmup + args.duration + 10
    sleepers = [subprocess.Popen(["sleep", str(int(2 * total + 120))]) for _ in range(args.procs)]
    results: dict[str, Usage] = {}
    comp: Compaction | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="wb-agent-bench-") as tmp:
            tmp = Path(tmp)
            # No workbench.toml or WORKBENCH_* from the caller: every default collector, default settings.
            env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
            time.sleep(0.5)
            load = os.getloadavg()
            print(f"{len(psutil.pids())} processes ({args.procs} idle sleepers started), {psutil.cpu_count()} CPUs, "
                  f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, psutil {psutil.__version__}")
            print(f"each monitor: {args.warmup:g} s warm-up excluded, then {args.duration:g} s measured\n")
            if args.only != "glances":
                results["agent"] = measure("workbench agent", agent_cmd(tmp / "home", total, args.config),
                                           warmup=args.warmup, duration=args.duration, env=env, cwd=str(tmp))
                comp = measure_compaction(tmp / "home", tmp / "compaction-home", args.config)
            if args.only != "agent":
                results["glances"] = measure("glances --export csv", glances_cmd(glances, tmp / "g.csv", total),
                                             warmup=args.warmup, duration=args.duration, env=env, cwd=str(tmp))
    finally:
        for s in sleepers:
            s.kill()
        for s in sleepers:
            s.wait()

    print(f"{'monitor':<22} {'CPU % of 1 core':>16} {'start-up CPU s':>15} {'RSS mean MiB':>13} "
          f"{'RSS max MiB':>12} {'child peak MiB':>15}")
    for u in results.values():
        child = f"{u.child_rss_max_mib:.1f} ({u.children_seen})" if u.children_seen else "-"
        print(f"{u.name:<22} {u.cpu_pct:>16.3f} {u.startup_cpu_s:>15.2f} {u.rss_mean_mib:>13.1f} "
              f"{u.rss_max_mib:>12.1f} {child:>15}")
    ok = True
    if "agent" in results:
        a = results["agent"]
        assert comp is not None
        total_pct = a.cpu_pct + comp.amortized_pct
        print(f"\nagent compaction child, one default cycle ({comp.files} L0 files absorbed by the agent, {comp.interval_s:g} s of "
              f"recording): {comp.cpu_s:.2f} s CPU (of which {comp.cpu_idle_s:.2f} s start-up, measured on an "
              f"empty cycle), peak RSS {comp.peak_rss_mib:.1f} MiB")
        print(f"  every {comp.interval_s:g} s: {comp.amortized_pct:.3f} % of one core on average")
        print(f"  (the child on {comp.files} L0 files nobody absorbed: {comp.l0_cpu_s:.2f} s CPU, peak RSS "
              f"{comp.l0_peak_rss_mib:.1f} MiB)")
        if args.config:
            print(f"  (agent configured by {args.config})")
        print(f"agent total (loop {a.cpu_pct:.3f} % + compaction {comp.amortized_pct:.3f} %): {total_pct:.3f} % of one core")
        checks = [(f"agent CPU {total_pct:.3f} % <= {TARGET_CPU_PCT:g} % of one core", total_pct <= TARGET_CPU_PCT),
                  (f"agent RSS max {a.rss_max_mib:.1f} MiB <= {TARGET_RSS_MIB:g} MiB", a.rss_max_mib <= TARGET_RSS_MIB)]
        if "glances" in results:
            ratio = total_pct / results["glances"].cpu_pct
            print(f"\nratio agent / glances CPU: {ratio:.2f}")
            checks.insert(0, (f"agent CPU / glances CPU {ratio:.2f} <= {TARGET_RATIO:g}", ratio <= TARGET_RATIO))
        print()
        for text, met in checks:
            print(f"  [{'met' if met else 'NOT MET'}] {text}")
            ok &= met
    if args.json:
        out = {k: {kk: vv for kk, vv in asdict(v).items() if kk != "rss_samples"} for k, v in results.items()}
        if comp is not None:
            out["compaction"] = {**asdict(comp), "amortized_pct": comp.amortized_pct}
        out["load_average"] = load
        out["date"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
