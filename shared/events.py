"""The one list of events: every name, what it means, and an example body.

A webhook receives each event as JSON: `id` (also the `webhook-id` header, the same on
every retry), `event`, `created_at`, `device`, `sequence` (per device, only grows, may
skip numbers; absent on events that concern no device) and `data`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared.domain import MessageStatus


class EventName(StrEnum):
    message_out_new = "message:out:new"
    message_out_sent = "message:out:sent"
    message_out_delivered = "message:out:delivered"
    message_out_read = "message:out:read"
    message_out_failed = "message:out:failed"
    message_out_cancelled = "message:out:cancelled"
    message_in_new = "message:in:new"
    message_reaction = "message:reaction"
    message_revoked = "message:revoked"
    device_status = "device:status"
    chat_new = "chat:new"
    chat_update = "chat:update"
    contact_update = "contact:update"
    group_join = "group:join"
    group_leave = "group:leave"
    group_update = "group:update"
    group_participants = "group:participants"
    webhook_test = "webhook:test"


@dataclass(frozen=True)
class EventSpec:
    name: EventName
    description: str
    data: dict  # an example of the event's `data`


_DEVICE = "dev_5e6f7a8b9c0d1a2b3c4d"
_AT = "2026-11-24T10:00:00Z"


def _message(status: str, **times) -> dict:
    return {"id": "msg_0a1b2c3d4e5f6a7b8c9d", "device_id": _DEVICE, "direction": "outbound",
            "type": "text", "phone": "+447911123456", "message": "Your order #1042 has shipped",
            "priority": "normal", "reference": "order-1042", "status": status,
            "failure_reason": times.pop("failure_reason", None), "deliver_at": None,
            "created_at": _AT, "sent_at": None, "delivered_at": None, "read_at": None,
            "failed_at": None, "cancelled_at": None} | times


_SPECS = [
    EventSpec(EventName.message_out_new, "An outbound message was accepted and queued.",
              _message("queued")),
    EventSpec(EventName.message_out_sent, "An outbound message left the device.",
              _message("sent", sent_at="2026-11-24T10:00:01Z")),
    EventSpec(EventName.message_out_delivered, "An outbound message reached the recipient's phone.",
              _message("delivered", sent_at="2026-11-24T10:00:01Z",
                       delivered_at="2026-11-24T10:00:02Z")),
    EventSpec(EventName.message_out_read, "The recipient read an outbound message.",
              _message("read", sent_at="2026-11-24T10:00:01Z", delivered_at="2026-11-24T10:00:02Z",
                       read_at="2026-11-24T10:00:09Z")),
    EventSpec(EventName.message_out_failed,
              "An outbound message failed; data.failure_reason says why.",
              _message("failed", failure_reason="number_not_on_whatsapp",
                       failed_at="2026-11-24T10:00:01Z")),
    EventSpec(EventName.message_out_cancelled, "A queued outbound message was cancelled.",
              _message("cancelled", cancelled_at="2026-11-24T10:00:03Z")),
    EventSpec(EventName.message_in_new, "A message arrived on a device.",
              {"id": "msg_7c8d9e0f1a2b3c4d5e6f", "wa_id": "WA_3EB0C767D26A1D8F",
               "direction": "inbound", "type": "text", "phone": "+34600100999",
               "message": "Is my order on its way?", "received_at": _AT}),
    EventSpec(EventName.message_reaction, "Someone reacted to a message, or removed a reaction "
              "(data.reaction is then null).",
              {"wa_id": "3EB0A1B2C3D4E5F6A7B8", "message_id": "msg_0a1b2c3d4e5f6a7b8c9d",
               "phone": "+447911123456", "reaction": "👍", "at": _AT}),
    EventSpec(EventName.message_revoked, "The sender deleted a message for everyone.",
              {"wa_id": "WA_3EB0C767D26A1D8F", "message_id": "msg_7c8d9e0f1a2b3c4d5e6f",
               "phone": "+34600100999", "at": _AT}),
    EventSpec(EventName.device_status, "A device's status changed (data.previous was the old one).",
              {"status": "connected", "previous": "linking", "phone": "+34600100123",
               "detail": None}),
    EventSpec(EventName.chat_new, "A chat started: the first message with a number or group.",
              {"chat": "+34600100999", "type": "user", "name": None, "at": _AT}),
    EventSpec(EventName.chat_update, "A chat was archived, pinned, muted or marked read.",
              {"chat": "+34600100999", "archived": False, "pinned": True, "muted_until": None,
               "unread": 0}),
    EventSpec(EventName.contact_update, "A contact's name or picture changed.",
              {"phone": "+34600100999", "name": "Ana García", "picture_changed": True}),
    EventSpec(EventName.group_join, "The device joined a group, or was added to one.",
              {"group": "120363025246125486@g.us", "subject": "Order updates",
               "by": "+447911123456"}),
    EventSpec(EventName.group_leave, "The device left a group, or was removed from one.",
              {"group": "120363025246125486@g.us", "by": "+447911123456"}),
    EventSpec(EventName.group_update, "A group's subject, description or settings changed.",
              {"group": "120363025246125486@g.us", "subject": "Order updates (EU)",
               "description": None, "by": "+447911123456"}),
    EventSpec(EventName.group_participants, "Participants were added, removed, promoted or "
              "demoted in a group.",
              {"group": "120363025246125486@g.us", "action": "add",
               "participants": ["+34600100999"], "by": "+447911123456"}),
    EventSpec(EventName.webhook_test, "A test event sent by POST /v1/webhooks/{id}/test; it goes "
              "to that webhook only, whatever its event filter.",
              {"webhook_id": "wh_9c0d1a2b3c4d5e6f7a8b",
               "message": "A test event from Utio. Answer 2xx to acknowledge it."}),
]

CATALOG: dict[EventName, EventSpec] = {spec.name: spec for spec in _SPECS}
DESCRIPTIONS = {name: spec.description for name, spec in CATALOG.items()}
assert set(CATALOG) == set(EventName), "every event needs a description and an example"

DEVICELESS = {EventName.webhook_test}


def example_body(name: EventName) -> dict:
    """What a receiver gets for this event (the JSON body of the POST)."""
    body = {"id": "evt_1f2e3d4c5b6a79881726", "event": name.value, "created_at": _AT,
            "device": None if name in DEVICELESS else _DEVICE}
    if name not in DEVICELESS:
        body["sequence"] = 42
    return body | {"data": CATALOG[name].data}


STATUS_EVENTS = {
    MessageStatus.queued: EventName.message_out_new,
    MessageStatus.sent: EventName.message_out_sent,
    MessageStatus.delivered: EventName.message_out_delivered,
    MessageStatus.read: EventName.message_out_read,
    MessageStatus.failed: EventName.message_out_failed,
    MessageStatus.cancelled: EventName.message_out_cancelled,
}


def known_pattern(pattern: str) -> bool:
    """'*', an event name, or a prefix ending in ':*' that covers at least one event."""
    if pattern == "*" or pattern in CATALOG:
        return True
    return pattern.endswith(":*") and any(n.startswith(pattern[:-1]) for n in CATALOG)

