"""Where reports are kept: ``HOME/reports/<name>/<timestamp>/``, an index page, retention.

Layout::

    reports/index.html                    every report, newest first, linked
    reports/<name>/<YYYYmmddTHHMMSSZ>/    a finished run: report.html, report.ipynb, run.json
    reports/<name>/<...>.failed/          a failed run: the notebook as far as it ran, run.json (cell, error)
    reports/<name>/.running-<...>/        a run in progress (renamed when it ends)
    reports/<name>/.lock                  held while one runs

A run is written into its ``.running-`` folder and renamed when complete, so
a reader never sees half a report and a failed run never touches the
previous one.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from workbench import _atomic

__all__ = ["reports_dir", "list_reports", "write_index", "apply_retention", "write_json_atomic", "read_run",
           "STAMP"]

STAMP = "%Y%m%dT%H%M%SZ"


def reports_dir(home: str | os.PathLike) -> Path:
    return Path(home) / "reports"


def write_json_atomic(path: Path, data: Any) -> None:
    """A report's JSON record (``run.json``, the service's state), indented for a person reading it."""
    _atomic.write_json_atomic(path, data, indent=1, default=str)


def read_run(run_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((run_dir / "run.json").read_text())
    except (FileNotFoundError, ValueError):
        return None


def list_reports(root: str | os.PathLike, name: str | None = None) -> list[dict[str, Any]]:
    """Every kept run (finished or failed), newest first: the contents of its ``run.json`` plus ``dir``."""
    root = Path(root)
    out = []
    names = [name] if name else sorted(p.name for p in root.iterdir() if p.is_dir()) if root.exists() else []
    for n in names:
        base = root / n
        if not base.is_dir():
            continue
        for d in base.iterdir():
            if not d.is_dir() or d.name.startswith("."):
                continue
            run = read_run(d)
            if run is None:
                continue
            run["dir"] = str(d)
            out.append(run)
    out.sort(key=lambda r: r.get("started", 0), reverse=True)
    return out


def apply_retention(root: str | os.PathLike, name: str, *, keep: int | None = None,
                    max_age: float | None = None, now: float | None = None) -> list[str]:
    """Delete runs of ``name`` beyond the newest ``keep`` or older than ``max_age`` seconds.

    The newest finished report is always kept, whatever the limits, so a
    person never finds none; failed runs count like the others.
    """
    now = time.time() if now is None else now
    runs = list_reports(root, name)
    newest_ok = next((r for r in runs if r.get("status") == "ok"), None)
    removed = []
    for i, run in enumerate(runs):
        if run is newest_ok:
            continue
        too_many = keep is not None and i >= keep
        too_old = max_age is not None and now - float(run.get("started", now)) > max_age
        if too_many or too_old:
            shutil.rmtree(run["dir"], ignore_errors=True)
            removed.append(run["dir"])
    return removed


_INDEX_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2937; margin: 24px;
  max-width: 1000px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.4em; }
table { border-collapse: collapse; font-size: 0.92em; }
th, td { text-align: left; padding: 4px 12px; border-bottom: 1px solid #e5e7eb; }
th { background: #f3f4f6; }
.failed { color: #b91c1c; font-weight: 600; } .ok { color: #047857; }
.muted { color: #6b7280; }
"""


def _when(ts: Any) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(float(ts)))
    except (TypeError, ValueError):
        return ""


def write_index(root: str | os.PathLike) -> Path:
    """Write ``reports/index.html``: every kept run of every report, newest first, with links (no scripts)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    runs = list_reports(root)
    by_name: dict[str, list[dict]] = {}
    for r in runs:
        by_name.setdefault(r.get("name", "?"), []).append(r)
    e = html.escape
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Workbench reports</title>"
             f"<style>{_INDEX_STYLE}</style></head><body><h1>Workbench reports</h1>"
             f"<p class=\"muted\">{len(runs)} run(s) of {len(by_name)} report(s); updated "
             f"{e(_when(time.time()))}.</p>"]
    if not runs:
        parts.append("<p>No report yet: run <code>workbench report</code>.</p>")
    for name in sorted(by_name):
        parts.append(f"<h2 id=\"{e(name)}\">{e(name)}</h2><table><thead><tr><th>run</th><th>period (UTC)</th>"
                     "<th>status</th><th>took</th><th>size</th></tr></thead><tbody>")
        for r in by_name[name]:
            rel = os.path.relpath(r["dir"], root)
            ok = r.get("status") == "ok"
            link = (f'<a href="{e(rel)}/report.html">{e(_when(r.get("started")))}</a>' if ok
                    else f'<a href="{e(rel)}/report.ipynb">{e(_when(r.get("started")))}</a>')
            status = ('<span class="ok">ok</span>' if ok else
                      f'<span class="failed">failed</span> at cell {e(str(r.get("cell", "?")))}: '
                      f'{e(str(r.get("error", "")))[:200]}')
            size = f"{r['html_bytes'] / 2**20:.1f} MiB" if r.get("html_bytes") else ""
            parts.append(f"<tr data-report=\"{e(name)}\" data-status=\"{e(str(r.get('status')))}\"><td>{link}</td>"
                         f"<td>{e(str(r.get('period', '')))}</td><td>{status}</td>"
                         f"<td>{float(r.get('duration_s') or 0):.1f} s</td><td>{size}</td></tr>")
        parts.append("</tbody></table>")
    parts.append("</body></html>")
    path = root / "index.html"
    _atomic.write_text_atomic(path, "".join(parts))
    return path
