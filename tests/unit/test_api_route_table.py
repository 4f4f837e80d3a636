"""The API's route table (functions/api/route_table.py) lists every route its modules declare,
and the app imports a route's module on the route's first request: a cold start that
answers one request loads that route's code and nothing of the others."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from functions.api.registry import api as registry
from functions.api.route_table import ROUTES
from functions.api.routing import Api

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "functions.api.routes"


def _row(route) -> tuple[str, str, str, str]:
    module = route.handler.__module__.removeprefix(PACKAGE + ".")
    return (route.method, route.path, module, route.handler.__name__)


def test_the_table_lists_every_declared_route_as_declared():
    declared = [_row(r) for r in registry.routes]
    missing = [row for row in declared if row not in ROUTES]
    assert not missing, ("routes declared with @api.route but not in functions/api/route_table.py "
                         "(the app does not serve them); add these lines:\n"
                         + "\n".join(f"    {row!r}," for row in missing))
    assert declared == list(ROUTES)


def test_the_table_names_each_route_once():
    keys = [(method, path) for method, path, _, _ in ROUTES]
    assert len(keys) == len(set(keys))


def test_a_table_row_whose_module_does_not_declare_it_is_an_error():
    api = Api("t", "0", (("GET", "/v1/nowhere", "accounts", "nowhere"),), PACKAGE)
    with pytest.raises(LookupError, match="declares no route GET /v1/nowhere"):
        api.declared("GET", "/v1/nowhere")


# A fresh interpreter, as a cold start: the api target as functions-framework serves it.
COLD = """
import json, sys, functions_framework
client = functions_framework.create_app("api", "main.py").test_client()
client.environ_base["wsgi.input_terminated"] = True  # as gunicorn marks it
admin = {"Authorization": "Bearer test-admin-key"}
answer = client.post("/v1/accounts", json={"name": "cold"}, headers=admin)
assert answer.status_code == 201, answer.get_json()
print(json.dumps(sorted(sys.modules)))
"""

# What answering POST /v1/accounts needs none of: the other routes' modules and schemas,
# the agents' access rules, the number and billing libraries, the Google clients.
NOT_LOADED = ("functions.api.access", "functions.api.billing_schemas", "functions.api.openapi_docs",
              "shared.inbox", "shared.services.messages", "shared.services.webhooks",
              "shared.billing", "phonenumbers", "stripe", "segno", "filetype", "firebase_admin",
              "google.cloud.firestore", "google.cloud.tasks_v2", "google.cloud.pubsub_v1")


def _run(code: str) -> str:
    env = {"PATH": "/usr/bin:/bin", "UTIO_ENV": "test", "UTIO_ADMIN_KEY": "test-admin-key"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_first_request_loads_its_route_module_and_no_other():
    loaded = set(json.loads(_run(COLD).splitlines()[-1]))
    routes = {f"{PACKAGE}.{m}" for _, _, m, _ in ROUTES}
    assert routes & loaded == {f"{PACKAGE}.accounts"}
    assert not {n for n in loaded if n.startswith("functions.api.schemas_")}
    heavy = sorted(n for n in loaded if n in NOT_LOADED or n.startswith(
        tuple(f"{name}." for name in NOT_LOADED)))
    assert not heavy, f"loaded by the first POST /v1/accounts: {heavy}"


def test_routes_not_yet_loaded_answer_as_always():
    # Each first request of its route, in a fresh app: the error shapes of auth, method and
    # path, an agent's token refused, then the same route answering a real call.
    code = COLD.replace("print(json.dumps(sorted(sys.modules)))", """
bad = {"Authorization": "Bearer utio_nope"}
answer = client.get("/v1/devices", headers=bad)
assert answer.status_code == 401 and answer.get_json()["error"]["code"] == "unauthorized", \\
    answer.get_json()
answer = client.put("/v1/messages", headers=bad)
assert answer.status_code == 405, answer.status_code
assert answer.get_json()["error"]["code"] == "method_not_allowed"
assert "functions.api.routes.messages" not in sys.modules  # a 405 needs no route's code
answer = client.get("/v1/nothing-here")
assert answer.status_code == 404 and answer.get_json()["error"]["code"] == "not_found"
answer = client.get("/v1/labels", headers={"Authorization": "Bearer utio_agt_nope"})
assert answer.status_code == 401, answer.get_json()
key = {"Authorization": "Bearer " + client.post(
    "/v1/accounts", json={"name": "b"}, headers=admin).get_json()["api_key"]["key"]}
answer = client.post("/v1/messages", json={"phone": "+447911123456", "message": "hi"},
                     headers=key)
assert answer.status_code == 422 and answer.get_json()["error"]["code"] == "no_device", \\
    answer.get_json()
answer = client.post("/v1/webhooks", json={}, headers=key)
assert answer.status_code == 422 and answer.get_json()["error"]["code"] == "validation_error", \\
    answer.get_json()
""")
    _run(code)


def test_concurrent_first_requests_of_one_route_all_answer():
    code = COLD.replace("print(json.dumps(sorted(sys.modules)))", """
import threading
from concurrent.futures import ThreadPoolExecutor
key = "Bearer " + answer.get_json()["api_key"]["key"]
start = threading.Barrier(8)

def first(_):
    start.wait()
    mine = client.application.test_client()
    mine.environ_base["wsgi.input_terminated"] = True
    return mine.get("/v1/webhooks", headers={"Authorization": key}).status_code

with ThreadPoolExecutor(8) as pool:
    codes = list(pool.map(first, range(8)))
assert codes == [200] * 8, codes
""")
    _run(code)


def test_the_openapi_document_lists_every_route_on_a_cold_start():
    code = COLD.replace("print(json.dumps(sorted(sys.modules)))", """
doc = client.get("/v1/openapi.json").get_json()
print(json.dumps(sorted([m.upper(), p] for p, ops in doc["paths"].items() for m in ops
                        if p != "/v1/openapi.json")))
""")
    listed = json.loads(_run(code).splitlines()[-1])
    assert listed == sorted([m, p] for m, p, _, _ in ROUTES)
