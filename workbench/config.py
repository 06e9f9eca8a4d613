"""Configuration: an optional ``workbench.toml`` plus environment variables.

Precedence, lowest first: built-in defaults, the TOML file, environment
variables (``WORKBENCH_HOME``, ``WORKBENCH_HOST``), command-line flags.

Validation is strict because a typo that is silently ignored is worse than an
error: an unknown key names itself and the keys that exist; a wrong type
names the type expected. Secrets never live in the file: a key such as
``password`` or ``token`` is refused and the message says to name an
environment variable instead (``password_env = "SMTP_PASSWORD"``). What looks
like a secret, here and in ``workbench config``'s output (:func:`redact`), is
decided by :mod:`workbench._redact`, the one redactor every part uses.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from workbench._params import Integral, Interval, Options, Real, check_params
from workbench._redact import is_secret_key as _is_secret_key
from workbench._redact import redact
from workbench.durations import parse_duration
from workbench.errors import ConfigError, DataError, ParameterError

__all__ = ["Config", "AgentConfig", "StoreConfig", "Problem", "check_config", "executor_options", "load_config",
           "positive_duration", "redact", "SECTIONS"]


@dataclass
class AgentConfig:
    interval: float = 1.0  # default collector interval, seconds
    flush_interval: float = 1.0  # buffer -> store; bounds what kill -9 can lose
    # The agent itself folds its one-second files into chunks every
    # absorb_interval (pyarrow only, a few ms), so readers of recent data open
    # about that many small files plus a few chunks.
    absorb_interval: float = 10.0
    # Sealing hours and days, rollups, retention: a short-lived child process
    # (DuckDB stays out of the agent's memory); each start costs ~0.3 s of CPU.
    compact_interval: float = 300.0
    status_interval: float = 2.0
    buffer_limit: int = 200_000  # samples held in memory at most if the disk stalls

    #: ranges beyond the type of the default (:mod:`workbench._params`); durations are > 0
    #: by :func:`positive_duration`
    _parameter_constraints = {"buffer_limit": [Interval(Integral, 1, None, closed="left", text="positive")]}


@dataclass
class StoreConfig:
    retention_raw: float = 7 * 86400.0
    retention_1m: float = 90 * 86400.0
    retention_1h: float = 5 * 365 * 86400.0
    seal_delay: float = 120.0
    gc_grace: float = 60.0
    fanout: int = 8

    _parameter_constraints = {
        "fanout": [Interval(Integral, 1, None, closed="left", text="positive")],
        "retention_raw": [Interval(Real, 2 * 3600, None, closed="left",
                                   text="at least 2h so that closed hours are rolled up before they expire")],
    }


_DURATION_FIELDS = {
    "interval", "flush_interval", "absorb_interval", "compact_interval", "status_interval",
    "retention_raw", "retention_1m", "retention_1h", "seal_delay", "gc_grace",
}


@dataclass
class Config:
    home: Path = Path("./data")
    host: str = ""
    agent: AgentConfig = field(default_factory=AgentConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    # Per-collector options, validated by the collector itself when created:
    # {"cpu": {"interval": 1.0, "enabled": True, ...}, ...}
    collectors: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Sections owned by other parts (alert rules, notifiers, reports,
    # executor): kept as plain dicts and validated by their owners.
    alerts: dict[str, Any] = field(default_factory=dict)
    notify: dict[str, Any] = field(default_factory=dict)
    reports: dict[str, Any] = field(default_factory=dict)
    executor: dict[str, Any] = field(default_factory=dict)
    source: str = "defaults"

    def compaction_policy(self):
        from workbench.store import CompactionPolicy

        return CompactionPolicy(**self.compaction_policy_kwargs())

    def compaction_policy_kwargs(self) -> dict[str, Any]:
        """The policy as plain values, for a compaction child process (the agent
        hands them over without importing the compactor itself)."""
        s = self.store
        return {
            "fanout": s.fanout,
            "seal_delay_s": s.seal_delay,
            "grace_s": s.gc_grace,
            "retention_s": {"raw": s.retention_raw, "1m": s.retention_1m, "1h": s.retention_1h},
        }

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"home": str(self.home), "host": self.host}
        out["agent"] = {f.name: getattr(self.agent, f.name) for f in fields(self.agent)}
        out["store"] = {f.name: getattr(self.store, f.name) for f in fields(self.store)}
        for name in ("collectors", "alerts", "notify", "reports", "executor"):
            out[name] = getattr(self, name)
        return out


SECTIONS = {"agent": AgentConfig, "store": StoreConfig}
_TOP = {"home", "host", "agent", "store", "collectors", "alerts", "notify", "reports", "executor"}
_FREEFORM = {"collectors", "alerts", "notify", "reports", "executor"}


def _unknown(key: str, where: str, valid) -> ConfigError:
    import difflib

    close = difflib.get_close_matches(key, list(valid), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ConfigError(
        f"Unknown key {key!r} in {where}.{hint} Valid keys: {', '.join(sorted(valid))}.",
        key=key,
        section=where,
    )


def positive_duration(value: Any, where: str, **fields: Any) -> float:
    """Seconds from ``value`` (``5``, ``"5"``, ``"30s"``, ``"1h30min"``), which must be finite and > 0.

    The one rule for every interval and duration, in ``workbench.toml``
    (``where="[agent] interval"``) and on the command line (``where="--interval"``):
    the grammar of :func:`workbench.durations.parse_duration`, and > 0 because an
    interval of 0 would busy-loop the agent. A bad value raises :class:`ParameterError`
    (a :class:`ConfigError`).
    """
    try:
        return parse_duration(value, what=where, positive=True)
    except DataError as exc:
        raise ParameterError(str(exc), **fields) from None


def _coerce(section: str, name: str, value: Any, default: Any) -> Any:
    """``value`` for ``[section] name``: of the default's type (durations parsed), then checked
    against the section's constraint table."""
    where = f"[{section}] {name}"
    if name in _DURATION_FIELDS:
        value = positive_duration(value, where, key=name, section=section)
    elif isinstance(default, bool):
        if not isinstance(value, bool):
            raise ParameterError(f"{where} must be true or false; got {value!r} ({type(value).__name__}).", key=name)
    elif isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParameterError(f"{where} must be an integer; got {value!r} ({type(value).__name__}).", key=name)
    check_params(SECTIONS[section], {name: value}, where=f"[{section}]", key=name, section=section)
    return value


