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

from workbench._lazy import lazy_exports

# Lazy exports (PEP 562), like workbench.forecast's: `workbench.appmetrics` (whose recorder lives
# in collect/_appmetrics.py) is imported by applications and must not bring every collector with
# it; `registry` still imports all built-in collectors on first use.
_EXPORTS = {
    "Collector": "workbench.collect._base",
    "Sample": "workbench.collect._base",
    "CpuCollector": "workbench.collect._cpu",
    "LoadCollector": "workbench.collect._cpu",
    "DiskIOCollector": "workbench.collect._diskio",
    "FilesystemCollector": "workbench.collect._filesystem",
    "MemoryCollector": "workbench.collect._memory",
    "NetworkCollector": "workbench.collect._network",
    "PressureCollector": "workbench.collect._pressure",
    "ProcessCollector": "workbench.collect._processes",
    "redact_cmdline": "workbench.collect._redact",
    "Registry": "workbench.collect._registry",
    "registry": "workbench.collect._registry",
    "SensorsCollector": "workbench.collect._sensors",
}




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

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
