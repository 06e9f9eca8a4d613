"""The ``workbench`` command line."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from workbench.errors import WorkbenchError

log = logging.getLogger("workbench")


def _print_df(df, fmt: str = "table", out=None) -> None:
    import math

    import pandas as pd

    out = out or sys.stdout
    if fmt == "csv":
        df.to_csv(out, index=False)
    elif fmt == "json":
        out.write(df.to_json(orient="records", date_format="iso") + "\n")
    else:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        # Cells are Text objects: data is never read as rich markup ("a[/]b" raised
        # MarkupError, "[x]" vanished) or emoji codes (":x:"). Nothing is cut with "…":
        # into a pipe or file the table is as wide as its content, so every metric name,
        # host and label set stays whole on its line; on a terminal text columns fold.
        def cell(v) -> Text:
            if v is None or v is pd.NaT:
                return Text("")
            if isinstance(v, float):
                return Text("NaN" if math.isnan(v) else f"{v:.6g}")
            return Text(str(v))

        table = Table(show_lines=False)
        for col in df.columns:
            numeric = pd.api.types.is_numeric_dtype(df[col]) and not pd.api.types.is_bool_dtype(df[col])
            table.add_column(Text(str(col)), justify="right" if numeric else "left",
                             no_wrap=numeric, overflow="fold")
        for row in df.head(1000).itertuples(index=False):
            table.add_row(*(cell(v) for v in row))
        console = Console(file=out, width=max(100, Console().width), emoji=False, markup=False, highlight=False)
        if not console.is_terminal:
            from rich.measure import Measurement

            wide = console.options.update_width(100_000)
            console.width = max(console.width, Measurement.get(console, wide, table).maximum)
        console.print(table)
        if len(df) > 1000:
            console.print(f"... {len(df) - 1000} more rows (use --format csv to get all)")


def _config(args):
    from workbench.config import load_config

    return load_config(getattr(args, "config", None), home=getattr(args, "home", None), host=getattr(args, "host", None))


def cmd_agent(args) -> int:
    # Before pyarrow loads: the agent writes small tables, for which the C
    # allocator keeps ~4 MiB less resident than Arrow's default mimalloc arenas
    # (measured by benchmarks/agent_overhead.py). An explicit setting wins.
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    from workbench.agent import Agent
    from workbench.config import positive_duration

    cfg = _config(args)
    # The flags go through the rule the config file uses (an interval of 0 busy-looped).
    if args.interval is not None:
        cfg.agent.interval = positive_duration(args.interval, "--interval")
    duration = positive_duration(args.duration, "--duration") if args.duration is not None else None
    agent = Agent(cfg)
    rules = f", {len(agent.alerts.manager.rules)} alert rules" if agent.alerts is not None else ""

    def banner() -> None:  # once the host lock is held: a refused second agent does not claim to record
        print(f"workbench agent: recording host {agent.host!r} into {agent.store.home} "
              f"({len(agent.collectors)} collectors, every {cfg.agent.interval:g} s{rules}). Ctrl-C stops.",
              file=sys.stderr, flush=True)

    summary = agent.run(duration=duration, on_start=banner)
    print(json.dumps({"samples_written": summary.samples_written, "flushes": summary.flushes,
                      "dropped": summary.dropped, "compactions": summary.compactions,
                      "compaction_failures": summary.compaction_failures, "errors": summary.errors}))
    return 0


def cmd_status(args) -> int:
    from workbench.agent import read_status
    from workbench.store import Store

    cfg = _config(args)
    store = Store(cfg.home)
    statuses = read_status(cfg.home)
    now = time.time()
    for st in statuses:
        st["state"], st["warnings"] = _agent_health(st, now, store.home)
    if args.json:
        print(json.dumps({"home": str(store.home), "size_bytes": store.size_bytes(), "agents": statuses}, default=str))
        return 0
    print(f"home: {store.home}   size: {_human_bytes(store.size_bytes())}")
    if not statuses:
        print("no host has recorded here yet: start one with `workbench agent`")
    from workbench.demo import demo_hosts

    demo = set(demo_hosts()) & {st["host"] for st in statuses if not st.get("alive") and "samples_written" not in st}
    if demo:  # imported demo data, never recorded by an agent: one line, not 17 "agent not running"
        print(f"\n{len(demo)} demo hosts (imported data, no agent; `workbench demo --remove` takes them out): "
              + ", ".join(sorted(demo)))
    for st in statuses:
        if st["host"] in demo:
            continue
        state = st["state"] if st.get("alive") else "not running"
        print(f"\nhost {st['host']}: agent {state}" + (f" (pid {st['holder'].get('pid')})" if st.get("alive") else ""))
        for warning in st["warnings"]:
            print(f"  WARNING: {warning}")
        if "samples_written" in st:
            lf = st.get("last_flush")
            age = f"{time.time() - lf:.1f} s ago" if lf else "never"
            print(f"  samples written {st['samples_written']:,}  rate {st.get('samples_per_second', 0):.0f}/s  "
                  f"last flush {age}  buffered {st.get('buffered', 0)}  dropped {st.get('dropped', 0)}")
            if st.get("rss_bytes"):
                print(f"  agent rss {st['rss_bytes'] / 2**20:.1f} MiB  cpu time {st.get('cpu_seconds', 0):.1f} s")
            _print_compaction(st.get("compaction") or {})
            _print_alerts(st.get("alerts"), st.get("alert_errors", 0))
            for name, c in sorted(st.get("collectors", {}).items()):
                errs = dict(c.get("errors", {}))
                if c.get("failures"):
                    errs["collect"] = c["failures"]
                err = ", ".join(f"{k}={v}" for k, v in errs.items()) or "no errors"
                print(f"  {name:<12} every {c['interval']:g} s  last {c['last_duration'] * 1000:.1f} ms  {err}"
                      + (f"  last error: {c['last_error']}" if c.get("last_error") else ""))
    q = store.quarantined()
    if len(q):
        print(f"\n{len(q)} quarantined file(s):")
        for row in q.itertuples():
            print(f"  {row.path}: {row.reason}")
    return 0


def _agent_health(st: dict, now: float, home: Path) -> tuple[str, list[str]]:
    """RUNNING, STOPPED or STALLED, and what is wrong, for an agent whose lock is held.

    The lock says a process holds the host; only the status file, rewritten every
    status_interval, says it still works. A suspended process (kill -STOP) or one
    that cannot write (a full disk) leaves that file to grow old.
    """
    if not st.get("alive"):
        return "not running", []
    warnings: list[str] = []
    state = "RUNNING"
    holder = st.get("holder") or {}
    pid = holder.get("pid")
    updated = st.get("updated")
    status_every = float(st.get("status_interval") or 2.0)
    if updated is not None and now - updated > max(10.0, 3 * status_every):
        state = "STALLED"
        why = "it is hung, or cannot write to the home"
        import shutil
        import socket

        if holder.get("hostname") == socket.gethostname() and pid:
            import psutil

            try:
                if psutil.Process(pid).status() == psutil.STATUS_STOPPED:
                    state = "STOPPED"
                    why = f"the process is suspended (kill -STOP or Ctrl-Z); `kill -CONT {pid}` resumes it"
            except psutil.Error:
                pass
        try:
            if state == "STALLED" and shutil.disk_usage(home).free < 1 << 20:
                why = f"the file system holding {home} is full; free some space and it resumes by itself"
        except OSError:
            pass
        warnings.append(f"its status was last written {now - updated:.0f} s ago (every {status_every:g} s is "
                        f"expected): {why}. The figures below are from then.")
    lf = st.get("last_flush")
    flush_every = max(float(st.get("flush_interval") or 1.0), float(st.get("interval") or 1.0))
    if lf is not None and state == "RUNNING" and now - lf > max(10.0, 5 * flush_every):
        warnings.append(f"its last flush to the store was {now - lf:.0f} s ago (every {flush_every:g} s is "
                        "expected); see the agent's log")
    err = st.get("store_error")
    if err:
        since = f" since {now - err['since']:.0f} s" if err.get("since") else ""
        warnings.append(f"it cannot write to the store{since} ({err.get('failures', 0)} failed flushes; "
                        f"{st.get('buffered', 0)} samples held in memory): {err.get('error')}")
    return state, warnings


def _print_compaction(comp: dict) -> None:
    if comp.get("at"):
        peak = f"  child peak rss {comp['peak_rss_bytes'] / 2**20:.0f} MiB" if comp.get("peak_rss_bytes") else ""
        print(f"  compaction: last {time.time() - comp['at']:.0f} s ago, {comp.get('seconds') or 0:.2f} s, "
              f"absorbed {comp.get('absorbed', 0)} files{peak}")
    if comp.get("failures"):
        print(f"  compaction FAILED {comp['failures']} time(s); last error: {comp.get('last_error', '')}")


def _print_alerts(alerts: dict | None, errors: int) -> None:
    """The agent's live alert evaluation: rules, what fires, delivery."""
    if not alerts:
        print("  alerts: no rules configured ([alerts] in workbench.toml)")
        return
    notes = alerts.get("notifications", {})
    failed = sum(notes.get("failed", {}).values())
    print(f"  alerts: {alerts['rules']} rule(s), {alerts['firing_count']} firing, {alerts['pending']} pending; "
          f"notifications sent {sum(notes.get('sent', {}).values())}, failed {failed}, "
          f"dropped {notes.get('dropped', 0)}" + (f"; evaluation errors {errors}" if errors else ""))
    for a in alerts.get("firing", []):
        value = "" if a.get("value") is None else f" value {a['value']:.4g}"
        ack = f" (acked by {a['acked_by']})" if a.get("acked_by") else ""
        print(f"    FIRING [{a['severity']}] {a['alert_id']}{value} for {time.time() - a['since']:.0f} s{ack}")


