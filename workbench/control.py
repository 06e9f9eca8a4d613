"""Control plane: actions as records, applied by the process that owns their target.

The agent owns the alerts' state and an executor lives in the process that
started it, yet a person acts from a dashboard kernel, a notebook, a terminal
or another host sharing the home. So an action is a *record*:

* any process calls :func:`act`, which appends one row to the store's
  ``actions`` table (who, when, target, action, arguments as JSON, reason);
* the owner of the target polls for new action files (:class:`ActionPoller`:
  a few ``stat`` calls per second when nothing is new, Parquet read with
  pyarrow only, no pandas or DuckDB, so the agent stays small), applies each
  action once and appends the outcome (``applied`` or ``refused`` with the
  reason) to ``action_results``;
* :func:`outcome` and :func:`wait` read that outcome back.

Nothing listens on the network, both tables are an audit log in SQL
(``SELECT a.*, r.owner, r.outcome, r.detail FROM actions a JOIN action_results r USING (action_id)``), and an
action made while its owner is down applies when the owner starts: an owner
remembers what it has done through its own outcome records, so a restart
neither redoes an action nor skips one.

Targets and their actions (arguments in braces)::

    alerts:<host>        the agent recording <host>       ack {alert_id, note?}
    alerts:*             every agent in the home          silence {matchers: {rule?, host?, labels?}, until, comment?}
                                                          unsilence {silence_id}
    executor:<name>      every executor of that name      pause, resume, drain, cancel {name?, tag?, key?},
    executor:<name>@<h>  the one on host <h>              set_limit {max_workers}, reprioritise {priority, name?, tag?, key?}

``until`` is an ISO time, epoch seconds, or (a number below 10⁹) seconds
from the action's time; :func:`act` stores it as epoch seconds. A silence's
id is the ``action_id`` of the action that made it.

Owners also publish their live state: the agent in its status file
(``workbench status``), a named executor in a small JSON file per executor,
``HOME/control/executors/<host>/<name>.json``, written atomically about every
second (see :func:`executors` and :mod:`workbench.execute._publish`).
"""

from __future__ import annotations

import getpass
import json
import logging
import math
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from workbench._arrow import table_from_rows
from workbench._logthrottle import RepeatedFailure
from workbench.errors import ActionError, ActionTimeoutError
from workbench.store._store import Store, register_table

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ACTIONS", "ACTIONS_SCHEMA", "RESULTS_SCHEMA", "Action", "ActionPoller", "act", "outcome", "wait",
    "executors", "check_action", "parse_target", "owner_alive", "executor_status_path", "default_by",
]

log = logging.getLogger("workbench.control")

_TS = pa.timestamp("us", tz="UTC")
ACTIONS_SCHEMA = pa.schema([
    ("action_id", pa.string()), ("ts", _TS), ("by", pa.string()), ("host", pa.string()),
    ("target", pa.string()), ("action", pa.string()), ("args", pa.string()), ("reason", pa.string()),
])
RESULTS_SCHEMA = pa.schema([
    ("action_id", pa.string()), ("ts", _TS), ("owner", pa.string()), ("outcome", pa.string()),
    ("detail", pa.string()),
])
register_table("actions", ACTIONS_SCHEMA)
register_table("action_results", RESULTS_SCHEMA)

#: Valid actions per target kind.
ACTIONS: dict[str, tuple[str, ...]] = {
    "alerts": ("ack", "silence", "unsilence"),
    "executor": ("pause", "resume", "drain", "cancel", "set_limit", "reprioritise"),
}
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_SELECT = ("name", "tag", "key")
# A new file written within this many seconds of a directory listing may share the
# directory's mtime with an earlier one (coarse file-system clocks), so a directory
# changed this recently is listed again even if its mtime looks the same.
_RACY = 2.0
#: An executor whose status file is older than this (and whose process cannot be checked) is taken as gone.
STALE_AFTER = 5.0


