"""What the API's cold start leaves for later stays correct: models built on first use, the
OpenAPI document built on its first request and then served as it was, URL builders
compiled on first use, the garbage collector on again once the app is built."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from flask import url_for

from functions.api.app import create_app
from functions.api.registry import api as registry

ROOT = Path(__file__).resolve().parents[2]


def test_models_are_built_on_first_use_with_the_same_validation():
    code = """
from functions.api.schemas_messages import SendMessage
assert not SendMessage.__pydantic_complete__
from functions.api.routing import parse
from shared.errors import ValidationFailed
assert parse(SendMessage, {"phone": "+447911123456", "message": "hi"}, "body").message == "hi"
assert SendMessage.__pydantic_complete__
try:
    parse(SendMessage, {"phone": "+447911123456", "message": "hi", "extra": 1}, "body")
except ValidationFailed as exc:
    assert exc.details[0]["field"] == "extra", exc.details
else:
    raise AssertionError("an unknown field was accepted")
"""
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_openapi_document_is_built_once_and_served_the_same(container, monkeypatch):
    built = []
    real = registry.openapi

    def counted():
        built.append(1)
        return real()

    monkeypatch.setattr(registry, "openapi", counted)
    client = create_app(container).test_client()
    first, second = client.get("/v1/openapi.json"), client.get("/v1/openapi.json")
    assert first.status_code == second.status_code == 200
    assert first.mimetype == "application/json"
    assert first.get_data() == second.get_data()
    assert first.get_json() == real()
    assert len(built) == 1


def test_url_builders_are_compiled_on_first_use(container):
    app = create_app(container)
    with app.test_request_context():
        assert url_for("GET /v1/messages/{message_id}", message_id="msg_1") == "/v1/messages/msg_1"
        assert url_for("GET /v1/messages/{message_id}", message_id="msg_2", x="1") \
            == "/v1/messages/msg_2?x=1"


def test_the_api_target_leaves_the_collector_on():
    code = ("import gc, functions.main as m; m._api_app(); "
            "assert gc.isenabled() and gc.get_freeze_count() > 0")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                   env={"PATH": "/usr/bin:/bin", "UTIO_ENV": "test"})


def test_every_model_of_ours_is_built_on_first_use():
    from pydantic import BaseModel

    import functions.main  # noqa: F401 (the targets' modules)
    import functions.webhook_deliver  # noqa: F401
    import functions.webhook_fanout  # noqa: F401
    from shared.model import Model

    assert registry.routes  # every route's module, imported on first use otherwise

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    ours = {m for m in subclasses(BaseModel)
            if m.__module__.split(".")[0] in ("shared", "functions", "device_runner")}
    assert ours, "no models found"
    eager = sorted(f"{m.__module__}.{m.__qualname__}" for m in ours if not issubclass(m, Model))
    assert not eager, f"derive these from shared.model.Model, not BaseModel: {eager}"


def test_building_the_app_loads_no_media_sniffing():
    code = ("import sys, functions.main as m; m._api_app(); "
            "assert 'filetype' not in sys.modules, 'filetype loaded at the cold start'")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                   env={"PATH": "/usr/bin:/bin", "UTIO_ENV": "test"})


def test_pydantic_looks_for_no_plugins_unless_the_operator_says_otherwise():
    code = ("import os, sys, functions.main as m; m._api_app(); "
            "print(os.environ.get('PYDANTIC_DISABLE_PLUGINS'))")
    for given, kept in ((None, "__all__"), ("some_plugin", "some_plugin")):
        env = {"PATH": "/usr/bin:/bin", "UTIO_ENV": "test"}
        if given is not None:
            env["PYDANTIC_DISABLE_PLUGINS"] = given
        done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, env=env,
                              capture_output=True, text=True)
        assert done.stdout.strip() == kept