def cmd_sql(args) -> int:
    from workbench.store import Store

    cfg = _config(args)
    params = [_param(p) for p in args.param] or None
    _print_df(Store(cfg.home).sql(args.query, params), args.format)
    return 0


def _param(text: str):
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def cmd_query(args) -> int:
    from workbench.labels import parse_labels
    from workbench.store import Store

    cfg = _config(args)
    store = Store(cfg.home)
    labels = parse_labels(",".join(args.labels)) if args.labels else None
    out = _check_out(args.out) if args.out else None  # before the query: a bad path is found at once
    _check_times(args)
    df = store.query(args.metric, args.since, args.until, labels=labels, step=args.step, agg=args.agg, host=args.host_filter)
    if out is not None:
        try:
            if out.suffix == ".parquet":
                df.to_parquet(out, index=False)
            else:
                df.to_csv(out, index=False)
        except OSError as exc:
            raise WorkbenchError(f"--out {args.out}: cannot write {out}: {exc.strerror or exc}. "
                                 "Choose a path you can write to.", path=str(out)) from None
        print(f"wrote {len(df)} rows to {out}", file=sys.stderr)
    else:
        _print_df(df, args.format)
    return 0


def _check_times(args) -> None:
    """--since/--until as the user typed them, refused in those words (the store says 'start'/'end')."""
    from workbench.errors import DataError
    from workbench.store._timeutil import resolve_time

    for flag, value in (("--since", args.since), ("--until", args.until)):
        try:
            resolve_time(value, what=flag)
        except DataError:
            raise WorkbenchError(f"{flag} {value!r} is neither a duration ago ('30min', '1h', '-5h', '7d') nor a "
                                 "time ('2026-03-01T12:00', read as UTC, or with an offset).", value=value) from None


