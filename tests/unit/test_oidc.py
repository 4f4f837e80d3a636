"""The OIDC check of push endpoints with UTIO_VERIFY_OIDC on, for real: an RSA key made
here, its certificate served from a loopback server as Google serves its own, tokens
signed with it. Valid → accepted; any invalid token → 401; certificates out of reach →
503, so the push is retried."""

from __future__ import annotations

import base64
import datetime as dt
import json
import socket
import time

import flask
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt
from werkzeug.wrappers import Request, Response

from device_runner.app import create_app as create_runner_app
from functions.webhook_deliver import handle_deliver
from functions.webhook_fanout import handle_fanout
from shared.adapters.pubsub_bus import encode
from shared.domain import Event
from shared.errors import Unauthorized, Unavailable
from shared.ids import new_id
from shared.oidc import verify_push
from shared.settings import Settings
from tests.fakes import assert_error, make_container, make_settings, serving

ACCOUNT = "utio-push@proj.iam.gserviceaccount.com"
URL = "https://utio-runner-0.a.run.app/tasks/messages"
AUDIENCE = "https://utio-runner-0.a.run.app"
KEY_ID = "k1"


def _key_and_certificate():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "utio-test-oidc")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return pem_key, cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def keys():
    return _key_and_certificate()


@pytest.fixture(scope="module")
def certs_url(keys):
    """Google's certificate endpoint, on loopback: {"key id": "PEM certificate"}."""
    _, certificate = keys
    body = json.dumps({KEY_ID: certificate})

    @Request.application
    def app(request):
        if request.path != "/oauth2/v1/certs":
            return Response("no", status=404)
        return Response(body, mimetype="application/json")

    with serving(app) as base:
        yield f"{base}/oauth2/v1/certs"


@pytest.fixture
def closed_url():
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/oauth2/v1/certs"


def token(keys, *, key=None, key_id=KEY_ID, **overrides) -> str:
    now = int(time.time())
    claims = {"iss": "https://accounts.google.com", "aud": AUDIENCE, "sub": "1234567890",
              "email": ACCOUNT, "email_verified": True, "iat": now, "exp": now + 600}
    claims.update(overrides)
    signer = crypt.RSASigner.from_string(key or keys[0], key_id=key_id)
    return jwt.encode(signer, claims).decode()


def settings(url: str, **overrides) -> Settings:
    return make_settings(env="production", verify_oidc=True, oidc_certs_url=url,
                         tasks_service_account=ACCOUNT, **overrides)


def bearer(value: str) -> str:
    return f"Bearer {value}"


def test_the_certificates_url_defaults_to_googles():
    assert Settings().oidc_certs_url == "https://www.googleapis.com/oauth2/v1/certs"


def test_a_valid_token_from_the_expected_service_account_is_accepted(keys, certs_url):
    verify_push(settings(certs_url), bearer(token(keys)), URL)
    verify_push(settings(certs_url, oidc_audience="utio-push"),
                bearer(token(keys, aud="utio-push")), URL)


def _unsigned(keys) -> str:
    header, payload, _ = token(keys).split(".")
    none = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    return f"{none}.{payload}."


@pytest.mark.parametrize("case", ["wrong audience", "wrong email", "expired", "not google",
                                  "unsigned", "stripped signature", "other key", "unknown kid",
                                  "garbage", "empty", "no bearer"])
def test_invalid_tokens_answer_401(keys, certs_url, case):
    now = int(time.time())
    other_key = _key_and_certificate()[0]
    header = {
        "wrong audience": lambda: bearer(token(keys, aud="https://elsewhere.a.run.app")),
        "wrong email": lambda: bearer(token(keys, email="intruder@proj.iam.gserviceaccount.com")),
        "expired": lambda: bearer(token(keys, iat=now - 7200, exp=now - 3600)),
        "not google": lambda: bearer(token(keys, iss="https://issuer.example")),
        "unsigned": lambda: bearer(_unsigned(keys)),
        "stripped signature": lambda: bearer(token(keys).rsplit(".", 1)[0] + "."),
        "other key": lambda: bearer(token(keys, key=other_key)),
        "unknown kid": lambda: bearer(token(keys, key_id="k9")),
        "garbage": lambda: bearer("abc.def.ghi"),
        "empty": lambda: "Bearer ",
        "no bearer": lambda: token(keys),
    }[case]()
    with pytest.raises(Unauthorized) as refused:
        verify_push(settings(certs_url), header, URL)
    assert refused.value.status == 401 and refused.value.code == "unauthorized"


