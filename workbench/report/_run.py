"""Run a report: check its parameters, execute it with papermill, export HTML, keep it, update the index.

>>> run_report("daily", home="./data", raw_params={"since": "2d"})   # doctest: +SKIP
RunResult(name='daily', status='ok', ...)

One run of a report at a time (a lock file per report name); a run that
fails keeps the previous report untouched and is kept itself, in a
``.failed`` folder, with the failing cell and its error in ``run.json``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench._atomic import replace_durable
from workbench.report._errors import (
    ReportBusyError,
    ReportError,
    ReportFailedError,
    ReportParameterError,
)
from workbench.report._store import (
    STAMP,
    apply_retention,
    reports_dir,
    write_index,
    write_json_atomic,
)

__all__ = ["RunResult", "run_report", "default_notebook", "ReportLock", "check_values"]


def default_notebook() -> Path:
    """``notebooks/report.ipynb`` of the checkout (``$WORKBENCH_NOTEBOOKS`` points elsewhere)."""
    env = os.environ.get("WORKBENCH_NOTEBOOKS")
    base = Path(env) if env else Path(__file__).resolve().parents[2] / "notebooks"
    return base / "report.ipynb"


@dataclass
class RunResult:
    """What one run produced: ``status`` is ``ok`` or ``failed``; ``dir`` holds it either way."""

    name: str
    status: str
    dir: str
    started: float
    ended: float
    params: dict[str, Any] = field(default_factory=dict)
    period: str = ""
    html: str | None = None
    html_bytes: int = 0
    cell: int | None = None
    cell_source: str = ""
    error: str = ""
    error_name: str = ""

    @property
    def duration_s(self) -> float:
        return self.ended - self.started

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "duration_s": self.duration_s}

    def describe_failure(self) -> str:
        where = f"cell {self.cell}" + (f" ({self.cell_source})" if self.cell_source else "")
        return f"{where}: {self.error}"


class ReportLock:
    """``reports/<name>/.lock``, created exclusively; one left by a dead process is taken over."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.held = False

    def holder(self) -> dict[str, Any] | None:
        import json

        import psutil

        try:
            info = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return None
        pid = int(info.get("pid", -1))
        try:
            alive = psutil.pid_exists(pid) and psutil.Process(pid).create_time() <= float(info.get("since", 0)) + 1
        except psutil.Error:
            alive = False
        return info if alive else None

    def acquire(self) -> ReportLock:
        import json

        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self.holder()
                if holder is not None:
                    raise ReportBusyError(
                        f"Report {self.path.parent.name!r} is already running (pid {holder.get('pid')}, since "
                        f"{time.strftime('%H:%M:%S', time.gmtime(float(holder.get('since', 0))))} UTC); wait for it "
                        f"to end, or remove {self.path} if that process is gone.", name=self.path.parent.name,
                        pid=holder.get("pid")) from None
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()  # its process is gone: take the lock over
                continue
            with os.fdopen(fd, "w") as f:
                json.dump({"pid": os.getpid(), "since": time.time()}, f)
            self.held = True
            return self
        raise ReportBusyError(f"Could not take {self.path}; another run took it at the same moment.",
                              name=self.path.parent.name)

    def release(self) -> None:
        if self.held:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            self.held = False

    def __enter__(self) -> ReportLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def check_values(values: dict[str, Any], home: str | os.PathLike) -> None:
    """The report notebook's own parameters, checked against the home before a kernel starts:
    the period and horizon parse, the hosts and metrics exist."""
    from workbench.errors import WorkbenchError

    try:
        if "since" in values or "until" in values:
            from workbench.report._period import resolve_period

            resolve_period(values.get("since", "1d"), values.get("until"))
        if values.get("horizon") is not None:
            from workbench.store._timeutil import parse_duration

            parse_duration(values["horizon"], what="horizon")
        if values.get("hosts") or values.get("metrics"):
            from workbench.store import Store

            store = Store(home)
            known = set(store.hosts())
            for h in values.get("hosts") or []:
                if h not in known:
                    raise ReportParameterError(f"Parameter 'hosts' names {h!r}, which has no data in {store.home}; "
                                               f"its hosts are: {', '.join(sorted(known)) or 'none'}.",
                                               parameter="hosts")
            for m in values.get("metrics") or []:
                store.check_metric(m)
    except ReportParameterError:
        raise
    except WorkbenchError as exc:
        raise ReportParameterError(f"{exc}", parameter=exc.fields.get("parameter", "")) from None


def _new_dir(base: Path, started: float) -> tuple[Path, str]:
    stamp = time.strftime(STAMP, time.gmtime(started))
    name, i = stamp, 1
    while (base / name).exists() or (base / f"{name}.failed").exists():
        i += 1
        name = f"{stamp}-{i}"
    return base / f".running-{name}", name


def _first_line(source: Any) -> str:
    text = "".join(source) if isinstance(source, list) else str(source or "")
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return (lines[-1] if lines else "").strip()[:80]


