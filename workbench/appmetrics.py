"""Application metrics: ``workbench.timed``, ``gauge`` and ``count`` (the public name of
:mod:`workbench.collect._appmetrics`, where the recorder lives).

    from workbench import appmetrics
    appmetrics.configure(home="data", flush_interval=1.0)
"""

from workbench.collect._appmetrics import Sink, configure, count, flush, gauge, stats, timed

__all__ = ["timed", "gauge", "count", "configure", "flush", "stats", "Sink"]
