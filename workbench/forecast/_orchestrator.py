"""Many series at once, in long format (``unique_id, ds, y``), the way statsforecast does it.

``Forecast(models=[...], freq="h").fit(df).predict(h)`` fits every model on every
series and returns one long frame with a ``model`` column beside the id and the
timestamp; ``forecast(df, h)`` does the same without keeping the fitted models.
Series are processed in parallel with ``n_jobs`` worker processes (default 1: a
parallel default that takes every core and all memory surprises people), with a
tqdm progress bar.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import pandas as pd

from workbench._params import Integral, Interval, Options, check_params
from workbench.errors import DataError
from workbench.forecast._base import check_levels, clone, interval_columns
from workbench.forecast._prep import prepare_series

__all__ = ["Forecast"]

_ERRORS = ("raise", "skip")


def _named_models(models) -> dict:
    if isinstance(models, Mapping):
        named = dict(models)
    else:
        named = {}
        for model in models:
            base = getattr(model, "name", type(model).__name__)
            label, i = base, 1
            while label in named:
                i += 1
                label = f"{base}_{i}"
            named[label] = model
    if not named:
        raise DataError("Forecast needs at least one model, e.g. models=[SeasonalNaive(), ETS()].")
    for label, model in named.items():
        if not (hasattr(model, "fit") and hasattr(model, "predict")):
            raise DataError(
                f"Model {label!r} ({type(model).__name__}) has no fit/predict; pass forecasters "
                "from workbench.forecast.",
                model=label,
            )
    return named


def _run_one(uid, y, models: dict, freq, h, levels, keep: bool, errors: str):
    """Fit (and optionally predict) every model on one series; runs in a worker."""
    fitted, frames, failures, timings = {}, [], [], {}
    try:
        series = prepare_series(y, freq=freq, name=f"series {uid!r}")
    except DataError as exc:
        if errors == "raise":
            raise DataError(f"Series {uid!r}: {exc}", unique_id=str(uid), **exc.fields) from exc
        return uid, fitted, frames, [(uid, None, str(exc))], timings
    for label, model in models.items():
        start = time.perf_counter()
        try:
            est = clone(model).fit(series)
            if h is not None:
                fc = est.predict(h, level=levels)
                fc.insert(0, "model", label)
                frames.append(fc)
        except Exception as exc:
            if errors == "raise":
                raise DataError(
                    f"Series {uid!r}, model {label!r}: {type(exc).__name__}: {exc}",
                    unique_id=str(uid),
                    model=label,
                ) from exc
            failures.append((uid, label, f"{type(exc).__name__}: {exc}"))
            continue
        finally:
            timings[label] = time.perf_counter() - start
        if keep:
            fitted[label] = est
    return uid, fitted, frames, failures, timings


class Forecast:
    """Fit and forecast many series in a long DataFrame.

    Parameters
    ----------
    models : list or dict of forecasters
        Unfitted templates, cloned for every series. A dict gives the labels.
    freq : str, optional
        Sampling frequency of every series (pandas alias such as "h" or "5min");
        None infers it per series.
    n_jobs : int
        Worker processes (default 1; -1 for every core).
    id_col, time_col, target_col : str
        Column names of the long input.
    progress : bool
        Show a tqdm progress bar over series.
    errors : {"raise", "skip"}
        What to do when a model fails on a series: raise a DataError naming the
        series and model, or skip it and record it in ``failures_``.
    """

    _parameter_constraints = {
        "n_jobs": [Interval(Integral, 1, None, closed="left"),
                   Interval(Integral, None, -1, closed="right", doc="-1 for all cores")],
        "id_col": [str], "time_col": [str], "target_col": [str],
        "progress": [bool],
        "errors": [Options(*_ERRORS)],
    }

    def __init__(
        self,
        models,
        freq: str | None = None,
        *,
        n_jobs: int = 1,
        id_col: str = "unique_id",
        time_col: str = "ds",
        target_col: str = "y",
        progress: bool = True,
        errors: str = "raise",
    ) -> None:
        self.models = models
        self.freq = freq
        self.n_jobs = n_jobs
        self.id_col = id_col
        self.time_col = time_col
        self.target_col = target_col
        self.progress = progress
        self.errors = errors

    def _split(self, df: pd.DataFrame):
        if not isinstance(df, pd.DataFrame):
            raise DataError(
                f"Expected a long DataFrame with columns {self.id_col!r}, {self.time_col!r}, "
                f"{self.target_col!r}; got {type(df).__name__}.",
            )
        missing = [c for c in (self.id_col, self.time_col, self.target_col) if c not in df.columns]
        if missing:
            raise DataError(
                f"The frame has no column(s) {', '.join(map(repr, missing))}; it has "
                f"{', '.join(map(repr, map(str, df.columns)))}. Rename them or pass "
                "id_col=, time_col=, target_col=.",
                missing=missing,
            )
        times = df[self.time_col]
        if not pd.api.types.is_datetime64_any_dtype(times):
            try:
                times = pd.to_datetime(times)
            except (ValueError, TypeError) as exc:
                raise DataError(
                    f"Column {self.time_col!r} must hold timestamps; {exc}", column=self.time_col
                ) from exc
        frame = pd.DataFrame(
            {"uid": df[self.id_col].to_numpy(), "ds": times.to_numpy(), "y": df[self.target_col].to_numpy()}
        )
        for uid, grp in frame.groupby("uid", sort=False):
            yield uid, pd.Series(grp["y"].to_numpy(), index=pd.DatetimeIndex(grp["ds"]), name=str(uid))

    def _run(self, df, h, level, keep: bool):
        check_params(self)
        models = _named_models(self.models)
        levels = check_levels(level)
        series = list(self._split(df))
        args = [(uid, y, models, self.freq, h, levels, keep, self.errors) for uid, y in series]
        from tqdm.auto import tqdm

        bar = tqdm(total=len(args), desc="forecast", unit="series", disable=not self.progress)
        results = {}
        try:
            if self.n_jobs == 1:
                for a in args:
                    out = _run_one(*a)
                    results[out[0]] = out
                    bar.update()
            else:
                from joblib import Parallel, delayed

                parallel = Parallel(n_jobs=self.n_jobs, return_as="generator_unordered")
                for out in parallel(delayed(_run_one)(*a) for a in args):
                    results[out[0]] = out
                    bar.update()
        finally:
            bar.close()
        ordered = [results[uid] for uid, _ in series]
        self.failures_ = pd.DataFrame(
            [f for r in ordered for f in r[3]], columns=[self.id_col, "model", "error"]
        )
        self.timings_ = pd.DataFrame(
            [{self.id_col: r[0], "model": k, "seconds": v} for r in ordered for k, v in r[4].items()]
        )
        self.labels_ = list(models)
        return ordered, levels

    def fit(self, df: pd.DataFrame) -> Forecast:
        """Fit every model on every series of ``df``; returns ``self``."""
        ordered, _ = self._run(df, None, None, keep=True)
        self.fitted_ = {r[0]: r[1] for r in ordered}
        return self

    def predict(self, h: int, level=(80, 95)) -> pd.DataFrame:
        """Forecasts of the fitted models: ``id, ds, model, mean, lo_*, hi_*``."""
        if not hasattr(self, "fitted_"):
            from workbench.errors import NotFittedError

            raise NotFittedError("This Forecast is not fitted yet; call fit(df) before predict().")
        levels = check_levels(level)
        frames = []
        for uid, models in self.fitted_.items():
            for label, est in models.items():
                fc = est.predict(h, level=levels)
                fc.insert(0, "model", label)
                fc.insert(0, self.id_col, uid)
                frames.append(fc)
        return self._finish(frames, levels)

    def forecast(self, df: pd.DataFrame, h: int, level=(80, 95)) -> pd.DataFrame:
        """Fit and forecast in one pass, keeping no fitted models (the light path)."""
        ordered, levels = self._run(df, h, level, keep=False)
        frames = []
        for uid, _, fcs, _, _ in ordered:
            for fc in fcs:
                fc.insert(0, self.id_col, uid)
                frames.append(fc)
        return self._finish(frames, levels)

    def _finish(self, frames, levels) -> pd.DataFrame:
        cols = [self.id_col, self.time_col, "model", *interval_columns(levels)]
        if not frames:
            return pd.DataFrame(columns=cols)
        out = pd.concat(frames).reset_index(names=self.time_col)
        return out[cols].reset_index(drop=True)
