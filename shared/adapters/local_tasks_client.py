"""TaskQueue that hands tasks to the local dispatcher (infra/local_tasks.py) over HTTP."""

from __future__ import annotations

import requests

from shared.ports import TaskQueue


class LocalTasksClient(TaskQueue):
    def __init__(self, url: str, session: requests.Session | None = None):
        self._url = url.rstrip("/") + "/tasks"
        self._session = session or requests.Session()

    def enqueue(self, queue, target, payload, *, name=None, schedule_at=None):
        body = {
            "queue": queue,
            "target": target,
            "payload": payload,
            "name": name,
            "schedule_at": schedule_at.isoformat() if schedule_at else None,
        }
        response = self._session.post(self._url, json=body, timeout=10)
        response.raise_for_status()
