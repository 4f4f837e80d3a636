"""The transport port: what the runner needs of a WhatsApp connection."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

from shared.content import Text
from shared.domain import DeviceStatus, FailureReason


class Receipt(StrEnum):
    delivered = "delivered"
    read = "read"


@dataclass(frozen=True)
class SendResult:
    ok: bool
    reason: FailureReason | None = None
    retryable: bool = False  # a transient failure: the runner tries again with backoff


@dataclass(frozen=True)
class Inbound:
    wa_id: str
    sender: str  # E.164
    text: str
    at: datetime


class Listener(ABC):
    @abstractmethod
    def on_status(self, device_id: str, status: DeviceStatus, phone: str | None = None,
                  detail: str | None = None) -> None: ...

    @abstractmethod
    def on_receipt(self, device_id: str, wa_id: str, receipt: Receipt) -> None: ...

    @abstractmethod
    def on_inbound(self, device_id: str, message: Inbound) -> None: ...


class Transport(ABC):
    @abstractmethod
    def connect(self, device_id: str, listener: Listener) -> None:
        """Start (or resume) the session; status changes arrive on the listener."""

    @abstractmethod
    def disconnect(self, device_id: str) -> None: ...

    @abstractmethod
    def send(self, device_id: str, wa_id: str, to: str, content: BaseModel,
             media: bytes | None = None) -> SendResult:
        """Send `content` (a model of shared.content) under `wa_id` to `to`: an E.164 phone,
        or a group id ending in @g.us. `media` holds the file's bytes for Media content.
        Sending the same wa_id again must not deliver twice."""

    def send_text(self, device_id: str, wa_id: str, to: str, text: str) -> SendResult:
        return self.send(device_id, wa_id, to, Text(text=text))
