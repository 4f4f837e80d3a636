from __future__ import annotations

from pydantic import ConfigDict, Field, model_validator

from functions.api.registry import Principal, api
from functions.api.schemas_messages import MediaIn, MessageOut
from shared.content import MediaKind
from shared.errors import ValidationFailed
from shared.model import Model
from shared.services import devices, message_content, messages

MAX_STATUS_TEXT = 700  # what WhatsApp's apps allow in a text status


class PostStatus(Model):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"message": "We are open this Sunday, 10 to 4 ☀️", "background": "#128C7E"},
        {"media": {"url": "https://acme.example/sunday.jpg", "caption": "Open on Sunday"}}]})
    message: str | None = Field(default=None, min_length=1, max_length=MAX_STATUS_TEXT,
                                description="A text status, 1 to 700 characters.")
    media: MediaIn | None = Field(default=None, description="An image (or video) status, "
                                  "with its caption.")
    background: str | None = Field(default=None, pattern=r"^#[0-9A-Fa-f]{6}$",
                                   description="A text status's background, #RRGGBB; "
                                   "WhatsApp's green by default.")

    @model_validator(mode="after")
    def _one(self) -> PostStatus:
        if (self.message is None) == (self.media is None):
            raise ValidationFailed("body: give exactly one of message (text) or media (an "
                                   "image or video)", details=[{"field": "message",
                                   "message": "give exactly one of message or media",
                                   "type": "value_error"}])
        if self.media is not None and self.background is not None:
            raise ValidationFailed("body: background: only a text status has a background",
                                   details=[{"field": "background", "type": "value_error",
                                             "message": "only with message"}])
        if self.media is not None and self.media.type not in (None, MediaKind.image,
                                                              MediaKind.video):
            raise ValidationFailed("body: media.type: a status is an image or a video",
                                   details=[{"field": "media.type", "type": "value_error",
                                             "message": "image or video"}])
        return self


@api.route("POST", "/v1/devices/{device_id}/status", body=PostStatus, response=MessageOut,
           status=201, summary="Post a status (story) from a device", tag="messages",
           errors=(404, 413, 422, 429))
def post_status(p: Principal, device_id: str, body: PostStatus):
    """Posts a WhatsApp status (a story, seen by the device's contacts for 24 hours): a
    text (`message`, on a `background` colour) or an image or video (`media`, with its
    caption). It is queued and paced like any message, has its own id and events, and
    counts against the monthly quota; it belongs to no chat. Views come back as
    `message:out:read`.

    Errors: 404 when the device is not in this account; 413 when the media is larger than
    the plan allows; 422 for both or neither of message and media, a bad colour, media
    that is not an image or video, or a text over 700 characters; 429 `quota_exceeded`."""
    draft = None
    if body.media is not None:
        m = body.media
        draft = message_content.MediaRequest(url=m.url, file=m.file, type=m.type,
                                             caption=m.caption)
    devices.get_device(p.c, p.account_id, device_id)  # 404 for a device not in the account
    message, _ = messages.send_message(
        p.c, p.account_id, text=body.message, content=draft, device_id=device_id,
        status_post=True, background=body.background, idempotency_key=p.idempotency_key)
    return MessageOut.model_validate(message.model_dump(exclude=message.INTERNAL))
