"""EventBus that hands each event to subscribers in this process, on a worker thread,
like a push subscription would."""

from __future__ import annotations

import logging
import queue
import threading

from shared.domain import Event
from shared.ports import EventBus, EventHandler

log = logging.getLogger(__name__)


class InProcessBus(EventBus):
    def __init__(self, handlers: list[EventHandler] | None = None, threaded: bool = True):
        self.handlers = list(handlers or [])
        self.published: list[Event] = []
        self._threaded = threaded
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

    def _deliver(self, event: Event) -> None:
        for handler in self.handlers:
            for attempt in range(5):
                try:
                    handler(event)
                    break
                except Exception:  # a push subscription retries; so do we
                    log.exception("event handler failed (attempt %d) for %s", attempt + 1, event.id)
