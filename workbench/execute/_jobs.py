"""The jobs file of ``workbench run --file jobs.toml``: read, validate, order.

::

    [run]                       # optional; command-line flags win
    name = "nightly"            # the executor's name (`workbench executors`)
    profile = "cpu"             # cpu | io | mixed
    max_workers = 4             # a fixed limit; without it the governor decides

    [templates.py]              # reusable settings a job names with template = "py"
    cwd = "src"
    env = { PYTHONUNBUFFERED = "1" }
    nice = 5
    timeout = "10min"

    [jobs.build]
    cmd = "make -j2"            # a string runs through /bin/sh; a list is the argv
    memory_limit = "2GiB"

    [jobs.test]
    template = "py"             # the template's settings, then these on top (env tables merge)
    cmd = ["python", "-m", "pytest", "-q"]
    after = ["build"]           # starts only when build succeeded
    retry = 2                   # up to 2 more tries after a failure ({ times = 2, backoff = "5s" } too)
    priority = 10               # higher starts first among ready jobs
    cpu_affinity = [0, 1]       # or "0-1"

Everything is checked before anything runs: an unknown key, a bad duration or size,
an ``after`` naming no job, or ``after`` links forming a cycle raise
:class:`JobsFileError` naming the file, the job (or template), the key, what was
given and what is allowed.
"""

from __future__ import annotations

import difflib
import graphlib
import math
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.durations import parse_duration
from workbench.errors import DataError
from workbench.execute._errors import DependencyCycleError, JobsFileError

__all__ = ["Job", "JobsFile", "load_jobs", "parse_jobs", "parse_size", "JOB_KEYS", "RUN_KEYS"]

#: Keys of a ``[jobs.NAME]`` or ``[templates.NAME]`` table, and what each takes.
JOB_KEYS: dict[str, str] = {
    "cmd": "a string (run by /bin/sh) or a list of strings (the argv)",
    "template": "the name of a [templates.X] table",
    "cwd": "a directory (relative to the jobs file)",
    "env": "a table of NAME = \"value\" added to the environment",
    "nice": "an integer 0-19 added to the job's niceness",
    "cpu_affinity": "a list of CPU numbers or a string such as \"0-3,6\"",
    "memory_limit": "a size such as \"512MiB\", \"2G\" or a number of bytes (address space, RLIMIT_AS)",
    "timeout": "a duration per try such as \"90s\", \"10min\", \"2h\" or seconds",
    "retry": "a number of retries after a failure, or { times = N, backoff = \"5s\", max_backoff = \"1min\" }",
    "priority": "a number; higher starts first among ready jobs",
    "after": "a job name or a list of job names that must succeed first",
}
RUN_KEYS: dict[str, str] = {
    "name": "the executor's name: letters, digits, '_', '.' and '-' (at most 64)",
    "profile": "cpu, io or mixed",
    "max_workers": "an integer >= 1 (a fixed limit; without it the governor decides)",
}
TOP_KEYS = {"run": "a [run] table", "templates": "[templates.NAME] tables", "jobs": "[jobs.NAME] tables"}
RETRY_KEYS = {"times": "retries after a failure (>= 0)", "backoff": "a duration, default 1s",
              "max_backoff": "a duration, default 1min"}
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)\s*$")
_SIZE_UNITS = {
    "": 1, "b": 1,
    "k": 1024, "kib": 1024, "kb": 1000,
    "m": 1024**2, "mib": 1024**2, "mb": 1000**2,
    "g": 1024**3, "gib": 1024**3, "gb": 1000**3,
    "t": 1024**4, "tib": 1024**4, "tb": 1000**4,
}
_MIN_MEMORY = 1 << 20


@dataclass(frozen=True)
class Job:
    """One job, validated: what ``workbench run`` turns into a :class:`~workbench.execute.Command` task."""

    name: str
    cmd: str | tuple[str, ...]
    cwd: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    nice: int | None = None
    cpu_affinity: tuple[int, ...] | None = None
    memory_limit: int | None = None
    timeout: float | None = None
    retries: int = 0
    backoff: float = 1.0
    max_backoff: float = 60.0
    priority: float = 0.0
    after: tuple[str, ...] = ()

    @property
    def shell(self) -> bool:
        return isinstance(self.cmd, str)

    def describe(self) -> str:
        return self.cmd if isinstance(self.cmd, str) else " ".join(self.cmd)


