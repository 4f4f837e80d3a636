"""Helpers of the inbox tests: messages filed straight into chats."""

from __future__ import annotations

import itertools

from shared.domain import Message
from shared.services import chats as chat_service

_wa = itertools.count(1)


def inbound(c, device: dict, phone: str, text: str = "hi", *, wa_id: str | None = None,
            cap: int = 1000) -> bool:
    c.clock.advance(1)
    record = {"id": f"msg_in{next(_wa)}", "wa_id": wa_id or f"WA{next(_wa)}", "phone": phone,
              "message": text, "received_at": c.clock.now()}
    return chat_service.record_inbound(c.store, c.clock, device["account_id"], device["id"],
                                       record, cap=cap)


def outbound(c, device: dict, phone: str, text: str = "hello", *, status: str = "sent") -> Message:
    c.clock.advance(1)
    message = Message(id=f"msg_out{next(_wa)}", account_id=device["account_id"],
                      device_id=device["id"], phone=phone, message=text, wa_id=f"3EB0{next(_wa)}",
                      status=status, created_at=c.clock.now())
    c.store.put("messages", message.id, message.to_doc())
    chat_service.record_outbound(c.store, c.clock, message)
    return message
