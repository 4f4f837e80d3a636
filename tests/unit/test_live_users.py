"""The cache of people found live in Identity Platform (shared.services.people.LiveUsers):
trusted for its ttl and no longer, bounded, and a no is never remembered."""

from __future__ import annotations

import pytest

from shared.errors import Unauthorized
from shared.identity import IdentityUser
from shared.person_tokens import PersonClaims
from shared.services.people import LiveUsers
from tests.unit.test_person_tokens import FakeIdentity


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Counting(FakeIdentity):
    def __init__(self):
        super().__init__()
        self.asked = 0

    def get_user(self, uid):
        self.asked += 1
        return super().get_user(uid)


def claims(uid: str, issued_at: float = 500.0) -> PersonClaims:
    return PersonClaims(uid=uid, email=f"{uid}@example.com", email_verified=True,
                        issued_at=issued_at, auth_time=None)


@pytest.fixture
def identity():
    identity = Counting()
    for n in range(5):
        identity.users[f"u{n}"] = IdentityUser(uid=f"u{n}", email=f"u{n}@example.com")
    return identity


def test_a_live_user_is_trusted_for_the_ttl_then_asked_again(identity):
    clock = Clock()
    live = LiveUsers(30, timer=clock)
    live.check(identity, claims("u0"))
    clock.now += 29
    live.check(identity, claims("u0"))
    assert identity.asked == 1
    identity.delete_user("u0")
    clock.now += 1.5  # past the ttl: the deletion is seen
    with pytest.raises(Unauthorized) as refused:
        live.check(identity, claims("u0"))
    assert refused.value.code == "invalid_id_token"


def test_the_cache_is_bounded_and_drops_expired_entries(identity):
    clock = Clock()
    live = LiveUsers(30, size=3, timer=clock)
    for n in range(5):
        live.check(identity, claims(f"u{n}"))
    assert len(live) == 3  # the least recently seen went first
    clock.now += 31
    assert len(live) == 0


def test_a_refusal_is_not_remembered_and_revocation_holds_while_cached(identity):
    clock = Clock()
    live = LiveUsers(30, timer=clock)
    identity.users["u1"] = IdentityUser(uid="u1", email="u1@example.com", disabled=True)
    with pytest.raises(Unauthorized):
        live.check(identity, claims("u1"))
    assert len(live) == 0
    identity.users["u2"] = IdentityUser(uid="u2", email="u2@example.com", valid_since=600.0)
    live.check(identity, claims("u2", issued_at=700.0))
    with pytest.raises(Unauthorized) as refused:  # an older token, answered from the cache
        live.check(identity, claims("u2", issued_at=550.0))
    assert refused.value.code == "id_token_revoked" and identity.asked == 2


def test_without_a_ttl_every_request_asks(identity):
    live = LiveUsers(0)
    live.check(identity, claims("u3"))
    live.check(identity, claims("u3"))
    assert identity.asked == 2 and len(live) == 0
