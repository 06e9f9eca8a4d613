"""The one place :mod:`workbench.detect` touches the store (kept thin on purpose)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from workbench.detect._manager import AlertManager

__all__ = ["save_alert_records", "load_history"]


def save_alert_records(store: Any, manager: AlertManager) -> int:
    """Move the manager's pending records into the store's ``alerts`` table; return how many."""
    frame = manager.drain_records()
    if len(frame):
        store.append_records("alerts", frame)
    return len(frame)


def load_history(store: Any, metric: str, start: Any = None, end: Any = None, **kw: Any) -> pd.DataFrame:
    """History for a back-test: ``store.query`` in the shape :func:`backtest_rule` takes."""
    return store.query(metric, start=start, end=end, **kw)
