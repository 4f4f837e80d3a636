"""The request and response models of the public API; they validate requests and
generate the OpenAPI document."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared import phones
from shared.domain import (
    DeliveryStatus,
    DeviceSettings,
    DeviceStatus,
    Transport,
)
from shared.errors import ValidationFailed

MAX_TEXT = 6000


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


def _e164(value: str) -> str:
    try:
        return phones.normalise(value)
    except ValidationFailed as exc:
        raise ValueError(exc.message.split(": ", 1)[-1]) from exc


class ErrorDetail(BaseModel):
    code: str = Field(examples=["validation_error"])
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class Health(BaseModel):
    status: str = "ok"
    version: str


# --- accounts and keys --------------------------------------------------------------


class CreateAccount(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"name": "Acme Ltd", "email": "ops@acme.example"}]})
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")


class AccountOut(BaseModel):
    id: str
    name: str
    email: str | None = None
    created_at: datetime


class ApiKeyOut(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="The first characters of the key, to tell keys apart.")
    created_at: datetime


class ApiKeyCreated(ApiKeyOut):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "key_3f9a0c1d2e4b5a6c7d8e", "name": "backend", "prefix": "utio_Zm9v",
        "created_at": "2026-11-24T10:00:00Z", "key": "utio_Zm9vYmFyYmF6..."}]})
    key: str = Field(description="The API key. Shown once; Utio stores only its hash.")


class AccountCreated(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "account": {"id": "acc_1a2b3c4d5e6f7a8b9c0d", "name": "Acme Ltd",
                    "email": "ops@acme.example", "created_at": "2026-11-24T10:00:00Z"},
        "api_key": {"id": "key_3f9a0c1d2e4b5a6c7d8e", "name": "default", "prefix": "utio_Zm9v",
                    "created_at": "2026-11-24T10:00:00Z", "key": "utio_Zm9vYmFyYmF6..."}}]})
    account: AccountOut
    api_key: ApiKeyCreated


class CreateApiKey(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "backend"}]})
    name: str = Field(min_length=1, max_length=100)


class ApiKeyList(BaseModel):
    data: list[ApiKeyOut]


# --- devices ----------------------------------------------------------------------


class DeviceSettingsPatch(Input):
    delivery_speed: int | None = Field(default=None, ge=1, le=120,
                                       description="Messages per minute.")


class CreateDevice(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"alias": "Sales line", "transport": "sandbox", "settings": {"delivery_speed": 20}}]})
    alias: str | None = Field(default=None, max_length=100)
    transport: Transport | None = Field(
        default=None, description="whatsapp links a real number; sandbox a simulated one. "
        "Defaults to sandbox on the local stack and whatsapp in production.")
    settings: DeviceSettingsPatch | None = None


class UpdateDevice(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"alias": "Support line", "settings": {"delivery_speed": 30}}]})
    alias: str | None = Field(default=None, max_length=100)
    settings: DeviceSettingsPatch | None = None


class DeviceOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "dev_5e6f7a8b9c0d1a2b3c4d", "alias": "Sales line", "transport": "sandbox",
        "status": "connected", "phone": "+447911123456", "settings": {"delivery_speed": 15},
        "created_at": "2026-11-24T10:00:00Z", "updated_at": "2026-11-24T10:00:01Z"}]})
    id: str
    alias: str | None
    transport: Transport
    status: DeviceStatus
    phone: str | None
    settings: DeviceSettings
    created_at: datetime
    updated_at: datetime


class DeviceList(BaseModel):
    data: list[DeviceOut]


class SandboxInbound(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"phone": "+447700900456", "message": "Hi, is my order on its way?"}]})
    phone: str = Field(description="The sender, in E.164.")
    message: str = Field(min_length=1, max_length=MAX_TEXT)

    _phone = field_validator("phone")(_e164)


class Accepted(BaseModel):
    status: str = "accepted"


# --- webhooks ---------------------------------------------------------------------


class CreateWebhook(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"url": "https://hooks.acme.example/utio", "events": ["message:*", "device:status"]}]})
    url: str = Field(max_length=2000)
    events: list[str] = Field(default_factory=lambda: ["*"], min_length=1, max_length=50,
                              description="Event names, 'prefix:*', or '*' for all.")
    devices: list[str] | None = Field(default=None, max_length=500,
                                      description="Absent for all devices.")


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    devices: list[str] | None
    enabled: bool
    created_at: datetime


class WebhookCreated(WebhookOut):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "wh_9c0d1a2b3c4d5e6f7a8b", "url": "https://hooks.acme.example/utio",
        "events": ["message:*", "device:status"], "devices": None, "enabled": True,
        "created_at": "2026-11-24T10:00:00Z", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}]})
    secret: str = Field(description="Key for verifying signatures (Standard Webhooks).")


class WebhookList(BaseModel):
    data: list[WebhookOut]


class AttemptOut(BaseModel):
    at: datetime
    status_code: int | None
    error: str | None
    latency_ms: int
    response: str | None


class DeliveryOut(BaseModel):
    id: str
    event_id: str
    event: dict
    status: DeliveryStatus
    attempts: list[AttemptOut]
    created_at: datetime


class DeliveryList(BaseModel):
    data: list[DeliveryOut]
