"""Outbound messages, the API's side: accept and queue, read, list and cancel. What
the caller asks to send is completed by shared.services.message_content; forwarding is
shared.services.message_forwarding. What happens after (claim, sent, delivered, read,
failed) is shared.services.message_transitions.

Accepting a message: the Idempotency-Key is claimed first, then the content is checked
and completed (media fetched and typed, quotes resolved, the rules of buttons and lists),
then one unit of the monthly quota is reserved, and only then is the message written,
its task enqueued and message:out:new published. A failure after the claim or the
reservation undoes it, so a retry starts clean."""

from __future__ import annotations

import hashlib
import json
import random
import time
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from shared import cursor as cursor_codec
from shared import names
from shared.billing import subscriptions
from shared.content import Media, MessageType, Reaction, Text, summary
from shared.deps import Deps
from shared.domain import STATUS_BROADCAST, Device, Message, MessageSource, MessageStatus, Priority
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.ids import new_id, wa_message_id
from shared.ports import TaskQueue, Write, version_of
from shared.services import event_log, message_content, quotas
from shared.services.events import message_status_event

IDEMPOTENCY_TTL = timedelta(hours=24)
REPLAY_WAIT = 10.0  # seconds a duplicate waits for the request it repeats to finish


def resolve_device(deps: Deps, account_id: str, device_id: str | None) -> Device:
    if device_id:  # read at most shared.caches.DEVICE_STALENESS ago
        device = deps.caches.device(device_id)
        if device is None or device.account_id != account_id:
            raise ValidationFailed(f"device: no device {device_id} in this account",
                                   details={"field": "device"}, code="unknown_device")
        return device
    found = deps.caches.first_devices(account_id)  # the only one: as fresh as the above
    if not found:
        raise ValidationFailed("this account has no device: create one with POST /v1/devices",
                               details={"field": "device"}, code="no_device")
    if len(found) > 1:
        raise ValidationFailed("device is required: this account has several devices; "
                               "name the one to send from in 'device'",
                               details={"field": "device"}, code="device_required")
    return found[0]


def _plain(value):
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(getattr(value, k)) for k in value.__dataclass_fields__}
    return value


def _fingerprint(body: dict) -> str:
    plain = {k: _plain(v) for k, v in body.items()}
    return hashlib.sha256(json.dumps(plain, sort_keys=True, default=str).encode()).hexdigest()


