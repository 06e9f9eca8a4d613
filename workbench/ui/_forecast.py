"""The forecast chart (80/95 % bands, the chosen model and its backtest score,
a horizon picker) and the capacity cards ("/ reaches 90 % in ~9 days [6–14]").

Fitting takes from a fraction of a second to several seconds, so it runs on
one background thread; the page's clock picks the result up on its next
tick, and clicks are answered meanwhile.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import ipywidgets as W
import traitlets

from workbench.labels import parse_labels
from workbench.ui._base import Panel, esc, fmt_value, unit_of
from workbench.ui._charts import _axis_layout, epoch_ms
from workbench.ui._widgets import Chart, placeholder

__all__ = ["ForecastPanel", "HORIZONS", "capacity_cards"]

#: horizon label -> (history read, modelling step, steps ahead)
HORIZONS: dict[str, tuple[str, str, int]] = {
    "1 h": ("12h", "1min", 60),
    "6 h": ("2d", "5min", 72),
    "24 h": ("7d", "15min", 96),
    "7 d": ("28d", "1h", 168),
}

_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="workbench-forecast")


def _duration_text(seconds: float) -> str:
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


def _import_models() -> None:
    """Import what fitting imports lazily (statsmodels' ETS and SARIMAX, scikit-learn).

    The first fit does it anyway when the series is long enough; a fresh agent's
    series is not, and then the kernel grew by ~25 MB the first time a refit
    found enough data, a quarter of an hour into the page's life. Loading them
    with the first fit, on the forecast thread, makes the page's memory flat
    from its first minute.
    """
    import sklearn.linear_model  # noqa: F401
    import statsmodels.tsa.exponential_smoothing.ets  # noqa: F401
    import statsmodels.tsa.statespace.sarimax  # noqa: F401
    import statsmodels.tsa.stattools  # noqa: F401


def fit_forecast(store: Any, host: str, metric: str, labels: str, horizon: str) -> dict[str, Any]:
    """Fit the AutoForecaster on one series; returns history, forecast and the explanation."""
    import pandas as pd

    from workbench.forecast import AutoForecaster

    _import_models()

    history, step, h = HORIZONS[horizon]
    frame = store.query(metric, history, step=step, host=host, labels=parse_labels(labels) if labels else None)
    if not len(frame):
        return {"error": f"no data for {metric} on {host} in the last {history}"}
    series_labels = sorted(set(frame["labels"]))
    # several series match (CPU states, devices): forecast the busiest one
    chosen = str(frame.groupby("labels")["value"].mean().idxmax())
    y = frame[frame["labels"] == chosen].set_index("ts")["value"]
    if len(y) < 48 and len(y) >= 2:
        # A short recording (a fresh agent, the demo workstation): model it at a
        # finer step so that it has ~120 points, and look as far ahead in time.
        span = (y.index[-1] - y.index[0]).total_seconds()
        fine = max(5, int(span / 120) // 5 * 5)
        horizon_s = h * pd.Timedelta(step).total_seconds()
        step, h = f"{fine}s", max(12, min(360, int(horizon_s / fine)))
        frame = store.query(metric, history, step=step, host=host, labels=parse_labels(labels) if labels else None)
        y = frame[frame["labels"] == chosen].set_index("ts")["value"]
    y, gap = since_last_gap(y.asfreq(step))
    if y.notna().sum() < 24:
        why = (f"since the recording stopped from {gap[0]:%Y-%m-%d %H:%M} to {gap[1]:%H:%M} UTC"
               if gap else f"in the last {history}")
        return {"error": f"{int(y.notna().sum())} points of {step} {why}: too few to forecast "
                         f"(at least 24 needed); pick a shorter horizon or wait for more data"}
    model = AutoForecaster().fit(y)
    fc = model.predict(h, level=(80, 95))
    score = getattr(model, "selected_score_", None)
    return {"y": y.dropna(), "forecast": fc, "chosen": list(getattr(model, "chosen_", [])),
            "score": score, "labels": chosen, "n_series": len(series_labels), "step": step,
            "fallback": getattr(model, "fallback_", None),
            "gap": None if gap is None else f"fitted on the data since the recording gap "
                                            f"{gap[0]:%Y-%m-%d %H:%M}–{gap[1]:%H:%M} UTC"}


def since_last_gap(y: Any, max_gap: int | None = None) -> tuple[Any, tuple[Any, Any] | None]:
    """The part of a regular series after its last gap longer than ``max_gap`` points.

    A laptop that slept or an agent that was stopped leaves a hole the models
    must not bridge (``prepare_series`` refuses it, rightly): the forecast is
    fitted on what came after. Returns the tail and the gap's (first, last)
    missing timestamps, or ``(y, None)`` when no gap is that long.
    """
    from workbench.forecast._prep import DEFAULT_MAX_GAP

    max_gap = DEFAULT_MAX_GAP if max_gap is None else max_gap
    missing = y.isna()
    run_id = (~missing).cumsum()  # the NaNs of one gap share the id of the point before them
    sizes = missing.groupby(run_id).sum()
    long = sizes.index[sizes > max_gap]
    if not len(long):
        return y, None
    holes = y.index[((run_id == long[-1]) & missing).to_numpy()]
    tail = y[y.index > holes[-1]]
    return tail, (holes[0], holes[-1])


def capacity_cards(store: Any, host: str, level: float = 0.9) -> list[dict[str, Any]]:
    """When does each filesystem (and memory) of ``host`` reach ``level``? One dict per card."""
    from workbench.forecast import time_to_threshold

    out = []
    wanted = [("system.filesystem.utilization", "mountpoint"), ("system.memory.utilization", None)]
    names = set(store.metrics()["name"])
    now = time.time()
    for metric, key in wanted:
        if metric not in names:
            continue
        frame = store.query(metric, "14d", step="1h", host=host)
        if len(frame) < 24:  # finer data for a short recording
            frame = store.query(metric, "1d", step="1min", host=host)
        for labels, part in frame.groupby("labels"):
            what = parse_labels(labels).get(key, labels) if key else "memory"
            y = part.set_index("ts")["value"]
            card = {"what": what, "metric": metric, "level": level, "value": float(y.iloc[-1])}
            if len(y) < 12:
                card["text"] = f"{len(y)} points so far: too little history to say"
                out.append(card)
                continue
            try:
                ans = time_to_threshold(y.asfreq(pd_freq(y)), level)
            except Exception as exc:  # noqa: BLE001 - a card says why it has no answer
                card["text"] = f"no forecast: {exc}"
                out.append(card)
                continue
            card["status"] = ans.status
            ref = y.index[-1].timestamp()  # durations from the last sample (imported data may end in the past)
            stale = now - ref > 600
            if ans.status == "already":
                card["text"] = f"is above {level:.0%} now"
            elif ans.eta is not None:
                lo = ans.earliest.timestamp() - ref if ans.earliest is not None else None
                hi = ans.latest.timestamp() - ref if ans.latest is not None else None
                rng = f" [{_duration_text(lo) if lo else '?'}–{_duration_text(hi) if hi else 'later'}]"
                card["text"] = f"reaches {level:.0%} in ~{_duration_text(ans.eta.timestamp() - ref)}{rng}"
            elif ans.earliest is not None:
                card["text"] = f"may reach {level:.0%} in {_duration_text(ans.earliest.timestamp() - ref)} (95 % bound)"
            else:
                card["text"] = f"stays below {level:.0%} for the next {_duration_text(ans.horizon_end.timestamp() - ref)}"
            if stale:
                card["text"] += f" (from the last sample, {_duration_text(now - ref)} ago)"
            out.append(card)
    return out


def pd_freq(y: Any) -> str:
    import pandas as pd

    d = pd.Series(y.index).diff().median()
    return "1h" if d >= pd.Timedelta("1h") else "1min"


class ForecastPanel(Panel):
    """Forecast of the selected series with 80/95 % bands, and capacity cards for the host."""

    title_text = "Forecast"
    horizon = traitlets.Unicode("1 h")

    def __init__(self, store: Any = None, **kwargs: Any) -> None:
        self.chart = Chart(height=260, title="forecast")
        self.picker = W.ToggleButtons(options=list(HORIZONS), value="1 h", description="Horizon",
                                      style={"button_width": "56px"})
        self._info = W.HTML()
        self._cards = W.HTML()
        self._job: Future | None = None
        self._cap_job: Future | None = None
        self._job_key: tuple | None = None
        self.result: dict[str, Any] | None = None
        super().__init__(store, **kwargs)
        traitlets.link((self, "horizon"), (self.picker, "value"))
        self.observe(lambda _c: self.refresh_slow(), names="horizon")
        traitlets.link((self, "theme"), (self.chart, "theme"))
        self.children = [self._header, self.picker, self._info, self.chart, self._cards]

    def _refresh_slow(self) -> None:
        if not (self.host and self.metric):
            return
        key = (self.host, self.metric, self.labels, self.horizon)
        if self._job is not None and not self._job.done() and key == self._job_key:
            return
        self._job_key = key
        self._info.value = '<span class="wb-muted">fitting…</span>'
        self._job = _pool.submit(fit_forecast, self.store, *key)
        self._cap_job = _pool.submit(capacity_cards, self.store, self.host)

    def _refresh(self) -> None:
        if self._job is not None and self._job.done():
            job, self._job = self._job, None
            try:
                self._draw(job.result())
            except Exception as exc:  # noqa: BLE001 - shown on the panel and in the page log
                self._info.value = f'<span class="wb-crit-text">forecast failed: {esc(exc)}</span>'
                raise
        if self._cap_job is not None and self._cap_job.done():
            job, self._cap_job = self._cap_job, None
            self._draw_cards(job.result())

    def wait(self, timeout: float = 60.0) -> None:
        """Block until the background fit is done and drawn (for notebooks and tests)."""
        for job in (self._job, self._cap_job):
            if job is not None:
                job.result(timeout)
        self.refresh()

    def _draw(self, res: dict[str, Any]) -> None:
        self.result = res
        if "error" in res:
            self._info.value = f'<span class="wb-muted">{esc(res["error"])}</span>'
            self.chart.figure = placeholder(res["error"])
            return
        y, fc = res["y"], res["forecast"].copy()
        unit = self._unit()
        # a utilization cannot leave [0, 1], a byte count or rate cannot go below 0
        lo, hi = (0.0, 1.0) if unit == "1" else (0.0, None) if unit.startswith("By") else (None, None)
        fc = fc.clip(lower=lo, upper=hi)
        x_hist = epoch_ms(y.index.to_series())
        x_fc = epoch_ms(fc.index.to_series())
        band = []
        for lvl, alpha in ((95, 0.12), (80, 0.22)):
            band.append({"type": "scatter", "mode": "lines", "x": x_fc + x_fc[::-1],
                         "y": fc[f"hi_{lvl}"].tolist() + fc[f"lo_{lvl}"].tolist()[::-1],
                         "fill": "toself", "fillcolor": f"rgba(37,99,235,{alpha})", "line": {"width": 0},
                         "name": f"{lvl} % interval", "hoverinfo": "skip"})
        traces = [
            {"type": "scatter", "mode": "lines", "x": x_hist, "y": y.tolist(), "name": "history",
             "line": {"color": "#64748b", "width": 1.2}},
            *band,
            {"type": "scatter", "mode": "lines", "x": x_fc, "y": fc["mean"].tolist(), "name": "forecast",
             "line": {"color": "#2563eb", "width": 2}},
        ]
        self.chart.figure = {"data": traces, "layout": {
            "margin": {"l": 56, "r": 12, "t": 8, "b": 44}, "xaxis": {"type": "date"},
            "yaxis": _axis_layout(unit), "legend": {"orientation": "h", "y": -0.38},
            "uirevision": f"{self.host}|{self.metric}|{self.horizon}"}}
        score = res.get("score")
        if score is not None and hasattr(score, "get"):
            mase = score.get("mase", math.nan)
            score_text = f"backtest MASE {mase:.2f}" if isinstance(mase, float) and math.isfinite(mase) else ""
        else:
            score_text = ""
        extra = f" (the highest of {res['n_series']} series)" if res["n_series"] > 1 else ""
        fb = "".join(f' · <span class="wb-muted">{esc(res[k])}</span>' for k in ("fallback", "gap") if res.get(k))
        parts = [f'model <b>{esc(" + ".join(res["chosen"]) or "?")}</b>', esc(score_text),
                 f'{esc(res["labels"] or self.metric)}{esc(extra)}', f'step {esc(res["step"])}', "times in UTC"]
        self._info.value = f'<div class="wb-small">{" · ".join(p for p in parts if p)}{fb}</div>'

    def _draw_cards(self, cards: list[dict[str, Any]]) -> None:
        if not cards:
            self._cards.value = '<div class="wb-muted wb-small">no filesystem or memory series to project</div>'
            return
        html = "".join(
            f'<div class="wb-cap"><b>{esc(c["what"])}</b> <span class="wb-muted">now {esc(fmt_value(c["value"], "1"))}</span>'
            f'<br>{esc(c["text"])}</div>' for c in cards)
        self._cards.value = f'<div class="wb-caps">{html}</div>'

    def _unit(self) -> str:
        return unit_of(self.store, self.metric)
