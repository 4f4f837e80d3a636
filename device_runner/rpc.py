"""Calls from the API that need the device's live session and an answer: a pairing
code, number checks, profile changes. The app routes them to the holder runner first."""

from __future__ import annotations

import base64
import binascii

from device_runner.transport import NotSupported, TransportError
from shared.errors import BadRequest, Conflict, NotFound, UtioError


class WhatsAppError(UtioError):
    status, code = 502, "whatsapp_error"


def handle(runner, action: str, data: dict) -> dict:
    device_id = data["device_id"]
    if runner.c.store.get("devices", device_id) is None:
        raise NotFound(f"device {device_id} not found")
    session = runner.ensure_session(device_id)
    if session is None:
        raise Conflict(f"device {device_id} is held by another runner", code="not_holder")
    transport = runner._transport_of(device_id, None)
    try:
        if action == "pair":
            return {"pairing_code": transport.pair_phone(device_id, _text(data, "phone"))}
        if not session.connected:
            raise Conflict(f"device {device_id} is not connected to WhatsApp",
                           code="device_not_connected")
        if action == "exists":
            numbers = data.get("numbers")
            if not isinstance(numbers, list) or not all(isinstance(n, str) for n in numbers):
                raise BadRequest("expected \"numbers\": [\"+...\"]")
            return {"results": transport.check_numbers(device_id, numbers)}
        if action == "profile":
            image = None
            if data.get("image") is not None:
                try:
                    image = base64.b64decode(_text(data, "image"), validate=True)
                except binascii.Error as exc:
                    raise BadRequest("image: not base64") from exc
            transport.set_profile(device_id, name=data.get("name"), about=data.get("description"),
                                  image=image)
            return {"ok": True}
    except NotSupported as exc:
        raise Conflict(str(exc), code="not_supported") from exc
    except TransportError as exc:
        raise WhatsAppError(f"WhatsApp refused the request: {exc}") from exc
    raise BadRequest(f"unknown call {action!r}")


def _text(data: dict, key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"expected \"{key}\": a string")
    return value
