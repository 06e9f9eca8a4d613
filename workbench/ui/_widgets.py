"""The three browser-side widgets the panels are built from: :class:`Chart`,
:class:`Clock` and :class:`Table`.

Written on anywidget rather than taken from plotly's ``FigureWidget``
(measured in Voilà 0.5.13: each ``FigureWidget`` ships ~5 MB of JavaScript
again and is not freed after ``close()``; traces added before display are
lost, voila#1533). A :class:`Chart` carries only the figure's JSON; plotly.js
itself is sent once per page, to the first chart that asks for it.
"""

from __future__ import annotations

import functools
import io
import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anywidget
import traitlets

__all__ = ["Chart", "Clock", "Table", "plotly_js"]

_STATIC = Path(__file__).with_name("static")
log = logging.getLogger("workbench.ui")


#: plotly.js's official "cartesian" partial bundle (npm ``plotly.js-cartesian-dist-min``, MIT,
#: the plotly.js version plotly.py ships): scatter, bar, box, heatmap, histogram, contour, pie —
#: every trace a panel draws — in 1.5 MB instead of the full bundle's 4.6 MB, which a slow
#: machine parses three times faster. ``scripts/update-plotly-cartesian`` refreshes it.
PLOTLY_BUNDLE = _STATIC / "plotly-cartesian.min.js"


@functools.cache
def plotly_js() -> bytes:
    """plotly.js for the panels' charts (a file in the package; never a CDN)."""
    return PLOTLY_BUNDLE.read_bytes()


def _clean(values: Sequence[Any]) -> list:
    """JSON-safe values: NaN and infinities become ``None`` (a gap in the line)."""
    out = []
    for v in values:
        if isinstance(v, float) and not math.isfinite(v):
            out.append(None)
        else:
            out.append(v)
    return out


def placeholder(text: str) -> dict:
    """A figure with no axes, only ``text`` in the middle (before data, or when there is none)."""
    return {"data": [], "layout": {"xaxis": {"visible": False}, "yaxis": {"visible": False},
                                   "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
                                   "annotations": [{"text": text, "showarrow": False, "xref": "paper", "yref": "paper",
                                                    "x": 0.5, "y": 0.5, "font": {"size": 13}}]}}


class Chart(anywidget.AnyWidget):
    """A plotly figure updated in place.

    ``figure`` is a plain ``{"data": [...], "layout": {...}}`` dict (what
    ``plotly.graph_objects.Figure.to_plotly_json()`` gives); assigning it
    redraws with ``Plotly.react``. :meth:`extend` appends points to traces
    without resending the rest. Clicks arrive through :meth:`on_click`.
    """

    _esm = _STATIC / "chart.js"
    figure = traitlets.Dict().tag(sync=True)
    theme = traitlets.Unicode("light").tag(sync=True)
    height = traitlets.Int(260).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)

    def __init__(self, figure: dict | None = None, **kwargs: Any) -> None:
        super().__init__(figure=figure or placeholder("loading…"), **kwargs)
        self._click_handlers: list[Callable[[dict], None]] = []
        self.on_msg(self._on_message)

    def _on_message(self, _widget: Any, content: dict, _buffers: list) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "need_plotly":
            self.send({"type": "plotly"}, buffers=[plotly_js()])
        elif kind == "click":
            for handler in list(self._click_handlers):
                try:
                    handler(content)
                except Exception:  # noqa: BLE001 - a callback error goes to the page log, not the void
                    log.exception("chart click handler failed")

    def on_click(self, handler: Callable[[dict], None]) -> None:
        """Call ``handler({"points": [{"curve", "index", "x", "y", "customdata"}]})`` on a click."""
        self._click_handlers.append(handler)

    def extend(self, xs: Sequence[Sequence[Any]], ys: Sequence[Sequence[Any]], indices: Sequence[int],
               max_points: int | None = None) -> None:
        """Append points to traces ``indices`` (keeping at most ``max_points`` each).

        The Python copy of the figure is updated too (without a resend), so a
        later full redraw shows the same points.
        """
        fig = self.figure
        data = fig.get("data", [])
        for x, y, i in zip(xs, ys, indices, strict=True):
            trace = data[i]
            trace["x"] = list(trace.get("x", [])) + list(x)
            trace["y"] = list(trace.get("y", [])) + _clean(y)
            if max_points is not None and len(trace["x"]) > max_points:
                trace["x"] = trace["x"][-max_points:]
                trace["y"] = trace["y"][-max_points:]
        update = {"x": [list(x) for x in xs], "y": [_clean(y) for y in ys]}
        self.send({"type": "extend", "update": update, "indices": list(indices), "max_points": max_points})

    def download(self, name: str, data: bytes, mime: str = "application/octet-stream") -> None:
        """Offer ``data`` to the browser as a file download named ``name``."""
        self.send({"type": "download", "name": name, "mime": mime}, buffers=[data])

    def download_png(self, name: str = "chart") -> None:
        """Save what the chart shows as a PNG (drawn by plotly in the browser)."""
        self.send({"type": "png", "name": name})


class Clock(anywidget.AnyWidget):
    """The page's refresh clock: the browser increments ``tick`` every ``interval_ms``."""

    _esm = _STATIC / "clock.js"
    tick = traitlets.Int(0).tag(sync=True)
    interval_ms = traitlets.Int(2000).tag(sync=True)


class Table(anywidget.AnyWidget):
    """A table sorted and filtered in the browser.

    ``columns``: ``[{"key", "label", "numeric": bool, "html": bool}]``;
    ``rows``: one list per row of ``[text, sort_key]`` pairs (use :meth:`set_rows`).
    With ``clickable``, a click on a row calls the :meth:`on_row` handlers with its index.
    """

    _esm = _STATIC / "table.js"
    columns = traitlets.List().tag(sync=True)
    rows = traitlets.List().tag(sync=True)
    sort_by = traitlets.Unicode("").tag(sync=True)
    descending = traitlets.Bool(True).tag(sync=True)
    selected = traitlets.Int(-1).tag(sync=True)
    clickable = traitlets.Bool(False).tag(sync=True)
    filterable = traitlets.Bool(True).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    empty_text = traitlets.Unicode("nothing to show").tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._row_handlers: list[Callable[[int], None]] = []
        self.on_msg(self._on_message)

    def _on_message(self, _widget: Any, content: dict, _buffers: list) -> None:
        if isinstance(content, dict) and content.get("type") == "row":
            index = content.get("index")
            if isinstance(index, int) and 0 <= index < len(self.rows):
                self.selected = index
                for handler in list(self._row_handlers):
                    try:
                        handler(index)
                    except Exception:  # noqa: BLE001 - reaches the page log
                        log.exception("table row handler failed")

    def on_row(self, handler: Callable[[int], None]) -> None:
        self._row_handlers.append(handler)

    def set_rows(self, rows: Sequence[Sequence[tuple[str, Any]]]) -> None:
        """Replace the rows; each cell is ``(text, sort_key)`` (NaN sort keys sort last)."""
        clean = [[[str(text), None if isinstance(k, float) and not math.isfinite(k) else k] for text, k in row]
                 for row in rows]
        if clean != self.rows:
            self.rows = clean


def to_csv_bytes(frame: Any) -> bytes:
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8")


def to_parquet_bytes(frame: Any) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()
