"""People who sign in (Identity Platform) and what they may do.

A person is a document in `people`, keyed by their Identity Platform uid: the account
they belong to and their role there. An owner (who signed up, or the development
account's person) opens everything in the account, as an API key does. An agent person
(invited with `POST /v1/agents` and an email) is that agent: the agent document holds the
role (admin or agent), the device grants and whether it is active, exactly as for agent
tokens. Deleting the agent deletes the person and their identity."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlencode

from shared.clock import Clock
from shared.domain import Account
from shared.errors import Conflict, Forbidden, Unauthorized
from shared.identity import Identity, IdentityExists
from shared.ids import new_id
from shared.inbox import Agent
from shared.person_tokens import PersonClaims
from shared.ports import DocumentStore, Mailer
from shared.repositories.accounts import Accounts
from shared.repositories.people import People

PEOPLE = People.name


class PersonRole(StrEnum):
    owner = "owner"
    agent = "agent"  # the agent document (agent_id) tells admin or agent


@dataclass(frozen=True)
class Person:
    uid: str
    account_id: str
    role: PersonRole
    email: str | None
    agent_id: str | None = None


def get_person(store: DocumentStore, uid: str) -> Person | None:
    doc = People(store).doc(uid)
    if doc is None:
        return None
    return Person(uid=uid, account_id=doc["account_id"], role=PersonRole(doc["role"]),
                  email=doc.get("email"), agent_id=doc.get("agent_id"))


class LiveUsers:
    """Whether an identity still exists, is enabled and has not revoked the token: asked
    of Identity Platform, and trusted for `ttl` seconds after a yes. So a user deleted,
    disabled or signed out everywhere is refused within `ttl` seconds (30 by default,
    UTIO_PERSON_CHECK_SECONDS), by every instance. At most `size` users are remembered
    (the least recently seen go first, and expired entries are dropped as others come),
    so the cache stays bounded however many people sign in to one instance."""

    SIZE = 10_000

    def __init__(self, ttl: float, *, size: int = SIZE, timer=time.monotonic):
        from cachetools import TTLCache

        self.ttl = ttl
        self._lock = threading.Lock()
        # uid => valid_since (tokens issued before it are revoked)
        self._seen = TTLCache(maxsize=size, ttl=ttl, timer=timer) if ttl > 0 else None

    def __len__(self) -> int:
        if self._seen is None:
            return 0
        with self._lock:
            self._seen.expire()
            return len(self._seen)

    def check(self, identity: Identity, claims: PersonClaims) -> None:
        found, valid_since = self._lookup(claims.uid)
        if not found:
            user = identity.get_user(claims.uid)
            if user is None:
                raise Unauthorized("this sign-in's user no longer exists", code="invalid_id_token")
            if user.disabled:
                raise Unauthorized("this user is disabled", code="user_disabled")
            valid_since = user.valid_since
            if self._seen is not None:
                with self._lock:
                    self._seen[claims.uid] = valid_since
        if valid_since is not None and claims.issued_at < valid_since:
            raise Unauthorized("this sign-in was revoked; sign in again", code="id_token_revoked")

    def _lookup(self, uid: str) -> tuple[bool, float | None]:
        if self._seen is None:
            return False, None
        with self._lock:
            if uid in self._seen:
                return True, self._seen[uid]
        return False, None


def sign_up(store: DocumentStore, clock: Clock, claims: PersonClaims, account_name: str,
            *, enabled: bool) -> Person:
    """The account of a person who signed up, with them as its owner."""
    if not enabled:
        raise Forbidden("self-serve sign-up is turned off here; ask the operator for an account",
                        code="signup_disabled")
    if get_person(store, claims.uid) is not None:
        raise Conflict("this sign-in has an account already", code="person_exists")
    if not claims.email:
        raise Forbidden("sign up with an email and a password", code="email_required")
    account = Account(id=new_id("acc"), name=account_name, email=claims.email,
                      created_at=clock.now())
    Accounts(store).add(account)  # no API key: the owner makes one
    return _put_owner(store, clock, claims.uid, account.id, claims.email)


def _put_owner(store: DocumentStore, clock: Clock, uid: str, account_id: str,
               email: str | None) -> Person:
    People(store).put_doc(uid, {"id": uid, "account_id": account_id,
                                "role": PersonRole.owner.value, "email": email,
                                "agent_id": None, "created_at": clock.now()})
    return Person(uid=uid, account_id=account_id, role=PersonRole.owner, email=email)


def ensure_owner(store: DocumentStore, clock: Clock, identity: Identity, account_id: str,
                 email: str, password: str) -> Person:
    """The development sign-in: an owner of account_id with this email and password, made
    (or its password reset to this one) at each start of the local stack. One kept from the
    last run (make dev keeps the Auth emulator's accounts) keeps its uid, so a browser
    signed in before the restart stays signed in."""
    email = email.strip().lower()
    user = identity.find_by_email(email)
    if user is not None and identity.set_password(user.uid, password):
        return _put_owner(store, clock, user.uid, account_id, email)
    if user is not None:
        identity.delete_user(user.uid)  # the password may have changed: start afresh
        People(store).delete(user.uid)
    user = identity.create_user(email, password=password, email_verified=True)
    return _put_owner(store, clock, user.uid, account_id, email)


def invite_agent(store: DocumentStore, clock: Clock, identity: Identity, mailer: Mailer | None,
                 public_url: str, agent: Agent, account_name: str) -> None:
    """An identity for the agent's email, and an email with the link to set a password."""
    try:
        user = identity.create_user(agent.email, email_verified=True)
    except IdentityExists:
        user = identity.find_by_email(agent.email)
        if user is None or get_person(store, user.uid) is not None:
            raise Conflict(f"{agent.email} signs in to a Utio account already; invite another "
                           "email", code="person_exists") from None
    People(store).put_doc(user.uid, {"id": user.uid, "account_id": agent.account_id,
                                     "role": PersonRole.agent.value, "email": agent.email,
                                     "agent_id": agent.id, "created_at": clock.now()})
    link = password_link(public_url, identity.password_setup_code(agent.email), invite=True)
    if mailer is not None:
        mailer.send(agent.email, f"You are invited to {account_name} on Utio",
                    f"{account_name} invited you to their team on Utio.\n\n"
                    f"Choose your password here:\n{link}\n\n"
                    f"Then sign in at {public_url.rstrip('/')}/login with {agent.email}.\n")


def password_link(public_url: str, code: str, *, invite: bool = False) -> str:
    query = {"mode": "resetPassword", "oobCode": code} | ({"invite": "1"} if invite else {})
    return f"{public_url.rstrip('/')}/action?{urlencode(query)}"


def remove_agent(store: DocumentStore, identity: Identity | None, agent_id: str) -> None:
    """The person and identity of a deleted agent: their tokens stop working at once."""
    people = People(store)
    for doc in people.of_agent(agent_id):
        people.delete(doc["id"])
        if identity is not None:
            identity.delete_user(doc["id"])
