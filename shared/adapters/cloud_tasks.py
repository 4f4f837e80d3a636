"""TaskQueue over Cloud Tasks: HTTP targets with an OIDC token."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from google.api_core import exceptions as gexc
from google.cloud import tasks_v2
from google.protobuf import timestamp_pb2

from shared.oidc import service_url
from shared.ports import TaskQueue

# Cloud Tasks refuses schedule times more than 30 days ahead. A later task is scheduled at
# the horizon; the runner sees that its message is not due and enqueues it again.
HORIZON = timedelta(days=29, hours=23)


class CloudTasksQueue(TaskQueue):
    def __init__(
        self,
        client: tasks_v2.CloudTasksClient,
        project: str,
        region: str,
        urls: dict[str, str],
        service_account: str,
        audience: str = "",
    ):
        self._client = client
        self._project = project
        self._region = region
        self._urls = urls
        self._service_account = service_account
        self._audience = audience

    def build_task(self, queue: str, target: str, payload: dict, *, name=None,
                   schedule_at: datetime | None = None) -> tasks_v2.Task:
        url = self._urls[target]
        task = tasks_v2.Task(
            http_request=tasks_v2.HttpRequest(
                http_method=tasks_v2.HttpMethod.POST,
                url=url,
                headers={"Content-Type": "application/json"},
                body=json.dumps(payload).encode(),
                oidc_token=tasks_v2.OidcToken(
                    service_account_email=self._service_account,
                    audience=self._audience or service_url(url),
                ),
            )
        )
        if name:
            task.name = self._client.task_path(self._project, self._region, queue, name)
        if schedule_at is not None:
            schedule_at = min(schedule_at, datetime.now(UTC) + HORIZON)
            stamp = timestamp_pb2.Timestamp()
            stamp.FromDatetime(schedule_at)
            task.schedule_time = stamp
        return task

    def enqueue(self, queue, target, payload, *, name=None, schedule_at=None):
        task = self.build_task(queue, target, payload, name=name, schedule_at=schedule_at)
        parent = self._client.queue_path(self._project, self._region, queue)
        try:
            self._client.create_task(parent=parent, task=task)
        except gexc.AlreadyExists:
            pass  # a named task exists already: the at-least-once guarantee holds
