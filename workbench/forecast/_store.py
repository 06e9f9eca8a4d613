"""Forecast a metric straight from the store, and keep the result in the ``forecasts`` view.

``forecast_metric(store, "system.cpu.utilization", horizon="1h", step="1min")``
reads the metric with ``store.query`` (one series per host and label set,
aggregated to ``step``), forecasts every series with :class:`Forecast`, and
returns one long frame. With ``save=True`` the rows are appended to the
store's ``forecasts`` record table, so dashboards and reports read them with
``store.sql("select * from forecasts")`` without refitting.
"""

from __future__ import annotations

import pandas as pd

from workbench.durations import to_timedelta
from workbench.errors import DataError
from workbench.forecast._orchestrator import Forecast

__all__ = ["forecast_metric", "FORECAST_TABLE"]

FORECAST_TABLE = "forecasts"


def _steps(horizon, step: pd.Timedelta) -> int:
    if isinstance(horizon, int) and not isinstance(horizon, bool):
        steps = horizon
    else:
        try:
            span = to_timedelta(horizon, what="horizon")
        except DataError as exc:
            raise DataError(
                f"horizon must be a number of steps or a duration such as '1h' or '1h30min'; got {horizon!r} "
                f"({exc.fields.get('reason')}).",
                horizon=repr(horizon),
            ) from None
        steps = int(span // step)
    if steps < 1:
        raise DataError(
            f"horizon {horizon!r} is shorter than one step of {step}; ask for more.",
            horizon=repr(horizon),
        )
    return steps


def forecast_metric(
    store,
    metric: str,
    *,
    horizon="1h",
    step="1min",
    start="1d",
    end=None,
    labels=None,
    host=None,
    agg: str = "mean",
    models=None,
    level=(80, 95),
    n_jobs: int = 1,
    save: bool = False,
    progress: bool = False,
) -> pd.DataFrame:
    """Forecast ``metric`` for every (host, labels) series in ``store``.

    ``start``/``end``/``labels``/``host``/``agg`` are passed to ``store.query``
    (``start="1d"`` reads the last day); ``step`` is the modelling frequency;
    ``horizon`` is a number of steps or a duration. ``models`` defaults to an
    :class:`~workbench.forecast.AutoForecaster`. Returns ``host, metric,
    labels, ds, model, mean, lo_*, hi_*, created_at, step_s``.
    """
    from workbench.forecast._auto import AutoForecaster

    try:
        step_td = pd.Timedelta(step)
    except (TypeError, ValueError) as exc:
        raise DataError(f"step must be a duration such as '1min'; got {step!r}.") from exc
    h = _steps(horizon, step_td)
    raw = store.query(metric, start, end, labels=labels, step=step, agg=agg, host=host)
    if raw.empty:
        raise DataError(
            f"No samples of {metric!r} in the requested window (start={start!r}, end={end!r}); "
            "widen the window or check that the agent records this metric.",
            metric=metric,
        )
    raw = raw.assign(
        labels=raw["labels"].fillna(""),
        unique_id=raw["host"].astype(str) + "|" + raw["labels"].fillna("").astype(str),
    )
    keys = raw.drop_duplicates("unique_id").set_index("unique_id")[["host", "labels"]]
    ts = pd.to_datetime(raw["ts"], utc=True).dt.tz_localize(None)
    long = pd.DataFrame({"unique_id": raw["unique_id"], "ds": ts, "y": raw["value"].astype(float)})
    engine = Forecast(
        models or [AutoForecaster()],
        freq=pd.tseries.frequencies.to_offset(step_td).freqstr,
        n_jobs=n_jobs,
        progress=progress,
        errors="skip",
    )
    out = engine.forecast(long, h=h, level=level)
    failures = engine.failures_
    if out.empty:
        first = failures.iloc[0]["error"] if len(failures) else "no series"
        raise DataError(f"No series of {metric!r} could be forecast: {first}", metric=metric)
    out = out.join(keys, on="unique_id").drop(columns="unique_id")
    out.insert(0, "metric", metric)
    out["ds"] = pd.to_datetime(out["ds"]).dt.tz_localize("UTC")
    out["created_at"] = pd.Timestamp.now(tz="UTC")
    out["step_s"] = float(step_td.total_seconds())
    front = ["host", "metric", "labels", "ds", "model"]
    out = out[front + [c for c in out.columns if c not in front]]
    if save:
        store.append_records(FORECAST_TABLE, out)
    return out.reset_index(drop=True)
