"""Bulk number validation: the format only (libphonenumber's metadata), never whether a
number is on WhatsApp. Free: it touches no store and counts against nothing."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberType, ValidationResult
from phonenumbers.phonenumberutil import _number_type_helper

MAX_NUMBERS = 500
MAX_INPUT_LENGTH = 250  # libphonenumber's own limit on input


class NumberType(StrEnum):
    mobile = "mobile"
    fixed_line = "fixed_line"
    fixed_line_or_mobile = "fixed_line_or_mobile"
    toll_free = "toll_free"
    premium_rate = "premium_rate"
    shared_cost = "shared_cost"
    voip = "voip"
    personal_number = "personal_number"
    pager = "pager"
    uan = "uan"
    voicemail = "voicemail"
    unknown = "unknown"


class InvalidReason(StrEnum):
    empty = "empty"
    not_a_number = "not_a_number"
    missing_country_code = "missing_country_code"
    invalid_country_code = "invalid_country_code"
    too_short = "too_short"
    too_long = "too_long"
    invalid_length = "invalid_length"
    invalid_number = "invalid_number"


_TYPES = {
    PhoneNumberType.MOBILE: NumberType.mobile,
    PhoneNumberType.FIXED_LINE: NumberType.fixed_line,
    PhoneNumberType.FIXED_LINE_OR_MOBILE: NumberType.fixed_line_or_mobile,
    PhoneNumberType.TOLL_FREE: NumberType.toll_free,
    PhoneNumberType.PREMIUM_RATE: NumberType.premium_rate,
    PhoneNumberType.SHARED_COST: NumberType.shared_cost,
    PhoneNumberType.VOIP: NumberType.voip,
    PhoneNumberType.PERSONAL_NUMBER: NumberType.personal_number,
    PhoneNumberType.PAGER: NumberType.pager,
    PhoneNumberType.UAN: NumberType.uan,
    PhoneNumberType.VOICEMAIL: NumberType.voicemail,
}

_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: InvalidReason.invalid_country_code,
    NumberParseException.NOT_A_NUMBER: InvalidReason.not_a_number,
    NumberParseException.TOO_SHORT_AFTER_IDD: InvalidReason.too_short,
    NumberParseException.TOO_SHORT_NSN: InvalidReason.too_short,
    NumberParseException.TOO_LONG: InvalidReason.too_long,
}

_LENGTH_REASONS = {
    ValidationResult.INVALID_COUNTRY_CODE: InvalidReason.invalid_country_code,
    ValidationResult.TOO_SHORT: InvalidReason.too_short,
    ValidationResult.TOO_LONG: InvalidReason.too_long,
    ValidationResult.INVALID_LENGTH: InvalidReason.invalid_length,
}


@dataclass(frozen=True, slots=True)
class NumberCheck:
    input: str
    valid: bool
    e164: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2; None for non-geographic numbers
    calling_code: int | None = None
    type: NumberType | None = None
    reason: InvalidReason | None = None

    def as_dict(self) -> dict:  # dataclasses.asdict deep-copies: 10x slower, and it shows
        return {"input": self.input, "valid": self.valid, "e164": self.e164,
                "country": self.country, "calling_code": self.calling_code, "type": self.type,
                "reason": self.reason}


def supported_country(code: str) -> bool:
    return code.upper() in phonenumbers.SUPPORTED_REGIONS


def _number_type(number: phonenumbers.PhoneNumber, region: str | None) -> int:
    """phonenumbers.number_type, given the number's region (found by the caller)."""
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(number.country_code, region)
    if metadata is None:
        return PhoneNumberType.UNKNOWN
    return _number_type_helper(phonenumbers.national_significant_number(number), metadata)


def check_number(raw: str, default_country: str | None = None) -> NumberCheck:
    """One number. International format ("+44 7911 123456", "0044...", "447911123456");
    with a default country also its national format ("07911 123456")."""
    text = raw.strip()
    if not text:
        return NumberCheck(raw, False, reason=InvalidReason.empty)
    if default_country is None and not text.startswith("+"):
        if text.startswith("00"):
            text = "+" + text[2:]
        elif text[:1] == "0":
            # A trunk prefix: a national number, which needs its country to mean anything.
            return NumberCheck(raw, False, reason=InvalidReason.missing_country_code)
        elif text[:1].isdigit():
            text = "+" + text
    try:
        number = phonenumbers.parse(text, default_country)
    except NumberParseException as exc:
        return NumberCheck(raw, False, reason=_PARSE_REASONS.get(exc.error_type,
                                                                 InvalidReason.not_a_number))
    # number_type is UNKNOWN exactly when is_valid_number is False, so one look-up does both;
    # the region it needs is found once (several countries share a calling code, +44 four:
    # finding which is the longest step) and kept for the answer.
    region = phonenumbers.region_code_for_number(number)
    kind = _number_type(number, region)
    if kind == PhoneNumberType.UNKNOWN:
        possible = phonenumbers.is_possible_number_with_reason(number)
        return NumberCheck(raw, False, calling_code=number.country_code,
                           reason=_LENGTH_REASONS.get(possible, InvalidReason.invalid_number))
    return NumberCheck(
        raw, True,
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        country=region if region and region != phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY else None,
        calling_code=number.country_code,
        type=_TYPES.get(kind, NumberType.unknown),
    )


def validate_numbers(numbers: list[str], default_country: str | None = None) -> list[NumberCheck]:
    # Numbers of many countries use more metadata patterns than the re module's cache holds
    # (512), so without this libphonenumber recompiles regular expressions all the time:
    # about ten times slower on a mixed batch. Idempotent; about 1200 patterns in all.
    phonenumbers.enable_pattern_cache()
    country = default_country.upper() if default_country else None
    return [check_number(raw, country) for raw in numbers]
