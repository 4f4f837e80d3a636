"""The development account of `make dev` has an email, so its mail (a webhook disabled)
lands in the local outbox."""

from __future__ import annotations

from shared.services.accounts import authenticate, create_account, ensure_account_with_key
from tests.fakes import make_container


def test_the_development_account_is_made_with_an_email():
    c = make_container()
    account_id = ensure_account_with_key(c, "Development", "utio_dev_k1",
                                         "developer@utio.localhost")
    assert c.store.get("accounts", account_id)["email"] == "developer@utio.localhost"
    assert authenticate(c, "utio_dev_k1") == account_id


def test_a_development_account_of_an_earlier_run_gets_one_too():
    c = make_container()
    account, _, _ = create_account(c, "Development", raw_key="utio_dev_k2")
    assert ensure_account_with_key(c, "Development", "utio_dev_k2",
                                   "developer@utio.localhost") == account.id
    assert c.store.get("accounts", account.id)["email"] == "developer@utio.localhost"
    ensure_account_with_key(c, "Development", "utio_dev_k2", "other@x.example")
    assert c.store.get("accounts", account.id)["email"] == "developer@utio.localhost"  # kept
