"""The `whatsapp` transport over neonize (whatsmeow): one client per device, one event
dispatcher per client (a single type switch), connection state as enumerated codes.

- Sessions live in whatsmeow's SQL store (settings.session_db_url: PostgreSQL; locally a
  SQLite file per runner). The device's WhatsApp JID is kept on the device document, so
  a restarted runner (or the one that takes a device over) resumes it without a scan.
- Each client runs in a thread of its own (neonize's connect blocks while connected).
  whatsmeow reconnects a dropped connection by itself; when the whole client ends or
  fails, this adapter starts a new one after a capped exponential backoff with jitter.
  Logged out, banned or an outdated client: no retry.
- QR codes are passed on as WhatsApp rotates them; when nobody scans the last one the
  device goes back to `pending` (code wa-link-timeout) instead of looping on codes, until
  someone asks for a new one (GET /v1/devices/{id}/scan).
- whatsmeow picks the message id of a send itself (neonize offers no way to pass ours),
  so a ledger maps our wa_id to WhatsApp's: a repeated send of a wa_id already sent is
  answered from the ledger, not sent again, and receipts are translated back to ours.
"""

from __future__ import annotations

import io
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

from neonize.events import (
    ClientOutdatedEv,
    ConnectedEv,
    ConnectFailureEv,
    DisconnectedEv,
    KeepAliveRestoredEv,
    KeepAliveTimeoutEv,
    LoggedOutEv,
    MessageEv,
    PairStatusEv,
    QREv,
    ReceiptEv,
    StreamErrorEv,
    StreamReplacedEv,
    TemporaryBanEv,
)
from neonize.proto.Neonize_pb2 import ConnectFailureReason, PairStatus, TemporaryBan
from neonize.proto.Neonize_pb2 import Receipt as ReceiptProto

from device_runner.transport import (
    GroupAction,
    GroupError,
    GroupInfo,
    Inbound,
    Listener,
    ParticipantChange,
    Receipt,
    SendResult,
    Transport,
    TransportError,
)
from device_runner.whatsapp import convert
from shared.adapters.inbound_media import MediaStore, file_name
from shared.device_states import StatusCode
from shared.domain import DeviceStatus, FailureReason
from shared.inbox import GroupFailure, GroupRole, ParticipantFailure
from shared.ports import DocumentStore

log = logging.getLogger(__name__)

EVENTS = (QREv, PairStatusEv, ConnectedEv, KeepAliveTimeoutEv, KeepAliveRestoredEv,
          LoggedOutEv, StreamReplacedEv, TemporaryBanEv, ConnectFailureEv, ClientOutdatedEv,
          StreamErrorEv, DisconnectedEv, MessageEv, ReceiptEv)
FIRST_QR_SECONDS, NEXT_QR_SECONDS = 60.0, 20.0  # how long WhatsApp's QR codes last
PAIRING_CODE_SECONDS = 160.0
EXISTS_TTL = timedelta(days=1)

# ConnectFailure reasons: (status code, retry?)
_FAILURES = {
    ConnectFailureReason.LOGGED_OUT: (StatusCode.logged_out, False),
    ConnectFailureReason.MAIN_DEVICE_GONE: (StatusCode.logged_out, False),
    ConnectFailureReason.UNKNOWN_LOGOUT: (StatusCode.banned, False),
    ConnectFailureReason.TEMP_BANNED: (StatusCode.temporary_ban, False),
    ConnectFailureReason.CLIENT_OUTDATED: (StatusCode.client_outdated, False),
    ConnectFailureReason.BAD_USER_AGENT: (StatusCode.client_outdated, False),
}


def _status(code: StatusCode) -> DeviceStatus:
    from shared.device_states import STATUS

    return STATUS[code]


class Backoff:
    """Capped exponential backoff with jitter: attempt n waits between half and all of
    min(cap, base * 2**n) seconds, so clients that failed together do not retry together."""

    def __init__(self, base: float, cap: float, rng: random.Random | None = None):
        self.base, self.cap = base, cap
        self.rng = rng or random.Random()

    def delay(self, attempt: int) -> float:
        return min(self.cap, self.base * 2 ** min(attempt, 30)) * self.rng.uniform(0.5, 1.0)


