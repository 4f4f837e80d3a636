"""Routes declared once with the pydantic models that validate them; the same
declarations register the Flask views and produce the OpenAPI 3.1 document."""

from __future__ import annotations

import importlib
import inspect
import json
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, jsonify, request
from pydantic import BaseModel, ValidationError
from werkzeug.routing import Rule

from shared.errors import BadRequest, ValidationFailed


@dataclass
class Route:
    method: str
    path: str  # OpenAPI style: /v1/devices/{device_id}
    handler: Callable
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    auth: str | None = "key"  # key | admin | person (an ID token, account or not) | None
    content_type: str = "application/json"
    errors: tuple[int, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    # also accepts multipart/form-data: the handler then gets body=None and reads
    # request.files itself; the OpenAPI document lists this form beside the JSON body
    multipart: dict[str, dict] | None = None

    @property
    def description(self) -> str:
        """The handler's docstring: what the operation does, when to use it, its limits and
        the errors it can answer."""
        return inspect.getdoc(self.handler) or ""


def flask_path(path: str) -> str:
    return re.sub(r"{(\w+)}", r"<\1>", path)


def _plural(n, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# Our own words for pydantic's errors, by error type (its wording, such as "List should
# have at most 500 items after validation, not 501", is not the API's).
_WORDING: dict[str, Callable[[dict], str]] = {
    "missing": lambda c: "is required",
    "extra_forbidden": lambda c: "is not a field here",
    "too_long": lambda c: f"at most {_plural(c['max_length'], 'item')}",
    "too_short": lambda c: f"at least {_plural(c['min_length'], 'item')}",
    "string_too_long": lambda c: f"at most {_plural(c['max_length'], 'character')}",
    "string_too_short": lambda c: f"at least {_plural(c['min_length'], 'character')}",
    "less_than_equal": lambda c: f"must be at most {c['le']}",
    "greater_than_equal": lambda c: f"must be at least {c['ge']}",
    "less_than": lambda c: f"must be less than {c['lt']}",
    "greater_than": lambda c: f"must be more than {c['gt']}",
    "enum": lambda c: f"must be one of {c['expected'].replace(chr(39), '')}",
    "literal_error": lambda c: f"must be {c['expected'].replace(chr(39), '')}",
    "string_type": lambda c: "must be a string",
    "int_type": lambda c: "must be an integer", "int_parsing": lambda c: "must be an integer",
    "int_from_float": lambda c: "must be an integer",
    "float_type": lambda c: "must be a number", "float_parsing": lambda c: "must be a number",
    "finite_number": lambda c: "must be a finite number",
    "bool_type": lambda c: "must be true or false", "bool_parsing": lambda c: "must be true or false",
    "dict_type": lambda c: "must be an object", "model_type": lambda c: "must be an object",
    "model_attributes_type": lambda c: "must be an object",
    "list_type": lambda c: "must be an array",
    "string_pattern_mismatch": lambda c: f"must match {c['pattern']}",
    "datetime_type": lambda c: "must be a date and time (ISO 8601)",
    "datetime_parsing": lambda c: "must be a date and time (ISO 8601)",
    "datetime_from_date_parsing": lambda c: "must be a date and time (ISO 8601)",
    "timezone_aware": lambda c: "must have a time zone (Z or an offset such as +01:00)",
    "none_required": lambda c: "must be null",
    "union_tag_invalid": lambda c: f"must be one of {c['expected_tags'].replace(chr(39), '')}",
    "union_tag_not_found": lambda c: f"needs its {c['discriminator'].strip(chr(39))} field",
}


def _message(err: dict) -> str:
    wording = _WORDING.get(err["type"])
    if wording is not None:
        try:
            return wording(err.get("ctx") or {})
        except (KeyError, AttributeError, TypeError):
            pass
    message = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return re.sub(r" after validation, not \d+$", "", message)


def _validation_details(exc: ValidationError) -> list[dict]:
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or None,
         "message": _message(err),
         "type": err["type"]}
        for err in exc.errors(include_url=False, include_context=True, include_input=False)
    ]