@dataclass(frozen=True)
class JobsFile:
    """A validated jobs file: jobs in an order that puts every job after its ``after``."""

    jobs: tuple[Job, ...]
    name: str | None = None
    profile: str | None = None
    max_workers: int | None = None
    path: Path | None = None


def parse_size(value: Any, where: str = "size") -> int:
    """Bytes from ``1048576``, ``"512MiB"``, ``"512M"`` (binary, as ``docker``/``ulimit``),
    ``"1.5GB"`` (decimal) ...; raises :class:`~workbench.errors.ConfigError`-compatible
    :class:`JobsFileError` for anything else."""
    if isinstance(value, bool):
        raise JobsFileError(f"{where} must be a size; got {value!r}.", value=value)
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value <= 0:
            raise JobsFileError(f"{where} must be a positive size; got {value!r}.", value=value)
        return int(value)
    if isinstance(value, str):
        m = _SIZE.match(value)
        if m and m.group(2).lower() in _SIZE_UNITS:
            n = int(float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()])
            if n > 0:
                return n
    raise JobsFileError(
        f"{where} must be a size such as '512MiB', '2G', '1.5GB' or a number of bytes; got {value!r}. "
        "Units: B, K/KiB, M/MiB, G/GiB, T/TiB (powers of 1024), kB, MB, GB, TB (powers of 1000).", value=value)


def _cpus(value: Any, where: str) -> tuple[int, ...]:
    cpus: list[int] = []
    if isinstance(value, str):
        for part in value.split(","):
            part = part.strip()
            m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
            if not m or (m.group(2) is not None and int(m.group(2)) < int(m.group(1))):
                raise JobsFileError(f"{where} must list CPUs like \"0-3,6\" or [0, 1]; got {value!r}.", value=value)
            lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
            cpus.extend(range(lo, hi + 1))
    elif isinstance(value, list) and value and all(isinstance(c, int) and not isinstance(c, bool) and c >= 0
                                                   for c in value):
        cpus = list(value)
    else:
        raise JobsFileError(f"{where} must list CPUs like \"0-3,6\" or [0, 1]; got {value!r}.", value=value)
    try:
        usable = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = list(range(os.cpu_count() or 1))
    missing = sorted(set(cpus) - set(usable))
    if missing:
        raise JobsFileError(f"{where} names CPU(s) {missing} that this process cannot use; usable CPUs: "
                            f"{_ranges(usable)}.", value=value)
    return tuple(sorted(set(cpus)))


def _ranges(cpus: Sequence[int]) -> str:
    out, start, prev = [], None, None
    for c in cpus:
        if start is None:
            start = prev = c
        elif c == prev + 1:
            prev = c
        else:
            out.append(f"{start}-{prev}" if prev != start else str(start))
            start = prev = c
    if start is not None:
        out.append(f"{start}-{prev}" if prev != start else str(start))
    return ",".join(out)


def _duration(value: Any, where: str, *, zero: bool = False) -> float:
    try:
        return parse_duration(value, what=where, positive=not zero)
    except DataError as exc:
        reason = exc.fields.get("reason")
        raise JobsFileError(f"{where} must be a {'' if zero else 'positive '}duration such as '90s', '10min', "
                            f"'1h30min' or a number of seconds; got {value!r} ({reason}).", value=value) from None