class SessionDirectory:
    """The WhatsApp JID each device's session is stored under (on the device document)."""

    def __init__(self, store: DocumentStore):
        self.store = store

    def jid_of(self, device_id: str) -> str | None:
        return (self.store.get("devices", device_id) or {}).get("wa_jid")

    def remember(self, device_id: str, jid: str) -> None:
        self.store.update("devices", device_id, {"wa_jid": jid})

    def forget(self, device_id: str) -> None:
        self.store.update("devices", device_id, {"wa_jid": None})


class SentLedger:
    """Our wa_id -> WhatsApp's message id, for idempotent sends and receipts."""

    def __init__(self, store: DocumentStore):
        self.store = store
        self._ours: dict[str, str] = {}  # WhatsApp's id -> ours (recent sends)

    def sent(self, wa_id: str) -> bool:
        return self.store.get("wa_sent", wa_id) is not None

    def record(self, device_id: str, wa_id: str, server_id: str) -> None:
        self._ours[server_id] = wa_id
        self.store.put("wa_sent", wa_id, {"device_id": device_id, "server_id": server_id,
                                          "at": datetime.now(UTC)})

    def ours(self, server_id: str) -> str:
        if server_id in self._ours:
            return self._ours[server_id]
        docs = self.store.query("wa_sent", [("server_id", "==", server_id)], limit=1)
        return docs[0]["id"] if docs else server_id


@dataclass
class _Session:
    device_id: str
    listener: Listener
    client: object = None
    thread: threading.Thread | None = None
    stopping: threading.Event = field(default_factory=threading.Event)
    wake: threading.Event = field(default_factory=threading.Event)
    linked: threading.Event = field(default_factory=threading.Event)  # websocket up (QR or connected)
    connected: bool = False
    final: bool = False  # no reconnect: logged out, banned, replaced, outdated, link timeout
    attempts: int = 0
    qr_seen: int = 0
    qr_codes: set[str] = field(default_factory=set)  # the codes passed on (each once)
    pairing: bool = False
    ended_by: StatusCode | None = None  # why this adapter ended the client it will retry
    exists: dict[str, tuple[bool, datetime]] = field(default_factory=dict)


ClientFactory = Callable[[str, str | None], object]
Timer = Callable[[float, Callable[[], None]], None]


def _thread_timer(delay: float, fn: Callable[[], None]) -> None:
    timer = threading.Timer(delay, fn)
    timer.daemon = True
    timer.start()


