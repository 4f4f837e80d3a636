"""Free trials. A new device starts on a trial of its chosen plan (TRIAL_PERIOD from its
creation). The account's trial window opens with its first device: for 24 hours it may
delete a trial device and create it again with another plan, up to 3 trial devices,
one at a time. Once the window has closed, a new device starts unpaid and sends only
after it is subscribed (POST /v1/devices/{id}/subscription).

Sandbox devices (a simulated network that reaches nobody) are not billed: no trial
rules, no subscription needed."""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.domain import BillingStatus, Device, Transport
from shared.errors import Conflict
from shared.ports import DocumentStore
from shared.repositories.billing import BillingTrials
from shared.repositories.devices import Devices

TRIAL_PERIOD = timedelta(days=7)
SWAP_WINDOW = timedelta(hours=24)
MAX_TRIAL_DEVICES = 3
TRIALS = BillingTrials.name


def billed(device: Device) -> bool:
    return device.transport != Transport.sandbox


def trial_ends_at(device: Device) -> datetime | None:
    if device.billing_status != BillingStatus.trialing or not billed(device):
        return None
    return device.created_at + TRIAL_PERIOD


def admit(store: DocumentStore, device: Device) -> None:
    """Set the billing status a new device starts with, before it is stored; Conflict
    when the trial rules refuse it. Called by shared.services.devices.create_device."""
    if not billed(device):
        return
    now = device.created_at
    for _ in range(10):  # optimistic concurrency on the account's trial record
        record = BillingTrials(store).doc(device.account_id)
        if record is None:
            if BillingTrials(store).create_doc(device.account_id, {
                    "account_id": device.account_id, "started_at": now, "count": 1,
                    "devices": [device.id]}):
                device.billing_status = BillingStatus.trialing
                return
            continue
        if now >= record["started_at"] + SWAP_WINDOW:
            device.billing_status = BillingStatus.unpaid
            return
        open_trial = _open_trial_device(store, record["devices"])
        if open_trial:
            raise Conflict(
                f"device {open_trial} is on trial: an account has one trial device at a time. "
                f"Delete it to try another plan, or subscribe it first with "
                f"POST /v1/devices/{open_trial}/subscription", code="trial_device_exists",
                details={"device": open_trial})
        if record["count"] >= MAX_TRIAL_DEVICES:
            raise Conflict(
                f"this account has created {MAX_TRIAL_DEVICES} trial devices since "
                f"{record['started_at'].isoformat()}, the most its trial allows; a device "
                f"created after {(record['started_at'] + SWAP_WINDOW).isoformat()} starts "
                "without a trial and sends once subscribed (POST /v1/devices/{id}/subscription)",
                code="trial_limit_reached", details={"limit": MAX_TRIAL_DEVICES})
        if BillingTrials(store).update(device.account_id,
                                       {"count": record["count"] + 1,
                                        "devices": [*record["devices"], device.id]},
                                       when={"count": record["count"]}):
            device.billing_status = BillingStatus.trialing
            return
    raise Conflict("another device is being created for this account; try again",
                   code="busy")


def _open_trial_device(store: DocumentStore, device_ids: list[str]) -> str | None:
    for device_id in device_ids:
        doc = Devices(store).doc(device_id)
        if doc is not None and doc.get("billing_status") == BillingStatus.trialing.value:
            return device_id
    return None
