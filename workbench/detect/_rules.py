"""Alert rule definitions, parsed and validated from plain dicts (``workbench.toml``).

A rule says *which series* (metric, host, label matchers), *what condition*
(one of :data:`KINDS`) and *how loud* (severity, for-duration, escalation).
Parsing is strict: an unknown key, a missing level or a resolve level on the
wrong side of the fire level is an error that names the rule, the key, the
value given and what to write instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from workbench.detect._errors import RuleError
from workbench.durations import parse_duration
from workbench.errors import DataError

__all__ = ["KINDS", "SEVERITIES", "Matcher", "Rule", "rule_from_dict", "rules_from_config"]

KINDS = ("threshold", "rate", "anomaly", "absent", "predicted")
SEVERITIES = ("info", "warning", "critical")
_COMMON = {
    "name", "kind", "metric", "host", "labels", "severity", "for", "summary",
    "escalate_after", "escalate_to", "repeat_interval",
}
_KIND_KEYS = {
    "threshold": {"op", "fire", "resolve"},
    "rate": {"op", "fire", "resolve", "window"},
    "anomaly": {"detector", "params", "fire", "resolve"},
    "absent": {"after"},
    "predicted": {"op", "level", "horizon", "probability"},
}


@dataclass(frozen=True)
class Matcher:
    """Label matchers: ``{"cpu": "3"}`` is equality, ``{"cpu": "~[0-3]"}`` a full regex match."""

    exact: tuple[tuple[str, str], ...] = ()
    regex: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None, where: str) -> Matcher:
        exact, regex = [], []
        for key, value in (mapping or {}).items():
            text = str(value)
            if text.startswith("~"):
                try:
                    re.compile(text[1:])
                except re.error as exc:
                    raise RuleError(
                        f"{where}: label matcher {key}={text!r} is not a valid regular "
                        f"expression ({exc}); write e.g. {key}='~sd[a-z]'.",
                        key=key,
                    ) from None
                regex.append((str(key), text[1:]))
            else:
                exact.append((str(key), text))
        return cls(tuple(sorted(exact)), tuple(sorted(regex)))

    def matches(self, labels: Mapping[str, str]) -> bool:
        for key, value in self.exact:
            if labels.get(key) != value:
                return False
        for key, pattern in self.regex:
            if key not in labels or re.fullmatch(pattern, labels[key]) is None:
                return False
        return True


@dataclass(frozen=True)
class Rule:
    """One validated alert rule; build it with :func:`rule_from_dict`."""

    name: str
    kind: str
    metric: str
    host: str | None = None
    labels: Matcher = field(default_factory=Matcher)
    severity: str = "warning"
    for_seconds: float = 0.0
    summary: str = ""
    op: str = ">"
    fire: float | None = None
    resolve: float | None = None
    window_seconds: float = 60.0
    detector: str = "default"
    params: tuple[tuple[str, Any], ...] = ()
    after_seconds: float = 0.0
    horizon_seconds: float = 0.0
    probability: float = 0.8
    escalate_after_seconds: float | None = None
    escalate_to: str = "critical"
    repeat_interval_seconds: float | None = None

    def selects(self, host: str, metric: str, labels: Mapping[str, str]) -> bool:
        """Does this rule watch the series ``(host, metric, labels)``?"""
        return (
            metric == self.metric
            and (self.host is None or host == self.host)
            and self.labels.matches(labels)
        )

    def breached(self, value: float, level: float) -> bool:
        return value > level if self.op == ">" else value < level


def _seconds(rule: str, key: str, value: Any) -> float:
    try:
        return parse_duration(value, what=f"Rule {rule!r}: {key!r}")
    except DataError as exc:
        if exc.fields.get("reason") == "negative":
            raise RuleError(f"Rule {rule!r}: {key!r} must not be negative; got {value!r}.", rule=rule, key=key) from None
        raise RuleError(
            f"Rule {rule!r}: {key!r} must be a duration like '30s', '5min' or '1h30min' "
            f"(or a number of seconds); got {value!r} ({exc.fields.get('reason')}).",
            rule=rule,
            key=key,
        ) from None


def _number(rule: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RuleError(
            f"Rule {rule!r}: {key!r} must be a number; got {value!r} ({type(value).__name__}).",
            rule=rule,
            key=key,
        )
    return float(value)


def _severity(spec: Mapping[str, Any], name: str, key: str, default: str) -> str:
    value = spec.get(key, default)
    if value not in SEVERITIES:
        raise RuleError(
            f"Rule {name!r}: {key!r} must be one of {', '.join(SEVERITIES)}; got {value!r}.",
            rule=name,
            key=key,
        )
    return value


def rule_from_dict(spec: Mapping[str, Any]) -> Rule:
    """Validate one rule given as a plain mapping and return a :class:`Rule`."""
    if not isinstance(spec, Mapping):
        raise RuleError(f"A rule must be a table/dict; got {type(spec).__name__}: {spec!r}.")
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip():
        raise RuleError(f"Every rule needs a non-empty 'name'; got {name!r} in {dict(spec)!r}.")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise RuleError(
            f"Rule {name!r}: 'kind' must be one of {', '.join(KINDS)}; got {kind!r}.",
            rule=name,
            key="kind",
        )
    unknown = sorted(set(spec) - _COMMON - _KIND_KEYS[kind])
    if unknown:
        allowed = sorted(_COMMON | _KIND_KEYS[kind])
        raise RuleError(
            f"Rule {name!r} ({kind}): unknown key(s) {unknown}; allowed keys are {allowed}.",
            rule=name,
            key=unknown[0],
        )
    metric = spec.get("metric")
    if not isinstance(metric, str) or not metric:
        raise RuleError(
            f"Rule {name!r}: 'metric' is required, e.g. metric = 'system.cpu.utilization'; got {metric!r}.",
            rule=name,
            key="metric",
        )
    severity = _severity(spec, name, "severity", "warning")
    escalate_to = _severity(spec, name, "escalate_to", "critical")
    kw: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "metric": metric,
        "host": spec.get("host"),
        "labels": Matcher.from_mapping(spec.get("labels"), f"Rule {name!r}"),
        "severity": severity,
        "for_seconds": _seconds(name, "for", spec.get("for", 0)),
        "summary": str(spec.get("summary", "")),
        "escalate_to": escalate_to,
    }
    if "escalate_after" in spec:
        kw["escalate_after_seconds"] = _seconds(name, "escalate_after", spec["escalate_after"])
    if "repeat_interval" in spec:
        kw["repeat_interval_seconds"] = _seconds(name, "repeat_interval", spec["repeat_interval"])
    op = spec.get("op", ">")
    if op not in (">", "<"):
        raise RuleError(f"Rule {name!r}: 'op' must be '>' or '<'; got {op!r}.", rule=name, key="op")
    kw["op"] = op
    if kind in ("threshold", "rate", "anomaly"):
        if "fire" not in spec:
            raise RuleError(
                f"Rule {name!r} ({kind}): 'fire' (the level that fires the alert) is required.",
                rule=name,
                key="fire",
            )
        fire = _number(name, "fire", spec["fire"])
        resolve = _number(name, "resolve", spec.get("resolve", fire))
        if (op == ">" and resolve > fire) or (op == "<" and resolve < fire):
            side = "at or below" if op == ">" else "at or above"
            raise RuleError(
                f"Rule {name!r}: 'resolve' ({resolve}) must be {side} 'fire' ({fire}) for op "
                f"{op!r}, so the alert clears only once the value is back on the safe side "
                "(hysteresis).",
                rule=name,
                key="resolve",
            )
        kw.update(fire=fire, resolve=resolve)
    if kind == "anomaly":
        if not 0.0 <= kw["fire"] <= 1.0:
            raise RuleError(
                f"Rule {name!r}: an anomaly score is in [0, 1], so 'fire' must be too; got {kw['fire']}.",
                rule=name,
                key="fire",
            )
        from workbench.detect._registry import DETECTORS

        detector = spec.get("detector", "default")
        if detector not in DETECTORS:
            raise RuleError(
                f"Rule {name!r}: unknown detector {detector!r}; choose one of {sorted(DETECTORS)}.",
                rule=name,
                key="detector",
            )
        kw["detector"] = detector
        kw["params"] = tuple(sorted(dict(spec.get("params", {})).items()))
    if kind == "rate":
        kw["window_seconds"] = _seconds(name, "window", spec.get("window", "1min"))
        if kw["window_seconds"] <= 0:
            raise RuleError(f"Rule {name!r}: 'window' must be positive.", rule=name, key="window")
    if kind == "absent":
        if "after" not in spec:
            raise RuleError(
                f"Rule {name!r} (absent): 'after' is required, e.g. after = '2min'.",
                rule=name,
                key="after",
            )
        kw["after_seconds"] = _seconds(name, "after", spec["after"])
    if kind == "predicted":
        for key in ("level", "horizon"):
            if key not in spec:
                raise RuleError(
                    f"Rule {name!r} (predicted): {key!r} is required, e.g. level = 95, horizon = '30min'.",
                    rule=name,
                    key=key,
                )
        kw["fire"] = _number(name, "level", spec["level"])
        kw["horizon_seconds"] = _seconds(name, "horizon", spec["horizon"])
        prob = _number(name, "probability", spec.get("probability", 0.8))
        if not 0.0 < prob <= 1.0:
            raise RuleError(
                f"Rule {name!r}: 'probability' must be in (0, 1]; got {prob}.", rule=name, key="probability"
            )
        kw["probability"] = prob
    return Rule(**kw)


def rules_from_config(config: Mapping[str, Any]) -> list[Rule]:
    """Rules from the ``[alerts]`` part of ``workbench.toml`` (or any dict).

    Accepts ``{"rules": [...]}``, ``{"alerts": {"rules": [...]}}`` or
    ``{"rules": {"name": {...}}}`` (a table per rule, the key being its name).
    Names must be unique.
    """
    section = config.get("alerts", config) if isinstance(config, Mapping) else config
    raw = section.get("rules", []) if isinstance(section, Mapping) else section
    if isinstance(raw, Mapping):
        raw = [{"name": key, **value} for key, value in raw.items()]
    if not isinstance(raw, list):
        raise RuleError(f"'rules' must be a list of tables; got {type(raw).__name__}.")
    rules = [rule_from_dict(item) for item in raw]
    seen: set[str] = set()
    for rule in rules:
        if rule.name in seen:
            raise RuleError(
                f"Two rules are named {rule.name!r}; rule names must be unique.", rule=rule.name
            )
        seen.add(rule.name)
    return rules
