"""Stands in for a transport this build cannot run (the WhatsApp transport before neonize
is wired in): devices on it report `disconnected` with the code transport_unavailable
and the reason, and sends fail. It is the operator's outage, not the owner's: the owner is
not told "reconnecting", nor mailed that the device is non-operative."""

from __future__ import annotations

from device_runner.transport import Listener, Transport
from shared.device_states import StatusCode
from shared.domain import DeviceStatus, FailureReason
from shared.ports import SendResult


class UnavailableTransport(Transport):
    def __init__(self, reason: str):
        self.reason = reason

    def connect(self, device_id: str, listener: Listener) -> None:
        listener.on_status(device_id, DeviceStatus.disconnected, detail=self.reason,
                           code=StatusCode.transport_unavailable)

    def disconnect(self, device_id: str) -> None:
        pass

    def send(self, device_id, wa_id, to, content, media=None, **context):
        return SendResult(False, FailureReason.transport_error)
