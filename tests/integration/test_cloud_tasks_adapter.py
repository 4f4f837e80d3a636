"""CloudTasksQueue against a recording stand-in for tasks_v2.CloudTasksClient (there is no
Cloud Tasks emulator in the SDK)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.api_core.exceptions import AlreadyExists
from google.cloud import tasks_v2

from shared import names
from shared.adapters.cloud_tasks import CloudTasksQueue

URLS = {
    names.TARGET_RUNNER_MESSAGES: "https://runner-0-abc.a.run.app/tasks/messages",
    names.TARGET_RUNNER_DEVICES: "https://runner-0-abc.a.run.app/tasks/devices",
    names.TARGET_WEBHOOK_DELIVER: "https://europe-west1-proj.cloudfunctions.net/webhook_deliver",
}
SERVICE_ACCOUNT = "utio-tasks@proj.iam.gserviceaccount.com"


class RecordingTasksClient:
    """The part of tasks_v2.CloudTasksClient the adapter uses, with the real path formats."""

    queue_path = staticmethod(tasks_v2.CloudTasksClient.queue_path)
    task_path = staticmethod(tasks_v2.CloudTasksClient.task_path)

    def __init__(self):
        self.created: list[tuple[str, tasks_v2.Task]] = []

    def create_task(self, *, parent: str, task: tasks_v2.Task) -> tasks_v2.Task:
        if task.name and any(t.name == task.name for _, t in self.created):
            raise AlreadyExists(f"task {task.name} exists")
        self.created.append((parent, task))
        return task


@pytest.fixture
def client() -> RecordingTasksClient:
    return RecordingTasksClient()


def make_queue(client, audience: str = "") -> CloudTasksQueue:
    return CloudTasksQueue(client, "proj", "europe-west1", URLS, SERVICE_ACCOUNT, audience)


@pytest.mark.parametrize("priority", list(names.MESSAGE_QUEUES))
def test_message_task_goes_to_the_queue_of_its_priority(client, priority):
    queue = names.MESSAGE_QUEUES[priority]
    make_queue(client).enqueue(queue, names.TARGET_RUNNER_MESSAGES, {"message_id": "msg_1"})
    [(parent, task)] = client.created
    assert parent == f"projects/proj/locations/europe-west1/queues/messages-{priority}"
    request = task.http_request
    assert request.http_method == tasks_v2.HttpMethod.POST
    assert request.url == URLS[names.TARGET_RUNNER_MESSAGES]
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {"message_id": "msg_1"}
    # the service's URL (Cloud Run's audience) when none is configured
    assert request.oidc_token.service_account_email == SERVICE_ACCOUNT
    assert request.oidc_token.audience == "https://runner-0-abc.a.run.app"
    assert not task.name
    assert "schedule_time" not in task


@pytest.mark.parametrize(("queue", "target"), [
    (names.RUNNER_CONTROL_QUEUE, names.TARGET_RUNNER_DEVICES),
    (names.WEBHOOK_QUEUE, names.TARGET_WEBHOOK_DELIVER),
])
def test_each_target_gets_its_url_and_the_configured_audience(client, queue, target):
    make_queue(client, audience="https://utio.example").enqueue(queue, target, {"n": [1, "é"]})
    [(parent, task)] = client.created
    assert parent == f"projects/proj/locations/europe-west1/queues/{queue}"
    assert task.http_request.url == URLS[target]
    assert json.loads(task.http_request.body.decode()) == {"n": [1, "é"]}
    assert task.http_request.oidc_token.audience == "https://utio.example"
    assert task.http_request.oidc_token.service_account_email == SERVICE_ACCOUNT


def test_unknown_target_is_an_error(client):
    with pytest.raises(KeyError):
        make_queue(client).enqueue(names.WEBHOOK_QUEUE, "nowhere", {})
    assert client.created == []


def test_schedule_time_is_the_instant_given(client):
    at = datetime(2025, 6, 1, 12, 0, 30, 250000, tzinfo=timezone(timedelta(hours=2)))
    make_queue(client).enqueue(names.MESSAGE_QUEUES["low"], names.TARGET_RUNNER_MESSAGES,
                               {"message_id": "m"}, schedule_at=at)
    [(_, task)] = client.created
    assert task.schedule_time == at
    assert task.schedule_time == datetime(2025, 6, 1, 10, 0, 30, 250000, tzinfo=UTC)


def test_a_named_task_is_created_once_and_a_repeat_is_swallowed(client):
    tasks = make_queue(client)
    queue = names.MESSAGE_QUEUES["urgent"]
    tasks.enqueue(queue, names.TARGET_RUNNER_MESSAGES, {"message_id": "m1"}, name="m1-send")
    tasks.enqueue(queue, names.TARGET_RUNNER_MESSAGES, {"message_id": "m1"}, name="m1-send")
    tasks.enqueue(queue, names.TARGET_RUNNER_MESSAGES, {"message_id": "m2"}, name="m2-send")
    assert [t.name for _, t in client.created] == [
        "projects/proj/locations/europe-west1/queues/messages-urgent/tasks/m1-send",
        "projects/proj/locations/europe-west1/queues/messages-urgent/tasks/m2-send",
    ]
