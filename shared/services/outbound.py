"""The runner's half of the send flow: one queued message through a device's transport,
and the receipts that come back.

claim (a conditional write: only one runner, once) → the media's bytes → the transport →
`sent` and the chat's record; or, after a transient failure, the claim given back for a
retry (at most MAX_SEND_ATTEMPTS attempts, so a cancel can land between them); or
`failed` with a reason, which gives the quota back."""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum

from shared.content import Media
from shared.deps import Deps
from shared.domain import Device, FailureReason, Message, MessageStatus
from shared.ports import Guard, MessageSender, Receipt, SendResult
from shared.services import daily_caps, files
from shared.services import message_transitions as transitions

log = logging.getLogger(__name__)

MAX_SEND_ATTEMPTS = 6  # transient failures, with the session's backoff: about 5 minutes


class SendOutcome(StrEnum):
    not_ours = "not_ours"  # cancelled, sent already, or another runner's: nothing was sent
    done = "done"  # sent, or failed for good
    retry = "retry"  # a transient failure: try again after a backoff
    expired = "expired"  # past its expires_at: failed `expired`, nothing was sent
    capped = "capped"  # the device's daily cap is reached: it waits for the next day


def send_queued(deps: Deps, sender: MessageSender, message_id: str, shard: str, *,
                attempt: int = 1,
                current: Message | None = None,
                fence: Callable[[str], Guard | None] | None = None,
                device: Device | None = None,
                on_result: Callable[[SendResult], None] | None = None) -> SendOutcome:
    """Send a queued message once. `attempt` counts from 1; `current` is the message as
    its task brought it (saves a read); `fence` guards the claim with the device's lease
    (shared.services.message_transitions.claim); `device` (as the runner holds it) brings
    the daily cap (shared.services.daily_caps); `on_result` hears what WhatsApp answered."""
    message = transitions.claim(deps, message_id, shard, current=current, fence=fence)
    if message is None:
        return SendOutcome.not_ours
    now = deps.clock.now()
    if message.expires_at is not None and now >= message.expires_at:
        transitions.unclaim(deps, message.id, shard)
        transitions.expire(deps, message)  # never goes out late
        return SendOutcome.expired
    held = None  # the unit of the device's daily cap this send counts, when one applies
    if device is not None and daily_caps.cap_on(device, now) is not None:
        held = deps.daily_leases.reserve(device, now)  # (in blocks: quota_leases)
        if held is None:
            transitions.unclaim(deps, message.id, shard)
            return SendOutcome.capped
    media = None
    if isinstance(message.content, Media):
        media = files.read_bytes(deps.storage, message.content.file, message.account_id)
        if media is None:
            if held is not None:
                deps.daily_leases.put_back(message.device_id, held)
            transitions.fail(deps, message, FailureReason.media_unavailable)
            return SendOutcome.done
    seconds = message.typing if message.typing is not None else (
        device.settings.typing_seconds if device is not None else 0)
    if seconds and hasattr(sender, "typing") and not message.status_post:
        sender.typing(message.device_id, message.to, seconds)  # type: ignore[attr-defined]
    context: dict = {}
    if message.quote is not None:
        context["quote"] = message.quote.model_dump(mode="json")
    if message.forwarded:
        context["forwarded"] = True
    if message.status_post:
        context["background"] = message.background
    try:
        result = sender.send(message.device_id, message.wa_id or message.id, message.to,
                             message.content, media, **context)
    except Exception:
        # A transport that raises is a transient failure like any other: the same retry
        # cap, and the claim given back between attempts.
        log.exception("transport raised sending %s", message_id)
        result = SendResult(False, FailureReason.transport_error, retryable=True)
    if on_result is not None:
        on_result(result)
    if result.ok:
        if device is not None and device.settings.read_on_reply and hasattr(sender, "mark_read"):
            _read_on_reply(deps, sender, message)  # before filing ours resets the count
        deps.caches.moved_on(transitions.mark_sent(deps, message.id, current=message))
        if not message.status_post:  # a status is no chat's message
            deps.outbound_filing.file(message)  # at once, or with the next (chat_filing)
        return SendOutcome.done
    reason = result.reason or FailureReason.transport_error
    if result.retryable and attempt < MAX_SEND_ATTEMPTS:
        log.warning("sending %s failed (%s), attempt %d; retrying", message_id, reason.value,
                    attempt)
        transitions.unclaim(deps, message.id, shard)
        if held is not None:
            deps.daily_leases.put_back(message.device_id, held)
        return SendOutcome.retry
    transitions.fail(deps, message, reason)
    return SendOutcome.done


def record_receipt(deps: Deps, wa_id: str, receipt: Receipt) -> None:
    """WhatsApp says a message we sent was delivered or read. The message as this runner
    sent it saves the look-up; when it changed since (or is not kept), it is read."""
    kept = deps.caches.sent(wa_id)
    if kept is not None:
        target = MessageStatus.delivered if receipt == Receipt.delivered else MessageStatus.read
        if kept.status == MessageStatus.read or kept.status == target:
            return  # a receipt again: this runner moved it on already (statuses only advance)
        mark = transitions.mark_delivered if receipt == Receipt.delivered else transitions.mark_read
        moved = mark(deps, kept.id, current=kept, kept=True)
        if moved is not None:
            deps.caches.moved_on(moved)
            return
    messages = deps.repos.messages
    message = messages.find_by_wa_id(wa_id)
    if message is None:
        return
    if message.status == MessageStatus.queued:
        # The receipt overtook our own record of the send: record the send first.
        message = (transitions.mark_sent(deps, message.id, current=message)
                   or messages.find_by_wa_id(wa_id) or message)
    if receipt == Receipt.delivered:
        transitions.mark_delivered(deps, message.id, current=message)
    else:
        transitions.mark_read(deps, message.id, current=message)


def _read_on_reply(deps: Deps, sender, message: Message) -> None:
    """The device answers a chat: its unread messages get their read receipts."""
    from shared.services.chat_read import unread_receipts

    chat = deps.repos.chats.of(message.device_id, message.to)
    receipts = unread_receipts(deps.store, chat) if chat is not None else []
    if not receipts:
        return
    try:
        sender.mark_read(message.device_id, message.to, receipts)
    except Exception:  # a courtesy: the reply has gone out regardless
        log.warning("device %s: could not mark %s read", message.device_id, message.to)
