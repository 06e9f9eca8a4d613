"""The detector lab: try rules and detectors on stored history before switching them on.

What ``notebooks/detector_lab.ipynb`` calls:

* :func:`backtest_stored` replays a rule (a ``workbench.toml``-style dict) over one
  series' history with :func:`~workbench.detect.backtest_rule` (the agent's own
  :class:`AlertManager`), against the operator labels of that series;
* :func:`score_detector` scores a detector on one's own labelled history with
  the package's NAB scorer (:func:`~workbench.detect.score_nab`), which also
  proposes a threshold (the one NAB's sweep finds best); :meth:`DetectorScore.at`
  scores any other threshold by the same rules;
* :func:`rule_toml` and :func:`write_rule` turn a chosen rule into a
  ``[[alerts.rules]]`` table and append it to ``workbench.toml``, only after the
  whole resulting file passed the config's and the rules' own validation;
* :class:`DetectorLab` puts detector, threshold and rule writing on widgets.
"""

from __future__ import annotations

import html
import json
import logging
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench._atomic import write_text_atomic
from workbench.detect._backtest import BacktestResult, backtest_rule
from workbench.detect._base import score_series
from workbench.detect._errors import RuleError
from workbench.detect._nabscore import PROFILES, CorpusScore, score_corpus
from workbench.detect._registry import DETECTORS, make_detector
from workbench.detect._rules import Rule, rule_from_dict, rules_from_config
from workbench.errors import DataError

__all__ = ["load_series", "RuleBacktest", "backtest_stored", "DetectorScore", "score_detector", "compare_detectors",
           "rule_toml", "write_rule", "config_path", "DetectorLab", "LabelPanel", "UNIVARIATE"]

log = logging.getLogger("workbench.detect.lab")

#: Detectors that score one series (``iforest`` takes a vector of metrics).
UNIVARIATE = tuple(n for n in DETECTORS if n != "iforest")


# --------------------------------------------------------------------------- history
def load_series(store: Any, metric: str, *, host: str, labels: Mapping[str, Any] | str | None = None,
                start: Any = "14d", end: Any = None, step: Any = "5min") -> pd.Series:
    """One series (time-indexed values) from the store; an error names the choices when the
    selection matches several series or none."""
    frame = store.query(metric, start, end, step=step, host=host, labels=labels)
    if frame.empty:
        raise DataError(f"No samples of {metric!r} on {host!r}{f' with labels {labels!r}' if labels else ''} in the range "
                        f"{start} – {end or 'now'}; widen it or check names with `workbench metrics`.", metric=metric)
    keys = frame["labels"].unique()
    if len(keys) > 1:
        raise DataError(f"{metric!r} on {host!r} selects {len(keys)} series ({', '.join(map(str, keys[:4]))}...); "
                        "give labels= to pick one.", metric=metric, series=list(map(str, keys[:20])))
    return frame.set_index("ts")["value"].rename(f"{host}/{metric}{{{keys[0]}}}")


def _series_labels(series: pd.Series) -> str:
    name = str(series.name or "")
    return name[name.index("{") + 1:-1] if "{" in name else ""


def _windows(store: Any, host: str, metric: str, labels: str) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    from workbench.labels import incident_windows

    return incident_windows(store, host=host, metric=metric, labels=labels)


def _band(t0: Any, t1: Any, color: str) -> dict[str, Any]:
    return {"type": "rect", "xref": "x", "yref": "paper", "x0": _ms(t0), "x1": _ms(t1), "y0": 0, "y1": 1,
            "fillcolor": color, "opacity": 0.35, "line": {"width": 0}, "layer": "below"}


