"""People's sign-in against the real Firebase Auth emulator: the adapter over
firebase-admin, the emulator's (unsigned) ID tokens on the API, sign-up, email
verification, an invitation's password link, and deleted users."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
import requests

from functions.api.app import create_app
from infra.emulators import AUTH_PROJECT
from shared.identity.firebase import FirebaseIdentity
from tests.fakes import assert_error, make_container, make_settings

pytestmark = pytest.mark.emulator


@pytest.fixture
def c(auth_emulator):
    return make_container(settings=make_settings(
        identity_backend="firebase", identity_project=AUTH_PROJECT, person_check_seconds=0,
        auth_emulator_host=auth_emulator.host))


def rest(host: str, method: str, body: dict) -> dict:
    response = requests.post(f"http://{host}/identitytoolkit.googleapis.com/v1/accounts:{method}"
                             "?key=fake-api-key", json=body, timeout=10)
    assert response.ok, response.text
    return response.json()


def sign_up(host: str, email: str, password: str = "correct horse 1") -> str:
    return rest(host, "signUp", {"email": email, "password": password,
                                 "returnSecureToken": True})["idToken"]


def sign_in(host: str, email: str, password: str = "correct horse 1") -> str:
    return rest(host, "signInWithPassword", {"email": email, "password": password,
                                             "returnSecureToken": True})["idToken"]


def oob_codes(host: str, email: str) -> list[dict]:
    found = requests.get(f"http://{host}/emulator/v1/projects/{AUTH_PROJECT}/oobCodes",
                         timeout=10).json()["oobCodes"]
    return [code for code in found if code["email"] == email]


def email() -> str:
    return f"p{uuid.uuid4().hex[:10]}@example.com"


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_sign_up_verify_then_use_the_api(c, auth_emulator):
    host, address = auth_emulator.host, email()
    client = create_app(c).test_client()
    token = sign_up(host, address)
    created = client.post("/v1/signup", json={"account_name": "Acme"}, headers=auth(token))
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["role"] == "owner"
    assert_error(client.get("/v1/devices", headers=auth(token)), 403, "email_not_verified")
    rest(host, "sendOobCode", {"requestType": "VERIFY_EMAIL", "idToken": token})
    (code,) = [x for x in oob_codes(host, address) if x["requestType"] == "VERIFY_EMAIL"]
    rest(host, "update", {"oobCode": code["oobCode"]})
    fresh = sign_in(host, address)
    assert client.get("/v1/devices", headers=auth(fresh)).status_code == 200


def test_emulator_tokens_are_checked_claim_by_claim(c, auth_emulator):
    host = auth_emulator.host
    client = create_app(c).test_client()
    token = sign_up(host, email())
    client.post("/v1/signup", json={"account_name": "Acme"}, headers=auth(token))
    header, payload, _ = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))

    def forged(**changes) -> str:
        body = base64.urlsafe_b64encode(json.dumps(claims | changes).encode()).decode().rstrip("=")
        return f"{header}.{body}."

    assert_error(client.get("/v1/people/me", headers=auth(forged(exp=claims["iat"] - 10))), 401,
                 "id_token_expired")
    assert_error(client.get("/v1/people/me", headers=auth(forged(aud="another-project"))), 401)
    assert_error(client.get("/v1/people/me", headers=auth(
        forged(iss="https://securetoken.google.com/another-project"))), 401)
    assert_error(client.get("/v1/people/me", headers=auth(forged(sub="no-such-user"))), 401)


def test_a_deleted_users_token_is_401(c, auth_emulator):
    host = auth_emulator.host
    client = create_app(c).test_client()
    token = sign_up(host, email())
    client.post("/v1/signup", json={"account_name": "Acme"}, headers=auth(token))
    uid = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["sub"]
    assert client.get("/v1/people/me", headers=auth(token)).status_code == 200
    FirebaseIdentity(c.settings).delete_user(uid)
    assert_error(client.get("/v1/people/me", headers=auth(token)), 401)


def test_adapter_creates_finds_links_and_deletes(c, auth_emulator):
    identity = FirebaseIdentity(c.settings)
    address = email()
    user = identity.create_user(address, email_verified=True)
    assert identity.get_user(user.uid).email == address
    assert identity.find_by_email(address).uid == user.uid
    from shared.identity import IdentityExists

    with pytest.raises(IdentityExists):
        identity.create_user(address)
    code = identity.password_setup_code(address)
    rest(auth_emulator.host, "resetPassword", {"oobCode": code, "newPassword": "new password 9"})
    assert sign_in(auth_emulator.host, address, "new password 9")
    identity.delete_user(user.uid)
    identity.delete_user(user.uid)  # twice is no error
    assert identity.get_user(user.uid) is None


def test_the_development_owner_made_again_keeps_its_uid_and_takes_the_new_password(c, auth_emulator):
    # make dev keeps the emulator's accounts between runs: the owner made at each start
    # keeps its uid (a browser signed in before the restart stays so), new password and all
    from shared.services.people import ensure_owner

    identity, address = FirebaseIdentity(c.settings), email()
    first = ensure_owner(c.store, c.clock, identity, "acc_dev", address, "first password 1")
    again = ensure_owner(c.store, c.clock, identity, "acc_dev", address, "second password 2")
    assert again.uid == first.uid and identity.get_user(first.uid).email == address
    assert sign_in(auth_emulator.host, address, "second password 2")
    assert c.store.get("people", first.uid)["account_id"] == "acc_dev"
    assert identity.set_password("no-such-uid", "whatever 3") is False
