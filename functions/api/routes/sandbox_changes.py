"""The sandbox's actions for what contacts send and change: a file, and an edit and a
deletion for everyone of a message the device received."""

from __future__ import annotations

from pydantic import ConfigDict, Field, field_validator

from functions.api.registry import Principal, api
from functions.api.schemas import Accepted, Phone
from shared.content import MAX_CAPTION, MAX_TEXT, e164
from shared.model import Model
from shared.services import devices, message_changes

MESSAGE = Field(min_length=1, max_length=100, description="The received message's id (msg_…, "
                "as in message:in:new and the chat's history).")


class SandboxInboundMedia(Model):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"phone": "+447911123457", "file": "file_0a1b2c3d4e5f6a7b8c9d0e1f",
         "caption": "The damage, as promised"}]})
    phone: Phone = Field(description="The sender, in E.164.")
    file: str = Field(min_length=1, max_length=100, description="A file of this account "
                      "(file_…, from POST /v1/files): what the sender sends.")
    caption: str | None = Field(default=None, max_length=MAX_CAPTION)

    _phone = field_validator("phone")(e164)


class SandboxInboundEdit(Model):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"message": "msg_1b2c3d4e5f6a7b8c9d0e", "text": "Hi, is order #1042 on its way?"}]})
    message: str = MESSAGE
    text: str = Field(min_length=1, max_length=MAX_TEXT, description="The new text.")


class SandboxInboundRevoke(Model):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"message": "msg_1b2c3d4e5f6a7b8c9d0e"}]})
    message: str = MESSAGE


@api.route("POST", "/v1/devices/{device_id}/sandbox/inbound-edit", body=SandboxInboundEdit,
           response=Accepted, status=202, tag="devices", errors=(404, 409),
           summary="Have a sandbox contact edit a message they sent")
def sandbox_inbound_edit(p: Principal, device_id: str, body: SandboxInboundEdit):
    """For sandbox devices only: pretends that the contact who sent `message` (a text the
    device received) edited it to `text`, as WhatsApp carries an edit. It arrives like a
    real one: the chat's history shows the new text with `edited_at`, and your webhooks get
    `message:in:edited`.

    Errors: 400 when the device is a real WhatsApp device; 404 when the device is not in
    this account or did not receive the message; 409 `message_revoked` when it was deleted,
    `not_editable` when it is not a text, `edit_window_passed` past WhatsApp's 15 minutes
    after it arrived; 422 for a bad body."""
    message_changes.sandbox_change(p.c, p.account_id, device_id, body.message, body.text)
    return Accepted()


@api.route("POST", "/v1/devices/{device_id}/sandbox/inbound-revoke", body=SandboxInboundRevoke,
           response=Accepted, status=202, tag="devices", errors=(404, 409),
           summary="Have a sandbox contact delete a message for everyone")
def sandbox_inbound_revoke(p: Principal, device_id: str, body: SandboxInboundRevoke):
    """For sandbox devices only: pretends that the contact who sent `message` deleted it for
    everyone, as WhatsApp carries a deletion. It arrives like a real one: the chat's history
    shows it with `revoked_at`, and your webhooks get `message:in:revoked`.

    Errors: 400 when the device is a real WhatsApp device; 404 when the device is not in
    this account or did not receive the message; 409 `message_revoked` when it was deleted
    already, `revoke_window_passed` past WhatsApp's 60 hours after it arrived; 422 for a
    bad body."""
    message_changes.sandbox_change(p.c, p.account_id, device_id, body.message)
    return Accepted()


@api.route("POST", "/v1/devices/{device_id}/sandbox/inbound-media", body=SandboxInboundMedia,
           response=Accepted, status=202, tag="devices", errors=(404,),
           summary="Have a sandbox contact send a file")
def sandbox_inbound_media(p: Principal, device_id: str, body: SandboxInboundMedia):
    """For sandbox devices only: pretends that `phone` sent the device `file` (uploaded
    first with `POST /v1/files`) as an image, video, audio or document, as its bytes say,
    with `caption`. It arrives like WhatsApp's: kept for the device
    (`GET /v1/devices/{device_id}/media/{name}`), filed in the chat and sent to your
    webhooks as `message:in:new` with its `content.url`; it can be forwarded.

    Errors: 400 when the device is a real WhatsApp device; 404 when the device is not in
    this account; 422 when the number is not E.164 or the file is not this account's
    (`unknown_file`)."""
    devices.inject_sandbox_media(p.c, p.account_id, device_id, body.phone, body.file,
                                 body.caption)
    return Accepted()
