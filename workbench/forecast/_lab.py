"""The forecast lab: compare models on one stored series, diagnose, explain, answer, save.

What ``notebooks/forecast_lab.ipynb`` calls, one function per cell:

- :func:`load_series` reads one series from the store, the last ``window`` of it
  ending at its last sample (not at the clock, so a notebook on the demo data
  reads the same points every run);
- :func:`compare_models` backtests several models side by side
  (:func:`~workbench.forecast.backtest`): a table of MAE, RMSE, sMAPE, MASE and
  coverage per model and the scores per horizon step, with a chart;
- :func:`residual_diagnostics` collects one-step-ahead errors of a model by
  rolling origin and tests them: autocorrelation with its confidence band,
  Ljung-Box p-values (statsmodels ``acorr_ljungbox``), a normal QQ plot;
- :func:`seasonality` is :func:`~workbench.forecast.detect_seasonality` as a table;
- :func:`explain_auto` fits an :class:`~workbench.forecast.AutoForecaster` and
  says in words what it chose and why;
- :func:`capacity` answers "when does this reach X" with its range, and a chart;
- :func:`save_forecast` forecasts the series with a chosen model and appends
  the rows to the ``forecasts`` view, as :func:`~workbench.forecast.forecast_metric` does;
- :class:`ForecastSetup` puts the choice of series, models and horizon on widgets.

Figures are plotly figure dicts for :class:`workbench.ui.Chart`.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import DataError
from workbench.forecast._arima import ARIMA
from workbench.forecast._auto import AutoForecaster
from workbench.forecast._backtest import BacktestResult, backtest
from workbench.forecast._base import BaseForecaster, clone
from workbench.forecast._capacity import ThresholdCrossing, time_to_threshold
from workbench.forecast._ets import ETS
from workbench.forecast._prep import prepare_series
from workbench.forecast._registry import forecasters
from workbench.forecast._seasonality import detect_seasonality
from workbench.forecast._store import FORECAST_TABLE

__all__ = [
    "LAB_MODELS", "make_models", "load_series", "series_figure", "Comparison", "compare_models", "Diagnostics",
    "residual_diagnostics", "seasonality", "AutoChoice", "explain_auto", "Capacity", "capacity",
    "save_forecast", "ForecastSetup",
]

#: Model names a notebook's parameters may use, simplest first: the forecaster registry
#: (:data:`workbench.forecast._registry.forecasters`) as a read-only mapping, so a
#: registered plug-in is offered too.
LAB_MODELS: Mapping[str, type[BaseForecaster]] = forecasters.view()
_COLORS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563")
_SCORES = ("mae", "rmse", "smape", "mase")


def make_models(names: Iterable[str], season_length: int | None = None) -> dict[str, BaseForecaster]:
    """Forecasters by name (see :data:`LAB_MODELS`), with ``season_length`` where they take one."""
    out: dict[str, BaseForecaster] = {}
    for name in names:
        key = str(name).lower()
        if key not in LAB_MODELS:
            raise DataError(f"Unknown model {name!r}; choose from {', '.join(LAB_MODELS)}.", model=str(name))
        cls = LAB_MODELS[key]
        seasonal = season_length and "season_length" in inspect.signature(cls).parameters
        out[key] = cls(season_length=season_length) if seasonal else cls()
    if not out:
        raise DataError("Give at least one model name, e.g. ['naive', 'arima'].")
    return out


def load_series(store: Any, metric: str, *, host: str, labels: Mapping[str, Any] | str | None = None,
                step: str = "5min", window: str | None = "3d", agg: str = "mean") -> pd.Series:
    """One series of ``metric`` at ``step``: the last ``window`` before its last sample (None: all).

    Raises :class:`DataError` when nothing matches or the selection holds more
    than one series (give ``labels`` to pick one).
    """
    frame = store.query(metric, None, step=step, host=host, labels=labels, agg=agg)
    if frame.empty:
        raise DataError(f"No samples of {metric!r} on {host!r}; check the host and metric "
                        "(`workbench metrics`).", metric=metric, host=host)
    keys = frame["labels"].drop_duplicates()
    if len(keys) > 1:
        raise DataError(f"{metric!r} on {host!r} selects {len(keys)} series ({', '.join(keys.head(5))}); "
                        "give labels= to pick one.", metric=metric)
    y = frame.set_index("ts")["value"].astype(float)
    if window is not None:
        y = y[y.index > y.index[-1] - _duration(window)]
    y = y.asfreq(pd.Timedelta(step))
    y.name = f"{host} {metric} {keys.iloc[0]}"
    y.attrs.update(host=host, metric=metric, labels=str(keys.iloc[0]), step=str(step))
    return y


def _duration(text: Any) -> pd.Timedelta:
    text = str(text).strip()
    return pd.Timedelta(text[:-1] + "D" if text.endswith("d") else text)  # pandas deprecates a lower-case "d"


def series_figure(y: pd.Series) -> dict[str, Any]:
    """The series as one line over time."""
    return {"data": [{"type": "scatter", "mode": "lines", "x": _ms(y.index), "y": y.tolist(), "name": str(y.name),
                      "line": {"color": "#475569"}}],
            "layout": {"xaxis": {"type": "date", "title": {"text": "UTC"}}, "margin": {"t": 10}}}


def _ms(index: pd.Index) -> list:
    return pd.DatetimeIndex(index).tz_convert("UTC").astype("datetime64[ms, UTC]").astype("int64").tolist() \
        if getattr(index, "tz", None) is not None else pd.DatetimeIndex(index).astype("datetime64[ms]").astype("int64").tolist()


@dataclass
class Comparison:
    """Backtests of several models on one series."""

    results: dict[str, BacktestResult]
    table: pd.DataFrame  # one row per model: mae, rmse, smape, mase, coverage_*, rank by ``metric``
    by_step: pd.DataFrame  # model, step, mae, rmse, smape, mase, coverage_*
    metric: str
    errors: dict[str, str] = field(default_factory=dict)  # models that could not be backtested, and why

    @property
    def best(self) -> str:
        """The model with the lowest score of ``metric``."""
        return str(self.table.index[0])

    def figure(self, metric: str | None = None) -> dict[str, Any]:
        """One line per model: ``metric`` (default the ranking one) against the horizon step."""
        metric = metric or self.metric
        if metric not in self.by_step:
            raise DataError(f"No score {metric!r}; choose from {', '.join(c for c in self.by_step if c not in ('model', 'step'))}.")
        traces = []
        for i, (model, part) in enumerate(self.by_step.groupby("model", sort=False)):
            traces.append({"type": "scatter", "mode": "lines+markers", "name": model, "x": part["step"].tolist(),
                           "y": part[metric].tolist(), "line": {"color": _COLORS[i % len(_COLORS)]},
                           "marker": {"size": 4}})
        return {"data": traces, "layout": {"xaxis": {"title": {"text": "horizon step"}},
                                           "yaxis": {"title": {"text": metric}, "rangemode": "tozero"},
                                           "margin": {"t": 10}, "legend": {"orientation": "h", "y": -0.25}}}


def compare_models(y: pd.Series, models: Mapping[str, BaseForecaster] | Iterable[str], *, horizon: int,
                   n_windows: int = 4, step: int | None = None, metric: str = "mase",
                   season_length: int | None = None) -> Comparison:
    """Rolling-origin backtest of every model on ``y`` with the same windows; ranked by ``metric``.

    A model that cannot be backtested on ``y`` is left out and its error kept in
    ``errors``; if none can, :class:`DataError`.
    """
    if not isinstance(models, Mapping):
        models = make_models(models, season_length)
    results, errors = {}, {}
    for name, model in models.items():
        try:
            results[name] = backtest(model, y, h=horizon, n_windows=n_windows, step=step,
                                     season_length=season_length)
        except Exception as exc:  # noqa: BLE001 - a model unfit for this series is reported, not fatal
            errors[name] = f"{type(exc).__name__}: {exc}"
    if not results:
        raise DataError(f"No model could be backtested: {errors}", errors=errors)
    table = pd.DataFrame({name: {k: v for k, v in r.summary.items() if k not in ("n_windows", "h")}
                          for name, r in results.items()}).T
    if metric not in table:
        raise DataError(f"metric must be one of {', '.join(table.columns)}; got {metric!r}.", metric=metric)
    table = table.sort_values(metric, kind="stable")
    table.index.name = "model"
    by_step = pd.concat([r.by_step.assign(model=name) for name, r in results.items()], ignore_index=True)
    by_step = by_step[["model", *[c for c in by_step.columns if c != "model"]]]
    return Comparison(results, table, by_step, metric, errors)


def _frozen(model: BaseForecaster, y: pd.Series) -> BaseForecaster:
    """``model`` with the structure it chooses on ``y`` fixed, so refitting only re-estimates.

    ARIMA keeps its orders and constant, ETS its form; other models are cloned as they are.
    """
    if isinstance(model, ARIMA):
        fitted = clone(model).fit(y)
        p = fitted.get_params()
        p.update(order=fitted.order_, include_constant=fitted.include_constant_)
        if fitted.seasonal_order_[3]:
            p.update(seasonal_order=fitted.seasonal_order_[:3], season_length=fitted.seasonal_order_[3])
        return type(model)(**p)
    if isinstance(model, ETS):
        fitted = clone(model).fit(y)
        p = fitted.get_params()
        err, trend, seas = fitted.form_
        p.update(error=[err], trend=[trend], seasonal=[seas])
        return type(model)(**p)
    return clone(model)


@dataclass
class Diagnostics:
    """One-step-ahead errors of a model and the tests of "is what is left noise?"."""

    model: str
    residuals: pd.Series  # one-step-ahead errors y - forecast, indexed by the forecast time
    acf: pd.DataFrame  # lag, acf
    band: float  # +- this is the 95 % band of an autocorrelation under white noise (1.96 / sqrt(n))
    ljung_box: pd.DataFrame  # lag, lb_stat, lb_pvalue
    qq: pd.DataFrame  # theoretical, sample (standardised residuals, sorted)
    shapiro_pvalue: float

    @property
    def white_noise(self) -> bool:
        """No Ljung-Box p-value below 5 %: no autocorrelation left that a model could use."""
        return bool((self.ljung_box["lb_pvalue"] >= 0.05).all())

    def summary(self) -> str:
        worst = self.ljung_box.loc[self.ljung_box["lb_pvalue"].idxmin()]
        outside = int((self.acf["acf"].iloc[1:].abs() > self.band).sum())
        return (f"{self.model}: {len(self.residuals)} one-step errors, mean {self.residuals.mean():.4g}, "
                f"sd {self.residuals.std():.4g}; {outside} of {len(self.acf) - 1} autocorrelations outside the 95 % band; "
                f"smallest Ljung-Box p = {worst['lb_pvalue']:.3g} (lag {int(worst['lag'])}): "
                + ("no autocorrelation left." if self.white_noise else "autocorrelation left that a better model could use.")
                + f" Shapiro-Wilk p = {self.shapiro_pvalue:.2g} ({'normal-looking' if self.shapiro_pvalue >= 0.05 else 'not normal'}).")

    def figure(self) -> dict[str, Any]:
        """ACF bars with the band, Ljung-Box p-values against 5 %, and the QQ plot, side by side."""
        lags = self.acf["lag"].tolist()
        lb = self.ljung_box
        lo, hi = float(self.qq["theoretical"].min()), float(self.qq["theoretical"].max())
        return {
            "data": [
                {"type": "bar", "x": lags, "y": self.acf["acf"].tolist(), "name": "ACF", "marker": {"color": "#2563eb"},
                 "xaxis": "x", "yaxis": "y"},
                {"type": "scatter", "mode": "lines", "x": [lags[0], lags[-1]], "y": [self.band] * 2, "name": "95 % band",
                 "line": {"color": "#dc2626", "dash": "dash"}, "xaxis": "x", "yaxis": "y"},
                {"type": "scatter", "mode": "lines", "x": [lags[0], lags[-1]], "y": [-self.band] * 2, "showlegend": False,
                 "line": {"color": "#dc2626", "dash": "dash"}, "xaxis": "x", "yaxis": "y"},
                {"type": "scatter", "mode": "lines+markers", "x": lb["lag"].tolist(), "y": lb["lb_pvalue"].tolist(),
                 "name": "Ljung-Box p", "line": {"color": "#16a34a"}, "xaxis": "x2", "yaxis": "y2"},
                {"type": "scatter", "mode": "lines", "x": [int(lb["lag"].min()), int(lb["lag"].max())], "y": [0.05, 0.05],
                 "name": "p = 0.05", "line": {"color": "#dc2626", "dash": "dot"}, "xaxis": "x2", "yaxis": "y2"},
                {"type": "scatter", "mode": "markers", "x": self.qq["theoretical"].tolist(), "y": self.qq["sample"].tolist(),
                 "name": "QQ", "marker": {"color": "#9333ea", "size": 4}, "xaxis": "x3", "yaxis": "y3"},
                {"type": "scatter", "mode": "lines", "x": [lo, hi], "y": [lo, hi], "name": "normal",
                 "line": {"color": "#4b5563", "dash": "dash"}, "xaxis": "x3", "yaxis": "y3"},
            ],
            "layout": {
                "xaxis": {"domain": [0, 0.3], "title": {"text": "lag"}},
                "yaxis": {"title": {"text": "autocorrelation"}},
                "xaxis2": {"domain": [0.36, 0.64], "title": {"text": "lag"}, "anchor": "y2"},
                "yaxis2": {"anchor": "x2", "range": [0, 1.05], "title": {"text": "Ljung-Box p-value"}},
                "xaxis3": {"domain": [0.7, 1], "title": {"text": "normal quantile"}, "anchor": "y3"},
                "yaxis3": {"anchor": "x3", "title": {"text": "standardised error"}},
                "margin": {"t": 10}, "legend": {"orientation": "h", "y": -0.3},
            },
        }


def residual_diagnostics(model: BaseForecaster | str, y: pd.Series, *, n: int = 48, lags: int = 12,
                         season_length: int | None = None) -> Diagnostics:
    """Test the one-step-ahead errors of ``model`` over the last ``n`` points of ``y``.

    The errors come from a rolling origin (a fit on everything before each point,
    as :func:`~workbench.forecast.backtest` with ``h=1`` and ``step=1``), so they are honest
    out-of-sample errors for any model; ARIMA keeps the orders and ETS the form they
    choose on the first training window (choosing again where that
    structure cannot be estimated); their parameters are re-estimated at each point.
    Ljung-Box is tested at lags ``1..lags`` (fewer when ``n`` is small).
    """
    from scipy import stats
    from statsmodels.stats.diagnostic import acorr_ljungbox
    from statsmodels.tsa.stattools import acf

    if isinstance(model, str):
        model = next(iter(make_models([model], season_length).values()))
    if not isinstance(n, int) or n < 8:
        raise DataError(f"n must be an integer >= 8 (one-step errors to test); got {n!r}.", n=n)
    series = prepare_series(y)
    if len(series) < n + 8:
        raise DataError(f"The series has {len(series)} points; n={n} one-step errors need at least {n + 8}.", n=n)
    frozen = _frozen(model, series.iloc[: len(series) - n])
    errors, times = [], []
    for cut in range(len(series) - n, len(series)):
        train = series.iloc[:cut]
        try:
            fitted = clone(frozen).fit(train)
        except DataError:  # the fixed structure cannot be estimated here: let the model choose again
            fitted = clone(model).fit(train)
        errors.append(float(series.iloc[cut]) - float(fitted.predict(1, level=None)["mean"].iloc[0]))
        times.append(series.index[cut])
    resid = pd.Series(errors, index=pd.DatetimeIndex(times), name="residual")
    nlags = int(min(lags, n // 2 - 1))
    r = resid.to_numpy()
    values = acf(r, nlags=nlags, fft=False)
    acf_frame = pd.DataFrame({"lag": np.arange(nlags + 1), "acf": values})
    lb = acorr_ljungbox(r, lags=list(range(1, nlags + 1)))
    lb_frame = pd.DataFrame({"lag": np.arange(1, nlags + 1), "lb_stat": lb["lb_stat"].to_numpy(),
                             "lb_pvalue": lb["lb_pvalue"].to_numpy()})
    sd = r.std(ddof=1)
    z = np.sort((r - r.mean()) / sd) if sd > 0 else np.zeros_like(r)
    theo = stats.norm.ppf((np.arange(1, r.size + 1) - 0.5) / r.size)
    qq = pd.DataFrame({"theoretical": theo, "sample": z})
    shapiro = float(stats.shapiro(r).pvalue) if sd > 0 else 1.0
    name = getattr(model, "name", type(model).__name__)
    return Diagnostics(name, resid, acf_frame, 1.96 / np.sqrt(r.size), lb_frame, qq, shapiro)


def seasonality(y: pd.Series, *, top: int = 3, max_period: int | None = None) -> pd.DataFrame:
    """The seasonal periods :func:`~workbench.forecast.detect_seasonality` finds, strongest first."""
    found = detect_seasonality(y, top=top, max_period=max_period)
    cols = ["period", "duration", "strength", "acf", "source"]
    return pd.DataFrame([p.to_dict() for p in found], columns=["period", "strength", "acf", "source", "duration"])[cols]


@dataclass
class AutoChoice:
    """What an :class:`~workbench.forecast.AutoForecaster` chose on a series, and why."""

    model: AutoForecaster  # fitted
    scores: pd.DataFrame  # the candidates' backtest scores (``scores_``), best first by the metric
    chosen: list[str]
    weights: list[float]
    fallback: str | None
    errors: dict[str, str]
    season_strength: float | None

    def explanation(self) -> str:
        m = self.model
        if self.fallback:
            return f"No candidate could be compared: {self.fallback}."
        parts = []
        if self.season_strength is not None:
            kind = "a clear season" if self.season_strength >= 0.64 else "a weak season"
            parts.append(f"Seasonal strength {self.season_strength:.2f} at the season length: {kind}, "
                         f"so the candidates were {', '.join(m.scores_['model'])}.")
        best = self.scores.iloc[0]
        parts.append(f"Backtest by {m.metric.upper()}: best {best['model']} ({best[m.metric]:.4g}).")
        if len(self.chosen) == 1:
            sel = self.scores.set_index("model").loc[self.chosen[0], m.metric]
            if self.chosen[0] != best["model"]:
                parts.append(f"Chosen {self.chosen[0]} ({sel:.4g}): within {m.tolerance:.0%} of the best "
                             "and simpler, so it wins.")
            else:
                parts.append(f"Chosen {self.chosen[0]}.")
            ens = getattr(m, "ensemble_score_", None)
            if ens is not None:
                parts.append(f"The average of the top {m.top_k} scored {ens:.4g}: not better by more than "
                             f"{m.tolerance:.0%}, so it was not kept.")
        else:
            w = ", ".join(f"{c} {wt:.2f}" for c, wt in zip(self.chosen, self.weights, strict=True))
            parts.append(f"Chosen an average of {w}.")
        if self.errors:
            parts.append("Skipped: " + "; ".join(f"{k} ({v})" for k, v in self.errors.items()) + ".")
        if m.calibration_:
            f95 = [f for f in m.calibration_.get(95.0, []) if np.isfinite(f)]
            if f95:
                parts.append(f"Its 95 % intervals were rescaled by {min(f95):.2f}–{max(f95):.2f} to cover the backtest.")
        return " ".join(parts)

    def figure(self) -> dict[str, Any]:
        """The candidates' scores as bars, the chosen one(s) highlighted."""
        metric = self.model.metric
        colors = ["#16a34a" if m in self.chosen else "#94a3b8" for m in self.scores["model"]]
        return {"data": [{"type": "bar", "x": self.scores["model"].tolist(), "y": self.scores[metric].tolist(),
                          "marker": {"color": colors}, "name": metric}],
                "layout": {"yaxis": {"title": {"text": f"backtest {metric}"}}, "margin": {"t": 10}}}


