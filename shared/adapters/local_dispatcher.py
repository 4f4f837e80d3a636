"""The local stand-in for Cloud Tasks: named queues, schedule times, at-least-once HTTP
delivery with capped exponential backoff, and de-duplication of task names.

It runs in-process (it is a TaskQueue) or behind infra/local_tasks.py as a small HTTP
service that other local processes enqueue into (shared.adapters.local_tasks_client)."""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import requests

from shared.ports import TaskQueue

log = logging.getLogger(__name__)


@dataclass(order=True)
class _Task:
    ready: float
    seq: int
    queue: str = field(compare=False)
    target: str = field(compare=False)
    payload: dict = field(compare=False)
    name: str | None = field(compare=False, default=None)
    attempt: int = field(compare=False, default=0)


class LocalDispatcher(TaskQueue):
    def __init__(self, urls: dict[str, str], *, workers: int = 4, backoff_min: float = 0.2,
                 backoff_max: float = 10.0, max_attempts: int = 100, timeout: float = 30.0):
        self._urls = urls
        self._heap: list[_Task] = []
        self._names: set[str] = set()
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._workers = workers
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self._backoff = (backoff_min, backoff_max)
        self._max_attempts = max_attempts
        self._timeout = timeout
        self._session = requests.Session()
        self.delivered = 0

    def enqueue(self, queue, target, payload, *, name=None, schedule_at=None):
        if target not in self._urls:
            raise ValueError(f"unknown task target {target!r}; known: {sorted(self._urls)}")
        delay = 0.0
        if schedule_at is not None:
            delay = max(0.0, (schedule_at - datetime.now(UTC)).total_seconds())
        with self._cond:
            if name is not None:
                key = f"{queue}/{name}"
                if key in self._names:
                    return
                self._names.add(key)
            heapq.heappush(self._heap, _Task(time.monotonic() + delay, next(self._seq), queue,
                                             target, payload, name))
            self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return len(self._heap)

    def start(self) -> LocalDispatcher:
        for i in range(self._workers):
            thread = threading.Thread(target=self._run, daemon=True, name=f"tasks-{i}")
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)

    def _next(self) -> _Task | None:
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                if self._heap and self._heap[0].ready <= now:
                    return heapq.heappop(self._heap)
                wait = self._heap[0].ready - now if self._heap else None
                self._cond.wait(timeout=wait)
            return None

    def _run(self) -> None:
        while (task := self._next()) is not None:
            if self._deliver(task):
                self.delivered += 1
                continue
            task.attempt += 1
            if task.attempt >= self._max_attempts:
                log.error("task %s to %s dropped after %d attempts", task.name, task.target,
                          task.attempt)
                continue
            low, high = self._backoff
            delay = min(high, low * 2 ** (task.attempt - 1)) * random.uniform(0.8, 1.2)
            with self._cond:
                task.ready = time.monotonic() + delay
                heapq.heappush(self._heap, task)
                self._cond.notify()

    def _deliver(self, task: _Task) -> bool:
        headers = {
            "X-CloudTasks-QueueName": task.queue,
            "X-CloudTasks-TaskName": task.name or f"anon-{task.seq}",
            "X-CloudTasks-TaskRetryCount": str(task.attempt),
        }
        try:
            response = self._session.post(self._urls[task.target], json=task.payload,
                                          headers=headers, timeout=self._timeout)
        except requests.RequestException as exc:
            log.warning("task to %s failed: %s", task.target, exc)
            return False
        if not response.ok:
            log.warning("task to %s answered %s", task.target, response.status_code)
        return response.ok
