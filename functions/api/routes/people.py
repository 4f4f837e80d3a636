"""People's sign-in for the web app: its configuration, sign-up and who is signed in."""

from __future__ import annotations

from functions.api.registry import Principal, api
from functions.api.schemas_people import AuthConfig, PersonOut, SignUp
from shared.errors import NotFound


@api.route("GET", "/v1/auth/config", response=AuthConfig, tag="people", auth=None,
           summary="How the web app signs people in (Identity Platform's public settings)")
def auth_config(p: Principal):
    """The public settings the web app needs to sign people in with Identity Platform
    (Firebase Authentication): whether sign-in is on, the project, its public web API key,
    whether a local emulator stands in, and whether self-serve sign-up is open. No key or
    token needed; nothing here is secret."""
    from shared.person_tokens import project_of

    s = p.c.settings
    return AuthConfig(enabled=s.identity_backend == "firebase", project_id=project_of(s),
                      api_key=s.identity_api_key or "local-emulator-key",
                      emulator=s.local and bool(s.auth_emulator_host), signup=s.self_signup)


@api.route("POST", "/v1/signup", body=SignUp, response=PersonOut, status=201, tag="people",
           auth="person", errors=(403, 409),
           summary="Create the signed-in person's account, with them as its owner")
def sign_up(p: Principal, body: SignUp):
    """After signing up with Identity Platform (email and password), the person calls this
    once with the name of their business: it creates the Utio account with them as its
    owner, and from then on their ID token works on the API like an API key of that account.

    Errors: 401 without a valid ID token; 403 when self-serve sign-up is turned off on this
    installation, or the sign-in has no email and password; 409 when this person has an
    account already; 422 for a missing or long account name."""
    from shared.services import people

    people.sign_up(p.c.store, p.c.clock, p.person, body.account_name,
                   enabled=p.c.settings.self_signup)
    return _me(p, p.person)


@api.route("GET", "/v1/people/me", response=PersonOut, tag="people", auth="person",
           summary="Who is signed in: their account and role")
def people_me(p: Principal):
    """Who is signed in: their email and whether it is verified, and, once they have an
    account, its id and name, their role (owner, admin or agent) and, for an agent, the
    devices they may use. The web app calls it after every sign-in.

    Errors: 401 without a valid ID token; 404 `no_account` when their account was deleted."""
    return _me(p, p.person)


def _me(p: Principal, claims) -> PersonOut:
    from shared.services import agents, people

    person = people.get_person(p.c.store, claims.uid)
    base = {"uid": claims.uid, "email": claims.email, "email_verified": claims.email_verified}
    if person is None:
        return PersonOut(**base, account_id=None, account_name=None, role=None, agent_id=None,
                         devices=None)
    account = p.c.repos.accounts.doc(person.account_id)
    if account is None:
        raise NotFound("this sign-in's account no longer exists", code="no_account")
    role, devices = person.role.value, None
    if person.agent_id:
        agent = agents.get_agent(p.c.store, person.account_id, person.agent_id)
        role = agent.role.value
        devices = None if role == "admin" else list(agent.devices)
    return PersonOut(**base, account_id=person.account_id, account_name=account.get("name"),
                     role=role, agent_id=person.agent_id, devices=devices)