def send_message(deps: Deps, account_id: str, *, phone: str | None = None,
                 group: str | None = None, text: str | None = None,
                 content: message_content.Draft | None = None, quote: str | None = None,
                 device_id: str | None = None, priority: Priority = Priority.normal,
                 reference: str | None = None, deliver_at: datetime | None = None,
                 expires_at: datetime | None = None, typing: int | None = None,
                 forwarded: bool = False, status_post: bool = False,
                 background: str | None = None, idempotency_key: str | None = None,
                 source: MessageSource = MessageSource.api,
                 rng: random.Random | None = None) -> tuple[Message, bool]:
    """Queue a message; returns it and whether it was created now (False: an earlier
    request with the same Idempotency-Key created it). `text` is short for Text content."""
    if content is None:
        if text is None:
            raise ValidationFailed("nothing to send: give a text or other content",
                                   code="content_required")
        content = Text(text=text)
    if status_post:
        if phone is not None or group is not None:
            raise ValidationFailed("a status goes to the device's contacts, not to a phone or "
                                   "group", details={"field": "phone"}, code="status_has_no_target")
    elif (phone is None) == (group is None):
        raise ValidationFailed("give exactly one of phone (E.164) or group (a group id)",
                               details={"field": "phone"}, code="target_required")
    if deliver_at is not None:
        deliver_at = deliver_at.astimezone(UTC)
    clock, store = deps.clock, deps.store
    lid = phone if phone and phone.endswith("@lid") else None
    if expires_at is not None:
        expires_at = expires_at.astimezone(UTC)
        if expires_at <= max(clock.now(), deliver_at or clock.now()):
            raise ValidationFailed(
                "expires_at: must be later than now and than deliver_at: a message that "
                "expires before it may be sent would never go out",
                details={"field": "expires_at"}, code="expires_too_soon")
    message_id = new_id("msg")
    idem_id = None
    if idempotency_key:  # the body's fingerprint only matters beside a key
        fingerprint = _fingerprint({"phone": phone, "group": group, "content": content,
                                    "quote": quote, "device": device_id, "priority": priority,
                                    "reference": reference, "deliver_at": deliver_at}
                                   | ({"expires_at": expires_at} if expires_at else {})
                                   | ({"typing": typing} if typing is not None else {})
                                   | ({"forwarded": True} if forwarded else {})
                                   | ({"status_post": True, "background": background}
                                      if status_post else {})
                                   | ({"source": source} if source != MessageSource.api else {}))
        idem_id, earlier = _claim_key(deps, account_id, idempotency_key, fingerprint,
                                      message_id)
        if earlier is not None:
            return earlier, False
    reservation = None
    try:
        device = resolve_device(deps, account_id, device_id)
        subscriptions.ensure_can_send(device, clock.now())  # 402 after the trial or dunning ends
        if lid is not None or phone is not None:
            from shared.services import lids

            if lid is not None:  # to the number's chat when the device knows it
                phone = lids.phone_of(store, device.id, lid) or lid
                if phone != lid:  # a LID chat left unjoined joins now (one read)
                    from shared.services import lid_chats

                    lid_chats.finish(store, deps.bus, clock, device.id, lid, phone)
            else:  # the number's anonymous id, if learnt: its events carry it
                lid = deps.caches.lid_of(store, device.id, phone)  # type: ignore[arg-type]
        to = STATUS_BROADCAST if status_post else (group or phone or "")
        ready = message_content.complete(deps, device, to, content, priority, deliver_at)
        if status_post and not (isinstance(ready, Text) or (
                isinstance(ready, Media) and ready.type in ("image", "video"))):
            raise ValidationFailed(f"media: a {ready.type} cannot be a status; post a text, "
                                   "an image or a video", details={"field": "media"},
                                   code="unsupported_status_media")
        quoted = message_content.message_ref(deps, device, to, quote, "quote") if quote else None
        if quoted is not None and isinstance(ready, Reaction):
            raise ValidationFailed("quote: a reaction cannot quote a message",
                                   details={"field": "quote"}, code="invalid_quote")
        reservation = deps.quota_leases.reserve(device, clock.now(), rng)
        if reservation is None:
            raise quotas.refuse_messages(store, deps.mailer, clock, device)
        message = Message(id=message_id, account_id=account_id, device_id=device.id,
                          type=MessageType(ready.type), phone=phone, group=group,
                          message=summary(ready), content=ready, quote=quoted,
                          priority=priority, source=source, reference=reference,
                          deliver_at=deliver_at, expires_at=expires_at, typing=typing,
                          forwarded=forwarded, status_post=status_post, background=background,
                          lid=lid, created_at=clock.now(),
                          quota_period=reservation.period, quota_shard=reservation.shard)
        message.wa_id = wa_message_id(message.id)
        # The message and its message:out:new are one commit (the event log): a retry
        # with the same Idempotency-Key finds both, and a slow bus delays the answer by
        # the relay's wait at most, never fails it.
        messages = deps.repos.messages
        done = event_log.commit(deps.bus, deps.store,
                                [Write.create(messages.name, message.id, messages.dump(message))],
                                [message_status_event(deps.bus, clock, message)])
        # its task carries the version the commit answered: the claim need not read it
        message = message.made_at_version(version_of(done, messages.name, message.id))
    except BaseException:
        if reservation is not None:
            deps.quota_leases.put_back(device.id, reservation)
        if idem_id is not None:
            deps.repos.idempotency.delete(idem_id)
        raise
    # From here the message exists: a failure to enqueue is repaired by a retry with the
    # same Idempotency-Key (its replay enqueues again) or by the runner's reload.
    enqueue_send(deps.tasks, message)
    return message, True


# --- idempotency ----------------------------------------------------------------------