def _ms(t: Any) -> int:
    t = pd.Timestamp(t)
    return int((t.tz_convert("UTC") if t.tzinfo else t.tz_localize("UTC")).value // 1_000_000)


def _ms_list(index: pd.Index) -> list[int]:
    return pd.DatetimeIndex(index).tz_convert("UTC").astype("datetime64[ms, UTC]").astype("int64").tolist()


def _floor(x: float, digits: int) -> float:
    """Round down: NAB's best threshold is some point's score, and rounding it up would drop that point."""
    return math.floor(x * 10**digits) / 10**digits


def _legend_traces() -> list[dict]:
    # Bands are shapes, which have no legend entry: two invisible traces explain them.
    return [{"type": "scatter", "mode": "markers", "x": [None], "y": [None], "name": "labelled incident",
             "marker": {"symbol": "square", "size": 12, "color": "#86efac"}},
            {"type": "scatter", "mode": "markers", "x": [None], "y": [None], "name": "would have fired",
             "marker": {"symbol": "square", "size": 12, "color": "#fca5a5"}}]


# --------------------------------------------------------------------------- rules
@dataclass
class RuleBacktest:
    """A rule replayed over one series, against that series' labelled incidents."""

    spec: dict[str, Any]
    rule: Rule
    series: pd.Series
    incidents: list[tuple[pd.Timestamp, pd.Timestamp]]
    result: BacktestResult
    false_alarms: list[tuple[pd.Timestamp, pd.Timestamp]] = field(default_factory=list)  # labelled "false_alarm"

    @property
    def days(self) -> float:
        s = self.series
        return max((s.index[-1] - s.index[0]) / pd.Timedelta(days=1), 1e-9) if len(s) > 1 else float("nan")

    def summary(self) -> dict[str, Any]:
        """Alerts, alerts per day, flaps, precision and recall against the labels, mean lead."""
        out = self.result.summary()
        out["alerts_per_day"] = round(out["alerts"] / self.days, 3)
        out["labelled_incidents"] = len(self.incidents)
        out["labelled_false_alarms_hit"] = int(self.episodes()["labelled false alarm"].sum()) if len(self.result.episodes) else 0
        return out

    def episodes(self) -> pd.DataFrame:
        """One row per would-be alert: fired, resolved, the labelled incident it caught (blank: none),
        and whether an operator labelled it (or its time) a false alarm."""
        ep = self.result.episodes[["fired", "resolved"]].copy()
        lead = pd.Timedelta(hours=1)
        caught = []
        for fired in pd.to_datetime(ep["fired"], utc=True):
            hit = [(a, b) for a, b in self.incidents if a - lead <= fired <= b]
            caught.append(f"{hit[0][0]:%Y-%m-%d %H:%M} – {hit[0][1]:%Y-%m-%d %H:%M}" if hit else "")
        ep["labelled incident caught"] = caught
        ep["labelled false alarm"] = [any(a <= f <= b for a, b in self.false_alarms)
                                      for f in pd.to_datetime(ep["fired"], utc=True)]
        return ep

    def figure(self) -> dict[str, Any]:
        s = self.series
        shapes = [_band(a, b, "#86efac") for a, b in self.incidents]
        end = s.index[-1]
        step = pd.Series(s.index).diff().median() if len(s) > 1 else pd.Timedelta(0)
        ep = self.result.episodes
        for row in ep.itertuples(index=False):
            stop = row.resolved if pd.notna(row.resolved) else end
            shapes.append(_band(row.fired, max(pd.Timestamp(stop), pd.Timestamp(row.fired) + step), "#fca5a5"))
        traces = [{"type": "scatter", "mode": "lines", "name": str(s.name), "x": _ms_list(s.index), "y": s.tolist(),
                   "line": {"color": "#1d4ed8", "width": 1}}]
        if len(ep):  # a one-point episode's band is a hairline: mark each firing too
            fired = pd.DatetimeIndex(pd.to_datetime(ep["fired"], utc=True))
            at = s.reindex(fired, method="nearest")
            traces.append({"type": "scatter", "mode": "markers", "name": "fired", "x": _ms_list(fired),
                           "y": at.tolist(), "marker": {"symbol": "triangle-down", "size": 9, "color": "#dc2626"},
                           "showlegend": False})
        if self.rule.fire is not None and self.rule.kind == "threshold":
            traces.append({"type": "scatter", "mode": "lines", "name": f"fire {self.rule.op} {self.rule.fire:g}",
                           "x": [_ms(s.index[0]), _ms(end)], "y": [self.rule.fire] * 2,
                           "line": {"color": "#dc2626", "dash": "dash"}})
        return {"data": traces + _legend_traces(),
                "layout": {"xaxis": {"type": "date"}, "yaxis": {"title": {"text": self.rule.metric}},
                           "shapes": shapes, "margin": {"t": 10}, "legend": {"orientation": "h", "y": -0.2}}}


def backtest_stored(store: Any, spec: Mapping[str, Any], *, host: str | None = None,
             labels: Mapping[str, Any] | str | None = None, start: Any = "14d", end: Any = None,
             step: Any = "5min", **kw: Any) -> RuleBacktest:
    """Replay the rule ``spec`` (validated as ``workbench.toml`` would be) over one series.

    The series is the rule's metric on ``host`` (default: the rule's host),
    narrowed by ``labels`` (default: the rule's exact label matchers). ``kw``
    goes to :func:`~workbench.detect.backtest_rule` (``tick_every``,
    ``max_lead``...).
    """
    rule = rule_from_dict(spec)
    host = host or rule.host
    if not host:
        raise RuleError(f"Rule {rule.name!r} names no host; give host= to choose the history to replay.", rule=rule.name)
    if labels is None and rule.labels.exact:
        labels = dict(rule.labels.exact)
    series = load_series(store, rule.metric, host=host, labels=labels, start=start, end=end, step=step)
    lab = _series_labels(series)
    history = pd.DataFrame({"ts": series.index, "host": host, "metric": rule.metric, "labels": lab,
                            "value": series.to_numpy()})
    from workbench.labels import incident_windows

    incidents = _windows(store, host, rule.metric, lab)
    false_alarms = incident_windows(store, host=host, metric=rule.metric, labels=lab, verdict="false_alarm")
    result = backtest_rule(rule, history, incidents or None, **kw)
    return RuleBacktest(dict(spec), rule, series, incidents, result, false_alarms)


# --------------------------------------------------------------------------- detectors
@dataclass
class DetectorScore:
    """A detector's scores over one labelled series and their NAB scores."""

    detector: str
    params: dict[str, Any]
    series: pd.Series
    scores: pd.Series
    windows: list[tuple[pd.Timestamp, pd.Timestamp]]
    nab: dict[str, CorpusScore]  # per profile, each with the threshold NAB's sweep found best
    host: str = ""
    metric: str = ""
    labels: str = ""

    @property
    def proposed_threshold(self) -> float:
        """The threshold the ``standard`` profile scores best with (capped at 1)."""
        return min(float(self.nab["standard"].threshold), 1.0)

    def at(self, threshold: float) -> pd.DataFrame:
        """NAB scores at ``threshold`` (one row per profile), by the package's scorer
        (:func:`~workbench.detect.score_nab` with ``thresholds=``), plus how many points it
        flags and how many alerts a day that makes."""
        if not 0.0 <= threshold <= 1.0 or math.isnan(threshold):
            raise DataError(f"A detector threshold is a score in [0, 1]; got {threshold!r}.", threshold=threshold)
        files, windows = self._corpus()
        scored = score_corpus(files, windows, thresholds={name: threshold for name in PROFILES})
        detected = np.nan_to_num(self.scores.to_numpy(), nan=0.0) >= threshold
        starts = int(detected[0]) + int((detected[1:] & ~detected[:-1]).sum()) if detected.size else 0
        days = max((self.series.index[-1] - self.series.index[0]) / pd.Timedelta(days=1), 1e-9)
        rows = [{"profile": s.profile, "threshold": threshold, "score": s.normalized, "tp": s.tp, "fp": s.fp, "fn": s.fn,
                 "flagged_points": int(detected.sum()), "alert_starts_per_day": starts / days} for s in scored.values()]
        return pd.DataFrame(rows).set_index("profile")

    def _corpus(self) -> tuple[dict, dict]:
        """This series as a one-file NAB corpus: ``{key: (timestamps, scores)}`` and its windows."""
        key = f"{self.host}/{self.metric}"
        naive = self.scores.index.tz_convert("UTC").tz_localize(None).to_numpy()
        wins = [[a.tz_convert("UTC").tz_localize(None), b.tz_convert("UTC").tz_localize(None)] for a, b in self.windows]
        return {key: (naive, self.scores.to_numpy())}, {key: wins}

    def table(self) -> pd.DataFrame:
        """NAB's best threshold and score per profile (what :func:`score_nab` reports)."""
        return pd.DataFrame([{"profile": s.profile, "threshold": s.threshold, "score": s.normalized, "tp": s.tp,
                              "fp": s.fp, "fn": s.fn} for s in self.nab.values()]).set_index("profile")

    def rule(self, threshold: float | None = None, *, name: str | None = None, severity: str = "warning",
             for_: str | None = None) -> dict[str, Any]:
        """The anomaly rule this detector and threshold make, as a ``workbench.toml`` dict."""
        thr = self.proposed_threshold if threshold is None else float(threshold)
        spec: dict[str, Any] = {"name": name or f"{self.detector}-{self.metric}".replace(".", "-"), "kind": "anomaly",
                                "metric": self.metric, "host": self.host, "detector": self.detector,
                                "fire": _floor(thr, 4), "resolve": _floor(thr * 0.9, 4), "severity": severity}
        if self.labels:
            from workbench.labels import parse_labels

            spec["labels"] = parse_labels(self.labels)
        if self.params:
            spec["params"] = dict(self.params)
        if for_:
            spec["for"] = for_
        return spec

    def figure(self, threshold: float | None = None) -> dict[str, Any]:
        """The series above, the detector's score below with the threshold, labelled windows shaded."""
        thr = self.proposed_threshold if threshold is None else threshold
        x = _ms_list(self.series.index)
        shapes = [_band(a, b, "#86efac") for a, b in self.windows]
        return {"data": [
            {"type": "scatter", "mode": "lines", "name": str(self.series.name), "x": x, "y": self.series.tolist(),
             "line": {"color": "#1d4ed8", "width": 1}},
            {"type": "scatter", "mode": "lines", "name": f"{self.detector} score", "x": x, "y": self.scores.round(4).tolist(),
             "yaxis": "y2", "line": {"color": "#7c3aed", "width": 1}},
            {"type": "scatter", "mode": "lines", "name": f"threshold {thr:.3f}", "x": [x[0], x[-1]], "y": [thr, thr],
             "yaxis": "y2", "line": {"color": "#dc2626", "dash": "dash"}},
            _legend_traces()[0],
        ], "layout": {"xaxis": {"type": "date", "anchor": "y2"},  # the time axis under the score, not across it
                      "yaxis": {"domain": [0.45, 1], "title": {"text": self.metric}},
                      "yaxis2": {"domain": [0, 0.38], "range": [0, 1.02], "title": {"text": "score"}},
                      "shapes": shapes, "margin": {"t": 10}, "legend": {"orientation": "h", "y": -0.15}}}


def score_detector(store: Any, detector: str = "default", params: Mapping[str, Any] | None = None, *,
                   metric: str, host: str, labels: Mapping[str, Any] | str | None = None, start: Any = "14d",
                   end: Any = None, step: Any = "5min", series: pd.Series | None = None) -> DetectorScore:
    """Score ``detector`` on one series against its labelled incidents with NAB's rules.

    Needs at least one ``incident`` label on the series (operator labels, or the
    demo's NAB windows): without one there is nothing to score against.
    """
    if detector not in UNIVARIATE:
        raise DataError(f"Detector {detector!r} cannot score one series here; choose one of {', '.join(UNIVARIATE)}.",
                        detector=detector)
    y = series if series is not None else load_series(store, metric, host=host, labels=labels, start=start, end=end, step=step)
    lab = _series_labels(y)
    windows = [(a, b) for a, b in _windows(store, host, metric, lab) if b >= y.index[0] and a <= y.index[-1]]
    if not windows:
        raise DataError(f"No labelled incident on {host}/{metric}{{{lab}}} in the range, so there is nothing to score "
                        "against; label one with workbench.labels.add_label(store, 'incident', host=..., start=..., end=...).",
                        host=host, metric=metric)
    det = make_detector(detector, **dict(params or {}))
    scores = score_series(det, y.dropna())
    out = DetectorScore(detector, dict(params or {}), y.dropna(), scores, windows, {}, host, metric, lab)
    out.nab = score_corpus(*out._corpus())
    return out


def compare_detectors(store: Any, names: list[str] | None = None, **series_kw: Any) -> pd.DataFrame:
    """NAB ``standard`` score and proposed threshold of several detectors on the same labelled series."""
    y = load_series(store, series_kw["metric"], host=series_kw["host"], labels=series_kw.get("labels"),
                    start=series_kw.get("start", "14d"), end=series_kw.get("end"), step=series_kw.get("step", "5min"))
    rows = []
    for name in names or [n for n in UNIVARIATE if n != "ensemble"]:
        s = score_detector(store, name, series=y, **series_kw)
        std = s.nab["standard"]
        rows.append({"detector": name, "score": std.normalized, "threshold": s.proposed_threshold,
                     "tp": std.tp, "fp": std.fp, "fn": std.fn,
                     "low_FP": s.nab["reward_low_FP_rate"].normalized, "low_FN": s.nab["reward_low_FN_rate"].normalized})
    return pd.DataFrame(rows).set_index("detector").sort_values("score", ascending=False)


# --------------------------------------------------------------------------- workbench.toml
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_KEY_ORDER = ("name", "kind", "metric", "host", "labels", "severity", "op", "fire", "resolve", "for", "window",
              "detector", "params", "after", "level", "horizon", "probability", "summary")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key)


