"""The request and response models of the public API; they validate requests and
generate the OpenAPI document."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, ConfigDict, Field, field_validator, model_validator

from shared import phones
from shared.domain import (
    ChatCleanup,
    DeviceSettings,
    DeviceStatus,
    DeviceWarning,
    Transport,
)
from shared.errors import ValidationFailed
from shared.model import Model
from shared.plans import PlanId

MAX_TEXT = 6000


def _in_utc(at: datetime) -> datetime:
    try:
        return at.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before the first UTC instant
        raise ValueError("must be a time from the year 1 to 9999 in UTC") from None


# A time a request gives: ISO 8601 with its zone, as UTC from here on (one with an offset
# that puts it outside years 1-9999 in UTC is refused, not a 500 where it is converted).
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_in_utc)]


class Input(Model):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


# The forms the API takes, stated in the OpenAPI document; the validators (which say why a
# value is refused) check them, and more: a number must also be a valid one (phonenumbers).
PHONE_PATTERN = r"^\+?[1-9][0-9]{6,14}$"  # E.164, the + optional
GROUP_PATTERN = r"^[0-9]{6,22}(-[0-9]{6,12})?(@g\.us)?$"
LID_PATTERN = r"^[0-9]{1,24}@lid$"  # an anonymous WhatsApp id
# a phone, a group or an anonymous id
CHAT_PATTERN = r"^(?:\+?[1-9][0-9]{6,14}|[0-9]{6,22}(-[0-9]{6,12})?@g\.us|[0-9]{1,24}@lid)$"
CURSOR = {"pattern": r"^[A-Za-z0-9_-]+=*$"}  # opaque: a next_cursor as the API gave it
Phone = Annotated[str, Field(json_schema_extra={"pattern": PHONE_PATTERN})]
GroupRef = Annotated[str, Field(json_schema_extra={"pattern": GROUP_PATTERN})]
Recipient = Annotated[str, Field(json_schema_extra={  # a phone, or an anonymous id
    "pattern": f"^(?:{PHONE_PATTERN[1:-1]}|{LID_PATTERN[1:-1]})$"})]


def given(field: str) -> dict:
    return {"required": [field], "properties": {field: {"not": {"type": "null"}}}}


def exactly_one(fields) -> dict:
    """JSON Schema for "exactly one of these fields, not null" (a rule the validator keeps)."""
    return {"oneOf": [given(f) for f in fields]}


def at_least_one(fields) -> dict:
    """JSON Schema for "at least one of these fields, not null"."""
    return {"anyOf": [given(f) for f in fields]}


def _e164(value: str) -> str:
    try:
        return phones.normalise(value)
    except ValidationFailed as exc:
        raise ValueError(exc.message.split(": ", 1)[-1]) from exc


class ErrorDetail(Model):
    code: str = Field(examples=["validation_error"])
    message: str
    details: Any = None


class ErrorBody(Model):
    error: ErrorDetail


class Health(Model):
    status: str = "ok"
    version: str


# --- accounts and keys --------------------------------------------------------------


class CreateAccount(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"name": "Acme Ltd", "email": "ops@acme.example"}]})
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")


class AccountOut(Model):
    id: str
    name: str
    email: str | None = None
    created_at: datetime


class ApiKeyOut(Model):
    id: str
    name: str
    prefix: str = Field(description="The first characters of the key, to tell keys apart.")
    created_at: datetime


class ApiKeyCreated(ApiKeyOut):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "key_3f9a0c1d2e4b5a6c7d8e", "name": "backend", "prefix": "utio_Zm9v",
        "created_at": "2026-11-24T10:00:00Z", "key": "utio_Zm9vYmFyYmF6..."}]})
    key: str = Field(description="The API key. Shown once; Utio stores only its hash.")


class AccountSettingsPatch(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"read_on_reply": True}]})
    read_on_reply: bool | None = Field(default=None, description="Mark a chat read (read "
                                       "receipts to WhatsApp) when a message to it goes out, "
                                       "on the devices whose own setting is null.")


class AccountCreated(Model):
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


class ApiKeyList(Model):
    data: list[ApiKeyOut]


# --- devices ----------------------------------------------------------------------


class WarmupPatch(Input):
    enabled: bool | None = None
    first_day: int | None = Field(default=None, ge=1, le=10_000,
                                  description="Messages on the day the number was linked.")
    days: int | None = Field(default=None, ge=1, le=60,
                             description="How many days the warm-up lasts.")


class DeviceSettingsPatch(Input):
    chat_cleanup: ChatCleanup | None = Field(
        default=None, description="Replaces the whole clean-up setting; {} turns it off.")
    delivery_speed: int | None = Field(default=None, ge=1, le=120,
                                       description="Messages per minute.")
    daily_limit: int | None = Field(default=None, ge=0, le=100_000,
                                    description="Messages a day (UTC) at most; 0 removes the "
                                    "daily cap.")
    typing_seconds: int | None = Field(default=None, ge=0, le=20, description="\"typing...\" "
                                       "before each message, in seconds; 0 turns it off.")
    read_on_reply: bool | None = Field(default=None, description="Mark a chat read when a "
                                       "message to it goes out (true or false, for this "
                                       "device); null: as the account's setting says.")
    warmup: WarmupPatch | None = Field(default=None, description="Changes the warm-up of a "
                                       "newly linked number; the fields not given are kept.")


class CreateDevice(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"alias": "Sales line", "transport": "sandbox", "settings": {"delivery_speed": 20}}]})
    alias: str | None = Field(default=None, max_length=100)
    transport: Transport | None = Field(
        default=None, description="whatsapp links a real number; sandbox a simulated one. "
        "Defaults to sandbox on the local stack and whatsapp in production.")
    settings: DeviceSettingsPatch | None = None
    plan: PlanId | None = Field(default=None, description="The plan the device's free trial "
                                "runs on (GET /v1/plans); defaults to messaging-professional.")


class UpdateDevice(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"alias": "Support line", "settings": {"delivery_speed": 30, "daily_limit": 500,
                                               "warmup": {"first_day": 30}}}]})
    alias: str | None = Field(default=None, max_length=100)
    settings: DeviceSettingsPatch | None = None


class DeviceOut(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "dev_5e6f7a8b9c0d1a2b3c4d", "alias": "Sales line", "transport": "sandbox",
        "status": "connected", "phone": "+447911123456", "settings": {"delivery_speed": 15},
        "created_at": "2026-11-24T10:00:00Z", "updated_at": "2026-11-24T10:00:01Z"}]})
    id: str
    alias: str | None
    transport: Transport
    status: DeviceStatus
    status_code: str | None = Field(default=None, description="Why the device is in its status "
                                    "(wa-qr, wa-logged-out, wa-temporary-ban...); device:status "
                                    "events carry it with a message.")
    warnings: list[DeviceWarning] = Field(
        default_factory=list, description="Conditions that slow the device down, such as more "
        "than 1000 open chats or 50 groups; updated by the scheduled chat clean-up.")
    phone: str | None
    settings: DeviceSettings
    linked_at: datetime | None = Field(default=None, description="When the current number "
                                       "was linked; its warm-up counts days from then.")
    queue_paused_at: datetime | None = Field(default=None, description="Set while the send "
                                             "queue is paused (POST .../queue/pause).")
    created_at: datetime
    updated_at: datetime


class DeviceList(Model):
    data: list[DeviceOut]


class SandboxInbound(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"phone": "+447911123457", "message": "Hi, is my order on its way?"}],
        **at_least_one(("phone", "lid"))})
    phone: Phone | None = Field(default=None, description="The sender, in E.164.")
    lid: str | None = Field(default=None, pattern=r"^\d{1,24}@lid$", description="Present the "
                            "sender by this anonymous WhatsApp id (<digits>@lid), as WhatsApp "
                            "does: with their number beside it when phone is given, alone "
                            "when not.")
    message: str = Field(min_length=1, max_length=MAX_TEXT)

    _phone = field_validator("phone")(lambda v: None if v is None else _e164(v))

    @model_validator(mode="after")
    def _sender(self) -> SandboxInbound:
        if self.phone is None and self.lid is None:
            raise ValidationFailed("body: phone: give the sender's phone, lid, or both",
                                   details=[{"field": "phone", "type": "value_error",
                                             "message": "give phone, lid or both"}])
        return self


class Accepted(Model):
    status: str = "accepted"


# Webhook models: functions/api/schemas_webhooks.py
