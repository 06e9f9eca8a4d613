"""HTML pieces of a report: cards, tables, charts, the style sheet and plotly.js (once per page).

Charts are plotly figures written with ``include_plotlyjs=False``: the page
carries plotly.js once (:func:`plotly_js`, in the report's first output), so
a report with ten charts is not ten copies of 4 MB, and nothing is fetched
from a CDN when the file is opened.
"""

from __future__ import annotations

import html
import json
import math
import re
from typing import Any

import pandas as pd

__all__ = ["esc", "fmt", "fmt_change", "table", "chart", "plotly_js", "STYLE"]

PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777", "#4b5563",
           "#65a30d", "#7c3aed", "#0d9488"]

STYLE = """
<style>
.wb-report { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2937;
  max-width: 1100px; }
.wb-report h1 { font-size: 1.7em; margin: 0.2em 0; }
.wb-report h2 { font-size: 1.25em; margin: 1.2em 0 0.4em; border-bottom: 1px solid #e5e7eb; padding-bottom: 0.2em; }
.wb-report h3 { font-size: 1.02em; margin: 0.9em 0 0.3em; color: #374151; }
.wb-report .wb-meta { color: #6b7280; font-size: 0.92em; }
.wb-report .wb-note { color: #6b7280; font-style: italic; margin: 0.3em 0; }
.wb-report .wb-cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 10px; }
.wb-report .wb-card { border: 1px solid #e5e7eb; border-radius: 8px; padding: 10px 12px; background: #fafafa; }
.wb-report .wb-card-label { font-size: 0.85em; color: #6b7280; }
.wb-report .wb-card-value { font-size: 1.5em; font-weight: 600; margin: 2px 0; }
.wb-report .wb-card-sub { font-size: 0.82em; color: #4b5563; }
.wb-report .wb-up { color: #b91c1c; } .wb-report .wb-down { color: #047857; }
.wb-report table.wb-table { border-collapse: collapse; font-size: 0.88em; margin: 0.3em 0 0.8em; }
.wb-report table.wb-table th { text-align: left; background: #f3f4f6; font-weight: 600; }
.wb-report table.wb-table th, .wb-report table.wb-table td { padding: 3px 10px; border-bottom: 1px solid #e5e7eb;
  vertical-align: top; }
.wb-report table.wb-table td { text-align: left; white-space: nowrap; }
.wb-report table.wb-table td.wrap { white-space: normal; min-width: 16em; }
.wb-report table.wb-table td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.wb-report .wb-chart { border: 1px solid #e5e7eb; border-radius: 8px; margin: 8px 0; padding: 4px; min-width: 0; }
.wb-report .wb-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: 0 12px; }
.wb-report .wb-warn { color: #b45309; font-weight: 600; }
.wb-report .wb-crit { color: #b91c1c; font-weight: 600; }
</style>
"""


_UNIT_NAMES = {"1": "fraction", "By": "bytes", "By/s": "bytes/s"}


def unit_title(unit: str) -> str:
    """An axis title for a catalogue unit: ``By/s`` is bytes/s, ``{request}/s`` is requests/s."""
    if unit in _UNIT_NAMES:
        return _UNIT_NAMES[unit]
    if unit.startswith("{"):
        name, _, rest = unit[1:].partition("}")
        return f"{name + 'es' if name.endswith('s') else name + 's'}{rest}"
    return unit


def yaxis_for(unit: str) -> dict[str, Any]:
    axis: dict[str, Any] = {"title": {"text": unit_title(unit)}, "rangemode": "nonnegative"}
    if unit == "1":
        axis["tickformat"] = ".3~p"  # three significant digits: 23.5%, 0.812%, 100%
    elif unit.startswith("By"):
        axis["tickformat"] = ".3~s"
    return axis


def esc(text: Any) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _finite(v: Any) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def fmt(value: Any, unit: str = "") -> str:
    """A value as a person reads it (``0.42`` of unit ``1`` is ``42 %``; bytes in KiB/MiB/GiB)."""
    from workbench.ui._base import fmt_value

    return fmt_value(float(value) if _finite(value) else None, unit)


def fmt_change(change: Any, relative: Any, unit: str) -> str:
    """The change against the previous period: percentage points for fractions, per cent otherwise."""
    if not _finite(change):
        return "no previous data"
    if unit == "1":
        return f"{'+' if change >= 0 else '−'}{abs(change) * 100:.1f} pp"
    if _finite(relative):
        return f"{'+' if relative >= 0 else '−'}{abs(relative) * 100:.0f} %"
    return f"{'+' if change >= 0 else '−'}{fmt(abs(change), unit)}"


