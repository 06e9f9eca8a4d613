"""`workbench run` overhead per job against GNU parallel (or xargs -P), same run, same machine.

Issue 10: "`workbench run` overhead per job against GNU `parallel` (Debian
package) or `xargs -P` on 1,000 trivial commands in the same run: <= 2 x their
per-job time."

How it measures: ``--jobs`` trivial commands (``true``) at ``--workers`` at
once, by each tool, in alternating rounds (``--rounds``), wall time from
start to exit of the whole command:

* ``workbench run --file jobs.toml --max-workers K`` (a jobs file of N jobs,
  each a :class:`~workbench.execute.Command` with its log file, its
  ``task_runs`` record, a named executor publishing its state);
* ``parallel -j K true ::: 1..N`` (GNU parallel, when installed; ``apt-get
  install parallel``), else only xargs;
* ``xargs -P K -n 1 true`` (a floor: no per-job bookkeeping at all).

Per-job time is the *marginal* cost, ``(wall(N) - wall(1)) / (N - 1)``, so each
tool's start-up (Python imports for us, Perl for parallel) is reported apart
and not spread over the jobs; ``wall / N`` is printed too. The target compares
our marginal per-job time with parallel's (xargs when parallel is missing).

    nice -n 5 .venv/bin/python benchmarks/run_overhead.py [--jobs 1000] [--workers 2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TARGET = 2.0


def jobs_file(path: Path, n: int) -> Path:
    lines = [f'[jobs.j{i:05d}]\ncmd = ["true"]\n' for i in range(n)]
    path.write_text("\n".join(lines))
    return path


def timed(argv: list[str], *, stdin: str | None = None, env: dict | None = None) -> float:
    t0 = time.perf_counter()
    res = subprocess.run(argv, input=stdin, text=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    took = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"{argv[:6]} failed with exit code {res.returncode}: {res.stderr[-2000:]}")
    return took


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", help="also write the result here")
    args = ap.parse_args()
    n, k = args.jobs, args.workers
    parallel = shutil.which("parallel")
    xargs = shutil.which("xargs")
    env = {key: v for key, v in os.environ.items() if not key.startswith("WORKBENCH_")}
    with tempfile.TemporaryDirectory(prefix="wb-run-bench-") as tmp:
        tmp = Path(tmp)
        many, one = jobs_file(tmp / "many.toml", n), jobs_file(tmp / "one.toml", 1)
        seq_many = "\n".join(str(i) for i in range(n)) + "\n"

        def ours(spec: Path, home: Path) -> float:
            return timed([sys.executable, "-m", "workbench.cli", "--home", str(home), "run", "--file", str(spec),
                          "--max-workers", str(k), "--progress", "plain"], env=env)

        tools = {"workbench run": lambda count, r: ours(many if count == n else one, tmp / f"home-{r}-{count}")}
        if parallel:
            tools["GNU parallel"] = lambda count, r: timed(
                [parallel, "--will-cite", "-j", str(k), "true"], stdin=seq_many if count == n else "0\n")
        if xargs:
            tools["xargs -P"] = lambda count, r: timed(
                [xargs, "-P", str(k), "-n", "1", "true"], stdin=seq_many if count == n else "0\n")
        walls: dict[str, list[float]] = {t: [] for t in tools}
        starts: dict[str, list[float]] = {t: [] for t in tools}
        for r in range(args.rounds):
            for tool, fn in tools.items():  # alternating: each round runs every tool once
                starts[tool].append(fn(1, r))
                walls[tool].append(fn(n, r))
                print(f"round {r + 1}: {tool:14s} {n} jobs {walls[tool][-1]:7.2f} s, 1 job {starts[tool][-1]:.2f} s",
                      flush=True)
        # every job recorded once, done
        from workbench.store import Store

        df = Store(tmp / f"home-{args.rounds - 1}-{n}").sql("SELECT state, count(*) AS n FROM task_runs GROUP BY state")
        recorded = dict(zip(df.state, df.n, strict=True))
    rows = {}
    for tool in tools:
        wall, start = statistics.median(walls[tool]), statistics.median(starts[tool])
        rows[tool] = {"wall_s": wall, "startup_s": start, "per_job_ms": (wall - start) / (n - 1) * 1e3,
                      "wall_per_job_ms": wall / n * 1e3, "rounds": walls[tool]}
    peer = "GNU parallel" if "GNU parallel" in rows else "xargs -P"
    ratio = rows["workbench run"]["per_job_ms"] / rows[peer]["per_job_ms"]
    load = os.getloadavg()
    print(f"\n{n} trivial commands, {k} at once, median of {args.rounds} alternating rounds "
          f"(load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} CPUs):")
    print(f"{'tool':16s} {'wall':>8s} {'start-up':>9s} {'per job':>9s} {'wall/N':>8s}")
    for tool, row in rows.items():
        print(f"{tool:16s} {row['wall_s']:7.2f}s {row['startup_s']:8.2f}s {row['per_job_ms']:7.2f}ms "
              f"{row['wall_per_job_ms']:6.2f}ms")
    paired = [a / b for a, b in zip(walls["workbench run"], walls[peer], strict=True)]
    print(f"round by round, wall time of {n} jobs, workbench run / {peer}: "
          + ", ".join(f"{x:.2f}" for x in paired))
    verdict = "within" if ratio <= TARGET else "OVER"
    print(f"workbench run per job = {ratio:.2f} x {peer}'s ({verdict} the target of <= {TARGET:g} x); "
          f"task_runs of the last run: {recorded}")
    result = {"jobs": n, "workers": k, "rounds": args.rounds, "tools": rows, "peer": peer, "ratio": ratio,
              "paired_wall_ratios": paired,
              "target": TARGET, "within_target": ratio <= TARGET, "task_runs": recorded, "loadavg": load}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    ok = recorded == {"done": n}
    if not ok:
        print(f"task_runs should hold {n} done runs; holds {recorded}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