def parse(model: type[BaseModel], data: Any, where: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = _validation_details(exc)
        first = details[0]
        raise ValidationFailed(
            f"{where}: {first['field'] + ': ' if first['field'] else ''}{first['message']}",
            details=details) from exc


def read_json_body() -> Any:
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise BadRequest("request body is empty: send a JSON object", code="invalid_json")
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: deep nesting
        raise BadRequest(f"request body is not valid JSON: {exc}", code="invalid_json") from exc
    # A lone surrogate ("\ud800", or its bytes, which json.loads lets through) is no text:
    # stored, it made every later answer that shows it fail to encode. Only a body with an
    # escape or such bytes can hold one, so the common body is not walked.
    if b"\\u" in raw or b"\xed" in raw:
        where = _lone_surrogate(value)
        if where is not None:
            raise BadRequest(f"body: {where + ': ' if where else ''}not valid Unicode text "
                             "(a lone surrogate)", details={"field": where or None},
                             code="invalid_json")
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")


def _lone_surrogate(value: Any) -> str | None:
    """Where in a parsed JSON value a string (or an object's key) holds a lone surrogate:
    its field, dotted as validation errors name them ("" for the body itself)."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            if not value.isascii() and _SURROGATE.search(value):
                return path
        elif isinstance(value, dict):
            for key, item in value.items():
                if not key.isascii() and _SURROGATE.search(key):
                    return path
                stack.append((item, f"{path}.{key}" if path else key))
        elif isinstance(value, list):
            stack.extend((item, f"{path}.{i}" if path else str(i)) for i, item in enumerate(value))
    return None


def _query_args() -> dict[str, str]:
    """The query parameters, each given once: a repeated one (?status=queued&status=sent)
    is refused rather than read as its first (lists are comma-separated, as `type` is)."""
    args = request.args
    for name, values in args.lists():
        if len(values) > 1:
            raise ValidationFailed(f"query: {name}: given {len(values)} times; give it once",
                                   details={"field": name}, code="validation_error")
    return args.to_dict()


MAX_JSON_BODY = 1024 * 1024  # JSON requests; uploads (POST /v1/files) set their own


class LazyBuildRule(Rule):
    """A URL rule whose URL builders (for url_for) are compiled on first use. Werkzeug
    compiles two for every rule as it is added, Python source through compile(): about a
    fifth of building the API's app, for builders that answering requests never calls."""

    def _compile_builder(self, append_unknown: bool = True) -> Callable:
        name = "_build_unknown" if append_unknown else "_build"

        def build_on_first_use(rule: Rule, *args, **kwargs):
            real = Rule._compile_builder(rule, append_unknown).__get__(rule, None)
            setattr(rule, name, real)
            return real(*args, **kwargs)

        return build_on_first_use


class Api:
    """The routes of an API. `table` lists each one as (method, path, module, handler name),
    the module under `package`: the URL rules are registered from the table, and a route's
    module, which declares it with `route`, is imported when the route is first called."""

    def __init__(self, title: str, version: str, table: tuple[tuple[str, str, str, str], ...] = (),
                 package: str = ""):
        self.title = title
        self.version = version
        self.table = table
        self.package = package
        self._modules = {(method, path): module for method, path, module, _ in table}
        self._declared: dict[tuple[str, str], Route] = {}

    def route(self, method: str, path: str, **options) -> Callable:
        def register(handler: Callable) -> Callable:
            self._declared[(method, path)] = Route(method=method, path=path, handler=handler,
                                                   **options)
            return handler

        return register

    def declared(self, method: str, path: str) -> Route:
        """The route, its module imported first if no request has needed it yet."""
        route = self._declared.get((method, path))
        if route is None:
            module = self._modules[(method, path)]
            importlib.import_module(f"{self.package}.{module}")
            route = self._declared.get((method, path))
            if route is None:
                raise LookupError(f"{self.package}.{module} declares no route {method} {path}: "
                                  "declare it there with @api.route or fix the route table")
        return route

    @property
    def routes(self) -> list[Route]:
        """Every route, in the table's order (each module imported), then any declared
        route that the table lacks (which the app does not serve)."""
        for module in dict.fromkeys(self._modules.values()):
            importlib.import_module(f"{self.package}.{module}")
        listed = [self.declared(method, path) for method, path in self._modules]
        return listed + [r for key, r in self._declared.items() if key not in self._modules]

    def install(self, app: Flask, authenticate: Callable[[Route], Any]) -> None:
        app.url_rule_class = LazyBuildRule
        for method, path, _, _ in self.table:
            app.add_url_rule(flask_path(path), endpoint=f"{method} {path}",
                             view_func=self._lazy_view(method, path, authenticate),
                             methods=[method])

    def _lazy_view(self, method: str, path: str, authenticate: Callable[[Route], Any]) -> Callable:
        views: list[Callable] = []  # the route's view, made on its first request

        def view(**path_params):
            if not views:
                views.append(self._view(self.declared(method, path), authenticate))
            return views[0](**path_params)

        return view

    def _view(self, route: Route, authenticate: Callable[[Route], Any]) -> Callable:
        def view(**path_params):
            principal = authenticate(route)
            kwargs: dict[str, Any] = dict(path_params)
            if route.multipart is not None and request.mimetype == "multipart/form-data":
                kwargs["body"] = None
            elif route.body is not None:
                request.max_content_length = MAX_JSON_BODY  # a 413 before reading more
                kwargs["body"] = parse(route.body, read_json_body(), "body")
            if route.query is not None:
                kwargs["query"] = parse(route.query, _query_args(), "query")
            result = route.handler(principal, **kwargs)
            return render(result, route.status)

        return view

    def openapi(self) -> dict:
        routes = self.routes
        inputs = _inputs(routes)
        models: list[type[BaseModel]] = []
        for route in routes:
            for model in (route.body, route.query, route.response):
                if model is not None and model not in models:
                    models.append(model)
        from pydantic.json_schema import models_json_schema

        from functions.api.schemas import ErrorBody

        models.append(ErrorBody)
        keyed, top = models_json_schema(
            [(m, "validation" if m in inputs else "serialization") for m in models],
            ref_template="#/components/schemas/{model}")
        schemas = top.get("$defs", {})

        def ref(model):
            mode = "validation" if model in inputs else "serialization"
            return keyed[(model, mode)]

        paths: dict[str, dict] = {}
        for route in routes:
            op: dict[str, Any] = {
                "summary": route.summary,
                "description": route.description,
                "operationId": route.handler.__name__,
                "tags": [route.tag],
                "responses": {},
            }
            params = [{"name": n, "in": "path", "required": True, "schema": _path_schema(n)}
                      for n in re.findall(r"{(\w+)}", route.path)]
            if route.query is not None:
                for name, f in route.query.model_fields.items():
                    params.append({"name": name, "in": "query", "required": f.is_required(),
                                   "description": f.description or "",
                                   "schema": schemas.get(route.query.__name__, {})
                                   .get("properties", {}).get(name, {})})
            for name, description in route.headers.items():
                params.append({"name": name, "in": "header", "required": False,
                               "description": description, "schema": {"type": "string"}})
            if params:
                op["parameters"] = params
            if route.body is not None:
                content: dict[str, Any] = {"schema": ref(route.body)}
                example = _example(route.body)
                if example is not None:
                    content["example"] = example
                op["requestBody"] = {"required": True, "content": {"application/json": content}}
                if route.multipart is not None:
                    op["requestBody"]["content"]["multipart/form-data"] = {"schema": {
                        "type": "object", "properties": route.multipart,
                        "required": [name for name, prop in route.multipart.items()
                                     if prop.get("format") == "binary"]}}
            ok: dict[str, Any] = {"description": "Success"}
            if route.response is not None:
                content = {"schema": ref(route.response)}
                example = _example(route.response)
                if example is None:
                    from functions.api.openapi_docs import RESPONSE_EXAMPLES

                    example = RESPONSE_EXAMPLES.get(route.handler.__name__)
                if example is not None:
                    content["example"] = example
                ok["content"] = {route.content_type: content}
            op["responses"][str(route.status)] = ok
            if "Idempotency-Key" in route.headers and route.status != 200:
                op["responses"]["200"] = {
                    "description": "A replay: an earlier request with the same "
                    "Idempotency-Key and body made it; this is what that request made",
                    "content": ok.get("content", {})}
            codes = set(route.errors)
            if route.body is not None or route.query is not None:
                codes |= {400, 422}
            if "{chat_id}" in route.path or "{phone}" in route.path:
                codes.add(422)  # a chat or number that is not one (parse_chat_id, phones)
            if route.auth:
                codes.add(401)
            if route.auth == "admin":
                codes.add(403)  # an account's API key instead of the admin key
            for code in sorted(codes):
                op["responses"][str(code)] = {
                    "description": _ERROR_TEXT.get(code, "Error"),
                    "content": {"application/json": {"schema": ref(ErrorBody)}},
                }
            if route.auth == "key":
                op["security"] = [{"bearer": []}, {"token": []}]
            elif route.auth == "person":
                op["security"] = [{"bearer": []}]
                op["description"] = ("Needs a signed-in person's ID token as the bearer "
                                     "token.\n\n" + route.description).strip()
            elif route.auth == "admin":
                op["security"] = [{"bearer": []}]
                op["description"] = ("Needs the operator's admin key as the bearer token.\n\n"
                                     + route.description).strip()
            else:
                op["security"] = []
            paths.setdefault(route.path, {})[route.method.lower()] = op
        from functions.api import openapi_docs

        used = {route.tag for route in routes}
        message_schema = next((ref(r.response) for r in routes
                               if r.handler.__name__ == "get_message"), {"type": "object"})
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version,
                     "description": openapi_docs.INTRO},
            "servers": [{"url": "/"}],
            "tags": [{"name": tag, "description": text}
                     for tag, text in openapi_docs.TAGS.items() if tag in used]
                    + [{"name": tag} for tag in sorted(used - set(openapi_docs.TAGS))],
            "paths": paths,
            "webhooks": openapi_docs.webhooks(message_schema),
            "components": {
                "schemas": schemas,
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer",
                               "description": "Authorization: Bearer <API key, agent token, or a "
                                              "signed-in person's Identity Platform ID token>"},
                    "token": {"type": "apiKey", "in": "header", "name": "Token"},
                },
            },
        }


