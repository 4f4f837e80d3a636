"""The one list of events: every name, what it means, and an example body.

A webhook receives each event as JSON: `id` (also the `webhook-id` header, the same on
every retry), `event`, `created_at`, `device`, `sequence` (orders a device's events: a
hybrid logical clock in microseconds, strictly increasing within a publishing process and
in wall-clock order across processes, not consecutive; absent on events that concern no
device; see shared/services/sequence.py) and `data`."""

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
    message_out_edited = "message:out:edited"
    message_out_revoked = "message:out:revoked"
    message_in_new = "message:in:new"
    message_in_edited = "message:in:edited"
    message_in_revoked = "message:in:revoked"
    message_reaction = "message:reaction"
    message_poll_vote = "message:poll:vote"
    device_status = "device:status"
    device_queue_paused = "device:queue:paused"
    device_queue_resumed = "device:queue:resumed"
    device_risk = "device:risk"
    chat_update = "chat:update"
    chat_delete = "chat:delete"
    contact_update = "contact:update"
    group_update = "group:update"
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
            "type": "text", "phone": "+447911123456", "group": None,
            "message": "Your order #1042 has shipped",
            "content": {"type": "text", "text": "Your order #1042 has shipped"}, "quote": None,
            "priority": "normal", "source": "api", "reference": "order-1042", "status": status,
            "failure_reason": times.pop("failure_reason", None), "deliver_at": None,
            "expires_at": None, "typing": None, "forwarded": False, "poll_results": None,
            "edited_at": None, "revoked_at": None, "lid": None, "status_post": False,
            "background": None,
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
    EventSpec(EventName.message_out_edited, "A sent text message was edited (PATCH "
              "/v1/messages/{id}); data.message is the new text, data.edited_at when.",
              _message("read", sent_at="2026-11-24T10:00:01Z",
                       delivered_at="2026-11-24T10:00:02Z", read_at="2026-11-24T10:00:09Z",
                       edited_at="2026-11-24T10:01:00Z")),
    EventSpec(EventName.message_out_revoked, "A sent message was deleted for everyone (POST "
              "/v1/messages/{id}/revoke); data.revoked_at says when.",
              _message("delivered", sent_at="2026-11-24T10:00:01Z",
                       delivered_at="2026-11-24T10:00:02Z", revoked_at="2026-11-24T10:02:00Z")),
    EventSpec(EventName.message_in_edited, "The sender of a message that arrived edited it; "
              "data.message is the new text, data.message_id the message as its chat lists it "
              "(which shows the new text and edited_at).",
              {"message_id": "msg_7c8d9e0f1a2b3c4d5e6f", "wa_id": "WA_3EB0C767D26A1D8F",
               "phone": "+34600100999", "message": "Is my order on its way? (#1042)",
               "at": "2026-11-24T10:01:00Z", "group": None,
               "url": f"/v1/devices/{_DEVICE}/chats/+34600100999/messages"}),
    EventSpec(EventName.message_in_revoked, "The sender of a message that arrived deleted it for "
              "everyone; its chat lists it with revoked_at.",
              {"message_id": "msg_7c8d9e0f1a2b3c4d5e6f", "wa_id": "WA_3EB0C767D26A1D8F",
               "phone": "+34600100999", "at": "2026-11-24T10:02:00Z", "group": None,
               "url": f"/v1/devices/{_DEVICE}/chats/+34600100999/messages"}),
    EventSpec(EventName.message_in_new, "A message arrived on a device (a reaction comes as "
              "message:reaction instead). It is kept in its chat, not among the sent "
              "messages: data.url lists the chat's messages (data.id is there, not at "
              "GET /v1/messages/{id}). data.group is the group's id (else null); "
              "data.content and data.push_name are there when known. data.lid is the "
              "sender's anonymous WhatsApp id when WhatsApp gave one: data.phone is then "
              "their number once known (the device keeps the mapping, so the chat stays "
              "one), else the anonymous id itself.",
              {"id": "msg_7c8d9e0f1a2b3c4d5e6f", "wa_id": "WA_3EB0C767D26A1D8F",
               "direction": "inbound", "type": "text", "phone": "+34600100999",
               "message": "Is my order on its way?", "received_at": _AT,
               "content": {"type": "text", "text": "Is my order on its way?"},
               "group": None, "push_name": "Ana",
               "url": f"/v1/devices/{_DEVICE}/chats/+34600100999/messages"}),
    EventSpec(EventName.message_reaction, "Someone reacted to a message on a device, or took "
              "their reaction back (data.emoji is then null). data.message_id is the reacted "
              "message's id (null when this device has no record of it; data.message_wa_id is "
              "its WhatsApp id), data.from_me tells whether it was sent from the device, "
              "data.emoji is the reaction, data.phone who reacted (data.group and "
              "data.push_name when known); data.id and data.wa_id are the reaction's own ids, "
              "as the chat's messages list it.",
              {"id": "msg_2b3c4d5e6f7a8b9c0d1e", "wa_id": "3EB0A1B2C3D4E5F6A7B8",
               "message_id": "msg_0a1b2c3d4e5f6a7b8c9d", "message_wa_id": "3EB0C767D26A1D8F",
               "from_me": True, "emoji": "👍", "phone": "+447911123456", "at": _AT}),
    EventSpec(EventName.message_poll_vote, "Someone voted on a poll a device sent, or changed "
              "their vote (their latest replaces the earlier one; data.options empty: they "
              "withdrew it). data.message_id is the poll, data.phone the voter, "
              "data.options what they chose, data.poll_results the poll's tally now.",
              {"message_id": "msg_0a1b2c3d4e5f6a7b8c9d", "message_wa_id": "3EB0C767D26A1D8F",
               "phone": "+447911123456", "options": ["Tuesday"], "at": _AT,
               "poll_results": {"votes": {"Monday": 0, "Tuesday": 1, "Wednesday": 0},
                                "voters": 1}, "reference": None}),
    EventSpec(EventName.device_status, "A device's status changed (data.previous was the old one).",
              {"status": "connected", "previous": "linking", "code": "wa-connected",
               "message": "Connected to WhatsApp.", "detail": None, "phone": "+34600100123"}),
    EventSpec(EventName.device_queue_paused, "A device's send queue was paused (POST "
              "/v1/devices/{id}/queue/pause): nothing is sent until it is resumed; data.queued "
              "is how many messages wait.",
              {"paused": True, "at": _AT, "queued": 42}),
    EventSpec(EventName.device_queue_resumed, "A device's send queue was resumed: the "
              "messages waiting go out again, in order, at the device's speed.",
              {"paused": False, "at": "2026-11-24T10:30:00Z", "queued": 42}),
    EventSpec(EventName.device_risk, "A device's failure or block rate passed the threshold "
              "(data.rate of the last data.sends messages failed, data.threshold the limit; "
              "data.reasons counts the failures by reason): the number risks a WhatsApp ban. "
              "Raised once, and again only after the rate has gone back under the threshold.",
              {"rate": 0.24, "failures": 12, "sends": 50, "window": 50, "threshold": 0.2,
               "reasons": {"number_not_on_whatsapp": 12},
               "message": "12 of the last 50 messages from this device failed (24%): ..."}),
    EventSpec(EventName.chat_update, "A chat's labels, unread count or assignee (the agent who "
              "answers it) were changed through the API; data.changed names what.",
              {"id": "+34600100999", "kind": "user", "name": "Ana García", "unread": 0,
               "labels": ["lbl_vip"], "assigned_to": "agt_0a1b2c3d4e5f6a7b8c9d",
               "last_message": {"id": "msg_7c8d9e0f1a2b3c4d5e6f", "direction": "inbound",
                                "type": "text", "message": "Is my order on its way?", "at": _AT},
               "last_message_at": _AT, "created_at": _AT, "updated_at": "2026-11-24T10:05:00Z",
               "changed": ["labels"]}),
    EventSpec(EventName.chat_delete, "A chat and its messages were deleted (data.reason: api or "
              "cleanup), or a chat under an anonymous id joined the number's chat when the "
              "number was learnt (reason merged, data.merged_into: the number).",
              {"id": "+34600100999", "kind": "user", "reason": "api"}),
    EventSpec(EventName.contact_update, "A contact's name, metadata or labels changed; "
              "data.changed names what.",
              {"phone": "+34600100999", "name": "Ana García", "metadata": {"crm_id": "C-1042"},
               "labels": ["lbl_vip"], "created_at": _AT, "updated_at": "2026-11-24T10:05:00Z",
               "changed": ["metadata"]}),
    EventSpec(EventName.group_update, "A group operation finished; data.operation says how, "
              "data.group is the group after it.",
              {"operation": {"id": "gop_4d5e6f7a8b9c0d1e2f3a", "device_id": _DEVICE,
                             "group_id": "grp_1a2b3c4d5e6f7a8b9c0d", "kind": "add",
                             "params": {"participants": ["+34600100999"]},
                             "status": "succeeded", "failure_reason": None,
                             "participants": [{"phone": "+34600100999", "ok": True,
                                               "reason": None}],
                             "created_at": _AT, "completed_at": "2026-11-24T10:00:02Z"},
               "group": {"id": "grp_1a2b3c4d5e6f7a8b9c0d", "device_id": _DEVICE,
                         "wa_id": "120363025246125486@g.us", "status": "active",
                         "subject": "Order updates", "description": None, "announce": False,
                         "owner": "+34600100123",
                         "participants": [{"phone": "+34600100123", "role": "superadmin"},
                                          {"phone": "+34600100999", "role": "member"}],
                         "invite_link": None, "failure_reason": None, "created_at": _AT,
                         "updated_at": "2026-11-24T10:00:02Z"}}),
    EventSpec(EventName.webhook_test, "A test event sent by POST /v1/webhooks/{id}/test; it goes "
              "to that webhook only, whatever its event filter.",
              {"webhook_id": "wh_9c0d1a2b3c4d5e6f7a8b",
               "message": "A test event from Utio. Answer 2xx to acknowledge it."}),
]