def default_by() -> str:
    """Who acts, by default: ``user@hostname``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def _as_store(store: Store | str | os.PathLike | None) -> Store:
    return store if isinstance(store, Store) else Store(store)


# ------------------------------------------------------------------ validation ---
def parse_target(target: Any) -> tuple[str, str, str | None]:
    """``(kind, name, host)`` of a target string; raises :class:`ActionError` if it is malformed.

    ``alerts:<host>`` gives ``("alerts", host, None)``; ``executor:<name>[@<host>]``
    gives ``("executor", name, host or None)``.
    """
    if not isinstance(target, str) or ":" not in target:
        raise ActionError(
            f"Target {target!r} is not valid: write 'alerts:<host>', 'alerts:*', 'executor:<name>' or "
            "'executor:<name>@<host>'.", target=target)
    kind, _, rest = target.partition(":")
    if kind == "alerts":
        if rest == "*" or _NAME.match(rest):
            return kind, rest, None
        raise ActionError(f"Target {target!r}: after 'alerts:' give a host name or '*'.", target=target)
    if kind == "executor":
        name, _, host = rest.partition("@")
        if _NAME.match(name) and (not host or _NAME.match(host)):
            return kind, name, host or None
        raise ActionError(
            f"Target {target!r}: an executor name uses letters, digits, '_', '.' and '-' (at most 64), "
            "optionally followed by @<host>.", target=target)
    raise ActionError(f"Target {target!r} has unknown kind {kind!r}; kinds are {', '.join(ACTIONS)}.",
                      target=target)


def _opt_str(args: Mapping, key: str, where: str) -> str | None:
    value = args.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ActionError(f"{where}: {key!r} must be a non-empty string; got {value!r}.", key=key)
    return value


def _until(value: Any, now: float, where: str) -> float:
    """Epoch seconds of a silence's end (ISO, epoch seconds, or seconds from ``now``)."""
    if isinstance(value, bool) or value is None:
        raise ActionError(f"{where}: 'until' must be an ISO time, epoch seconds or seconds from now; got {value!r}.")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ActionError(f"{where}: 'until' must be finite; got {value!r}.")
        return float(value) if value >= 1e9 else now + float(value)
    if isinstance(value, str):
        import datetime as dt

        try:
            stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
        except ValueError:
            raise ActionError(f"{where}: 'until' {value!r} is not an ISO time such as '2026-03-01T18:00Z'.") from None
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=dt.UTC)
        return stamp.timestamp()
    raise ActionError(f"{where}: 'until' must be an ISO time or a number of seconds; got {value!r}.")


def _allowed(args: Mapping, keys: Iterable[str], where: str) -> None:
    unknown = sorted(set(args) - set(keys))
    if unknown:
        allowed = sorted(keys)
        raise ActionError(f"{where}: unknown argument(s) {unknown}; "
                          + (f"allowed: {allowed}." if allowed else "it takes none."), unknown=unknown)