# The form of each id in a path: an id of another form names nothing (404).
_PATH_KINDS = {"device_id": "device", "message_id": "message", "webhook_id": "webhook",
               "agent_id": "agent", "key_id": "key", "label_id": "label", "file_id": "file",
               "delivery_id": "delivery", "operation_id": "group operation"}


def _path_schema(name: str) -> dict:
    from functions.api.ids import id_pattern
    from functions.api.schemas import CHAT_PATTERN, PHONE_PATTERN

    if name in ("chat_id", "phone"):  # a chat is a phone's or a group's
        return {"type": "string", "pattern": CHAT_PATTERN if name == "chat_id" else PHONE_PATTERN}
    kind = _PATH_KINDS.get(name)
    if kind is None:
        return {"type": "string", "minLength": 1, "maxLength": 200}
    return {"type": "string", "pattern": id_pattern(kind)}


_ERROR_TEXT = {
    400: "Malformed request: the body is not JSON, or holds text that is not valid Unicode "
         "(a lone surrogate such as \\ud800)",
    401: "Missing or invalid API key", 403: "Not allowed to this caller",
    404: "Not found in this account", 409: "Conflict with the current state",
    422: "Invalid input"}


def _inputs(routes: list[Route]) -> set:
    return {m for r in routes for m in (r.body, r.query) if m is not None}


