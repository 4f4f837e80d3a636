from __future__ import annotations

from functions.api.registry import Principal, api
from functions.api.routes import files  # noqa: F401 (registers the file and usage routes)
from functions.api.schemas_messages import (
    MessageList,
    MessageOut,
    MessageQuery,
    SendMessage,
)
from shared.content import Contacts
from shared.services import messages


def _out(message) -> MessageOut:
    return MessageOut.model_validate(message.model_dump(exclude=message.INTERNAL))


def _draft(body: SendMessage):
    if body.message is not None:
        return None
    if body.media is not None:
        m = body.media
        return messages.MediaRequest(url=m.url, file=m.file, type=m.type, caption=m.caption,
                                     filename=m.filename, voice=m.voice)
    if body.reaction is not None:
        return messages.ReactionRequest(message=body.reaction.message, emoji=body.reaction.emoji)
    if body.contacts is not None:
        return Contacts(contacts=body.contacts)
    return body.location or body.buttons or body.list


@api.route("POST", "/v1/messages", body=SendMessage, response=MessageOut, status=201,
           summary="Queue a message", tag="messages", errors=(404, 409, 413, 429),
           headers={"Idempotency-Key": "Repeat a request safely: the same key and body return "
                    "the message the first request created (status 200); another body with "
                    "the same key gets 409."})
def send_message(p: Principal, body: SendMessage):
    """Queues one message to one `phone` (E.164, such as `+447911123456`) or one `group`, and
    answers at once with status `queued`. Give exactly one content field: `message` (text, up
    to 6000 characters), `media` (image, audio, voice note, video or document, by URL or
    uploaded `file`), `location`, `buttons`, `list`, `contacts` or `reaction`. The device
    sends in order of `priority` (`urgent`, `high`, `normal`, `low`) at its delivery speed;
    `deliver_at` schedules it; `expires_at` makes it fail with `expired` rather than go out
    late. Status then moves `queued → sent → delivered → read`, each
    step a webhook event, or `failed` with a `failure_reason` such as
    `number_not_on_whatsapp`.

    There is no bulk send: one message, one request, so that each has its own id, status and
    retry, and so that pacing protects your number. Send the same body again with the same
    `Idempotency-Key` header and you get the first message back (200), never a second one.
    Each message counts against the device's monthly plan quota; failed ones do not.

    Errors: 402 when the device's trial ended without a subscription; 404 when `device` is
    not in this account; 409 when the `Idempotency-Key` was used with another body; 413 when
    the media is larger than the plan allows; 422 for a bad number, two content fields, text
    over 6000 characters, a schedule more than 365 days ahead, or an `expires_at`
    not later than now and `deliver_at` (`expires_too_soon`); 429 `quota_exceeded` when
    the month's messages are used up."""
    message, created = messages.send_message(
        p.c, p.account_id, phone=body.phone, group=body.group, text=body.message,
        content=_draft(body), quote=body.quote, device_id=body.device, priority=body.priority,
        reference=body.reference, deliver_at=body.deliver_at,
        expires_at=body.expires_at, idempotency_key=p.idempotency_key)
    return _out(message), 201 if created else 200


@api.route("GET", "/v1/messages/{message_id}", response=MessageOut, summary="Get a message",
           tag="messages", errors=(404,))
def get_message(p: Principal, message_id: str):
    """One message with its status and the time of each step (`sent_at`, `delivered_at`,
    `read_at`, `failed_at` and `failure_reason`). Webhooks tell you the same without
    polling.

    Errors: 404 when the message is not in this account."""
    return _out(messages.get_message(p.c, p.account_id, message_id))


@api.route("GET", "/v1/messages", query=MessageQuery, response=MessageList,
           summary="List messages, newest first, a page at a time", tag="messages")
def list_messages(p: Principal, query: MessageQuery):
    """The account's outbound messages, newest first, filtered by `device`, `status`,
    `phone`, `group`, `reference` (your own id) and a time range (`since`, `until`). Page
    with `cursor` (the previous answer's `next_cursor`) until it is null.

    Errors: 422 for an unknown status, a bad time or a cursor this API did not return."""
    found, cursor = messages.list_messages(
        p.c, p.account_id, device_id=query.device, status=query.status, phone=query.phone,
        group=query.group, reference=query.reference, since=query.since, until=query.until,
        limit=query.limit, cursor=query.cursor)
    return MessageList(data=[_out(m) for m in found], next_cursor=cursor)


@api.route("DELETE", "/v1/messages/{message_id}", response=MessageOut,
           summary="Cancel a queued or scheduled message", tag="messages", errors=(404, 409))
def cancel_message(p: Principal, message_id: str):
    """Cancels a message that is still `queued` (scheduled or waiting its turn): it becomes
    `cancelled`, emits `message:out:cancelled` and does not count against the quota.

    Errors: 404 when the message is not in this account; 409 when it was already sent,
    failed or cancelled."""
    return _out(messages.cancel_message(p.c, p.account_id,
                                        message_id))
