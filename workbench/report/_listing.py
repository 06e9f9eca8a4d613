"""``workbench report --list``: schedules, each report's last run (status, duration) and next run, kept runs."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["report_rows", "print_listing"]


def _when(ts: Any) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(float(ts))) if ts else ""


def report_rows(home: str | Path, specs: dict[str, Any], out: str | Path | None = None,
                now: float | None = None) -> list[dict[str, Any]]:
    """One row per configured or kept report: cron, next run, last run's status/duration/time, runs kept."""
    from workbench.report._schedule import SchedulePolicy
    from workbench.report._service import read_schedule_state
    from workbench.report._store import list_reports, reports_dir

    now = time.time() if now is None else now
    root = Path(out) if out else reports_dir(home)
    state = read_schedule_state(home)
    crons = {n: s.cron for n, s in specs.items() if s.cron and s.enabled}
    policy = SchedulePolicy(crons, state.get("last_slots", {}))
    kept = list_reports(root)
    names = sorted(set(specs) | {r.get("name") for r in kept if r.get("name")})
    rows = []
    for name in names:
        runs = [r for r in kept if r.get("name") == name]
        last = runs[0] if runs else {}
        live = state.get("runs", {}).get(name, {})
        if live.get("status") in ("running", "skipped") or (live and float(live.get("started", 0)) >
                                                            float(last.get("started", 0))):
            last = {**last, **live}
        spec = specs.get(name)
        rows.append({
            "report": name, "cron": spec.cron if spec and spec.cron else "",
            "next_run": _when(policy.next_run(name, now)) if name in crons else "",
            "last_run": _when(last.get("started")), "status": last.get("status", ""),
            "duration_s": round(float(last["duration_s"]), 1) if last.get("duration_s") is not None else None,
            "error": (f"cell {last.get('cell')}: " if last.get("cell") else "") + str(last.get("error") or "")
            if last.get("status") not in ("ok", "running", None) else "",
            "kept": len(runs), "latest": next((str(Path(r["dir"]) / "report.html") for r in runs
                                               if r.get("status") == "ok"), ""),
        })
    return rows


def print_listing(cfg: Any, specs: dict[str, Any], *, out: str | None = None, fmt: str = "table") -> int:
    rows = report_rows(cfg.home, specs, out)
    if fmt == "json":
        print(json.dumps(rows))
        return 0
    if not rows:
        print("no report yet and none scheduled: run `workbench report`, or add [reports.daily] cron = \"0 7 * * *\" "
              "to workbench.toml for the agent to run it")
        return 0
    import pandas as pd

    from workbench.cli import _print_df

    df = pd.DataFrame(rows)
    _print_df(df.drop(columns=["latest"]), "table", out=sys.stdout)
    for r in rows:
        if r["latest"]:
            print(f"{r['report']}: {r['latest']}")
    return 0
