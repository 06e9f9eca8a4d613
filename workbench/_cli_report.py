"""The `workbench report` command's arguments (argparse only: heavy imports happen inside the command)."""

from __future__ import annotations

import sys


def _param(text: str) -> tuple[str, str]:
    import argparse

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"--param takes key=value (e.g. --param since=2d); got {text!r}")
    return key.strip(), value


def cmd_report(args) -> int:
    import logging
    from pathlib import Path

    from workbench.cli import _config
    from workbench.report._config import report_specs
    from workbench.report._errors import ReportError

    logging.getLogger("papermill").setLevel(logging.WARNING)
    cfg = _config(args)
    specs = report_specs(cfg.reports, cfg.notify)
    if args.list:
        from workbench.report._listing import print_listing

        return print_listing(cfg, specs, out=args.out, fmt=args.format)
    name = args.name or "report"
    spec = specs.get(name)
    params = dict(spec.params) if spec else {}
    raw = dict(args.param)
    for key in ("since", "until"):
        if getattr(args, key) is not None:
            raw[key] = getattr(args, key)
    notebook = args.notebook or (spec.notebook if spec else None)
    if notebook and not Path(notebook).exists():
        raise ReportError(f"--notebook {notebook} does not exist; give the path of a report notebook (.ipynb).")
    from workbench.durations import parse_duration
    from workbench.report._run import run_report

    if args.keep is not None and args.keep < 1:
        raise ReportError(f"--keep takes the number of runs to keep, 1 or more; got {args.keep}. "
                          "(The newest good report is always kept.)")
    keep = args.keep if args.keep is not None else (spec.keep if spec else None)
    max_age = parse_duration(args.max_age, what="--max-age") if args.max_age else (spec.max_age if spec else None)
    print(f"workbench report: running {name!r} on {Path(cfg.home).resolve()} ...", file=sys.stderr, flush=True)
    res = run_report(name, home=cfg.home, notebook=notebook, params=params, raw_params=raw, out=args.out,
                     keep=keep, max_age=max_age, check=True, progress=sys.stderr.isatty(),
                     cell_timeout=spec.cell_timeout if spec else 600)
    root = Path(res.dir).parent.parent
    print(f"{res.html}\n  {res.period} · {res.duration_s:.1f} s · {res.html_bytes / 2**20:.1f} MiB · "
          f"index: {root / 'index.html'}")
    if args.deliver and spec and spec.deliver:
        from workbench.report._deliver import deliver

        for line in deliver(spec, res, cfg, root):
            print(f"  {line}")
    elif args.deliver:
        print(f"  nothing to deliver: [reports.{name}] names no channel (deliver = [\"CHANNEL\"])", file=sys.stderr)
    return 0


def add_commands(sub) -> None:
    """Add `report` to the CLI's sub-parsers."""
    r = sub.add_parser("report", help="run a report notebook into offline HTML; list schedules and past runs",
                       description="Run the report notebook with papermill (parameters checked first) and keep the "
                                   "executed notebook and a self-contained HTML file in HOME/reports/NAME/TIMESTAMP/. "
                                   "NAME may be a [reports.NAME] table of workbench.toml (its params, notebook and "
                                   "retention apply; flags override).")
    r.add_argument("name", nargs="?", help="the report's name (default: 'report'; a [reports.NAME] table if one exists)")
    r.add_argument("--since", help="start: a duration before --until (1d, 12h) or a UTC time (default 1d)")
    r.add_argument("--until", help="end: a UTC time (default: now); both are rounded down to whole hours")
    r.add_argument("--param", "-p", action="append", default=[], type=_param, metavar="KEY=VALUE",
                   help="a notebook parameter (repeatable), e.g. -p hosts=web1,web2 -p horizon=2d")
    r.add_argument("--notebook", help="the report notebook (default: notebooks/report.ipynb)")
    r.add_argument("--out", help="where reports are kept (default: HOME/reports)")
    r.add_argument("--keep", type=int, help="after the run, keep only the newest N runs of this report")
    r.add_argument("--max-age", help="after the run, delete runs of this report older than this (e.g. 30d)")
    r.add_argument("--deliver", action="store_true", help="send it through the channels of [reports.NAME] deliver")
    r.add_argument("--list", action="store_true", help="list schedules, their last run and next run, and kept runs")
    r.add_argument("--format", choices=["table", "json"], default="table", help="--list output")
    r.set_defaults(fn=cmd_report)
