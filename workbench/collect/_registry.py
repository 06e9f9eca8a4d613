"""The explicit collector registry (no directory scanning), as papermill's engines.

A thin user of :class:`workbench._plugins.Registry`: names are unique, third
parties register through the ``workbench.collectors`` entry point group.
Registering a collector also records its metrics in the global catalogue, so
units and kinds are known before the first sample arrives.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from workbench import _plugins
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

log = logging.getLogger("workbench.collect")

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


class Registry(_plugins.Registry[type[Collector]]):
    """Collector classes by unique name: the package's one :class:`workbench._plugins.Registry`.

    ``group`` is the entry point group third-party collectors are found in
    (the global :data:`registry` reads ``workbench.collectors``).
    """

    def __init__(self, group: str | None = None) -> None:
        super().__init__("collector", group=group)

    def register(self, cls: Any, factory: Any = _plugins._MISSING) -> Any:
        """Add a collector class; refuses a second class under the same name.

        Returns the class, so it can be used as a decorator.
        """
        if factory is not _plugins._MISSING or isinstance(cls, str):
            return super().register(cls, factory)
        _check_class(cls)
        return super().register(cls.name, cls)

    def _accept(self, name: str, cls: Any) -> type[Collector]:
        _check_class(cls)
        if cls.name != name:
            raise ConfigError(
                f"Collector class {cls.__qualname__} is named {cls.name!r} but registered as {name!r}; "
                "use the same name for both.",
                name=name,
            )
        catalog = global_catalog()
        for spec in cls.specs:  # a clash of units or kinds fails before registering
            catalog.register(spec)
        return cls

    def default_names(self) -> list[str]:
        """Collectors the agent runs when the configuration does not choose.

        A third-party collector that cannot be loaded is left out (with a
        warning), so one broken plug-in does not stop the agent.
        """
        out = []
        for name in self.names():
            try:
                cls = self.get(name)
            except ConfigError as exc:
                log.warning("%s", exc)
                continue
            if cls.default_on:
                out.append(name)
        return out

    def __iter__(self) -> Iterator[type[Collector]]:  # type: ignore[override]
        return iter([self.get(n) for n in self.names()])


def _check_class(cls: Any) -> None:
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


registry = Registry(group="workbench.collectors")
for _cls in BUILTIN_COLLECTORS:
    registry.register(_cls)
