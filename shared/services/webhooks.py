"""Webhooks: registration, fan-out of events to deliveries, and signed delivery with
retries. A delivery's id is derived from (event, webhook), so a repeated fan-out finds
the delivery it made before and creates nothing new."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from datetime import timedelta

from standardwebhooks.webhooks import Webhook as Signer

from shared import names
from shared.clock import Clock
from shared.domain import Attempt, Delivery, DeliveryStatus, Event, Webhook
from shared.errors import NotFound, ValidationFailed
from shared.events import EventName
from shared.ids import new_id
from shared.ports import DocumentStore, HttpClient, TaskQueue
from shared.settings import Settings
from shared.urlguard import check_url


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _check_events(events: list[str]) -> list[str]:
    known = {e.value for e in EventName}
    # every prefix the matcher understands: "message:*", "message:out:*", "message:in:*"…
    prefixes = {":".join(e.value.split(":")[:n]) + ":*"
                for e in EventName for n in range(1, e.value.count(":") + 1)}
    unknown = [e for e in events if e != "*" and e not in known and e not in prefixes]
    if unknown:
        raise ValidationFailed(f"events: unknown event names {unknown}",
                               details={"field": "events", "known": sorted(known)},
                               code="unknown_event")
    return events


def create_webhook(store: DocumentStore, settings: Settings, clock: Clock, account_id: str, *,
                   url: str, events: list[str], devices: list[str] | None) -> Webhook:
    check_url(url, allow_private=settings.allow_private_webhooks)
    _check_events(events)
    for device_id in devices or []:
        doc = store.get("devices", device_id)
        if doc is None or doc["account_id"] != account_id:
            raise ValidationFailed(f"devices: no device {device_id} in this account",
                                   details={"field": "devices"}, code="unknown_device")
    webhook = Webhook(id=new_id("wh"), account_id=account_id, url=url, events=events,
                      devices=devices, secret=new_secret(), created_at=clock.now())
    store.put("webhooks", webhook.id, webhook.to_doc())
    return webhook


def get_webhook(store: DocumentStore, account_id: str, webhook_id: str) -> Webhook:
    doc = store.get("webhooks", webhook_id)
    if doc is None or doc["account_id"] != account_id:
        raise NotFound(f"webhook {webhook_id} not found")
    return Webhook.model_validate(doc)


def list_webhooks(store: DocumentStore, account_id: str) -> list[Webhook]:
    docs = store.query("webhooks", [("account_id", "==", account_id)])
    return sorted((Webhook.model_validate(d) for d in docs), key=lambda w: w.created_at)


def delete_webhook(store: DocumentStore, account_id: str, webhook_id: str) -> None:
    get_webhook(store, account_id, webhook_id)
    store.delete("webhooks", webhook_id)


def delivery_id(event_id: str, webhook_id: str) -> str:
    return "dlv_" + hashlib.sha256(f"{event_id}:{webhook_id}".encode()).hexdigest()[:24]


def fanout(store: DocumentStore, tasks: TaskQueue, clock: Clock, event: Event) -> list[str]:
    """One delivery (and one task) per matching webhook; repeatable without duplicates."""
    made = []
    docs = store.query("webhooks", [("account_id", "==", event.account)])
    for webhook in (Webhook.model_validate(d) for d in docs):
        if not webhook.matches(event):
            continue
        made.append(enqueue_delivery(store, tasks, clock, webhook, event))
    return made


def enqueue_delivery(store: DocumentStore, tasks: TaskQueue, clock: Clock, webhook: Webhook,
                     event: Event) -> str:
    dlv = Delivery(id=delivery_id(event.id, webhook.id), webhook_id=webhook.id,
                   account_id=webhook.account_id, event_id=event.id, event=event.body(),
                   created_at=clock.now())
    if not store.create("deliveries", dlv.id, dlv.to_doc()):
        existing = store.get("deliveries", dlv.id)
        if existing is None or existing["status"] != DeliveryStatus.pending.value:
            return dlv.id
        attempt = len(existing.get("attempts", []))
    else:
        attempt = 0
    # The task name repeats for a repeated fan-out, so the queue drops the duplicate.
    tasks.enqueue(names.WEBHOOK_QUEUE, names.TARGET_WEBHOOK_DELIVER, {"delivery_id": dlv.id},
                  name=f"{dlv.id}-{attempt}")
    return dlv.id


def sign(secret: str, msg_id: str, clock: Clock, body: str) -> dict[str, str]:
    now = clock.now()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Signer(secret).sign(msg_id, now, body),
        "content-type": "application/json",
        "user-agent": "Utio-Webhooks/1",
    }


def deliver(store: DocumentStore, tasks: TaskQueue, clock: Clock, settings: Settings,
            http: HttpClient, delivery_id_: str) -> DeliveryStatus | None:
    """One attempt of one delivery; schedules the next attempt on failure."""
    doc = store.get("deliveries", delivery_id_)
    if doc is None:
        return None
    delivery = Delivery.model_validate(doc)
    if delivery.status != DeliveryStatus.pending:
        return delivery.status
    webhook_doc = store.get("webhooks", delivery.webhook_id)
    if webhook_doc is None:
        store.update("deliveries", delivery.id, {"status": DeliveryStatus.failed.value})
        return DeliveryStatus.failed
    webhook = Webhook.model_validate(webhook_doc)
    body = json.dumps(delivery.event, separators=(",", ":"))
    started = time.monotonic()
    status_code, error, excerpt = None, None, None
    try:
        check_url(webhook.url, allow_private=settings.allow_private_webhooks)
        headers = sign(webhook.secret, delivery.event_id, clock, body)
        status_code, excerpt = http.post(webhook.url, body.encode(), headers,
                                         settings.webhook_timeout)
    except (OSError, ValidationFailed) as exc:
        error = str(exc)[:300]
    attempt = Attempt(at=clock.now(), status_code=status_code, error=error,
                      latency_ms=int((time.monotonic() - started) * 1000),
                      response=(excerpt or "")[:256] or None)
    attempts = [a.model_dump() for a in delivery.attempts] + [attempt.model_dump()]
    ok = status_code is not None and 200 <= status_code < 300
    number = len(attempts)
    if ok:
        status = DeliveryStatus.succeeded
    elif number > len(settings.webhook_retry_schedule):
        status = DeliveryStatus.failed
    else:
        status = DeliveryStatus.pending
    store.update("deliveries", delivery.id, {"attempts": attempts, "status": status.value})
    if status == DeliveryStatus.pending:
        delay = settings.webhook_retry_schedule[number - 1]
        tasks.enqueue(names.WEBHOOK_QUEUE, names.TARGET_WEBHOOK_DELIVER,
                      {"delivery_id": delivery.id}, name=f"{delivery.id}-{number}",
                      schedule_at=clock.now() + timedelta(seconds=delay))
    return status


def list_deliveries(store: DocumentStore, account_id: str, webhook_id: str,
                    limit: int = 100) -> list[Delivery]:
    get_webhook(store, account_id, webhook_id)
    docs = store.query("deliveries", [("webhook_id", "==", webhook_id)])
    found = sorted((Delivery.model_validate(d) for d in docs), key=lambda d: d.created_at,
                   reverse=True)
    return found[:limit]
