"""Sending through a device's client, once per wa_id: whatsmeow picks the message id of a
send itself (neonize offers no way to pass ours), so a ledger maps our wa_id to
WhatsApp's; a repeated send of a wa_id already sent is answered from the ledger, not sent
again, and receipts are translated back to ours. Number checks and the profile too."""

from __future__ import annotations

import io
import logging
import threading
from datetime import UTC, datetime, timedelta

from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message

from device_runner.transport import TransportError
from device_runner.whatsapp import convert, jids
from device_runner.whatsapp.lifecycle import Client
from shared.domain import FailureReason
from shared.ports import DocumentStore, SendResult
from shared.repositories.sent_ledger import SentLedgerEntries

log = logging.getLogger(__name__)

EXISTS_TTL = timedelta(days=1)


class SentLedger:
    """Our wa_id -> WhatsApp's message id, for idempotent sends and receipts."""

    def __init__(self, store: DocumentStore):
        self.entries = SentLedgerEntries(store)
        self._ours: dict[str, str] = {}  # WhatsApp's id -> ours (recent sends)

    def sent(self, wa_id: str) -> bool:
        return self.entries.doc(wa_id) is not None

    def record(self, device_id: str, wa_id: str, server_id: str) -> None:
        self._ours[server_id] = wa_id
        self.entries.record(wa_id, device_id=device_id, server_id=server_id,
                            at=datetime.now(UTC))

    def server_id(self, wa_id: str) -> str | None:
        """WhatsApp's id of a message we sent (None: not sent through this adapter)."""
        return self.entries.server_id(wa_id)

    def ours(self, server_id: str) -> str:
        if server_id in self._ours:
            return self._ours[server_id]
        return self.entries.wa_id_of(server_id) or server_id