def _check_secrets(data: Any, path: str) -> None:
    if isinstance(data, dict):
        for k, v in data.items():
            if _is_secret_key(str(k)) and not isinstance(v, dict):
                raise ConfigError(
                    f"{path}{k} looks like a secret; secrets must not be written in workbench.toml. "
                    f"Put it in an environment variable and name that variable instead: {k}_env = \"MY_{str(k).upper()}\".",
                    key=f"{path}{k}",
                )
            _check_secrets(v, f"{path}{k}.")
    elif isinstance(data, list):
        for i, v in enumerate(data):
            _check_secrets(v, f"{path}[{i}].")


def config_from_dict(data: dict[str, Any], source: str = "<dict>") -> Config:
    cfg = Config(source=source)
    _check_secrets(data, "")
    for key, value in data.items():
        if key not in _TOP:
            raise _unknown(key, f"{source} (top level)", _TOP)
        if key == "home":
            if not isinstance(value, str):
                raise ConfigError(f"home must be a path string; got {value!r} ({type(value).__name__}).", key="home")
            cfg.home = Path(value)
        elif key == "host":
            if not isinstance(value, str):
                raise ConfigError(f"host must be a string; got {value!r}.", key="host")
            cfg.host = value
        elif key in SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"[{key}] must be a table of keys; got {value!r}.", key=key)
            obj = getattr(cfg, key)
            valid = {f.name: f for f in fields(obj)}
            for k, v in value.items():
                if k not in valid:
                    raise _unknown(k, f"[{key}]", valid)
                setattr(obj, k, _coerce(key, k, v, getattr(obj, k)))
        elif key in _FREEFORM:
            if not isinstance(value, dict):
                raise ConfigError(f"[{key}] must be a table; got {value!r}.", key=key)
            setattr(cfg, key, value)
    if cfg.reports:  # [reports.NAME]: checked by their owner (stdlib and croniter only)
        from workbench.report._config import check_reports

        check_reports(cfg.reports, cfg.notify)
    return cfg


def find_config_file(explicit: str | os.PathLike | None = None) -> Path | None:
    if explicit:
        p = Path(explicit)
        if not p.exists():
            raise ConfigError(f"Config file {p} does not exist.", path=str(p))
        return p
    env = os.environ.get("WORKBENCH_CONFIG")
    if env:
        p = Path(env)
        if not p.exists():
            raise ConfigError(f"WORKBENCH_CONFIG points at {p}, which does not exist.", path=str(p))
        return p
    p = Path("workbench.toml")
    return p if p.exists() else None


def load_config(path: str | os.PathLike | None = None, *, home: str | None = None, host: str | None = None) -> Config:
    """Load the effective configuration (file, then environment, then arguments)."""
    file = find_config_file(path)
    if file is not None:
        try:
            data = tomllib.loads(file.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file} is not valid TOML: {exc}. Fix the line it names.", path=str(file)) from None
        cfg = config_from_dict(data, source=str(file))
    else:
        cfg = Config()
    if os.environ.get("WORKBENCH_HOME"):
        cfg.home = Path(os.environ["WORKBENCH_HOME"])
    if os.environ.get("WORKBENCH_HOST"):
        cfg.host = os.environ["WORKBENCH_HOST"]
    if home:
        cfg.home = Path(home)
    if host:
        cfg.host = host
    return cfg


