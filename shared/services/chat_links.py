"""Links that open a chat with a number in WhatsApp (Web, or wa.me on a phone)."""

from __future__ import annotations

from urllib.parse import quote

from shared import phones
from shared.errors import ValidationFailed

WEB_CHAT = "https://web.whatsapp.com/send"


def chat_link(phone: str, text: str | None = None) -> dict:
    """Links that open the chat with `phone` (existing or new) in WhatsApp Web and on a
    phone. `phone` must be in international format."""
    e164 = phones.normalise(phone, field="phone")
    digits = e164.lstrip("+")
    suffix = f"&text={quote(text)}" if text else ""
    if len(WEB_CHAT) + len(digits) + len(suffix) > 4000:
        raise ValidationFailed("text: too long for a link", details={"field": "text"})
    return {"phone": e164, "url": f"{WEB_CHAT}?phone={digits}{suffix}",
            "wa_me": f"https://wa.me/{digits}" + (f"?text={quote(text)}" if text else "")}
