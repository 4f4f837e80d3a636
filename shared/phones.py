"""Phone numbers in E.164. phonenumbers (some 30 ms to import) is imported by the first
number checked, not by the models that check numbers."""

from __future__ import annotations

from functools import lru_cache

from shared.errors import ValidationFailed


def normalise(raw: str, field: str = "phone") -> str:
    """E.164 form of a number given in international format, or a 422 that says why."""
    e164, reason = _checked(raw.strip())
    if reason is None:
        return e164
    if reason == "missing_country_code":
        message = (f"{field}: {raw!r} is in national format; give it with its country code "
                   "(+<country><number>)")
    elif reason == "unparseable":
        message = f"{field}: {raw!r} is not a phone number in international format (+<country><number>)"
    else:
        message = f"{field}: {raw!r} is not a valid phone number"
    raise ValidationFailed(message, details={"field": field, "reason": reason})


# A business writes to the same customers again and again, and every request names its
# recipient: parsing and validating a number costs more than the rest of accepting a
# message. The answer depends on the text alone (and the phonenumbers metadata, fixed
# for the life of the process), so it is kept per text, for the most recent 8192 texts
# (about 2 MB).
@lru_cache(maxsize=8192)
def _checked(text: str) -> tuple[str, str | None]:
    """(E.164, None) for a valid number in international form, or ("", why not)."""
    if text.startswith("00"):
        text = "+" + text[2:]  # the international call prefix
    elif text.startswith("0"):
        return "", "missing_country_code"
    elif text[:1].isdigit():
        text = "+" + text
    import phonenumbers

    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return "", "unparseable"
    if not phonenumbers.is_valid_number(number):
        return "", "invalid_number"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


@lru_cache(maxsize=8192)  # (the sandbox asks it of every send; as _checked, by text alone)
def national_number(e164: str) -> str:
    import phonenumbers

    return str(phonenumbers.parse(e164, None).national_number)