def _toml_value(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RuleError(f"{where} is {value!r}: workbench.toml takes finite numbers only.", key=where)
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_toml_key(str(k))} = {_toml_value(v, f'{where}.{k}')}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v, where) for v in value) + "]"
    raise RuleError(f"{where} is a {type(value).__name__} ({value!r}); a rule takes strings, numbers, booleans and tables.",
                    key=where)


def rule_toml(spec: Mapping[str, Any]) -> str:
    """The ``[[alerts.rules]]`` table for ``spec``, after validating it as a rule."""
    rule_from_dict(spec)
    keys = [k for k in _KEY_ORDER if k in spec] + sorted(k for k in spec if k not in _KEY_ORDER)
    lines = ["[[alerts.rules]]"]
    rule = spec.get("name")
    for key in keys:
        if spec[key] is not None:
            lines.append(f"{_toml_key(key)} = {_toml_value(spec[key], f'rule {rule!r}: {key}')}")
    return "\n".join(lines) + "\n"


def config_path(path: str | os.PathLike | None = None) -> Path:
    """Where a rule would be written: ``path``, ``$WORKBENCH_CONFIG``, or ``./workbench.toml``
    (where ``workbench agent`` looks for it)."""
    if path is not None:
        return Path(path)
    env = os.environ.get("WORKBENCH_CONFIG")
    return Path(env) if env else Path("workbench.toml")


