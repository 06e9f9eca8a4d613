"""Deliver notifications on background threads, so evaluation never waits on a receiver.

Why: :meth:`Router.send` runs each channel in the caller's thread, and a
webhook that hangs until its timeout (with retries and backoff, tens of
seconds) would stall the agent's loop, which must keep collecting and
evaluating once a second. :class:`BackgroundRouter` keeps the router's
routing and its channels' retries and circuit breakers, and moves only the
*delivery* onto one worker thread per channel: a dead webhook delays its own
queue, not the log line or the dashboard toast of the same alert.

Each channel's queue is bounded. When it is full (a receiver down for long
enough), one notification is dropped (the oldest by default, since the newest
says most about now), counted, and logged, so memory stays bounded and the
loss is visible. :meth:`BackgroundRouter.close` delivers what is queued
within a deadline, then stops the workers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

from workbench._logthrottle import RepeatedFailure
from workbench.detect._notify import Notification, Router
from workbench.errors import ConfigError

__all__ = ["BackgroundRouter"]

log = logging.getLogger("workbench.detect.notify")

OVERFLOW_POLICIES = ("drop-oldest", "drop-newest")


class _ChannelWorker:
    """One channel's bounded queue and the thread that empties it in order."""

    def __init__(self, router: Router, name: str, maxsize: int, overflow: str) -> None:
        self.router, self.name = router, name
        self.maxsize, self.overflow = maxsize, overflow
        self.queue: deque[Notification] = deque()
        self.busy = False  # a notification is being delivered right now
        self.closing = False
        self.dropped = 0
        # each of the first 10 drops is logged, then once a minute with the count
        self._drops = RepeatedFailure(f"notification to channel {name}", logger=log, first=10, unit="dropped",
                                      recovery=False)
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, name=f"workbench-notify-{name}", daemon=True)
        self.thread.start()

    def put(self, note: Notification) -> bool:
        """Queue ``note``; return False (and count it) when it, or an older one, had to go."""
        with self.cond:
            if self.closing:
                self._drop("the router is closed")
                return False
            if len(self.queue) < self.maxsize:
                self.queue.append(note)
                self.cond.notify()
                return True
            if self.overflow == "drop-oldest":
                self.queue.popleft()
                self.queue.append(note)
            self._drop(f"its queue is full ({self.maxsize} waiting, {self.overflow})")
            return False

    def _drop(self, why: str) -> None:
        self.dropped += 1
        self._drops.failed(f"dropped because {why}")  # visible, but no log flood

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.queue and not self.closing:
                    self.cond.wait()
                if not self.queue:  # closing and nothing left
                    return
                note = self.queue.popleft()
                self.busy = True
            try:
                self.router.deliver(self.name, note)  # counts and logs failures itself
            except Exception:  # noqa: BLE001 - the worker must outlive any one bad notification
                log.exception("delivering notification %r to channel %s failed", note.rule, self.name)
            finally:
                with self.cond:
                    self.busy = False
                    self.cond.notify_all()

    def wait_idle(self, deadline: float) -> bool:
        with self.cond:
            while self.queue or self.busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True

    def close(self) -> None:
        with self.cond:
            self.closing = True
            self.cond.notify_all()


class BackgroundRouter:
    """A :class:`Router` whose :meth:`send` queues and returns at once.

    Drop-in for the router of an :class:`~workbench.detect.AlertManager`
    (it has the one method the manager calls, ``send``)::

        router = BackgroundRouter(Router([WebhookChannel(url), LogChannel()]))
        manager = AlertManager(rules, router=router)
        ...
        router.close(timeout=10)   # at shutdown: deliver what is queued

    ``maxsize`` bounds each channel's queue; ``overflow`` says what goes when
    it is full: ``"drop-oldest"`` (default) or ``"drop-newest"``.
    """

    def __init__(self, router: Router, maxsize: int = 1000, overflow: str = "drop-oldest") -> None:
        if overflow not in OVERFLOW_POLICIES:
            raise ConfigError(
                f"Unknown notification overflow policy {overflow!r}; use one of {list(OVERFLOW_POLICIES)}.",
                overflow=overflow,
            )
        if not isinstance(maxsize, int) or maxsize < 1:
            raise ConfigError(
                f"The notification queue size must be a positive integer; got {maxsize!r}.", maxsize=maxsize
            )
        self.router = router
        self.maxsize = maxsize
        self.overflow = overflow
        self._workers: dict[str, _ChannelWorker] = {}
        self._lock = threading.Lock()
        self._closed = False

    def send(self, note: Notification) -> list[str]:
        """Queue ``note`` for every channel its routes name; return those that took it."""
        queued = []
        for name in self.router.targets(note):
            if self._worker(name).put(note):
                queued.append(name)
        return queued

    def _worker(self, name: str) -> _ChannelWorker:
        with self._lock:  # threads start on first use: an unused channel costs nothing
            worker = self._workers.get(name)
            if worker is None:
                worker = self._workers[name] = _ChannelWorker(self.router, name, self.maxsize, self.overflow)
                if self._closed:
                    worker.close()
            return worker

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queue is empty and nothing is in flight; False on timeout."""
        deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
        with self._lock:
            workers = list(self._workers.values())
        return all([w.wait_idle(deadline) for w in workers])

    def close(self, timeout: float = 10.0) -> bool:
        """Deliver what is queued within ``timeout`` seconds, then stop the workers.

        Returns True when everything queued was delivered (or failed after its
        retries); False when the deadline came first: what is still queued is
        then dropped, counted and logged, and a worker still inside a hanging
        send ends with that send's own timeout (the threads are daemons and
        never block interpreter exit).
        Later :meth:`send` calls drop and count their notification.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            self._closed = True
            workers = list(self._workers.values())
        for w in workers:
            w.close()
        done = True
        for w in workers:
            w.thread.join(max(0.0, deadline - time.monotonic()))
            if w.thread.is_alive():
                done = False
                with w.cond:  # give up on the rest: the worker ends after its current send
                    lost = len(w.queue)
                    w.queue.clear()
                    w.dropped += lost
                log.error("channel %s: %d queued notification(s) dropped and %d still in flight "
                          "%gs after close", w.name, lost, int(w.busy), timeout)
        return done

    def status(self) -> dict[str, Any]:
        """Queued, in-flight and dropped per channel, beside the router's sent/failed counts."""
        with self._lock:
            workers = dict(self._workers)
        return {
            "queued": {n: len(w.queue) for n, w in workers.items()},
            "in_flight": {n: w.busy for n, w in workers.items()},
            "dropped": {n: w.dropped for n, w in workers.items()},
            "sent": dict(self.router.sent),
            "failed": dict(self.router.failed),
        }
