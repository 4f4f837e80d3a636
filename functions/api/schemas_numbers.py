"""Request and response models of POST /v1/numbers/validate."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints, field_validator

from functions.api.schemas import Input
from shared.model import Model
from shared.services.numbers import MAX_INPUT_LENGTH, MAX_NUMBERS, InvalidReason, NumberType
from shared.services.numbers import supported_country as _supported_country

RawNumber = Annotated[str, StringConstraints(max_length=MAX_INPUT_LENGTH)]


class ValidateNumbers(Input):
    """Checks the format of up to 500 numbers against libphonenumber's numbering plans:
    whether each could be a real number, its E.164 form, country and type. It does not
    tell whether a number exists or is on WhatsApp (that is POST /v1/numbers/exists).
    Free and unlimited: it counts against no quota."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"numbers": ["+447400123456", "+1 415 555 2671", "07400 900123", "+44 12", "hello"],
         "country": "GB"}]})
    numbers: list[RawNumber] = Field(
        min_length=1, max_length=MAX_NUMBERS,
        description="1 to 500 numbers, international format (+<country code><number>, or "
        "00<country code>...); national format too when `country` is given.")
    country: str | None = Field(
        default=None, min_length=2, max_length=2,
        description="ISO 3166-1 alpha-2 country for numbers written in national format.")

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if value is not None and not _supported_country(value):
            raise ValueError(f"{value!r} is not a country code libphonenumber knows "
                             "(ISO 3166-1 alpha-2, such as GB or US)")
        return value.upper() if value else None


class NumberCheckOut(Model):
    input: str
    valid: bool
    e164: str | None = Field(description="The number in E.164, when valid.")
    country: str | None = Field(description="ISO 3166-1 alpha-2; null for non-geographic "
                                "numbers (+800, +882...) and invalid ones.")
    calling_code: int | None = Field(description="The international calling code, when known.")
    type: NumberType | None = Field(description="The kind of line, when valid.")
    reason: InvalidReason | None = Field(description="Why the number is invalid.")


class ValidationSummary(Model):
    total: int
    valid: int
    invalid: int


class NumberValidation(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "data": [
            {"input": "+447400123456", "valid": True, "e164": "+447400123456", "country": "GB",
             "calling_code": 44, "type": "mobile", "reason": None},
            {"input": "07400 900123", "valid": True, "e164": "+447400900123", "country": "GB",
             "calling_code": 44, "type": "mobile", "reason": None},
            {"input": "+44 12", "valid": False, "e164": None, "country": None,
             "calling_code": 44, "type": None, "reason": "too_short"},
            {"input": "hello", "valid": False, "e164": None, "country": None,
             "calling_code": None, "type": None, "reason": "not_a_number"}],
        "summary": {"total": 4, "valid": 2, "invalid": 2}}]})
    data: list[NumberCheckOut] = Field(description="One answer a number, in request order.")
    summary: ValidationSummary