def check_action(target: str, action: Any, args: Any, *, now: float | None = None) -> dict[str, Any]:
    """Validate ``action`` with ``args`` for ``target``; return the arguments normalised.

    Both :func:`act` (before anything is written) and the owners (on every record,
    since a record may have been appended by anything) call this: one set of rules.
    Raises :class:`ActionError` saying what was wrong and what is valid.
    """
    kind, _name, _host = parse_target(target)
    valid = ACTIONS[kind]
    if action not in valid:
        raise ActionError(f"Unknown action {action!r} for target {target!r}; valid actions: {', '.join(valid)}.",
                          action=action, valid=list(valid))
    if args is None:
        args = {}
    if not isinstance(args, Mapping):
        raise ActionError(f"Arguments of {action!r} must be a mapping (a JSON object); got {args!r}.", action=action)
    where = f"{action} on {target}"
    now = time.time() if now is None else now
    out: dict[str, Any] = {}
    if action == "ack":
        _allowed(args, ("alert_id", "note"), where)
        alert_id = _opt_str(args, "alert_id", where)
        if alert_id is None:
            raise ActionError(f"{where}: needs 'alert_id' (see `workbench alerts` for the ids).")
        note = args.get("note") or ""
        if not isinstance(note, str):
            raise ActionError(f"{where}: 'note' must be a string; got {note!r}.")
        out = {"alert_id": alert_id, "note": note}
    elif action == "silence":
        _allowed(args, ("matchers", "until", "comment"), where)
        matchers = args.get("matchers")
        if not isinstance(matchers, Mapping):
            raise ActionError(f"{where}: 'matchers' must be a mapping with rule, host and/or labels; got {matchers!r}.")
        _allowed(matchers, ("rule", "host", "labels"), f"{where} (matchers)")
        m: dict[str, Any] = {}
        for key in ("rule", "host"):
            value = _opt_str(matchers, key, f"{where} (matchers)")
            if value is not None:
                m[key] = value
        labels = matchers.get("labels") or {}
        if not isinstance(labels, Mapping) or not all(isinstance(k, str) and k for k in labels):
            raise ActionError(f"{where}: matcher 'labels' must map label names to values; got {labels!r}.")
        for key, value in labels.items():
            text = str(value)
            if text.startswith("~"):
                try:
                    re.compile(text[1:])
                except re.error as exc:
                    raise ActionError(f"{where}: label matcher {key}={text!r} is not a valid regular expression "
                                      f"({exc}).") from None
        if labels:
            m["labels"] = {str(k): str(v) for k, v in labels.items()}
        if not m:
            raise ActionError(f"{where}: give at least one matcher (rule, host or a label), e.g. rule=cpu_high.")
        end = _until(args.get("until"), now, where)
        if end <= now:
            raise ActionError(f"{where}: the silence would end at {_iso(end)}, which is not after its start "
                              f"({_iso(now)}); give a positive duration such as --for 2h.", until=end)
        comment = args.get("comment") or ""
        if not isinstance(comment, str):
            raise ActionError(f"{where}: 'comment' must be a string; got {comment!r}.")
        out = {"matchers": m, "until": end, "comment": comment}
    elif action == "unsilence":
        _allowed(args, ("silence_id",), where)
        sid = _opt_str(args, "silence_id", where)
        if sid is None:
            raise ActionError(f"{where}: needs 'silence_id' (see `workbench alerts silences`).")
        out = {"silence_id": sid}
    elif action in ("pause", "resume", "drain"):
        _allowed(args, (), where)
    elif action == "cancel":
        _allowed(args, _SELECT, where)
        out = {k: v for k in _SELECT if (v := _opt_str(args, k, where)) is not None}
    elif action == "set_limit":
        _allowed(args, ("max_workers",), where)
        n = args.get("max_workers")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ActionError(f"{where}: 'max_workers' must be an integer >= 1; got {n!r}.", max_workers=n)
        out = {"max_workers": n}
    elif action == "reprioritise":
        _allowed(args, ("priority", *_SELECT), where)
        p = args.get("priority")
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not math.isfinite(p):
            raise ActionError(f"{where}: 'priority' must be a number; got {p!r}.", priority=p)
        out = {"priority": p, **{k: v for k in _SELECT if (v := _opt_str(args, k, where)) is not None}}
    return out


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


# ---------------------------------------------------------------------- acting ---
def act(store: Store | str | os.PathLike | None, target: str, action: str, args: Mapping[str, Any] | None = None,
        *, reason: str = "", by: str | None = None) -> str:
    """Append one action for ``target``'s owner; return its ``action_id``.

    Nothing waits here: :func:`wait` (or :func:`outcome`) tells whether the owner
    applied it. An unknown target kind, action or bad arguments raise
    :class:`ActionError` and write nothing.
    """
    store = _as_store(store)
    now = time.time()
    clean = check_action(target, action, args, now=now)
    action_id = uuid.uuid4().hex
    row = {"action_id": action_id, "ts": now, "by": by or default_by(), "host": store.host, "target": target,
           "action": action, "args": json.dumps(clean, sort_keys=True), "reason": reason or ""}
    store.append_records("actions", table_from_rows([row], ACTIONS_SCHEMA))
    return action_id