def write_rule(spec: Mapping[str, Any], path: str | os.PathLike | None = None, *, store: Any = None) -> Path:
    """Append the rule ``spec`` to ``workbench.toml``, only if the whole resulting file is valid.

    The new text is parsed as TOML and checked by the config's own validation
    (:func:`workbench.config.config_from_dict`) and the rules' (every rule
    parses, names are unique); with ``store``, the metric must be in its
    catalogue. Nothing is written when any check fails; the file is replaced
    atomically when all pass. Returns the path written.
    """
    from workbench.config import config_from_dict

    target = config_path(path)
    block = rule_toml(spec)
    if store is not None:
        store.check_metric(str(spec.get("metric")))
    old = target.read_text() if target.exists() else ""
    new = old + ("" if not old or old.endswith("\n") else "\n") + ("\n" if old else "") + block
    try:
        data = tomllib.loads(new)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{target} would not be valid TOML with the rule appended ({exc}); its [alerts] part is "
                        f"probably written as tables rather than [[alerts.rules]]. Add the rule by hand:\n{block}",
                        path=str(target)) from None
    cfg = config_from_dict(data, source=str(target))
    rules_from_config(cfg.alerts)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(target, new)
    return target


# --------------------------------------------------------------------------- widgets
# An ipywidgets HTML gives its content the line height of a one-line widget; tables need their own.
_TABLE_CSS = ("<style>.wb-lab-table{border-collapse:collapse;line-height:1.4;margin:4px 0}"
              ".wb-lab-table td,.wb-lab-table th{padding:2px 10px;text-align:right}</style>")


