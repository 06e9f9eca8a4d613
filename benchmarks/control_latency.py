"""Control plane: action latency against a real agent, and what polling for actions costs it.

Issue 10: "Action latency from append to applied (p50, p95) with the agent at
its default intervals; the agent's CPU with and without control polling
(polling must cost <= 0.05 % of a core)."

How it measures:

* **Latency.** A real ``workbench agent`` subprocess (default intervals:
  control polling every 1 s) with one threshold rule that fires at once. This
  script acknowledges that alert ``--actions`` times through
  ``workbench.control`` (``alerts.ack``), each after a random pause of 0-1 s so
  that actions land at every phase of the agent's poll. *Append to applied* is
  the outcome record's time minus the action record's time (one clock: the
  same machine); *act to answer* is what a caller of ``act`` + ``wait`` sees.
* **Polling cost, directly.** An :class:`ActionPoller` over a home holding
  ``--backlog`` old action files polls ``--polls`` times with nothing new;
  its CPU time per poll (``time.thread_time``) at one poll a second is the
  fraction of a core it costs the agent.
* **Polling cost, from outside.** The agent (default configuration, no
  rules) runs with polling on and off (``Agent(control_interval=None)``),
  alternately, ``--rounds`` times ``--duration`` seconds each after a warm-up,
  on a home with the same backlog; CPU is the process's user + system time
  read with psutil. The difference is the polling's cost, within the noise
  the round-to-round spread shows.

* **Executor latency.** A busy named executor (``ThrottledExecutor(name=...)``,
  default ``control_interval`` of 1 s) in another process; this script sends it
  ``--executor-actions`` set_limit / reprioritise actions, each after a random
  pause of 0-1 s, and measures append to applied the same way.

    nice -n 5 .venv/bin/python benchmarks/control_latency.py [--actions 50] [--executor-actions 50]
        [--duration 60] [--rounds 1] [--parts agent,executor,poll,cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from workbench import alerts, control  # noqa: E402
from workbench.store import Store  # noqa: E402

TARGET_POLL_CORE = 0.0005  # 0.05 % of one core
HOST = "bench"
RULE = """
[[alerts.rules]]
name = "rss_always"
kind = "threshold"
metric = "workbench.agent.memory.rss"
fire = 0
"""
_AGENT = """
import sys
from workbench.agent import Agent
from workbench.config import load_config
cfg = load_config(sys.argv[1] or None, home=sys.argv[2], host=sys.argv[3])
Agent(cfg, control_interval=None if sys.argv[4] == "off" else float(sys.argv[4])).run()
"""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
    env.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")  # as `workbench agent` sets it
    return env


def _pct(values: list[float], q: float) -> float:
    data = sorted(values)
    return data[min(len(data) - 1, int(q * len(data)))]


def _agent(home: Path, config: str, polling: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _AGENT, config, str(home), HOST, polling], env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _backlog(store: Store, n: int) -> None:
    """``n`` old executor actions (one file each, as ``act`` writes them): files the agent's poller skips."""
    for i in range(n):
        control.act(store, f"executor:old{i % 7}", "pause", reason="backlog")


def latency(tmp: Path, n: int) -> dict:
    home = tmp / "latency"
    config = tmp / "rule.toml"
    config.write_text(RULE)
    proc = _agent(home, str(config), "1.0")
    store = Store(home, host="cli")
    try:
        deadline = time.time() + 30
        active = alerts.active(store)
        while active.empty and time.time() < deadline:
            time.sleep(0.2)
            active = alerts.active(store)
        if active.empty:
            raise SystemExit(f"the agent's rule did not fire: {proc.stderr.read() if proc.poll() is not None else ''}")
        alert_id = active.alert_id[0]
        rng = random.Random(1)
        applied, seen = [], []
        for _ in range(n):
            time.sleep(rng.uniform(0, 1.0))
            t0 = time.time()
            aid = alerts.ack(store, alert_id, note="bench")
            res = control.wait(store, aid, timeout=10, poll=0.01)
            seen.append(time.time() - t0)
            assert res["outcome"] == "applied", res
            applied.append(res["ts"] - control.find_action(store, aid)["ts"])
    finally:
        _stop(proc)
    return {"actions": n, "append_to_applied_p50": _pct(applied, 0.5), "append_to_applied_p95": _pct(applied, 0.95),
            "append_to_applied_max": max(applied), "act_to_answer_p50": _pct(seen, 0.5),
            "act_to_answer_p95": _pct(seen, 0.95)}


