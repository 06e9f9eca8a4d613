"""Notification channels: log, webhook, e-mail, dashboard toast.

Webhook and e-mail channels retry a failed send with the package's one
:class:`~workbench._resilience.Retry` (``attempts`` counts the first try;
exponential back-off with full jitter; only transient failures: a refused
connection, a timeout, HTTP 5xx/408/429, an SMTP 4xx reply) and guard it
with the one :class:`~workbench._resilience.CircuitBreaker`, keyed by the
channel's name: after ``failures`` failed sends in a row it opens, sends
fail fast with :class:`~workbench._resilience.CircuitOpenError` for
``cooldown`` seconds, then one trial send is let through.

Secrets (a webhook token, an SMTP password, a webhook URL that is itself the
secret) are never taken from files or arguments: a channel is told the *name*
of an environment variable and reads it when it sends. Log lines and errors
show a URL through :func:`workbench._redact.redact_url` (the one redactor):
from the file with its query values masked, from the environment as scheme
and host only. Nothing a channel knows goes into alert records.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from workbench._redact import redact_url
from workbench._resilience import CircuitBreaker, CircuitOpenError, Retry
from workbench.config import positive_duration
from workbench.detect._errors import NotifyError, RuleError
from workbench.durations import format_duration, parse_duration
from workbench.errors import DataError

if TYPE_CHECKING:
    from workbench.detect._notify import Notification

__all__ = [
    "Channel",
    "LogChannel",
    "WebhookChannel",
    "EmailChannel",
    "ToastQueue",
    "channel_breaker",
    "channel_retry",
]

log = logging.getLogger("workbench.detect.notify")


#: The defaults of a channel's breaker: 3 failed sends in a row open it for a minute.
CHANNEL_FAILURES = 3
CHANNEL_COOLDOWN = 60.0
_BREAKER_LOCK = threading.Lock()  # a breaker is not thread-safe and may be shared by channels


def channel_breaker(failures: int = CHANNEL_FAILURES, cooldown: float = CHANNEL_COOLDOWN) -> CircuitBreaker:
    """A circuit breaker with the channels' defaults."""
    return CircuitBreaker(failures=failures, cooldown=cooldown)


def channel_retry(attempts: int | None = None, backoff: Any = 0.5, *, retries: int | None = None,
                  max_backoff: Any = 30.0, where: str = "channel") -> Retry:
    """The :class:`Retry` of a channel from its settings.

    ``attempts`` counts every try including the first (as :class:`Retry` does);
    ``retries``, the older setting, counts the tries *after* the first
    (``retries=2`` is ``attempts=3``). Give one of them; the default is 3 tries.
    """
    if attempts is not None and retries is not None:
        raise RuleError(f"{where}: give attempts (every try, the first included) or retries (the older key, "
                        f"tries after the first), not both; got attempts={attempts!r}, retries={retries!r}.")
    for key, value, least in (("attempts", attempts, 1), ("retries", retries, 0)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < least):
            raise RuleError(f"{where}: {key} must be a whole number >= {least}; got {value!r}.")
    n = attempts if attempts is not None else (retries + 1 if retries is not None else 3)
    try:
        delay = parse_duration(backoff, what=f"{where}: backoff")
        cap = parse_duration(max_backoff, what=f"{where}: max_backoff")
    except DataError as exc:
        raise RuleError(str(exc)) from None
    return Retry(attempts=n, backoff=delay, max_backoff=cap, jitter=True)


class Channel:
    """A destination. Subclasses implement :meth:`_deliver` (one try); :meth:`send` adds
    the channel's :class:`Retry` (``retry``) and :class:`CircuitBreaker` (``breaker``).

    A try that fails raises :class:`NotifyError` with ``transient`` (worth another try),
    ``reason`` (short, without secrets) and ``target`` (how to name the receiver).
    """

    name: str = "channel"
    breaker: CircuitBreaker | None = None
    retry: Retry | None = None
    sleep: Callable[[float], None] = staticmethod(time.sleep)
    clock: Callable[[], float] = staticmethod(time.monotonic)
    attempts: int = 0  # tries made so far, retries included

    def send(self, note: Notification) -> None:
        breaker = self.breaker
        if breaker is not None:
            with _BREAKER_LOCK:
                blocked = breaker.allow([self.name], self.clock())
            if blocked is not None:
                raise CircuitOpenError(
                    f"Channel {self.name!r}: not sent, its circuit breaker is open after failed sends "
                    f"({breaker.failures} in a row open it); it lets one trial send through "
                    f"{format_duration(breaker.cooldown)} after opening.",
                    channel=self.name,
                )
        ok = False
        try:
            self._send(note)
            ok = True
        finally:
            if breaker is not None:
                with _BREAKER_LOCK:
                    breaker.record([self.name], ok, self.clock())

    def _send(self, note: Notification) -> None:
        tries = 0

        def once() -> None:
            nonlocal tries
            tries += 1
            self.attempts += 1
            self._deliver(note)

        def retrying(exc: BaseException, attempt: int, wait: float) -> None:
            log.warning("%s failed (attempt %d): %s; trying again in %.2gs", getattr(exc, "target", self.name),
                        attempt, getattr(exc, "reason", type(exc).__name__), wait)

        try:
            if self.retry is None:
                once()
            else:
                self.retry.call(once, sleep=self.sleep, on_retry=retrying)
        except NotifyError as exc:
            target, reason = exc.fields.get("target"), exc.fields.get("reason")
            if target is None or reason is None:
                raise
            raise NotifyError(f"{target} failed after {tries} attempt(s): {reason}.", channel=self.name,
                              reason=reason, transient=exc.fields.get("transient", False)) from None

    def _deliver(self, note: Notification) -> None:  # pragma: no cover
        raise NotImplementedError


