"""A device's subscription record (collection billing_subscriptions, keyed by device id)
and how Stripe's view of a subscription is applied to it and to the device.

Ordering: Stripe sends events out of order. Each record keeps `state_ts`, Stripe's time
of the state it holds (an event's `created`, or the Date of a response we read). A
state older than the record's is dropped; an event of the same second is ambiguous,
so the caller reads the subscription afresh (`tie`). A subscription that has ended
never comes back; a newer subscription of the same device replaces an ended one."""

from __future__ import annotations

import logging
from enum import StrEnum

from shared import names
from shared.billing.port import ENDED, SubscriptionSnapshot
from shared.clock import Clock
from shared.domain import BillingStatus
from shared.ports import DocumentStore, Mailer, TaskQueue
from shared.repositories.accounts import Accounts
from shared.repositories.billing import BillingSubscriptions
from shared.repositories.devices import Devices
from shared.services.owner_mail import mail_owner

log = logging.getLogger(__name__)

SUBSCRIPTIONS = BillingSubscriptions.name


class StripeOutcome(StrEnum):
    """What applying a Stripe event (or a subscription's state) did."""

    applied = "applied"
    older = "older"  # a state older than the one recorded
    tie = "tie"  # as old as the recorded one: read it afresh and apply that
    ended = "ended"  # the recorded subscription has ended
    old_subscription = "old_subscription"  # the device has moved to a newer one
    unknown_subscription = "unknown_subscription"
    device_gone = "device_gone"
    malformed = "malformed"  # an event without a readable subscription
    ignored = "ignored"  # an event Utio does not act on
    duplicate = "duplicate"  # applied before
    busy = "busy"  # another delivery of the event is being applied
STOPPED = (BillingStatus.unpaid, BillingStatus.canceled)

# Stripe's statuses as the device sees them. A Stripe-side trial is paid for by Stripe's
# terms, so it counts as active (BillingStatus.trialing is Utio's own free trial). An
# incomplete subscription leaves the device as it was until Stripe settles it.
STATUS = {"active": BillingStatus.active, "trialing": BillingStatus.active,
          "past_due": BillingStatus.past_due, "unpaid": BillingStatus.unpaid,
          "paused": BillingStatus.unpaid, "canceled": BillingStatus.canceled}


def new_record(account_id: str, device_id: str, now) -> dict:
    return {"account_id": account_id, "device_id": device_id, "subscription_id": None,
            "customer_id": None, "status": None, "plan": None, "extra_agents": 0,
            "cancel_at_period_end": False, "current_period_end": None,
            "subscription_created": 0, "state_ts": 0, "checkout_session_id": None,
            "updated_at": now}


def record_for(store: DocumentStore, subscription_id: str) -> dict | None:
    return BillingSubscriptions(store).by_subscription(subscription_id)


def _verdict(record: dict, snap: SubscriptionSnapshot,
             authoritative: bool) -> StripeOutcome | None:
    """None: apply it."""
    if record["subscription_id"] != snap.id:
        if record["subscription_id"] is None:
            return None
        if snap.created > record["subscription_created"] and record["status"] not in ENDED:
            log.warning("device %s has a newer subscription %s while %s is %s; following the "
                        "newer one", record["device_id"], snap.id, record["subscription_id"],
                        record["status"])
        if snap.created > record["subscription_created"] or (
                record["status"] in ENDED and snap.created == record["subscription_created"]):
            return None
        return StripeOutcome.old_subscription
    if record["status"] in ENDED:
        return StripeOutcome.ended
    if snap.as_of > record["state_ts"] or (authoritative and snap.as_of == record["state_ts"]):
        return None
    return StripeOutcome.tie if snap.as_of == record["state_ts"] else StripeOutcome.older


