from __future__ import annotations

import phonenumbers
import pytest

from shared.services.numbers import InvalidReason, NumberType, check_number, validate_numbers
from tests.fakes import assert_error


@pytest.mark.parametrize("raw, e164, country, kind", [
    ("+447400123456", "+447400123456", "GB", NumberType.mobile),
    ("+44 20 7946 0958", "+442079460958", "GB", NumberType.fixed_line),
    ("0044 7400 123456", "+447400123456", "GB", NumberType.mobile),
    ("447400123456", "+447400123456", "GB", NumberType.mobile),
    ("+447911123456", "+447911123456", "GG", NumberType.mobile),
    ("+1 (415) 555-2671", "+14155552671", "US", NumberType.fixed_line_or_mobile),
    ("+34 600 100 200", "+34600100200", "ES", NumberType.mobile),
    ("+44 56 1234 5678", "+445612345678", "GB", NumberType.voip),
    ("+1 800 253 0000", "+18002530000", "US", NumberType.toll_free),
    ("+800 1234 5678", "+80012345678", None, NumberType.toll_free),
])
def test_valid_international_numbers(raw, e164, country, kind):
    check = check_number(raw)
    assert check.valid, check
    assert (check.e164, check.country, check.type, check.reason) == (e164, country, kind, None)
    assert check.input == raw


@pytest.mark.parametrize("raw, reason", [
    ("", InvalidReason.empty),
    ("   ", InvalidReason.empty),
    ("hello", InvalidReason.not_a_number),
    ("+999 1234 5678", InvalidReason.invalid_country_code),
    ("07911 123456", InvalidReason.missing_country_code),
    ("+44 12", InvalidReason.too_short),
    ("+44 7911 123456 789 1234", InvalidReason.too_long),
    ("+61 412 345 678 11", InvalidReason.invalid_length),
    ("+44 7700 900123", InvalidReason.invalid_number),
    ("+1 415 055 2671", InvalidReason.invalid_number),
    ("+" + "1" * 300, InvalidReason.too_long),
])
def test_invalid_numbers_say_why(raw, reason):
    check = check_number(raw)
    assert not check.valid
    assert check.reason == reason, check
    assert check.e164 is None and check.type is None and check.country is None


def test_default_country_reads_national_formats():
    gb = check_number("07400 123456", "GB")
    assert (gb.valid, gb.e164, gb.country) == (True, "+447400123456", "GB")
    # International formats still win over the default country.
    assert check_number("+34600100200", "GB").e164 == "+34600100200"
    # The country's international prefix (011 from the US) works too.
    assert check_number("011 44 7400 123456", "US").e164 == "+447400123456"


def test_valid_means_what_libphonenumber_means():
    samples = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS)[:80]:
        example = phonenumbers.example_number(region)
        if example:
            text = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            samples += [text, text[:-1], text + "9", text[:-1] + str((int(text[-1]) + 5) % 10)]
    for text in samples:
        ours = check_number(text)
        try:
            theirs = phonenumbers.is_valid_number(phonenumbers.parse(text, None))
        except phonenumbers.NumberParseException:
            theirs = False
        assert ours.valid == theirs, text


def test_results_keep_request_order_and_duplicates():
    checks = validate_numbers(["+447911123456", "x", "+447911123456"])
    assert [c.input for c in checks] == ["+447911123456", "x", "+447911123456"]
    assert [c.valid for c in checks] == [True, False, True]


# --- the API ------------------------------------------------------------------------


def test_validate_over_the_api(api, c):
    response = api.post("/v1/numbers/validate", json={
        "numbers": ["+447400123456", "07400 900123", "+44 12", "hello"], "country": "gb"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["summary"] == {"total": 4, "valid": 2, "invalid": 2}
    assert body["data"][0] == {"input": "+447400123456", "valid": True, "e164": "+447400123456",
                               "country": "GB", "calling_code": 44, "type": "mobile",
                               "reason": None}
    assert body["data"][1]["e164"] == "+447400900123"
    assert body["data"][2]["reason"] == "too_short"
    assert body["data"][3]["reason"] == "not_a_number"


def test_validation_is_free_it_writes_nothing(api, c):
    before = {name: dict(docs) for name, docs in c.store._data.items()}
    published = len(c.bus.published)
    for _ in range(3):
        assert api.post("/v1/numbers/validate", json={"numbers": ["+447911123456"] * 500}).status_code == 200
    assert {name: dict(docs) for name, docs in c.store._data.items()} == before
    assert len(c.bus.published) == published
    assert c.tasks.tasks == []


def test_500_numbers_pass_and_501_are_refused(api):
    ok = api.post("/v1/numbers/validate", json={"numbers": ["+447911123456"] * 500})
    assert ok.status_code == 200 and len(ok.get_json()["data"]) == 500
    error = assert_error(api.post("/v1/numbers/validate", json={"numbers": ["+447911123456"] * 501}),
                         422, "validation_error")
    assert "500" in error["message"]


@pytest.mark.parametrize("body", [
    {"numbers": []},
    {"numbers": "+447911123456"},
    {"numbers": [447911123456]},
    {"numbers": ["+447911123456"], "country": "XX"},
    {"numbers": ["+447911123456"], "country": "GBR"},
    {"numbers": ["1" * 251]},
    {"numbers": ["+447911123456"], "unknown": 1},
    {},
])
def test_bad_requests_get_422(api, body):
    assert_error(api.post("/v1/numbers/validate", json=body), 422, "validation_error")


def test_needs_a_key(client):
    assert_error(client.post("/v1/numbers/validate", json={"numbers": ["+447911123456"]}), 401)


def test_openapi_says_it_checks_the_format_only(client):
    doc = client.get("/v1/openapi.json").get_json()
    op = doc["paths"]["/v1/numbers/validate"]["post"]
    assert "example" in op["requestBody"]["content"]["application/json"]
    schema = doc["components"]["schemas"]["ValidateNumbers"]
    assert "does not tell whether a number exists" in " ".join(schema["description"].split())