# ------------------------------------------------------------------ [executor]
def _executor_value(key: str, value: Any) -> Any:
    where = f"[executor] {key}"
    if key in ("block_timeout", "ageing", "sample_interval", "control_interval"):
        return positive_duration(value, where, key=key, section="executor")
    check_params(Config, {key: value}, constraints=_executor_constraints(), where="[executor]", key=key,
                 section="executor")
    return value


def _executor_constraints() -> dict[str, list[Any]]:
    """The ``[executor]`` table's rows but durations (the profiles are the executor's, read when asked)."""
    whole = [Interval(Integral, 1, None, closed="left", text="a whole number >= 1")]
    rows: dict[str, list[Any]] = {"max_workers": whole, "queue_size": whole,
                                  "sched_idle": [Options(True, False, text="true or false")]}
    for key, choices in _EXECUTOR_CHOICES.items():
        rows[key] = [Options(*sorted(choices() if callable(choices) else choices))]
    return rows


def _profiles() -> list[str]:
    from workbench.execute._executor import PROFILES

    return list(PROFILES)


_EXECUTOR_CHOICES: dict[str, Any] = {
    "backend": ("thread", "process", "command"), "backpressure": ("block", "reject"),
    "memory_scope": ("system", "self"), "profile": _profiles,
}
EXECUTOR_KEYS = frozenset({"max_workers", "queue_size", "block_timeout", "ageing", "sample_interval",
                           "control_interval", "sched_idle", *_EXECUTOR_CHOICES})


def executor_options(cfg: Config) -> dict[str, Any]:
    """``[executor]`` as keyword arguments for ``ThrottledExecutor`` (durations in seconds), validated."""
    out = {}
    for key, value in cfg.executor.items():
        if key not in EXECUTOR_KEYS:
            raise _unknown(key, "[executor]", EXECUTOR_KEYS)
        out[key] = _executor_value(key, value)
    return out


# ------------------------------------------------------------------ the whole check
@dataclass(frozen=True)
class Problem:
    """One thing wrong (``level="error"``: the agent refuses to start) or doubtful (``"warning"``)."""

    level: str
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.message}"


def check_config(cfg: Config, *, collectors: list | None = None, catalogue: Iterable[str] = ()) -> list[Problem]:
    """Everything the agent checks before it starts, as a list of problems (empty: all is well).

    The agent runs this at start (and refuses to start on an error, with the
    same message) and ``workbench config --check`` prints it: one validation
    path. ``collectors`` are the agent's own when it has built them (otherwise
    they are built from ``[collectors]`` here, and closed); ``catalogue`` is the
    home's metric names. A rule on a metric that no collector records and the
    home has never seen is a warning naming the closest known names (it would
    never fire; an application metric not recorded yet looks the same).
    ``[reports]`` is checked by the reports' own code.
    """
    problems: list[Problem] = []
    metrics: set[str] = set(catalogue)
    if collectors is None:
        from workbench.agent import build_collectors

        try:
            collectors = build_collectors(cfg)
        except ConfigError as exc:
            problems.append(Problem("error", str(exc)))
            collectors = []
        else:
            for c in collectors:
                try:
                    c.close()
                except Exception:  # noqa: BLE001, S110 - built only to be checked
                    pass
    from workbench.agent import AGENT_METRICS

    metrics |= {spec.name for c in collectors for spec in c.metrics()} | {spec.name for spec in AGENT_METRICS}
    rules: list = []
    if cfg.alerts or cfg.notify:
        from workbench.detect._live import alerts_from_config, router_from_config

        try:
            rules, _silences = alerts_from_config(cfg.alerts)
        except ConfigError as exc:
            problems.append(Problem("error", str(exc)))
        try:
            router_from_config(cfg.notify)
        except ConfigError as exc:
            problems.append(Problem("error", str(exc)))
    if collectors or catalogue:
        import difflib

        for rule in rules:
            if rule.metric not in metrics:
                close = difflib.get_close_matches(rule.metric, sorted(metrics), n=3, cutoff=0.6)
                hint = (" Did you mean " + " or ".join(map(repr, close)) + "?") if close else (
                    " `workbench metrics` lists the metrics the home has.")
                problems.append(Problem("warning", f"Rule {rule.name!r} watches metric {rule.metric!r}, which no "
                                                   f"enabled collector records and the home has not seen, so it "
                                                   f"would never fire.{hint}"))
    try:
        executor_options(cfg)
    except ConfigError as exc:
        problems.append(Problem("error", str(exc)))
    return problems
