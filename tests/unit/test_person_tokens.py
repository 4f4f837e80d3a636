"""People's ID tokens on the API, the production way: an RSA key made here, its
certificate served from a loopback server as Google serves securetoken's, tokens signed
with it. Identity Platform's user records are a fake of our Identity port.

Expired, tampered, another project's, unsigned, and a deleted or disabled user's tokens
answer 401; a person of one account never reaches another account's objects (404)."""

from __future__ import annotations

import base64
import json
import time

import pytest
from google.auth import crypt, jwt
from werkzeug.wrappers import Request, Response

from functions.api.app import create_app
from shared.identity import Identity, IdentityExists, IdentityUser
from shared.person_tokens import CERTS, looks_like_id_token
from shared.services import people
from tests.fakes import assert_error, make_container, make_settings, seed_device, serving
from tests.unit.test_oidc import _key_and_certificate

PROJECT = "utio-prod-test"
KEY_ID = "sk1"


class FakeIdentity(Identity):
    def __init__(self):
        self.users: dict[str, IdentityUser] = {}
        self.codes: list[tuple[str, str]] = []

    def get_user(self, uid):
        return self.users.get(uid)

    def find_by_email(self, email):
        return next((u for u in self.users.values() if u.email == email), None)

    def create_user(self, email, *, password=None, email_verified=False):
        if self.find_by_email(email):
            raise IdentityExists(email)
        user = IdentityUser(uid=f"uid{len(self.users) + 1:04d}", email=email)
        self.users[user.uid] = user
        return user

    def delete_user(self, uid):
        self.users.pop(uid, None)

    def password_setup_code(self, email):
        code = f"code-{len(self.codes)}"
        self.codes.append((email, code))
        return code


@pytest.fixture(scope="module")
def keys():
    return _key_and_certificate()


@pytest.fixture(scope="module")
def certs_url(keys):
    body = json.dumps({KEY_ID: keys[1]})
    served = []

    @Request.application
    def app(request):
        served.append(request.path)
        return Response(body, mimetype="application/json",
                        headers={"Cache-Control": "public, max-age=3600"})

    with serving(app) as base:
        yield f"{base}/securetoken"


@pytest.fixture
def c(certs_url):
    CERTS.clear()
    container = make_container(settings=make_settings(
        env="production", identity_backend="firebase", identity_project=PROJECT,
        id_token_certs_url=certs_url, person_check_seconds=0))
    container.__dict__["identity"] = FakeIdentity()
    return container


@pytest.fixture
def client(c):
    return create_app(c).test_client()


def token(keys, uid: str, *, key=None, key_id=KEY_ID, **overrides) -> str:
    now = int(time.time())
    claims = {"iss": f"https://securetoken.google.com/{PROJECT}", "aud": PROJECT, "sub": uid,
              "user_id": uid, "email": f"{uid}@example.com", "email_verified": True,
              "auth_time": now, "iat": now, "exp": now + 3600}
    claims.update(overrides)
    signer = crypt.RSASigner.from_string(key or keys[0], key_id=key_id)
    return jwt.encode(signer, claims).decode()


def owner(c, keys, name="Acme") -> tuple[str, str]:
    """A signed-up owner: their token and account id."""
    user = c.identity.create_user(f"{name.lower()}@example.com")
    raw = token(keys, user.uid, email=user.email)
    response = create_app(c).test_client().post(
        "/v1/signup", json={"account_name": name}, headers=auth(raw))
    assert response.status_code == 201, response.get_json()
    return raw, response.get_json()["account_id"]


def auth(raw: str) -> dict:
    return {"Authorization": f"Bearer {raw}"}


def test_a_signed_up_owner_opens_their_account(c, client, keys):
    raw, account_id = owner(c, keys)
    me = client.get("/v1/people/me", headers=auth(raw)).get_json()
    assert me["account_id"] == account_id and me["role"] == "owner"
    assert me["account_name"] == "Acme" and me["email_verified"] is True
    assert client.get("/v1/devices", headers=auth(raw)).status_code == 200
    assert client.get("/v1/api-keys", headers=auth(raw)).get_json()["data"] == []


