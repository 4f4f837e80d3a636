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
    plans = [PlanOut.model_validate(plan.model_dump()) for plan in PLANS.values()]
    return PlanList(trial_days=trials.TRIAL_PERIOD.days, data=plans)


@api.route("GET", "/v1/billing/details", response=BillingDetailsOut, tag="billing",
           summary="The account's billing country, VAT number and tax treatment")
def get_details(p: Principal):
    doc = subscriptions.get_details(p.c.store, p.account_id) or {}
    return BillingDetailsOut.model_validate({k: doc.get(k) for k in BillingDetailsOut.model_fields})


@api.route("PUT", "/v1/billing/details", body=BillingDetailsIn, response=BillingDetailsOut,
           tag="billing", errors=(503,),
           summary="Set the billing country and EU VAT number (taxes follow at once)")
def put_details(p: Principal, body: BillingDetailsIn):
    doc = subscriptions.set_details(p.c.store, p.c.billing, p.c.clock, p.account_id,
                              country=body.country, vat_number=body.vat_number,
                              home_country=p.c.settings.vat_home_country)
    return BillingDetailsOut.model_validate({k: doc.get(k) for k in BillingDetailsOut.model_fields})


@api.route("GET", "/v1/devices/{device_id}/subscription", response=SubscriptionOut,
           tag="billing", errors=(404,), summary="A device's plan, trial and subscription")
def get_subscription(p: Principal, device_id: str):
    device, record = subscriptions.subscription_of(p.c.store, p.c.clock, p.account_id, device_id)
    return _subscription(device, record)


@api.route("POST", "/v1/devices/{device_id}/subscription", body=Subscribe,
           response=SubscribeResult, tag="billing", errors=(404, 409, 503),
           summary="Subscribe a device (Stripe Checkout) or change its plan at once, prorated")
def subscribe(p: Principal, device_id: str, body: Subscribe):
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
    subscriptions.cancel(p.c.store, p.c.billing, p.c.mailer, p.c.tasks, p.c.clock, p.account_id,
                   device_id)
    device, record = subscriptions.subscription_of(p.c.store, p.c.clock, p.account_id, device_id)
    return _subscription(device, record)


@api.route("GET", "/v1/billing/invoices", query=InvoiceQuery, response=InvoiceList,
           tag="billing", errors=(503,), summary="List the account's invoices, newest first")
def list_invoices(p: Principal, query: InvoiceQuery):
    found, more = subscriptions.invoices(p.c.store, p.c.billing, p.account_id, limit=query.limit,
                                   starting_after=query.starting_after)
    return InvoiceList.model_validate({"has_more": more, "data": [
        asdict(inv) | {"created": stamp(inv.created), "period_start": stamp(inv.period_start),
                        "period_end": stamp(inv.period_end)} for inv in found]})


@api.route("POST", "/v1/billing/portal", response=PortalLink, tag="billing", errors=(503,),
           summary="A link to Stripe's customer portal (cards, invoices)")
def portal(p: Principal):
    return PortalLink(url=subscriptions.portal(p.c.store, p.c.billing, p.c.clock, p.account_id,
                                         _return_url(p)))


@api.route("GET", "/v1/billing/return", response=BillingReturn, tag="billing", auth=None,
           summary="Where Stripe Checkout and the portal send the browser back")
def billing_return(p: Principal):
    return BillingReturn(message="Done. You can close this page; the device's subscription "
                         "updates within a few seconds (GET /v1/devices/{id}/subscription).")