class WhatsAppTransport(Transport):
    def __init__(self, new_client: ClientFactory, directory: SessionDirectory, ledger: SentLedger,
                 *, media: MediaStore | None = None, public_url: str = "",
                 backoff: Backoff | None = None, timer: Timer = _thread_timer,
                 wait: Callable[[threading.Event, float], object] | None = None):
        self.new_client = new_client
        self.directory, self.ledger = directory, ledger
        self.media, self.public_url = media, public_url
        self.backoff = backoff or Backoff(2.0, 300.0)
        self.timer = timer
        self.wait = wait or (lambda event, seconds: event.wait(seconds))
        self.sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_container(cls, c) -> WhatsAppTransport:
        s = c.settings
        db = s.session_db_url
        if not db:
            folder = Path(s.data_dir) / "sessions"
            folder.mkdir(parents=True, exist_ok=True)
            db = str(folder / f"{s.runner_shard}.db")
        return cls(neonize_factory(db), SessionDirectory(c.store), SentLedger(c.store),
                   media=c.inbound_media, public_url=s.public_url,
                   backoff=Backoff(s.reconnect_base, s.reconnect_max))

    # --- lifecycle -------------------------------------------------------------------

    def connect(self, device_id, listener):
        with self._lock:
            if device_id in self.sessions:
                return
            session = self.sessions[device_id] = _Session(device_id, listener)
        listener.on_status(device_id, DeviceStatus.linking, code=StatusCode.connecting)
        session.thread = threading.Thread(target=self._run, args=(session,), daemon=True,
                                          name=f"wa-{device_id}")
        session.thread.start()

    def disconnect(self, device_id):
        with self._lock:
            session = self.sessions.pop(device_id, None)
        if session is None:
            return
        session.stopping.set()
        session.wake.set()
        self._stop_client(session)
        if session.thread is not None and session.thread is not threading.current_thread():
            session.thread.join(timeout=10)

    def _run(self, s: _Session) -> None:
        try:
            self._loop(s)
        except Exception:  # a listener that raised (the store out of reach)...
            log.exception("device %s: the session thread failed", s.device_id)
        finally:  # ...or any end: a dead thread never leaves connect() a no-op
            with self._lock:
                if self.sessions.get(s.device_id) is s and not s.final:
                    del self.sessions[s.device_id]

    def _loop(self, s: _Session) -> None:
        while not s.stopping.is_set():
            error: Exception | None = None
            try:  # reading the saved session and building the client fail like connecting
                saved = self.directory.jid_of(s.device_id)
                client = self.new_client(s.device_id, saved)
                self._wire(s, client)
                s.client = client
                client.connect()  # blocks for as long as the session runs
            except Exception as exc:  # neonize raises its errors; the loop survives them
                error = exc
            s.connected = False
            s.linked.clear()
            if s.stopping.is_set() or s.final:
                return
            delay = self.backoff.delay(s.attempts)
            s.attempts += 1
            code = s.ended_by or (StatusCode.connection_failed if error else StatusCode.disconnected)
            s.ended_by = None
            detail = f"{error}; " if error else ""
            log.warning("device %s: client ended (%s); reconnecting in %.1f s", s.device_id,
                        error or "closed", delay)
            s.listener.on_status(s.device_id, DeviceStatus.disconnected, code=code,
                                 detail=f"{detail}reconnect attempt {s.attempts} in {delay:.0f} s")
            self.wait(s.wake, delay)

    def _wire(self, s: _Session, client) -> None:
        device_id = s.device_id

        def on_event(_client, event, device_id=device_id):
            self.dispatch(device_id, event)

        for event_type in EVENTS:
            client.event(event_type)(on_event)
        client.event.qr(lambda _client, data, device_id=device_id: self._qr(device_id, data))
        client.event.paircode(lambda _client, code, connected=False, device_id=device_id:
                              self._pair_code(device_id, code, connected))

    def _stop_client(self, s: _Session) -> None:
        client = s.client
        if client is None:
            return
        for method in ("disconnect", "stop"):
            try:
                getattr(client, method)()
            except Exception:
                log.debug("device %s: %s failed", s.device_id, method, exc_info=True)

    def _finish(self, s: _Session, code: StatusCode, detail: str | None = None, *,
                forget: bool = False) -> None:
        """A state without reconnection: report it and end the client."""
        s.final = True
        s.connected = False
        if forget:
            self.directory.forget(s.device_id)
        s.listener.on_status(s.device_id, _status(code), code=code, detail=detail)
        threading.Thread(target=self._stop_client, args=(s,), daemon=True).start()

    # --- the dispatcher: every neonize event, one type switch ---------------------------

    def dispatch(self, device_id: str, event) -> bool:
        s = self.sessions.get(device_id)
        if s is None:
            return False
        listener = s.listener
        match event:
            case QREv():
                for code in event.Codes[:1]:
                    self._qr(device_id, code.encode())
            case PairStatusEv():
                if event.Status == PairStatus.PStatus.SUCCESS:
                    self.directory.remember(device_id, convert.jid_text(event.ID))
                else:
                    listener.on_status(device_id, DeviceStatus.linking, code=StatusCode.connection_failed,
                                       detail=f"pairing failed: {event.Error}")
            case ConnectedEv():
                s.connected, s.attempts, s.final = True, 0, False
                s.linked.set()
                me = s.client.get_me().JID if s.client is not None else None
                phone = convert.phone(me) if me is not None else None
                if me is not None and me.User:
                    self.directory.remember(device_id, convert.jid_text(me))
                listener.on_status(device_id, DeviceStatus.connected, phone=phone,
                                   code=StatusCode.connected)
            case KeepAliveTimeoutEv():
                listener.on_status(device_id, DeviceStatus.disconnected,
                                   code=StatusCode.keepalive_timeout,
                                   detail=f"{event.ErrorCount} keep-alives unanswered")
            case KeepAliveRestoredEv():
                listener.on_status(device_id, DeviceStatus.connected, code=StatusCode.connected)
            case LoggedOutEv():
                code = StatusCode.banned if event.Reason == ConnectFailureReason.UNKNOWN_LOGOUT \
                    else StatusCode.logged_out
                self._finish(s, code, ConnectFailureReason.Name(event.Reason) if event.Reason
                             else None, forget=True)
            case TemporaryBanEv():
                reason = TemporaryBan.TempBanReason.Name(event.Code) if event.Code else "unknown"
                self._finish(s, StatusCode.temporary_ban,
                             f"{reason.lower()}; expires in {event.Expire} s")
            case ConnectFailureEv():
                code, retry = _FAILURES.get(event.Reason, (StatusCode.connection_failed, True))
                detail = f"{ConnectFailureReason.Name(event.Reason) if event.Reason else 'GENERIC'}" \
                    f"{': ' + event.Message if event.Message else ''}"
                if retry:
                    listener.on_status(device_id, _status(code), code=code, detail=detail)
                else:
                    self._finish(s, code, detail, forget=code == StatusCode.logged_out)
            case StreamReplacedEv():
                # Another connection of this session took over: during a takeover, the
                # stale runner's. End this client and retry after the backoff; by then the
                # runner without the lease has dropped its sessions (device_runner.leases).
                s.connected, s.ended_by = False, StatusCode.stream_replaced
                listener.on_status(device_id, DeviceStatus.disconnected,
                                   code=StatusCode.stream_replaced)
                threading.Thread(target=self._stop_client, args=(s,), daemon=True).start()
            case ClientOutdatedEv():
                self._finish(s, StatusCode.client_outdated)
            case StreamErrorEv():
                listener.on_status(device_id, DeviceStatus.disconnected,
                                   code=StatusCode.stream_error, detail=event.Code or None)
            case DisconnectedEv():
                if not s.final:
                    s.connected = False
                    listener.on_status(device_id, DeviceStatus.disconnected,
                                       code=StatusCode.disconnected)
            case ReceiptEv():
                self._receipt(device_id, listener, event)
            case MessageEv():
                self._message(s, event)
            case _:
                return False
        return True

    def _receipt(self, device_id: str, listener: Listener, event) -> None:
        if event.MessageSource.IsFromMe:
            return  # our own other devices reading: not the recipient
        kinds = {ReceiptProto.ReceiptType.DELIVERED: Receipt.delivered,
                 ReceiptProto.ReceiptType.READ: Receipt.read,
                 ReceiptProto.ReceiptType.PLAYED: Receipt.read}
        receipt = kinds.get(event.Type)
        if receipt is None:
            return
        for server_id in event.MessageIDs:
            listener.on_receipt(device_id, self.ledger.ours(server_id), receipt)

    def _message(self, s: _Session, event) -> None:
        if event.Info.MessageSource.Chat.Server == "broadcast":
            return  # status updates
        message = convert.incoming(event)
        if message.from_me or message.sender is None:
            return
        content = dict(message.content)
        target = content.get("target")
        if isinstance(target, dict) and target.get("from_me") and target.get("wa_id"):
            # a reaction to one of our sends names it by WhatsApp's id: ours, as receipts
            content["target"] = {**target, "wa_id": self.ledger.ours(target["wa_id"])}
        if message.media is not None:
            content["url"] = self._store_media(s, message)
        s.listener.on_inbound(s.device_id, Inbound(
            wa_id=message.wa_id, sender=message.sender, text=message.text, at=message.at,
            type=message.type, content=content, group=message.group,
            push_name=message.push_name))

    def _store_media(self, s: _Session, message: convert.Incoming) -> str | None:
        if self.media is None or s.client is None:
            return None
        try:
            data = s.client.download_any(message.media)
            name = file_name(message.wa_id, message.content.get("mime"))
            self.media.put(s.device_id, name, data, message.content.get("mime") or "")
            return self.media.url(self.public_url, s.device_id, name)
        except Exception:
            log.exception("device %s: could not keep the media of %s", s.device_id, message.wa_id)
            return None

    # --- linking ---------------------------------------------------------------------

    def _qr(self, device_id: str, data: bytes) -> None:
        s = self.sessions.get(device_id)
        if s is None or s.connected:
            return
        s.linked.set()
        code = data.decode()
        # neonize hands over the first code twice: through the QREv event (whatsmeow's
        # events.QR, all codes at once; we take the first) and through the QR callback
        # (whatsmeow's QR channel, every code in turn). A code seen before changes nothing,
        # else the first one would count twice and expire after 20 s instead of 60 s.
        # The two arrive on threads of their own (neonize calls back from goroutines): the
        # check and the count are taken under the lock.
        with self._lock:
            if code in s.qr_codes:
                return
            s.qr_codes.add(code)
            s.qr_seen += 1
            seen = s.qr_seen
        ttl = FIRST_QR_SECONDS if seen == 1 else NEXT_QR_SECONDS
        s.listener.on_link(device_id, qr=code, expires_in=ttl)

        def expired():
            if s.qr_seen == seen and not s.connected and not s.pairing and not s.stopping.is_set():
                self._finish(s, StatusCode.link_timeout, "the QR code was not scanned in time")

        self.timer(ttl + 5, expired)

    def _pair_code(self, device_id: str, code: str, connected: bool) -> None:
        s = self.sessions.get(device_id)
        if s is not None and not connected:
            s.listener.on_link(device_id, pairing_code=code, expires_in=PAIRING_CODE_SECONDS)

    def link(self, device_id, listener, *, logout=False):
        s = self.sessions.get(device_id)
        if logout and s is not None and s.client is not None and s.connected:
            try:
                s.client.logout()
            except Exception as exc:
                raise TransportError(f"could not log the current number out: {exc}") from exc
        if logout:
            self.directory.forget(device_id)
        self.disconnect(device_id)
        self.connect(device_id, listener)

    def pair_phone(self, device_id, phone):
        s = self.sessions.get(device_id)
        if s is None:
            raise TransportError("the device has no session on this runner")
        if s.connected:
            raise TransportError("the device is linked already")
        if not s.linked.wait(15):
            raise TransportError("WhatsApp did not answer in time; try again")
        s.pairing = True
        try:
            code = s.client.PairPhone(phone.lstrip("+"), True)
        except Exception as exc:
            s.pairing = False
            raise TransportError(str(exc)) from exc
        s.listener.on_link(device_id, pairing_code=code, expires_in=PAIRING_CODE_SECONDS)
        return code

    # --- sending ---------------------------------------------------------------------

    def _ready(self, device_id: str) -> _Session | None:
        s = self.sessions.get(device_id)
        return s if s is not None and s.connected and s.client is not None else None

    def send_text(self, device_id, wa_id, to, text):
        return self.send(device_id, wa_id, to, {"type": "text", "text": text})

    def send(self, device_id, wa_id, to, content, media=None):
        s = self._ready(device_id)
        if s is None:
            return _result(False, FailureReason.transport_error, retryable=True)
        if self.ledger.sent(wa_id):
            return _result(True)  # sent before (a retry, or a task delivered twice)
        body = content.model_dump(mode="json") if hasattr(content, "model_dump") else dict(content)
        quote = body.pop("quote", None)
        try:
            if not to.endswith("@g.us") and not self._exists(s, to):
                return _result(False, FailureReason.number_not_on_whatsapp)
            upload = None
            kind = convert.media_kind(body)
            if kind is not None:
                if media is None:
                    return _result(False, _reason("media_unavailable"))
                upload = s.client.upload(media, _media_type(kind))
            message = convert.outgoing(body, to=to, upload=upload, quote=quote)
            response = s.client.send_message(convert.jid(to), message)
        except convert.Unsupported as exc:
            log.warning("device %s: cannot send %s: %s", device_id, wa_id, exc)
            return _result(False, _reason("unsupported_content"))
        except Exception as exc:
            log.warning("device %s: sending %s failed: %s", device_id, wa_id, exc)
            return _result(False, FailureReason.transport_error, retryable=True)
        self.ledger.record(device_id, wa_id, response.ID or wa_id)
        return _result(True)

    def _exists(self, s: _Session, phone: str) -> bool:
        now = datetime.now(UTC)
        known = s.exists.get(phone)
        if known is not None and known[1] > now:
            return known[0]
        found = self._ask(s, [phone]).get(phone, True)
        s.exists[phone] = (found, now + EXISTS_TTL)
        return found

    def _ask(self, s: _Session, phones: list[str]) -> dict[str, bool]:
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


    # --- groups ----------------------------------------------------------------------
    # whatsmeow's group calls through neonize, with the sandbox's rules checked against
    # the group's current state first (only admins change a group; the superadmin is
    # neither removed nor demoted; numbers not on WhatsApp are not added), so the
    # participants' outcomes read the same on both transports.

    def _group_session(self, device_id: str) -> tuple[_Session, str | None]:
        s = self._ready(device_id)
        if s is None:
            raise GroupError(GroupFailure.device_not_connected, "the device is not connected")
        me = s.client.get_me().JID
        return s, convert.phone(me) if me is not None else None

    @staticmethod
    def _call(what: str, fn, *args):
        try:
            return fn(*args)
        except GroupError:
            raise
        except Exception as exc:
            raise GroupError(convert.group_failure(exc), f"{what}: {exc}") from exc

    def _info(self, s: _Session, me: str | None, raw) -> GroupInfo:
        """The port's GroupInfo, with the invite code when the device is an admin."""
        info = convert.group_info(raw)
        if me is None or dict(info.participants).get(me) not in _ADMINS:
            return info
        try:
            link = s.client.get_group_invite_link(raw.JID, False)
        except Exception:
            log.info("device %s: no invite link for %s", s.device_id, info.wa_id, exc_info=True)
            return info
        return convert.group_info(raw, invite=link)

    def _admin_info(self, s: _Session, me: str | None, wa_id: str):
        raw = self._call("group info", s.client.get_group_info, convert.jid(wa_id))
        info = convert.group_info(raw)
        if me is None or dict(info.participants).get(me) not in _ADMINS:
            raise GroupError(GroupFailure.not_group_admin, "only group admins can do this")
        return raw, info

    def _on_whatsapp(self, s: _Session, phones: list[str]) -> tuple[list[str], list[ParticipantChange]]:
        """The phones to ask WhatsApp about, and the changes already known to fail."""
        unknown = [p for p in phones if not self._exists(s, p)]
        return ([p for p in phones if p not in unknown],
                [ParticipantChange(p, False, ParticipantFailure.not_on_whatsapp) for p in unknown])

    def list_groups(self, device_id):
        s, me = self._group_session(device_id)
        joined = self._call("joined groups", s.client.get_joined_groups)
        return [self._info(s, me, raw) for raw in joined]

    def get_group(self, device_id, wa_id):
        s, me = self._group_session(device_id)
        raw = self._call("group info", s.client.get_group_info, convert.jid(wa_id))
        return self._info(s, me, raw)

    def create_group(self, device_id, subject, participants):
        s, me = self._group_session(device_id)
        phones = list(dict.fromkeys(p for p in participants if p != me))
        try:
            ask, failed = self._on_whatsapp(s, phones)
        except Exception as exc:
            raise GroupError(GroupFailure.transport_error, f"number check: {exc}") from exc
        raw = self._call("create group", s.client.create_group, subject,
                         [convert.jid(p) for p in ask])
        known = {c.phone: c for c in failed + convert.participant_changes(ask, raw.Participants)}
        return self._info(s, me, raw), [known[p] for p in phones]

    def update_group(self, device_id, wa_id, *, subject=None, description=None, announce=None):
        s, me = self._group_session(device_id)
        raw, info = self._admin_info(s, me, wa_id)
        group = raw.JID
        if subject is not None and subject != info.subject:
            self._call("group subject", s.client.set_group_name, group, subject)
        if description is not None and (description or None) != info.description:
            # whatsmeow fills in the topic's previous id and a new one when given ""
            self._call("group description", s.client.set_group_topic, group, "", "", description)
        if announce is not None and announce != info.announce:
            self._call("announcement mode", s.client.set_group_announce, group, announce)
        return self.get_group(device_id, wa_id)

    def change_participants(self, device_id, wa_id, action, phones):
        from neonize.utils.enum import ParticipantChange as NeonizeChange

        s, me = self._group_session(device_id)
        raw, info = self._admin_info(s, me, wa_id)
        roles = dict(info.participants)
        known: dict[str, ParticipantChange] = {}
        ask = []
        for phone in dict.fromkeys(phones):
            reason = _refusal(action, roles.get(phone), phone == me)
            if reason is not None:
                known[phone] = ParticipantChange(phone, False, reason)
            else:
                ask.append(phone)
        if action == GroupAction.add and ask:
            try:
                ask, failed = self._on_whatsapp(s, ask)
            except Exception as exc:
                raise GroupError(GroupFailure.transport_error, f"number check: {exc}") from exc
            known.update((c.phone, c) for c in failed)
        if ask:
            answered = self._call(f"{action.value} participants", s.client.update_group_participants,
                                  raw.JID, [convert.jid(p) for p in ask],
                                  NeonizeChange(action.value))
            known.update((c.phone, c) for c in convert.participant_changes(ask, answered))
        return [known[p] for p in dict.fromkeys(phones)]

    def reset_invite(self, device_id, wa_id):
        s, me = self._group_session(device_id)
        raw, _ = self._admin_info(s, me, wa_id)
        link = self._call("reset invite link", s.client.get_group_invite_link, raw.JID, True)
        code = convert.invite_code(link)
        if code is None:
            raise GroupError(GroupFailure.transport_error, "WhatsApp returned no invite link")
        return code