def test_looks_like_id_token_tells_jwts_from_keys(keys):
    assert looks_like_id_token(token(keys, "u1"))
    for raw in ("utio_abc", "utio_agt_x", "adm_123", "", None, "eyJ.only"):
        assert not looks_like_id_token(raw)


def test_expired_token_is_401(c, client, keys):
    raw, _ = owner(c, keys)
    uid = jwt.decode(raw, verify=False)["sub"]
    old = int(time.time()) - 7200
    expired = token(keys, uid, iat=old, auth_time=old, exp=old + 3600)
    assert_error(client.get("/v1/devices", headers=auth(expired)), 401)


def test_tampered_token_is_401(c, client, keys):
    raw, _ = owner(c, keys, "Acme")
    other, _ = owner(c, keys, "Globex")
    header, _, signature = raw.split(".")
    payload = base64.urlsafe_b64encode(json.dumps(jwt.decode(other, verify=False)).encode())
    forged = ".".join([header, payload.decode().rstrip("="), signature])
    assert_error(client.get("/v1/devices", headers=auth(forged)), 401, "invalid_id_token")


def test_a_token_signed_by_another_key_is_401(c, client, keys):
    raw, _ = owner(c, keys)
    uid = jwt.decode(raw, verify=False)["sub"]
    stranger_key, _ = _key_and_certificate()
    assert_error(client.get("/v1/devices", headers=auth(token(keys, uid, key=stranger_key))), 401)
    assert_error(client.get("/v1/devices", headers=auth(token(keys, uid, key=stranger_key,
                                                              key_id="unknown"))), 401)


def test_another_projects_token_is_401(c, client, keys):
    raw, _ = owner(c, keys)
    uid = jwt.decode(raw, verify=False)["sub"]
    for claims in ({"aud": "someone-else"},
                   {"iss": "https://securetoken.google.com/someone-else"},
                   {"aud": "someone-else", "iss": "https://securetoken.google.com/someone-else"}):
        assert_error(client.get("/v1/devices", headers=auth(token(keys, uid, **claims))), 401)


def test_unsigned_token_is_401_outside_the_emulator(c, client, keys):
    raw, _ = owner(c, keys)
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').decode().rstrip("=")
    payload = raw.split(".")[1]
    assert_error(client.get("/v1/devices", headers=auth(f"{header}.{payload}.")), 401)


def test_deleted_and_disabled_users_tokens_are_401(c, client, keys):
    raw, _ = owner(c, keys)
    uid = jwt.decode(raw, verify=False)["sub"]
    c.identity.users[uid] = IdentityUser(uid=uid, email="x@example.com", disabled=True)
    assert_error(client.get("/v1/devices", headers=auth(raw)), 401, "user_disabled")
    c.identity.delete_user(uid)
    assert_error(client.get("/v1/devices", headers=auth(raw)), 401)
    assert_error(client.get("/v1/people/me", headers=auth(raw)), 401)


def test_revoked_sessions_tokens_are_401(c, client, keys):
    raw, _ = owner(c, keys)
    uid = jwt.decode(raw, verify=False)["sub"]
    c.identity.users[uid] = IdentityUser(uid=uid, email="x@example.com",
                                         valid_since=time.time() + 5)
    assert_error(client.get("/v1/devices", headers=auth(raw)), 401, "id_token_revoked")


def test_a_person_never_reaches_another_accounts_objects(c, client, keys):
    raw_a, _ = owner(c, keys, "Acme")
    _, account_b = owner(c, keys, "Globex")
    device = seed_device(c, account_b)
    response = client.post("/v1/webhooks", json={"url": "https://example.com/h"},
                           headers=auth(owner(c, keys, "Initech")[0]))
    webhook = response.get_json()["id"]
    for path in (f"/v1/devices/{device.id}", f"/v1/devices/{device.id}/usage",
                 f"/v1/webhooks/{webhook}"):
        assert_error(client.get(path, headers=auth(raw_a)), 404)
    assert_error(client.delete(f"/v1/devices/{device.id}", headers=auth(raw_a)), 404)
    assert client.get("/v1/devices", headers=auth(raw_a)).get_json()["data"] == []


