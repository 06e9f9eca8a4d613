"""One registry for every kind of plug-in: collectors, detectors, forecasters, backends, channels.

Shaped like papermill's ``engines.py`` (STYLE 3): plug-ins are registered
explicitly, by name, never found by scanning directories. A :class:`Registry`

- refuses a second plug-in under a name already taken (a :class:`ConfigError`
  naming both), so a typo or a clash cannot silently replace a built-in;
- lets ``register`` be called as ``register(name, factory)``, as a decorator
  ``@register("name")``, or with an object that carries its own ``name``;
- answers ``get(name)`` with the plug-in or a :class:`ConfigError` listing the
  known names, ``names()`` (sorted), ``name in registry``;
- loads a built-in lazily when given as ``"module:attribute"``
  (:meth:`Registry.register_lazy`), so heavy imports wait for first use;
- finds third-party plug-ins through the Python entry point group
  ``workbench.<kind>s`` (``[project.entry-points."workbench.detectors"]`` in a
  plug-in's ``pyproject.toml``). The group is read once, on first use; an entry
  point is imported only when its name is asked for. One that fails to import
  gives a :class:`ConfigError` naming its distribution for that name only; the
  rest of the registry keeps working. An entry point whose name is taken is
  skipped with a warning (see :meth:`Registry.problems`).

Every method takes one lock, so threads may register and look up at once.
A part that needs validation or a side effect when a plug-in arrives (the
collectors record their metrics in the catalogue) overrides :meth:`Registry._accept`.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from workbench.errors import ConfigError

__all__ = ["Registry", "RegistryView"]

log = logging.getLogger("workbench.plugins")

T = TypeVar("T")
_MISSING: Any = object()


@dataclass
class _Entry:
    value: Any = _MISSING  # the plug-in, once loaded
    ref: Any = None  # "module:attribute" or an importlib.metadata.EntryPoint, until loaded
    origin: str = "workbench"  # where it came from, for messages
    distribution: str | None = None

    @property
    def loaded(self) -> bool:
        return self.value is not _MISSING


def _module_of(obj: Any) -> str:
    module = getattr(obj, "__module__", None)
    return f"module {module}" if isinstance(module, str) else "Python code"


def _describe(obj: Any) -> str:
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    return f"{module}.{qualname}" if module and qualname else repr(obj)


def _ref_text(ref: Any) -> str:
    """``"module:attribute"`` of a lazy reference or an entry point."""
    return str(getattr(ref, "value", ref))


def _load_ref(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    value: Any = importlib.import_module(module)
    for part in attr.split(".") if attr else ():
        value = getattr(value, part)
    return value


def _distribution(ep: importlib.metadata.EntryPoint) -> str | None:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None
    try:
        return dist.name
    except Exception:  # an odd distribution without metadata
        return None


class Registry(Generic[T]):
    """Plug-ins of one ``kind`` (``"detector"``) by unique name.

    ``group`` is the entry point group third parties register in (``None``: no
    entry points, for private registries and tests); ``plural`` is how messages
    name several (default ``kind + "s"``).
    """

    def __init__(self, kind: str, *, group: str | None = None, plural: str | None = None) -> None:
        self.kind = kind
        self.plural = plural or f"{kind}s"
        self.group = group
        self._entries: dict[str, _Entry] = {}  # in registration order
        self._problems: list[str] = []
        self._scanned = group is None
        self._lock = threading.RLock()

    # -- registering ----------------------------------------------------------------------
    def register(self, name: Any = None, factory: Any = _MISSING) -> Any:
        """Register ``factory`` as ``name``; returns ``factory``.

        ``register("name")`` returns a decorator; ``register(obj)`` (or a bare
        ``@register``) takes the name from ``obj.name``.
        """
        if factory is not _MISSING:
            self._add(self._check_name(name), _Entry(value=factory, origin=_module_of(factory)))
            return factory
        if isinstance(name, str):
            checked = self._check_name(name)

            def decorate(obj: T) -> T:
                self._add(checked, _Entry(value=obj, origin=_module_of(obj)))
                return obj

            return decorate
        obj = name
        own = getattr(obj, "name", None)
        if not isinstance(own, str) or not own:
            raise ConfigError(
                f"Cannot tell the name of {self.kind} {_describe(obj)}: give it, as register('name', obj), "
                "or set a class attribute such as name = 'mine'.",
                given=_describe(obj),
            )
        self._add(own, _Entry(value=obj, origin=_module_of(obj)))
        return obj

    def register_lazy(self, name: str, ref: str) -> None:
        """Register ``"package.module:attribute"``, imported when ``name`` is first asked for."""
        if not isinstance(ref, str) or ":" not in ref:
            raise ConfigError(f"A lazy {self.kind} is given as 'package.module:attribute'; got {ref!r}.", given=repr(ref))
        self._add(self._check_name(name), _Entry(ref=ref, origin=f"module {ref.partition(':')[0]}"))

    def unregister(self, name: str) -> None:
        """Remove ``name`` (plug-ins being reloaded, tests); unknown names are a :class:`ConfigError`."""
        with self._lock:
            self._entry(name)
            del self._entries[name]

    def _check_name(self, name: Any) -> str:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"A {self.kind} is registered under a non-empty string name; got {name!r}.",
                              given=repr(name))
        return name

    def _add(self, name: str, entry: _Entry) -> None:
        with self._lock:
            existing = self._entries.get(name)
            if existing is not None:
                have = _describe(existing.value) if existing.loaded else _ref_text(existing.ref)
                new = _describe(entry.value) if entry.loaded else _ref_text(entry.ref)
                raise ConfigError(
                    f"A {self.kind} named {name!r} is already registered ({have}, from {existing.origin}); "
                    f"choose another name for {new}.",
                    name=name,
                )
            if entry.loaded:
                entry.value = self._accept(name, entry.value)
            self._entries[name] = entry

    # -- looking up -----------------------------------------------------------------------
    def get(self, name: str) -> T:
        """The plug-in registered as ``name`` (imported now if it was lazy)."""
        with self._lock:
            entry = self._entry(name)
            if entry.loaded:
                return entry.value
            try:
                value = entry.ref.load() if hasattr(entry.ref, "load") else _load_ref(entry.ref)
                value = self._accept(name, value)
            except Exception as exc:
                where = (f"distribution {entry.distribution!r}" if entry.distribution else entry.origin)
                hint = (f"fix or uninstall {entry.distribution!r} (pip uninstall {entry.distribution})"
                        if entry.distribution else f"check that {entry.ref} can be imported")
                raise ConfigError(
                    f"The {self.kind} {name!r} from {where} cannot be loaded "
                    f"({_ref_text(entry.ref)}): "
                    f"{type(exc).__name__}: {exc}. The other {self.plural} still work; {hint}.",
                    name=name, distribution=entry.distribution,
                ) from exc
            entry.value, entry.ref = value, None
            return value

    def create(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """``get(name)(*args, **kwargs)``: build the plug-in registered as ``name``."""
        return self.get(name)(*args, **kwargs)

    def build(self, name: str, **params: Any) -> Any:
        """``get(name)(**params)`` for hyperparameters from a config: a wrong keyword is a
        :class:`ConfigError` ("Bad parameters for detector 'mad': ...") instead of a TypeError."""
        factory = self.get(name)
        try:
            return factory(**params)
        except TypeError as exc:
            raise ConfigError(f"Bad parameters for {self.kind} {name!r}: {exc}.", name=name) from None

    def names(self) -> list[str]:
        """Every registered name, sorted (entry points included, not imported)."""
        with self._lock:
            self._scan()
            return sorted(self._entries)

    def ordered_names(self) -> list[str]:
        """Every registered name in the order registered (built-ins first, then entry points)."""
        with self._lock:
            self._scan()
            return list(self._entries)

    def origin(self, name: str) -> str:
        """Where ``name`` came from: ``"workbench"``, a caller's module, or an entry point's distribution."""
        with self._lock:
            return self._entry(name).origin

    def problems(self) -> list[str]:
        """Entry points that were skipped (a name already taken, an unreadable group)."""
        with self._lock:
            self._scan()
            return list(self._problems)

    def view(self) -> RegistryView[T]:
        """A read-only, always current ``{name: plug-in}`` mapping (for names such as ``DETECTORS``)."""
        return RegistryView(self)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        with self._lock:
            self._scan()
            return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, group={self.group!r}, names={self.names()!r})"

    # -- for subclasses -------------------------------------------------------------------
    def _accept(self, name: str, obj: Any) -> T:
        """Check (or convert) a plug-in as it arrives; raise :class:`ConfigError` to refuse it."""
        if not callable(obj):
            raise ConfigError(f"A {self.kind} must be a class or factory function; {name!r} is {obj!r}.", name=name)
        return obj

    # -- internals ------------------------------------------------------------------------
    def _entry(self, name: str) -> _Entry:
        self._scan()
        entry = self._entries.get(name)
        if entry is None:
            known = sorted(self._entries)
            raise ConfigError(
                f"Unknown {self.kind} {name!r}; registered {self.plural} are: {', '.join(known) or '(none)'}.",
                name=name, valid=known,
            )
        return entry

    def _scan(self) -> None:
        """Read the entry point group once (the caller holds the lock)."""
        if self._scanned:
            return
        self._scanned = True
        try:
            found = importlib.metadata.entry_points(group=self.group)
        except Exception as exc:  # a broken installation must not break the built-ins
            self._problem(f"entry point group {self.group!r} could not be read: {type(exc).__name__}: {exc}")
            return
        for ep in found:
            dist = _distribution(ep)
            origin = f"distribution {dist!r}" if dist else f"entry point group {self.group!r}"
            if ep.name in self._entries:
                self._problem(f"{origin} offers a {self.kind} named {ep.name!r} ({ep.value}), but that name is "
                              f"already registered (from {self._entries[ep.name].origin}); it was skipped")
                continue
            self._entries[ep.name] = _Entry(ref=ep, origin=origin, distribution=dist)

    def _problem(self, message: str) -> None:
        self._problems.append(message)
        log.warning("%s", message)


class RegistryView(Mapping[str, T]):
    """``{name: plug-in}`` over a :class:`Registry`, in registration order, read-only."""

    def __init__(self, registry: Registry[T]) -> None:
        self._registry = registry

    def __getitem__(self, name: str) -> T:
        if name not in self._registry:
            raise KeyError(name)
        return self._registry.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._registry

    def __iter__(self) -> Iterator[str]:
        return iter(self._registry.ordered_names())

    def __len__(self) -> int:
        return len(self._registry.ordered_names())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._registry.kind!r}: {', '.join(self._registry.ordered_names())})"

