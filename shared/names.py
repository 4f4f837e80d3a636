"""Names of the cloud resources the code uses. Terraform reads the same names from
terraform/generated/names.json, which `python -m infra.generate` writes from this module
(tests/infra fails when the two disagree)."""

from __future__ import annotations

MESSAGE_QUEUES = {
    "urgent": "messages-urgent",
    "high": "messages-high",
    "normal": "messages-normal",
    "low": "messages-low",
}
RUNNER_CONTROL_QUEUE = "runner-control"
WEBHOOK_QUEUE = "webhook-deliveries"
ALL_QUEUES = (*MESSAGE_QUEUES.values(), RUNNER_CONTROL_QUEUE, WEBHOOK_QUEUE)

EVENTS_TOPIC = "events"
EVENTS_FANOUT_SUBSCRIPTION = "events-fanout"
EVENTS_DEAD_LETTER_TOPIC = "events-dead-letter"
# A pull subscription that keeps dead letters for an operator to read and replay; a
# topic without a subscription would drop them.
EVENTS_DEAD_LETTER_SUBSCRIPTION = "events-dead-letter-hold"

# Logical task targets; adapters map them to URLs from settings.
TARGET_RUNNER_MESSAGES = "runner.messages"
TARGET_RUNNER_DEVICES = "runner.devices"
TARGET_WEBHOOK_DELIVER = "webhook_deliver"

# functions-framework targets in main.py; Terraform deploys one Cloud Function each.
FUNCTION_TARGETS = ("api", "webhook_fanout", "webhook_deliver", "stripe_webhook", "chat_cleanup",
                    "events_sweep")

# Scheduled jobs: function target => when Cloud Scheduler calls it (cron, UTC). Terraform
# makes one job each, signed with an OIDC token like a push (functions/jobs.py).
SCHEDULES = {
    "chat_cleanup": "30 3 * * *",  # daily, at a quiet hour for Europe
    "events_sweep": "* * * * *",  # events of processes that died before relaying them
}

# Secret Manager secret ids, keyed by the environment variable (a field of
# shared/settings.py) that the secret fills in production.
SECRETS = {
    "UTIO_ADMIN_KEY": "utio-admin-key",
    "UTIO_STRIPE_SECRET_KEY": "utio-stripe-secret-key",
    "UTIO_STRIPE_WEBHOOK_SECRET": "utio-stripe-webhook-secret",
    "UTIO_WEBHOOK_SECRET_KEY": "utio-webhook-secret-key",
    "UTIO_SESSION_DB_URL": "utio-session-db-url",
    "UTIO_SMTP_URL": "utio-smtp-url",
}
