"""Request and response models of the webhook endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict, Field, model_validator

from functions.api.ids import DeviceId
from functions.api.schemas import CURSOR, Input, UtcDatetime
from shared.domain import DeliveryFailure, DeliveryStatus, WebhookDisabledReason
from shared.events import known_patterns
from shared.model import Model

EVENTS_TEXT = ("Event names, 'prefix:*' (such as 'message:*' or 'message:out:*'), or '*' for "
               "all; GET /v1/webhooks/events lists them.")
DEVICES_TEXT = "Device ids; absent or null for all devices."
URL_FORM = {"pattern": r"^[hH][tT][tT][pP][sS]?://[^\s/?#]+"}
EventPattern = Annotated[str, Field(json_schema_extra={"enum": known_patterns()})]
HEADERS_TEXT = ("Extra headers sent with every delivery, such as Authorization (at most 10, "
                "4 KB in all; not Content-Type, Host, User-Agent or any webhook-* header). "
                "Stored encrypted; write-only: answers show each value masked (****, and the "
                "last 4 characters of a value of 16 or more). Sending a masked value back "
                "keeps the stored one.")
URL_TEXT = ("Where events are POSTed. Outside the local stack: https, on a host that resolves "
            "to public addresses only.")


class CreateWebhook(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"url": "https://hooks.acme.example/utio", "events": ["message:*", "device:status"],
         "headers": {"Authorization": "Bearer 7f3c9a0e5b1d2c4f"}, "description": "CRM sync"}]})
    url: str = Field(max_length=2000, description=URL_TEXT, json_schema_extra=URL_FORM)
    events: list[EventPattern] = Field(default_factory=lambda: ["*"], min_length=1, max_length=50,
                              description=EVENTS_TEXT)
    devices: list[DeviceId] | None = Field(default=None, max_length=500, description=DEVICES_TEXT)
    enabled: bool = True
    headers: dict[str, str] | None = Field(default=None, max_length=10, description=HEADERS_TEXT)
    description: str | None = Field(default=None, max_length=200)


def _absent_or(**kwargs):
    """A PATCH field that may be absent but not null: None is only the marker of absence,
    so the schema shows no default."""
    extra = kwargs.pop("json_schema_extra", {})

    def schema_of(schema: dict) -> None:
        schema.pop("default", None)
        schema.update(extra)

    return Field(default=None, json_schema_extra=schema_of, **kwargs)


class UpdateWebhook(Input):
    """Only the fields given change. `devices: null` means all devices again,
    `headers: null` removes the custom headers, `enabled: true` re-enables a webhook
    that was disabled (by hand, for failing a day, or for a 410 Gone)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"enabled": True, "events": ["message:in:new"], "devices": None}],
        "minProperties": 1})
    # No None in the types of url, events, enabled: absent is fine, null is not.
    url: str = _absent_or(max_length=2000, description=URL_TEXT, json_schema_extra=URL_FORM)
    events: list[EventPattern] = _absent_or(min_length=1, max_length=50, description=EVENTS_TEXT)
    devices: list[DeviceId] | None = Field(default=None, max_length=500, description=DEVICES_TEXT)
    enabled: bool = _absent_or(description="False pauses deliveries; true resumes.")
    headers: dict[str, str] | None = Field(default=None, max_length=10, description=HEADERS_TEXT)
    description: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _something(self) -> UpdateWebhook:
        if not self.model_fields_set:
            raise ValueError("give at least one of: url, events, devices, enabled, headers, "
                             "description")
        return self

    def changes(self) -> dict:
        return self.model_dump(include=self.model_fields_set)


