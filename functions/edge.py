"""What the push and scheduled targets share at their edge: the answer of an error in the
contract's shape (a 503 asks for a push again in 5 seconds), and a body checked against
its pydantic model."""

from __future__ import annotations

from typing import TypeVar

import flask
from pydantic import BaseModel, ValidationError

from shared.errors import BadRequest, UtioError, error_response

Model = TypeVar("Model", bound=BaseModel)


def error_answer(exc: UtioError) -> flask.Response:
    # a 503: the OIDC certificates are out of reach; push again soon
    return error_response(exc, retry_unavailable_after=5)


def parse(model: type[Model], data, expected: str) -> Model:
    """`data` as `model`, else BadRequest saying what was expected and what was wrong."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BadRequest(f"expected {expected}; {where + ': ' if where else ''}{first['msg']}",
                         details={"field": where or None}) from exc