def outcome(store: Store | str | os.PathLike | None, action_id: str) -> dict[str, Any] | None:
    """The first recorded outcome of ``action_id`` (``action_id, ts, owner, outcome, detail``; ``ts``
    in epoch seconds), or ``None`` while no owner has answered."""
    store = _as_store(store)
    return _first_outcome(TableTail(store.layout.table_dir("action_results")), action_id)


def _first_outcome(tail: TableTail, action_id: str) -> dict[str, Any] | None:
    for row in tail.new_rows():
        if row.get("action_id") == action_id:
            return row
    return None


def wait(store: Store | str | os.PathLike | None, action_id: str, timeout: float = 5.0,
         poll: float = 0.05) -> dict[str, Any]:
    """Wait up to ``timeout`` seconds for the outcome of ``action_id``; return it.

    Raises :class:`ActionTimeoutError` if no owner answered, saying whether the
    owner looks alive (the action stays recorded and applies when it starts).
    """
    store = _as_store(store)
    tail = TableTail(store.layout.table_dir("action_results"))
    deadline = time.monotonic() + timeout
    while True:
        found = _first_outcome(tail, action_id)
        if found is not None:
            return found
        if time.monotonic() >= deadline:
            break
        time.sleep(poll)
    record = find_action(store, action_id)
    if record is None:
        raise ActionTimeoutError(f"No action {action_id!r} is recorded in {store.home}; check the id.",
                                 action_id=action_id, owner_alive=None)
    alive = owner_alive(store, record["target"])
    who = _owner_words(record["target"])
    who = who[0].upper() + who[1:]
    if record["target"] == "alerts:*" and not alive:
        msg = (f"No agent is running in {store.home}: action {action_id} ({record['action']}) is recorded and "
               "applies when one starts (`workbench agent`).")
    elif alive:
        msg = (f"{who} looks alive but has not answered action {action_id} ({record['action']}) within "
               f"{timeout:g} s; it may be busy. The action stays recorded and applies when it polls.")
    else:
        msg = (f"{who} is not running: action {action_id} ({record['action']}) is recorded and applies "
               "when it starts.")
    raise ActionTimeoutError(msg, action_id=action_id, target=record["target"], owner_alive=bool(alive))


def _owner_words(target: str) -> str:
    kind, name, host = parse_target(target)
    if kind == "alerts":
        return "every agent" if name == "*" else f"the agent of host {name!r} (`workbench agent`)"
    return f"executor {name!r}" + (f" on host {host!r}" if host else "")


def find_action(store: Store | str | os.PathLike | None, action_id: str) -> dict[str, Any] | None:
    """The action record ``action_id`` (``args`` decoded when it is valid JSON), or ``None``."""
    store = _as_store(store)
    for row in TableTail(store.layout.table_dir("actions")).new_rows():
        if row.get("action_id") == action_id:
            return row
    return None


def owner_alive(store: Store | str | os.PathLike | None, target: str) -> bool:
    """Whether a process that owns ``target`` runs now (agent lock / executor status)."""
    store = _as_store(store)
    kind, name, host = parse_target(target)
    if kind == "alerts":
        from workbench.agent import read_status

        return any(s.get("alive") for s in read_status(store.home, None if name == "*" else name))
    return any(s["alive"] for s in _executor_statuses(store.home) if s.get("name") == name
               and (host is None or s.get("host") == host))