_ADMINS = (GroupRole.admin, GroupRole.superadmin)


def _refusal(action: GroupAction, role: GroupRole | None, is_me: bool) -> ParticipantFailure | None:
    """Why WhatsApp's rules refuse this change for a participant of this role, if they do."""
    if action == GroupAction.add:
        return ParticipantFailure.already_participant if role is not None else None
    if role is None:
        return ParticipantFailure.not_participant
    if role == GroupRole.superadmin or (action == GroupAction.remove and is_me):
        return ParticipantFailure.not_allowed
    if action == GroupAction.promote and role == GroupRole.admin:
        return ParticipantFailure.already_admin
    if action == GroupAction.demote and role != GroupRole.admin:
        return ParticipantFailure.not_admin
    return None


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


def _reason(name: str) -> FailureReason:
    """A failure reason of the messaging issue when this build has it, else transport_error."""
    return FailureReason.__members__.get(name, FailureReason.transport_error)


_RETRYABLE = "retryable" in {f.name for f in fields(SendResult)}


def _result(ok: bool, reason: FailureReason | None = None, *, retryable: bool = False) -> SendResult:
    if _RETRYABLE:
        return SendResult(ok, reason, retryable=retryable)  # type: ignore[call-arg]
    return SendResult(ok, reason)


def neonize_factory(db: str) -> ClientFactory:
    """neonize clients over one whatsmeow store (a SQLite path or a postgres:// URL)."""

    def make(device_id: str, saved_jid: str | None):
        from neonize.client import NewClient

        jid = convert.parse_jid(saved_jid) if saved_jid else None
        return NewClient(db, jid=jid, uuid=device_id, new_device=jid is None)

    return make
