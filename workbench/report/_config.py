"""``[reports.NAME]`` tables of ``workbench.toml``, checked when the configuration is loaded.

::

    [reports.daily]
    cron = "0 7 * * *"              # when the agent runs it (UTC; croniter syntax)
    notebook = "notebooks/report.ipynb"   # optional; default: the shipped report
    keep = 30                        # retention: newest runs kept (optional)
    max_age = "30d"                  # retention: older runs deleted (optional)
    deliver = ["ops"]                # [notify.channels] names: e-mail or webhook (optional)
    attach = false                   # e-mail: the HTML inline (false) or attached (true)
    url = "https://reports.example/{path}"   # webhook: the link sent; {path} is relative to reports/
    cell_timeout = "10m"             # the longest a cell may run
    [reports.daily.params]           # the notebook's parameters
    since = "1d"
    title = "Daily report"

Only the standard library and croniter are imported here: configuration is
loaded by every command and by the agent, which must start fast and stay
small (papermill alone costs 2 s and 90 MB). Parameter names and types are
read from the notebook's ``parameters`` cell with :mod:`ast`, the same
reading papermill's ``inspect_notebook`` does, which the run itself uses.
"""

from __future__ import annotations

import ast
import difflib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.report._errors import ReportConfigError

__all__ = ["ReportSpec", "check_reports", "report_specs", "parameters_cell"]

KEYS = {"cron", "notebook", "params", "keep", "max_age", "deliver", "attach", "url", "cell_timeout", "enabled"}


@dataclass(frozen=True)
class ReportSpec:
    """One checked ``[reports.NAME]`` table."""

    name: str
    cron: str | None = None
    notebook: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    keep: int | None = None
    max_age: float | None = None
    deliver: tuple[str, ...] = ()
    attach: bool = False
    url: str | None = None
    cell_timeout: float = 600.0
    enabled: bool = True


def parameters_cell(notebook: str | os.PathLike) -> dict[str, Any]:
    """``name -> default`` of the code cell tagged ``parameters`` (literal defaults only; others are None)."""
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            src = cell.get("source", "")
            tree = ast.parse("".join(src) if isinstance(src, list) else src)
            out: dict[str, Any] = {}
            for node in tree.body:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
                    if isinstance(node, ast.AnnAssign) else []
                for t in targets:
                    if isinstance(t, ast.Name) and node.value is not None:
                        try:
                            out[t.id] = ast.literal_eval(node.value)
                        except ValueError:
                            out[t.id] = None
            return out
    return {}


def _where(name: str, key: str | None = None) -> str:
    return f"[reports.{name}]" + (f" {key}" if key else "")


def _check_cron(name: str, expr: Any) -> str:
    from croniter import croniter

    if not isinstance(expr, str) or not croniter.is_valid(expr):
        raise ReportConfigError(
            f"{_where(name, 'cron')} must be a cron expression of five fields (minute hour day month weekday), "
            f"e.g. \"0 7 * * *\" for 07:00 UTC every day; got {expr!r}.", key="cron", report=name)
    return expr