_EXECUTOR = """
import sys, threading, time
from workbench.execute import ThrottledExecutor
ex = ThrottledExecutor(max_workers=2, name="bench", store=sys.argv[1])  # default control_interval: 1 s
stop = threading.Event()

def feed():  # busy all along, about 200 tasks waiting: actions land mid-work
    while not stop.is_set():
        st = ex.stats()
        for _ in range(max(0, 200 - st["queued"])):
            ex.submit(time.sleep, 0.05)
        stop.wait(0.2)

threading.Thread(target=feed, daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
stop.set()
ex.shutdown(wait=True, cancel_futures=True)
"""


def executor_latency(tmp: Path, n: int) -> dict:
    """Actions on a named executor in another process (default control interval), append -> applied."""
    home = tmp / "executor"
    proc = subprocess.Popen([sys.executable, "-c", _EXECUTOR, str(home)], env=_env(), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    store = Store(home, host="cli")
    try:
        if proc.stdout.readline().strip() != "ready":
            raise SystemExit(f"the executor did not start: {proc.stderr.read()}")
        rng = random.Random(2)
        plan = [("set_limit", {"max_workers": 1 + i % 2}) if i % 3 else ("reprioritise", {"priority": i})
                for i in range(n)]
        applied, seen = [], []
        for action, args in plan:
            time.sleep(rng.uniform(0, 1.0))
            t0 = time.time()
            aid = control.act(store, "executor:bench", action, args, reason="bench")
            res = control.wait(store, aid, timeout=10, poll=0.01)
            seen.append(time.time() - t0)
            assert res["outcome"] == "applied", res
            applied.append(res["ts"] - control.find_action(store, aid)["ts"])
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return {"actions": n, "append_to_applied_p50": _pct(applied, 0.5), "append_to_applied_p95": _pct(applied, 0.95),
            "append_to_applied_max": max(applied), "act_to_answer_p50": _pct(seen, 0.5),
            "act_to_answer_p95": _pct(seen, 0.95)}


def poll_cost(tmp: Path, backlog: int, polls: int) -> dict:
    home = tmp / "poll"
    store = Store(home, host=HOST)
    _backlog(store, backlog)
    poller = control.ActionPoller(store, f"alerts:{HOST}", [f"alerts:{HOST}", "alerts:*"], "alerts",
                                  catch_all=True)
    t = time.thread_time()
    poller.poll(lambda a: "")
    first = time.thread_time() - t
    # the directories must look settled (older than the racy window) for the cheap path
    time.sleep(2.5)
    poller.poll(lambda a: "")
    t = time.thread_time()
    for _ in range(polls):
        poller.poll(lambda a: "")
    per_poll = (time.thread_time() - t) / polls
    return {"backlog_files": backlog, "first_poll_cpu_s": first, "per_poll_cpu_s": per_poll,
            "fraction_of_core_at_1hz": per_poll}


def agent_cpu(tmp: Path, backlog: int, duration: float, rounds: int, warmup: float = 8.0) -> dict:
    home = tmp / "cpu"
    _backlog(Store(home, host="cli"), backlog)
    out: dict[str, list[float]] = {"on": [], "off": []}
    for r in range(rounds):
        for variant in (("on", "off") if r % 2 == 0 else ("off", "on")):
            proc = _agent(home, "", "1.0" if variant == "on" else "off")
            try:
                time.sleep(warmup)
                p = psutil.Process(proc.pid)
                c0, t0 = p.cpu_times(), time.monotonic()
                time.sleep(duration)
                c1, t1 = p.cpu_times(), time.monotonic()
            finally:
                _stop(proc)
            cpu = (c1.user + c1.system) - (c0.user + c0.system)
            out[variant].append(cpu / (t1 - t0))
            print(f"  round {r + 1} polling {variant:>3}: {100 * out[variant][-1]:.3f} % of a core", flush=True)
    on, off = statistics.mean(out["on"]), statistics.mean(out["off"])
    return {"rounds": rounds, "duration_s": duration, "on": on, "off": off, "difference": on - off,
            "on_runs": out["on"], "off_runs": out["off"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--actions", type=int, default=50)
    ap.add_argument("--backlog", type=int, default=500, help="old action files in the home (default 500)")
    ap.add_argument("--polls", type=int, default=2000)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of agent CPU per variant and round")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--executor-actions", type=int, default=50)
    ap.add_argument("--parts", default="agent,executor,poll,cpu",
                    help="which figures, comma-separated: agent, executor, poll, cpu (default all)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    unknown = parts - {"agent", "executor", "poll", "cpu"}
    if unknown:
        ap.error(f"unknown --parts {sorted(unknown)}; choose from agent, executor, poll, cpu")
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="wb-control-") as d:
        tmp = Path(d)
        if "agent" in parts:
            print(f"latency: {args.actions} acks against a real agent at default intervals ...", flush=True)
            lat = out["latency"] = latency(tmp, args.actions)
            print(f"  append -> applied  p50 {lat['append_to_applied_p50'] * 1000:.0f} ms  "
                  f"p95 {lat['append_to_applied_p95'] * 1000:.0f} ms  max {lat['append_to_applied_max'] * 1000:.0f} ms")
            print(f"  act -> answer      p50 {lat['act_to_answer_p50'] * 1000:.0f} ms  "
                  f"p95 {lat['act_to_answer_p95'] * 1000:.0f} ms (what `workbench alerts ack` waits)")
        if "executor" in parts:
            print(f"executor latency: {args.executor_actions} set_limit / reprioritise actions on a busy named "
                  "executor in another process (default control interval 1 s) ...", flush=True)
            ex = out["executor_latency"] = executor_latency(tmp, args.executor_actions)
            print(f"  append -> applied  p50 {ex['append_to_applied_p50'] * 1000:.0f} ms  "
                  f"p95 {ex['append_to_applied_p95'] * 1000:.0f} ms  max {ex['append_to_applied_max'] * 1000:.0f} ms")
            print(f"  act -> answer      p50 {ex['act_to_answer_p50'] * 1000:.0f} ms  "
                  f"p95 {ex['act_to_answer_p95'] * 1000:.0f} ms (what `workbench executor limit` waits)")
        if "poll" in parts:
            print(f"polling cost, directly ({args.backlog} old action files, {args.polls} polls) ...", flush=True)
            pc = out["poll_cost"] = poll_cost(tmp, args.backlog, args.polls)
            ok = pc["fraction_of_core_at_1hz"] <= TARGET_POLL_CORE
            print(f"  first poll (reads the backlog) {pc['first_poll_cpu_s'] * 1000:.1f} ms CPU; then "
                  f"{pc['per_poll_cpu_s'] * 1e6:.1f} us CPU per poll = {100 * pc['fraction_of_core_at_1hz']:.4f} % "
                  f"of a core at 1 poll/s (target <= {100 * TARGET_POLL_CORE:.2f} %: {'met' if ok else 'MISSED'})")
        if "cpu" in parts:
            print(f"agent CPU with and without polling ({args.rounds} round(s) x {args.duration:g} s each) ...",
                  flush=True)
            cpu = out["agent_cpu"] = agent_cpu(tmp, args.backlog, args.duration, args.rounds)
            print(f"  polling on {100 * cpu['on']:.3f} %, off {100 * cpu['off']:.3f} % of a core: difference "
                  f"{100 * cpu['difference']:+.3f} % (run-to-run noise of whole-agent CPU is larger than the "
                  "direct figure above)")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
