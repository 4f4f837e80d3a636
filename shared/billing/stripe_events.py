"""Stripe webhook events, applied once each (by event id) and in any order.

The signature is checked by the Billing port on the raw body before this runs. An
event is claimed in `stripe_events/{id}` first: a replay finds it done and changes
nothing; a delivery that arrives while another is being processed gets `busy` (the
function answers 409 and Stripe retries later); a claim left by a crashed instance is
taken over after CLAIM_TIMEOUT."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from shared.billing import state as billing_state
from shared.billing import stripe_shapes
from shared.billing.port import Billing, SubscriptionSnapshot
from shared.billing.state import StripeOutcome
from shared.clock import Clock
from shared.ports import DocumentStore, Mailer, TaskQueue
from shared.repositories.billing import BillingSubscriptions, StripeEvents
from shared.repositories.devices import Devices
from shared.services.owner_mail import mail_owner

log = logging.getLogger(__name__)

EVENTS = StripeEvents.name
CLAIM_TIMEOUT = timedelta(minutes=5)
KEEP = timedelta(days=35)  # longer than Stripe retries an event (3 days)
SUBSCRIPTION_EVENTS = ("customer.subscription.created", "customer.subscription.updated",
                       "customer.subscription.deleted")
HANDLED = (*SUBSCRIPTION_EVENTS, "checkout.session.completed", "invoice.paid",
           "invoice.payment_failed")


def handle(store: DocumentStore, billing: Billing, mailer: Mailer, clock: Clock,
           event: dict, *, tasks: TaskQueue | None = None) -> StripeOutcome:
    """Apply one verified event; returns the outcome (duplicate and busy included).
    `tasks` carries the runner's `refresh` when a device's plan or billing status
    changes; every event that can change one requires it."""
    event_id, kind = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not isinstance(kind, str):
        return StripeOutcome.ignored
    now = clock.now()
    claim = {"type": kind, "status": "processing", "claimed_at": now, "outcome": None,
             "expire_at": now + KEEP}  # a Firestore TTL policy on expire_at clears old ones
    if not StripeEvents(store).create_doc(event_id, claim):
        earlier = StripeEvents(store).doc(event_id)
        if earlier is None or earlier.get("status") == "done":
            return StripeOutcome.duplicate if earlier else StripeOutcome.busy
        if earlier["claimed_at"] > now - CLAIM_TIMEOUT:
            return StripeOutcome.busy
        if not StripeEvents(store).update(event_id, claim,
                                          when={"status": "processing", "claimed_at": earlier["claimed_at"]}):
            return StripeOutcome.busy
    try:
        outcome = _dispatch(store, billing, mailer, tasks, clock, kind, event)
    except Exception:
        StripeEvents(store).delete(event_id)  # let Stripe's retry process it again
        raise
    StripeEvents(store).update(event_id, {"status": "done", "outcome": outcome.value,
                                          "done_at": clock.now()})
    return outcome


def _dispatch(store, billing, mailer, tasks, clock, kind: str, event: dict) -> StripeOutcome:
    if kind in HANDLED and tasks is None:
        raise ValueError(f"a {kind} event may change a device: pass the task queue")
    obj = (event.get("data") or {}).get("object") or {}
    created = int(event.get("created") or 0)
    if kind in SUBSCRIPTION_EVENTS:
        try:
            snap = stripe_shapes.subscription(obj, as_of=created)
        except (KeyError, TypeError, ValueError):
            log.warning("event %s carries no readable subscription; ignored", event.get("id"))
            return StripeOutcome.malformed
        outcome = billing_state.apply(store, mailer, clock, snap, tasks=tasks, authoritative=False)
        if outcome == StripeOutcome.tie:
            outcome = _refresh(store, billing, mailer, tasks, clock, snap.id, snap.device_id)
        return outcome
    if kind == "checkout.session.completed":
        sub_id = stripe_shapes.object_id(obj.get("subscription"))
        if obj.get("mode") != "subscription" or not sub_id:
            return StripeOutcome.ignored
        device_id = (obj.get("metadata") or {}).get("utio_device") or obj.get("client_reference_id")
        return _refresh(store, billing, mailer, tasks, clock, sub_id, device_id)
    if kind in ("invoice.paid", "invoice.payment_failed"):
        sub_id, metadata = stripe_shapes.invoice_subscription(obj)
        if not sub_id:
            return StripeOutcome.ignored
        outcome = _refresh(store, billing, mailer, tasks, clock, sub_id,
                           metadata.get("utio_device"))
        if kind == "invoice.payment_failed":
            _payment_failed(store, mailer, obj, sub_id, metadata.get("utio_device"))
        return outcome
    return StripeOutcome.ignored


def _refresh(store, billing, mailer, tasks, clock, subscription_id: str,
             device_id: str | None) -> StripeOutcome:
    """Apply the subscription as Stripe reports it now."""
    snap: SubscriptionSnapshot = billing.retrieve_subscription(subscription_id)
    return billing_state.apply(store, mailer, clock, snap, tasks=tasks, authoritative=True,
                               device_id=device_id)


def _payment_failed(store, mailer, invoice: dict, sub_id: str, device_id: str | None) -> None:
    record = (BillingSubscriptions(store).doc(device_id) if device_id
              else billing_state.record_for(store, sub_id))
    if record is None:
        log.warning("payment failed for subscription %s of no known device", sub_id)
        return
    device = Devices(store).doc(record["device_id"]) or {}
    name = device.get("alias") or record["device_id"]
    currency = str(invoice.get("currency") or "eur").upper()
    amount = f"{int(invoice.get('amount_due') or 0) / 100:.2f} {currency}"
    retry = invoice.get("next_payment_attempt")
    when = (f"Stripe will try again on {datetime.fromtimestamp(retry, UTC):%Y-%m-%d %H:%M} UTC."
            if retry else "Stripe will not retry it: the device stops sending until it is paid.")
    link = invoice.get("hosted_invoice_url")
    body = (f"The payment of {amount} for your Utio device {name} ({record['device_id']}) failed.\n"
            f"{when}\n\n"
            + (f"Pay the invoice here: {link}\n" if link else "")
            + "Update your card through the billing portal (POST /v1/billing/portal).\n"
            "If the invoice stays unpaid after Stripe's retries, the device stops sending.\n")
    mail_owner(store, mailer, record["account_id"], f"Payment failed for Utio device {name}", body)
