"""Create Stripe's products, prices and VAT tax rates from the plans table and the VAT
table. Idempotent: run it after every change of either; a second run creates nothing.

    UTIO_STRIPE_SECRET_KEY=sk_... python -m shared.billing.catalog_sync

- a product per plan, with our own id (`utio_<plan>`), and one per extra-agent price;
- a recurring EUR price per product under a stable lookup key (shared.plans); when an
  amount changes, a new price takes over the lookup key and the old one is archived
  (Stripe prices are immutable), so existing subscriptions keep their price until
  they change plan;
- an exclusive VAT tax rate per EU country (metadata utio_key); rates no longer in the
  table are archived.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from decimal import Decimal

import stripe

from shared.billing.stripe_adapter import StripeBilling, calling_stripe, tax_rate_key, tax_rate_params
from shared.billing.tax import EU_VAT_RATES
from shared.errors import UtioError
from shared.plans import (
    BILLING_INTERVAL,
    BILLING_INTERVAL_COUNT,
    PLANS,
    Plan,
    stripe_agent_lookup_key,
    stripe_lookup_key,
)
from shared.settings import Settings


def _display(plan: Plan) -> str:
    if plan.name.lower().startswith(plan.family.value):
        return plan.name
    return f"{plan.family.value.title()} {plan.name}"


def sync(client: stripe.StripeClient, plans: Mapping[str, Plan] = PLANS,
         rates: Mapping[str, Decimal] = EU_VAT_RATES) -> list[str]:
    """Bring Stripe in line with the tables; returns what it changed (empty: nothing)."""
    done: list[str] = []
    for plan in plans.values():
        name = f"Utio {_display(plan)}"
        _product(client, f"utio_{plan.id}", name, {"utio_plan": plan.id}, done)
        _price(client, stripe_lookup_key(plan.id), f"utio_{plan.id}", plan.price_eur_cents,
               {"utio_plan": plan.id, "utio_kind": "plan"}, done)
        if plan.extra_agent_eur_cents:
            product = f"utio_{plan.id}_agent"
            _product(client, product, f"{name}: extra agent",
                     {"utio_plan": plan.id, "utio_kind": "extra_agent"}, done)
            _price(client, stripe_agent_lookup_key(plan.id), product, plan.extra_agent_eur_cents,
                   {"utio_plan": plan.id, "utio_kind": "extra_agent"}, done)
    _tax_rates(client, rates, done)
    return done


def _product(client: stripe.StripeClient, product_id: str, name: str, metadata: dict,
             done: list[str]) -> None:
    try:
        product = client.v1.products.retrieve(product_id).to_dict()
    except stripe.InvalidRequestError as exc:
        if exc.http_status != 404:
            raise
        with calling_stripe("create a product"):
            client.v1.products.create({"id": product_id, "name": name, "metadata": metadata})
        done.append(f"created product {product_id}")
        return
    if product["name"] != name or not product["active"] or product.get("metadata") != metadata:
        with calling_stripe("update a product"):
            client.v1.products.update(product_id, {"name": name, "active": True,
                                                   "metadata": metadata})
        done.append(f"updated product {product_id}")


def _price(client: stripe.StripeClient, lookup_key: str, product_id: str, amount: int,
           metadata: dict, done: list[str]) -> None:
    with calling_stripe("look up a price"):
        found = client.v1.prices.list({"lookup_keys": [lookup_key], "limit": 1}).data
    current = found[0].to_dict() if found else None
    if current is not None and _same_price(current, product_id, amount):
        return
    with calling_stripe("create a price"):
        price = client.v1.prices.create({
            "product": product_id, "currency": "eur", "unit_amount": amount,
            "recurring": {"interval": BILLING_INTERVAL, "interval_count": BILLING_INTERVAL_COUNT},
            "tax_behavior": "exclusive", "lookup_key": lookup_key, "transfer_lookup_key": True,
            "metadata": metadata})
    done.append(f"created price {price.id} ({lookup_key}: {amount} EUR cents)")
    if current is not None and current["active"]:
        with calling_stripe("archive a price"):
            client.v1.prices.update(current["id"], {"active": False})
        done.append(f"archived price {current['id']}")


def _same_price(price: dict, product_id: str, amount: int) -> bool:
    recurring = price.get("recurring") or {}
    product = price["product"] if isinstance(price["product"], str) else price["product"]["id"]
    return (price["active"] and product == product_id and price["unit_amount"] == amount
            and price["currency"] == "eur" and recurring.get("interval") == BILLING_INTERVAL
            and recurring.get("interval_count") == BILLING_INTERVAL_COUNT)


def _tax_rates(client: stripe.StripeClient, rates: Mapping[str, Decimal], done: list[str]) -> None:
    with calling_stripe("list tax rates"):
        existing = [rate.to_dict() for rate in
                    client.v1.tax_rates.list({"active": True, "limit": 100}).auto_paging_iter()]
    have = {(r.get("metadata") or {}).get("utio_key"): r for r in existing}
    wanted = {tax_rate_key(country, rate): (country, rate) for country, rate in rates.items()}
    for key, (country, rate) in wanted.items():
        if key not in have:
            with calling_stripe("create a tax rate"):
                created = client.v1.tax_rates.create(tax_rate_params(country, rate),
                                                     {"idempotency_key": f"utio-{key}"})
            done.append(f"created tax rate {created.id} ({key})")
    for key, rate in have.items():
        if key and key not in wanted:
            with calling_stripe("archive a tax rate"):
                client.v1.tax_rates.update(rate["id"], {"active": False})
            done.append(f"archived tax rate {rate['id']} ({key})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.billing.catalog_sync", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args(argv)
    settings = Settings.from_env()
    billing = StripeBilling.from_settings(settings)
    try:
        changes = sync(billing.client)
    except (UtioError, stripe.StripeError) as exc:
        print(f"billing sync failed: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 1
    for line in changes:
        print(line)
    print(f"{len(changes)} change(s); Stripe matches the plans and VAT tables.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
