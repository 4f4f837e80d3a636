"""The local stand-in for Cloud Tasks: named queues, schedule times, at-least-once HTTP
delivery with capped exponential backoff, and de-duplication of task names.

It runs in-process (it is a TaskQueue) or behind infra/local_tasks.py as a small HTTP
service that other local processes enqueue into (shared.adapters.local_tasks_client).
With a journal file, pending tasks survive a restart, as they do in Cloud Tasks: every
task is written before it is accepted and marked done after its delivery succeeds."""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import urllib3

from shared import backoff
from shared.ports import TaskQueue

log = logging.getLogger(__name__)

MAX_SCHEDULE_SECONDS = 30 * 24 * 3600  # Cloud Tasks refuses schedule times further out
MAX_WAIT = 60.0  # a worker wakes at least this often, whatever the heap holds


@dataclass(order=True)
class _Task:
    due: float  # wall-clock epoch seconds, so a journal can carry it across restarts
    seq: int
    queue: str = field(compare=False)
    target: str = field(compare=False)
    payload: dict = field(compare=False)
    name: str | None = field(compare=False, default=None)
    attempt: int = field(compare=False, default=0)
    key: str = field(compare=False, default="")


class LocalDispatcher(TaskQueue):
    def __init__(self, urls: dict[str, str], *, workers: int = 4, backoff_min: float = 0.2,
                 backoff_max: float = 10.0, max_attempts: int = 100, timeout: float = 30.0,
                 journal: Path | None = None):
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
        # urllib3, not requests: the dispatcher's POST is a good part of a local webhook
        # delivery's time, and requests reads the proxy settings from the environment on
        # every call. Connections kept alive, as many as there are workers.
        self._http = urllib3.PoolManager(maxsize=workers, retries=False)
        self._journal = journal
        self._journal_lock = threading.Lock()
        self.delivered = 0
        if journal is not None:
            self._replay(journal)

    def enqueue(self, queue, target, payload, *, name=None, schedule_at=None):
        if target not in self._urls:
            raise ValueError(f"unknown task target {target!r}; known: {sorted(self._urls)}")
        now = time.time()
        due = now
        if schedule_at is not None:
            due = min(max(now, schedule_at.timestamp()), now + MAX_SCHEDULE_SECONDS)
        with self._cond:
            if name is not None:
                dedup = f"{queue}/{name}"
                if dedup in self._names:
                    return
                self._names.add(dedup)
            task = _Task(due, next(self._seq), queue, target, payload, name, 0, uuid.uuid4().hex)
            self._write({"op": "add", **_record(task)})
            heapq.heappush(self._heap, task)
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
                now = time.time()
                if self._heap and self._heap[0].due <= now:
                    return heapq.heappop(self._heap)
                wait = min(MAX_WAIT, self._heap[0].due - now) if self._heap else MAX_WAIT
                self._cond.wait(timeout=max(0.001, wait))
            return None

    def _run(self) -> None:
        while (task := self._next()) is not None:
            try:
                ok = self._deliver(task)
            except Exception:  # a worker must outlive any one task
                log.exception("task to %s raised", task.target)
                ok = False
            if ok:
                self.delivered += 1
                self._write({"op": "done", "key": task.key})
                continue
            task.attempt += 1
            if task.attempt >= self._max_attempts:
                log.error("task %s to %s dropped after %d attempts", task.name, task.target,
                          task.attempt)
                self._write({"op": "done", "key": task.key})
                continue
            low, high = self._backoff
            delay = backoff.delay(task.attempt - 1, base=low, cap=high, spread=(0.8, 1.2))
            with self._cond:
                task.due = time.time() + delay
                self._write({"op": "add", **_record(task)})
                heapq.heappush(self._heap, task)
                self._cond.notify()

    def _deliver(self, task: _Task) -> bool:
        headers = {
            "X-CloudTasks-QueueName": task.queue,
            "X-CloudTasks-TaskName": task.name or f"anon-{task.key}",
            "X-CloudTasks-TaskRetryCount": str(task.attempt),
        }
        headers["Content-Type"] = "application/json"
        try:
            response = self._http.request("POST", self._urls[task.target],
                                          body=json.dumps(task.payload).encode(),
                                          headers=headers, timeout=self._timeout)
        except urllib3.exceptions.HTTPError as exc:
            log.warning("task to %s failed: %s", task.target, exc)
            return False
        ok = 200 <= response.status < 300  # as Cloud Tasks: a redirect is not followed
        if not ok:
            log.warning("task to %s answered %s", task.target, response.status)
        return ok

    # --- the journal -----------------------------------------------------------------

    def _write(self, record: dict) -> None:
        if self._journal is None:
            return
        with self._journal_lock, self._journal.open("a") as out:
            out.write(json.dumps(record) + "\n")

    def _replay(self, journal: Path) -> None:
        live: dict[str, dict] = {}
        if journal.exists():
            for line in journal.read_text().splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a crash
                if record.get("op") == "add":
                    live[record["key"]] = record
                elif record.get("op") == "done":
                    live.pop(record.get("key"), None)
        for record in live.values():
            if record["target"] not in self._urls:
                continue
            task = _Task(record["due"], next(self._seq), record["queue"], record["target"],
                         record["payload"], record.get("name"), record.get("attempt", 0),
                         record["key"])
            if task.name is not None:
                self._names.add(f"{task.queue}/{task.name}")
            heapq.heappush(self._heap, task)
        journal.parent.mkdir(parents=True, exist_ok=True)
        tmp = journal.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps({"op": "add", **_record(t)}) + "\n" for t in self._heap))
        tmp.replace(journal)  # compacted: only what is still pending
        if self._heap:
            log.info("resumed %d pending tasks from %s", len(self._heap), journal)


def _record(task: _Task) -> dict:
    return {"key": task.key, "due": task.due, "queue": task.queue, "target": task.target,
            "payload": task.payload, "name": task.name, "attempt": task.attempt}