# ------------------------------------------------------------------- polling ---
class TableTail:
    """Rows of a record table's files that this reader has not seen yet, cheaply.

    A table lives in ``tables/<table>/<writer-host>/*.parquet``, one file per
    append, never modified. Each call stats the table directory and each host
    directory; only a directory whose mtime changed (or changed less than
    ``_RACY`` seconds before it was last listed) is listed again, and only
    files not read before are opened. Rows come back as dicts, timestamps as
    epoch seconds, in no particular order. A file that cannot be read is
    skipped with a warning (once).
    """

    def __init__(self, root: Path, hosts: Iterable[str] | None = None) -> None:
        self.root = Path(root)
        self.hosts = None if hosts is None else set(hosts)
        self._listed: dict[str, tuple[int, float]] = {}  # dir -> (mtime_ns, listed at)
        self._seen: set[str] = set()
        self._hostdirs: list[str] = []
        self.errors = 0

    def _changed(self, path: str) -> bool:
        try:
            mtime = os.stat(path).st_mtime_ns
        except FileNotFoundError:
            return False
        last = self._listed.get(path)
        if last is not None and last[0] == mtime and last[1] - mtime / 1e9 > _RACY:
            return False
        self._listed[path] = (mtime, time.time())
        return True

    def new_rows(self) -> list[dict[str, Any]]:
        root = str(self.root)
        if self._changed(root):
            try:
                names = [e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith(".")]
            except FileNotFoundError:
                names = []
            self._hostdirs = [os.path.join(root, n) for n in names if self.hosts is None or n in self.hosts]
        rows: list[dict[str, Any]] = []
        for d in self._hostdirs:
            if not self._changed(d):
                continue
            try:
                names = sorted(e.name for e in os.scandir(d) if e.name.endswith(".parquet") and not e.name.startswith("."))
            except FileNotFoundError:
                continue
            for name in names:
                path = os.path.join(d, name)
                if path in self._seen:
                    continue
                self._seen.add(path)
                rows.extend(self._read(path))
        return rows

    def _read(self, path: str) -> list[dict[str, Any]]:
        import pyarrow.parquet as pq  # ParquetFile, not pq.read_table: the dataset reader imports pandas

        try:
            table = pq.ParquetFile(path).read()
            cols = {}
            for i, f in enumerate(table.schema):
                col = table.column(i)
                if pa.types.is_timestamp(f.type):
                    # as epoch seconds through an int64 view: converting tz-aware timestamps
                    # to datetimes imports pandas, which the agent must never load
                    scale = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}[f.type.unit]
                    cols[f.name] = [None if v is None else v / scale
                                    for c in col.chunks for v in c.view(pa.int64()).to_pylist()]
                else:
                    cols[f.name] = col.to_pylist()
        except Exception as exc:  # noqa: BLE001 - a bad file must not stop the owner
            self.errors += 1
            log.warning("skipping unreadable control record file %s: %s", path, exc)
            return []
        names = list(cols)
        return [dict(zip(names, values, strict=True)) for values in zip(*cols.values(), strict=True)]


@dataclass(frozen=True)
class Action:
    """One action as an owner receives it (``args`` already validated and normalised)."""

    action_id: str
    ts: float
    by: str
    host: str
    target: str
    action: str
    args: dict
    reason: str


