"""Stands in for a transport this build cannot run (the WhatsApp transport before neonize
is wired in): devices on it report `disconnected` with the reason, and sends fail."""

from __future__ import annotations

from device_runner.transport import Listener, SendResult, Transport
from shared.domain import DeviceStatus, FailureReason


class UnavailableTransport(Transport):
    def __init__(self, reason: str):
        self.reason = reason

    def connect(self, device_id: str, listener: Listener) -> None:
        listener.on_status(device_id, DeviceStatus.disconnected, detail=self.reason)

    def disconnect(self, device_id: str) -> None:
        pass

    def send(self, device_id, wa_id, to, content, media=None):
        return SendResult(False, FailureReason.transport_error)
