"""The `workbench run` command's arguments (argparse only: heavy imports happen inside the command)."""

from __future__ import annotations

import argparse
import os
import re
import sys

_EPILOG = """\
examples:
  workbench run -- make -j4                     one command, through the throttled executor
  workbench run --profile cpu --retry 2 -- ./simulate.sh --steps 1000
  workbench run --file jobs.toml                many jobs: dependencies, templates, limits

A jobs file (TOML):
  [templates.py]
  env = { PYTHONUNBUFFERED = "1" }
  timeout = "10min"

  [jobs.build]
  cmd = "make -j2"
  memory_limit = "2GiB"

  [jobs.test]
  template = "py"
  cmd = ["python", "-m", "pytest", "-q"]
  after = ["build"]
  retry = 2

Job keys: cmd, template, cwd, env, nice, cpu_affinity, memory_limit, timeout, retry,
priority, after. A [run] table may set name, profile and max_workers (flags win).

Each job's output is kept in HOME/runs/<run-id>/<job>.log. The run is a named
executor: `workbench executors` lists it, `workbench executor pause NAME` steers it.
Ctrl-C drains (running jobs finish, nothing else starts); a second Ctrl-C kills them.
Exit code: 0 when every job succeeded, 1 when some did not, 130 after Ctrl-C, 2 for a
bad jobs file or flag.
"""


def add_commands(sub) -> None:
    """Add `run` to the CLI's sub-parsers."""
    r = sub.add_parser(
        "run", help="run batch commands through the throttled executor (one, or a jobs file)",
        description="Run one command (after --) or the jobs of a TOML file through a named, throttled "
                    "executor, with a live progress view and a log file per job.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("--file", "-f", metavar="JOBS.toml", help="run the jobs of this file")
    r.add_argument("--name", help="the executor's name, as `workbench executors` shows it (default run-<run-id>)")
    r.add_argument("--profile", choices=("cpu", "io", "mixed"), default=None,
                   help="workload profile: how many jobs at once the governor allows (default mixed)")
    r.add_argument("--max-workers", type=int, metavar="K",
                   help="run at most K jobs at once, a fixed limit (default: the governor decides)")
    r.add_argument("--progress", choices=("auto", "live", "plain"), default="auto",
                   help="live view on a terminal, one line per event otherwise (default auto)")
    one = r.add_argument_group("one command (with --file, set these per job in the file)")
    one.add_argument("--job-name", help="the job's name (default: the program's name)")
    one.add_argument("--timeout", help="stop each try after this long, e.g. 90s, 10min")
    one.add_argument("--retry", type=int, default=0, metavar="N", help="retry up to N times after a failure")
    one.add_argument("--memory-limit", metavar="SIZE", help="address-space limit, e.g. 512MiB, 2G")
    one.add_argument("--nice", type=int, help="niceness to add, 0-19")
    one.add_argument("--cpu-affinity", metavar="CPUS", help="CPUs to run on, e.g. 0-3,6")
    r.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD ARGS...: the command to run")
    r.set_defaults(fn=cmd_run)


def _single_job(args) -> dict:
    cmd = list(args.command)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if args.file:
        if cmd:
            raise _usage(f"`workbench run` takes either --file or a command after --, not both; got --file "
                         f"{args.file} and {' '.join(cmd)!r}.")
        given = [f"--{f.replace('_', '-')}" for f in ("job_name", "timeout", "memory_limit", "nice", "cpu_affinity")
                 if getattr(args, f) is not None] + (["--retry"] if args.retry else [])
        if given:
            raise _usage(f"{', '.join(given)} set(s) one command's job; with --file set them per job in "
                         f"{args.file} (timeout = \"1h\", retry = 2, ...) or in a [templates.X] table.")
        return {}
    if not cmd:
        raise _usage("`workbench run` needs a command after -- (e.g. `workbench run -- make -j4`) or a jobs file "
                     "(`workbench run --file jobs.toml`).")
    name = args.job_name or re.sub(r"[^A-Za-z0-9_.-]", "_", os.path.basename(cmd[0]))[:64] or "job"
    table: dict = {"cmd": cmd}
    for flag, key in (("timeout", "timeout"), ("memory_limit", "memory_limit"), ("nice", "nice"),
                      ("cpu_affinity", "cpu_affinity")):
        value = getattr(args, flag)
        if value is not None:
            table[key] = value
    if args.retry:
        table["retry"] = args.retry
    return {"jobs": {name: table}}


def _usage(message: str):
    from workbench.errors import ConfigError

    return ConfigError(message)


def cmd_run(args) -> int:
    from workbench.config import load_config
    from workbench.execute._jobs import check_run_settings, load_jobs, parse_jobs

    data = _single_job(args)
    if args.file:
        spec = load_jobs(args.file)
    else:
        spec = parse_jobs(data, "workbench run", base=None)
    flags = {k: v for k, v in (("name", args.name), ("profile", args.profile), ("max_workers", args.max_workers))
             if v is not None}
    settings = check_run_settings(flags, "workbench run")  # the [run] table's rules, for the flags
    name = settings.get("name", spec.name)
    profile = settings.get("profile", spec.profile) or "mixed"
    max_workers = settings.get("max_workers", spec.max_workers)

    from workbench.execute._run import run_jobs, summary
    from workbench.execute._runview import choose_view
    from workbench.store import Store

    store = Store(load_config(getattr(args, "config", None), home=getattr(args, "home", None)).home)
    try:
        result = run_jobs(spec.jobs, store=store, name=name, profile=profile, max_workers=max_workers,
                          view=choose_view(args.progress, sys.stdout))
    except KeyboardInterrupt:  # before the run's own Ctrl-C handling was in place: nothing had started
        print("workbench run: interrupted while starting; no job was started.", file=sys.stderr)
        return 130
    out = sys.stdout if result.exit_code == 0 else sys.stderr
    for line in summary(result):
        print(line, file=out)
    for st in result.failed[:5]:
        tail = _tail(st.log_path, 5)
        if tail and st.record is not None and st.record.attempts:
            print(f"--- last lines of {st.job.name}'s log:", file=sys.stderr)
            print(tail, file=sys.stderr)
    return result.exit_code


def _tail(path, n: int) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if not ln.startswith("# workbench run:")]
    except OSError:
        return ""
    return "\n".join(lines[-n:])
