"""Fan-out: each event becomes one delivery per matching webhook, and each delivery's
next attempt one named task. Repeatable without duplicates (see the package's doc).

The webhooks an event goes to are read from this process's cache (Caches.webhooks_taking,
WEBHOOK_STALENESS): a webhook created, enabled or subscribed to more events elsewhere may
be missed for that long by the events fanned out here. Such a change first enqueues a
catch-up (plan_catch_up), which runs once the staleness has passed and fans the events
logged since the change out to that webhook again (catch_up): the deliveries a fresh
entry already made are found by their id and not made twice.

The first attempt of a delivery is made here, inline, right after the delivery is
recorded (delivery.attempt: the same signing, SSRF guard and log as webhook_deliver),
so that an event reaches a receiver that answers in one hop, not two. Its task is
enqueued first, named as ever and scheduled after the inline attempt's deadline
(INLINE_GRACE): whatever happens to this process after the delivery is recorded, that
task makes or repeats the attempt; once the attempt is recorded the task finds it done
(success) or the next attempt queued (failure) and posts nothing. A repeated push
finds the delivery made and attempts nothing inline. The inline work of one push is
bounded (Settings.webhook_inline_attempts, _timeout, _budget); the other deliveries go
to their task at once, as catch-ups' always do."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared import names
from shared.caches import WEBHOOK_STALENESS
from shared.deps import Deps
from shared.domain import TAKING_MARGIN, Delivery, DeliveryStatus, Event, WebhookRoute
from shared.ports import TaskQueue

DELIVERY_RETENTION = timedelta(days=30)  # Firestore TTL on deliveries.expire_at
# Seconds added at each end of a catch-up's window: the skew between our clocks and the
# store's commit times (logged_at), and the time a cache's read takes.
CATCH_UP_MARGIN = TAKING_MARGIN.total_seconds()  # the same second a webhook takes from before
# Seconds after the inline attempt's timeout at which its task runs: time for the attempt
# to be recorded, so the task finds it done rather than posting again.
INLINE_GRACE = 30.0

log = logging.getLogger(__name__)


def delivery_id(event_id: str, webhook_id: str) -> str:
    return "dlv_" + hashlib.sha256(f"{event_id}:{webhook_id}".encode()).hexdigest()[:24]


def sort_key(at: datetime, delivery_id_: str) -> str:
    """The delivery log's order and cursor: creation time, then id."""
    return f"{at.strftime('%Y%m%dT%H%M%S.%f')}~{delivery_id_}"


def fan_out(deps: Deps, event: Event) -> list[str]:
    """One delivery (and one task) per matching webhook; repeatable without duplicates.
    Only the webhooks that name the event (or a pattern taking it) are read, so an event
    costs the webhooks that may match it, not all of the account's; and they are read at
    most once per WEBHOOK_STALENESS and (account, event name), see the module's doc.
    An exception leaves the Pub/Sub message unacknowledged: it is pushed again, and
    after the subscription's attempts it goes to the dead-letter topic."""
    body = event.body()
    inline = Inline(deps.settings.webhook_inline_attempts,
                    deps.clock.now() + timedelta(seconds=deps.settings.webhook_inline_budget))
    return [enqueue_delivery(deps, route, event, body, inline=inline)
            for route in deps.caches.webhooks_taking(event.account, event.event)
            if route.matches(event)]


@dataclass
class Inline:
    """What is left of one push's inline work: attempts, and the time to start one."""

    attempts: int
    until: datetime

    def take(self, now: datetime) -> bool:
        if self.attempts <= 0 or now >= self.until:
            return False
        self.attempts -= 1
        return True


