"""EventBus that hands each event to subscribers in this process, on a worker thread,
like a push subscription would: a handler that fails gets the event again, with backoff
(at most BACKOFF_MAX seconds apart), for as long as the process lives, while the events
behind it go on."""

from __future__ import annotations

import logging
import queue
import threading

from shared import backoff
from shared.domain import Event
from shared.ports import EventBus, EventHandler

log = logging.getLogger(__name__)

BACKOFF_FIRST, BACKOFF_MAX = 0.5, 30.0


class InProcessBus(EventBus):
    def __init__(self, handlers: list[EventHandler] | None = None, threaded: bool = True):
        self.handlers = list(handlers or [])
        self.published: list[Event] = []
        self._threaded = threaded
        self.synchronous = not threaded  # handlers run in the publisher's thread
        # publish() never waits (it queues, or runs the handlers): the relay calls it in the
        # caller's thread rather than handing each event to a worker and waiting for it
        self.publishes_at_once = True
        self._queue: queue.Queue[Event] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()

    def subscribe(self, handler: EventHandler) -> None:
        self.handlers.append(handler)

    def publish(self, event: Event) -> None:
        self.published.append(event)
        if not self._threaded:
            self._deliver(event)
            return
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, daemon=True, name="bus")
                self._worker.start()
        self._queue.put(event)

    def _run(self) -> None:
        while True:
            self._deliver(self._queue.get())

    def _deliver(self, event: Event, handlers: list[EventHandler] | None = None,
                 attempt: int = 1) -> None:
        failed = []
        for handler in handlers or self.handlers:
            try:
                handler(event)
            except Exception:  # a push subscription retries; so do we
                log.exception("event handler failed (attempt %d) for %s", attempt, event.id)
                failed.append(handler)
        if not failed:
            return
        delay = backoff.delay(attempt - 1, base=BACKOFF_FIRST, cap=BACKOFF_MAX)
        timer = threading.Timer(delay, self._deliver, args=(event, failed, attempt + 1))
        timer.daemon = True
        timer.start()
