from __future__ import annotations

from dataclasses import asdict
from urllib.parse import urlencode

from functions.api.billing_schemas import (
    BillingDetailsIn,
    BillingDetailsOut,
    BillingReturn,
    InvoiceList,
    InvoiceQuery,
    PlanList,
    PlanOut,
    PortalLink,
    Subscribe,
    SubscribeResult,
    SubscriptionOut,
    stamp,
)
from functions.api.registry import Principal, api
from shared.billing import subscriptions, trials
from shared.domain import Device
from shared.plans import PLANS


def _subscription(device: dict, record: dict) -> SubscriptionOut:
    return SubscriptionOut(
        device_id=device["id"], plan=device["plan"], billing_status=device["billing_status"],
        trial_ends_at=trials.trial_ends_at(Device.model_validate(device)),
        subscription_id=record.get("subscription_id"), status=record.get("status"),
        extra_agents=record.get("extra_agents") or 0,
        cancel_at_period_end=bool(record.get("cancel_at_period_end")),
        current_period_end=stamp(record.get("current_period_end")))


def _return_url(p: Principal, **query: str) -> str:
    params = urlencode(query)
    return f"{p.c.settings.public_url.rstrip('/')}/v1/billing/return" + (f"?{params}" if params else "")


@api.route("GET", "/v1/plans", response=PlanList, summary="List plans and prices",
           tag="billing", auth=None)
def list_plans(p: Principal):
    """The plans a device can be on, with their monthly price (EUR cents, VAT excluded), messages
    a month, media size limits by type, number checks a month, the highest delivery speed
    and agents included. No API key needed. Every new device starts on a free trial of
    `trial_days` days; `POST /v1/devices/{device_id}/subscription` subscribes it."""
    plans = [PlanOut.model_validate(plan.model_dump()) for plan in PLANS.values()]
    return PlanList(trial_days=trials.TRIAL_PERIOD.days, data=plans)


@api.route("GET", "/v1/billing/details", response=BillingDetailsOut, tag="billing",
           summary="The account's billing country, VAT number and tax treatment")
def get_details(p: Principal):
    """The account's billing country, EU VAT number and the tax treatment they lead to:
    `standard` (VAT charged), `reverse_charge` (an EU business with a valid VAT number
    outside the seller's country) or `none` (outside the EU). Empty until set with
    `PUT /v1/billing/details`.

    Errors: 401 without a valid API key."""
    doc = subscriptions.get_details(p.c.store, p.account_id) or {}
    return BillingDetailsOut.model_validate({k: doc.get(k) for k in BillingDetailsOut.model_fields})


@api.route("PUT", "/v1/billing/details", body=BillingDetailsIn, response=BillingDetailsOut,
           tag="billing", errors=(503,),
           summary="Set the billing country and EU VAT number (taxes follow at once)")
def put_details(p: Principal, body: BillingDetailsIn):
    """Sets the country (ISO 3166-1 alpha-2) and, for EU businesses, the VAT number. Stripe
    checks the number; taxes on the next invoices follow at once. Set this before the first
    subscription: checkout needs a billing country.

    Errors: 422 `invalid_vat_number` when the number does not fit the country's format, or
    the country is unknown; 503 `billing_not_configured` on an installation without Stripe,
    or when Stripe cannot be reached (retry later)."""
    doc = subscriptions.set_details(p.c.store, p.c.billing, p.c.clock, p.account_id,
                              country=body.country, vat_number=body.vat_number,
                              home_country=p.c.settings.vat_home_country)
    return BillingDetailsOut.model_validate({k: doc.get(k) for k in BillingDetailsOut.model_fields})


@api.route("GET", "/v1/devices/{device_id}/subscription", response=SubscriptionOut,
           tag="billing", errors=(404,), summary="A device's plan, trial and subscription")
def get_subscription(p: Principal, device_id: str):
    """A device's plan, its `billing_status` (`trialing`, `active`, `past_due`, `canceled`…),
    when its trial ends and its Stripe subscription, if any. A device whose trial ended
    without a subscription cannot send (`POST /v1/messages` answers 402).

    Errors: 404 when the device is not in this account."""
    device, record = subscriptions.subscription_of(p.c.store, p.c.clock, p.account_id, device_id)
    return _subscription(device, record)


@api.route("POST", "/v1/devices/{device_id}/subscription", body=Subscribe,
           response=SubscribeResult, tag="billing", errors=(404, 409, 503),
           summary="Subscribe a device (Stripe Checkout) or change its plan at once, prorated")
