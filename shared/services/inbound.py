"""The inbound flow: a message that arrived on a device is filed in its chat (once, keyed
by its WhatsApp id, so a redelivered event is stored once) and announced as
message:in:new, or, for a reaction, as message:reaction."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from shared.deps import Deps
from shared.events import EventName
from shared.ports import Inbound
from shared.repositories.chats import entry_doc_id
from shared.services import chats
from shared.services.event_log import new_event


def receive(deps: Deps, device_id: str, message: Inbound) -> None:
    """File and announce one inbound message; the same message again (a redelivery, or a
    replay after a crash) changes nothing: its record id and its event id derive from the
    device and the WhatsApp id, and the chat entry and the event are one commit."""
    # (only its account is used, which never changes: the cache may lag a deletion by
    # DEVICE_STALENESS, as a message read just before the deletion would)
    device = deps.caches.device(device_id)
    if device is None:
        return
    anonymous = False  # filed under the LID: its number may be learnt meanwhile
    if message.lid:  # an anonymous id: file it under the number when known (one chat)
        from dataclasses import replace

        from shared.services import lid_chats, lids  # one person, one chat

        if message.sender and not lids.is_lid(message.sender):
            if lids.learn(deps.store, device_id, message.lid, message.sender):
                lid_chats.join(deps.store, deps.bus, deps.clock, device_id, message.lid,
                               message.sender)
            else:  # a join left undone, or a LID chat opened since: one read
                lid_chats.finish(deps.store, deps.bus, deps.clock, device_id, message.lid,
                                 message.sender)
        else:
            known = lids.phone_of(deps.store, device_id, message.lid)
            if known:
                lid_chats.finish(deps.store, deps.bus, deps.clock, device_id, message.lid,
                                 known)
            anonymous = known is None
            message = replace(message, sender=known or message.lid)
    if message.type == "poll_vote":  # a vote is the poll's, not a message of the chat
        from shared.services import polls

        content = message.content or {}
        polls.record_vote(deps, device_id, poll_wa_id=content.get("poll_wa_id") or "",
                          voter=message.sender, vote_wa_id=message.wa_id, at=message.at,
                          option_hashes=list(content.get("option_hashes") or []),
                          group=message.group, lid=message.lid)
        return
    if message.type in ("edit", "revoke"):  # a change to a message filed before
        from shared.services import message_changes

        message_changes.receive(deps, device_id, message)
        return
    key = f"{device_id}:{message.wa_id}"
    record = {"id": "msg_" + hashlib.sha256(key.encode()).hexdigest()[:20],
              "wa_id": message.wa_id, "device_id": device_id,
              "direction": "inbound", "type": message.type, "phone": message.sender,
              "message": message.text, "received_at": message.at}
    if message.content:  # media (with its URL), location, contacts, reaction, reply...
        record["content"] = message.content
    if message.group:
        record["group"] = record["chat"] = message.group
    if message.push_name:
        record["push_name"] = message.push_name
    if message.lid:
        record["lid"] = message.lid
    if message.type == "reaction":  # filed in its chat, announced as a reaction
        name, data = EventName.message_reaction, reaction_data(deps, device_id, record)
    else:
        name = EventName.message_in_new
        data = {k: _json(v) for k, v in record.items() if k != "device_id"}
        data.setdefault("group", None)
        data["url"] = chats.messages_url(device_id, record.get("chat") or record["phone"])
    event = new_event(deps.bus, deps.clock, name, device.account_id, device_id, data,
                      key=f"in:{key}")
    chats.record_inbound(deps.store, deps.clock, device.account_id, device_id, record,
                         bus=deps.bus, events=[event])
    if anonymous:  # learnt while this was filed: its LID chat joins the number's now
        from shared.services import lid_chats, lids

        phone = lids.phone_of(deps.store, device_id, message.lid or "")
        if phone:
            lid_chats.join(deps.store, deps.bus, deps.clock, device_id, message.lid or "",
                           phone)


def reaction_data(deps: Deps, device_id: str, record: dict) -> dict:
    """message:reaction's data (shared/events.py): the reaction, and the message it is on
    as this device knows it (its chat entry, else its outbound record)."""
    content = record.get("content") or {}
    target = content.get("target") or {}
    target_wa_id = target.get("wa_id") or None
    message_id = None
    if target_wa_id:
        entry = deps.repos.chat_messages.doc(entry_doc_id(device_id, target_wa_id))
        if entry is not None:
            message_id = entry.get("message_id")
        else:
            sent = deps.repos.messages.find_by_wa_id(target_wa_id)
            message_id = sent.id if sent and sent.device_id == device_id else None
    data = {"id": record["id"], "wa_id": record["wa_id"], "message_id": message_id,
            "message_wa_id": target_wa_id, "from_me": bool(target.get("from_me")),
            "emoji": content.get("emoji") or record.get("message") or None,
            "phone": record["phone"], "at": _json(record["received_at"])}
    for key in ("group", "push_name", "lid"):
        if record.get(key):
            data[key] = record[key]
    return data


def _json(value):
    """As every timestamp of the API: ISO 8601 in UTC, ending in Z."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value
