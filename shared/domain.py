"""Domain enumerations and the documents we store. Every status and reason is an enum."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.content import Content, MessageRef, MessageType


class DeviceStatus(StrEnum):
    pending = "pending"
    linking = "linking"
    connected = "connected"
    disconnected = "disconnected"
    non_operative = "non_operative"
    logged_out = "logged_out"
    banned = "banned"


class Transport(StrEnum):
    whatsapp = "whatsapp"
    sandbox = "sandbox"


class Priority(StrEnum):
    urgent = "urgent"
    high = "high"
    normal = "normal"
    low = "low"

    @property
    def rank(self) -> int:
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {Priority.urgent: 0, Priority.high: 1, Priority.normal: 2, Priority.low: 3}


class MessageStatus(StrEnum):
    queued = "queued"
    sent = "sent"
    delivered = "delivered"
    read = "read"
    failed = "failed"
    cancelled = "cancelled"


class FailureReason(StrEnum):
    number_not_on_whatsapp = "number_not_on_whatsapp"
    device_deleted = "device_deleted"
    device_logged_out = "device_logged_out"
    transport_error = "transport_error"
    group_not_found = "group_not_found"
    media_unavailable = "media_unavailable"
    unsupported_content = "unsupported_content"


class Direction(StrEnum):
    outbound = "outbound"
    inbound = "inbound"


class DeliveryStatus(StrEnum):
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"


class Doc(BaseModel):
    model_config = ConfigDict(extra="ignore")

    def to_doc(self) -> dict:
        return self.model_dump(mode="python")


class Account(Doc):
    id: str
    name: str
    email: str | None = None
    created_at: datetime


class ApiKey(Doc):
    id: str
    account_id: str
    name: str
    prefix: str
    hash: str
    created_at: datetime


class DeviceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delivery_speed: int = Field(
        default=15, ge=1, le=120, description="Messages per minute this device sends at most."
    )


class BillingStatus(StrEnum):
    trialing = "trialing"
    active = "active"
    past_due = "past_due"
    unpaid = "unpaid"
    canceled = "canceled"


class Device(Doc):
    id: str
    account_id: str
    alias: str | None = None
    transport: Transport
    status: DeviceStatus = DeviceStatus.pending
    phone: str | None = None
    settings: DeviceSettings = Field(default_factory=DeviceSettings)
    plan: str = "messaging-professional"  # an id of shared.plans.PLANS
    billing_status: BillingStatus = BillingStatus.trialing
    created_at: datetime
    updated_at: datetime


class Message(Doc):
    id: str
    account_id: str
    device_id: str
    direction: Direction = Direction.outbound
    type: MessageType = MessageType.text
    phone: str | None = None  # E.164; or
    group: str | None = None  # a group's WhatsApp id, "<digits>@g.us"
    message: str = ""  # the text, or a line standing for other content
    content: Content
    quote: MessageRef | None = None
    priority: Priority = Priority.normal
    reference: str | None = None
    status: MessageStatus = MessageStatus.queued
    failure_reason: FailureReason | None = None
    wa_id: str | None = None
    claimed_by: str | None = None
    deliver_at: datetime | None = None
    created_at: datetime
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    failed_at: datetime | None = None
    cancelled_at: datetime | None = None
    # the monthly-quota reservation this message holds (shared.services.quotas)
    quota_period: str | None = None
    quota_shard: int | None = None

    INTERNAL: ClassVar[frozenset[str]] = frozenset(
        {"account_id", "claimed_by", "wa_id", "quota_period", "quota_shard"})

    @model_validator(mode="before")
    @classmethod
    def _text_content(cls, data):
        """Documents written before content existed hold only the text."""
        if isinstance(data, dict) and data.get("content") is None:
            data = dict(data, content={"type": "text", "text": data.get("message") or " "})
        return data

    @property
    def to(self) -> str:
        return self.group or self.phone or ""


class Webhook(Doc):
    id: str
    account_id: str
    url: str
    events: list[str]
    devices: list[str] | None = None
    enabled: bool = True
    secret: str
    created_at: datetime

    def matches(self, event: Event) -> bool:
        if not self.enabled or event.account != self.account_id:
            return False
        if self.devices is not None and event.device not in self.devices:
            return False
        return any(
            pattern == "*"
            or pattern == event.event
            or (pattern.endswith(":*") and event.event.startswith(pattern[:-1]))
            for pattern in self.events
        )


class Event(BaseModel):
    """A domain event; `account` travels as a Pub/Sub attribute, not in the body."""

    id: str
    event: str
    created_at: datetime
    account: str
    device: str | None = None
    data: dict

    def body(self) -> dict:
        return self.model_dump(mode="json", exclude={"account"})


class Attempt(BaseModel):
    at: datetime
    status_code: int | None = None
    error: str | None = None
    latency_ms: int
    response: str | None = None


class Delivery(Doc):
    id: str
    webhook_id: str
    account_id: str
    event_id: str
    event: dict
    status: DeliveryStatus = DeliveryStatus.pending
    attempts: list[Attempt] = Field(default_factory=list)
    created_at: datetime
