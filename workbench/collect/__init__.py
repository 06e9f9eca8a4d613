"""Collectors: one plug-in per source of system metrics, registered explicitly.

The agent asks :data:`registry` for the collectors to run, calls each one's
:meth:`Collector.collect` every :attr:`Collector.interval` seconds, and stamps the
returned :class:`Sample` rows with time and host::

    from workbench.collect import registry
    cpu = registry.create("cpu", interval=2.0)
    cpu.collect()   # [] on the first call: utilisation is a difference of two readings
    cpu.collect()   # [Sample(metric='system.cpu.utilization', labels='cpu=0,state=user', ...), ...]

A third-party collector subclasses :class:`Collector`, sets ``name``, ``specs`` and
``option_defaults``, writes ``_collect()``, and calls ``registry.register(MyCollector)``.
"""

from workbench.collect._base import Collector, Sample
from workbench.collect._cpu import CpuCollector, LoadCollector
from workbench.collect._diskio import DiskIOCollector
from workbench.collect._filesystem import FilesystemCollector
from workbench.collect._memory import MemoryCollector
from workbench.collect._network import NetworkCollector
from workbench.collect._pressure import PressureCollector
from workbench.collect._processes import ProcessCollector
from workbench.collect._redact import redact_cmdline
from workbench.collect._registry import Registry, registry
from workbench.collect._sensors import SensorsCollector

__all__ = [
    "Collector",
    "Sample",
    "Registry",
    "registry",
    "redact_cmdline",
    "CpuCollector",
    "LoadCollector",
    "MemoryCollector",
    "FilesystemCollector",
    "DiskIOCollector",
    "NetworkCollector",
    "ProcessCollector",
    "SensorsCollector",
    "PressureCollector",
]
