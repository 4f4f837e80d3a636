from __future__ import annotations

import phonenumbers

from shared.errors import ValidationFailed


def normalise(raw: str, field: str = "phone") -> str:
    """E.164 form of a number given in international format, or a 422 that says why."""
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]  # the international call prefix
    elif text.startswith("0"):
        raise ValidationFailed(
            f"{field}: {raw!r} is in national format; give it with its country code (+<country><number>)",
            details={"field": field, "reason": "missing_country_code"},
        )
    elif text[:1].isdigit():
        text = "+" + text
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationFailed(
            f"{field}: {raw!r} is not a phone number in international format (+<country><number>)",
            details={"field": field, "reason": "unparseable"},
        ) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationFailed(
            f"{field}: {raw!r} is not a valid phone number",
            details={"field": field, "reason": "invalid_number"},
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def national_number(e164: str) -> str:
    return str(phonenumbers.parse(e164, None).national_number)
