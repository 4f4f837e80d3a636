"""The sandbox transport: a simulated WhatsApp network with the contract's rules.

- A device links within a second of connecting, to a made-up number.
- Every number phonenumbers calls valid exists, except those whose national number
  ends in 0000; messages to them fail with number_not_on_whatsapp.
- Every group exists, except those whose id (before @g.us) ends in 0000; messages to
  them fail with group_not_found.
- A message of any type is delivered, then read, within a second or two; a media
  message must come with the bytes of its file (checked against its SHA-256).
- A wa_id sent twice is delivered once, as WhatsApp clients de-duplicate message ids.
- Receipts owed when the runner stopped (sent, not yet delivered or read) come after it
  resumes the device, as WhatsApp delivers missed receipts on reconnecting.
- Linking works as on WhatsApp, only faster: a (fake) QR code is shown, and "scanned"
  at once; a pairing code can be asked for a phone number instead. Re-linking with a
  logout links the device to another made-up number (a change of number).
- A linked device keeps its session: given a SessionDirectory (the runner's), its number
  is stored on the device as a JID, and after a restart it connects again on that number
  without a QR code, as a WhatsApp session does.
- Number checks follow the number rule; profile changes are recorded.
- A contact can send media (inject_media): kept where the WhatsApp adapter keeps what it
  downloads (the MediaStore, inbound/<device>/<name>), announced with its URL.
- A contact can be presented by an anonymous id (LID, "<digits>@lid"), with or without
  their number (inject_inbound's lid); messages to a LID are delivered unless its digits
  end in 0000.
- A status (story) goes to status@broadcast: text, or an image or video.
- Read receipts and "typing..." are recorded (typing without the wait).
- A sent message can be edited (text) and deleted for everyone, once it was delivered;
  a test can have a contact edit or delete what they sent (inject_edit, inject_revoke).
- A test can vote on a poll the device sent (inject_poll_vote), as WhatsApp carries a
  vote: the hashes of the chosen options.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from device_runner.sandbox_groups import SandboxGroups
from device_runner.transport import GroupError, Listener, SessionDirectory, Transport, TransportError
from shared.adapters.inbound_media import MediaStore, file_name
from shared.content import Media, Text, is_group, summary
from shared.domain import STATUS_BROADCAST, DeviceStatus, FailureReason
from shared.ids import new_id
from shared.inbox import GroupFailure
from shared.phones import national_number
from shared.ports import Inbound, Receipt, SendResult

Timer = Callable[[float, Callable[[], None]], None]


def _thread_timer(delay: float, fn: Callable[[], None]) -> None:
    timer = threading.Timer(delay, fn)
    timer.daemon = True
    timer.start()


def exists(e164: str) -> bool:
    return not national_number(e164).endswith("0000")


def group_exists(jid: str) -> bool:
    return not jid.split("@", 1)[0].endswith("0000")


class SandboxNetwork:
    """What the simulated WhatsApp world saw: shared by every sandbox transport of a process."""

    def __init__(self):
        self.lock = threading.Lock()
        self.delivered: dict[str, tuple[str, str, str]] = {}  # wa_id -> (device, to, text)
        self.contents: dict[str, object] = {}  # wa_id -> the content model delivered
        self.contexts: dict[str, dict] = {}  # wa_id -> its quote / forwarded, when set
        self.send_attempts: list[str] = []
        self.edits: dict[str, list[str]] = {}  # wa_id -> the texts it was edited to
        self.revoked: set[str] = set()
        self.read_receipts: list[tuple[str, str, str]] = []  # (device, chat, wa_id)
        self.typing: list[tuple[str, str, float]] = []  # (device, to, seconds) before sends
        self.groups = SandboxGroups(exists)

    def deliver(self, device_id: str, wa_id: str, to: str, text: str) -> bool:
        with self.lock:
            self.send_attempts.append(wa_id)
            if wa_id in self.delivered:
                return False
            self.delivered[wa_id] = (device_id, to, text)
            return True


class SandboxTransport(Transport):
    def __init__(self, network: SandboxNetwork | None = None, timer: Timer = _thread_timer,
                 link_delay: float = 0.3, delivered_delay: float = 0.4, read_delay: float = 0.8,
                 sessions: SessionDirectory | None = None, media: MediaStore | None = None,
                 public_url: str = ""):
        self.network = network or SandboxNetwork()
        self.sessions = sessions
        self.media, self.public_url = media, public_url
        self._timer = timer
        self._listeners: dict[str, Listener] = {}
        self._delays = (link_delay, delivered_delay, read_delay)
        self._lock = threading.Lock()
        self.numbers: dict[str, str] = {}  # device -> its number after a change of number
        self.profiles: dict[str, dict] = {}
        self.qr_ttl = 20.0

    @staticmethod
    def phone_of(device_id: str) -> str:
        digits = int(hashlib.sha256(device_id.encode()).hexdigest(), 16) % 1000
        return f"+34600100{digits:03d}"

    def connect(self, device_id, listener):
        with self._lock:
            already = device_id in self._listeners
            self._listeners[device_id] = listener
        if already:
            return
        saved = self.sessions.jid_of(device_id) if self.sessions else None
        if saved:  # a session kept from before a restart: no QR code, the same number
            self.numbers[device_id] = "+" + saved.split("@", 1)[0]
        else:
            listener.on_status(device_id, DeviceStatus.linking)
            listener.on_link(device_id, qr=fake_qr(), expires_in=self.qr_ttl)

        def linked():
            if self._listeners.get(device_id) is listener:
                number = self.number_of(device_id)
                if self.sessions and not saved:
                    self.sessions.remember(device_id, number.lstrip("+") + "@s.whatsapp.net")
                listener.on_status(device_id, DeviceStatus.connected, phone=number)

        self._timer(self._delays[0], linked)

    def disconnect(self, device_id):
        with self._lock:
            self._listeners.pop(device_id, None)

    def send(self, device_id, wa_id, to, content, media=None, **context):
        listener = self._listeners.get(device_id)
        if listener is None:
            return SendResult(False, FailureReason.transport_error, retryable=True)
        if to.endswith("@lid"):  # an anonymous id: exists unless it ends in 0000
            if to.split("@")[0].endswith("0000"):
                return SendResult(False, FailureReason.number_not_on_whatsapp)
        elif to == STATUS_BROADCAST:
            if not isinstance(content, Text | Media) or (
                    isinstance(content, Media) and content.type not in ("image", "video")):
                return SendResult(False, FailureReason.unsupported_content)
        elif is_group(to):
            if not group_exists(to):
                return SendResult(False, FailureReason.group_not_found)
        elif not exists(to):
            return SendResult(False, FailureReason.number_not_on_whatsapp)
        if isinstance(content, Media) and (
                media is None or hashlib.sha256(media).hexdigest() != content.file.sha256):
            return SendResult(False, FailureReason.media_unavailable)
        if self.network.deliver(device_id, wa_id, to, summary(content)):
            with self.network.lock:
                self.network.contents[wa_id] = content
                if context:
                    self.network.contexts[wa_id] = context
            self._timer(self._delays[1],
                        lambda: listener.on_receipt(device_id, wa_id, Receipt.delivered))
            self._timer(self._delays[2], lambda: listener.on_receipt(device_id, wa_id, Receipt.read))
        return SendResult(True)

    # The receipts are timers of this process: after a crash, the restarted runner hands
    # back the messages still waiting for theirs, and they come, as WhatsApp's would.
    replays_receipts = True

    def replay_receipts(self, device_id, waiting):
        listener = self._listeners.get(device_id)
        if listener is None:
            return
        for wa_id, delivered in waiting:
            if not delivered:
                self._timer(self._delays[1],
                            lambda w=wa_id: listener.on_receipt(device_id, w, Receipt.delivered))
            self._timer(self._delays[2],
                        lambda w=wa_id: listener.on_receipt(device_id, w, Receipt.read))

    def inject_inbound(self, device_id: str, sender: str | None, text: str, *,
                       wa_id: str | None = None, lid: str | None = None) -> None:
        """`sender` (E.164) sends `text`; with `lid`, the sender is presented by that
        anonymous id, as WhatsApp does: with their number beside it when `sender` is
        given, by the anonymous id alone when not."""
        listener = self._listeners.get(device_id)
        if listener is None:
            raise LookupError(f"sandbox device {device_id} is not connected")
        listener.on_inbound(device_id, Inbound(wa_id=wa_id or new_id("wa").upper(),
                                               sender=sender or lid or "", text=text,
                                               at=datetime.now(UTC), lid=lid))

    def inject_media(self, device_id: str, sender: str, data: bytes, mime: str, kind: str, *,
                     caption: str | None = None, filename: str | None = None,
                     wa_id: str | None = None) -> None:
        """`sender` sends a file (`kind`: image, video, audio, gif, document), as the WhatsApp
        adapter reports one: its bytes kept in the media store, its content with their URL."""
        listener = self._connected(device_id)
        if self.media is None:
            raise TransportError("this sandbox keeps no inbound media (no media store)")
        wa_id = wa_id or new_id("wa").upper()
        name = file_name(wa_id, mime)
        self.media.put(device_id, name, data, mime)
        content = {"mime": mime, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                   "caption": caption, "url": self.media.url(self.public_url, device_id, name)}
        if kind == "document":
            content["filename"] = filename
        listener.on_inbound(device_id, Inbound(
            wa_id=wa_id, sender=sender, text=caption or filename or "", at=datetime.now(UTC),
            type=kind, content=content))

    def inject_poll_vote(self, device_id: str, voter: str, poll_wa_id: str,
                         options: list[str], *, wa_id: str) -> None:
        """`voter` votes on a poll the device sent: as WhatsApp carries it, the SHA-256 of
        each chosen option's name, on the poll's id."""
        listener = self._listeners.get(device_id)
        if listener is None:
            raise LookupError(f"sandbox device {device_id} is not connected")
        hashes = [hashlib.sha256(option.encode()).hexdigest() for option in options]
        listener.on_inbound(device_id, Inbound(
            wa_id=wa_id, sender=voter, text="", at=datetime.now(UTC), type="poll_vote",
            content={"poll_wa_id": poll_wa_id, "option_hashes": hashes}))

    def _sent_by(self, device_id: str, wa_id: str, to: str) -> None:
        self._connected(device_id)
        with self.network.lock:
            delivered = self.network.delivered.get(wa_id)
        if delivered is None or delivered[:2] != (device_id, to):
            raise TransportError(f"message {wa_id} was not sent from {device_id} to {to}")
        if wa_id in self.network.revoked:
            raise TransportError(f"message {wa_id} was deleted")

    def mark_read(self, device_id, chat, messages):
        self._connected(device_id)
        with self.network.lock:
            self.network.read_receipts.extend((device_id, chat, wa_id) for wa_id, _ in messages)

    def typing(self, device_id, to, seconds):
        """Recorded, not waited for: the simulated contact sees it at once."""
        with self.network.lock:
            self.network.typing.append((device_id, to, seconds))

    def edit_text(self, device_id, wa_id, to, text):
        self._sent_by(device_id, wa_id, to)
        with self.network.lock:
            self.network.edits.setdefault(wa_id, []).append(text)

    def revoke(self, device_id, wa_id, to):
        self._sent_by(device_id, wa_id, to)
        with self.network.lock:
            self.network.revoked.add(wa_id)

    def inject_edit(self, device_id: str, sender: str, wa_id: str, text: str, *,
                    change_wa_id: str | None = None, group: str | None = None) -> None:
        """`sender` edits a message they sent the device (as WhatsApp's protocol message)."""
        self._connected(device_id).on_inbound(device_id, Inbound(
            wa_id=change_wa_id or f"{wa_id}-edit-{len(text)}", sender=sender, text=text,
            at=datetime.now(UTC), type="edit", group=group, lid=_lid(sender),
            content={"target": {"wa_id": wa_id}, "text": text}))

    def inject_revoke(self, device_id: str, sender: str, wa_id: str, *,
                      change_wa_id: str | None = None, group: str | None = None) -> None:
        self._connected(device_id).on_inbound(device_id, Inbound(
            wa_id=change_wa_id or f"{wa_id}-revoke", sender=sender, text="",
            at=datetime.now(UTC), type="revoke", group=group, lid=_lid(sender),
            content={"target": {"wa_id": wa_id}}))

    def number_of(self, device_id: str) -> str:
        return self.numbers.get(device_id) or self.phone_of(device_id)

    def link(self, device_id, listener, *, logout=False):
        self.disconnect(device_id)
        if logout:  # "scanned" with another phone: a change of number
            self.numbers[device_id] = f"+34600200{secrets.randbelow(1000):03d}"
            if self.sessions:
                self.sessions.forget(device_id)
        self.connect(device_id, listener)

    def _connected(self, device_id: str) -> Listener:
        listener = self._listeners.get(device_id)
        if listener is None:
            raise TransportError(f"sandbox device {device_id} is not connected")
        return listener

    def pair_phone(self, device_id, phone):
        listener = self._connected(device_id)
        code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTVWXYZ23456789") for _ in range(8))
        code = f"{code[:4]}-{code[4:]}"
        self.numbers[device_id] = phone
        listener.on_link(device_id, pairing_code=code, expires_in=self.qr_ttl * 3)
        return code

    def check_numbers(self, device_id, phones):
        self._connected(device_id)
        return {phone: exists(phone) for phone in phones}

    def set_profile(self, device_id, *, name=None, about=None, image=None):
        self._connected(device_id)
        profile = self.profiles.setdefault(device_id, {})
        for key, value in (("name", name), ("about", about), ("image", image)):
            if value is not None:
                profile[key] = value

    # --- groups (rules in device_runner.sandbox_groups) ---------------------------

    def _me(self, device_id: str) -> str:
        if device_id not in self._listeners:
            raise GroupError(GroupFailure.device_not_connected,
                             f"sandbox device {device_id} is not connected")
        return self.number_of(device_id)

    def list_groups(self, device_id):
        return self.network.groups.list(self._me(device_id))

    def create_group(self, device_id, subject, participants):
        return self.network.groups.create(self._me(device_id), subject, participants)

    def get_group(self, device_id, wa_id):
        return self.network.groups.get(self._me(device_id), wa_id)

    def update_group(self, device_id, wa_id, *, subject=None, description=None, announce=None):
        return self.network.groups.update(self._me(device_id), wa_id, subject, description,
                                          announce)

    def change_participants(self, device_id, wa_id, action, phones):
        return self.network.groups.change(self._me(device_id), wa_id, action, phones)

    def reset_invite(self, device_id, wa_id):
        return self.network.groups.reset_invite(self._me(device_id), wa_id)


def _lid(sender: str) -> str | None:
    """A sender presented by anonymous id is that id (WhatsApp gives it as the sender)."""
    return sender if sender.endswith("@lid") else None


def fake_qr() -> str:
    """Shaped like WhatsApp's: ref,noise key,identity key,adv secret."""
    parts = [base64.b64encode(secrets.token_bytes(n)).decode() for n in (32, 32, 32)]
    return f"2@{secrets.token_urlsafe(48)}," + ",".join(parts)
