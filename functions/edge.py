"""What the push and scheduled targets share at their edge: the answer of an error in the
contract's shape, and a body checked against its pydantic model."""

from __future__ import annotations

from typing import TypeVar

import flask
from pydantic import BaseModel, ValidationError

from shared.errors import BadRequest, UtioError

Model = TypeVar("Model", bound=BaseModel)


def error_answer(exc: UtioError):
    response = flask.jsonify(exc.body())
    if exc.status == 503:  # (the OIDC certificates are out of reach): push again soon
        response.headers["Retry-After"] = "5"
    return response, exc.status


def parse(model: type[Model], data, expected: str) -> Model:
    """`data` as `model`, else BadRequest saying what was expected and what was wrong."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BadRequest(f"expected {expected}; {where + ': ' if where else ''}{first['msg']}",
                         details={"field": where or None}) from exc
