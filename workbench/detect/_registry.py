"""Detection's plug-ins by name: detectors and notification channel kinds.

Both are :class:`workbench._plugins.Registry` instances, so names are unique
and third parties add their own through entry points:

- :data:`detectors` (group ``workbench.detectors``): a config or command line
  says ``detector = "default"``; :data:`DETECTORS`, :func:`register_detector`
  and :func:`make_detector` are the older spellings and stay. The built-ins are
  imported on first use, so validating a rule that names one costs nothing
  (the agent does not pay for scikit-learn it never uses).
- :data:`channels` (group ``workbench.channels``): a ``[notify.channels.<name>]``
  table's ``kind``. Each kind is a :class:`ChannelKind`: the factory that
  builds the channel, the option keys the table may hold, and a check of the
  combination. :func:`register_channel` adds one, e.g. a pager::

      register_channel("pager", PagerChannel, keys={"service", "timeout", "attempts"})

  after which ``kind = "pager"`` works in ``workbench.toml`` with the same
  validation of durations and tries as the built-in kinds.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench._plugins import Registry
from workbench.detect._channels import Channel, EmailChannel, LogChannel, WebhookChannel
from workbench.detect._errors import RuleError
from workbench.errors import ConfigError

if TYPE_CHECKING:
    from workbench.detect._base import Detector

__all__ = [
    "DETECTORS", "detectors", "register_detector", "make_detector",
    "ChannelKind", "channels", "register_channel", "channel_kind",
]

#: detector name -> factory; "default" is the one we recommend (best NAB score here,
#: see docs/benchmarks/detect.md)
detectors: Registry[Callable[..., Detector]] = Registry("detector", group="workbench.detectors")
for _name, _ref in (
    ("default", "workbench.detect._ensemble:EnsembleDetector"),
    ("ensemble", "workbench.detect._ensemble:EnsembleDetector"),
    ("surprise", "workbench.detect._robust:SurpriseDetector"),
    ("mad", "workbench.detect._robust:MADDetector"),
    ("residual", "workbench.detect._residual:ForecastResidualDetector"),
    ("iforest", "workbench.detect._multivariate:IsolationForestDetector"),
):
    detectors.register_lazy(_name, _ref)

#: The detector registry as a read-only ``{name: factory}`` mapping (the older name).
DETECTORS = detectors.view()


def register_detector(name: str, factory: Callable[..., Detector]) -> None:
    """Add a detector under ``name``; names are unique."""
    detectors.register(name, factory)


def make_detector(name: str, **params: Any) -> Detector:
    """Build the detector registered as ``name`` with hyperparameters ``params``."""
    return detectors.build(name, **params)


# -- notification channel kinds ---------------------------------------------------------------
#: keys for the tries of a channel that retries: attempts (every try), retries (the older
#: key, tries after the first), backoff
TRIES = frozenset({"attempts", "retries", "backoff"})


@dataclass(frozen=True)
class ChannelKind:
    """How a ``[notify.channels.<name>]`` table of one ``kind`` becomes a :class:`Channel`.

    ``factory(name=<table name>, **options)`` builds it; ``keys`` are the option
    keys the table may hold besides ``kind``; ``check(name, options)`` refuses
    a combination (a missing required key) with a :class:`RuleError`.
    """

    factory: Callable[..., Channel]
    keys: frozenset[str] = frozenset()
    check: Callable[[str, Mapping[str, Any]], None] | None = None

    def build(self, name: str, options: Mapping[str, Any]) -> Channel:
        if self.check is not None:
            self.check(name, options)
        return self.factory(name=name, **options)


def _keys_of(factory: Callable[..., Any]) -> frozenset[str]:
    """The keyword parameters of ``factory`` but ``name``: a plug-in's option keys by default."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return frozenset()
    return frozenset(p.name for p in params if p.name not in ("self", "name")
                     and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))


class _ChannelRegistry(Registry[ChannelKind]):
    def _accept(self, name: str, obj: Any) -> ChannelKind:
        if isinstance(obj, ChannelKind):
            return obj
        if callable(obj):  # a Channel class or factory from an entry point
            keys = getattr(obj, "config_keys", None)
            return ChannelKind(obj, frozenset(keys) if keys is not None else _keys_of(obj))
        raise ConfigError(f"A notification channel kind is a ChannelKind or a Channel class; {name!r} is {obj!r}.",
                          name=name)


channels: Registry[ChannelKind] = _ChannelRegistry(
    "notification channel kind", group="workbench.channels", plural="notification channel kinds"
)


def register_channel(kind: str, factory: Callable[..., Channel], *, keys: Iterable[str] | None = None,
                     check: Callable[[str, Mapping[str, Any]], None] | None = None) -> None:
    """Make ``kind = "<kind>"`` in ``[notify.channels.*]`` build ``factory(name=..., **options)``.

    ``keys`` are the option keys allowed (default: ``factory``'s keyword
    parameters but ``name``); ``check`` refuses a bad combination.
    """
    channels.register(kind, ChannelKind(factory, frozenset(keys) if keys is not None else _keys_of(factory), check))


def channel_kind(kind: str) -> ChannelKind:
    """The :class:`ChannelKind` registered as ``kind`` (a :class:`ConfigError` lists the kinds)."""
    return channels.get(kind)


def _check_webhook(name: str, opts: Mapping[str, Any]) -> None:
    if "url" not in opts and "url_env" not in opts:
        raise RuleError(f"[notify.channels.{name}] (webhook) needs url = 'https://...' or url_env = 'VAR'.", channel=name)


def _check_email(name: str, opts: Mapping[str, Any]) -> None:
    for key in ("host", "to", "sender"):
        if key not in opts:
            raise RuleError(f"[notify.channels.{name}] (email) needs {key!r} (host, to, sender are required).",
                            channel=name)


register_channel("log", LogChannel, keys=())
register_channel("webhook", WebhookChannel, keys={"url", "url_env", "timeout", "headers_env"} | TRIES,
                 check=_check_webhook)
register_channel("email", EmailChannel,
                 keys={"host", "port", "to", "sender", "starttls", "username_env", "password_env", "timeout"} | TRIES,
                 check=_check_email)