_ORDER = list(EventName)
CATALOG: dict[EventName, EventSpec] = {spec.name: spec for spec in sorted(
    _SPECS, key=lambda spec: _ORDER.index(spec.name))}  # listed in the enumeration's order
DESCRIPTIONS = {name: spec.description for name, spec in CATALOG.items()}
assert set(CATALOG) == set(EventName), "every event needs a description and an example"

DEVICELESS = {EventName.webhook_test}


def example_body(name: EventName) -> dict:
    """What a receiver gets for this event (the JSON body of the POST)."""
    body = {"id": "evt_1f2e3d4c5b6a79881726", "event": name.value, "created_at": _AT,
            "device": None if name in DEVICELESS else _DEVICE}
    if name not in DEVICELESS:
        body["sequence"] = 1795514400000000  # microseconds: a hybrid logical clock
    return body | {"data": CATALOG[name].data}


STATUS_EVENTS = {
    MessageStatus.queued: EventName.message_out_new,
    MessageStatus.sent: EventName.message_out_sent,
    MessageStatus.delivered: EventName.message_out_delivered,
    MessageStatus.read: EventName.message_out_read,
    MessageStatus.failed: EventName.message_out_failed,
    MessageStatus.cancelled: EventName.message_out_cancelled,
}


# The events whose data is an outbound message as GET /v1/messages/{id} shows it.
MESSAGE_EVENTS = set(STATUS_EVENTS.values()) | {EventName.message_out_edited,
                                                 EventName.message_out_revoked}


