"""Outbound messages: accept and queue (API side), and every status transition after it
(runner side). Each transition is conditional on the current status, so a repeated task,
a retry or a second runner cannot send a message twice."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime

from shared import names
from shared.clock import Clock
from shared.domain import Device, FailureReason, Message, MessageStatus, Priority
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.ids import new_id, wa_message_id
from shared.ports import AnyOf, DocumentStore, EventBus, Guard, TaskQueue
from shared.services import billing
from shared.services.events import publish_message_status

FINAL = (MessageStatus.read, MessageStatus.failed, MessageStatus.cancelled)


def resolve_device(store: DocumentStore, account_id: str, device_id: str | None) -> Device:
    if device_id:
        doc = store.get("devices", device_id)
        if doc is None or doc["account_id"] != account_id:
            raise ValidationFailed(f"device: no device {device_id} in this account",
                                   details={"field": "device"}, code="unknown_device")
        return Device.model_validate(doc)
    docs = store.query("devices", [("account_id", "==", account_id)], limit=2)
    if not docs:
        raise ValidationFailed("this account has no device: create one with POST /v1/devices",
                               details={"field": "device"}, code="no_device")
    if len(docs) > 1:
        raise ValidationFailed("device is required: this account has several devices; "
                               "name the one to send from in 'device'",
                               details={"field": "device"}, code="device_required")
    return Device.model_validate(docs[0])


def _fingerprint(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def send_message(store: DocumentStore, tasks: TaskQueue, bus: EventBus, clock: Clock,
                 account_id: str, *, phone: str, text: str, device_id: str | None = None,
                 priority: Priority = Priority.normal, reference: str | None = None,
                 deliver_at: datetime | None = None,
                 idempotency_key: str | None = None) -> tuple[Message, bool]:
    """Queue a message; returns it and whether it was created now (False: an earlier
    request with the same Idempotency-Key created it)."""
    fingerprint = _fingerprint({"phone": phone, "text": text, "device": device_id,
                                "priority": priority, "reference": reference,
                                "deliver_at": deliver_at})
    idem_id = None
    if idempotency_key:
        idem_id = hashlib.sha256(f"{account_id}:{idempotency_key}".encode()).hexdigest()
        earlier = store.get("idempotency", idem_id)
        if earlier is not None:
            return _replay(store, account_id, earlier, fingerprint), False
    device = resolve_device(store, account_id, device_id)
    billing.ensure_can_send(device, clock.now())  # 402 after the trial or dunning ends
    message = Message(id=new_id("msg"), account_id=account_id, device_id=device.id, phone=phone,
                      message=text, priority=priority, reference=reference,
                      deliver_at=deliver_at, created_at=clock.now())
    message.wa_id = wa_message_id(message.id)
    if idem_id and not store.create("idempotency", idem_id,
                                    {"message_id": message.id, "fingerprint": fingerprint,
                                     "account_id": account_id, "created_at": clock.now()}):
        return _replay(store, account_id, store.get("idempotency", idem_id), fingerprint), False
    store.put("messages", message.id, message.to_doc())
    enqueue_send(tasks, message)
    publish_message_status(bus, clock, message)
    return message, True


def _replay(store: DocumentStore, account_id: str, earlier: dict, fingerprint: str) -> Message:
    if earlier["fingerprint"] != fingerprint:
        raise Conflict("Idempotency-Key was used before with a different request body",
                       code="idempotency_conflict")
    return get_message(store, account_id, earlier["message_id"])


def enqueue_send(tasks: TaskQueue, message: Message) -> None:
    tasks.enqueue(names.MESSAGE_QUEUES[message.priority.value], names.TARGET_RUNNER_MESSAGES,
                  {"message_id": message.id, "device_id": message.device_id},
                  name=message.id, schedule_at=message.deliver_at)


def get_message(store: DocumentStore, account_id: str, message_id: str) -> Message:
    doc = store.get("messages", message_id)
    if doc is None or doc["account_id"] != account_id:
        raise NotFound(f"message {message_id} not found")
    return Message.model_validate(doc)


def list_messages(store: DocumentStore, account_id: str, *, device_id: str | None = None,
                  status: MessageStatus | None = None, limit: int = 50) -> list[Message]:
    where = [("account_id", "==", account_id)]
    if device_id:
        where.append(("device_id", "==", device_id))
    if status:
        where.append(("status", "==", status.value))
    docs = store.query("messages", where)
    messages = sorted((Message.model_validate(d) for d in docs), key=lambda m: m.created_at,
                      reverse=True)
    return messages[:limit]


def cancel_message(store: DocumentStore, bus: EventBus, clock: Clock, account_id: str,
                   message_id: str) -> Message:
    message = get_message(store, account_id, message_id)
    now = clock.now()
    ok = store.update("messages", message_id,
                      {"status": MessageStatus.cancelled.value, "cancelled_at": now},
                      when={"status": MessageStatus.queued.value, "claimed_by": None})
    if not ok:
        raise Conflict(f"message {message_id} is {message.status.value}; only a queued "
                       "message that is not being sent can be cancelled", code="not_cancellable")
    message = get_message(store, account_id, message_id)
    publish_message_status(bus, clock, message)
    return message


# --- runner side -------------------------------------------------------------------


def claim(store: DocumentStore, message_id: str, shard: str,
          fence: Callable[[str], Guard | None] | None = None) -> Message | None:
    """Take a queued message for sending. None when it is no longer ours to send. With a
    `fence` (the runner's leases), the claim holds only while the runner still holds the
    message's device: it is written in one atomic step with that check."""
    guard = None
    if fence is not None:
        doc = store.get("messages", message_id)
        guard = fence(doc["device_id"]) if doc else None
        if guard is None:
            return None
    for holder in (None, shard):
        if store.update("messages", message_id, {"claimed_by": shard},
                        when={"status": MessageStatus.queued.value, "claimed_by": holder},
                        guard=guard):
            return Message.model_validate(store.get("messages", message_id))
    return None


def _transition(store: DocumentStore, bus: EventBus, clock: Clock, message_id: str,
                status: MessageStatus, stamp: str, allowed_from: tuple[MessageStatus, ...],
                extra: dict | None = None) -> Message | None:
    now = clock.now()
    changes = {"status": status.value, stamp: now} | (extra or {})
    if not store.update("messages", message_id, changes,
                        when={"status": AnyOf(s.value for s in allowed_from)}):
        return None
    message = Message.model_validate(store.get("messages", message_id))
    publish_message_status(bus, clock, message)
    return message


def mark_sent(store, bus, clock, message_id: str) -> Message | None:
    return _transition(store, bus, clock, message_id, MessageStatus.sent, "sent_at",
                       (MessageStatus.queued,))


def mark_delivered(store, bus, clock, message_id: str) -> Message | None:
    return _transition(store, bus, clock, message_id, MessageStatus.delivered, "delivered_at",
                       (MessageStatus.sent,))


def mark_read(store, bus, clock, message_id: str) -> Message | None:
    doc = store.get("messages", message_id)
    extra = {} if doc is None or doc.get("delivered_at") else {"delivered_at": clock.now()}
    return _transition(store, bus, clock, message_id, MessageStatus.read, "read_at",
                       (MessageStatus.sent, MessageStatus.delivered), extra)


def fail(store: DocumentStore, bus: EventBus, clock: Clock, message: Message,
         reason: FailureReason) -> Message | None:
    return _transition(store, bus, clock, message.id, MessageStatus.failed, "failed_at",
                       (MessageStatus.queued,), {"failure_reason": reason.value})


def find_by_wa_id(store: DocumentStore, wa_id: str) -> Message | None:
    docs = store.query("messages", [("wa_id", "==", wa_id)], limit=1)
    return Message.model_validate(docs[0]) if docs else None


def queued_for_device(store: DocumentStore, device_id: str) -> list[Message]:
    docs = store.query("messages", [("device_id", "==", device_id),
                                    ("status", "==", MessageStatus.queued.value)])
    return [Message.model_validate(d) for d in docs]
