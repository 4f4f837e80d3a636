"""The one list of event names."""

from __future__ import annotations

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
    device_status = "device:status"
    chat_update = "chat:update"
    chat_delete = "chat:delete"
    contact_update = "contact:update"
    group_update = "group:update"
    webhook_test = "webhook:test"


DESCRIPTIONS = {
    EventName.message_out_new: "An outbound message was accepted and queued.",
    EventName.message_out_sent: "An outbound message left the device.",
    EventName.message_out_delivered: "An outbound message reached the recipient's phone.",
    EventName.message_out_read: "The recipient read an outbound message.",
    EventName.message_out_failed: "An outbound message failed; data.failure_reason says why.",
    EventName.message_out_cancelled: "A queued outbound message was cancelled.",
    EventName.message_in_new: "A message arrived on a device.",
    EventName.device_status: "A device's status changed.",
    EventName.chat_update: "A chat's labels or unread count were changed through the API.",
    EventName.chat_delete: "A chat and its messages were deleted (data.reason: api or cleanup).",
    EventName.contact_update: "A contact's name, metadata or labels changed.",
    EventName.group_update: "A group operation finished; data.operation says how, data.group "
                            "is the group after it.",
    EventName.webhook_test: "A test event sent by POST /v1/webhooks/{id}/test.",
}

STATUS_EVENTS = {
    MessageStatus.queued: EventName.message_out_new,
    MessageStatus.sent: EventName.message_out_sent,
    MessageStatus.delivered: EventName.message_out_delivered,
    MessageStatus.read: EventName.message_out_read,
    MessageStatus.failed: EventName.message_out_failed,
    MessageStatus.cancelled: EventName.message_out_cancelled,
}