class ActionPoller:
    """Deliver each action addressed to one owner exactly once, and record what became of it.

    ``owner`` names the owner in outcome records (``alerts:<host>``,
    ``executor:<name>@<host>``); ``targets`` are the target strings it
    answers for; ``kind`` is its target kind. With ``catch_all`` it also
    refuses records written on its host whose target is malformed or of an
    unknown kind (nobody else would answer them).

    :meth:`poll` reads new action files (see :class:`TableTail`), validates
    each record with :func:`check_action`, calls ``apply(action)`` for valid
    ones (its return value is the outcome's detail; an exception means
    *refused*, with the exception's message as the reason) and appends the
    outcomes. Malformed records are refused with the reason; nothing raises
    into the owner's loop. What was processed is known from the owner's own
    outcome records, so after a restart it is not redone; on the first poll,
    ``replay(action, outcome)`` sees every action processed before (in time
    order), e.g. to re-apply silences. An owner killed between applying an
    action and writing its outcome applies it again when it restarts (at least
    once, never lost); every action here leaves the same state when applied
    twice (a second ack only adds a second ``acknowledged`` record).

    The first poll reads every action file in the home (about 0.3 ms each,
    benchmarks/control_latency.py); later ones read only new files.
    """

    def __init__(self, store: Store, owner: str, targets: Iterable[str], kind: str, *,
                 catch_all: bool = False) -> None:
        self.store = store
        self.owner = owner
        self.targets = frozenset(targets)
        self.kind = kind
        self.catch_all = catch_all
        self._actions = TableTail(store.layout.table_dir("actions"))
        self._processed: dict[str, str] | None = None  # action_id -> outcome; loaded on first poll
        self.applied = 0
        self.refused = 0
        self.errors = 0
        self.last_error = ""
        self._trouble = RepeatedFailure("control polling failed", logger=log)

    def _load_processed(self) -> dict[str, str]:
        tail = TableTail(self.store.layout.table_dir("action_results"), hosts=[self.store.host])
        return {r["action_id"]: r.get("outcome", "") for r in tail.new_rows() if r.get("owner") == self.owner}

    def _mine(self, row: Mapping[str, Any]) -> bool:
        target = row.get("target")
        if target in self.targets:
            return True
        if not self.catch_all or row.get("host") != self.store.host:
            return False
        try:
            parse_target(target)
        except ActionError:
            return True
        return False

    def poll(self, apply: Callable[[Action], str | None],
             replay: Callable[[Action, str], None] | None = None) -> int:
        """Process new actions; returns how many were processed. Never raises."""
        try:
            n = self._poll(apply, replay)
        except Exception as exc:  # noqa: BLE001 - the owner's loop must go on
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            self._trouble.failed(self.last_error, exc_info=True, kind=type(exc).__name__)
            return 0
        self._trouble.ok()
        return n

    def _poll(self, apply, replay) -> int:
        first = self._processed is None
        if first:
            self._processed = self._load_processed()
        rows = sorted((r for r in self._actions.new_rows() if self._mine(r)),
                      key=lambda r: (r.get("ts") or 0.0, str(r.get("action_id"))))
        results = []
        for row in rows:
            action_id = row.get("action_id")
            if not isinstance(action_id, str) or not action_id:
                self.errors += 1
                self.last_error = f"an action record without an action_id: {row!r}"
                log.warning("ignoring %s", self.last_error)
                continue
            done = self._processed.get(action_id)
            if done is not None:
                if first and replay is not None:
                    action = self._parse(row)[0]
                    if action is not None:
                        try:
                            replay(action, done)
                        except Exception:  # noqa: BLE001
                            log.exception("replaying action %s failed", action_id)
                continue
            action, problem = self._parse(row)
            if action is None:
                outcome_, detail = "refused", problem
            else:
                try:
                    detail = apply(action) or ""
                    outcome_ = "applied"
                except Exception as exc:  # noqa: BLE001 - a refusal, recorded with its reason
                    from workbench.errors import WorkbenchError

                    outcome_ = "refused"
                    detail = str(exc) if isinstance(exc, WorkbenchError) else f"{type(exc).__name__}: {exc}"
                    if not isinstance(exc, WorkbenchError):
                        log.warning("action %s (%s) failed in its owner: %s", action_id, row.get("action"), detail)
            if outcome_ == "applied":
                self.applied += 1
            else:
                self.refused += 1
            self._processed[action_id] = outcome_
            results.append({"action_id": action_id, "ts": time.time(), "owner": self.owner, "outcome": outcome_,
                            "detail": detail})
        if results:
            self.store.append_records("action_results", table_from_rows(results, RESULTS_SCHEMA))
        return len(results)

    def _parse(self, row: Mapping[str, Any]) -> tuple[Action | None, str]:
        target = row.get("target")
        try:
            kind = parse_target(target)[0]
            if kind != self.kind:
                raise ActionError(f"Target {target!r} is not a {self.kind} target.")
            raw = row.get("args")
            try:
                args = json.loads(raw) if raw not in (None, "") else {}
            except (TypeError, ValueError) as exc:
                raise ActionError(f"Arguments {str(raw)[:200]!r} are not valid JSON ({exc}).") from None
            ts = row.get("ts")
            ts = float(ts) if isinstance(ts, (int, float)) and math.isfinite(ts) else time.time()
            clean = check_action(target, row.get("action"), args, now=ts)
        except ActionError as exc:
            return None, str(exc)
        return Action(str(row["action_id"]), ts, str(row.get("by") or ""), str(row.get("host") or ""),
                      str(target), str(row.get("action")), clean, str(row.get("reason") or "")), ""

    def status(self) -> dict[str, Any]:
        return {"applied": self.applied, "refused": self.refused, "errors": self.errors,
                "last_error": self.last_error}