@contextlib.contextmanager
def _env(**values: str):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_report(name: str = "report", *, home: str | os.PathLike, notebook: str | os.PathLike | None = None,
               params: dict[str, Any] | None = None, raw_params: dict[str, str] | None = None,
               out: str | os.PathLike | None = None, cell_timeout: float | None = 600,
               keep: int | None = None, max_age: float | None = None, check: bool = False,
               progress: bool = False, clock=time.time) -> RunResult:
    """Run the report notebook ``notebook`` as report ``name`` and keep what it produced.

    ``params`` are typed values (from ``workbench.toml``), ``raw_params`` the
    texts of ``--param key=value`` (converted to each parameter's declared
    type). Both are checked before a kernel starts. The result is kept in
    ``out`` (default ``HOME/reports``) under ``<name>/<timestamp>/``;
    ``keep``/``max_age`` prune older runs afterwards. With ``check=True`` a
    failed run raises :class:`ReportFailedError` (after it has been kept).
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    from workbench.report._export import export_html

    nb_path = Path(notebook) if notebook is not None else default_notebook()
    if not nb_path.exists():
        raise ReportError(f"Report notebook {nb_path} does not exist; give an existing .ipynb with --notebook.",
                          notebook=str(nb_path))
    if not name or "/" in name or name.startswith("."):
        raise ReportParameterError(f"A report name must be a plain word such as 'daily'; got {name!r}.", name=name)
    values = check_parameters_for(nb_path, params or {}, raw_params or {})
    check_values(values, home)
    home = Path(home).resolve()
    root = Path(out).resolve() if out is not None else reports_dir(home)
    base = root / name
    base.mkdir(parents=True, exist_ok=True)
    with ReportLock(base / ".lock"):
        started = clock()
        tmp, final_name = _new_dir(base, started)
        tmp.mkdir()
        executed = tmp / "report.ipynb"
        period = _period_label(values)
        result = RunResult(name, "failed", "", started, started, params=values, period=period)
        try:
            with _env(WORKBENCH_HOME=str(home)):
                pm.execute_notebook(str(nb_path), str(executed), parameters=values, kernel_name="python3",
                                    progress_bar=progress, log_output=False, execution_timeout=cell_timeout,
                                    cwd=str(nb_path.parent), kernel_manager_class=_ipc_kernel_manager())
            result.html_bytes = export_html(executed, tmp / "report.html", title=str(values.get("title") or name))
            result.status = "ok"
        except PapermillExecutionError as exc:
            result.cell, result.error_name = _input_cell(executed, exc.cell_index), exc.ename
            result.cell_source = _first_line(exc.source)
            result.error = f"{exc.ename}: {exc.evalue}"
        except Exception as exc:  # noqa: BLE001 - a dead kernel, a timeout, an export error: recorded, not lost
            result.error_name = type(exc).__name__
            result.error = f"{type(exc).__name__}: {exc}"
        result.ended = clock()
        final = base / (final_name if result.status == "ok" else f"{final_name}.failed")
        result.dir = str(final)
        if result.status == "ok":
            result.html = str(final / "report.html")
        write_json_atomic(tmp / "run.json", result.as_dict())
        replace_durable(tmp, final)
        write_json_atomic(base / "last_run.json", result.as_dict())
    if keep is not None or max_age is not None:
        apply_retention(root, name, keep=keep, max_age=max_age)
    write_index(root)
    if check and result.status != "ok":
        previous = _previous_ok(root, name)
        kept = f" The previous report is kept: {previous}." if previous else ""
        raise ReportFailedError(
            f"Report {name!r} failed at {result.describe_failure()}.{kept} The notebook as far as it ran is in "
            f"{final}/report.ipynb.", name=name, cell=result.cell, error=result.error, run_dir=str(final))
    return result


def check_parameters_for(nb_path: Path, params: dict[str, Any], raw: dict[str, str]) -> dict[str, Any]:
    from workbench.report._params import check_parameters

    return check_parameters(nb_path, params, raw=raw)


def _input_cell(executed: Path, index: int) -> int:
    """The failing cell's number in the report notebook as its author sees it (1-based, the
    parameters papermill injected not counted)."""
    try:
        import nbformat

        nb = nbformat.read(str(executed), as_version=4)
        injected = sum(1 for c in nb.cells[:index] if "injected-parameters" in c.get("metadata", {}).get("tags", []))
    except Exception:  # noqa: BLE001 - the number is a courtesy; the error itself is recorded anyway
        injected = 0
    return index - injected + 1


def _period_label(values: dict[str, Any]) -> str:
    try:
        from workbench.report._period import resolve_period

        return resolve_period(values.get("since", "1d"), values.get("until")).label()
    except Exception:  # noqa: BLE001 - a notebook with other parameters has no period to show
        return ""


def _previous_ok(root: Path, name: str) -> str | None:
    from workbench.report._store import list_reports

    for r in list_reports(root, name):
        if r.get("status") == "ok":
            return str(Path(r["dir"]) / "report.html")
    return None


def remove_run(path: str | os.PathLike) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _ipc_kernel_manager() -> type:
    """nbclient's kernel manager on the ipc transport (Unix sockets): the report's kernel listens
    on no TCP port, and ipykernel does not print its 'running over TCP without encryption'
    warning into every `workbench report`."""
    from jupyter_client.manager import AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("transport", "ipc")
            super().__init__(**kwargs)

    return IPCKernelManager
