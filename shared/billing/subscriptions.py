"""Billing on the API side: one Stripe customer per account, one subscription per device,
tax details, invoices and the portal; and `ensure_can_send`, the check messaging makes
before it accepts a message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shared.billing import state as billing_state
from shared.billing import tax, trials
from shared.billing.port import Billing, CheckoutLink, CheckoutRequest, InvoiceView, PaymentRequired
from shared.billing.state import new_record
from shared.clock import Clock, SystemClock
from shared.domain import BillingStatus, Device
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.plans import get_plan
from shared.ports import DocumentStore, Mailer, TaskQueue
from shared.repositories.accounts import Accounts
from shared.repositories.billing import BillingCustomers, BillingSubscriptions
from shared.repositories.devices import Devices

CUSTOMERS = BillingCustomers.name


def ensure_can_send(device: Device, now: datetime | None = None) -> None:
    """PaymentRequired (402) when the device may not send: its trial is over, or its
    subscription ended or stayed unpaid after Stripe's retries (dunning). Sandbox
    devices are not billed."""
    if not trials.billed(device):
        return
    subscribe = f"POST /v1/devices/{device.id}/subscription"
    if device.billing_status == BillingStatus.unpaid:
        raise PaymentRequired(
            f"device {device.id} has no paid subscription: subscribe it ({subscribe}), or pay "
            "its open invoice and update the card in the billing portal (POST /v1/billing/portal)",
            code="subscription_unpaid", details={"device": device.id})
    if device.billing_status == BillingStatus.canceled:
        raise PaymentRequired(f"device {device.id}'s subscription was canceled; subscribe it "
                              f"again to send ({subscribe})", code="subscription_canceled",
                              details={"device": device.id})
    ends = trials.trial_ends_at(device)
    if ends is not None and (now or SystemClock().now()) >= ends:
        raise PaymentRequired(f"device {device.id}'s free trial ended at {ends.isoformat()}; "
                              f"subscribe it to send ({subscribe})", code="trial_ended",
                              details={"device": device.id, "trial_ended_at": ends.isoformat()})


# --- customers and tax details ---------------------------------------------------------


def get_details(store: DocumentStore, account_id: str) -> dict | None:
    return BillingCustomers(store).doc(account_id)


def ensure_customer(store: DocumentStore, billing: Billing, clock: Clock, account_id: str) -> dict:
    doc = BillingCustomers(store).doc(account_id)
    if doc and doc.get("customer_id"):
        return doc
    account = Accounts(store).doc(account_id) or {}
    customer_id = billing.create_customer(account_id, account.get("email"),
                                          account.get("name") or account_id)
    fresh = {"account_id": account_id, "customer_id": customer_id, "country": None,
             "vat_number": None, "tax_treatment": None, "vat_rate": None,
             "created_at": clock.now(), "updated_at": clock.now()}
    if doc is None:
        BillingCustomers(store).create_doc(account_id, fresh)
    else:
        BillingCustomers(store).update(account_id, {"customer_id": customer_id},
                                       when={"customer_id": None})
    return BillingCustomers(store).doc(account_id)


def _tax_rates(billing: Billing, customer: dict) -> list[str]:
    if customer.get("tax_treatment") != tax.TaxTreatment.standard:
        return []
    return [billing.tax_rate(customer["country"], tax.EU_VAT_RATES[customer["country"]])]


def set_details(store: DocumentStore, billing: Billing, clock: Clock, account_id: str, *,
                country: str, vat_number: str | None, home_country: str = "") -> dict:
    """Record where the customer is and its VAT number; Stripe's customer, and every live
    subscription's tax rates, follow."""
    decision = tax.decide(country, vat_number, home_country)
    customer = ensure_customer(store, billing, clock, account_id)
    billing.update_customer_tax(customer["customer_id"], country=country, vat_number=vat_number,
                                reverse_charge=decision.treatment == tax.TaxTreatment.reverse_charge)
    BillingCustomers(store).update(account_id, {
        "country": country, "vat_number": vat_number, "tax_treatment": decision.treatment.value,
        "vat_rate": str(decision.rate) if decision.rate is not None else None,
        "updated_at": clock.now()})
    customer = BillingCustomers(store).doc(account_id)
    rates = _tax_rates(billing, customer)
    for record in BillingSubscriptions(store).of_account(account_id):
        if record.get("subscription_id") and record.get("status") not in billing_state.ENDED:
            billing.set_tax_rates(record["subscription_id"], rates)
    return customer


# --- subscriptions ---------------------------------------------------------------------


class SubscribeAction(StrEnum):
    checkout = "checkout"  # no live subscription: pay through the Checkout link
    changed = "changed"  # the plan (or its extra agents) changed at once
    resumed = "resumed"  # a subscription set to end goes on
    unchanged = "unchanged"


@dataclass(frozen=True)
class SubscribeOutcome:
    action: SubscribeAction
    record: dict
    checkout: CheckoutLink | None = None


def _device(store: DocumentStore, account_id: str, device_id: str) -> dict:
    doc = Devices(store).doc(device_id)
    if doc is None or doc["account_id"] != account_id:
        raise NotFound(f"device {device_id} not found")
    return doc


def _record(store: DocumentStore, clock: Clock, device: dict) -> dict:
    record = BillingSubscriptions(store).doc(device["id"])
    if record is None:
        BillingSubscriptions(store).create_doc(device["id"],
                                               new_record(device["account_id"], device["id"], clock.now()))
        record = BillingSubscriptions(store).doc(device["id"])
    return record


