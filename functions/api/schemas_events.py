"""Models of GET /v1/events (the event log, docs/events.md)."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import ConfigDict, Field, field_validator, model_validator

from functions.api.schemas import CURSOR, Input, UtcDatetime
from shared.events import known_pattern, known_patterns
from shared.model import Model

_ONE = "|".join(re.escape(p) for p in known_patterns())
TYPES_PATTERN = rf"^ *({_ONE}) *(, *({_ONE}) *)*$"  # names or patterns, comma-separated

_EXAMPLE = {"id": "evt_1f2e3d4c5b6a79881726", "event": "message:out:delivered",
            "created_at": "2026-11-24T10:00:02Z", "device": "dev_5e6f7a8b9c0d1a2b3c4d",
            "sequence": 1795514402000000,
            "data": {"id": "msg_0a1b2c3d4e5f6a7b8c9d", "status": "delivered"}}


class EventQuery(Input):
    type: str | None = Field(
        default=None, max_length=1000, json_schema_extra={"pattern": TYPES_PATTERN},
        description="Only these events: names or patterns (`message:*`, `message:out:*`, `*`), "
                    "comma-separated, as webhooks' `events` take them.")
    device: str | None = Field(default=None, max_length=100, description="Only this device's events.")
    since: UtcDatetime | None = Field(default=None, description="Logged at or after (ISO 8601).")
    until: UtcDatetime | None = Field(default=None, description="Logged before (ISO 8601).")
    limit: int = Field(default=50, ge=1, le=500, description="Events per answer.")
    cursor: str | None = Field(default=None, max_length=500, json_schema_extra=CURSOR,
                               description="next_cursor of the previous page (newest first).")
    after: str | None = Field(
        default=None, max_length=500,
        description="Replay and follow: the events logged after this one, oldest first. An "
                    "event id, a next_cursor of an earlier answer with `after`, or `now`.")
    wait: float = Field(default=0, ge=0, le=25, allow_inf_nan=False,
                        description="With `after`: seconds to wait for the first event when "
                                    "there is none yet (a long poll), at most 25.")

    @field_validator("type")
    @classmethod
    def _types(cls, value: str | None) -> str | None:
        if value is None:
            return None
        types = [t.strip() for t in value.split(",") if t.strip()]
        if not types:
            raise ValueError("name at least one event or pattern")
        unknown = [t for t in types if not known_pattern(t)]
        if unknown:
            raise ValueError(f"unknown event names {unknown}; GET /v1/webhooks/events lists them")
        return ",".join(types)

    @model_validator(mode="after")
    def _modes(self):
        if self.after is not None and self.cursor is not None:
            raise ValueError("give either cursor (pages newest first) or after (oldest first "
                             "from a position), not both")
        if self.wait and self.after is None:
            raise ValueError("wait needs after: a long poll waits for events after a position")
        # (the document says so in wait's description: OpenAPI cannot tie query parameters)
        return self

    @property
    def types(self) -> list[str] | None:
        return self.type.split(",") if self.type else None


class StreamQuery(Input):
    type: str | None = EventQuery.model_fields["type"]
    device: str | None = EventQuery.model_fields["device"]
    after: str | None = Field(
        default=None, max_length=500,
        description="Where to start: an event id, a cursor (an SSE `id`), or `now` (the "
                    "default). A reconnecting EventSource's Last-Event-ID header wins over it.")

    _types = field_validator("type")(EventQuery._types.__func__)

    @property
    def types(self) -> list[str] | None:
        return self.type.split(",") if self.type else None


class EventOut(Model):
    """An event exactly as a webhook receives it."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})
    id: str
    event: str
    created_at: datetime
    device: str | None = None
    sequence: int | None = Field(default=None, description="Orders a device's events "
                                 "(absent on events of no device).")
    data: dict


class EventPage(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "data": [_EXAMPLE], "next_cursor": "WyIyMDI2LTExLTI0VDEwOjAwOjAyKzAwOjAwfGV2dF8xZjJlIl0"}]})
    data: list[EventOut]
    next_cursor: str | None = Field(description="Without `after`: the next (older) page, null "
                                    "on the last. With `after`: where to continue from, always "
                                    "set (the same position when no event came).")
