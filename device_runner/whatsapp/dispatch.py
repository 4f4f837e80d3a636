"""The one event dispatcher of a device's client: a single type switch over neonize's
event types, turning each into a status code, a receipt or an inbound message for the
listener."""

from __future__ import annotations

import logging
import threading

from neonize import events as wa
from neonize.proto.Neonize_pb2 import ConnectFailureReason, PairStatus, TemporaryBan
from neonize.proto.Neonize_pb2 import Receipt as ReceiptProto

from device_runner.transport import Listener
from device_runner.whatsapp import convert, jids
from device_runner.whatsapp.lifecycle import Client
from shared.adapters.inbound_media import file_name
from shared.device_states import STATUS, StatusCode
from shared.domain import DeviceStatus
from shared.ports import Inbound, Receipt

log = logging.getLogger(__name__)

EVENTS = (wa.QREv, wa.PairStatusEv, wa.ConnectedEv, wa.KeepAliveTimeoutEv, wa.KeepAliveRestoredEv,
          wa.LoggedOutEv, wa.StreamReplacedEv, wa.TemporaryBanEv, wa.ConnectFailureEv, wa.ClientOutdatedEv,
          wa.StreamErrorEv, wa.DisconnectedEv, wa.MessageEv, wa.ReceiptEv)

# ConnectFailure reasons: (status code, retry?)
_FAILURES = {
    ConnectFailureReason.LOGGED_OUT: (StatusCode.logged_out, False),
    ConnectFailureReason.MAIN_DEVICE_GONE: (StatusCode.logged_out, False),
    ConnectFailureReason.UNKNOWN_LOGOUT: (StatusCode.banned, False),
    ConnectFailureReason.TEMP_BANNED: (StatusCode.temporary_ban, False),
    ConnectFailureReason.CLIENT_OUTDATED: (StatusCode.client_outdated, False),
    ConnectFailureReason.BAD_USER_AGENT: (StatusCode.client_outdated, False),
}