def explain_auto(y: pd.Series, *, horizon: int, **options: Any) -> AutoChoice:
    """Fit an :class:`~workbench.forecast.AutoForecaster` (``options`` passed on) and gather its reasons."""
    auto = AutoForecaster(horizon=horizon, **options).fit(y)
    scores = auto.scores_.sort_values(auto.metric, kind="stable").reset_index(drop=True)
    return AutoChoice(auto, scores, list(auto.chosen_), [float(w) for w in auto.weights_], auto.fallback_,
                      dict(auto.errors_), auto.season_strength_)


@dataclass
class Capacity:
    """A capacity answer (:class:`~workbench.forecast.ThresholdCrossing`) with the history it came from."""

    crossing: ThresholdCrossing
    history: pd.Series

    @property
    def message(self) -> str:
        return self.crossing.message

    def figure(self, tail: int | None = 288) -> dict[str, Any]:
        """History, the forecast with its interval, the threshold and the times of crossing."""
        c = self.crossing
        h = self.history if tail is None else self.history.iloc[-tail:]
        fc = c.forecast
        name = f"{c.level:g}"
        x = _ms(fc.index)
        traces = [
            {"type": "scatter", "mode": "lines", "x": _ms(h.index), "y": h.tolist(), "name": "history",
             "line": {"color": "#475569"}},
            {"type": "scatter", "mode": "lines", "x": x + x[::-1],
             "y": fc[f"hi_{name}"].tolist() + fc[f"lo_{name}"].tolist()[::-1], "fill": "toself",
             "fillcolor": "rgba(37,99,235,0.15)", "line": {"width": 0}, "name": f"{name} % interval"},
            {"type": "scatter", "mode": "lines", "x": x, "y": fc["mean"].tolist(), "name": "forecast",
             "line": {"color": "#2563eb"}},
            {"type": "scatter", "mode": "lines", "x": [_ms(h.index[:1])[0], x[-1]], "y": [c.threshold] * 2,
             "name": f"threshold {c.threshold:g}", "line": {"color": "#dc2626", "dash": "dash"}},
        ]
        marks = [(t, label) for t, label in ((c.earliest, "earliest"), (c.eta, "expected"), (c.latest, "latest"))
                 if t is not None]
        if marks:
            traces.append({"type": "scatter", "mode": "markers+text", "x": _ms(pd.DatetimeIndex([t for t, _ in marks])),
                           "y": [c.threshold] * len(marks), "text": [lab for _, lab in marks], "textposition": "top center",
                           "name": "crossing", "marker": {"color": "#dc2626", "size": 9}})
        return {"data": traces, "layout": {"xaxis": {"type": "date", "title": {"text": "UTC"}}, "margin": {"t": 10},
                                           "legend": {"orientation": "h", "y": -0.25}}}