def _check_out(text: str) -> Path:
    """The --out path, refused with a clear message before any work when it cannot be written."""
    out = Path(text)
    if out.suffix not in (".csv", ".parquet"):
        raise WorkbenchError(f"--out must end in .csv or .parquet; got {out.name!r}.", path=text)
    parent = out.parent
    if not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        raise WorkbenchError(f"--out {text}: the directory {parent} {what}. Create it first (mkdir -p {parent}) "
                             "or give a path in an existing directory.", path=text)
    if out.is_dir():
        raise WorkbenchError(f"--out {text} is a directory; give a file name ending in .csv or .parquet.", path=text)
    if not os.access(parent, os.W_OK):
        raise WorkbenchError(f"--out {text}: the directory {parent} is not writable by you; choose another.",
                             path=text)
    return out


# Options whose value may start with "-": `--since -5h` means 5 h ago, as `--since 5h` does.
_NEGATIVE_VALUE_OPTIONS = ("--since", "--until")


def _join_negative_values(argv: list[str]) -> list[str]:
    """``--since -5h`` -> ``--since=-5h``: argparse takes "-5h" for an option and says "expected one argument"."""
    import re

    out: list[str] = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok == "--":
            out.extend(argv[i:])
            break
        if tok in _NEGATIVE_VALUE_OPTIONS and i + 1 < len(argv) and re.match(r"-\d", argv[i + 1]):
            out.append(f"{tok}={argv[i + 1]}")
            i += 2
            continue
        out.append(tok)
        i += 1
    return out


def cmd_metrics(args) -> int:
    from workbench.store import Store

    _print_df(Store(_config(args).home).metrics(), args.format)
    return 0


def cmd_config(args) -> int:
    """Print the effective configuration and check it as the agent would: exit 2 on an error, 1 on a warning."""
    from workbench.config import check_config, redact
    from workbench.store import Store

    cfg = _config(args)  # a file that cannot be read or parsed is an error here already
    if not args.check:
        env = os.environ.get("WORKBENCH_HOME")
        where = (f"WORKBENCH_HOME={env}" if env else "WORKBENCH_HOME not set") + (
            "; --home given" if getattr(args, "home", None) else "")
        print(f"# effective configuration (source: {cfg.source}; {where})")
        print(json.dumps(redact(cfg.to_dict()), indent=2, default=str))
    catalogue = Store(cfg.home)._catalog() if Path(cfg.home).is_dir() else {}
    problems = check_config(cfg, catalogue=catalogue)
    for p in problems:
        print(p, file=sys.stderr)
    errors = sum(p.level == "error" for p in problems)
    if args.check or problems:
        what = (f"{errors} error(s), {len(problems) - errors} warning(s)" if problems else "no problems")
        verdict = "the agent would refuse to start" if errors else "the agent would start"
        print(f"{cfg.source}: {what}; {verdict}", file=sys.stderr if not args.check else sys.stdout)
    return 2 if errors else (1 if problems else 0)


