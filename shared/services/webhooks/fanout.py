"""Fan-out: each event becomes one delivery per matching webhook, and each delivery's
next attempt one named task. Repeatable without duplicates (see the package's doc)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from shared import names
from shared.deps import Deps
from shared.domain import Delivery, DeliveryStatus, Event, WebhookRoute
from shared.ports import TaskQueue

DELIVERY_RETENTION = timedelta(days=30)  # Firestore TTL on deliveries.expire_at


def delivery_id(event_id: str, webhook_id: str) -> str:
    return "dlv_" + hashlib.sha256(f"{event_id}:{webhook_id}".encode()).hexdigest()[:24]


def sort_key(at: datetime, delivery_id_: str) -> str:
    """The delivery log's order and cursor: creation time, then id."""
    return f"{at.strftime('%Y%m%dT%H%M%S.%f')}~{delivery_id_}"


def fan_out(deps: Deps, event: Event) -> list[str]:
    """One delivery (and one task) per matching webhook; repeatable without duplicates.
    Only the webhooks that name the event (or a pattern taking it) are read, so an event
    costs the webhooks that may match it, not all of the account's. They are read for
    each event, never cached: a webhook made a moment ago by another process gets the
    next event (a cache would keep its absence, and lose that webhook's events).
    An exception leaves the Pub/Sub message unacknowledged: it is pushed again, and
    after the subscription's attempts it goes to the dead-letter topic."""
    body = event.body()
    return [enqueue_delivery(deps, route, event, body)
            for route in deps.repos.webhooks.routes_for(event.account, event.event)
            if route.matches(event)]


def enqueue_delivery(deps: Deps, webhook: WebhookRoute, event: Event,
                     body: dict | None = None) -> str:
    now = deps.clock.now()
    dlv_id = delivery_id(event.id, webhook.id)
    delivery = Delivery(id=dlv_id, webhook_id=webhook.id, account_id=webhook.account_id,
                        event_id=event.id, event=body or event.body(), created_at=now,
                        next_attempt_at=now, sort_key=sort_key(now, dlv_id),
                        expire_at=now + DELIVERY_RETENTION)
    deliveries = deps.repos.deliveries
    if not deliveries.create(delivery):
        existing = deliveries.get(dlv_id)
        if existing is None or existing.status != DeliveryStatus.pending:
            return dlv_id
        # Made before by a fan-out that may have died before enqueuing: enqueue again.
        # The task's name repeats, so the queue drops it if it exists.
        delivery = existing
    enqueue_attempt(deps.tasks, delivery)
    return dlv_id


def _task_name(delivery: Delivery) -> str:
    if delivery.manual:
        return f"{delivery.id}-{delivery.attempt_count}-m{delivery.manual_retries}"
    return f"{delivery.id}-{delivery.attempt_count}"


def enqueue_attempt(tasks: TaskQueue, delivery: Delivery) -> None:
    """The task for the delivery's next attempt; named, so enqueuing it again is harmless."""
    later = delivery.attempt_count > 0 and not delivery.manual
    tasks.enqueue(names.WEBHOOK_QUEUE, names.TARGET_WEBHOOK_DELIVER,
                  {"delivery_id": delivery.id, "attempt": delivery.attempt_count},
                  name=_task_name(delivery),
                  schedule_at=delivery.next_attempt_at if later else None)