def subscribe(p: Principal, device_id: str, body: Subscribe):
    """The first call for a device answers `action: checkout` with a Stripe Checkout
    `checkout_url`: open it in a browser to pay; the subscription is active once Stripe
    confirms (seconds). Later calls change the plan at once (`action: changed`), with
    Stripe's proration. `extra_agents` buys agents beyond the plan's (Platform Enterprise).

    Errors: 404 when the device is not in this account; 409 when the billing country is not
    set yet, or the first payment is still being confirmed; 422 for an unknown plan or extra
    agents on a plan that sells none; 503 `billing_not_configured` without Stripe, or when
    Stripe cannot be reached."""
    outcome = subscriptions.subscribe(
        p.c.store, p.c.billing, p.c.mailer, p.c.tasks, p.c.clock, p.account_id, device_id,
        plan_id=body.plan.value, extra_agents=body.extra_agents,
        success_url=body.success_url or _return_url(p, checkout="success", device=device_id),
        cancel_url=body.cancel_url or _return_url(p, checkout="cancel", device=device_id))
    device, record = subscriptions.subscription_of(p.c.store, p.c.clock, p.account_id, device_id)
    link = outcome.checkout
    return SubscribeResult(action=outcome.action.value, checkout_url=link.url if link else None,
                           checkout_session_id=link.id if link else None,
                           subscription=_subscription(device, record))


@api.route("DELETE", "/v1/devices/{device_id}/subscription", response=SubscriptionOut,
           tag="billing", errors=(404, 409, 503),
           summary="Cancel a device's subscription at the end of the paid period")
def cancel_subscription(p: Principal, device_id: str):
    """Cancels at the end of the period already paid: the device keeps working until
    `current_period_end`, then stops sending. Subscribing again before then undoes it.

    Errors: 404 when the device is not in this account; 409 when it has no paid
    subscription (a trial simply ends); 503 `billing_not_configured` without Stripe, or when
    Stripe cannot be reached."""
    subscriptions.cancel(p.c.store, p.c.billing, p.c.mailer, p.c.tasks, p.c.clock, p.account_id,
                   device_id)
    device, record = subscriptions.subscription_of(p.c.store, p.c.clock, p.account_id, device_id)
    return _subscription(device, record)


@api.route("GET", "/v1/billing/invoices", query=InvoiceQuery, response=InvoiceList,
           tag="billing", errors=(503,), summary="List the account's invoices, newest first")
def list_invoices(p: Principal, query: InvoiceQuery):
    """The account's Stripe invoices, newest first, with totals in cents, tax, and links to the
    hosted invoice and its PDF. Page with `starting_after` (the last invoice id of a page)
    while `has_more` is true.

    Errors: 422 for a bad `limit`; 503 `billing_not_configured` without Stripe, or when
    Stripe cannot be reached."""
    found, more = subscriptions.invoices(p.c.store, p.c.billing, p.account_id, limit=query.limit,
                                   starting_after=query.starting_after)
    return InvoiceList.model_validate({"has_more": more, "data": [
        asdict(inv) | {"created": stamp(inv.created), "period_start": stamp(inv.period_start),
                        "period_end": stamp(inv.period_end)} for inv in found]})


@api.route("POST", "/v1/billing/portal", response=PortalLink, tag="billing", errors=(503,),
           summary="A link to Stripe's customer portal (cards, invoices)")
def portal(p: Principal):
    """A short-lived link to Stripe's customer portal, where the account's owner changes the
    card, the billing email and downloads invoices. Open it in a browser; it returns to
    `/v1/billing/return`.

    Errors: 503 `billing_not_configured` without Stripe, or when Stripe cannot be reached."""
    return PortalLink(url=subscriptions.portal(p.c.store, p.c.billing, p.c.clock, p.account_id,
                                         _return_url(p)))


@api.route("GET", "/v1/billing/return", response=BillingReturn, tag="billing", auth=None,
           summary="Where Stripe Checkout and the portal send the browser back")
def billing_return(p: Principal):
    """The page Stripe Checkout and the customer portal send the browser back to. It only says
    the change was taken; the subscription itself is updated by Stripe's webhook within
    seconds: read it with `GET /v1/devices/{device_id}/subscription`. No API key needed."""
    return BillingReturn(message="Done. You can close this page; the device's subscription "
                         "updates within a few seconds (GET /v1/devices/{id}/subscription).")