def test_unverified_owner_may_only_see_themselves(c, client, keys):
    user = c.identity.create_user("new@example.com")
    raw = token(keys, user.uid, email=user.email, email_verified=False)
    assert client.post("/v1/signup", json={"account_name": "New"}, headers=auth(raw)).status_code == 201
    assert client.get("/v1/people/me", headers=auth(raw)).get_json()["email_verified"] is False
    assert_error(client.get("/v1/devices", headers=auth(raw)), 403, "email_not_verified")


def test_signing_up_twice_is_409_and_without_account_is_403(c, client, keys):
    raw, _ = owner(c, keys)
    assert_error(client.post("/v1/signup", json={"account_name": "Again"}, headers=auth(raw)),
                 409, "person_exists")
    user = c.identity.create_user("nobody@example.com")
    stranger = token(keys, user.uid, email=user.email)
    assert client.get("/v1/people/me", headers=auth(stranger)).get_json()["account_id"] is None
    assert_error(client.get("/v1/devices", headers=auth(stranger)), 403, "no_account")


def test_signup_can_be_turned_off_and_validates_its_body(certs_url, keys):
    CERTS.clear()
    c = make_container(settings=make_settings(
        env="production", identity_backend="firebase", identity_project=PROJECT,
        id_token_certs_url=certs_url, self_signup=False))
    c.__dict__["identity"] = FakeIdentity()
    client = create_app(c).test_client()
    user = c.identity.create_user("a@example.com")
    raw = token(keys, user.uid, email=user.email)
    assert_error(client.post("/v1/signup", json={"account_name": "A"}, headers=auth(raw)),
                 403, "signup_disabled")
    detail = assert_error(client.post("/v1/signup", json={"account_name": ""}, headers=auth(raw)), 422)
    assert detail["details"][0]["field"] == "account_name"
    assert client.get("/v1/auth/config").get_json()["signup"] is False


def test_api_keys_cannot_sign_up_and_id_tokens_need_sign_in_configured(c, client, keys):
    from shared.services.accounts import create_account

    _, _, key = create_account(c, "Keyed")
    assert_error(client.post("/v1/signup", json={"account_name": "X"}, headers=auth(key)), 401)
    c.__dict__["identity"] = None
    raw = token(keys, "uid9999")
    assert_error(client.get("/v1/devices", headers=auth(raw)), 401, "id_tokens_not_accepted")


def test_invited_agent_signs_in_and_sees_only_granted_devices(c, client, keys, monkeypatch):
    from shared.services import agents

    raw, account_id = owner(c, keys)
    granted, other = seed_device(c, account_id), seed_device(c, account_id)
    monkeypatch.setattr(agents, "seats", lambda *a, **k: 5)
    sent = []
    c.__dict__["mailer"] = type("M", (), {"send": lambda self, *a: sent.append(a)})()
    response = client.post("/v1/agents", headers=auth(raw), json={
        "name": "Ana", "email": "ana@example.com", "devices": [granted.id]})
    assert response.status_code == 201, response.get_json()
    agent_id = response.get_json()["id"]
    (to, subject, body), = sent
    assert to == "ana@example.com" and "resetPassword" in body and "oobCode=code-0" in body
    user = c.identity.find_by_email("ana@example.com")
    agent_token = token(keys, user.uid, email=user.email)
    me = client.get("/v1/people/me", headers=auth(agent_token)).get_json()
    assert me["role"] == "agent" and me["devices"] == [granted.id]
    listed = client.get("/v1/devices", headers=auth(agent_token)).get_json()["data"]
    assert [d["id"] for d in listed] == [granted.id]
    assert_error(client.get(f"/v1/devices/{other.id}", headers=auth(agent_token)), 404)
    assert_error(client.get("/v1/webhooks", headers=auth(agent_token)), 403, "agent_forbidden")
    assert_error(client.get("/v1/api-keys", headers=auth(agent_token)), 403)
    # deleting the agent ends the person's sign-in at once
    assert client.delete(f"/v1/agents/{agent_id}", headers=auth(raw)).status_code == 204
    assert people.get_person(c.store, user.uid) is None
    assert_error(client.get("/v1/devices", headers=auth(agent_token)), 401)


def test_certificates_are_fetched_once(c, client, keys):
    raw, _ = owner(c, keys)
    for _ in range(3):
        assert client.get("/v1/devices", headers=auth(raw)).status_code == 200
    assert len(CERTS._cache) == 1
