"""Helpers of the inbox tests: a client with a key, the error shape, and messages filed
straight into chats."""

from __future__ import annotations

import itertools

from shared.domain import Message
from shared.services import chats as chat_service
from tests.fakes import assert_error  # noqa: F401 (the inbox tests import it from here)


class Caller:
    """The test client with one key (an API key or an agent token) on every call."""

    def __init__(self, client, key: str):
        self.client, self.key = client, key

    def call(self, method: str, path: str, **kwargs):
        headers = {"Authorization": f"Bearer {self.key}"} | kwargs.pop("headers", {})
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def get(self, path, **kwargs):
        return self.call("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.call("POST", path, **kwargs)

    def patch(self, path, **kwargs):
        return self.call("PATCH", path, **kwargs)

    def put(self, path, **kwargs):
        return self.call("PUT", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.call("DELETE", path, **kwargs)


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
