"""Polls: the votes that arrive on a poll a device sent. WhatsApp sends each vote as the
SHA-256 of the chosen options' names (encrypted; the WhatsApp adapter decrypts it); a
voter's new vote replaces their last one, and an empty one withdraws it. Each vote is
kept (collection poll_votes, one document per poll and voter), the poll's tally is
written on the message (poll_results), and message:poll:vote is published, all in one
commit (the event log)."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from shared.content import Poll
from shared.deps import Deps
from shared.domain import Message
from shared.events import EventName
from shared.ports import Write
from shared.services import event_log

log = logging.getLogger(__name__)

VOTES = "poll_votes"


def option_hash(option: str) -> str:
    return hashlib.sha256(option.encode()).hexdigest()


def tally(poll: Poll, votes: list[list[str]]) -> dict:
    counts = dict.fromkeys(poll.options, 0)
    for chosen in votes:
        for option in chosen:
            if option in counts:
                counts[option] += 1
    return {"votes": counts, "voters": sum(1 for chosen in votes if chosen)}


def record_vote(deps: Deps, device_id: str, *, poll_wa_id: str, voter: str, vote_wa_id: str,
                at: datetime, option_hashes: list[str], group: str | None = None,
                lid: str | None = None) -> bool:
    """File one vote; False when the poll is not one this device sent."""
    messages = deps.repos.messages
    poll_message = messages.find_by_wa_id(poll_wa_id)
    if poll_message is None or poll_message.device_id != device_id or \
            not isinstance(poll_message.content, Poll):
        log.info("device %s: a vote on %s, which is not a poll it sent", device_id, poll_wa_id)
        return False
    poll = poll_message.content
    by_hash = {option_hash(option): option for option in poll.options}
    chosen = [by_hash[h] for h in option_hashes if h in by_hash]
    if not poll.multiple:
        chosen = chosen[:1]
    vote_id = f"{poll_message.id}:{voter}"
    others = [d.get("options") or [] for d in deps.store.query(
        VOTES, [("message_id", "==", poll_message.id)]) if d.get("voter") != voter]
    results = tally(poll, [*others, chosen])
    data = {"message_id": poll_message.id, "message_wa_id": poll_wa_id, "phone": voter,
            "options": chosen, "at": at.isoformat().replace("+00:00", "Z"),
            "poll_results": results, "reference": poll_message.reference}
    if group:
        data["group"] = group
    if lid:
        data["lid"] = lid
    event = event_log.new_event(deps.bus, deps.clock, EventName.message_poll_vote,
                                poll_message.account_id, device_id, data,
                                key=f"vote:{device_id}:{vote_wa_id}")
    return event_log.commit(deps.bus, deps.store, [
        Write.put(VOTES, vote_id, {"message_id": poll_message.id, "device_id": device_id,
                                   "voter": voter, "options": chosen, "at": at}),
        Write.update(messages.name, poll_message.id, {"poll_results": results})], [event])


def poll_of(deps: Deps, account_id: str, device_id: str, message_id: str) -> Message:
    """The poll `message_id` this device sent (for the sandbox's vote action)."""
    from shared.errors import Conflict, ValidationFailed

    message = deps.repos.messages.owned(account_id, message_id)
    if message.device_id != device_id or not isinstance(message.content, Poll):
        raise ValidationFailed(f"message: {message_id} is not a poll sent from device "
                               f"{device_id}", details={"field": "message"}, code="not_a_poll")
    if message.status.value in ("queued", "failed", "cancelled"):
        raise Conflict(f"poll {message_id} is {message.status.value}: only a poll that was "
                       "sent can be voted on", code="poll_not_sent")
    return message


def sandbox_vote(deps: Deps, account_id: str, device_id: str, message_id: str, voter: str,
                 options: list[str]) -> None:
    """The sandbox's vote action: `voter` votes `options` on a poll the device sent."""
    from shared import names
    from shared.domain import Transport
    from shared.errors import BadRequest, ValidationFailed
    from shared.ids import new_id

    device = deps.repos.devices.owned(account_id, device_id)
    if device.transport != Transport.sandbox:
        raise BadRequest(f"device {device_id} uses transport {device.transport.value}; "
                         "votes can be injected on sandbox devices only",
                         code="not_a_sandbox_device")
    message = poll_of(deps, account_id, device_id, message_id)
    poll = message.content
    unknown = [option for option in options if option not in poll.options]
    if unknown:
        raise ValidationFailed(f"options: {', '.join(map(repr, unknown))} not among the poll's "
                               f"options {poll.options}", details={"field": "options"},
                               code="unknown_option")
    if len(set(options)) != len(options):
        raise ValidationFailed("options: each option at most once",
                               details={"field": "options"}, code="repeated_option")
    if not poll.multiple and len(options) > 1:
        raise ValidationFailed("options: this poll takes one option per voter",
                               details={"field": "options"}, code="single_choice_poll")
    deps.tasks.enqueue(names.RUNNER_CONTROL_QUEUE, names.TARGET_RUNNER_DEVICES, {
        "device_id": device_id, "action": "sandbox_poll_vote", "phone": voter,
        "poll_wa_id": message.wa_id, "options": options, "wa_id": new_id("wa").upper()})