def _table(frame: pd.DataFrame, index: bool = True) -> str:
    return frame.to_html(border=0, index=index, classes="wb-lab-table")


class _Widgets:
    """What the lab's widget panels share: display in a notebook, callback errors shown on the panel."""

    what = "lab"

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _guard(self, fn) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - a callback's error goes on the page, not into the void
            log.exception("%s callback failed", self.what)
            self.message.value = f"<span style='color:#b91c1c'>{html.escape(str(exc))}</span>"


class DetectorLab(_Widgets):
    """Detector, threshold and rule on widgets: pick a detector, move the threshold, see the NAB
    score and the rule it makes, and write it to ``workbench.toml`` with a button.

    ``lab.widget`` is what a notebook displays; errors land in its message line.
    """

    what = "detector lab"

    def __init__(self, store: Any, *, metric: str, host: str, labels: Mapping[str, Any] | str | None = None,
                 start: Any = "14d", step: Any = "5min", detector: str = "default",
                 path: str | os.PathLike | None = None) -> None:
        import ipywidgets as w

        from workbench.ui import Chart

        self.store, self.path = store, path
        self.series = load_series(store, metric, host=host, labels=labels, start=start, step=step)
        self._kw = {"metric": metric, "host": host, "labels": labels, "start": start, "step": step}
        self.detector = w.Dropdown(options=list(UNIVARIATE), value=detector, description="detector")
        self.threshold = w.FloatSlider(min=0.0, max=1.0, step=0.001, value=0.5, description="threshold",
                                       continuous_update=False, readout_format=".3f",
                                       layout=w.Layout(width="420px"))
        self.name = w.Text(value="", description="rule name", layout=w.Layout(width="420px"))
        self.write_button = w.Button(description="Write rule to workbench.toml", icon="save",
                                     layout=w.Layout(width="260px"))
        self.scores = w.HTML()
        self.toml = w.HTML()
        self.message = w.HTML()
        self.chart = Chart(height=380)
        self.widget = w.VBox([w.HBox([self.detector, self.threshold]), self.chart, self.scores,
                              w.HBox([self.name, self.write_button]), self.toml, self.message])
        self.result: DetectorScore | None = None
        self._quiet = False
        self._auto_name = ""
        self._rescore()
        self.detector.observe(lambda _c: self._guard(self._rescore), names="value")
        self.threshold.observe(lambda _c: None if self._quiet else self._guard(self._redraw), names="value")
        self.name.observe(lambda _c: self._guard(self._show_rule), names="value")
        self.write_button.on_click(lambda _b: self._guard(self.write))

    def _rescore(self) -> None:
        self.result = score_detector(self.store, self.detector.value, series=self.series, **self._kw)
        auto = f"{self.detector.value}-{self._kw['host']}"
        if not self.name.value or self.name.value == self._auto_name:  # a name the user typed stays
            self.name.value = auto
        self._auto_name = auto
        self._quiet = True  # one redraw below, not one more from the slider's observer
        try:
            self.threshold.value = _floor(self.result.proposed_threshold, 3)
        finally:
            self._quiet = False
        self._redraw()

    def spec(self) -> dict[str, Any]:
        assert self.result is not None
        return self.result.rule(self.threshold.value, name=self.name.value.strip() or None)

    def _redraw(self) -> None:
        assert self.result is not None
        thr = self.threshold.value
        self.chart.figure = self.result.figure(thr)
        at = self.result.at(thr).round(3)
        best = self.result.table().round(3)
        self.scores.value = (f"{_TABLE_CSS}<b>NAB scores at {thr:.3f}</b> (proposed: {_floor(self.result.proposed_threshold, 4)}, "
                             f"NAB's best for the standard profile){_table(at)}"
                             f"<details><summary>NAB's best threshold per profile</summary>{_table(best)}</details>")
        self._show_rule()

    def _show_rule(self) -> None:
        self.toml.value = (f"<p>Rule for {html.escape(str(config_path(self.path)))}:</p>"
                           f"<pre style='line-height:1.35;margin:0'>{html.escape(rule_toml(self.spec()))}</pre>")
        self.message.value = ""

    def write(self) -> Path:
        """Write the rule shown (what the button does)."""
        path = write_rule(self.spec(), self.path, store=self.store)
        self.message.value = f"<span style='color:#15803d'>Written to {html.escape(str(path.resolve()))}.</span>"
        return path