class WebhookOut(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "wh_9c0d1a2b3c4d5e6f7a8b", "url": "https://hooks.acme.example/utio",
        "description": "CRM sync", "events": ["message:*", "device:status"], "devices": None,
        "enabled": True, "headers": {"Authorization": "****7f3c"}, "disabled_reason": None,
        "disabled_at": None, "failing_since": None, "previous_secret_expires_at": None,
        "created_at": "2026-11-24T10:00:00Z", "updated_at": "2026-11-24T10:00:00Z"}]})
    id: str
    url: str
    description: str | None = None
    events: list[str]
    devices: list[str] | None
    enabled: bool
    headers: dict[str, str] = Field(default_factory=dict, description="The custom headers, "
                                    "each value masked (write-only).")
    disabled_reason: WebhookDisabledReason | None = Field(
        default=None, description="manual (PATCH), failing (every delivery failed for a day) "
        "or gone (the receiver answered 410).")
    disabled_at: datetime | None = None
    failing_since: datetime | None = Field(
        default=None, description="When deliveries started failing; null while they succeed.")
    previous_secret_expires_at: datetime | None = Field(
        default=None, description="After a rotation, the old secret signs too until then.")
    created_at: datetime
    updated_at: datetime | None = None


class WebhookCreated(WebhookOut):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "wh_9c0d1a2b3c4d5e6f7a8b", "url": "https://hooks.acme.example/utio",
        "description": None, "events": ["message:*", "device:status"], "devices": None,
        "enabled": True, "headers": {}, "disabled_reason": None, "disabled_at": None,
        "failing_since": None, "previous_secret_expires_at": None,
        "created_at": "2026-11-24T10:00:00Z", "updated_at": "2026-11-24T10:00:00Z",
        "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}]})
    secret: str = Field(description="Key for verifying signatures (Standard Webhooks). "
                        "GET /v1/webhooks/{id}/secret shows it again.")


class WebhookList(Model):
    data: list[WebhookOut]


class WebhookSecret(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "secret": "whsec_3q2+7wAAAAAYmFyYmF6cXV4cXV1eA==",
        "previous_secret_expires_at": "2026-11-25T10:00:00Z"}]})
    secret: str = Field(description="The secret that signs deliveries.")
    previous_secret_expires_at: datetime | None = Field(
        default=None, description="Until then deliveries carry a second signature, made with "
        "the secret before the last rotation.")


class EventInfo(Model):
    name: str
    description: str
    example: dict = Field(description="A body as the receiver gets it.")


class EventList(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{"data": [{
        "name": "message:in:new", "description": "A message arrived on a device.",
        "example": {"id": "evt_1f2e3d4c5b6a79881726", "event": "message:in:new",
                    "created_at": "2026-11-24T10:00:00Z", "device": "dev_5e6f7a8b9c0d1a2b3c4d",
                    "sequence": 1795514400000000, "data": {"phone": "+34600100999", "message": "Hi"}}}]}]})
    data: list[EventInfo]


class AttemptOut(Model):
    at: datetime
    status_code: int | None = Field(description="The receiver's HTTP status; null when there was "
                                    "no answer (see error).")
    error: str | None
    latency_ms: int
    response: str | None = Field(description="The first characters of the receiver's answer.")
    manual: bool = Field(default=False, description="Asked for with the retry endpoint.")


class DeliveryOut(Model):
    id: str
    webhook_id: str
    event_id: str = Field(description="Also the webhook-id header of every attempt.")
    event: dict = Field(description="The body the receiver gets.")
    status: DeliveryStatus
    reason: DeliveryFailure | None = Field(default=None, description="Why a delivery failed.")
    attempts: list[AttemptOut]
    next_attempt_at: datetime | None = None
    created_at: datetime


class DeliveryList(Model):
    data: list[DeliveryOut]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next "
                                    "(older) page; null on the last page.")


class DeliveryQuery(Input):
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=300, json_schema_extra=CURSOR,
                               description="next_cursor of the previous page.")
    status: DeliveryStatus | None = Field(default=None, description="Only deliveries in this "
                                          "status.")


class RecoverDeliveries(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"since": "2026-11-24T08:00:00Z"}]})
    since: UtcDatetime = Field(description="Retry the failed deliveries made since then.")


class Recovered(Model):
    retried: int
    more: bool = Field(description="More failed deliveries remain: call again.")
