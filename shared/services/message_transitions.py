"""The runner's side of an outbound message: claim it for sending, give the claim back,
and move its status on (sent, delivered, read, failed). Each transition is conditional
on the current status, so a repeated task, a retry or a second runner cannot send a
message twice; each commits its event with it (the event log). Accepting a message
is shared.services.messages.

A message that knows its document's version (Message.version: its task brought the one
the API's commit answered, and each transition here hands on the one its own commit
answered) is moved on by a write conditional on that version, checked by the store
without reading the document (DocumentStore.commit, Write.version): its fields are the
document's, so the status is checked on the copy. When the document is no longer at that
version (a cancel, an edit, another runner, a receipt on another thread), nothing is
written and the transition is made as without a version: conditional on the fields,
which the store reads."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from shared.deps import Deps
from shared.domain import FailureReason, Message, MessageStatus
from shared.ports import AnyOf, Guard, Write, version_of
from shared.services import event_log, quotas
from shared.services.events import message_status_event


def claim(deps: Deps, message_id: str, shard: str, *, current: Message | None = None,
          fence: Callable[[str], Guard | None] | None = None) -> Message | None:
    """Take a queued message for sending. None when it is no longer ours to send. With
    `current` (read when its task came) no second read is needed: only status and claim
    change after a message is created, and the claim's condition checks both. With a
    `fence` (the runner's leases), the claim holds only while the runner still holds the
    message's device: it is written in one atomic step with that check."""
    messages = deps.repos.messages
    device_id = current.device_id if current is not None else \
        (messages.doc(message_id) or {}).get("device_id")
    if not device_id:
        return None
    # Never while the device's queue is paused (shared.services.device_queue): the same
    # atomic step checks it, so a pause the runner has not heard of yet still holds.
    guard = deps.repos.devices.guard(device_id, {"queue_paused_at": None})
    if fence is not None:
        fenced = fence(device_id)
        if fenced is None:
            return None
        guard = Guard(fenced.collection, fenced.doc_id, fenced.when | guard.when) \
            if (fenced.collection, fenced.doc_id) == (guard.collection, guard.doc_id) else fenced
    if current is not None and current.version is not None and \
            current.status == MessageStatus.queued and current.claimed_by is None:
        done = deps.store.commit([Write.update(messages.name, message_id, {"claimed_by": shard},
                                               version=current.version)], guard=guard)
        if done:
            return current.model_copy(update={"claimed_by": shard}).made_at_version(
                version_of(done, messages.name, message_id))
        # changed since (or the guard refused): the claim's conditions, read, decide
    for holder in (None, shard):
        if messages.set_claim(message_id, shard, was=holder, guard=guard):
            if current is not None:
                return current.model_copy(update={"claimed_by": shard})
            return messages.get(message_id)
    return None


def unclaim(deps: Deps, message_id: str, shard: str) -> bool:
    """Give a claimed message back (a transient failure): it can be cancelled again."""
    return deps.repos.messages.set_claim(message_id, None, was=shard)


def release_foreign_claims(deps: Deps, device_id: str, shard: str, fence: Guard) -> None:
    """Taking a device over from another shard: the claims that shard left on queued
    messages (it died between claim and send) become ours to send; the resend reuses
    the WhatsApp message id, so a message that did leave is not shown twice."""
    messages = deps.repos.messages
    for message in messages.queued_for_device(device_id):
        if message.claimed_by not in (None, shard):
            messages.set_claim(message.id, None, was=message.claimed_by, guard=fence)


# What others may change of a message after it is sent (edit, revoke): a transition from
# a copy kept since (shared.caches.Caches.sent) is conditional on them being unchanged,
# so its event never shows a message older than the document.
CHANGED_AFTER_SENDING = ("edited_at", "revoked_at")


def _transition(deps: Deps, message_id: str, status: MessageStatus, stamp: str,
                allowed_from: tuple[MessageStatus, ...], extra: dict | None = None,
                current: Message | None = None, kept: bool = False) -> Message | None:
    """Move a message on if its status allows, its event in the same commit (the event
    log). With `current` (the message as the caller just read it) the event is built from
    it and the changes, saving a read; the commit's condition checks the status either
    way. `kept`: `current` is a copy kept since an earlier step, so the condition also
    checks CHANGED_AFTER_SENDING (None when they changed: the caller reads again).
    A `current` at a known version is written on that version first (the module's
    docstring). The message returned is at the version its commit answered."""
    messages = deps.repos.messages
    if current is None:
        current = messages.get(message_id)
        if current is None:
            return None
    now = deps.clock.now()
    changes = {"status": status, stamp: now} | (extra or {})
    stored = {k: v.value if isinstance(v, StrEnum) else v for k, v in changes.items()}
    message = current.model_copy(update=changes)
    event = message_status_event(deps.bus, deps.clock, message)
    if current.version is not None and current.status in allowed_from:
        done = event_log.commit(deps.bus, deps.store, [Write.update(
            messages.name, message_id, stored, version=current.version)], [event])
        if done:
            return message.made_at_version(version_of(done, messages.name, message_id))
        # not at that version any more: as without it, the fields decide
    when = {"status": AnyOf(s.value for s in allowed_from)}
    if kept:
        when |= {field: getattr(current, field) for field in CHANGED_AFTER_SENDING}
    done = event_log.commit(deps.bus, deps.store, [Write.update(
        messages.name, message_id, stored, when=when)], [event])
    if not done:
        return None
    return message.made_at_version(version_of(done, messages.name, message_id))


def mark_sent(deps: Deps, message_id: str, *, current: Message | None = None) -> Message | None:
    return _transition(deps, message_id, MessageStatus.sent, "sent_at",
                       (MessageStatus.queued,), current=current)


def mark_delivered(deps: Deps, message_id: str, *, current: Message | None = None,
                   kept: bool = False) -> Message | None:
    return _transition(deps, message_id, MessageStatus.delivered, "delivered_at",
                       (MessageStatus.sent,), current=current, kept=kept)


def mark_read(deps: Deps, message_id: str, *, current: Message | None = None,
              kept: bool = False) -> Message | None:
    """A read receipt. One that overtook the delivered receipt moves the message through
    `delivered` first (its own commit and event), so every read message has had its
    message:out:delivered, before message:out:read; the late delivered receipt then
    changes nothing."""
    if current is None:
        current = deps.repos.messages.get(message_id)
        if current is None:
            return None
    if current.status == MessageStatus.sent:
        current = mark_delivered(deps, message_id, current=current, kept=kept)
    return _transition(deps, message_id, MessageStatus.read, "read_at",
                       (MessageStatus.delivered,), current=current, kept=kept)


def expire(deps: Deps, message: Message) -> Message | None:
    """Fail a queued message that was not sent by its expires_at (reason `expired`), unless
    a runner holds it for sending at this moment."""
    messages = deps.repos.messages
    now = deps.clock.now()
    failed = message.model_copy(update={"status": MessageStatus.failed, "failed_at": now,
                                        "failure_reason": FailureReason.expired})
    if not event_log.commit(deps.bus, deps.store, [Write.update(
            messages.name, message.id, {"status": MessageStatus.failed.value, "failed_at": now,
                                        "failure_reason": FailureReason.expired.value},
            when={"status": MessageStatus.queued.value, "claimed_by": None})],
            [message_status_event(deps.bus, deps.clock, failed)]):
        return None
    quotas.release(deps.store, failed.device_id, failed.quota_period, failed.quota_shard)
    return failed


def fail(deps: Deps, message: Message, reason: FailureReason) -> Message | None:
    """Fail a queued message; it no longer counts towards the monthly quota."""
    failed = _transition(deps, message.id, MessageStatus.failed, "failed_at",
                         (MessageStatus.queued,), {"failure_reason": reason}, current=message)
    if failed is not None:
        quotas.release(deps.store, failed.device_id, failed.quota_period, failed.quota_shard)
    return failed
