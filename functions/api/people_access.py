"""A person's ID token as a Principal. Imported by the API only for a request whose bearer
token is a JWT, so an API-key request never loads it (nor firebase-admin, nor the JWT
checks)."""

from __future__ import annotations

from functions.api.access import principal_of_agent
from functions.api.registry import Principal
from functions.api.routing import Route
from shared.bootstrap import Container
from shared.errors import Forbidden, Unauthorized
from shared.person_tokens import PersonClaims, verify
from shared.services import agents, people


def claims_of(c: Container, token: str) -> PersonClaims:
    if c.identity is None:
        raise Unauthorized("sign-in with an ID token is not configured here; use an API key",
                           code="id_tokens_not_accepted")
    claims = verify(c.settings, token)
    c.live_users.check(c.identity, claims)
    return claims


def person_principal(c: Container, route: Route, token: str,
                     idempotency_key: str | None) -> Principal:
    if route.auth == "admin":
        raise Forbidden("this call needs the operator's admin key, not a person's sign-in")
    claims = claims_of(c, token)
    person = people.get_person(c.store, claims.uid)
    if route.auth == "person":  # the calls of someone who may have no account yet
        return Principal(c, person.account_id if person else None, idempotency_key,
                         person=claims)
    if person is None:
        raise Forbidden("this sign-in has no Utio account yet: finish signing up at /signup",
                        code="no_account")
    if person.role == people.PersonRole.owner:
        if not claims.email_verified:
            raise Forbidden("verify your email address first: open the link we sent you",
                            code="email_not_verified")
        return Principal(c, person.account_id, idempotency_key, person=claims)
    try:
        agent = agents.get_agent(c.store, person.account_id, person.agent_id or "")
    except Exception as exc:  # the agent was deleted meanwhile
        raise Unauthorized("this sign-in's agent no longer exists", code="invalid_id_token") from exc
    if not agent.active:
        raise Unauthorized("this agent is deactivated; an admin can reactivate it",
                           code="agent_inactive")
    return principal_of_agent(c, route, agent, idempotency_key, person=claims)
