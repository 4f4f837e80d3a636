from __future__ import annotations

from functions.api.registry import Principal, api
from functions.api.routes import files  # noqa: F401 (registers the file and usage routes)
from functions.api.schemas_messages import (
    EditMessage,
    ForwardMessage,
    MessageList,
    MessageOut,
    MessageQuery,
    SendMessage,
)
from shared.content import Contacts
from shared.services import message_changes, message_forwarding, messages


def _out(message) -> MessageOut:
    # read from the message's attributes (its INTERNAL fields are not MessageOut's): no
    # intermediate dict, half the time of dumping then validating
    return MessageOut.model_validate(message, from_attributes=True)


def _draft(body: SendMessage):
    if body.message is not None:
        return None
    if body.media is not None or body.reaction is not None:
        return (body.media or body.reaction).draft()
    if body.contacts is not None:
        return Contacts(contacts=body.contacts)
    return body.location or body.buttons or body.list or body.poll


@api.route("POST", "/v1/messages", body=SendMessage, response=MessageOut, status=201,
           summary="Queue a message", tag="messages", errors=(404, 409, 413, 429),
           headers={"Idempotency-Key": "Repeat a request safely: the same key and body return "
                    "the message the first request created (status 200); another body with "
                    "the same key gets 409."})
def send_message(p: Principal, body: SendMessage):
    """Queues one message to one `phone` (E.164, such as `+447911123456`) or one `group`, and
    answers at once with status `queued`. Give exactly one content field: `message` (text, up
    to 6000 characters), `media` (image, audio, voice note, video or document, by URL or
    uploaded `file`), `location`, `buttons`, `list`, `contacts`, `reaction` or `poll` (a question with 2 to 12
    options, one or several to choose: votes come as `message:poll:vote` events and the
    message's `poll_results` keeps the tally). The device
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
        expires_at=body.expires_at, typing=body.typing, idempotency_key=p.idempotency_key)
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


@api.route("PATCH", "/v1/messages/{message_id}", body=EditMessage, response=MessageOut,
           summary="Edit a sent text message", tag="messages", errors=(404, 409, 503))
def edit_message(p: Principal, message_id: str, body: EditMessage):
    """Replaces the text of a text message that was sent, for everyone in the chat, as
    WhatsApp allows: within 15 minutes of its `sent_at`. The message shows the new
    `message` and `edited_at`, its chat history too, and `message:out:edited` is emitted.

    Errors: 404 when the message is not in this account; 409 `not_sent` (still queued,
    failed or cancelled), `not_editable` (not a text), `message_revoked`,
    `edit_window_passed` (more than 15 minutes after sending) or `device_not_connected`;
    422 for an empty text or one over 6000 characters; 503 when the device's runner
    cannot be reached (retry)."""
    return _out(message_changes.edit(p.c, p.account_id, message_id, body.message))


@api.route("POST", "/v1/messages/{message_id}/revoke", response=MessageOut,
           summary="Delete a sent message for everyone", tag="messages",
           errors=(404, 409, 503))
def revoke_message(p: Principal, message_id: str):
    """Deletes a sent message for everyone in the chat, as WhatsApp allows: within 60
    hours of its `sent_at`. The message keeps its status and shows `revoked_at`;
    `message:out:revoked` is emitted. To stop a message that was not sent yet, cancel it
    instead (`DELETE /v1/messages/{id}`).

    Errors: 404 when the message is not in this account; 409 `not_sent`,
    `message_revoked` (deleted already), `revoke_window_passed` or
    `device_not_connected`; 503 when the device's runner cannot be reached (retry)."""
    return _out(message_changes.revoke(p.c, p.account_id, message_id))


@api.route("POST", "/v1/messages/{message_id}/forward", body=ForwardMessage, response=MessageOut,
           status=201, summary="Forward a message to another phone or group", tag="messages",
           errors=(404, 409, 413, 429))
def forward_message(p: Principal, message_id: str, body: ForwardMessage):
    """Queues a copy of a message to another `phone` or `group`, shown on WhatsApp as
    forwarded (`forwarded: true`): a message you sent (text, media, location, contacts,
    buttons, lists; not reactions or polls), or one you received (text, location,
    contacts, images, videos, GIFs, audio, documents; not stickers: its id from the chat's
    messages). Received media is sent again from the bytes kept when it arrived (they
    become a file of the account, `media.file`), within the plan's media limits. It is a
    new message, with its own id, status, events and quota unit, sent from the original's
    device unless `device` says otherwise; `Idempotency-Key` is honoured.

    Errors: 404 when the message is not in this account; 409 `not_forwardable` for a
    reaction, a poll or a received sticker, `media_unavailable` when a received file was
    not kept or is gone; 413 `media_too_large` over the plan's limit; 422 without exactly
    one of phone or group; 429 `quota_exceeded` as for any message."""
    message, created = message_forwarding.forward(
        p.c, p.account_id, message_id, phone=body.phone, group=body.group,
        device_id=body.device, priority=body.priority, reference=body.reference,
        idempotency_key=p.idempotency_key)
    return _out(message), 201 if created else 200
