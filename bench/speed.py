"""Speed figures of the API's own code (`make bench` calls them): the cold start to the first
answered request, and number validation over HTTP. Each beside a baseline measured in the
same run, interleaved, because these machines are noisy."""

from __future__ import annotations

import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADMIN_KEY = "adm_bench_cold_start"

# The least a function can do: functions-framework loads a source file and answers one
# POST by parsing its JSON, through the framework's own app as a deployed function does.
BARE_SOURCE = '''
def bare(request):
    data = request.get_json()
    return {"id": "msg_x", "status": "queued", "phone": data["phone"]}, 201
'''
BARE = """
import sys, functions_framework
client = functions_framework.create_app("bare", sys.argv[1]).test_client()
answer = client.post("/", json={"phone": "+447911123456", "message": "hi"},
                     environ_base={"wsgi.input_terminated": True})
assert answer.status_code == 201
"""
# The api target as functions-framework serves it; gunicorn marks the input terminated,
# as environ_base does here. The first request an operator makes (an account), then a
# customer's first send (answered 422 no_device: the account has none, but the body is
# validated, the number parsed and the service called).
FIRST = """
import os, functions_framework
client = functions_framework.create_app("api", "main.py").test_client()
env = {"wsgi.input_terminated": True}
answer = client.post("/v1/accounts", json={"name": "bench"}, environ_base=env,
                     headers={"Authorization": "Bearer " + os.environ["UTIO_ADMIN_KEY"]})
assert answer.status_code == 201, answer.get_json()
"""
SEND = FIRST + """
key = answer.get_json()["api_key"]["key"]
answer = client.post("/v1/messages", json={"phone": "+447911123456", "message": "hi"},
                     headers={"Authorization": "Bearer " + key}, environ_base=env)
assert answer.status_code == 422 and answer.get_json()["error"]["code"] == "no_device"
"""
# A request with an API key through the api target, which must not load the people's
# sign-in code (firebase-admin, the JWT checks); the script fails if it does.
KEY_REQUEST = """
import sys, functions.main as m
client = m._api_app().test_client()
assert client.get('/v1/devices', headers={'Authorization': 'Bearer utio_x'}).status_code == 401
loaded = [n for n in ('firebase_admin', 'shared.person_tokens', 'functions.api.people_access',
                      'google.auth.jwt') if n in sys.modules]
assert loaded == ['shared.person_tokens'] or not loaded, loaded
"""
PERSON_IMPORTS = ("import functions.main as m; m._api_app(); import functions.api.people_access, "
                  "shared.identity.firebase, firebase_admin.auth, google.auth.jwt")


def _wall(code: str, *args: str) -> float:
    env = os.environ | {"UTIO_ENV": "test", "UTIO_ADMIN_KEY": ADMIN_KEY}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, check=True, env=env)
    return time.perf_counter() - started


def compile_sources() -> None:
    """Our modules' bytecode, as the baseline's libraries have theirs from pip (with
    PYTHONDONTWRITEBYTECODE set, every fresh interpreter would compile our sources again)."""
    for folder in ("shared", "functions", "device_runner"):
        compileall.compile_dir(str(ROOT / folder), quiet=1)
    compileall.compile_file(str(ROOT / "main.py"), quiet=1)


def cold_start(rounds: int = 9) -> None:
    compile_sources()
    bare_dir = Path(tempfile.mkdtemp(prefix="utio-bare-"))
    (bare_dir / "main.py").write_text(BARE_SOURCE)
    cases = {"baseline": (BARE, str(bare_dir / "main.py")), "import": ("import main",),
             "first": (FIRST,), "send": (SEND,), "key": (KEY_REQUEST,),
             "person": (PERSON_IMPORTS,)}
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):  # interleaved, so drift hits all alike
        for name, args in cases.items():
            times[name].append(_wall(*args))
    m = {name: statistics.median(values) for name, values in times.items()}
    b = m["baseline"]

    def line(label: str, name: str, note: str = "") -> None:
        print(f"  utio      {label:<44} {m[name] * 1000:8.1f} ms   ratio {m[name] / b:.2f}{note}")

    print(f"cold start (median of {rounds} fresh interpreters, wall time, to the answer; our "
          "sources precompiled as the libraries are)")
    print(f"  baseline  {'import flask, functions_framework + a bare answer':<44} "
          f"{b * 1000:8.1f} ms")
    line("import main (the api target)", "import")
    line("... + its first answer (POST /v1/accounts)", "first", "   (goal: at most 1.5)")
    line("... + a first POST /v1/messages", "send")
    line("import main, build the app, one key request", "key",
         "   (loads no sign-in code: checked)")
    line("... + a person's first ID token", "person", "   (firebase-admin, JWT checks: only then)")