def _example(model: type[BaseModel]) -> Any:
    """The model's own example, or one made of its fields' examples (a list answer of
    the examples of its items)."""
    extra = model.model_config.get("json_schema_extra") or {}
    examples = extra.get("examples") if isinstance(extra, dict) else None
    if examples:
        return examples[0]
    example: dict[str, Any] = {}
    for name, f in model.model_fields.items():
        value = _field_example(f.annotation, f)
        if value is _NONE:
            return None  # a field with nothing to show: no example rather than a wrong one
        example[f.alias or name] = value
    return example


_NONE = object()


def _field_example(annotation: Any, f: Any = None) -> Any:
    if f is not None and f.examples:
        return f.examples[0]
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        value = _example(annotation)
        return _NONE if value is None else value
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list and args:
        item = _field_example(args[0])
        return _NONE if item is _NONE else [item]
    if f is not None and not f.is_required():
        default = f.get_default(call_default_factory=True)
        return default.model_dump(mode="json") if isinstance(default, BaseModel) else (
            default.value if hasattr(default, "value") else default)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        for arg in args:
            if arg is not type(None):
                value = _field_example(arg)
                if value is not _NONE:
                    return value
    return _NONE


def render(result: Any, status: int) -> Response:
    if isinstance(result, Response):
        return result
    if isinstance(result, tuple):
        result, status = result
    if result is None:
        return Response(status=204)
    if isinstance(result, BaseModel):
        # pydantic writes the JSON itself, as jsonify would (compact, UTF-8, a newline
        # after), without first building the dicts that jsonify would encode again
        return Response(result.model_dump_json() + "\n", status=status,
                        mimetype="application/json")
    response = jsonify(result)
    response.status_code = status
    return response


