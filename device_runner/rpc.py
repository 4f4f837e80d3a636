"""Calls from the API that need the device's live session and an answer: a pairing
code, number checks, profile changes. The app routes them to the holder runner first."""

from __future__ import annotations

from device_runner.transport import NotSupported, TransportError
from shared.errors import Conflict, NotFound, UtioError
from shared.runner_rpc import (
    EditCall,
    ExistsCall,
    PairCall,
    ProfileCall,
    ReadCall,
    RevokeCall,
    RpcArgs,
)


class WhatsAppError(UtioError):
    status, code = 502, "whatsapp_error"


def handle(runner, call: RpcArgs) -> dict:
    device_id = call.device_id
    if runner.c.repos.devices.doc(device_id) is None:
        raise NotFound(f"device {device_id} not found")
    session = runner.ensure_session(device_id)
    if session is None:
        raise Conflict(f"device {device_id} is held by another runner", code="not_holder")
    transport = runner.transport_of(device_id)
    try:
        if isinstance(call, PairCall):
            return {"pairing_code": transport.pair_phone(device_id, call.phone)}
        if not session.connected:
            raise Conflict(f"device {device_id} is not connected to WhatsApp",
                           code="device_not_connected")
        if isinstance(call, ExistsCall):
            return {"results": transport.check_numbers(device_id, call.numbers)}
        if isinstance(call, ReadCall):
            transport.mark_read(device_id, call.chat, call.messages)
            return {"ok": True}
        if isinstance(call, EditCall | RevokeCall):  # the change finds the entry filed
            runner.c.outbound_filing.flush_device(device_id)
        if isinstance(call, EditCall):
            transport.edit_text(device_id, call.wa_id, call.to, call.text)
            return {"ok": True}
        if isinstance(call, RevokeCall):
            transport.revoke(device_id, call.wa_id, call.to)
            return {"ok": True}
        if isinstance(call, ProfileCall):
            transport.set_profile(device_id, name=call.name, about=call.description,
                                  image=call.image)
            return {"ok": True}
    except NotSupported as exc:
        raise Conflict(str(exc), code="not_supported") from exc
    except TransportError as exc:
        raise WhatsAppError(f"WhatsApp refused the request: {exc}") from exc
    raise TypeError(f"no handler for {type(call).__name__}")