def capacity(y: pd.Series, threshold: float, *, horizon: int, model: BaseForecaster | str | None = None,
             direction: str = "above", level: float = 95) -> Capacity:
    """When does ``y`` go ``direction`` ``threshold`` within ``horizon`` steps, with a ``level`` % range?

    ``model`` is a forecaster or a name from :data:`LAB_MODELS` (default: the ETS
    of :func:`~workbench.forecast.time_to_threshold`).
    """
    if isinstance(model, str):
        model = next(iter(make_models([model]).values()))
    ans = time_to_threshold(y, threshold, horizon=horizon, model=model, direction=direction, level=level)
    return Capacity(ans, prepare_series(y))


def save_forecast(store: Any, y: pd.Series, model: BaseForecaster | str, *, horizon: int,
                  host: str | None = None, metric: str | None = None, labels: str | None = None,
                  level: Iterable[float] = (80, 95), save: bool = True) -> pd.DataFrame:
    """Forecast ``horizon`` steps of ``y`` with ``model`` and append the rows to the ``forecasts`` view.

    A fitted ``model`` (fitted on ``y``) is used as it is; a name or an unfitted
    one is fitted on ``y`` first. ``host``, ``metric`` and ``labels`` (the
    canonical ``key=value,...`` string) default to those :func:`load_series`
    kept in ``y.attrs``. The rows have the columns
    :func:`~workbench.forecast.forecast_metric` writes (``host, metric, labels,
    ds, model, mean, lo_*, hi_*, created_at, step_s``); ``save=False`` only
    returns them.
    """
    host, metric, labels = (v if v is not None else y.attrs.get(k) for k, v in
                            (("host", host), ("metric", metric), ("labels", labels)))
    if host is None or metric is None or labels is None:
        raise DataError("Give host=, metric= and labels= (or a series from load_series, which carries them).")
    if isinstance(model, str):
        model = next(iter(make_models([model]).values()))
    series = prepare_series(y)
    fitted = model if getattr(model, "_fitted", False) else clone(model).fit(series)
    fc = fitted.predict(int(horizon), level=tuple(level))
    ds = pd.DatetimeIndex(fc.index)
    ds = ds.tz_localize("UTC") if ds.tz is None else ds.tz_convert("UTC")
    out = fc.reset_index(drop=True)
    out.insert(0, "host", host)
    out.insert(1, "metric", metric)
    out.insert(2, "labels", labels)
    out.insert(3, "ds", ds)
    out.insert(4, "model", getattr(model, "name", type(model).__name__))
    out["created_at"] = pd.Timestamp.now(tz="UTC")
    out["step_s"] = float(pd.Timedelta(series.index.freq).total_seconds())
    if save:
        store.append_records(FORECAST_TABLE, out)
    return out