def apply(store: DocumentStore, mailer: Mailer, clock: Clock, snap: SubscriptionSnapshot, *,
          tasks: TaskQueue, authoritative: bool, device_id: str | None = None) -> StripeOutcome:
    """Apply Stripe's state of a subscription; returns what happened (a tie: read it
    afresh and apply that authoritatively)."""
    device_id = device_id or snap.device_id
    if device_id is None:
        found = record_for(store, snap.id)
        if found is None:
            log.warning("subscription %s belongs to no device; ignored", snap.id)
            return StripeOutcome.unknown_subscription
        device_id = found["device_id"]
    for _ in range(10):
        device = Devices(store).doc(device_id)
        if device is None:
            return StripeOutcome.device_gone
        record = BillingSubscriptions(store).doc(device_id)
        if record is None:
            BillingSubscriptions(store).create_doc(device_id,
                                                   new_record(device["account_id"], device_id, clock.now()))
            continue
        verdict = _verdict(record, snap, authoritative)
        if verdict is not None:
            return verdict
        changes = {"subscription_id": snap.id, "customer_id": snap.customer,
                   "status": snap.status, "plan": snap.plan or record["plan"],
                   "extra_agents": snap.extra_agents,
                   "cancel_at_period_end": snap.cancel_at_period_end,
                   "current_period_end": snap.current_period_end,
                   "subscription_created": snap.created, "state_ts": snap.as_of,
                   "updated_at": clock.now()}
        if BillingSubscriptions(store).update(device_id, changes,
                                              when={"state_ts": record["state_ts"],
                                                    "subscription_id": record["subscription_id"]}):
            _follow(store, mailer, tasks, clock, device, snap)
            sync_extra_agents(store, device["account_id"], device_id)
            return StripeOutcome.applied
    raise RuntimeError(f"could not apply subscription {snap.id}: the record kept changing")


# Stripe statuses in which the extra agents bought on a subscription count as seats.
SEAT_STATUSES = ("active", "trialing", "past_due")


def sync_extra_agents(store: DocumentStore, account_id: str, device_id: str) -> None:
    """Copy the device's paid extra-agent quantity onto the account, where the agent
    cap reads it (`extra_agent_seats`: device id -> quantity). It is taken from the
    subscription record as it stands now, not from the event being applied, so a late
    or replayed event cannot put an older quantity back; the account is written with
    compare-and-set on `extra_agent_seats_version`, so two devices' updates never lose
    each other. No record (device released), or a subscription that is not live and
    paying, counts 0."""
    for _ in range(20):
        record = BillingSubscriptions(store).doc(device_id)
        quantity = 0
        if record is not None and record.get("status") in SEAT_STATUSES:
            quantity = int(record.get("extra_agents") or 0)
        account = Accounts(store).doc(account_id)
        if account is None:
            return
        current = account.get("extra_agent_seats")
        current = dict(current) if isinstance(current, dict) else {}
        if current.get(device_id, 0) == quantity and (quantity or device_id not in current):
            return
        if quantity:
            current[device_id] = quantity
        else:
            current.pop(device_id, None)
        version = account.get("extra_agent_seats_version")
        if Accounts(store).update(account_id,
                                  {"extra_agent_seats": current,
                                   "extra_agent_seats_version": (version or 0) + 1},
                                  when={"extra_agent_seats_version": version}):
            return
    raise RuntimeError(f"could not record extra agents of device {device_id}: the account "
                       "kept changing")


def _follow(store: DocumentStore, mailer: Mailer, tasks: TaskQueue, clock: Clock, device: dict,
            snap: SubscriptionSnapshot) -> None:
    """The device's plan (and so its limits) and billing status follow the subscription;
    when either changed, the runner is told to `refresh` the running session, which
    re-reads the plan (its delivery speed cap)."""
    status = STATUS.get(snap.status)
    if status is None:
        return
    before = BillingStatus(device.get("billing_status", BillingStatus.trialing))
    changes: dict = {"billing_status": status.value, "updated_at": clock.now()}
    if snap.plan and status not in STOPPED:
        changes["plan"] = snap.plan
    Devices(store).update(device["id"], changes)
    if changes.get("plan", device.get("plan")) != device.get("plan") or status != before:
        refresh_runner(tasks, device["id"])
    if status in STOPPED and before not in STOPPED:
        name = device.get("alias") or device["id"]
        why = ("its subscription was canceled" if status == BillingStatus.canceled
               else "its invoice stayed unpaid after every retry")
        mail_owner(store, mailer, device["account_id"],
                   f"Utio device {name} has stopped sending",
                   f"Your device {name} ({device['id']}) no longer sends messages: {why}.\n\n"
                   f"To send again, subscribe it with POST /v1/devices/{device['id']}/"
                   "subscription, or pay the open invoice and update your card through the "
                   "billing portal (POST /v1/billing/portal).\n")


def refresh_runner(tasks: TaskQueue, device_id: str) -> None:
    """Ask the device runner to re-read the device (plan, settings) into its session."""
    tasks.enqueue(names.RUNNER_CONTROL_QUEUE, names.TARGET_RUNNER_DEVICES,
                  {"device_id": device_id, "action": "refresh"})

