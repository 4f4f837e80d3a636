from decimal import Decimal

import pytest

from shared.billing.tax import (
    EU_VAT_RATES,
    VAT_FORMATS,
    TaxTreatment,
    decide,
    normalise_vat_number,
)


def test_one_table_of_the_27_standard_rates():
    assert len(EU_VAT_RATES) == 27 and set(VAT_FORMATS) == set(EU_VAT_RATES)
    assert min(EU_VAT_RATES.values()) == Decimal("17") and EU_VAT_RATES["LU"] == Decimal("17")
    assert max(EU_VAT_RATES.values()) == Decimal("27") and EU_VAT_RATES["HU"] == Decimal("27")


@pytest.mark.parametrize(("country", "raw", "normal"), [
    ("DE", "de 123 456 789", "DE123456789"),
    ("DE", "123456789", "DE123456789"),
    ("AT", "ATU12345678", "ATU12345678"),
    ("NL", "NL123456789B01", "NL123456789B01"),
    ("FR", "FR-XX.123456789", "FRXX123456789"),
    ("GR", "GR123456789", "EL123456789"),
    ("GR", "EL 123456789", "EL123456789"),
    ("IE", "IE1234567T", "IE1234567T"),
    ("ES", "ESX1234567X", "ESX1234567X"),
    ("SE", "SE123456789001", "SE123456789001"),
])
def test_vat_numbers_are_normalised(country, raw, normal):
    assert normalise_vat_number(country, raw) == normal


@pytest.mark.parametrize(("country", "raw", "expected"), [
    ("DE", "DE12345678", "expected DE followed by"),
    ("AT", "AT12345678", "ATU12345678"),
    ("NL", "NL123456789", "NL123456789B01"),
    ("FR", "DE123456789", "a VAT number of DE, not of FR"),
    ("FR", "FR12", "not a valid VAT number for FR"),
    ("US", "123456789", "EU countries only"),
])
def test_bad_vat_numbers_name_the_format(country, raw, expected):
    with pytest.raises(ValueError, match=expected):
        normalise_vat_number(country, raw)


def test_treatment_per_case():
    assert decide("US", None).treatment == TaxTreatment.none
    assert decide("CH", "CHE123").treatment == TaxTreatment.none
    assert decide("DE", "DE123456789") == decide("DE", "DE123456789", home_country="ES")
    assert decide("DE", "DE123456789").treatment == TaxTreatment.reverse_charge
    standard = decide("FI", None)
    assert standard.treatment == TaxTreatment.standard and standard.rate == Decimal("25.5")
    # the seller's own country charges its VAT even to a business with a VAT number
    assert decide("ES", "ESX1234567X", home_country="ES").rate == Decimal("21")
