"""Pure conversion of Stripe objects (plain dicts, as in webhook bodies or
`StripeObject.to_dict()`) into our views. Handles the shapes of API versions before and
after 2025-03-31 (period ends on subscription items; an invoice's subscription under
`parent.subscription_details`)."""

from __future__ import annotations

from typing import Any

from shared.billing.port import InvoiceView, SubscriptionSnapshot
from shared.plans import PLANS, stripe_agent_lookup_key, stripe_lookup_key

_PLAN_KEYS = {stripe_lookup_key(plan_id): plan_id for plan_id in PLANS}
_AGENT_KEYS = {stripe_agent_lookup_key(plan_id): plan_id for plan_id in PLANS}


def object_id(value: Any) -> str | None:
    """An id from a field that holds an id or an expanded object."""
    if isinstance(value, dict):
        return value.get("id")
    return value if isinstance(value, str) else None


def subscription(obj: dict, as_of: int) -> SubscriptionSnapshot:
    plan = None
    plan_item = agent_item = None
    extra_agents = 0
    period_ends = []
    for item in (obj.get("items") or {}).get("data") or []:
        price = item.get("price") or {}
        key = price.get("lookup_key")
        kind = (price.get("metadata") or {}).get("utio_kind")
        if key in _PLAN_KEYS or kind == "plan":
            plan = _PLAN_KEYS.get(key) or (price.get("metadata") or {}).get("utio_plan")
            plan_item = item.get("id")
        elif key in _AGENT_KEYS or kind == "extra_agent":
            agent_item = item.get("id")
            extra_agents = int(item.get("quantity") or 0)
        if item.get("current_period_end"):
            period_ends.append(int(item["current_period_end"]))
    metadata = obj.get("metadata") or {}
    period_end = obj.get("current_period_end") or (max(period_ends) if period_ends else None)
    return SubscriptionSnapshot(
        id=obj["id"], customer=object_id(obj.get("customer")) or "", status=obj["status"],
        created=int(obj.get("created") or 0), as_of=as_of, plan=plan,
        extra_agents=extra_agents, plan_item=plan_item, agent_item=agent_item,
        cancel_at_period_end=bool(obj.get("cancel_at_period_end")),
        current_period_end=int(period_end) if period_end else None,
        device_id=metadata.get("utio_device"), account_id=metadata.get("utio_account"))


def invoice_subscription(obj: dict) -> tuple[str | None, dict]:
    """The subscription an invoice bills, and that subscription's metadata."""
    details = (obj.get("parent") or {}).get("subscription_details") or {}
    sub = object_id(details.get("subscription")) or object_id(obj.get("subscription"))
    metadata = details.get("metadata") or (obj.get("subscription_details") or {}).get(
        "metadata") or {}
    return sub, metadata


def invoice(obj: dict) -> InvoiceView:
    sub, metadata = invoice_subscription(obj)
    total = int(obj.get("total") or 0)
    if obj.get("total_excluding_tax") is not None:
        tax = total - int(obj["total_excluding_tax"])
    else:
        tax = int(obj.get("tax") or 0)
    return InvoiceView(
        id=obj["id"], number=obj.get("number"), status=obj.get("status"),
        currency=obj.get("currency") or "eur", subtotal=int(obj.get("subtotal") or 0), tax=tax,
        total=total, amount_due=int(obj.get("amount_due") or 0),
        amount_paid=int(obj.get("amount_paid") or 0), created=int(obj.get("created") or 0),
        period_start=obj.get("period_start"), period_end=obj.get("period_end"),
        hosted_invoice_url=obj.get("hosted_invoice_url"), invoice_pdf=obj.get("invoice_pdf"),
        subscription=sub, device_id=metadata.get("utio_device"))
