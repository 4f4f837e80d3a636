"""Linking a device: QR codes passed on as WhatsApp rotates them, linking ending when
nobody scans the last one (wa-link-timeout, status pending) instead of looping, a pairing
code for a phone number, and a change of number (logout, then a fresh QR code)."""

from __future__ import annotations

from device_runner.transport import TransportError
from device_runner.whatsapp.lifecycle import Client
from shared.device_states import StatusCode

FIRST_QR_SECONDS, NEXT_QR_SECONDS = 60.0, 20.0  # how long WhatsApp's QR codes last
PAIRING_CODE_SECONDS = 160.0


class Linking:
    """Part of WhatsAppTransport (device_runner/whatsapp/adapter.py)."""

    clients: dict[str, Client]

    def _qr(self, device_id: str, data: bytes) -> None:
        s = self.clients.get(device_id)
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
        s = self.clients.get(device_id)
        if s is not None and not connected:
            s.listener.on_link(device_id, pairing_code=code, expires_in=PAIRING_CODE_SECONDS)

    def link(self, device_id, listener, *, logout=False):
        s = self.clients.get(device_id)
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
        s = self.clients.get(device_id)
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