def number_validation_http(rounds: int = 40) -> None:
    """POST /v1/numbers/validate with 500 mixed numbers over HTTP to the api target as the
    local stack serves it (functions-framework, gunicorn), beside the bare phonenumbers loop
    in this process with the same pattern cache the API turns on."""
    import json
    import socket

    import phonenumbers
    import requests

    from bench.__main__ import count_valid, mixed_numbers

    numbers = mixed_numbers()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = os.environ | {"UTIO_ENV": "test", "UTIO_ADMIN_KEY": ADMIN_KEY,
                        "UTIO_DATA_DIR": tempfile.mkdtemp(prefix="utio-bench-")}
    ff = str(Path(sys.executable).with_name("functions-framework"))
    server = subprocess.Popen([ff, "--source", "main.py", "--target", "api", "--host",
                               "127.0.0.1", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        session = requests.Session()
        deadline = time.monotonic() + 60
        while True:
            try:
                if session.get(f"{base_url}/health", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the api target did not start")
            time.sleep(0.1)
        created = session.post(f"{base_url}/accounts", json={"name": "bench"},
                               headers={"Authorization": f"Bearer {ADMIN_KEY}"}).json()
        session.headers["Authorization"] = f"Bearer {created['api_key']['key']}"
        body = json.dumps({"numbers": numbers, "country": "GB"})
        phonenumbers.enable_pattern_cache()  # as the API does in its process

        def over_http():
            return session.post(f"{base_url}/numbers/validate", data=body,
                                headers={"Content-Type": "application/json"})

        def bare_loop():
            return count_valid(numbers)

        for _ in range(3):
            bare_loop()
            answer = over_http()
            assert answer.status_code == 200 and len(answer.json()["data"]) == len(numbers)
        api_times, bare_times = [], []
        for _ in range(rounds):  # interleaved, so drift hits both alike
            started = time.perf_counter()
            bare_loop()
            bare_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            answer = over_http()  # the whole answer read (requests reads it before returning)
            api_times.append(time.perf_counter() - started)
            assert answer.status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=10)
    b, a = statistics.median(bare_times), statistics.median(api_times)
    print(f"number validation over HTTP, {len(numbers)} mixed numbers (p50 of {rounds}, "
          "interleaved; the api target under functions-framework as make dev runs it)")
    print(f"  baseline  phonenumbers.parse + is_valid_number loop  {b * 1000:8.1f} ms")
    print(f"  utio      POST /v1/numbers/validate over HTTP       {a * 1000:8.1f} ms   "
          f"ratio {a / b:.2f}   (goal: at most 1.5)")


def pubsub_push_floor(samples: int = 30) -> None:
    """What the Pub/Sub emulator alone adds to the emulator stack's inbound latency: one
    publish (acknowledged) to its push arriving at a local endpoint, beside a direct POST
    to the same endpoint. Every inbound message crosses it once, on its way to the fan-out."""
    import base64
    import threading

    import flask
    import requests
    from werkzeug.serving import make_server

    from bench.__main__ import smoke
    from infra import emulators

    if smoke():
        print("Pub/Sub emulator push latency: measured at full size only")
        return
    if not emulators.gcloud_available():
        print("Pub/Sub emulator push latency: gcloud is not installed, not measured")
        return
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    arrivals: dict[str, float] = {}
    arrived = threading.Condition()
    app = flask.Flask("push")

    @app.post("/")
    def push():
        body = flask.request.get_json(silent=True) or {}
        data = (body.get("message") or {}).get("data")
        name = base64.b64decode(data).decode() if data else body.get("name", "")
        with arrived:
            arrivals[name] = time.perf_counter()
            arrived.notify_all()
        return "", 204

    def wait_for(name: str) -> float:
        deadline = time.monotonic() + 20
        with arrived:
            while name not in arrivals:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no push of {name} within 20 s")
                arrived.wait(1)
            return arrivals[name]

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pubsub = emulators.start_pubsub(log_path=Path(tempfile.mkdtemp()) / "pubsub.log")
    saved = os.environ.get("PUBSUB_EMULATOR_HOST")
    try:
        os.environ["PUBSUB_EMULATOR_HOST"] = pubsub.host
        project, topic = "utio-bench-push", "bench-push"
        emulators.ensure_push_subscription(pubsub.host, project, topic, "bench-push-sub",
                                           f"http://127.0.0.1:{server.server_port}/")
        from google.cloud import pubsub_v1

        publisher = pubsub_v1.PublisherClient()
        path = publisher.topic_path(project, topic)
        session = requests.Session()
        pushed, direct = [], []
        for n in range(samples + 5):
            started = time.perf_counter()
            publisher.publish(path, f"p{n}".encode()).result(timeout=30)
            took = wait_for(f"p{n}") - started
            started = time.perf_counter()
            session.post(f"http://127.0.0.1:{server.server_port}/", json={"name": f"d{n}"})
            direct_took = wait_for(f"d{n}") - started
            if n >= 5:  # warm-up
                pushed.append(took)
                direct.append(direct_took)
    finally:
        if saved is None:
            os.environ.pop("PUBSUB_EMULATOR_HOST", None)
        else:
            os.environ["PUBSUB_EMULATOR_HOST"] = saved
        pubsub.stop()
        server.shutdown()
    p, d = statistics.median(pushed), statistics.median(direct)
    print(f"Pub/Sub emulator push latency ({samples} sequential samples): the floor under the "
          "emulator stack's inbound -> webhook figure")
    print(f"  baseline  a direct POST to the endpoint           p50 {d * 1000:6.1f} ms")
    print(f"  emulator  publish -> its push at the endpoint     p50 {p * 1000:6.1f} ms   "
          f"ratio p50 {p / d:.1f}")
