"""Delivery of a finished report through the notification channels of ``[notify.channels]``.

* e-mail: the report inline as the HTML body (``attach = false``; scripts and
  charts left out, which mail readers would not run: the tables and cards
  stay), or a short HTML note with the whole report attached as
  ``report.html`` (``attach = true``), which opens offline in any browser;
* webhook: JSON with the report's path (relative to ``reports/``) and, when
  ``url`` is set (``"https://reports.example/{path}"``), its URL;
* log: one line.

The channels are the alert channels, built by :func:`router_from_config`:
secrets (SMTP password, webhook token) come from the environment as there.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

__all__ = ["deliver", "report_notification", "mail_html"]

_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.S | re.I)


def mail_html(page: str) -> str:
    """The report page for a mail reader: no scripts (none runs there), no empty chart boxes."""
    page = _SCRIPT.sub("", page)
    note = "<style>.wb-chart{display:none}</style>"
    return page.replace("</head>", note + "</head>", 1) if "</head>" in page else note + page


def report_notification(spec: Any, res: Any, root: Path, *, attach: bool = False) -> Any:
    from workbench.detect._notify import Notification

    html_path = Path(res.html)
    rel = html_path.resolve().relative_to(Path(root).resolve()).as_posix()
    url = spec.url.format(path=rel, name=spec.name) if spec.url else None
    title = str(res.params.get("title") or spec.name)
    subject = f"{title}: {res.period}" if res.period else title
    where = url or str(html_path)
    body = f"{subject}\n\nThe report: {where}\n(produced in {res.duration_s:.1f} s)\n"
    info = {"report": spec.name, "status": res.status, "path": rel, "url": url, "period": res.period,
            "file": str(html_path), "html_bytes": res.html_bytes, "summary": f"report {spec.name}: {where}"}
    page = html_path.read_text(encoding="utf-8")
    if attach:
        from html import escape

        html = (f"<html><body><h2>{escape(subject)}</h2><p>The report is attached (report.html; it opens in any "
                f"browser, offline).</p><p>{escape(where)}</p></body></html>")
        files = (("report.html", page.encode("utf-8"), "text/html"),)
    else:
        html, files = mail_html(page), ()
    return Notification("report", spec.name, "info", (info,), subject=subject, body=body, html=html,
                        attachments=files)


def deliver(spec: Any, res: Any, cfg: Any, root: str | Path) -> list[str]:
    """Send report ``res`` to every channel ``spec.deliver`` names; one line per channel says what happened."""
    from workbench.detect._live import router_from_config
    from workbench.detect._notify import EmailChannel

    router = router_from_config(cfg.notify or {})
    lines = []
    for name in spec.deliver:
        channel = router.channels.get(name)
        if channel is None:
            lines.append(f"{name}: no such channel in [notify.channels]")
            continue
        attach = spec.attach if isinstance(channel, EmailChannel) else False
        note = report_notification(spec, res, Path(root), attach=attach)
        try:
            channel.send(note)
        except Exception as exc:  # noqa: BLE001 - one channel failing must not stop the others
            lines.append(f"{name}: delivery failed: {exc}")
            continue
        how = ("attached" if attach else "inline") if isinstance(channel, EmailChannel) else "sent"
        lines.append(f"{name}: {how}")
    return lines