def test_certificates_out_of_reach_answer_503(keys, certs_url, closed_url):
    for url in (closed_url, certs_url.replace("/certs", "/missing")):
        with pytest.raises(Unavailable) as unavailable:
            verify_push(settings(url), bearer(token(keys)), URL)
        assert unavailable.value.status == 503
        assert unavailable.value.body()["error"]["code"] == "oidc_certificates_unavailable"


def test_off_means_no_check():
    verify_push(make_settings(verify_oidc=False), None, URL)


# --- through the push endpoints' Flask apps ------------------------------------------


def _push_app(c) -> flask.Flask:
    """webhook_fanout and webhook_deliver as functions-framework serves them."""
    app = flask.Flask("push")
    app.add_url_rule("/webhook_fanout", "fanout", methods=["POST"],
                     view_func=lambda: handle_fanout(c, flask.request))
    app.add_url_rule("/webhook_deliver", "deliver", methods=["POST"],
                     view_func=lambda: handle_deliver(c, flask.request))
    return app


def test_runner_task_endpoints_check_the_token(keys, certs_url, closed_url, make_runner):
    c = make_container(settings=settings(certs_url))
    runner, _ = make_runner(c)
    client = create_runner_app(runner).test_client()
    body = {"message_id": "msg_unknown"}
    ok = client.post("/tasks/messages", json=body,
                     headers={"Authorization": bearer(token(keys, aud="http://localhost"))})
    assert ok.status_code == 200
    bad = client.post("/tasks/messages", json=body,
                      headers={"Authorization": bearer(token(keys))})  # for another service
    assert_error(bad, 401, "unauthorized")
    down, _ = make_runner(make_container(settings=settings(closed_url)), shard="runner-down")
    answer = create_runner_app(down).test_client().post(
        "/tasks/devices", json={"device_id": "dev_1", "action": "start"},
        headers={"Authorization": bearer(token(keys, aud="http://localhost"))})
    assert_error(answer, 503, "oidc_certificates_unavailable")
    assert answer.headers["Retry-After"]


def test_webhook_fanout_checks_the_token(keys, certs_url, closed_url):
    event = Event(id=new_id("evt"), event="message:in:new", created_at=dt.datetime.now(dt.UTC),
                  account="acc_1", device="dev_1", data={})
    data, attributes = encode(event)
    envelope = {"message": {"data": base64.b64encode(data).decode(), "attributes": attributes,
                            "messageId": "1"}, "subscription": "projects/p/subscriptions/s"}
    good = {"Authorization": bearer(token(keys, aud="http://localhost"))}
    client = _push_app(make_container(settings=settings(certs_url))).test_client()
    assert client.post("/webhook_fanout", json=envelope, headers=good).status_code == 200
    assert_error(client.post("/webhook_fanout", json=envelope), 401, "unauthorized")
    assert_error(client.post("/webhook_fanout", json=envelope, headers={
        "Authorization": bearer(token(keys, aud="http://localhost", exp=1, iat=0))}),
        401, "unauthorized")
    down = _push_app(make_container(settings=settings(closed_url))).test_client()
    answer = down.post("/webhook_fanout", json=envelope, headers=good)
    assert_error(answer, 503, "oidc_certificates_unavailable")


def test_webhook_deliver_checks_the_token(keys, certs_url, closed_url):
    good = {"Authorization": bearer(token(keys, aud="http://localhost"))}
    client = _push_app(make_container(settings=settings(certs_url))).test_client()
    answer = client.post("/webhook_deliver", json={"delivery_id": "dlv_unknown", "attempt": 0},
                         headers=good)
    assert answer.status_code == 200
    assert_error(client.post("/webhook_deliver", json={"delivery_id": "dlv_unknown"},
                             headers={"Authorization": bearer("abc.def.ghi")}), 401, "unauthorized")
    down = _push_app(make_container(settings=settings(closed_url))).test_client()
    answer = down.post("/webhook_deliver", json={"delivery_id": "dlv_unknown"}, headers=good)
    assert_error(answer, 503, "oidc_certificates_unavailable")
    assert answer.headers["Retry-After"]