def fmt_time(ts: Any) -> str:
    if ts is None or (isinstance(ts, float) and math.isnan(ts)) or ts is pd.NaT:
        return ""
    return pd.Timestamp(ts).tz_convert("UTC").strftime("%Y-%m-%d %H:%M") if pd.Timestamp(ts).tzinfo else \
        pd.Timestamp(ts).strftime("%Y-%m-%d %H:%M")


def table(frame: pd.DataFrame, columns: list[tuple[str, str, Any]], *, css: str = "", attrs: Any = None) -> str:
    """An HTML table: ``columns`` are ``(column, heading, formatter)``; a formatter of ``None`` is plain text.

    ``attrs(row) -> str`` adds attributes to each ``<tr>`` (the tests read
    exact values from ``data-*`` attributes).
    """
    head = "".join(f"<th>{esc(h)}</th>" for _, h, _ in columns)
    body = []
    for row in frame.itertuples(index=False):
        r = row._asdict()
        cells = []
        for col, _h, f in columns:
            v = r.get(col)
            if f is None:
                text = "" if v is None else str(v)
                cells.append(f'<td class="wrap">{esc(text)}</td>' if len(text) > 40 else f"<td>{esc(text)}</td>")
            else:
                cells.append(f'<td class="num">{esc(f(v))}</td>')
        extra = (" " + attrs(r)) if attrs else ""
        body.append(f"<tr{extra}>{''.join(cells)}</tr>")
    return f'<table class="wb-table {css}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def data_attr(name: str, value: Any) -> str:
    if isinstance(value, float):
        value = repr(value) if math.isfinite(value) else ""
    return f'data-{name}="{esc(value)}"'


def chart(figure: dict[str, Any], *, name: str, height: int = 320) -> str:
    """One plotly figure as a ``<div>`` (plotly.js comes once per page from :func:`plotly_js`).

    The legend sits at the bottom of the figure, two names a row, below the
    axis and its date labels; the figure grows by its rows so the plot keeps
    its height however many series it draws.
    """
    import plotly.io as pio

    n = len(figure["data"])
    rows = -(-n // 2) if n > 1 else 0
    height += 18 * rows
    layout = {"template": _template(), "height": height,
              "margin": {"l": 60, "r": 20, "t": 36, "b": 56 + 18 * rows},
              "legend": {"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0.01,
                         "font": {"size": 10}},
              "showlegend": n > 1, "hovermode": "x unified", "font": {"family": "system-ui, sans-serif", "size": 11}}
    layout.update(figure.get("layout", {}))
    fig = {"data": figure["data"], "layout": layout}
    div = pio.to_html(fig, include_plotlyjs=False, full_html=False, validate=False, default_height=f"{height}px",
                      config={"displaylogo": False, "responsive": True,
                              "modeBarButtonsToRemove": ["sendDataToCloud"]})
    div = _DRAW.sub(lambda m: m.group(1) + _WHEN_PARSED.format(m.group(2)) + m.group(3), div)
    return f'<div class="wb-chart" data-chart="{esc(name)}" data-traces="{n}">{div}</div>'


# A chart drawn while the page is still being parsed is sized for a layout that is not final
# yet (the grid of charts fills in after it) and comes out clipped; so the saved page draws
# every chart once the document is parsed. In a live notebook it is parsed already: draw now.
_DRAW = re.compile(r'(<script[^>]*>)(.*?)(</script>)', re.S)
_WHEN_PARSED = ('(function (draw) {{ if (document.readyState === "loading") '
                '{{ document.addEventListener("DOMContentLoaded", draw); }} else {{ draw(); }} }})'
                "(function () {{ {} }});")


_TEMPLATE: dict[str, Any] = {}


def _template() -> dict[str, Any]:
    if not _TEMPLATE:
        import plotly.io as pio

        _TEMPLATE.update(pio.templates["plotly_white"].to_plotly_json())
    return _TEMPLATE


def plotly_js() -> str:
    """plotly.js inline, with MathJax switched off (it would be fetched from a CDN): the dashboard's
    cartesian bundle (every trace a report draws, a third of the full bundle's size)."""
    from workbench.ui._widgets import plotly_js as bundle

    return ('<script type="text/javascript">window.PlotlyConfig = {MathJaxConfig: "local"};</script>'
            f'<script type="text/javascript">{bundle().decode("utf-8")}</script>')


def json_attr(value: Any) -> str:
    return esc(json.dumps(value, default=str))
