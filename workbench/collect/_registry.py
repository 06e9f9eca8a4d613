"""The explicit collector registry (no directory scanning), as papermill's engines.

Registering a collector also records its metrics in the global catalogue, so
units and kinds are known before the first sample arrives.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from workbench.catalog import global_catalog
from workbench.collect._base import Collector
from workbench.collect._cpu import CpuCollector, LoadCollector
from workbench.collect._diskio import DiskIOCollector
from workbench.collect._filesystem import FilesystemCollector
from workbench.collect._memory import MemoryCollector
from workbench.collect._network import NetworkCollector
from workbench.collect._pressure import PressureCollector
from workbench.collect._processes import ProcessCollector
from workbench.collect._sensors import SensorsCollector
from workbench.errors import ConfigError

__all__ = ["Registry", "registry", "BUILTIN_COLLECTORS"]

BUILTIN_COLLECTORS: tuple[type[Collector], ...] = (
    CpuCollector,
    LoadCollector,
    MemoryCollector,
    FilesystemCollector,
    DiskIOCollector,
    NetworkCollector,
    ProcessCollector,
    SensorsCollector,
    PressureCollector,
)


class Registry:
    """Collector classes by unique name."""

    def __init__(self) -> None:
        self._classes: dict[str, type[Collector]] = {}
        self._lock = threading.Lock()

    def register(self, cls: type[Collector]) -> type[Collector]:
        """Add a collector class; refuses a second class under the same name.

        Returns the class, so it can be used as a decorator.
        """
        if not (isinstance(cls, type) and issubclass(cls, Collector)):
            raise ConfigError(
                f"Only subclasses of workbench.collect.Collector can be registered; got {cls!r}.",
                given=repr(cls),
            )
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise ConfigError(
                f"Collector class {cls.__qualname__} has no 'name'; set a class attribute "
                "such as name = 'gpu'.",
                given=cls.__qualname__,
            )
        with self._lock:
            existing = self._classes.get(name)
            if existing is not None:
                raise ConfigError(
                    f"A collector named {name!r} is already registered "
                    f"({existing.__module__}.{existing.__qualname__}); "
                    f"choose another name for {cls.__module__}.{cls.__qualname__}.",
                    name=name,
                )
            catalog = global_catalog()
            for spec in cls.specs:  # a clash of units or kinds fails before registering
                catalog.register(spec)
            self._classes[name] = cls
        return cls

    def unregister(self, name: str) -> None:
        """Remove a collector class (plug-ins being reloaded, tests)."""
        with self._lock:
            self.get(name)
            del self._classes[name]

    def get(self, name: str) -> type[Collector]:
        try:
            return self._classes[name]
        except KeyError:
            raise ConfigError(
                f"Unknown collector {name!r}; registered collectors are: "
                f"{', '.join(self.names())}.",
                name=name,
                valid=self.names(),
            ) from None

    def names(self) -> list[str]:
        return sorted(self._classes)

    def default_names(self) -> list[str]:
        """Collectors the agent runs when the configuration does not choose."""
        return [n for n in self.names() if self._classes[n].default_on]

    def create(self, name: str, **options: Any) -> Collector:
        """Instantiate a registered collector with its options (``interval=`` included)."""
        return self.get(name)(**options)

    def __contains__(self, name: object) -> bool:
        return name in self._classes

    def __iter__(self) -> Iterator[type[Collector]]:
        return iter([self._classes[n] for n in self.names()])

    def __len__(self) -> int:
        return len(self._classes)


registry = Registry()
for _cls in BUILTIN_COLLECTORS:
    registry.register(_cls)
