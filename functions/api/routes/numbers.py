from __future__ import annotations

from functions.api.access import agent_route
from functions.api.registry import Principal
from functions.api.schemas_numbers import NumberValidation, ValidateNumbers
from shared.services import numbers


@agent_route("POST", "/v1/numbers/validate", body=ValidateNumbers, response=NumberValidation,
             summary="Validate the format of up to 500 numbers (free; does not check WhatsApp)",
             tag="numbers")
def validate_numbers(p: Principal, body: ValidateNumbers):
    """Checks the format of up to 500 numbers at once: whether each could be a real number,
    its E.164 form, country and line type. Free and unlimited, no device needed. It does not
    say whether a number has WhatsApp: that is `POST /v1/numbers/exists`. Run your list
    through this first to clean it.

    Errors: 422 for an empty list, more than 500 numbers, or an unknown `country`."""
    checks = numbers.validate_numbers(body.numbers, body.country)
    valid = sum(check.valid for check in checks)
    # Plain dicts: this answer is built 500 times a request and its fields are ours.
    return {"data": [check.as_dict() for check in checks],
            "summary": {"total": len(checks), "valid": valid, "invalid": len(checks) - valid}}