def cmd_compact(args) -> int:
    """Compact every host that no agent is compacting (or those named with --host), saying what was done."""
    from workbench.errors import AgentRunningError
    from workbench.store import Store, lock_holder

    cfg = _config(args)
    store = Store(cfg.home)
    present = store.hosts()
    if args.hosts and not args.all:
        unknown = [h for h in args.hosts if h not in present]
        if unknown:
            raise WorkbenchError(f"No host {unknown[0]!r} in {store.home}; its hosts are: {', '.join(present) or 'none'}. "
                                 "Run `workbench compact` without --host to compact them all.")
        hosts = list(dict.fromkeys(args.hosts))
    else:
        hosts = present
    if not hosts:
        print(f"nothing to compact: {store.home} has no hosts yet")
        return 0
    done, skipped = 0, []
    for h in hosts:
        try:
            rep = Store(cfg.home, host=h).compact(policy=cfg.compaction_policy())
        except AgentRunningError:
            holder = lock_holder(store.layout, h) or {}
            who = f"{holder.get('purpose', 'agent')} (pid {holder.get('pid', '?')} on {holder.get('hostname', '?')})"
            print(f"{h}: skipped: its {who} holds the host lock and compacts it itself", flush=True)
            skipped.append(h)
            continue
        done += 1
        print(f"{h}: {_compaction_summary(rep)}", flush=True)
    print(f"compacted {done} of {len(hosts)} host(s) in {store.home}"
          + (f"; skipped {len(skipped)} whose agent is running ({', '.join(skipped)})" if skipped else ""))
    # Asked by name for a host it could not compact: say so in the exit status too.
    return 1 if skipped and args.hosts and not args.all else 0


def _compaction_summary(rep) -> str:
    parts = [f"{n} {what}" for n, what in (
        (rep.absorbed, "new files absorbed"), (rep.merged, "chunks merged"), (rep.sealed_hours, "hours sealed"),
        (rep.sealed_days, "days sealed"), (rep.sealed_months, "months sealed"), (rep.expired, "files expired"),
        (rep.deleted, "retired files deleted")) if n]
    if rep.quarantined:
        parts.append(f"{len(rep.quarantined)} damaged file(s) quarantined ({', '.join(rep.quarantined)})")
    return (", ".join(parts) or "nothing to do") + f" ({rep.seconds:.1f} s)"


def cmd_verify(args) -> int:
    """Check every file of the home; name each damaged one; exit 1 if any."""
    from workbench.store import Store

    cfg = _config(args)
    store = Store(cfg.home)
    bar = None
    if sys.stderr.isatty():
        from tqdm.auto import tqdm

        bar = tqdm(desc="verify", unit="file", file=sys.stderr, leave=False)

    def progress(i: int, n: int) -> None:
        bar.total = n
        bar.n = i
        bar.refresh()

    rep = store.verify(quarantine=args.quarantine, progress=progress if bar is not None else None)
    if bar is not None:
        bar.close()
    for d in rep.damaged:
        print(f"DAMAGED {d.name}: {d.reason}")
        if d.moved_to:
            print(f"  quarantined: moved to {d.moved_to}")
        elif d.error:
            print(f"  not quarantined ({d.error}); run `workbench verify --quarantine` where the home is writable")
    summary = f"checked {rep.checked} files ({_human_bytes(rep.bytes)}) in {rep.seconds:.1f} s"
    if rep.ok:
        print(f"{summary}: no damage")
        return 0
    print(f"{summary}: {len(rep.damaged)} damaged.")
    if not args.quarantine:
        print("Until they are quarantined, queries still read these files: one that fails to decode is skipped, "
              "but wrong values in a page that decodes are returned as they are (DuckDB does not check page "
              "checksums). Compaction quarantines a damaged file before it merges it. Run "
              "`workbench verify --quarantine` to move them into HOME/quarantine now (nothing is deleted; "
              "`workbench status` lists them).")
    return 1


def cmd_demo(args) -> int:
    from workbench.demo import load_demo, remove_demo

    cfg = _config(args)
    if args.remove:
        removed = remove_demo(cfg.home)
        print(f"removed {len(removed)} demo hosts from {Path(cfg.home).resolve()}"
              + (f": {', '.join(removed)}" if removed else " (there were none)"))
        return 0
    n = load_demo(cfg.home, progress=True, now=args.now, align=args.align, replace=args.replace,
                  compact=not args.no_compact)
    print(f"loaded {n:,} demo samples into {Path(cfg.home).resolve()}")
    return 0


def _dashboard_server(args, cfg):
    from workbench.ui._serve import DashboardServer

    return DashboardServer(port=args.port, ip=args.ip, home=str(Path(cfg.home).resolve()),
                           preheat=not args.no_preheat, config=args.config)


def cmd_dashboard(args) -> int:
    cfg = _config(args)
    server = _dashboard_server(args, cfg)
    proc = server.start()
    print(f"workbench dashboard: {server.url()} (home {Path(cfg.home).resolve()}). Ctrl-C stops.", file=sys.stderr)
    return _wait_children({"dashboard": proc})