def known_patterns() -> list[str]:
    """Every name and pattern known_pattern accepts: '*', the names, and each prefix of
    whole segments of a name followed by ':*' (the OpenAPI document's enum)."""
    prefixes = {":".join(n.split(":")[:i]) + ":*" for n in CATALOG
                for i in range(1, n.count(":") + 1)}
    return ["*", *sorted(str(n) for n in CATALOG), *sorted(prefixes)]


def known_pattern(pattern: str) -> bool:
    """'*', an event name, or a prefix ending in ':*' that covers at least one event."""
    if pattern == "*" or pattern in CATALOG:
        return True
    return pattern.endswith(":*") and any(n.startswith(pattern[:-1]) for n in CATALOG)



# The JSON Schema of each event's `data` (the OpenAPI document's `webhooks` section). The
# outbound message events carry the message as GET /v1/messages/{id} shows it, so their
# schema is the API's MessageOut; the others are described here. Each lists what is always
# there; more properties may be added over time, so receivers must ignore unknown ones.
def _obj(required: dict, optional: dict | None = None) -> dict:
    return {"type": "object", "required": sorted(required),
            "properties": required | (optional or {}), "additionalProperties": True}


_S, _NS = {"type": "string"}, {"type": ["string", "null"]}
_T = {"type": "string", "format": "date-time"}
_PHONE = {"type": "string", "description": "E.164, such as +34600100999"}
_CHAT_ID = {"type": "string", "description": "the phone number (E.164) or the group id"}
_LID = {"type": "string", "description": "the contact's anonymous WhatsApp id (<digits>@lid), "
        "when WhatsApp gave one"}

