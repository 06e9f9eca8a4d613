"""Save and restore what an :class:`AlertManager` has learned, so a restart does not start over.

Without it an agent restart forgets three things: each series' recent history
(rate and predicted rules need it), each anomaly detector's learned state (the
default detector needs hundreds of points before it scores at all, and
thousands before its calibration settles), and each alert's lifecycle (a
firing alert would fire — and notify — again, an acknowledged one lose its
acknowledgement).

The file is a pickle, written atomically (temporary name, fsync, rename), so
a crash mid-write leaves the previous state. It is read with an unpickler that
only accepts plain containers and numpy arrays: the home may sit on shared
storage, and loading an arbitrary pickle from there would run whatever code
someone put in it. State that no longer fits (a rule removed or changed, a
detector built with other parameters, an unreadable file) is dropped with a
log line, never an error: the agent must start.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
from collections import deque
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from workbench._atomic import atomic_open
from workbench.detect._manager import Alert, AlertManager, _Series, detector_key

__all__ = ["save_state", "restore_state", "STATE_VERSION"]

log = logging.getLogger("workbench.alerts")

STATE_VERSION = 1

# What the restricted unpickler accepts: containers, numbers and numpy arrays
# (numpy's reconstruction helpers), nothing that can run code.
_ALLOWED = {
    ("builtins", "dict"), ("builtins", "list"), ("builtins", "tuple"), ("builtins", "set"),
    ("builtins", "frozenset"), ("builtins", "float"), ("builtins", "int"), ("builtins", "complex"),
    ("builtins", "bytes"), ("builtins", "bytearray"), ("builtins", "str"), ("builtins", "bool"),
    ("builtins", "slice"), ("builtins", "range"),
    ("collections", "deque"), ("collections", "OrderedDict"),
    ("numpy", "dtype"), ("numpy", "ndarray"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        if module.startswith("workbench.detect._"):
            # Our detectors' helper classes (rolling windows, shape memories) are plain
            # data holders: rebuilding one sets attributes and runs nothing else.
            # Functions are refused, so no pickle opcode can call into the package.
            obj = super().find_class(module, name)
            if isinstance(obj, type):
                return obj
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in an alert state file")


_ALERT_FIELDS = [f.name for f in fields(Alert) if f.name != "rule"]


def save_state(manager: AlertManager, path: str | os.PathLike) -> Path:
    """Write ``manager``'s series histories, detector states and alerts to ``path`` atomically."""
    path = Path(path)
    series = {}
    for key, s in manager.series.items():
        series[key] = {
            "history": list(s.history),
            "last_seen": s.last_seen,
            "detectors": {name: det.get_state() for name, det in s.detectors.items()},
        }
    alerts = {}
    for alert_id, a in manager.alerts.items():
        row = {k: v for k, v in asdict(a).items() if k in _ALERT_FIELDS}
        row["fires"] = list(a.fires)
        row["rule_name"], row["rule_repr"] = a.rule.name, repr(a.rule)
        alerts[alert_id] = row
    payload = {"version": STATE_VERSION, "series": series, "alerts": alerts}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as fh:
        pickle.dump(payload, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def restore_state(manager: AlertManager, path: str | os.PathLike) -> dict[str, int]:
    """Load what :func:`save_state` wrote into a freshly built ``manager``; returns counts restored.

    Only what still fits is restored: alerts whose rule exists unchanged, and
    detectors whose class and parameters match what the rules now build.
    """
    path = Path(path)
    counts = {"series": 0, "detectors": 0, "alerts": 0, "dropped": 0}
    if not path.exists():
        return counts
    try:
        payload = _SafeUnpickler(io.BytesIO(path.read_bytes())).load()
        if not isinstance(payload, dict) or payload.get("version") != STATE_VERSION:
            raise ValueError(f"unknown state version {payload.get('version') if isinstance(payload, dict) else '?'}")
    except Exception as exc:  # a bad file must never stop the agent
        log.warning("alert state in %s is unreadable (%s); starting fresh", path, exc)
        counts["dropped"] += 1
        return counts

    rules = {r.name: r for r in manager.rules}
    detector_keys = {detector_key(r): r for r in manager.rules if r.kind == "anomaly"}
    for key, saved in payload.get("series", {}).items():
        s = manager.series[tuple(key)] = _Series(deque(saved["history"], maxlen=manager.history),
                                                 saved["last_seen"])
        counts["series"] += 1
        for name, state in saved.get("detectors", {}).items():
            rule = detector_keys.get(name)
            if rule is None:
                counts["dropped"] += 1
                continue
            from workbench.detect._registry import make_detector  # only with anomaly rules

            try:
                s.detectors[name] = make_detector(rule.detector, **dict(rule.params)).set_state(state)
                counts["detectors"] += 1
            except Exception as exc:
                log.info("detector state %s of %s not restored (%s)", name, key, exc)
                counts["dropped"] += 1
    for alert_id, row in payload.get("alerts", {}).items():
        rule = rules.get(row.get("rule_name"))
        if rule is None or repr(rule) != row.get("rule_repr"):
            counts["dropped"] += 1  # the rule was removed or changed: its old lifecycle no longer applies
            continue
        values = {k: row[k] for k in _ALERT_FIELDS if k in row and k != "fires"}
        alert = Alert(rule=rule, **values)
        alert.fires = deque(row.get("fires", []), maxlen=alert.fires.maxlen)
        manager.alerts[alert_id] = alert
        counts["alerts"] += 1
    return counts
