"""Request and response models of linking, profile and number checks."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from enum import StrEnum

from pydantic import ConfigDict, Field, field_validator, model_validator

from functions.api.schemas import Input, Phone, _e164, at_least_one
from shared.model import Model

MAX_IMAGE = 5 * 1024 * 1024


class ScanFormat(StrEnum):
    png = "png"
    svg = "svg"
    text = "text"
    json = "json"


class ScanQuery(Input):
    format: ScanFormat | None = Field(
        default=None, description="png, svg, text (the QR code's content) or json; without it "
        "the Accept header decides (image/png, image/svg+xml, text/plain, application/json), "
        "and PNG is the default.")
    phone: Phone | None = Field(
        default=None, description="Link by pairing code instead of QR: the phone number (E.164) "
        "of the WhatsApp account to link; the answer is the code to type on that phone.")

    _phone = field_validator("phone")(lambda v: None if v is None else _e164(v))


class ScanCode(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "device": "dev_5e6f7a8b9c0d1a2b3c4d", "status": "linking",
        "qr": "2@Xyz...,AbC...,DeF...,GhI...", "pairing_code": None,
        "expires_at": "2026-11-24T10:00:20Z"}]})
    device: str
    status: str = Field(description="linking while a code is current.")
    qr: str | None = Field(default=None, description="The QR code's content; WhatsApp "
                           "replaces it every 20 seconds or so: fetch it again after expires_at.")
    pairing_code: str | None = None
    phone: str | None = None
    expires_at: datetime | None = None
    message: str | None = None


class ProfileUpdate(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "Acme Support", "description": "Mon-Fri 9:00-18:00"}],
        **at_least_one(("name", "description", "image"))})
    name: str | None = Field(default=None, min_length=1, max_length=25,
                             description="The name contacts see (WhatsApp's push name).")
    description: str | None = Field(default=None, max_length=139,
                                    description="The profile's about text.")
    image: str | None = Field(default=None, description="A JPEG or PNG, base64-encoded, at most "
                              "5 MB; cropped to a square.")

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("not valid base64") from exc
        if len(data) > MAX_IMAGE:
            raise ValueError("larger than 5 MB")
        if not (data.startswith(b"\xff\xd8\xff") or data.startswith(b"\x89PNG\r\n\x1a\n")):
            raise ValueError("not a JPEG or PNG image")
        return value

    @model_validator(mode="after")
    def _something(self) -> ProfileUpdate:
        if self.name is None and self.description is None and self.image is None:
            raise ValueError("give at least one of name, description, image")
        return self


class ProfileOut(Model):
    name: str | None = None
    description: str | None = None
    image_updated_at: datetime | None = None
    updated_at: datetime | None = None


class CheckNumbers(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"numbers": ["+447911123456", "+34612345678"]}]})
    numbers: list[Phone] = Field(min_length=1, max_length=50,
                               description="Up to 50 numbers in E.164; each is one check.")
    device: str | None = Field(default=None, description=(
        "The connected device to ask through. If absent: a connected WhatsApp device of the "
        "account. A sandbox device gives simulated answers, so it is used when absent only "
        "if the account has no WhatsApp device at all (a sandbox-only account, for testing); "
        "otherwise name it here. Sandbox answers are cached apart from real ones."))

    @field_validator("numbers")
    @classmethod
    def _numbers(cls, values: list[str]) -> list[str]:
        normalised = [_e164(v) for v in values]
        return list(dict.fromkeys(normalised))


class NumberExists(Model):
    phone: str
    exists: bool
    cached: bool = Field(description="Answered from the last day's checks, not asked again.")


class CheckUsage(Model):
    period: str
    used: int
    limit: int


class NumberExistence(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "device": "dev_5e6f7a8b9c0d1a2b3c4d",
        "data": [{"phone": "+447911123456", "exists": True, "cached": False}],
        "usage": {"period": "2026-11", "used": 1, "limit": 1000}}]})
    device: str
    data: list[NumberExists]
    usage: CheckUsage