DATA_SCHEMAS: dict[EventName, dict] = {
    EventName.message_in_new: _obj(
        {"id": _S, "wa_id": _S, "direction": {"const": "inbound"}, "type": _S,
         "phone": _PHONE, "message": _S, "received_at": _T},
        {"content": {"type": "object", "description": "media (with a url to fetch it with "
                     "the API key), location, contacts, a reply's quote..."},
         "group": _NS, "chat": _NS, "push_name": _NS,
         "lid": {"type": "string", "description": "the sender's anonymous WhatsApp id "
                 "(<digits>@lid), when WhatsApp gave one; phone is then their number if "
                 "known, else this id"}}),
    EventName.message_in_edited: _obj(
        {"message_id": _NS, "wa_id": _S, "phone": _PHONE, "message": _S, "at": _T},
        {"group": _NS, "url": _S, "lid": _LID}),
    EventName.message_in_revoked: _obj(
        {"message_id": _NS, "wa_id": _S, "phone": _PHONE, "at": _T},
        {"group": _NS, "url": _S, "lid": _LID}),
    EventName.message_reaction: _obj(
        {"id": _S, "wa_id": _S, "message_id": _NS, "message_wa_id": _NS,
         "from_me": {"type": "boolean"}, "emoji": _NS, "phone": _PHONE, "at": _T},
        {"group": _S, "push_name": _S, "lid": {"type": "string", "description": "the "
                                                "reacting contact's anonymous WhatsApp id "
                                                "(<digits>@lid), when known"}}),
    EventName.message_poll_vote: _obj(
        {"message_id": _S, "message_wa_id": _S, "phone": _PHONE,
         "options": {"type": "array", "items": _S}, "at": _T,
         "poll_results": {"type": "object", "required": ["votes", "voters"], "properties": {
             "votes": {"type": "object", "additionalProperties": {"type": "integer"}},
             "voters": {"type": "integer"}}}},
        {"reference": _NS, "group": _S, "lid": _LID}),
    EventName.device_status: _obj(
        {"status": _S, "previous": _S},
        {"code": _S, "message": _S, "detail": {}, "phone": _NS, "previous_phone": _S,
         "recovered": {"type": "boolean"}}),
    EventName.device_queue_paused: _obj({"paused": {"const": True}, "at": _T,
                                         "queued": {"type": "integer"}}),
    EventName.device_queue_resumed: _obj({"paused": {"const": False}, "at": _T,
                                          "queued": {"type": "integer"}}),
    EventName.device_risk: _obj(
        {"rate": {"type": "number"}, "failures": {"type": "integer"},
         "sends": {"type": "integer"}, "window": {"type": "integer"},
         "threshold": {"type": "number"},
         "reasons": {"type": "object", "additionalProperties": {"type": "integer"}}},
        {"message": _S}),
    EventName.chat_update: _obj(
        {"id": _CHAT_ID, "kind": _S, "unread": {"type": "integer"},
         "labels": {"type": "array", "items": _S},
         "changed": {"type": "array", "items": _S}},
        {"last_message": {"type": ["object", "null"]}, "last_message_at": _T,
         "created_at": _T, "updated_at": _T, "name": _NS, "lid": _NS,
         "assigned_to": {"type": ["string", "null"], "description": "the agent (agt_…) who "
                         "answers the chat; null: nobody"}}),
    EventName.chat_delete: _obj({"id": _CHAT_ID, "kind": _S,
                                 "reason": {"enum": ["api", "cleanup", "merged"]}},
                                {"merged_into": {"type": "string", "description": "reason "
                                                 "merged: the number's chat that took this "
                                                 "anonymous id's messages"}}),
    EventName.contact_update: _obj(
        {"phone": _PHONE, "labels": {"type": "array", "items": _S},
         "metadata": {"type": "object"}, "changed": {"type": "array", "items": _S}},
        {"name": _NS, "lid": _NS, "created_at": _T, "updated_at": _T}),
    EventName.group_update: _obj({"operation": {"type": "object"},
                                  "group": {"type": "object"}}),
    EventName.webhook_test: _obj({"webhook_id": _S, "message": _S}),
}
