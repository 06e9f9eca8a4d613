"""The agent's resident memory, honestly: RSS, and how much of it is shared (PSS, USS).

Issue #13, item 15: "bring the agent with every default collector to <= 80 MiB
RSS, and with a ``predicted`` rule to <= 120 MiB". RSS counts every page the
process maps, including shared libraries' code that other processes use too;
PSS divides shared pages among the processes mapping them; USS is what the
process alone holds (Private_Clean + Private_Dirty: what the kernel would free
if it exited). All three are printed, beside RssAnon (heap, arenas, Arrow
buffers) and RssFile (mapped files: libarrow, libpython, numpy's .so ...).

Each case is a real ``workbench agent`` on a fresh temporary home, read from
/proc after it has flushed and absorbed its L0 files several times and run
its compaction child once (``compact_interval`` is shortened so that happens
inside the run; the child's memory is gone by then and not counted):

* ``default``: every default collector, no config;
* ``predicted``: the same and one ``predicted`` rule (Drift forecast);
* ``peer``: a bare ``python -c "import psutil, pyarrow, pyarrow.parquet"``
  process that sleeps -- the floor any agent writing Parquet with pyarrow pays.

    nice -n 10 .venv/bin/python benchmarks/agent_memory.py [--seconds 45] [--json out.json]

It also prints which heavy modules each agent had loaded (``--modules``, read
from the agent through ``WORKBENCH_DEBUG_MODULES``: see ``workbench/_agent_status.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"default": 80.0, "predicted": 120.0}

PREDICTED_RULE = """
[agent]
compact_interval = 20

[[alerts.rules]]
name = "memory_soon_full"
kind = "predicted"
metric = "system.memory.utilization"
level = 0.99
horizon = "30min"
probability = 0.9
"""

DEFAULT = """
[agent]
compact_interval = 20
"""

PEER = "import psutil, pyarrow, pyarrow.parquet, sys, time; sys.stdout.write('ready\\n'); sys.stdout.flush(); time.sleep(3600)"

HEAVY = ("pandas", "duckdb", "scipy", "statsmodels", "sklearn", "pyarrow.compute", "pyarrow.dataset")


def read_memory(pid: int) -> dict[str, float]:
    """MiB figures of one process from /proc/PID/status and /proc/PID/smaps_rollup."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM"):
            out[key] = int(rest.split()[0]) / 1024
    roll: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, _, rest = line.partition(":")
        roll[key] = int(rest.split()[0]) / 1024
    out["Pss"] = roll["Pss"]
    out["USS"] = roll["Private_Clean"] + roll["Private_Dirty"]
    out["Shared"] = roll["Shared_Clean"] + roll["Shared_Dirty"]
    return out


def run_agent(tmp: Path, name: str, config: str, seconds: float) -> dict:
    home = tmp / f"home-{name}"
    cfg = tmp / f"{name}.toml"
    cfg.write_text(config)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    env["WORKBENCH_DEBUG_MODULES"] = ",".join(HEAVY)
    cmd = [sys.executable, "-m", "workbench.cli", "--config", str(cfg), "--home", str(home), "agent",
           "--duration", f"{seconds + 60:g}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=tmp,
                            start_new_session=True)
    try:
        samples = []
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            time.sleep(1.0)
            if proc.poll() is not None:
                raise RuntimeError(f"agent {name} exited ({proc.returncode}): "
                                   f"{proc.stderr.read().decode(errors='replace')[-2000:]}")
            if time.monotonic() - t0 > seconds / 2:  # steady state: the second half of the run
                samples.append(read_memory(proc.pid))
        status_files = list(home.glob("hosts/*/agent-status.json"))
        status = json.loads(status_files[0].read_text()) if status_files else {}
        manifest = json.loads(next(home.glob("hosts/*/manifest.json")).read_text())
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    last = samples[-1]
    comp = status.get("compaction") or {}
    return {**last, "VmRSS_max": max(s["VmRSS"] for s in samples),
            "modules": status.get("debug_modules"), "absorbed": bool(manifest.get("absorbed")),
            "compactions": comp.get("runs", comp)}


def run_peer() -> dict:
    proc = subprocess.Popen([sys.executable, "-c", PEER], stdout=subprocess.PIPE, start_new_session=True)
    try:
        proc.stdout.readline()
        time.sleep(1.0)
        return read_memory(proc.pid)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=45.0, help="seconds each agent runs (default 45)")
    ap.add_argument("--only", choices=("default", "predicted"), help="one agent case only")
    ap.add_argument("--json", help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    load = os.getloadavg()
    print(f"load average {load[0]:.2f}, Python {sys.version.split()[0]}, each agent {args.seconds:g} s "
          f"(read every second over the second half; the last reading is shown)")
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="wb-agent-mem-") as tmp:
        for name, config in (("default", DEFAULT), ("predicted", PREDICTED_RULE)):
            if args.only and name != args.only:
                continue
            results[name] = run_agent(Path(tmp), name, config, args.seconds)
    results["peer"] = run_peer()
    cols = ("VmRSS", "VmRSS_max", "RssAnon", "RssFile", "Pss", "USS", "Shared")
    print(f"\n{'process':<12}" + "".join(f"{c:>11}" for c in cols) + "   (MiB)")
    for name, r in results.items():
        print(f"{name:<12}" + "".join(f"{r.get(c, float('nan')):>11.1f}" for c in cols))
    print()
    for name, r in results.items():
        if "modules" in r:
            print(f"{name}: heavy modules loaded {r['modules']}; L0 absorbed: {r['absorbed']}")
    print()
    for name, target in TARGETS.items():
        if name in results:
            rss = results[name]["VmRSS_max"]
            print(f"  [{'met' if rss <= target else 'NOT MET'}] {name} agent RSS max {rss:.1f} MiB <= {target:g} MiB"
                  f" ({rss / results['peer']['VmRSS']:.2f} x the peer's RSS)")
    if args.json:
        Path(args.json).write_text(json.dumps({**results, "load_average": load,
                                               "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