class Sending:
    """Part of WhatsAppTransport (device_runner/whatsapp/adapter.py)."""

    clients: dict[str, Client]
    ledger: SentLedger

    def _ready(self, device_id: str) -> Client | None:
        s = self.clients.get(device_id)
        return s if s is not None and s.connected and s.client is not None else None

    def send(self, device_id, wa_id, to, content, media=None, *, quote=None, forwarded=False,
             background=None):
        s = self._ready(device_id)
        if s is None:
            return SendResult(False, FailureReason.transport_error, retryable=True)
        if self.ledger.sent(wa_id):
            return SendResult(True)  # sent before (a retry, or a task delivered twice)
        body = content.model_dump(mode="json")
        quote = quote or body.pop("quote", None)
        # Our own messages are known to WhatsApp by its id for them (the ledger's)
        if quote and quote.get("from_me"):
            quote = {**quote, "wa_id": self.ledger.server_id(quote["wa_id"]) or quote["wa_id"]}
        target = body.get("target")
        if isinstance(target, dict) and target.get("from_me"):
            body["target"] = {**target,
                              "wa_id": self.ledger.server_id(target["wa_id"]) or target["wa_id"]}
        try:
            status = to == jids.STATUS_BROADCAST
            hidden = to.endswith("@lid")  # an anonymous id has no number to check
            if not to.endswith("@g.us") and not status and not hidden and \
                    not self._exists(s, to):
                return SendResult(False, FailureReason.number_not_on_whatsapp)
            upload = None
            kind = convert.media_kind(body)
            if kind is not None:
                if media is None:
                    return SendResult(False, FailureReason.media_unavailable)
                upload = s.client.upload(media, _media_type(kind))
            message = convert.outgoing(body, to=to, upload=upload, quote=quote,
                                       forwarded=forwarded)
            if status:
                message = convert.as_status(message, background)
            response = s.client.send_message(jids.jid(to), message)
        except convert.Unsupported as exc:
            log.warning("device %s: cannot send %s: %s", device_id, wa_id, exc)
            return SendResult(False, FailureReason.unsupported_content)
        except Exception as exc:
            log.warning("device %s: sending %s failed: %s", device_id, wa_id, exc)
            return SendResult(False, FailureReason.transport_error, retryable=True)
        self.ledger.record(device_id, wa_id, response.ID or wa_id)
        return SendResult(True)

    def _exists(self, s: Client, phone: str) -> bool:
        now = datetime.now(UTC)
        known = s.exists.get(phone)
        if known is not None and known[1] > now:
            return known[0]
        found = self._ask(s, [phone]).get(phone, True)
        s.exists[phone] = (found, now + EXISTS_TTL)
        return found

    def _ask(self, s: Client, phones: list[str]) -> dict[str, bool]:
        answers = s.client.is_on_whatsapp(*phones)
        by_digits = {p.lstrip("+"): p for p in phones}
        result = {p: False for p in phones}
        for answer in answers:
            phone = by_digits.get(answer.Query.lstrip("+"))
            if phone is not None:
                result[phone] = bool(answer.IsIn)
        return result

    # --- numbers and profile ---------------------------------------------------------

    def check_numbers(self, device_id, phones):
        s = self._ready(device_id)
        if s is None:
            raise TransportError("the device is not connected")
        try:
            return self._ask(s, phones)
        except Exception as exc:
            raise TransportError(str(exc)) from exc

    def _sent(self, device_id: str, wa_id: str) -> tuple[Client, str]:
        s = self._ready(device_id)
        if s is None:
            raise TransportError("the device is not connected")
        server_id = self.ledger.server_id(wa_id)
        if server_id is None:
            raise TransportError(f"message {wa_id} was not sent from this device")
        return s, server_id

    def mark_read(self, device_id, chat, messages):
        from neonize.utils.enum import ReceiptType

        s = self._ready(device_id)
        if s is None:
            raise TransportError("the device is not connected")
        by_sender: dict[str, list[str]] = {}
        for wa_id, sender in messages:
            by_sender.setdefault(sender, []).append(wa_id)
        try:
            for sender, ids in by_sender.items():  # a receipt names one sender
                s.client.mark_read(*ids, chat=jids.jid(chat), sender=jids.jid(sender),
                                   receipt=ReceiptType.READ)
        except Exception as exc:
            raise TransportError(str(exc)) from exc

    def typing(self, device_id, to, seconds):
        from neonize.utils.enum import ChatPresence, ChatPresenceMedia

        s = self._ready(device_id)
        if s is None or seconds <= 0:
            return
        chat = jids.jid(to)
        try:
            s.client.send_chat_presence(chat, ChatPresence.CHAT_PRESENCE_COMPOSING,
                                        ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT)
            self.wait(threading.Event(), seconds)  # type: ignore[attr-defined]
            s.client.send_chat_presence(chat, ChatPresence.CHAT_PRESENCE_PAUSED,
                                        ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT)
        except Exception:  # a presence is a courtesy: the message goes out regardless
            log.warning("device %s: could not show typing to %s", device_id, to)

    def edit_text(self, device_id, wa_id, to, text):
        s, server_id = self._sent(device_id, wa_id)
        try:
            s.client.edit_message(jids.jid(to), server_id, Message(conversation=text))
        except Exception as exc:
            raise TransportError(str(exc)) from exc

    def revoke(self, device_id, wa_id, to):
        s, server_id = self._sent(device_id, wa_id)
        try:
            s.client.revoke_message(jids.jid(to), s.client.get_me().JID, server_id)
        except Exception as exc:
            raise TransportError(str(exc)) from exc

    def set_profile(self, device_id, *, name=None, about=None, image=None):
        s = self._ready(device_id)
        if s is None:
            raise TransportError("the device is not connected")
        try:
            if name is not None:
                s.client.set_profile_name(name)
            if about is not None:
                s.client.set_status_message(about)
            if image is not None:
                s.client.set_profile_photo(profile_jpeg(image))
        except Exception as exc:
            raise TransportError(str(exc)) from exc


def profile_jpeg(image: bytes, size: int = 640) -> bytes:
    """WhatsApp takes a square JPEG for a profile picture."""
    from PIL import Image

    with Image.open(io.BytesIO(image)) as picture:
        picture = picture.convert("RGB")
        side = min(picture.size)
        left, top = (picture.width - side) // 2, (picture.height - side) // 2
        picture = picture.crop((left, top, left + side, top + side)).resize((size, size))
        out = io.BytesIO()
        picture.save(out, format="JPEG", quality=90)
        return out.getvalue()


def _media_type(kind: str):
    from neonize.utils.enum import MediaType

    return {"image": MediaType.MediaImage, "video": MediaType.MediaVideo,
            "audio": MediaType.MediaAudio}.get(kind, MediaType.MediaDocument)