def subscription_of(store: DocumentStore, clock: Clock, account_id: str, device_id: str) -> tuple[dict, dict]:
    device = _device(store, account_id, device_id)
    return device, _record(store, clock, device)


def subscribe(store: DocumentStore, billing: Billing, mailer: Mailer, tasks: TaskQueue,
              clock: Clock, account_id: str, device_id: str, *, plan_id: str, extra_agents: int,
              success_url: str, cancel_url: str) -> SubscribeOutcome:
    """Checkout for a device without a live subscription; otherwise change its plan at
    once, with Stripe's proration on the next invoice (upgrade and downgrade alike)."""
    device, record = subscription_of(store, clock, account_id, device_id)
    plan = get_plan(plan_id)
    if extra_agents and not plan.extra_agent_eur_cents:
        raise ValidationFailed(f"extra_agents: plan {plan_id} sells no extra agents; only "
                               "platform-enterprise does", code="extra_agents_not_sold",
                               details={"field": "extra_agents"})
    if record.get("subscription_id") and record.get("status") not in billing_state.ENDED:
        current = billing.retrieve_subscription(record["subscription_id"])
        billing_state.apply(store, mailer, clock, current, tasks=tasks, authoritative=True,
                            device_id=device_id)
        if current.status == "incomplete":
            raise Conflict(f"device {device_id}'s first payment is still being confirmed; try "
                           "again in a minute", code="subscription_incomplete")
        if current.live:
            if current.plan == plan_id and current.extra_agents == extra_agents:
                if not current.cancel_at_period_end:
                    return SubscribeOutcome(SubscribeAction.unchanged,
                                            BillingSubscriptions(store).doc(device_id))
                snap = billing.set_cancel_at_period_end(current.id, False)
                action = SubscribeAction.resumed
            else:
                snap = billing.change_plan(current, plan_id, extra_agents)
                action = SubscribeAction.changed
            billing_state.apply(store, mailer, clock, snap, tasks=tasks, authoritative=True,
                                device_id=device_id)
            return SubscribeOutcome(action, BillingSubscriptions(store).doc(device_id))
    customer = ensure_customer(store, billing, clock, account_id)
    if not customer.get("country"):
        raise Conflict("set the account's billing country (and VAT number, if any) with "
                       "PUT /v1/billing/details before subscribing: taxes depend on it",
                       code="billing_details_required")
    if record.get("checkout_session_id"):
        billing.expire_checkout(record["checkout_session_id"])  # one open checkout a device
    link = billing.create_checkout(CheckoutRequest(
        customer_id=customer["customer_id"], plan_id=plan_id, extra_agents=extra_agents,
        tax_rates=_tax_rates(billing, customer), success_url=success_url, cancel_url=cancel_url,
        metadata={"utio_device": device_id, "utio_account": account_id, "utio_plan": plan_id}))
    BillingSubscriptions(store).update(device_id, {"checkout_session_id": link.id,
                                                   "customer_id": customer["customer_id"],
                                                   "updated_at": clock.now()})
    return SubscribeOutcome(SubscribeAction.checkout, BillingSubscriptions(store).doc(device_id), link)


def cancel(store: DocumentStore, billing: Billing, mailer: Mailer, tasks: TaskQueue,
           clock: Clock, account_id: str, device_id: str) -> dict:
    """Cancel at the end of the paid period; the device sends until then."""
    _, record = subscription_of(store, clock, account_id, device_id)
    if not record.get("subscription_id") or record.get("status") in billing_state.ENDED:
        raise Conflict(f"device {device_id} has no paid subscription to cancel; a trial ends "
                       "by itself, or delete the device", code="no_subscription")
    snap = billing.set_cancel_at_period_end(record["subscription_id"], True)
    billing_state.apply(store, mailer, clock, snap, tasks=tasks, authoritative=True,
                        device_id=device_id)
    return BillingSubscriptions(store).doc(device_id)


def release_device(store: DocumentStore, billing: Billing, account_id: str, device_id: str) -> None:
    """Before a device is deleted: end its subscription now (unused time is credited on
    the account's next invoice) and any open checkout."""
    record = BillingSubscriptions(store).doc(device_id)
    if record is None or record.get("account_id") != account_id:
        return
    if record.get("subscription_id") and record.get("status") not in billing_state.ENDED:
        billing.cancel_now(record["subscription_id"])
    elif record.get("checkout_session_id"):
        billing.expire_checkout(record["checkout_session_id"])
    BillingSubscriptions(store).delete(device_id)
    billing_state.sync_extra_agents(store, account_id, device_id)


# --- invoices and the portal ---------------------------------------------------------


def invoices(store: DocumentStore, billing: Billing, account_id: str, *, limit: int,
             starting_after: str | None) -> tuple[list[InvoiceView], bool]:
    customer = BillingCustomers(store).doc(account_id)
    if not customer or not customer.get("customer_id"):
        return [], False
    return billing.list_invoices(customer["customer_id"], limit, starting_after)


def portal(store: DocumentStore, billing: Billing, clock: Clock, account_id: str,
           return_url: str) -> str:
    customer = ensure_customer(store, billing, clock, account_id)
    return billing.portal_url(customer["customer_id"], return_url)
