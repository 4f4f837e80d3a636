"""Request and response models of a device's send queue (GET/DELETE
/v1/devices/{id}/queue, pause, resume)."""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict, Field

from shared.content import MessageType
from shared.domain import Priority
from shared.model import Model

_AT = "2026-11-24T10:00:00Z"
_DEVICE = "dev_5e6f7a8b9c0d1a2b3c4d"


class QueueQuery(Model):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=100, ge=1, le=1000, description="How many to list.")
    cursor: str | None = Field(default=None, max_length=20_000, description="The "
                               "`next_cursor` of the previous page; without it, the head of "
                               "the queue.")


class QueuedMessage(Model):
    id: str
    position: int | None = Field(description="1 goes out next; null when the message will "
                                 "expire before its turn (it then fails `expired`).")
    priority: Priority
    type: MessageType
    phone: str | None
    group: str | None
    message: str = Field(description="The text, or a line standing for other content.")
    reference: str | None
    created_at: datetime
    deliver_at: datetime | None
    expires_at: datetime | None
    expected_at: datetime | None = Field(
        description="When it is expected to go out at the device's speed and daily cap, "
        "assuming the device stays connected; null while the queue is paused or when it "
        "expires first.")
    sending: bool = Field(description="The runner is sending it at this moment.")


class DailyOut(Model):
    day: str = Field(description="The UTC day, YYYY-MM-DD.")
    used: int = Field(description="Messages counted against today's cap.")
    limit: int | None = Field(description="Today's cap: the lower of daily_limit and the "
                              "warm-up's; null when the device has none.")
    warmup_day: int | None = Field(description="Day of the warm-up (1: the day the number "
                                   "was linked); null once warmed up or without warm-up.")
    resets_at: datetime


class QueueOut(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "device": _DEVICE, "paused": False, "paused_at": None, "delivery_speed": 15,
        "total": 2, "daily": {"day": "2026-11-24", "used": 18, "limit": 40, "warmup_day": 2,
                              "resets_at": "2026-11-25T00:00:00Z"},
        "data": [
            {"id": "msg_0a1b2c3d4e5f6a7b8c9d", "position": 1, "priority": "urgent",
             "type": "text", "phone": "+447911123456", "group": None,
             "message": "Your code is 381 204", "reference": None, "created_at": _AT,
             "deliver_at": None, "expires_at": "2026-11-24T10:05:00Z",
             "expected_at": "2026-11-24T10:00:00Z", "sending": False},
            {"id": "msg_1b2c3d4e5f6a7b8c9d0e", "position": 2, "priority": "normal",
             "type": "text", "phone": "+447911123457", "group": None,
             "message": "Your order #1042 has shipped", "reference": "order-1042",
             "created_at": _AT, "deliver_at": None, "expires_at": None,
             "expected_at": "2026-11-24T10:00:04Z", "sending": False}],
        "next_cursor": None}]})
    device: str
    paused: bool
    paused_at: datetime | None
    delivery_speed: int = Field(description="Messages a minute the queue goes at (the "
                                "device's setting capped by its plan).")
    total: int = Field(description="Messages queued on the device, scheduled ones included.")
    daily: DailyOut
    data: list[QueuedMessage] = Field(description="In the order they will go out; one that "
                                      "expires before its turn is at that turn, with "
                                      "position null.")
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the "
                                    "next page; null at the end of the queue.")


class QueueState(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "device": _DEVICE, "paused": True, "paused_at": _AT}]})
    device: str
    paused: bool
    paused_at: datetime | None


class QueueCleared(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "device": _DEVICE, "cancelled": 41, "in_flight": ["msg_0a1b2c3d4e5f6a7b8c9d"]}]})
    device: str
    cancelled: int = Field(description="Messages cancelled, each with its "
                           "message:out:cancelled event.")
    in_flight: list[str] = Field(description="Messages being sent at that moment: not "
                                 "cancelled; they end sent or failed.")