_STEPS = ("10s", "1min", "5min", "15min", "1h")


class ForecastSetup:
    """The lab's choices on widgets: the series (host, metric, labels), step and window, the
    models and the horizon. :meth:`series` and :meth:`compare` read the widgets' current
    values, so the cells below a displayed setup use what was chosen when they are re-run;
    **Backtest** shows the comparison in the panel at once.

    Built with the notebook's parameters as its defaults, so a notebook run top to bottom
    (nbval, papermill) gets the same answers as before the widgets existed.
    """

    def __init__(self, store: Any, *, host: str, metric: str, labels: Mapping[str, Any] | str | None = None,
                 step: str = "5min", window: str | None = "3d", models: Iterable[str] = ("naive", "seasonal_naive"),
                 horizon: int = 36, n_windows: int = 4) -> None:
        import ipywidgets as w

        from workbench.ui import Chart

        self.store = store
        self.n_windows = int(n_windows)
        models = [str(m).lower() for m in models]
        make_models(models)  # unknown names fail here, with the list of known ones
        hosts = list(store.hosts())
        if host not in hosts:
            raise DataError(f"Host {host!r} has no data in {store.home}; hosts there: {', '.join(hosts[:8])}.", host=host)
        self.host = w.Dropdown(options=hosts, value=host, description="host")
        self.metric = w.Dropdown(description="metric", layout=w.Layout(width="380px"))
        self.labels = w.Dropdown(description="labels", layout=w.Layout(width="380px"))
        self.step = w.Dropdown(options=list(dict.fromkeys([*_STEPS, step])), value=step, description="step")
        self.window = w.Text(value="" if window is None else str(window), description="window",
                             placeholder="all", layout=w.Layout(width="200px"))
        self.models = w.SelectMultiple(options=list(LAB_MODELS), value=tuple(models), description="models", rows=len(LAB_MODELS))
        self.horizon = w.BoundedIntText(value=int(horizon), min=1, max=10_000, description="horizon", layout=w.Layout(width="200px"))
        self.run_button = w.Button(description="Backtest", icon="play")
        self.message = w.HTML()
        self.table = w.HTML()
        self.chart = Chart(height=260)
        self._fill_metrics(metric)
        self._fill_labels(labels)
        self.host.observe(lambda _c: self._guard(lambda: (self._fill_metrics(self.metric.value), self._fill_labels(None))), names="value")
        self.metric.observe(lambda _c: self._guard(lambda: self._fill_labels(None)), names="value")
        self.run_button.on_click(lambda _b: self._guard(self.compare))
        self.widget = w.VBox([
            w.HBox([w.VBox([self.host, self.metric, self.labels, w.HBox([self.step, self.window])]),
                    w.VBox([self.models, w.HBox([self.horizon, self.run_button])])]),
            self.message, self.table, self.chart,
        ])

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _guard(self, fn) -> None:
        try:
            self.message.value = ""
            fn()
        except Exception as exc:  # noqa: BLE001 - a callback's error goes on the page, not into the void
            import html

            self.message.value = f"<span style='color:#b91c1c'>{html.escape(str(exc))}</span>"

    def _known(self) -> pd.DataFrame:
        return self.store.sql("SELECT DISTINCT metric, labels FROM samples_1h WHERE host = ? ORDER BY metric, labels",
                              [self.host.value])

    def _fill_metrics(self, want: str | None) -> None:
        self._series = self._known()
        metrics = list(dict.fromkeys(self._series["metric"]))
        if not metrics:
            raise DataError(f"Host {self.host.value!r} has no series to forecast.", host=self.host.value)
        self.metric.options = metrics
        self.metric.value = want if want in metrics else metrics[0]

    def _fill_labels(self, want: Mapping[str, Any] | str | None) -> None:
        from workbench.labels import parse_labels

        options = self._series.loc[self._series["metric"] == self.metric.value, "labels"].tolist()
        self.labels.options = [(o or "(no labels)", o) for o in options]
        if want:
            wanted = parse_labels(want) if isinstance(want, str) else {k: str(v) for k, v in want.items()}
            matching = [o for o in options if wanted.items() <= parse_labels(o).items()]
            if not matching:
                raise DataError(f"No series of {self.metric.value!r} on {self.host.value!r} has labels {want!r}; "
                                f"it has {', '.join(options[:6])}.", labels=str(want))
            self.labels.value = matching[0]
        elif options:
            self.labels.value = options[0]

    @property
    def chosen(self) -> dict[str, Any]:
        """What the widgets say now."""
        return {"host": self.host.value, "metric": self.metric.value, "labels": self.labels.value,
                "step": self.step.value, "window": self.window.value.strip() or None,
                "models": list(self.models.value), "horizon": int(self.horizon.value)}

    def series(self) -> pd.Series:
        """The chosen series (:func:`load_series` with the widgets' values)."""
        c = self.chosen
        labels = c["labels"] if c["labels"] else None
        return load_series(self.store, c["metric"], host=c["host"], labels=labels, step=c["step"], window=c["window"])

    def compare(self, y: pd.Series | None = None, *, show: bool = True, **kw: Any) -> Comparison:
        """Backtest the chosen models on the chosen series (or ``y``); ``show`` puts the table
        and chart in the panel too (the button does; a notebook cell that shows them itself need not)."""
        c = self.chosen
        if not c["models"]:
            raise DataError("Choose at least one model on the widgets.")
        y = self.series() if y is None else y
        cmp = compare_models(y, c["models"], horizon=c["horizon"], n_windows=kw.pop("n_windows", self.n_windows), **kw)
        if not show:
            return cmp
        shown = ("<style>.wb-lab-table{border-collapse:collapse;line-height:1.4}.wb-lab-table td,"
                 ".wb-lab-table th{padding:2px 10px;text-align:right}</style>"
                 + cmp.table.round(4).to_html(border=0, classes="wb-lab-table"))
        failed = "".join(f"<li>{m}: {e}</li>" for m, e in cmp.errors.items())
        self.table.value = shown + (f"<p>Left out:</p><ul>{failed}</ul>" if failed else "")
        self.chart.figure = cmp.figure()
        return cmp