def _failed(target: str, reason: str, *, channel: str, transient: bool) -> NotifyError:
    return NotifyError(f"{target} failed: {reason}.", channel=channel, target=target, reason=reason,
                       transient=transient)


class LogChannel(Channel):
    """Write each notification to a :mod:`logging` logger (level by severity)."""

    _LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "critical": logging.CRITICAL}

    def __init__(self, name: str = "log", logger: logging.Logger | None = None) -> None:
        self.name = name
        self.logger = logger or logging.getLogger("workbench.alerts")

    def _deliver(self, note: Notification) -> None:
        self.logger.log(self._LEVELS.get(note.severity, logging.WARNING), "%s", note.text())


class WebhookChannel(Channel):
    """POST the notification as JSON; a timeout per try, retries with back-off, a breaker.

    The address is ``url`` or, where the URL itself carries the secret (Slack's
    ``https://hooks.slack.com/services/T/B/XXXX``, a ``?token=`` query),
    ``url_env``: the *name* of an environment variable holding it, read at send
    time. ``headers_env`` maps a header to the name of an environment variable
    holding its value (``{"Authorization": "WB_WEBHOOK_TOKEN"}``). Neither value
    ever reaches config output or logs.

    Tries: ``attempts`` (every try, the first included; default 3) or the older
    ``retries`` (tries after the first), ``backoff`` seconds doubled per retry with
    full jitter; or a whole ``retry=Retry(...)``. A connection error, a timeout,
    HTTP 5xx, 408 and 429 are tried again; any other 4xx is not (the receiver
    rejects the payload). ``breaker`` defaults to :func:`channel_breaker`.
    """

    def __init__(
        self,
        url: str | None = None,
        name: str = "webhook",
        timeout: float = 5.0,
        retries: int | None = None,
        backoff: float = 0.5,
        headers_env: Mapping[str, str] | None = None,
        breaker: CircuitBreaker | None = None,
        sleep: Callable[[float], None] = time.sleep,
        url_env: str | None = None,
        *,
        attempts: int | None = None,
        retry: Retry | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if (url is None) == (url_env is None):
            raise RuleError(
                f"Webhook {name!r} needs either url or url_env (the name of an environment variable holding "
                f"the URL, for a URL that carries a secret); got {'both' if url is not None else 'neither'}.",
                channel=name,
            )
        if url is not None:
            _check_scheme(url, name, "url")
        elif not isinstance(url_env, str) or not url_env:
            raise RuleError(f"Webhook {name!r}: url_env must name an environment variable; got {url_env!r}.",
                            channel=name)
        self.url = url
        self.url_env = url_env
        self.name = name
        self.timeout = positive_duration(timeout, f"{type(self).__name__} {name!r}: timeout")  # '5s' too
        self.retry = retry if retry is not None else channel_retry(attempts, backoff, retries=retries,
                                                                   where=f"Webhook {name!r}")
        self.headers_env = dict(headers_env or {})
        self.breaker = breaker if breaker is not None else channel_breaker()
        self.sleep = sleep
        self.clock = clock
        self.attempts = 0

    def _target(self) -> tuple[str, str]:
        """The URL to post to and how to name it in logs and errors."""
        if self.url is not None:
            return self.url, redact_url(self.url)
        url = os.environ.get(self.url_env or "")
        if not url:
            raise NotifyError(
                f"Webhook {self.name!r}: environment variable {self.url_env} (url_env, the webhook's URL) is not set; "
                f"set it in the environment of the process that sends (the agent).",
                channel=self.name, transient=False,
            )
        try:
            _check_scheme(url, self.name, f"${self.url_env}")
        except RuleError as exc:
            raise NotifyError(str(exc), channel=self.name, transient=False) from None
        return url, f"{redact_url(url, path=False)} (from ${self.url_env})"

    def _deliver(self, note: Notification) -> None:
        url, shown = self._target()
        body = json.dumps(note.payload(), default=str, allow_nan=False).encode()
        headers = {"Content-Type": "application/json"}
        for header, var in self.headers_env.items():
            value = os.environ.get(var)
            if value is None:
                raise NotifyError(
                    f"Webhook {self.name!r}: environment variable {var} (for header {header}) is not set.",
                    channel=self.name, transient=False,
                )
            headers[header] = value
        req = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 (http(s) checked)
                if 200 <= resp.status < 300:
                    return
                reason, transient = f"HTTP {resp.status}", True
        except urllib.error.HTTPError as exc:
            # another 4xx: the receiver rejects this payload, and trying again will not help
            reason, transient = f"HTTP {exc.code}", not (400 <= exc.code < 500 and exc.code not in (408, 429))
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            cause = getattr(exc, "reason", exc)
            reason = type(cause).__name__  # never str(exc): it can hold the URL
            transient = not isinstance(cause, ssl.SSLCertVerificationError)
        raise _failed(f"Webhook {self.name!r} to {shown}", reason, channel=self.name, transient=transient)


def _check_scheme(url: Any, name: str, where: str) -> None:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        shown = redact_url(url, path=False) if isinstance(url, str) else repr(url)
        raise RuleError(f"Webhook {name!r}: {where} must start with http:// or https://; got {shown!r}.",
                        channel=name)


def _smtp_transient(exc: BaseException) -> bool:
    """Worth another try: a 4xx reply (RFC 5321: "transient negative"), a dropped or refused
    connection, a timeout; not a 5xx reply (a refused login or recipient) or a bad certificate."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(400 <= code < 500 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(exc, smtplib.SMTPException) or isinstance(exc, ssl.SSLError):
        return False
    return isinstance(exc, OSError)


class EmailChannel(Channel):
    """Send over SMTP with STARTTLS; user and password come from environment variables.

    Tries and the breaker as for :class:`WebhookChannel` (``attempts`` or
    ``retries``, ``backoff``, ``retry``, ``breaker``): a refused or dropped
    connection, a timeout and a 4xx reply are tried again, a 5xx reply is not.
    """

    def __init__(
        self,
        host: str,
        to: Sequence[str],
        sender: str,
        name: str = "email",
        port: int = 587,
        starttls: bool = True,
        username_env: str | None = None,
        password_env: str | None = None,
        timeout: float = 10.0,
        breaker: CircuitBreaker | None = None,
        ssl_context: ssl.SSLContext | None = None,
        *,
        attempts: int | None = None,
        retries: int | None = None,
        backoff: float = 0.5,
        retry: Retry | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ssl_context = ssl_context
        self.host, self.port, self.to, self.sender = host, port, list(to), sender
        self.name = name
        self.starttls = starttls
        self.username_env, self.password_env = username_env, password_env
        self.timeout = positive_duration(timeout, f"{type(self).__name__} {name!r}: timeout")  # '5s' too
        self.retry = retry if retry is not None else channel_retry(attempts, backoff, retries=retries,
                                                                   where=f"E-mail {name!r}")
        self.breaker = breaker if breaker is not None else channel_breaker()
        self.sleep = sleep
        self.clock = clock
        self.attempts = 0

    def _deliver(self, note: Notification) -> None:
        msg = EmailMessage()
        msg["Subject"] = note.title
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.to)
        msg.set_content(note.text())
        if note.html is not None:
            msg.add_alternative(note.html, subtype="html")
        for filename, data, mime in note.attachments:
            maintype, _, subtype = mime.partition("/")
            msg.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream", filename=filename,
                               params={"charset": "utf-8"} if maintype == "text" else None)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=self.ssl_context or ssl.create_default_context())
                if self.username_env:
                    user = os.environ.get(self.username_env)
                    password = os.environ.get(self.password_env or "", "")
                    if user is None:
                        raise NotifyError(
                            f"E-mail {self.name!r}: environment variable {self.username_env} is not set.",
                            channel=self.name, transient=False,
                        )
                    smtp.login(user, password)
                smtp.send_message(msg)
        except (smtplib.SMTPException, OSError) as exc:
            # str(exc) of an auth failure can echo the server's reply, never our password
            raise _failed(f"E-mail {self.name!r} via {self.host}:{self.port}", type(exc).__name__,
                          channel=self.name, transient=_smtp_transient(exc)) from None
        log.info("e-mail %s sent to %d recipient(s) via %s", self.name, len(self.to), self.host)


class ToastQueue(Channel):
    """In-process queue the dashboard polls for toasts (bounded; oldest dropped)."""

    def __init__(self, name: str = "toast", maxlen: int = 100) -> None:
        self.name = name
        self._items: deque[dict[str, Any]] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def _deliver(self, note: Notification) -> None:
        with self._lock:
            self._items.append({"title": note.title, "severity": note.severity, "event": note.event, "ts": note.ts, "text": note.text()})

    def drain(self) -> list[dict[str, Any]]:
        """Take every waiting toast (the dashboard shows and forgets them)."""
        with self._lock:
            items = list(self._items)
            self._items.clear()
        return items
