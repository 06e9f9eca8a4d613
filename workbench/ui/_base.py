"""What every panel shares: the traitlet inputs, the refresh contract, the
on-page log, and the small formatting helpers (units, sparklines, colours).

A panel is an ``ipywidgets.VBox`` whose inputs are traitlets (``store``,
``host``, ``metric``, ``labels``, ``range``) so that a page can link them to
shared pickers with ``traitlets.link``; ``refresh()`` reads only what is new
since the last call and ``refresh_slow()`` what changes rarely (history,
forecasts). Neither ever raises: an error goes to the page's :class:`PageLog`
and the next tick tries again (STYLE 14: errors in callbacks must be seen).
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import ipywidgets as W
import traitlets

__all__ = ["Panel", "PageLog", "RANGES", "range_window", "fmt_value", "sparkline_svg", "esc", "ts"]

log = logging.getLogger("workbench.ui")

#: Range picker choices: label -> (seconds shown, bucket step in seconds).
#: The step picks the store tier (raw below a minute, 1-minute rollups, hourly
#: rollups for whole hours): about 200-400 points per series whatever the range.
RANGES: dict[str, tuple[float, float]] = {
    "15 min": (900, 5),
    "1 h": (3600, 15),
    "6 h": (6 * 3600, 60),
    "24 h": (86400, 300),
    "7 d": (7 * 86400, 3600),
}


def tier_for_step(step: float) -> str:
    """The tier :meth:`Store.query` reads for a step (the same rule it applies)."""
    if step < 60:
        return "raw"
    return "1h" if step % 3600 == 0 else "1m"


def range_window(rng: str, *, now: float | None = None) -> tuple[float, float, float]:
    """``(start, end, step)`` in epoch seconds for a range label or ``"custom:START/END"``."""
    now = time.time() if now is None else now
    if rng in RANGES:
        span, step = RANGES[rng]
        return now - span, now, step
    if rng.startswith("custom:"):
        import pandas as pd

        a, _, b = rng[len("custom:"):].partition("/")
        start = pd.Timestamp(a, tz="UTC") if pd.Timestamp(a).tzinfo is None else pd.Timestamp(a)
        end = pd.Timestamp(b, tz="UTC") if pd.Timestamp(b).tzinfo is None else pd.Timestamp(b)
        s, e = start.timestamp(), end.timestamp()
        if e <= s:
            raise ValueError(f"custom range: the end ({b}) must be after the start ({a}).")
        span = e - s
        # about 300 points: raw below 25 min, minute rollups up to ~2 days, then hours
        step = max(1.0, span / 300)
        step = step if step < 60 else (math.ceil(step / 3600) * 3600 if span > 2 * 86400 else math.ceil(step / 60) * 60)
        return s, e, step
    raise ValueError(f"Unknown range {rng!r}; choose one of {', '.join(RANGES)} or 'custom:START/END'.")


def ts(epoch: float) -> Any:
    """Epoch seconds as a UTC ``pandas.Timestamp`` at microsecond precision (the store's)."""
    import pandas as pd

    return pd.Timestamp(round(epoch * 1e6), unit="us", tz="UTC")


def frame_rows(frame: Any) -> list[tuple]:
    """``(ts, metric, labels, value)`` tuples of a samples frame, as plain Python, with ``ts``
    in integer microseconds since the epoch (exact, and cheap to compare: no Timestamp objects).

    The per-tick arithmetic of the panels runs on these, not on DataFrame slices:
    a latest() frame holds ~50 rows, and each boolean index of a pandas 3
    (Arrow-backed) string column costs ~1.5 ms, which made one tick cost 70 ms.
    """
    if frame is None or not len(frame):
        return []
    us = frame["ts"].to_numpy(dtype="datetime64[us]").astype("int64").tolist()
    return list(zip(us, frame["metric"].tolist(), frame["labels"].tolist(), frame["value"].tolist(), strict=True))


def table_rows(table: Any) -> list[tuple]:
    """:func:`frame_rows` of a ``pyarrow.Table`` of samples (``Store.latest_table``)."""
    import pyarrow as pa

    if table is None or not table.num_rows:
        return []
    us = table.column("ts").cast(pa.int64()).to_pylist()
    cols = (table.column(c).to_pylist() for c in ("metric", "labels", "value"))
    return list(zip(us, *cols, strict=True))


class _Latest:
    """The newest sample of every series of one host, kept up to date incrementally.

    The first read asks the store for ``within`` (10 min); later reads ask
    only for what is newer than the last one (plus a margin), which reads one
    or two segment files instead of every file of the last ten minutes, and
    merge it in. Series not seen within ``within`` of the newest sample drop out.
    """

    #: seconds of overlap between reads: the agent flushes every second, so a sample is in a
    #: file within ~1 s of its time; 4 s covers a late flush and clock steps. (Each second of
    #: window is one more small file per read: 10 s of margin cost ~2 ms of CPU per tick.)
    MARGIN = 4.0

    def __init__(self, store: Any, host: str, within: str) -> None:
        from workbench.store._timeutil import parse_duration

        self.store, self.host, self.within = store, host, parse_duration(within, what="within")
        self.series: dict[tuple[str, str], tuple] = {}
        self.read_at = -math.inf  # monotonic time of the last read
        self.rows: list[tuple] | None = None

    def refresh(self) -> None:
        now = time.monotonic()
        window = self.within if not self.series else min(self.within, now - self.read_at + self.MARGIN)
        # Arrow, not a DataFrame: this runs every tick, and building the frame cost more than the query
        part = self.store.latest_table(host=self.host, within=f"{window:.3f}s")
        self.read_at = now
        for row in table_rows(part):
            old = self.series.get((row[1], row[2]))
            if old is None or row[0] >= old[0]:
                self.series[(row[1], row[2])] = row
        if self.series:
            cut = max(r[0] for r in self.series.values()) - round(self.within * 1e6)
            self.series = {k: r for k, r in self.series.items() if r[0] >= cut}
        self.rows = list(self.series.values())


_LATEST: dict[tuple, _Latest] = {}


def _latest_entry(store: Any, host: str, within: str, ttl: float) -> _Latest:
    key = (id(store), host, within)
    entry = _LATEST.get(key)
    if entry is None or entry.store is not store:
        if len(_LATEST) > 64:
            _LATEST.clear()
        entry = _LATEST[key] = _Latest(store, host, within)
    if time.monotonic() - entry.read_at >= ttl:
        entry.refresh()
    return entry


def latest_rows(store: Any, host: str, within: str = "10min", ttl: float = 1.0) -> list[tuple]:
    """The newest sample of every series of ``host`` seen within ``within``, as :func:`frame_rows`;
    shared by the panels of one tick (one read per tick, not one per panel)."""
    return _latest_entry(store, host, within, ttl).rows or []


def files_signature(*dirs: Any) -> tuple:
    """(path, mtime, size) of every file in ``dirs`` and their subdirectories (a table's host
    partitions): equal signatures mean nothing was written there since."""
    out = []
    for top in dirs:
        for root, _subdirs, files in os.walk(top):
            for name in files:
                try:
                    st = os.stat(os.path.join(root, name))
                except OSError:
                    continue
                out.append((root, name, st.st_mtime_ns, st.st_size))
    return tuple(sorted(out))


def unit_of(store: Any, metric: str) -> str:
    """The catalogue unit of ``metric`` ("" when it has none)."""
    cat = store.metrics()
    row = cat[cat["name"] == metric]
    return str(row["unit"].iloc[0]) if len(row) else ""


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


_PREFIX = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
_BIN = ((1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB"))


def fmt_value(value: float | None, unit: str = "") -> str:
    """A value as a person reads it: ``0.42`` with unit ``1`` is ``42 %``, bytes in KiB/MiB/GiB."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    v = float(value)
    if unit == "1":
        return f"{v * 100:.0f} %" if abs(v) >= 0.1 else f"{v * 100:.1f} %"
    rate = unit.endswith("/s")
    base = unit[:-2] if rate else unit
    suffix = "/s" if rate else ""
    if base == "By":
        for size, name in _BIN:
            if abs(v) >= size:
                return f"{v / size:.1f} {name}{suffix}"
        return f"{v:.0f} B{suffix}"
    label = base.strip("{}")
    for size, name in _PREFIX:
        if abs(v) >= size:
            return f"{v / size:.1f}{name} {label}{suffix}".strip()
    text = f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}" if abs(v) < 100 else f"{v:.0f}"
    return f"{text} {label}{suffix}".strip()


def sparkline_svg(values: Sequence[float], *, width: int = 120, height: int = 28, color: str = "currentColor",
                  fill: bool = True, label: str = "") -> str:
    """An inline SVG sparkline: no JavaScript, drawn with the first byte of the page."""
    pts = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    aria = f'role="img" aria-label="{esc(label or "trend")}"'
    if len(pts) < 2:
        return f'<svg class="wb-spark" width="{width}" height="{height}" {aria}></svg>'
    lo, hi = min(pts), max(pts)
    span = hi - lo or 1.0
    n = len(pts) - 1
    coords = [(i * (width - 2) / n + 1, height - 2 - (p - lo) / span * (height - 4)) for i, p in enumerate(pts)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    area = f'<polygon points="1,{height - 1} {line} {width - 1},{height - 1}" fill="{color}" opacity="0.15"/>' if fill else ""
    return (f'<svg class="wb-spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" {aria}>'
            f'{area}<polyline points="{line}" fill="none" stroke="{color}" stroke-width="1.5"/></svg>')


def ago(ts: float | None, now: float | None = None) -> str:
    if ts is None or not math.isfinite(ts):
        return "never"
    d = (time.time() if now is None else now) - ts
    if d < 90:
        return f"{d:.0f} s ago"
    if d < 5400:
        return f"{d / 60:.0f} min ago"
    if d < 2 * 86400:
        return f"{d / 3600:.1f} h ago"
    return f"{d / 86400:.1f} d ago"


def utc(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class PageLog(W.VBox):
    """The page's log: warnings and errors from refreshes and callbacks, newest first, bounded.

    Also a :class:`logging.Handler` on ``workbench.ui`` while it is
    :meth:`attach`-ed, so ``log.exception`` anywhere in a panel reaches the page.
    """

    def __init__(self, max_entries: int = 50, **kwargs: Any) -> None:
        self._entries: deque[str] = deque(maxlen=max_entries)
        self._html = W.HTML()
        self._title = W.HTML()
        super().__init__([self._title, self._html], **kwargs)
        self.add_class("wb-log")
        self.count = 0
        self._handler = _Handler(self)
        self._render()

    def attach(self, logger: logging.Logger | None = None) -> PageLog:
        (logger or log).addHandler(self._handler)
        return self

    def detach(self, logger: logging.Logger | None = None) -> None:
        (logger or log).removeHandler(self._handler)

    def add(self, level: str, message: str) -> None:
        self.count += 1
        stamp = dt.datetime.now(dt.UTC).strftime("%H:%M:%S")
        self._entries.appendleft(
            f'<div class="wb-log-{esc(level.lower())}"><span class="wb-muted">{stamp}</span> '
            f'<b>{esc(level)}</b> <pre>{esc(message)}</pre></div>'
        )
        self._render()

    def _render(self) -> None:
        n = len(self._entries)
        self._title.value = (f'<div class="wb-log-title">Page log · {n} message{"s" if n != 1 else ""}</div>'
                             if n else '<div class="wb-log-title wb-muted">Page log · no errors</div>')
        self._html.value = "".join(self._entries)


class _Handler(logging.Handler):
    def __init__(self, page_log: PageLog) -> None:
        super().__init__(level=logging.WARNING)
        self.page_log = page_log

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info:
                import traceback

                text += "\n" + "".join(traceback.format_exception(*record.exc_info)[-3:])
            self.page_log.add(record.levelname, text)
        except Exception:  # noqa: BLE001 - logging must never raise into a callback
            self.handleError(record)


class Panel(W.VBox):
    """Base of every panel: shared inputs, a title, guarded refreshes.

    Subclasses implement ``_refresh()`` (cheap, every tick) and optionally
    ``_refresh_slow()`` (every few ticks) and ``_inputs_changed()`` (a new host,
    range or metric: redraw from scratch).
    """

    store = traitlets.Any(None)
    host = traitlets.Unicode("")
    metric = traitlets.Unicode("")
    labels = traitlets.Unicode("")
    range = traitlets.Unicode("1 h")
    theme = traitlets.Unicode("light")

    title_text = ""

    def __init__(self, store: Any = None, **kwargs: Any) -> None:
        super().__init__()
        self._header = W.HTML(self._title_html())
        self._busy = False
        self._started = False  # inputs set before the first refresh trigger nothing
        self.last_refresh: float | None = None
        self.refresh_seconds = 0.0
        self.errors = 0
        self._failing: dict[str, Any] = {}  # step name -> its RepeatedFailure
        self.generation = 0  # counts changes of the inputs
        self.add_class("wb-panel")
        self.add_class(f"wb-{type(self).__name__.lower()}")
        with self.hold_trait_notifications():
            if store is not None:
                self.store = store
            for k, v in kwargs.items():
                setattr(self, k, v)
        self.observe(self._on_inputs, names=["store", "host", "metric", "labels", "range"])

    def _title_html(self, extra: str = "") -> str:
        return f'<h2 class="wb-h">{esc(self.title_text)}{extra}</h2>'

    def _on_inputs(self, change: dict) -> None:
        self.generation += 1
        if self._started:
            self.guard(self._inputs_changed)

    def _inputs_changed(self) -> None:
        self.refresh_slow()
        self.refresh()

    def guard(self, fn: Callable[[], Any], *args: Any) -> Any:
        """Run ``fn``; an exception goes to the page log (and ``errors``), never up.

        A refresh that fails every tick is logged when it starts failing (with its traceback),
        then once a minute with the count, and once when it works again: the page log keeps
        room for everything else (the package's one log-throttle rule).
        """
        name = getattr(fn, "__name__", "refresh")
        try:
            out = fn(*args)
        except Exception as exc:  # noqa: BLE001 - a failed refresh must not stop the page's clock
            self.errors += 1
            failing = self._failing.get(name)
            if failing is None:
                from workbench._logthrottle import RepeatedFailure

                failing = self._failing[name] = RepeatedFailure(f"{type(self).__name__}: {name} failed", logger=log)
            failing.failed(f"{type(exc).__name__}: {exc}", exc_info=True)
            return None
        if self._failing:
            failing = self._failing.get(name)
            if failing is not None:
                failing.ok()
        return out

    def refresh(self) -> None:
        """Read what is new and update in place."""
        if self.store is None or self._busy:
            return
        self._busy = self._started = True
        t0 = time.perf_counter()
        try:
            self.guard(self._refresh)
        finally:
            self._busy = False
            self.refresh_seconds = time.perf_counter() - t0
            self.last_refresh = time.time()

    def refresh_slow(self) -> None:
        """Re-read what changes rarely (history, forecasts, lists)."""
        if self.store is None:
            return
        self._started = True
        self.guard(self._refresh_slow)

    def _refresh(self) -> None:  # pragma: no cover - overridden
        pass

    def _refresh_slow(self) -> None:
        if self.loads_in_background:
            self._apply_slow(self._load_slow())

    # A panel whose slow refresh reads a lot splits it in two: ``_load_slow()`` only
    # reads (the store is safe to use from several threads) and returns what to draw;
    # ``_apply_slow(data)`` changes the widgets. A page's clock runs the first in a
    # worker thread and the second on the kernel's own thread, so that a click never
    # waits behind a long read.
    def _load_slow(self) -> Any:
        raise NotImplementedError

    def _apply_slow(self, data: Any) -> None:
        raise NotImplementedError

    @property
    def loads_in_background(self) -> bool:
        return type(self)._load_slow is not Panel._load_slow

    def load_slow_in(self, pool: Any) -> Any:
        """Start ``_load_slow`` in ``pool``; :meth:`apply_loaded` applies its result (or its
        error, to the page log) unless the panel's inputs changed meanwhile."""
        self._started = True
        return (self.generation, pool.submit(self._load_slow))

    def apply_loaded(self, job: Any) -> None:
        generation, future = job
        if generation != self.generation:
            return  # read for a host or range no longer shown
        self.guard(lambda: self._apply_slow(future.result()))


def close_tree(widget: W.Widget) -> None:
    """Close ``widget``, every widget inside it and their layouts and styles.

    ipywidgets keeps every widget (and its ``Layout`` and ``Style``, widgets too) registered
    with the kernel until ``close()``; a widget merely dropped from ``children`` stays for
    the life of the kernel. ``Widget.close`` closes only itself, hence this walk.
    """
    for child in getattr(widget, "children", ()):
        close_tree(child)
    for name in ("layout", "style"):
        part = getattr(widget, name, None)
        if isinstance(part, W.Widget):
            part.close()
    widget.close()


def buttons(specs: Iterable[tuple[str, str, Callable[[Any], None]]]) -> list[W.Button]:
    """Buttons from ``(label, tooltip, handler)``; a handler's error reaches the page log."""
    out = []
    for label, tip, handler in specs:
        b = W.Button(description=label, tooltip=tip, layout=W.Layout(width="auto"))

        def click(_b: Any, handler: Callable[[Any], None] = handler, label: str = label) -> None:
            try:
                handler(_b)
            except Exception:  # noqa: BLE001 - reaches the page log
                log.exception("%s failed", label)

        b.on_click(click)
        out.append(b)
    return out


class SentActions:
    """Control actions a panel sent, and their outcomes, for its status line.

    Only actions still waiting are looked up; at most ``keep`` are kept and
    the last three shown. ``owner`` names who applies them ("the agent").
    """

    def __init__(self, owner: str, hint: str = "", keep: int = 10) -> None:
        self.owner = owner
        self.hint = hint  # said once an action has waited more than 10 s
        self.keep = keep
        self._items: list[list] = []  # [action_id, description, sent_at or None once answered]

    def __bool__(self) -> bool:
        return bool(self._items)

    def add(self, action_id: str, what: str) -> None:
        self._items.append([action_id, what, time.time()])
        del self._items[:-self.keep]

    def poll(self, store: Any) -> bool:
        """Look up outcomes of waiting actions; True if any arrived."""
        from workbench import control

        arrived = False
        for item in self._items:
            if item[2] is None:
                continue
            out = control.outcome(store, item[0])
            if out is not None:
                item[1] = f"{item[1]}: {out.get('outcome')} {out.get('detail') or ''}".strip()
                item[2] = None
                arrived = True
        return arrived

    def html(self) -> str:
        lines = []
        for _action_id, what, sent in self._items[-3:]:
            if sent is None:
                lines.append(f"<div>{esc(what)}</div>")
            else:
                late = f" {self.hint}" if self.hint and time.time() - sent > 10 else ""
                lines.append(f"<div>{esc(what)}: sent, waiting for {esc(self.owner)}…{esc(late)}</div>")
        return f'<div class="wb-small wb-action-status">{"".join(lines)}</div>' if lines else ""