def _check_params(name: str, params: Any, notebook: Path) -> dict[str, Any]:
    from workbench.report._params import _ok, _type_name

    if not isinstance(params, dict):
        raise ReportConfigError(f"{_where(name, 'params')} must be a table of parameter = value; got {params!r}.",
                                key="params", report=name)
    if not notebook.exists():
        raise ReportConfigError(f"{_where(name, 'notebook')}: {notebook} does not exist; give the path of a report "
                                "notebook (relative to the directory the agent runs in, or absolute).",
                                key="notebook", report=name)
    declared = parameters_cell(notebook)
    for key, value in params.items():
        if key not in declared:
            close = difflib.get_close_matches(key, list(declared), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ReportConfigError(
                f"{_where(name, 'params')}: {notebook.name} has no parameter {key!r}.{hint} Its parameters are: "
                f"{', '.join(f'{k} (default {v!r})' for k, v in declared.items()) or 'none'}.",
                key=key, report=name)
        kind = _type_name(declared[key])
        if not _ok(value, kind):
            raise ReportConfigError(
                f"{_where(name, 'params')}: {key} must be of the type of its default {declared[key]!r} ({kind}); "
                f"got {value!r} ({type(value).__name__}).", key=key, report=name)
    return dict(params)


def _seconds(name: str, key: str, value: Any) -> float:
    from workbench.config import positive_duration

    return positive_duration(value, _where(name, key), key=key, report=name)


def check_report(name: str, table: Any, notify: dict[str, Any] | None = None) -> ReportSpec:
    if not isinstance(table, dict):
        raise ReportConfigError(f"{_where(name)} must be a table (cron = ..., params = ...); got {table!r}.",
                                report=name)
    for key in table:
        if key not in KEYS:
            close = difflib.get_close_matches(key, list(KEYS), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ReportConfigError(f"Unknown key {key!r} in {_where(name)}.{hint} Valid keys: "
                                    f"{', '.join(sorted(KEYS))}.", key=key, report=name)
    if not name.replace("-", "").replace("_", "").isalnum():
        raise ReportConfigError(f"Report name {name!r} must be letters, digits, '-' or '_' (it names a folder).",
                                report=name)
    cron = _check_cron(name, table["cron"]) if "cron" in table else None
    nb = table.get("notebook")
    if nb is not None and not isinstance(nb, str):
        raise ReportConfigError(f"{_where(name, 'notebook')} must be a path; got {nb!r}.", key="notebook", report=name)
    from workbench.report._run import default_notebook

    nb_path = Path(nb) if nb else default_notebook()
    params = _check_params(name, table.get("params", {}), nb_path)
    keep = table.get("keep")
    if keep is not None and (isinstance(keep, bool) or not isinstance(keep, int) or keep < 1):
        raise ReportConfigError(f"{_where(name, 'keep')} must be a whole number >= 1 (runs kept); got {keep!r}.",
                                key="keep", report=name)
    max_age = _seconds(name, "max_age", table["max_age"]) if "max_age" in table else None
    deliver = table.get("deliver", [])
    if isinstance(deliver, str):
        deliver = [deliver]
    if not isinstance(deliver, list) or not all(isinstance(d, str) for d in deliver):
        raise ReportConfigError(f"{_where(name, 'deliver')} must be a list of channel names; got {deliver!r}.",
                                key="deliver", report=name)
    channels = ((notify or {}).get("channels") or {}) if isinstance(notify, dict) else {}
    none = 'none (add [notify.channels.NAME] kind = "email")'
    for d in deliver:
        if d not in channels:
            raise ReportConfigError(
                f"{_where(name, 'deliver')} names channel {d!r}, which [notify.channels] does not define; "
                f"channels: {', '.join(sorted(channels)) or none}.",
                key="deliver", report=name)
    for key in ("attach", "enabled"):
        if key in table and not isinstance(table[key], bool):
            raise ReportConfigError(f"{_where(name, key)} must be true or false; got {table[key]!r}.", key=key,
                                    report=name)
    url = table.get("url")
    if url is not None and not isinstance(url, str):
        raise ReportConfigError(f"{_where(name, 'url')} must be a string; got {url!r}.", key="url", report=name)
    timeout = _seconds(name, "cell_timeout", table["cell_timeout"]) if "cell_timeout" in table else 600.0
    return ReportSpec(name, cron, nb, params, keep, max_age, tuple(deliver), bool(table.get("attach", False)), url,
                      timeout, bool(table.get("enabled", True)))


def report_specs(reports: dict[str, Any], notify: dict[str, Any] | None = None) -> dict[str, ReportSpec]:
    """Every ``[reports.NAME]`` table, checked; raises :class:`ReportConfigError` naming the first problem."""
    if not isinstance(reports, dict):
        raise ReportConfigError(f"[reports] must be a table of reports ([reports.daily] ...); got {reports!r}.")
    return {name: check_report(str(name), table, notify) for name, table in reports.items()}


def check_reports(reports: dict[str, Any], notify: dict[str, Any] | None = None) -> None:
    """What ``workbench.config`` calls while loading: raise on the first wrong report table."""
    report_specs(reports, notify)