def _unknown(key: str, where: str, allowed: Mapping[str, str], **fields: Any) -> JobsFileError:
    close = difflib.get_close_matches(key, list(allowed), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    listing = "; ".join(f"{k}: {v}" for k, v in allowed.items())
    return JobsFileError(f"{where}: unknown key {key!r}.{hint} Allowed keys: {listing}.", key=key, **fields)


def _check_keys(table: Mapping[str, Any], where: str, allowed: Mapping[str, str], **fields: Any) -> None:
    for key in table:
        if key not in allowed:
            raise _unknown(key, where, allowed, **fields)


def _settings(raw: Any, where: str, *, template: bool, base: Path, **fields: Any) -> dict[str, Any]:
    """One job's or template's keys, each checked and normalised (cmd and after left for later)."""
    if not isinstance(raw, Mapping):
        raise JobsFileError(f"{where} must be a table ([...] section); got {raw!r}.", **fields)
    _check_keys(raw, where, JOB_KEYS, **fields)
    if template and "template" in raw:
        raise JobsFileError(f"{where}: a template cannot name another template (key 'template'); "
                            "put the shared settings in one template.", key="template", **fields)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        here = f"{where}: {key}"
        kf = dict(fields, key=key)
        try:
            if key == "cmd":
                if isinstance(value, str) and value.strip():
                    out[key] = value
                elif isinstance(value, list) and value and all(isinstance(a, str) for a in value) and value[0]:
                    out[key] = tuple(value)
                else:
                    raise JobsFileError(f"{here} must be {JOB_KEYS['cmd']}; got {value!r}.")
            elif key == "template":
                if not isinstance(value, str):
                    raise JobsFileError(f"{here} must be {JOB_KEYS['template']}; got {value!r}.")
                out[key] = value
            elif key == "cwd":
                if not isinstance(value, str) or not value:
                    raise JobsFileError(f"{here} must be {JOB_KEYS['cwd']}; got {value!r}.")
                path = (base / os.path.expanduser(value)).resolve()
                if not path.is_dir():
                    raise JobsFileError(f"{here}: directory {value!r} does not exist (looked for {path}).")
                out[key] = str(path)
            elif key == "env":
                if not isinstance(value, Mapping) or not all(
                        isinstance(k, str) and k and "=" not in k for k in value):
                    raise JobsFileError(f"{here} must be {JOB_KEYS['env']}; got {value!r}.")
                env = {}
                for k, v in value.items():
                    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
                        raise JobsFileError(f"{here}: {k} must be a string or a number; got {v!r}.")
                    env[k] = str(v)
                out[key] = env
            elif key == "nice":
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 19:
                    raise JobsFileError(f"{here} must be {JOB_KEYS['nice']}; got {value!r}.")
                out[key] = value
            elif key == "cpu_affinity":
                out[key] = _cpus(value, here)
            elif key == "memory_limit":
                n = parse_size(value, here)
                if n < _MIN_MEMORY:
                    raise JobsFileError(f"{here} of {n} bytes is too small to start a program; give at least 1MiB "
                                        f"(it limits the address space, which is larger than the resident memory).")
                out[key] = n
            elif key == "timeout":
                out[key] = _duration(value, here)
            elif key == "retry":
                out.update(_retry(value, here, **fields))
            elif key == "priority":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    raise JobsFileError(f"{here} must be {JOB_KEYS['priority']}; got {value!r}.")
                out[key] = float(value)
            elif key == "after":
                names = [value] if isinstance(value, str) else value
                if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
                    raise JobsFileError(f"{here} must be {JOB_KEYS['after']}; got {value!r}.")
                out[key] = tuple(dict.fromkeys(names))
        except JobsFileError as exc:
            if exc.fields.get("key") is None:
                raise JobsFileError(exc.message, **{**exc.fields, **kf}) from None
            raise
    return out


def _retry(value: Any, where: str, **fields: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        raise JobsFileError(f"{where} must be {JOB_KEYS['retry']}; got {value!r}.")
    if isinstance(value, int):
        if value < 0:
            raise JobsFileError(f"{where} must be >= 0 retries; got {value!r}.")
        return {"retries": value}
    if isinstance(value, Mapping):
        _check_keys(value, where, RETRY_KEYS, **fields)
        times = value.get("times", 1)
        if isinstance(times, bool) or not isinstance(times, int) or times < 0:
            raise JobsFileError(f"{where}: times must be an integer >= 0; got {times!r}.")
        out = {"retries": times}
        if "backoff" in value:
            out["backoff"] = _duration(value["backoff"], f"{where}: backoff", zero=True)
        if "max_backoff" in value:
            out["max_backoff"] = _duration(value["max_backoff"], f"{where}: max_backoff", zero=True)
        return out
    raise JobsFileError(f"{where} must be {JOB_KEYS['retry']}; got {value!r}.")


def check_run_settings(raw: Any, where: str) -> dict[str, Any]:
    """The ``[run]`` table (or the same settings from the command line), checked."""
    if not isinstance(raw, Mapping):
        raise JobsFileError(f"{where} must be a table; got {raw!r}.")
    _check_keys(raw, where, RUN_KEYS, job=None)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "name" and not (isinstance(value, str) and _NAME.match(value)):
            raise JobsFileError(f"{where}: name must be {RUN_KEYS['name']}; got {value!r}.", key=key)
        if key == "profile" and value not in ("cpu", "io", "mixed"):
            raise JobsFileError(f"{where}: profile must be cpu, io or mixed; got {value!r}.", key=key)
        if key == "max_workers" and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise JobsFileError(f"{where}: max_workers must be {RUN_KEYS['max_workers']}; got {value!r}.", key=key)
        out[key] = value
    return out


def parse_jobs(data: Mapping[str, Any], source: str = "jobs file", base: Path | None = None) -> JobsFile:
    """Validate a parsed jobs file (see the module docstring); ``base`` resolves relative ``cwd``."""
    base = base or Path.cwd()
    _check_keys(data, source, TOP_KEYS)
    run = check_run_settings(data.get("run", {}), f"{source}: [run]")
    raw_templates = data.get("templates", {})
    if not isinstance(raw_templates, Mapping):
        raise JobsFileError(f"{source}: templates must be [templates.NAME] tables; got {raw_templates!r}.")
    templates = {name: _settings(t, f"{source}: [templates.{name}]", template=True, base=base, template_name=name)
                 for name, t in raw_templates.items()}
    raw_jobs = data.get("jobs")
    if not isinstance(raw_jobs, Mapping) or not raw_jobs:
        raise JobsFileError(f"{source} defines no jobs: add at least one [jobs.NAME] table with a cmd, e.g.\n"
                            "  [jobs.build]\n  cmd = \"make\"")
    jobs: dict[str, Job] = {}
    for name, raw in raw_jobs.items():
        where = f"{source}: [jobs.{name}]"
        if not _NAME.match(name):
            raise JobsFileError(f"{where}: a job name uses letters, digits, '_', '.' and '-' (at most 64), since it "
                                "names its log file and its task; rename it.", job=name)
        own = _settings(raw, where, template=False, base=base, job=name)
        merged: dict[str, Any] = {}
        tname = own.pop("template", None)
        if tname is not None:
            if tname not in templates:
                known = ", ".join(sorted(templates)) or "none are defined"
                raise JobsFileError(f"{where}: template {tname!r} is not defined; templates: {known}.",
                                    job=name, key="template")
            merged.update(templates[tname])
        env = {**merged.get("env", {}), **own.get("env", {})}
        merged.update(own)
        if env:
            merged["env"] = env
        if "cmd" not in merged:
            raise JobsFileError(f"{where} has no cmd (nor does its template): add cmd = \"...\" or cmd = [\"...\"].",
                                job=name, key="cmd")
        jobs[name] = Job(name=name, **merged)
    for job in jobs.values():
        for dep in job.after:
            if dep == job.name:
                raise DependencyCycleError(f"{source}: [jobs.{job.name}]: after names the job itself; remove "
                                           f"{dep!r} from its after.", job=job.name, key="after")
            if dep not in jobs:
                close = difflib.get_close_matches(dep, list(jobs), n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise JobsFileError(f"{source}: [jobs.{job.name}]: after names {dep!r}, which is no job here.{hint} "
                                    f"Jobs: {', '.join(jobs)}.", job=job.name, key="after", value=dep)
    sorter = graphlib.TopologicalSorter({j.name: j.after for j in jobs.values()})
    try:
        order = list(sorter.static_order())
    except graphlib.CycleError as exc:
        cycle = list(exc.args[1])
        cycle.reverse()  # graphlib lists it against the arrows; read it as "a waits for b waits for ..."
        raise DependencyCycleError(
            f"{source}: the jobs' after links form a cycle: {' -> '.join(cycle)} (each waits for the next). "
            "Remove one of these after links.", cycle=cycle, key="after") from None
    return JobsFile(jobs=tuple(jobs[n] for n in order), name=run.get("name"), profile=run.get("profile"),
                    max_workers=run.get("max_workers"))


def load_jobs(path: str | os.PathLike) -> JobsFile:
    """Read and validate a jobs file (TOML); a syntax error names the line."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise JobsFileError(f"cannot read the jobs file {str(path)!r}: {exc.strerror or exc}. Check the path given "
                            "to --file.", path=str(path)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise JobsFileError(f"{path} is not valid TOML: {exc}.", path=str(path)) from None
    parsed = parse_jobs(data, str(path), base=path.resolve().parent)
    return JobsFile(parsed.jobs, parsed.name, parsed.profile, parsed.max_workers, path)