class LabelPanel(_Widgets):
    """Mark alert episodes as real incidents or false alarms: pick one, choose the verdict, save.

    ``episodes`` is a :class:`RuleBacktest` (its would-be alerts), or a frame of
    episodes with host, metric, labels, alert_id, fired, resolved, such as
    :func:`workbench.drilldown.incidents` gives for the alerts the agent raised.
    Labels go to the home through :func:`workbench.labels.label_alert`.
    """

    what = "label panel"

    def __init__(self, store: Any, episodes: RuleBacktest | pd.DataFrame, *, by: str | None = None) -> None:
        import ipywidgets as w

        self.store, self.by = store, by
        frame = episodes.result.episodes if isinstance(episodes, RuleBacktest) else episodes
        self.episodes = frame.reset_index(drop=True)
        options = [(self._describe(row), i) for i, row in self.episodes.iterrows()]
        self.pick = w.Dropdown(options=options or [("no alert episodes to label", -1)], description="alert",
                               layout=w.Layout(width="520px"))
        self.verdict = w.ToggleButtons(options=[("real incident", "incident"), ("false alarm", "false_alarm")],
                                       value="incident")
        self.note = w.Text(placeholder="why (optional)", description="note", layout=w.Layout(width="520px"))
        self.save_button = w.Button(description="Save label", icon="tag", disabled=not options)
        self.labels = w.HTML()
        self.message = w.HTML()
        self.widget = w.VBox([self.pick, self.verdict, w.HBox([self.note, self.save_button]), self.message, self.labels])
        self.save_button.on_click(lambda _b: self._guard(self.save))
        self._show()

    @staticmethod
    def _describe(row: pd.Series) -> str:
        fired = pd.Timestamp(row["fired"])
        res = pd.Timestamp(row["resolved"]) if pd.notna(row.get("resolved")) else None
        span = f"{fired:%Y-%m-%d %H:%M} – {res:%H:%M}" if res is not None else f"{fired:%Y-%m-%d %H:%M} – (open)"
        return f"{span}  {row.get('host', '')} {row.get('metric', '')}"

    def save(self) -> dict[str, Any]:
        """Label the chosen episode with the chosen verdict (what the button does)."""
        from workbench.labels import label_alert

        if self.pick.value < 0:
            raise DataError("There is no alert episode to label.")
        rec = label_alert(self.store, self.episodes.iloc[self.pick.value], self.verdict.value,
                          note=self.note.value, by=self.by)
        self.message.value = f"<span style='color:#15803d'>Saved: {html.escape(rec['verdict'])} ({rec['label_id'][:8]}).</span>"
        self.note.value = ""
        self._show()
        return rec

    def _show(self) -> None:
        from workbench.labels import list_labels

        if self.episodes.empty:
            self.labels.value = ""
            return
        hosts = sorted(set(self.episodes["host"]))
        found = list_labels(self.store, include_demo=False)
        found = found[found["host"].isin(hosts)]
        if found.empty:
            self.labels.value = "<p><i>No operator labels on these hosts yet.</i></p>"
            return
        shown = found[["verdict", "host", "metric", "start", "end", "by", "note"]].tail(10)
        self.labels.value = f"{_TABLE_CSS}<b>Operator labels on {html.escape(', '.join(hosts))}</b>{_table(shown, index=False)}"
