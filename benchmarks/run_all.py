"""Run every benchmark, one after the other, as ``make bench`` does.

Each benchmark is its own script (they can be run alone; their commands are in
``docs/benchmarks/*.md``) and runs here in a fresh subprocess, so one crashing or
one holding memory does not spoil the next. Output streams to the terminal and
to ``bench-out/<name>.log``; a summary table with each exit status and wall
time ends the run. They run in sequence, never together: each measures the
machine, and two at once would measure each other.

    python benchmarks/run_all.py                      # everything (about an hour on 2 cores)
    python benchmarks/run_all.py --quick              # smaller runs of the slow ones (~10 min)
    python benchmarks/run_all.py --only store,nab     # a selection
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def shared_data() -> Path:
    """The reference data (NAB, M4): ``$WORKBENCH_SHARED_DATA`` or ``../shared/data``."""
    env = os.environ.get("WORKBENCH_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


@dataclass(frozen=True)
class Bench:
    name: str
    full: list[str]
    quick: list[str]
    needs_data: bool = False


def benches(data: Path, out: Path) -> list[Bench]:
    m4 = ["--train", str(data / "m4-hourly" / "Hourly-train.csv"),
          "--test", str(data / "m4-hourly" / "Hourly-test.csv"), "--horizon", "48", "--season-length", "24"]
    nab_cpu = ["--data", str(data / "nab" / "data" / "realAWSCloudwatch")]
    return [
        Bench("store", ["store.py"], ["store.py", "--days", "2"]),
        Bench("collector_cost", ["collector_cost.py"], ["collector_cost.py", "--ticks", "10"]),
        Bench("agent_overhead", ["agent_overhead.py"], ["agent_overhead.py", "--duration", "20"]),
        Bench("nab", ["nab.py", "all", "--out", str(out / "nab")],
              ["nab.py", "all", "--out", str(out / "nab")], needs_data=True),
        Bench("forecast_m4", ["forecast_m4.py", *m4, "--out", str(out / "m4-hourly"), "--arima-every", "20"],
              ["forecast_m4.py", *m4, "--out", str(out / "m4-hourly-quick"), "--limit", "40",
               "--models", "Naive2,SeasonalNaive,ETS,Regression,AutoForecaster,sf_AutoETS,sf_AutoTheta"],
              needs_data=True),
        Bench("forecast_nab", ["forecast_nab.py", *nab_cpu, "--out", str(out / "nab-cpu")],
              ["forecast_nab.py", *nab_cpu, "--out", str(out / "nab-cpu-quick"), "--origins", "1"],
              needs_data=True),
        Bench("executor", ["executor.py"], ["executor.py", "--quick"]),
        Bench("control_latency", ["control_latency.py"],
              ["control_latency.py", "--actions", "20", "--executor-actions", "20", "--duration", "15"]),
        Bench("run_overhead", ["run_overhead.py"], ["run_overhead.py", "--jobs", "200", "--rounds", "1"]),
        Bench("report", ["report.py"], ["report.py", "--days", "1"]),
        Bench("dashboard", ["dashboard.py", "--minutes", "30", "--glances", str(Path(sys.executable).with_name("glances"))],
              ["dashboard.py", "--minutes", "1", "--glances", str(Path(sys.executable).with_name("glances"))]),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller runs of the slow benchmarks")
    ap.add_argument("--only", help="comma-separated names (default: all)")
    ap.add_argument("--out", type=Path, default=REPO / "bench-out", help="logs and outputs (default: bench-out/)")
    args = ap.parse_args(argv)

    data = shared_data()
    args.out.mkdir(parents=True, exist_ok=True)
    selected = benches(data, args.out)
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        known = {b.name for b in selected}
        unknown = sorted(set(wanted) - known)
        if unknown:
            ap.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(sorted(known))}")
        selected = [b for b in selected if b.name in wanted]

    results: list[tuple[str, str, float]] = []
    for bench in selected:
        if bench.needs_data and not data.is_dir():
            print(f"== {bench.name}: skipped, reference data not found at {data} "
                  "(put ../shared/data beside the repo or set WORKBENCH_SHARED_DATA)", flush=True)
            results.append((bench.name, "skipped (no data)", 0.0))
            continue
        argv_ = bench.quick if args.quick else bench.full
        cmd = [sys.executable, str(HERE / argv_[0]), *argv_[1:]]
        print(f"\n== {bench.name}: {' '.join(cmd)}", flush=True)
        log = args.out / f"{bench.name}.log"
        start = time.perf_counter()
        with log.open("w") as fh, subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE,
                                                   stderr=subprocess.STDOUT, text=True) as proc:
            for line in proc.stdout:
                sys.stdout.write(line)
                fh.write(line)
            rc = proc.wait()
        wall = time.perf_counter() - start
        results.append((bench.name, "ok" if rc == 0 else f"exit {rc}", wall))

    print("\n| benchmark | status | wall s | log |\n|---|---|---:|---|")
    for name, status, wall in results:
        print(f"| {name} | {status} | {wall:.0f} | bench-out/{name}.log |")
    return 0 if all(s == "ok" or s.startswith("skipped") for _, s, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
