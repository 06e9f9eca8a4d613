"""Notifications: the message model (:class:`Notification`), with the channels and routing re-exported.

A :class:`Notification` is one message about one or more alerts of the same
rule and event, or about a report; :mod:`workbench.detect._channels` sends it
(log, webhook, e-mail, dashboard toast) and :mod:`workbench.detect._routing`
picks the channels for it. Their names are importable from here as before.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The channels and routing import Notification only for typing; these
# re-exports keep the older import paths (workbench.detect._notify.X) working.
from workbench._resilience import CircuitBreaker  # noqa: F401
from workbench.detect._channels import Channel, EmailChannel, LogChannel, ToastQueue, WebhookChannel  # noqa: F401
from workbench.detect._routing import Route, Router  # noqa: F401

__all__ = ["Notification"]


@dataclass(frozen=True)
class Notification:
    """One message about one or more alerts of the same rule and event (grouped)."""

    event: str  # firing | resolved | escalated | flapping
    rule: str
    severity: str
    alerts: tuple[Mapping[str, Any], ...]
    ts: float = field(default_factory=time.time)
    # A message that is not about alerts (a report): its own subject and text, an HTML body
    # (e-mail), files to attach as (filename, bytes, mime type).
    subject: str | None = None
    body: str | None = None
    html: str | None = None
    attachments: tuple[tuple[str, bytes, str], ...] = ()

    @property
    def title(self) -> str:
        if self.subject is not None:
            return self.subject
        n = len(self.alerts)
        what = f"{n} alerts" if n > 1 else str(self.alerts[0].get("alert_id", self.rule))
        return f"[{self.severity.upper()}] {self.rule} {self.event}: {what}"

    @property
    def labels(self) -> dict[str, str]:
        first = self.alerts[0] if self.alerts else {}
        return {"host": str(first.get("host", "")), "metric": str(first.get("metric", ""))}

    def text(self) -> str:
        if self.body is not None:
            return self.body
        lines = [self.title]
        for a in self.alerts:
            ev = ", ".join(
                f"{k}={a[k]:.4g}" for k in ("value", "score", "probability")
                if isinstance(a.get(k), float) and a[k] == a[k]
            )
            lines.append(f"- {a.get('host')} {a.get('metric')} {a.get('labels') or ''} {ev} {a.get('summary') or ''}".rstrip())
        return "\n".join(lines)

    def payload(self) -> dict[str, Any]:
        """The message as JSON-ready data: a missing number (NaN, such as the score of
        a threshold alert) or an infinite one is ``None``, so that the body is strict
        JSON (RFC 8259 has no NaN) that any receiver parses."""
        return _finite({
            "event": self.event,
            "rule": self.rule,
            "severity": self.severity,
            "title": self.title,
            "ts": self.ts,
            "alerts": [dict(a) for a in self.alerts],
        })


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float (also NumPy scalars) replaced by ``None``."""
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "dtype") and hasattr(value, "item"):  # a NumPy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

