"""`python -m shared.billing.catalog_sync` against the stand-in: it creates the catalogue once,
and re-running it creates nothing."""

import pytest

from infra.local_stripe import StripeStandIn
from shared.billing.catalog_sync import main, sync
from shared.billing.stripe_adapter import StripeBilling
from shared.billing.tax import EU_VAT_RATES
from shared.plans import PLANS, stripe_agent_lookup_key, stripe_lookup_key


@pytest.fixture
def fresh():
    server = StripeStandIn().start()
    yield server, StripeBilling(server.api_key, "", api_base=server.url).client
    server.stop()


def test_first_run_creates_the_catalogue_and_a_second_creates_nothing(fresh):
    server, client = fresh
    done = sync(client)
    assert len(server.table("product")) == len(PLANS) + 1  # + the extra-agent product
    prices = {p["lookup_key"]: p for p in server.table("price").values()}
    for plan in PLANS.values():
        price = prices[stripe_lookup_key(plan.id)]
        assert (price["unit_amount"], price["currency"], price["recurring"]) == (
            plan.price_eur_cents, "eur", {"interval": "day", "interval_count": 30})
        assert price["tax_behavior"] == "exclusive"
    assert prices[stripe_agent_lookup_key("platform-enterprise")]["unit_amount"] == 1900
    rates = {r["country"]: r for r in server.table("tax_rate").values()}
    assert {c: str(r["percentage"]).removesuffix(".0") for c, r in rates.items()} == {
        c: str(v) for c, v in EU_VAT_RATES.items()}
    assert all(not r["inclusive"] for r in rates.values())
    assert len(done) == 7 + 7 + 27

    server.reset_calls()
    assert sync(client) == []
    assert server.posts() == []  # nothing created, nothing updated


def test_a_new_amount_moves_the_lookup_key_and_archives_the_old_price(fresh):
    server, client = fresh
    sync(client)
    old = next(p for p in server.table("price").values()
               if p["lookup_key"] == stripe_lookup_key("messaging-business"))
    plans = dict(PLANS) | {"messaging-business": PLANS["messaging-business"].model_copy(
        update={"price_eur_cents": 6900})}
    server.reset_calls()
    done = sync(client, plans, {**EU_VAT_RATES, "LU": EU_VAT_RATES["LU"] + 1})
    created = [c for c in server.posts("/v1/prices") if c.path == "/v1/prices"][0]
    assert created.params["lookup_key"] == stripe_lookup_key("messaging-business")
    assert created.params["transfer_lookup_key"] == "true" and created.params["unit_amount"] == "6900"
    assert server.table("price")[old["id"]]["active"] is False
    assert any("archived tax rate" in line and "vat_LU_17" in line for line in done)
    assert sync(client, plans, {**EU_VAT_RATES, "LU": EU_VAT_RATES["LU"] + 1}) == []


def test_the_command_line(fresh, monkeypatch, capsys):
    server, _ = fresh
    monkeypatch.setenv("UTIO_STRIPE_SECRET_KEY", server.api_key)
    monkeypatch.setenv("UTIO_STRIPE_API_BASE", server.url)
    assert main([]) == 0 and main([]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("0 change(s)")
    monkeypatch.setenv("UTIO_STRIPE_SECRET_KEY", "sk_test_wrong")
    assert main([]) == 1
    assert "billing sync failed" in capsys.readouterr().err
