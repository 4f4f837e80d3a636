"""A device's connection state as an enumerated code (like mautrix's bridge states), each
with the contract's status it shows as and a human message registered once. The runner
pushes a device:status event on every transition of the code."""

from __future__ import annotations

from enum import StrEnum

from shared.domain import DeviceStatus


class StatusCode(StrEnum):
    created = "utio-created"
    connecting = "wa-connecting"
    qr = "wa-qr"
    pairing_code = "wa-pairing-code"
    link_timeout = "wa-link-timeout"
    connected = "wa-connected"
    disconnected = "wa-disconnected"
    keepalive_timeout = "wa-keepalive-timeout"
    connection_failed = "wa-connection-failed"
    stream_error = "wa-stream-error"
    stream_replaced = "wa-stream-replaced"
    client_outdated = "wa-client-outdated"
    logged_out = "wa-logged-out"
    temporary_ban = "wa-temporary-ban"
    banned = "wa-banned"
    non_operative = "utio-non-operative"
    transport_unavailable = "utio-transport-unavailable"


STATUS = {
    StatusCode.created: DeviceStatus.pending,
    StatusCode.connecting: DeviceStatus.linking,
    StatusCode.qr: DeviceStatus.linking,
    StatusCode.pairing_code: DeviceStatus.linking,
    StatusCode.link_timeout: DeviceStatus.pending,
    StatusCode.connected: DeviceStatus.connected,
    StatusCode.disconnected: DeviceStatus.disconnected,
    StatusCode.keepalive_timeout: DeviceStatus.disconnected,
    StatusCode.connection_failed: DeviceStatus.disconnected,
    StatusCode.stream_error: DeviceStatus.disconnected,
    StatusCode.stream_replaced: DeviceStatus.disconnected,
    StatusCode.client_outdated: DeviceStatus.disconnected,
    StatusCode.logged_out: DeviceStatus.logged_out,
    StatusCode.temporary_ban: DeviceStatus.banned,
    StatusCode.banned: DeviceStatus.banned,
    StatusCode.non_operative: DeviceStatus.non_operative,
    StatusCode.transport_unavailable: DeviceStatus.disconnected,
}

MESSAGES = {
    StatusCode.created: "The device was created and has not been linked yet.",
    StatusCode.connecting: "Connecting to WhatsApp.",
    StatusCode.qr: "Waiting for the QR code to be scanned (GET /v1/devices/{id}/scan).",
    StatusCode.pairing_code: "Waiting for the pairing code to be entered on the phone.",
    StatusCode.link_timeout: "Nobody scanned the QR code in time; ask for a new one at "
                             "GET /v1/devices/{id}/scan.",
    StatusCode.connected: "Connected to WhatsApp.",
    StatusCode.disconnected: "Disconnected from WhatsApp; reconnecting.",
    StatusCode.keepalive_timeout: "WhatsApp stopped answering keep-alives; reconnecting.",
    StatusCode.connection_failed: "Connecting to WhatsApp failed; retrying with backoff.",
    StatusCode.stream_error: "WhatsApp closed the connection with an error; reconnecting.",
    StatusCode.stream_replaced: "Another connection with the same session replaced this one.",
    StatusCode.client_outdated: "WhatsApp refused this client version; Utio will reconnect "
                                "once the runner is updated.",
    StatusCode.logged_out: "The session was logged out from the phone; link the device again.",
    StatusCode.temporary_ban: "WhatsApp banned the number temporarily.",
    StatusCode.banned: "WhatsApp banned the number.",
    StatusCode.non_operative: "The device has been disconnected for too long; the owner was "
                              "notified by email.",
    StatusCode.transport_unavailable: "This runner cannot run the device's transport.",
}

DEFAULT_CODE = {
    DeviceStatus.pending: StatusCode.created,
    DeviceStatus.linking: StatusCode.connecting,
    DeviceStatus.connected: StatusCode.connected,
    DeviceStatus.disconnected: StatusCode.disconnected,
    DeviceStatus.non_operative: StatusCode.non_operative,
    DeviceStatus.logged_out: StatusCode.logged_out,
    DeviceStatus.banned: StatusCode.banned,
}


def code_for(status: DeviceStatus, code: StatusCode | str | None) -> StatusCode:
    return StatusCode(code) if code else DEFAULT_CODE[status]
