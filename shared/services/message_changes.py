"""Changes to messages already sent: editing a sent text and deleting a message for
everyone (PATCH /v1/messages/{id}, POST /v1/messages/{id}/revoke), done on WhatsApp
through the runner holding the device; and the same changes made by a contact to what
they sent, filed in the chat history and announced (message:in:edited,
message:in:revoked).

WhatsApp's limits: a text can be edited for EDIT_WINDOW after it was sent, and a message
deleted for everyone for REVOKE_WINDOW; outside them the answer is a 409."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.content import Text
from shared.deps import Deps
from shared.domain import Message, MessageStatus
from shared.errors import Conflict
from shared.events import EventName
from shared.ports import Inbound, Write
from shared.repositories.chats import entry_doc_id
from shared.services import chats, event_log
from shared.services.events import message_data

EDIT_WINDOW = timedelta(minutes=15)
REVOKE_WINDOW = timedelta(hours=60)
SENT = (MessageStatus.sent, MessageStatus.delivered, MessageStatus.read)


def _sent_message(deps: Deps, account_id: str, message_id: str, action: str) -> Message:
    message = deps.repos.messages.owned(account_id, message_id)
    if message.revoked_at is not None:
        raise Conflict(f"message {message_id} was deleted for everyone", code="message_revoked")
    if message.status not in SENT or message.sent_at is None:
        raise Conflict(f"message {message_id} is {message.status.value}: only a sent message "
                       f"can be {action}", code="not_sent")
    return message


def _window(message_id: str, sent_at: datetime, window: timedelta, now: datetime,
            action: str, code: str):
    if now - sent_at > window:
        limit = (sent_at + window).astimezone(UTC).isoformat()
        raise Conflict(f"message {message_id} can no longer be {action}: WhatsApp allows it "
                       f"for {_span(window)} after sending (until {limit})", code=code,
                       details={"sent_at": sent_at.isoformat(), "until": limit})


def _span(window: timedelta) -> str:
    minutes = int(window.total_seconds() // 60)
    return f"{minutes} minutes" if minutes < 120 else f"{minutes // 60} hours"


def _commit(deps: Deps, message: Message, changes: dict, name: EventName) -> Message:
    changed = message.model_copy(update=changes)
    stored = {k: (v.model_dump(mode="python") if hasattr(v, "model_dump") else v)
              for k, v in changes.items()}
    event = event_log.new_event(deps.bus, deps.clock, name, message.account_id,
                                message.device_id, message_data(changed))
    writes = [Write.update(deps.repos.messages.name, message.id, stored)]
    entry = entry_doc_id(message.device_id, message.wa_id or message.id)
    if deps.repos.chat_messages.doc(entry) is not None:  # the chat history shows it too
        history = {k: v for k, v in stored.items() if k in ("edited_at", "revoked_at")}
        if "message" in stored:
            history |= {"message": stored["message"], "content": stored["content"]}
        writes.append(Write.update(deps.repos.chat_messages.name, entry, history))
    event_log.commit(deps.bus, deps.store, writes, [event])
    return changed


def edit(deps: Deps, account_id: str, message_id: str, text: str) -> Message:
    message = _sent_message(deps, account_id, message_id, "edited")
    if not isinstance(message.content, Text):
        raise Conflict(f"message {message_id} is a {message.type.value} message: only text "
                       "messages can be edited", code="not_editable")
    now = deps.clock.now()
    _window(message.id, message.sent_at, EDIT_WINDOW, now, "edited",  # type: ignore[arg-type]
            "edit_window_passed")
    deps.runner_rpc.call("edit", {"device_id": message.device_id, "to": message.to,
                                  "wa_id": message.wa_id or message.id, "text": text})
    return _commit(deps, message, {"message": text, "content": Text(text=text),
                                   "edited_at": now}, EventName.message_out_edited)


def revoke(deps: Deps, account_id: str, message_id: str) -> Message:
    message = _sent_message(deps, account_id, message_id, "deleted")
    now = deps.clock.now()
    _window(message.id, message.sent_at, REVOKE_WINDOW, now,  # type: ignore[arg-type]
            "deleted for everyone", "revoke_window_passed")
    deps.runner_rpc.call("revoke", {"device_id": message.device_id, "to": message.to,
                                    "wa_id": message.wa_id or message.id})
    return _commit(deps, message, {"revoked_at": now}, EventName.message_out_revoked)


# --- what contacts change ------------------------------------------------------------


def receive(deps: Deps, device_id: str, change: Inbound) -> bool:
    """A contact edited (type "edit") or deleted (type "revoke") a message they sent the
    device: its chat entry shows it, and the event says it. Once per change (its event
    id derives from the change's WhatsApp id). False when the device has no record of
    the message, or it was not theirs."""
    device = deps.repos.devices.get(device_id)
    target = ((change.content or {}).get("target") or {}).get("wa_id")
    if device is None or not target:
        return False
    entry_id = entry_doc_id(device_id, target)
    entry = deps.repos.chat_messages.doc(entry_id)
    if entry is None or entry.get("direction") != "inbound" or \
            entry.get("phone") != change.sender:
        return False
    chat = entry.get("chat") or change.sender
    data = {"message_id": entry.get("message_id"), "wa_id": target, "phone": change.sender,
            "at": change.at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "group": change.group, "url": chats.messages_url(device_id, chat)}
    if change.lid:
        data["lid"] = change.lid
    if change.type == "edit":
        name, updates = EventName.message_in_edited, {
            "message": change.text, "edited_at": change.at,
            "content": dict(entry.get("content") or {}) | {"text": change.text}}
        data["message"] = change.text
    else:
        name, updates = EventName.message_in_revoked, {"revoked_at": change.at}
    event = event_log.new_event(deps.bus, deps.clock, name, device.account_id, device_id, data,
                                key=f"in:{device_id}:{change.wa_id}")
    return event_log.commit(deps.bus, deps.store, [Write.update(
        deps.repos.chat_messages.name, entry_id, updates)], [event])


def sandbox_change(deps: Deps, account_id: str, device_id: str, message_id: str,
                   text: str | None = None) -> None:
    """The sandbox's actions for a contact's changes: the sender of a message the device
    received edits it to `text`, or (no text) deletes it for everyone, within WhatsApp's
    windows. The change arrives through the runner as WhatsApp's protocol message would."""
    from shared import names
    from shared.domain import Transport
    from shared.errors import BadRequest, NotFound
    from shared.ids import new_id

    device = deps.repos.devices.owned(account_id, device_id)
    if device.transport != Transport.sandbox:
        raise BadRequest(f"device {device_id} uses transport {device.transport.value}; "
                         "a contact's edits and deletions can be injected on sandbox devices "
                         "only", code="not_a_sandbox_device")
    entry = chats.inbound_entry(deps.store, account_id, message_id)
    if entry is None or entry.get("device_id") != device_id:
        raise NotFound(f"message {message_id} was not received by device {device_id}")
    if entry.get("revoked_at") is not None:
        raise Conflict(f"message {message_id} was deleted for everyone", code="message_revoked")
    action = "edited" if text is not None else "deleted for everyone"
    if text is not None and entry.get("type") != "text":
        raise Conflict(f"message {message_id} is a received {entry.get('type')} message: only "
                       "text messages can be edited", code="not_editable")
    window, code = (EDIT_WINDOW, "edit_window_passed") if text is not None else (
        REVOKE_WINDOW, "revoke_window_passed")
    _window(message_id, entry["at"], window, deps.clock.now(), action, code)
    deps.tasks.enqueue(names.RUNNER_CONTROL_QUEUE, names.TARGET_RUNNER_DEVICES, {
        "device_id": device_id, "action": "sandbox_change", "phone": entry.get("phone"),
        "group": entry.get("group"), "target_wa_id": entry["wa_id"], "message": text,
        "wa_id": new_id("wa").upper()})
