"""EU VAT: the one table of the 27 standard rates, VAT number formats per country, and
the rule that picks a customer's treatment. Prices exclude taxes.

- outside the EU: no tax;
- in the EU with a VAT number: reverse charge (the customer accounts for the VAT),
  except in the seller's own country, where domestic VAT applies;
- in the EU without a VAT number: that country's standard rate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

# Standard VAT rates in percent (2026).
EU_VAT_RATES: dict[str, Decimal] = {
    "AT": Decimal("20"), "BE": Decimal("21"), "BG": Decimal("20"), "CY": Decimal("19"),
    "CZ": Decimal("21"), "DE": Decimal("19"), "DK": Decimal("25"), "EE": Decimal("24"),
    "ES": Decimal("21"), "FI": Decimal("25.5"), "FR": Decimal("20"), "GR": Decimal("24"),
    "HR": Decimal("25"), "HU": Decimal("27"), "IE": Decimal("23"), "IT": Decimal("22"),
    "LT": Decimal("21"), "LU": Decimal("17"), "LV": Decimal("21"), "MT": Decimal("18"),
    "NL": Decimal("21"), "PL": Decimal("23"), "PT": Decimal("23"), "RO": Decimal("21"),
    "SE": Decimal("25"), "SI": Decimal("22"), "SK": Decimal("23"),
}

# VAT numbers carry the country's code, except Greece's, which carries EL.
VAT_PREFIX = {country: country for country in EU_VAT_RATES} | {"GR": "EL"}

# The part after the prefix (VIES formats).
VAT_FORMATS: dict[str, str] = {
    "AT": r"U\d{8}", "BE": r"[01]\d{9}", "BG": r"\d{9,10}", "CY": r"\d{8}[A-Z]",
    "CZ": r"\d{8,10}", "DE": r"\d{9}", "DK": r"\d{8}", "EE": r"\d{9}",
    "ES": r"[A-Z0-9]\d{7}[A-Z0-9]", "FI": r"\d{8}", "FR": r"[A-HJ-NP-Z0-9]{2}\d{9}",
    "GR": r"\d{9}", "HR": r"\d{11}", "HU": r"\d{8}",
    "IE": r"\d{7}[A-W][A-I]?|\d[A-Z+*]\d{5}[A-W]", "IT": r"\d{11}", "LT": r"\d{9}|\d{12}",
    "LU": r"\d{8}", "LV": r"\d{11}", "MT": r"\d{8}", "NL": r"\d{9}B\d{2}", "PL": r"\d{10}",
    "PT": r"\d{9}", "RO": r"[1-9]\d{1,9}", "SE": r"\d{10}01", "SI": r"\d{8}", "SK": r"\d{10}",
}

_PREFIXES = {prefix: country for country, prefix in VAT_PREFIX.items()}

_EXAMPLES = {"AT": "ATU12345678", "DE": "DE123456789", "FR": "FRXX123456789",
             "NL": "NL123456789B01", "GR": "EL123456789", "ES": "ESX1234567X"}


class TaxTreatment(StrEnum):
    none = "none"  # outside the EU
    reverse_charge = "reverse_charge"
    standard = "standard"


@dataclass(frozen=True)
class TaxDecision:
    treatment: TaxTreatment
    rate: Decimal | None = None  # percent, for `standard`


def is_eu(country: str) -> bool:
    return country in EU_VAT_RATES


def normalise_vat_number(country: str, raw: str) -> str:
    """The VAT number as VIES and Stripe write it (prefix + number, no separators), or
    ValueError naming the expected format."""
    if not is_eu(country):
        raise ValueError(f"a VAT number applies to EU countries only; {country} is not one "
                         "(leave vat_number out)")
    prefix = VAT_PREFIX[country]
    value = re.sub(r"[\s.\-/]", "", raw).upper()
    other = _PREFIXES.get(value[:2])
    if other and other != country and re.fullmatch(VAT_FORMATS[other], value[2:]):
        raise ValueError(f"{raw!r} is a VAT number of {other}, not of {country}: send the "
                         "billing country it was issued in")
    for accepted in {prefix, country}:
        if value.startswith(accepted):
            value = value[len(accepted):]
            break
    if re.fullmatch(VAT_FORMATS[country], value) is None:
        example = _EXAMPLES.get(country, prefix + "…")
        raise ValueError(f"{raw!r} is not a valid VAT number for {country}: expected {prefix} "
                         f"followed by {VAT_FORMATS[country]!r}, e.g. {example}")
    return prefix + value


def decide(country: str, vat_number: str | None, home_country: str = "") -> TaxDecision:
    if not is_eu(country):
        return TaxDecision(TaxTreatment.none)
    if vat_number and country != home_country:
        return TaxDecision(TaxTreatment.reverse_charge)
    return TaxDecision(TaxTreatment.standard, EU_VAT_RATES[country])
