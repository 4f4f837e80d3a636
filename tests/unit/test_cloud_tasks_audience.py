"""Tasks reach private Cloud Run services (runners, functions) with an OIDC token whose
audience is the service's URL, which Cloud Run checks before the request gets through."""

from __future__ import annotations

from shared.adapters.cloud_tasks import CloudTasksQueue

URLS = {"runner.messages": "https://utio-runner-0-123456.europe-west1.run.app/tasks/messages",
        "webhook_deliver": "https://utio-webhook-deliver-123456.europe-west1.run.app"}


def test_audience_is_the_service_url():
    queue = CloudTasksQueue(None, "proj", "europe-west1", URLS, "utio-push@proj.iam.gserviceaccount.com")
    runner = queue.build_task("messages-normal", "runner.messages", {"message_id": "msg_1"})
    assert runner.http_request.url == URLS["runner.messages"]
    assert runner.http_request.oidc_token.audience == "https://utio-runner-0-123456.europe-west1.run.app"
    assert runner.http_request.oidc_token.service_account_email == "utio-push@proj.iam.gserviceaccount.com"
    deliver = queue.build_task("webhook-deliveries", "webhook_deliver", {"delivery_id": "dlv_1"})
    assert deliver.http_request.oidc_token.audience == URLS["webhook_deliver"]


def test_a_configured_audience_wins():
    queue = CloudTasksQueue(None, "proj", "europe-west1", URLS, "sa@proj", audience="utio-push")
    task = queue.build_task("messages-low", "runner.messages", {})
    assert task.http_request.oidc_token.audience == "utio-push"