def plan_catch_up(deps: Deps, webhook_id: str) -> None:
    """Called before a change that may give a webhook events it did not take (created,
    enabled, events or devices changed), and before it is written, so that a change that
    is stored always has its catch-up queued (one queued for a change that then failed
    finds nothing to do). The task runs once every cache that could miss the change has
    expired; its window starts at the change, in the log's time frame: the wall clock,
    which Firestore's commit times follow (as GET /v1/events?after=now)."""
    if not deps.caches.enabled:
        return  # fan-out reads the webhooks for each event: nothing can be missed
    since = datetime.now(UTC) - timedelta(seconds=CATCH_UP_MARGIN)
    until = since + timedelta(seconds=WEBHOOK_STALENESS + 2 * CATCH_UP_MARGIN)
    deps.tasks.enqueue(names.WEBHOOK_QUEUE, names.TARGET_WEBHOOK_DELIVER,
                       {"catch_up": webhook_id, "since": since.isoformat(),
                        "until": until.isoformat()},
                       schedule_at=deps.clock.now() + timedelta(
                           seconds=WEBHOOK_STALENESS + 3 * CATCH_UP_MARGIN))


def catch_up(deps: Deps, webhook_id: str, since: datetime, until: datetime) -> list[str]:
    """The webhook's deliveries of the events logged in [since, until] that it takes now,
    made if missing (as fan-out makes them: an event a fresh cache fanned out to it has
    its delivery already, and gets nothing new). Every event logged in the window that a
    stale cache could have fanned out without this webhook is in it: one logged after
    `until` is fanned out later than the staleness after the change, from a fresh entry.
    A webhook deleted or disabled meanwhile gets nothing. Repeatable (a task run twice)."""
    from shared.services.event_feed import logged_between

    doc = deps.repos.webhooks.doc(webhook_id)
    route = WebhookRoute.model_validate(doc) if doc is not None else None
    if route is None or not route.enabled:
        return []
    return [enqueue_delivery(deps, route, event)
            for event in logged_between(deps.store, route.account_id, since, until,
                                        types=route.events)
            if route.matches(event)]


def enqueue_delivery(deps: Deps, webhook: WebhookRoute, event: Event,
                     body: dict | None = None, *, inline: Inline | None = None) -> str:
    """The delivery of `event` to `webhook`, made if missing, and its next attempt's task;
    with `inline` (fan-out's), a delivery made here has its first attempt made here too,
    if `inline` has room for it (see the module's doc)."""
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
    elif inline is not None and inline.take(deps.clock.now()):
        _attempt_inline(deps, delivery)
        return dlv_id
    enqueue_attempt(deps.tasks, delivery)
    return dlv_id


def _attempt_inline(deps: Deps, delivery: Delivery) -> None:
    """The delivery's first attempt, made here; its task queued before, so that it is
    made (or repeated) whatever happens to this attempt or this process."""
    from . import delivery as delivering  # it imports this module

    timeout = min(deps.settings.webhook_inline_timeout, deps.settings.webhook_timeout)
    enqueue_attempt(deps.tasks, delivery, schedule_at=deps.clock.now() + timedelta(
        seconds=timeout + INLINE_GRACE))
    try:
        delivering.attempt(deps, delivery, 0, timeout=timeout)
    except Exception:  # the task queued above makes the attempt; the other webhooks go on
        log.exception("inline attempt of %s failed; its task will make it", delivery.id)


def _task_name(delivery: Delivery) -> str:
    if delivery.manual:
        return f"{delivery.id}-{delivery.attempt_count}-m{delivery.manual_retries}"
    return f"{delivery.id}-{delivery.attempt_count}"


def enqueue_attempt(tasks: TaskQueue, delivery: Delivery, *,
                    schedule_at: datetime | None = None) -> None:
    """The task for the delivery's next attempt; named, so enqueuing it again is harmless.
    `schedule_at`: when it runs, if not when the delivery's next attempt is due."""
    later = delivery.attempt_count > 0 and not delivery.manual
    tasks.enqueue(names.WEBHOOK_QUEUE, names.TARGET_WEBHOOK_DELIVER,
                  {"delivery_id": delivery.id, "attempt": delivery.attempt_count},
                  name=_task_name(delivery),
                  schedule_at=schedule_at or (delivery.next_attempt_at if later else None))