class Dispatcher:
    """Part of WhatsAppTransport (device_runner/whatsapp/adapter.py)."""

    clients: dict[str, Client]

    def _wire(self, s: Client, client) -> None:
        device_id = s.device_id

        def on_event(_client, event, device_id=device_id):
            self.dispatch(device_id, event)

        for event_type in EVENTS:
            client.event(event_type)(on_event)
        client.event.qr(lambda _client, data, device_id=device_id: self._qr(device_id, data))
        client.event.paircode(lambda _client, code, connected=False, device_id=device_id:
                              self._pair_code(device_id, code, connected))

    def dispatch(self, device_id: str, event) -> bool:
        s = self.clients.get(device_id)
        if s is None:
            return False
        listener = s.listener
        match event:
            case wa.QREv():
                for code in event.Codes[:1]:
                    self._qr(device_id, code.encode())
            case wa.PairStatusEv():
                if event.Status == PairStatus.PStatus.SUCCESS:
                    self.directory.remember(device_id, jids.jid_text(event.ID))
                else:
                    listener.on_status(device_id, DeviceStatus.linking, code=StatusCode.connection_failed,
                                       detail=f"pairing failed: {event.Error}")
            case wa.ConnectedEv():
                s.connected, s.attempts, s.final = True, 0, False
                s.linked.set()
                me = s.client.get_me().JID if s.client is not None else None
                phone = jids.phone(me) if me is not None else None
                if me is not None and me.User:
                    self.directory.remember(device_id, jids.jid_text(me))
                listener.on_status(device_id, DeviceStatus.connected, phone=phone,
                                   code=StatusCode.connected)
            case wa.KeepAliveTimeoutEv():
                listener.on_status(device_id, DeviceStatus.disconnected,
                                   code=StatusCode.keepalive_timeout,
                                   detail=f"{event.ErrorCount} keep-alives unanswered")
            case wa.KeepAliveRestoredEv():
                listener.on_status(device_id, DeviceStatus.connected, code=StatusCode.connected)
            case wa.LoggedOutEv():
                code = StatusCode.banned if event.Reason == ConnectFailureReason.UNKNOWN_LOGOUT \
                    else StatusCode.logged_out
                self._finish(s, code, ConnectFailureReason.Name(event.Reason) if event.Reason
                             else None, forget=True)
            case wa.TemporaryBanEv():
                reason = TemporaryBan.TempBanReason.Name(event.Code) if event.Code else "unknown"
                self._finish(s, StatusCode.temporary_ban,
                             f"{reason.lower()}; expires in {event.Expire} s")
            case wa.ConnectFailureEv():
                code, retry = _FAILURES.get(event.Reason, (StatusCode.connection_failed, True))
                detail = f"{ConnectFailureReason.Name(event.Reason) if event.Reason else 'GENERIC'}" \
                    f"{': ' + event.Message if event.Message else ''}"
                if retry:
                    listener.on_status(device_id, STATUS[code], code=code, detail=detail)
                else:
                    self._finish(s, code, detail, forget=code == StatusCode.logged_out)
            case wa.StreamReplacedEv():
                # Another connection of this session took over: during a takeover, the
                # stale runner's. End this client and retry after the backoff; by then the
                # runner without the lease has dropped its sessions (device_runner.leases).
                s.connected, s.ended_by = False, StatusCode.stream_replaced
                listener.on_status(device_id, DeviceStatus.disconnected,
                                   code=StatusCode.stream_replaced)
                threading.Thread(target=self._stop_client, args=(s,), daemon=True).start()
            case wa.ClientOutdatedEv():
                self._finish(s, StatusCode.client_outdated)
            case wa.StreamErrorEv():
                listener.on_status(device_id, DeviceStatus.disconnected,
                                   code=StatusCode.stream_error, detail=event.Code or None)
            case wa.DisconnectedEv():
                if not s.final:
                    s.connected = False
                    listener.on_status(device_id, DeviceStatus.disconnected,
                                       code=StatusCode.disconnected)
            case wa.ReceiptEv():
                self._receipt(device_id, listener, event)
            case wa.MessageEv():
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

    def _message(self, s: Client, event) -> None:
        if event.Info.MessageSource.Chat.Server == "broadcast":
            return  # status updates
        message = convert.incoming(event)
        if message.from_me:
            return
        sender = message.sender
        if sender is None and message.lid is not None:  # only an anonymous id: ask WhatsApp
            sender = self._number_of_lid(s, message.lid) or message.lid  # (the inbound flow
        if sender is None:                                 # then looks in what it learnt)
            return
        content = dict(message.content)
        if message.type == "poll_vote":
            content = self._poll_vote(s, event, content)
            if content is None:
                return
        target = content.get("target")
        if isinstance(target, dict) and target.get("from_me") and target.get("wa_id"):
            # a reaction to one of our sends names it by WhatsApp's id: ours, as receipts
            content["target"] = {**target, "wa_id": self.ledger.ours(target["wa_id"])}
        if message.media is not None:
            content["url"] = self._store_media(s, message)
        s.listener.on_inbound(s.device_id, Inbound(
            wa_id=message.wa_id, sender=sender, text=message.text, at=message.at,
            type=message.type, content=content, group=message.group,
            push_name=message.push_name, lid=message.lid))

    def _number_of_lid(self, s: Client, lid: str) -> str | None:
        """whatsmeow's own LID store (filled from WhatsApp's usync answers)."""
        if s.client is None:
            return None
        try:
            found = s.client.get_pn_from_lid(jids.jid(lid))
        except Exception:
            return None
        return jids.phone(found) if found is not None and found.User else None

    def _poll_vote(self, s: Client, event, content: dict) -> dict | None:
        """A vote on one of our polls: decrypted by neonize (with the poll's secret, kept
        by whatsmeow when the poll was sent) into the SHA-256 of each option chosen."""
        if not content.get("from_me") or s.client is None:
            return None  # a vote on someone else's poll
        try:
            vote = s.client.decrypt_poll_vote(event)
        except Exception:
            log.exception("device %s: could not decrypt a poll vote", s.device_id)
            return None
        return {"poll_wa_id": self.ledger.ours(content["poll_wa_id"]),
                "option_hashes": [bytes(h).hex() for h in vote.selectedOptions]}

    def _store_media(self, s: Client, message: convert.Incoming) -> str | None:
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