def _claim_key(deps: Deps, account_id: str, key: str, fingerprint: str,
               message_id: str) -> tuple[str, Message | None]:
    """Own the key (returns (id, None)), or the message of the request that owns it."""
    keys = deps.repos.idempotency
    idem_id = hashlib.sha256(f"{account_id}:{key}".encode()).hexdigest()
    deadline = time.monotonic() + REPLAY_WAIT
    while time.monotonic() < deadline:
        now = deps.clock.now()
        if keys.claim(idem_id, message_id=message_id, fingerprint=fingerprint,
                      account_id=account_id, now=now, until=now + IDEMPOTENCY_TTL):
            return idem_id, None
        earlier = keys.doc(idem_id)
        if earlier is None:
            continue  # the first request failed and gave the key up: take it
        if earlier.get("expires_at") and earlier["expires_at"] < now:
            keys.delete(idem_id)
            continue
        if earlier["fingerprint"] != fingerprint:
            raise Conflict("Idempotency-Key was used before with a different request body",
                           code="idempotency_conflict")
        message = deps.repos.messages.get(earlier["message_id"])
        if message is not None:
            if message.status == MessageStatus.queued:
                enqueue_send(deps.tasks, message)  # named task: a no-op unless it was lost
            return idem_id, message
        time.sleep(0.05)  # the first request is still under way
    raise Conflict("a request with this Idempotency-Key is still being processed; retry "
                   "shortly", code="idempotency_in_progress")


# --- reading and cancelling -----------------------------------------------------------


def enqueue_send(tasks: TaskQueue, message: Message, *, name: str | None = None) -> None:
    """The message's task, on the queue of its priority, due at its deliver_at. Named by
    the message (a repeat is a no-op) unless `name` says otherwise (the runner's hand-back
    of a task that came early, one name per hop)."""
    # MessageTask's fields, built as its model_dump would (the model, validated and dumped
    # again, cost a third of this function: POST /v1/messages calls it every time)
    task = {"message_id": message.id, "device_id": message.device_id,
            "message": message.model_dump(mode="json"), "version": message.version}
    tasks.enqueue(names.MESSAGE_QUEUES[message.priority.value], names.TARGET_RUNNER_MESSAGES,
                  task, name=name or message.id, schedule_at=message.deliver_at)


def get_message(deps: Deps, account_id: str, message_id: str) -> Message:
    try:
        return deps.repos.messages.owned(account_id, message_id)
    except NotFound:
        from shared.services.chats import inbound_entry, messages_url

        entry = inbound_entry(deps.store, account_id, message_id)
        if entry is None:
            raise
        url = messages_url(entry["device_id"], entry["chat"])  # received: it is in its chat
        raise NotFound(f"message {message_id} was received, not sent: received messages are "
                       f"in their chat, GET {url}", code="message_is_inbound",
                       details={"url": url}) from None


def _cursor(message: Message) -> str:
    return cursor_codec.encode(message.created_at.isoformat(), message.id)


def _uncursor(cursor: str) -> tuple[datetime, str]:
    stamp, message_id = cursor_codec.decode_all(cursor, str, str)
    try:
        return cursor_codec.timestamp(stamp), message_id
    except ValueError as exc:
        raise cursor_codec.invalid() from exc


def list_messages(deps: Deps, account_id: str, *, device_id: str | None = None,
                  status: MessageStatus | None = None, phone: str | None = None,
                  group: str | None = None, reference: str | None = None,
                  since: datetime | None = None, until: datetime | None = None,
                  limit: int = 50, cursor: str | None = None) -> tuple[list[Message], str | None]:
    """Newest first; returns a page and the cursor of the next one (None: last page)."""
    where = [("account_id", "==", account_id)]
    for field, value in (("device_id", device_id), ("status", status and status.value),
                         ("phone", phone), ("group", group), ("reference", reference)):
        if value is not None:
            where.append((field, "==", value))
    if since is not None:
        where.append(("created_at", ">=", since))
    if until is not None:
        where.append(("created_at", "<", until))
    found = deps.repos.messages.page(where, limit + 1, _uncursor(cursor) if cursor else None)
    page = found[:limit]
    return page, (_cursor(page[-1]) if len(found) > limit else None)


def cancel_message(deps: Deps, account_id: str, message_id: str) -> Message:
    messages = deps.repos.messages
    message = messages.owned(account_id, message_id)
    now = deps.clock.now()
    cancelled = message.model_copy(update={"status": MessageStatus.cancelled,
                                           "cancelled_at": now})
    ok = event_log.commit(deps.bus, deps.store, [Write.update(
        messages.name, message_id, {"status": MessageStatus.cancelled.value, "cancelled_at": now},
        when={"status": MessageStatus.queued.value, "claimed_by": None})],
        [message_status_event(deps.bus, deps.clock, cancelled)])
    if not ok:
        raise Conflict(f"message {message_id} is {message.status.value}; only a queued "
                       "message that is not being sent can be cancelled", code="not_cancellable")
    quotas.release(deps.store, message.device_id, message.quota_period, message.quota_shard)
    return cancelled