def cmd_lab(args) -> int:
    import subprocess

    from workbench.ui._serve import check_port, notebooks_dir

    cfg = _config(args)
    check_port("127.0.0.1", args.port)
    env = dict(os.environ, WORKBENCH_HOME=str(Path(cfg.home).resolve()))
    cmd = [sys.executable, "-m", "jupyterlab", f"--notebook-dir={notebooks_dir()}", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={args.port}", "--ServerApp.port_retries=0"]
    if args.no_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--ServerApp.allow_root=True")  # containers and CI run as root; JupyterLab refuses by default
    print(f"workbench lab: JupyterLab on notebooks/ (home {env['WORKBENCH_HOME']}); it prints its address with "
          "the login token below", file=sys.stderr)
    return _wait_children({"jupyterlab": subprocess.Popen(cmd, env=env)})


def cmd_up(args) -> int:
    """What `make run` starts: the demo data on first run, the agent and the dashboard."""
    import subprocess

    cfg = _config(args)
    if args.interval:  # refused now, not by the agent after the dashboard has started
        from workbench.config import positive_duration

        positive_duration(args.interval, "--interval")
    home = Path(cfg.home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    marker = home / ".demo-offered"
    if not args.no_demo and not marker.exists():
        from workbench.demo import DemoExistsError, load_demo

        print("workbench: first run in this home: loading the demo data set (16 cloud hosts and a recorded "
              "workstation, labelled 'demo'; `workbench demo --remove` takes them out) ...", file=sys.stderr)
        try:
            load_demo(home, progress=True)
        except DemoExistsError:
            pass
        marker.write_text("the demo data set was offered once; `make run` does not load it again\n")
    server = _dashboard_server(args, cfg)
    server.check()  # a busy port or an unsafe address is refused before anything starts
    agent_cmd = [sys.executable, "-m", "workbench.cli", "--home", str(home)]
    if args.config:
        agent_cmd += ["--config", args.config]
    agent_cmd += ["agent"] + (["--interval", args.interval] if args.interval else [])
    children = {"agent": subprocess.Popen(agent_cmd, start_new_session=True)}
    children["dashboard"] = server.start(start_new_session=True)
    print(f"\n  Workbench is recording this machine into {home}\n  Dashboard: {server.url()}\n  Ctrl-C stops both.\n",
          file=sys.stderr)
    return _wait_children(children)


def _wait_children(children: dict) -> int:
    """Wait for child servers; Ctrl-C (or SIGTERM) stops them all cleanly, as does one of them dying."""
    import signal
    import subprocess

    stop = {"why": None}

    def on_signal(signum, _frame):
        stop["why"] = signal.Signals(signum).name

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    rc = 0
    try:
        while stop["why"] is None:
            dead = {n: p.poll() for n, p in children.items() if p.poll() is not None}
            if dead:
                name, code = next(iter(dead.items()))
                if code:
                    print(f"workbench: the {name} stopped with exit code {code}; stopping the rest.", file=sys.stderr)
                rc = code or 0
                break
            time.sleep(0.2)
    finally:
        for p in children.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, p in children.items():
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                print(f"workbench: the {name} did not stop within 20 s; killing it.", file=sys.stderr)
                p.kill()
        for s, h in old.items():
            signal.signal(s, h)
    return rc


def _add_ui_commands(sub) -> None:
    for name, fn, text in (("dashboard", cmd_dashboard, "serve the dashboard (Voilà) on 127.0.0.1"),
                           ("up", cmd_up, "what `make run` starts: demo data on first run, the agent and the dashboard")):
        d = sub.add_parser(name, help=text)
        d.add_argument("--port", type=int, default=8866, help="port to serve on (default 8866)")
        d.add_argument("--ip", default="127.0.0.1",
                       help="address to listen on; beyond loopback only with WORKBENCH_DASHBOARD_TOKEN set")
        d.add_argument("--no-preheat", action="store_true", help="start a kernel per visitor instead of a warm one")
        if name == "up":
            d.add_argument("--no-demo", action="store_true", help="do not load the demo data on first run")
            d.add_argument("--interval", help="the agent's collection interval (default 1 s)")
        d.set_defaults(fn=fn)
    lab = sub.add_parser("lab", help="open JupyterLab on notebooks/ with this home")
    lab.add_argument("--port", type=int, default=8888)
    lab.add_argument("--no-browser", action="store_true")
    lab.set_defaults(fn=cmd_lab)


# ------------------------------------------------------------ control plane (alerts, executors)
_ACTIVE_SHOWN = ["alert_id", "state", "severity", "since", "value", "score", "acked_by", "silenced", "summary"]


def _frame_rows(df) -> list[dict]:
    return json.loads(df.to_json(orient="records", date_format="iso")) if len(df) else []


def cmd_alerts_list(args) -> int:
    from workbench import alerts
    from workbench.store import Store

    store = Store(_config(args).home)
    act, rec = alerts.active(store, host=args.host_filter), alerts.recent(store, since=args.since)
    if args.format == "json":
        print(json.dumps({"active": _frame_rows(act), "recent": _frame_rows(rec)}))
        return 0
    if args.format == "csv":
        _print_df(act, "csv")
        return 0
    if len(act):
        print(f"{len(act)} alert(s) firing or pending:")
        _print_df(act[_ACTIVE_SHOWN], args.format)
    else:
        print("no alert is firing or pending")
    if len(rec):
        print(f"\nresolved in the last {args.since}:")
        _print_df(rec[["alert_id", "severity", "fired", "resolved", "value", "acked_by"]], args.format)
    print("\nacknowledge with `workbench alerts ack ID`; silence with `workbench alerts silence rule=NAME --for 2h`")
    return 0


def cmd_alerts_history(args) -> int:
    from workbench import alerts
    from workbench.store import Store

    df = alerts.history(Store(_config(args).home), since=args.since)
    cols = [c for c in ("ts", "alert_id", "event", "state", "severity", "value", "by", "note") if c in df.columns]
    _print_df(df if args.format != "table" else df[cols], args.format)
    return 0


def cmd_alerts_silences(args) -> int:
    from workbench import alerts
    from workbench.store import Store

    df = alerts.silences(Store(_config(args).home))
    if not len(df) and args.format == "table":
        print("no active silences")
        return 0
    _print_df(df, args.format)
    return 0


def _report_action(store, action_id: str, what: str, timeout: float) -> int:
    """Print the action id, wait for its owner's answer and print it; 1 if refused."""
    from workbench import control
    from workbench.errors import ActionTimeoutError

    print(f"{what}: action {action_id}")
    if timeout <= 0:
        return 0
    try:
        res = control.wait(store, action_id, timeout=timeout)
    except ActionTimeoutError as exc:
        print(str(exc))
        return 0
    if res["outcome"] == "applied":
        print(f"applied by {res['owner']}: {res['detail']}")
        return 0
    print(f"refused by {res['owner']}: {res['detail']}", file=sys.stderr)
    return 1


def cmd_alerts_ack(args) -> int:
    from workbench import alerts
    from workbench.store import Store

    store = Store(_config(args).home)
    aid = alerts.ack(store, args.alert_id, note=args.note or "", by=args.by)
    return _report_action(store, aid, f"acknowledge {args.alert_id}", args.wait)


def cmd_alerts_silence(args) -> int:
    from workbench import alerts
    from workbench.store import Store

    store = Store(_config(args).home)
    sid = alerts.silence(store, args.matcher, duration=args.duration, until=args.until, reason=args.reason or "",
                         by=args.by)
    rc = _report_action(store, sid, f"silence {args.matcher}", args.wait)
    print(f"silence id {sid}: `workbench alerts unsilence {sid}` ends it early")
    return rc


def cmd_alerts_unsilence(args) -> int:
    from workbench import alerts
    from workbench.store import Store

    store = Store(_config(args).home)
    aid = alerts.unsilence(store, args.silence_id, reason=args.reason or "", by=args.by)
    return _report_action(store, aid, f"unsilence {args.silence_id}", args.wait)


def cmd_executors(args) -> int:
    from workbench import control
    from workbench.store import Store

    df = control.executors(Store(_config(args).home))
    if args.format == "table":
        if not len(df):
            print("no named executor has run in this home: `workbench run --name NAME -- CMD` runs one, and in "
                  "Python an executor shows here when it has a name: ThrottledExecutor(name='nightly')")
            return 0
        df = df.assign(alive=df["alive"].map({True: "yes", False: "GONE"}),
                       throughput=df["throughput"].map(lambda v: "" if v is None or v != v else f"{v:.1f}/s"))
    _print_df(df, args.format)
    return 0


def cmd_executor(args) -> int:
    from workbench import control
    from workbench.store import Store

    store = Store(_config(args).home)
    target = f"executor:{args.name}"
    _kind, name, host = control.parse_target(target)
    if args.action == "limit" and args.n < 1:
        raise WorkbenchError(f"`workbench executor limit {args.name} N` needs N >= 1; got {args.n}.")
    sel = {k: v for k, v in (("name", getattr(args, "task_name", None)), ("tag", getattr(args, "tag", None)),
                             ("key", getattr(args, "key", None))) if v}
    action, extra = args.action, {}
    if action == "limit":
        action, extra = "set_limit", {"max_workers": args.n}
    elif action == "reprioritise":
        extra = {"priority": args.priority, **sel}
    elif action == "cancel":
        extra = sel
    aid = control.act(store, target, action, extra, reason=args.reason or "", by=args.by)
    known = control.executors(store)
    if not ((known["name"] == name) & ((known["host"] == host) if host else True)).any():
        print(f"note: no executor named {args.name!r} has run in {store.home} yet (`workbench executors` lists "
              "them)", file=sys.stderr)
    return _report_action(store, aid, f"{action} {args.name}", args.wait)


def _add_control_commands(sub) -> None:
    def common(p, wait=True):
        p.add_argument("--by", help="who acts (default: user@hostname)")
        if wait:
            p.add_argument("--wait", type=float, default=3.0,
                           help="seconds to wait for the owner's answer (default 3; 0: do not wait)")

    def listing(p):
        p.add_argument("--host", dest="host_filter", default=None, help="only alerts of this host")
        p.add_argument("--since", default="1d", help="how far back resolved alerts are listed (default 1d)")
        p.add_argument("--format", choices=["table", "csv", "json"], default="table")
        p.set_defaults(fn=cmd_alerts_list)

    al = sub.add_parser("alerts", help="firing, pending and recent alerts; ack, silence, history")
    listing(al)
    asub = al.add_subparsers(dest="alerts_cmd")
    listing(asub.add_parser("list", help="firing and pending alerts with their evidence, and recent ones"))
    a = asub.add_parser("ack", help="acknowledge a firing alert (stops escalation and repeats)")
    a.add_argument("alert_id")
    a.add_argument("--note", help="a note kept with the acknowledgement")
    common(a)
    a.set_defaults(fn=cmd_alerts_ack)
    s = asub.add_parser("silence", help="mute notifications of matching alerts for a while")
    s.add_argument("matcher", help="e.g. rule=cpu_high,host=web1,cpu=3 (other keys match labels; ~ for a regex)")
    s.add_argument("--for", dest="duration", default="2h", help="how long (default 2h)")
    s.add_argument("--until", help="end at this time instead (UTC, e.g. 2026-03-01T18:00)")
    s.add_argument("--reason", help="why (kept in the audit log)")
    common(s)
    s.set_defaults(fn=cmd_alerts_silence)
    u = asub.add_parser("unsilence", help="end a silence early")
    u.add_argument("silence_id")
    u.add_argument("--reason")
    common(u)
    u.set_defaults(fn=cmd_alerts_unsilence)
    h = asub.add_parser("history", help="every alert record: state changes, acknowledgements, escalations")
    h.add_argument("--since", default="1d", help="how far back (default 1d)")
    h.add_argument("--format", choices=["table", "csv", "json"], default="table")
    h.set_defaults(fn=cmd_alerts_history)
    sl = asub.add_parser("silences", help="active and pending silences")
    sl.add_argument("--format", choices=["table", "csv", "json"], default="table")
    sl.set_defaults(fn=cmd_alerts_silences)

    ex = sub.add_parser("executors", help="named executors in this home, across hosts")
    ex.add_argument("--format", choices=["table", "csv", "json"], default="table")
    ex.set_defaults(fn=cmd_executors)
    e = sub.add_parser("executor", help="steer a named executor: pause, resume, drain, cancel, limit, reprioritise")
    esub = e.add_subparsers(dest="action", required=True)
    for action, text in (("pause", "start no new tasks (running ones finish)"), ("resume", "start tasks again"),
                         ("drain", "let running tasks finish and start no more"),
                         ("cancel", "cancel waiting tasks (all, or those selected)"),
                         ("limit", "set the most tasks running at once"),
                         ("reprioritise", "give waiting tasks a new priority")):
        p = esub.add_parser(action, help=text)
        p.add_argument("name", help="the executor's name, or NAME@HOST for the one on that host")
        if action == "limit":
            p.add_argument("n", type=int, help="most tasks at once (>= 1)")
        if action == "reprioritise":
            p.add_argument("priority", type=float, help="the new priority (higher runs first)")
        if action in ("cancel", "reprioritise"):
            p.add_argument("--task-name", help="only tasks of this name")
            p.add_argument("--tag", help="only tasks with this tag")
            p.add_argument("--key", help="only the task with this key")
        p.add_argument("--reason", help="why (kept in the audit log)")
        common(p)
        p.set_defaults(fn=cmd_executor)


def _human_bytes(n: float) -> str:
    if n < 1024:
        return f"{n:.0f} B"
    for unit in ("KiB", "MiB"):
        n /= 1024
        if n < 1024:
            return f"{n:.1f} {unit}"
    return f"{n / 1024:.1f} GiB"


def _add_global_options(p: argparse.ArgumentParser, default: object) -> None:
    p.add_argument("--config", default=default,
                   help="path to workbench.toml (default: $WORKBENCH_CONFIG or ./workbench.toml)")
    p.add_argument("--home", default=default, help="data directory (default: $WORKBENCH_HOME or ./data)")
    p.add_argument("-v", "--verbose", action="store_true", default=default)


class _SubParsers(argparse._SubParsersAction):
    """Every sub-command (and sub-sub-command) also takes the global options.

    ``workbench status --home X`` and ``workbench alerts ack ID --home X`` work
    like ``workbench --home X status``. The copies default to SUPPRESS, so an
    option given before the sub-command is kept unless it is given again after
    it (the later one wins). It is done here, in ``add_parser``, so that commands
    other modules register (``_cli_report``, ``_cli_run``) get them too.
    """

    def add_parser(self, name, **kwargs):
        kwargs["parents"] = [_GLOBALS, *kwargs.get("parents", [])]
        return super().add_parser(name, **kwargs)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", "parsers", _SubParsers)


_GLOBALS = argparse.ArgumentParser(add_help=False)
_add_global_options(_GLOBALS, argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="workbench", description="Watch, understand, predict and steer your machines.")
    _add_global_options(p, None)
    p.set_defaults(verbose=False)
    sub = p.add_subparsers(dest="cmd", required=True)

    a = sub.add_parser("agent", help="record this machine's metrics")
    a.add_argument("--interval", help="collection interval, e.g. 1, 5s or 1min (default 1 s)")
    a.add_argument("--duration", help="stop after this long, e.g. 30, 90s or 1h30min (default: run until Ctrl-C)")
    a.add_argument("--host", help="host name to record under (default: this machine's)")
    a.set_defaults(fn=cmd_agent)

    s = sub.add_parser("status", help="is an agent recording here, and how is it doing")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_status)

    q = sub.add_parser("sql", help="run DuckDB SQL over samples, samples_1m, samples_1h, metrics, ...")
    q.add_argument("query")
    q.add_argument("--param", "-p", action="append", default=[], help="bind a ? parameter (repeatable)")
    q.add_argument("--format", choices=["table", "csv", "json"], default="table")
    q.set_defaults(fn=cmd_sql)

    qq = sub.add_parser("query", help="one metric over a time range, optionally bucketed")
    qq.add_argument("metric")
    qq.add_argument("--since", default="1h", help="start: a duration ago (1h) or a time (default 1h)")
    qq.add_argument("--until", default=None)
    qq.add_argument("--step", default=None, help="bucket size, e.g. 1m")
    qq.add_argument("--agg", default="mean")
    qq.add_argument("--labels", action="append", default=[], help="label matcher k=v (repeatable)")
    qq.add_argument("--host", dest="host_filter", default=None)
    qq.add_argument("--format", choices=["table", "csv", "json"], default="table")
    qq.add_argument("--out", help="write to FILE.csv or FILE.parquet")
    qq.set_defaults(fn=cmd_query)

    m = sub.add_parser("metrics", help="the metric catalogue")
    m.add_argument("--format", choices=["table", "csv", "json"], default="table")
    m.set_defaults(fn=cmd_metrics)

    c = sub.add_parser("config", help="print the effective configuration (secrets redacted) and check it")
    c.add_argument("--check", action="store_true",
                   help="only check, as the agent does at start: exit 2 on an error, 1 on a warning, 0 when all is well")
    c.set_defaults(fn=cmd_config)

    k = sub.add_parser("compact", help="compact every host now (hosts whose agent runs are left to it)")
    k.add_argument("--host", dest="hosts", action="append", default=[], metavar="HOST",
                   help="compact only this host (repeatable; default: every host)")
    k.add_argument("--all", action="store_true", help="compact every host (the default)")
    k.set_defaults(fn=cmd_compact)

    vf = sub.add_parser("verify", help="check every stored file (checksums, decoding); name each damaged one")
    vf.add_argument("--quarantine", action="store_true",
                    help="move damaged files into HOME/quarantine (nothing is deleted)")
    vf.set_defaults(fn=cmd_verify)

    d = sub.add_parser("demo", help="load the shipped demo data set into the home")
    d.add_argument("--now", help="where the history ends (UTC, e.g. 2026-03-04T05:00; default: now)")
    d.add_argument("--align", choices=("end", "week"), default="end",
                   help="end: every host ends at --now; week: shift by whole weeks, keeping weekday and time of day")
    d.add_argument("--replace", action="store_true", help="replace demo hosts already in the home")
    d.add_argument("--no-compact", action="store_true", help="skip compaction (faster; more files to read)")
    d.add_argument("--remove", action="store_true", help="remove the demo hosts (recorded data is kept)")
    d.set_defaults(fn=cmd_demo)
    _add_ui_commands(sub)
    _add_control_commands(sub)
    # Each of these modules adds its own commands (argparse only; imports stay lazy).
    from workbench import _cli_report, _cli_run

    _cli_report.add_commands(sub)
    _cli_run.add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(_join_negative_values(sys.argv[1:] if argv is None else list(argv)))
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.fn(args)
    except WorkbenchError as exc:
        for message in getattr(exc, "errors", None) or [str(exc)]:  # several problems: one line each
            print(f"error: {message}", file=sys.stderr)
        return 2
    except OSError as exc:
        import errno

        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
            raise
        # A full disk or a read-only home reached a writer that has no message of its own: say it plainly.
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"error: {exc.strerror}{where}. " + (
            "The file system is full: free some space, or use another home (--home DIR)."
            if exc.errno != errno.EROFS else "The home is read-only: use a writable one (--home DIR)."),
            file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
