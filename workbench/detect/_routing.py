"""Routing notifications: which channels a notification goes to (:class:`Route`), and sending it there
(:class:`Router`, counting and logging each channel's failures without stopping the others)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.detect._errors import RuleError
from workbench.detect._rules import SEVERITIES, Matcher

if TYPE_CHECKING:
    from workbench.detect._channels import Channel
    from workbench.detect._notify import Notification

__all__ = ["Route", "Router"]

log = logging.getLogger("workbench.detect.notify")


@dataclass(frozen=True)
class Route:
    """Send to ``channels`` when severity >= ``min_severity`` and the labels match."""

    channels: tuple[str, ...]
    min_severity: str = "info"
    matchers: Matcher = field(default_factory=Matcher)
    rules: tuple[str, ...] = ()

    def wants(self, note: Notification) -> bool:
        if SEVERITIES.index(note.severity) < SEVERITIES.index(self.min_severity):
            return False
        if self.rules and note.rule not in self.rules:
            return False
        return any(self.matchers.matches({**note.labels, **_parse(a.get("labels"))}) for a in note.alerts)


def _parse(labels: Any) -> dict[str, str]:
    from workbench.labels import parse_labels

    return parse_labels(labels) if isinstance(labels, str) else dict(labels or {})


class Router:
    """Deliver each notification to the channels of every matching route.

    A failing channel never stops the others; failures are counted per
    channel and logged without secrets.
    """

    def __init__(self, channels: Sequence[Channel], routes: Sequence[Route] | None = None) -> None:
        self.channels = {c.name: c for c in channels}
        if len(self.channels) != len(channels):
            raise RuleError("Two notification channels share a name; names must be unique.")
        self.routes = list(routes) if routes else [Route(tuple(self.channels))]
        for route in self.routes:
            for name in route.channels:
                if name not in self.channels:
                    raise RuleError(f"A route names channel {name!r}, which is not defined; channels: {sorted(self.channels)}.")
        self.sent: dict[str, int] = dict.fromkeys(self.channels, 0)
        self.failed: dict[str, int] = dict.fromkeys(self.channels, 0)

    def send(self, note: Notification) -> list[str]:
        """Send ``note`` now, in this thread; return the names of channels that delivered it.

        A slow receiver makes this slow (retries and timeouts included); wrap
        the router in :class:`~workbench.detect.BackgroundRouter` where the
        caller must not wait.
        """
        return [name for name in self.targets(note) if self.deliver(name, note)]

    def targets(self, note: Notification) -> list[str]:
        """The channels ``note`` goes to: those of every matching route, each once, in order."""
        targets: list[str] = []
        for route in self.routes:
            if route.wants(note):
                targets.extend(n for n in route.channels if n not in targets)
        return targets

    def deliver(self, name: str, note: Notification) -> bool:
        """Send ``note`` to channel ``name``; count and log a failure instead of raising it."""
        try:
            self.channels[name].send(note)
        except Exception as exc:  # one bad channel must not silence the rest
            self.failed[name] += 1
            log.warning("notification %r to channel %s failed: %s", note.rule, name, exc)
            return False
        self.sent[name] += 1
        return True
