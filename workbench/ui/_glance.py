"""The first glance: the header and KPI cards as plain HTML, served by the dashboard's own server.

Voilà's front end needs about two seconds (here, preheated) before the first
widget can draw: its JavaScript bundles load and the widget manager connects
to the kernel. A person opening the page wants the numbers first, so the
template asks this server for them at once (``GET /workbench/glance``, as
authenticated as the page itself) and shows them until the live KPI cards
replace them. The cards are the live panel's own HTML (:func:`card_html`),
computed at request time from the store (a preheated kernel rendered its
page minutes ago), so the glance is never older than :data:`TTL` seconds.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any

from workbench.ui._base import esc, latest_rows

__all__ = ["Glance"]

log = logging.getLogger("workbench.ui")

#: how long one rendering serves every visitor (a page opened twice a second costs one read)
TTL = 2.0
#: the sparklines and changes come from a heavier query, redone at most this often
HISTORY_TTL = 30.0
RANGE = "1 h"  # the dashboard's default range: the glance shows what the live cards will


class Glance:
    """Renders the first glance for the host a new page opens on (thread-safe, cached)."""

    def __init__(self, store: Any = None, config: Any = None) -> None:
        self._store, self._config = store, config
        self._rules: list | None = None
        self._lock = threading.Lock()
        self._html: tuple[float, str] | None = None
        self._history: tuple[float, str, Any] | None = None

    @property
    def store(self) -> Any:
        if self._store is None:
            from workbench.store import Store

            self._store = Store()
        return self._store

    def rules(self) -> list:
        if self._rules is None:
            from workbench.ui._dashboard import load_rules

            try:
                self._rules = load_rules(self._config)
            except Exception:  # noqa: BLE001 - the page itself explains a bad config; the glance has no thresholds
                self._rules = []
        return self._rules

    def render(self) -> str:
        with self._lock:
            now = time.monotonic()
            if self._html is None or now - self._html[0] >= TTL:
                self._html = (now, self._render())
            return self._html[1]

    def _render(self) -> str:
        from workbench.ui._dashboard import default_host, host_options
        from workbench.ui._kpi import KPIS, card_html, kpi_history, kpi_values

        store = self.store
        host = default_host(store)
        if not host:
            return ""
        now = time.monotonic()
        if self._history is None or self._history[1] != host or now - self._history[0] >= HISTORY_TTL:
            self._history = (now, host, kpi_history(store, host, RANGE, KPIS))
        history, change = self._history[2]
        values = kpi_values(latest_rows(store, host), KPIS)
        label = dict((h, text) for text, h in host_options([host]))[host]
        cards = "".join(f'<div class="wb-card">{card_html(k, values.get(k.key, math.nan), self.rules(), RANGE, history.get(k.key), change.get(k.key, math.nan))}</div>'
                        for k in KPIS)
        stamp = time.strftime("%H:%M:%S", time.gmtime())
        return (f'<div class="wb-header wb-glance-head"><span class="wb-brand">Workbench</span>'
                f'<span class="wb-glance-host">{esc(label)}</span>'
                f'<span class="wb-muted wb-small">as of {stamp} UTC · the live page is loading…</span></div>'
                f'<div class="wb-panel"><div class="wb-cards">{cards}</div></div>')
