"""Names of the cloud resources the code uses. Terraform reads the same names."""

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

FUNCTION_TARGETS = ("api", "webhook_fanout", "webhook_deliver")
