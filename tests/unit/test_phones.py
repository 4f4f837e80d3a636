from __future__ import annotations

import pytest

from shared.errors import ValidationFailed
from shared.phones import normalise


@pytest.mark.parametrize("raw, e164", [
    ("+44 7911 123456", "+447911123456"),
    ("447911123456", "+447911123456"),
    ("0044 7911 123456", "+447911123456"),
    ("+1 (415) 555-2671", "+14155552671"),
])
def test_international_forms_normalise(raw, e164):
    assert normalise(raw) == e164


@pytest.mark.parametrize("raw, reason", [
    ("07911 123456", "missing_country_code"),
    ("+999 123", "unparseable"),
    ("hello", "unparseable"),
    ("+44 12", "invalid_number"),
])
def test_bad_numbers_say_why(raw, reason):
    with pytest.raises(ValidationFailed) as caught:
        normalise(raw)
    assert caught.value.details["reason"] in (reason, "invalid_number")


def test_national_number_is_kept_per_text_and_a_bad_text_still_raises():
    import phonenumbers

    from shared.phones import national_number

    assert national_number("+447911123456") == "7911123456"
    assert national_number("+447911123456") == "7911123456"  # (from the cache)
    assert national_number("+34600100000") == "600100000"
    for _ in range(2):  # a failure is never kept as an answer
        with pytest.raises(phonenumbers.NumberParseException):
            national_number("not a number")
