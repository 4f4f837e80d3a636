"""A webhook's delivery log, and what an owner does with it: retry a delivery by hand,
recover the failed ones since a time, and send a test event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared import cursor
from shared.deps import Deps
from shared.domain import Delivery, DeliveryStatus, Event, WebhookRoute
from shared.errors import Conflict, NotFound
from shared.events import EventName
from shared.ids import new_id

from .fanout import enqueue_attempt, enqueue_delivery, sort_key

STUCK = timedelta(minutes=5)  # a pending delivery this late has lost its task
RECOVER_BATCH = 500


def _uncursor(value: str) -> str:
    key = cursor.decode(value, str)
    if "~dlv_" not in key:
        raise cursor.invalid()
    return key


def list_deliveries(deps: Deps, account_id: str, webhook_id: str, *, limit: int = 20,
                    after: str | None = None, status: DeliveryStatus | None = None
                    ) -> tuple[list[Delivery], str | None]:
    """Newest first; returns a page and the cursor of the next one (None at the end)."""
    deps.repos.webhooks.owned_doc(account_id, webhook_id)
    found = deps.repos.deliveries.page(webhook_id, status=status, limit=limit + 1,
                                       before=_uncursor(after) if after else None)
    page = found[:limit]
    return page, (cursor.encode(page[-1].sort_key) if len(found) > limit else None)


def get_delivery(deps: Deps, account_id: str, webhook_id: str, delivery_id_: str) -> Delivery:
    deps.repos.webhooks.owned_doc(account_id, webhook_id)
    delivery = deps.repos.deliveries.get(delivery_id_)
    if delivery is None or delivery.webhook_id != webhook_id or \
            delivery.account_id != account_id:
        raise NotFound(f"delivery {delivery_id_} not found")
    return delivery


def _enabled_route(deps: Deps, account_id: str, webhook_id: str) -> WebhookRoute:
    route = deps.repos.webhooks.owned_route(account_id, webhook_id)
    if not route.enabled:
        raise Conflict(f"webhook {route.id} is disabled; enable it with PATCH "
                       "{\"enabled\": true} first", code="webhook_disabled")
    return route


def retry_delivery(deps: Deps, account_id: str, webhook_id: str,
                   delivery_id_: str) -> Delivery:
    """Deliver a finished delivery (succeeded or failed) once more, now: one attempt,
    marked manual, with no automatic retries after it."""
    _enabled_route(deps, account_id, webhook_id)
    delivery = get_delivery(deps, account_id, webhook_id, delivery_id_)
    now = deps.clock.now()
    if delivery.status == DeliveryStatus.pending:
        if delivery.next_attempt_at and now - delivery.next_attempt_at > STUCK:
            enqueue_attempt(deps.tasks, delivery)  # its task was lost: queue it again
            return delivery
        raise Conflict(f"delivery {delivery.id} is still being delivered; its next attempt is "
                       f"at {delivery.next_attempt_at:%Y-%m-%dT%H:%M:%SZ}", code="delivery_pending",
                       details={"next_attempt_at": delivery.next_attempt_at.isoformat()
                                if delivery.next_attempt_at else None})
    changes = {"status": DeliveryStatus.pending.value, "reason": None, "manual": True,
               "manual_retries": delivery.manual_retries + 1, "next_attempt_at": now}
    if not deps.repos.deliveries.update(delivery.id, changes,
                                        when={"status": delivery.status.value,
                                              "manual_retries": delivery.manual_retries}):
        raise Conflict(f"delivery {delivery.id} was retried by another request",
                       code="delivery_pending")
    retried = delivery.model_copy(update={"status": DeliveryStatus.pending, "reason": None,
                                          "manual": True, "next_attempt_at": now,
                                          "manual_retries": delivery.manual_retries + 1})
    enqueue_attempt(deps.tasks, retried)
    return retried


def recover(deps: Deps, account_id: str, webhook_id: str, since: datetime) -> tuple[int, bool]:
    """Retry by hand the failed deliveries made since `since`, oldest first, up to
    RECOVER_BATCH a call; returns how many, and whether more remain (call again)."""
    _enabled_route(deps, account_id, webhook_id)
    failed = deps.repos.deliveries.failed_since(webhook_id, sort_key(since.astimezone(UTC), ""),
                                                RECOVER_BATCH + 1)
    retried = 0
    for delivery in failed[:RECOVER_BATCH]:
        try:
            retry_delivery(deps, account_id, webhook_id, delivery.id)
            retried += 1
        except Conflict:
            continue  # retried meanwhile
    return retried, len(failed) > RECOVER_BATCH


def send_test(deps: Deps, account_id: str, webhook_id: str) -> Delivery:
    """A webhook:test event to this webhook only, whatever its filters; delivered (and
    retried) like any other."""
    route = _enabled_route(deps, account_id, webhook_id)
    event = Event(id=new_id("evt"), event=EventName.webhook_test.value,
                  created_at=deps.clock.now(), account=account_id, device=None,
                  data={"webhook_id": webhook_id,
                        "message": "A test event from Utio. Answer 2xx to acknowledge it."})
    made = enqueue_delivery(deps, route, event)
    return deps.repos.deliveries.get(made)