# --------------------------------------------------------------- executor state ---
def executor_dir(home: str | os.PathLike, host: str) -> Path:
    return Path(home) / "control" / "executors" / host


def executor_status_path(home: str | os.PathLike, host: str, name: str) -> Path:
    """Where the executor ``name`` on ``host`` publishes its state (``.lock`` beside it)."""
    return executor_dir(home, host) / f"{name}.json"


def write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Write JSON to ``path`` through a temporary name and a rename: readers see old or new, never half."""
    from workbench._atomic import write_json_atomic as write

    write(path, data, durable=False, default=str)  # rewritten every few seconds: atomic, not fsynced


def _executor_statuses(home: str | os.PathLike) -> list[dict[str, Any]]:
    from workbench.store._lock import lock_holder

    base = Path(home) / "control" / "executors"
    out = []
    now = time.time()
    here = socket.gethostname()
    for path in sorted(base.glob("*/*.json")):
        try:
            st = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        st.setdefault("name", path.stem)
        st.setdefault("host", path.parent.name)
        if st.get("stopped", True):
            alive = False
        elif st.get("hostname") == here:
            holder = lock_holder(_LockPlace(path.with_suffix(".lock")), st["host"])
            alive = holder is not None and holder.get("pid") == st.get("pid")
        else:
            alive = now - float(st.get("updated") or 0) <= STALE_AFTER
        st["alive"] = alive
        out.append(st)
    return out


class _LockPlace:
    """Makes :class:`~workbench.store._lock.HostLock` lock an arbitrary file (it asks its layout for ``lock(host)``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.home = path.parent

    def lock(self, host: str) -> Path:
        return self.path


_EXECUTOR_COLUMNS = ["name", "host", "pid", "alive", "state", "updated", "queued", "running", "done", "failed",
                     "limit", "limit_reason", "throughput", "paused", "draining"]


def executors(store: Store | str | os.PathLike | None = None) -> pd.DataFrame:
    """One row per named executor that has published in the home, across hosts.

    Columns: name, host, pid, alive (the process holds its lock, checked on the
    same machine; elsewhere its status is fresher than :data:`STALE_AFTER`
    seconds), state (running / paused / draining / drained / stopped), updated
    (UTC), queued, running, done, failed, limit, limit_reason, throughput
    (tasks per second over the last 10 s), paused, draining.
    """
    import pandas as pd

    store = _as_store(store)
    rows = _executor_statuses(store.home)
    frame = pd.DataFrame([{c: r.get(c) for c in _EXECUTOR_COLUMNS} for r in rows], columns=_EXECUTOR_COLUMNS)
    frame["updated"] = pd.to_datetime(frame["updated"], unit="s", utc=True)
    frame["alive"] = frame["alive"].astype(bool)
    return frame.sort_values(["name", "host"]).reset_index(drop=True)
