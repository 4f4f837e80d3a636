"""The Billing port over Stripe's API with the official stripe SDK (StripeClient).

Every call that creates something carries an idempotency key derived from what it
creates, so a retry after a lost response creates nothing twice. The SDK retries
network errors, 409s and 5xx itself (`max_network_retries`, capped exponential backoff
with jitter, honouring Stripe's Stripe-Should-Retry header); we add no retry loop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from email.utils import parsedate_to_datetime

import stripe

from shared.billing import stripe_shapes
from shared.billing.port import (
    Billing,
    BillingUnavailable,
    CheckoutLink,
    CheckoutRequest,
    InvalidSignature,
    InvoiceView,
    PaymentRequired,
)
from shared.errors import BadRequest, UtioError
from shared.plans import stripe_agent_lookup_key, stripe_lookup_key
from shared.settings import Settings

log = logging.getLogger(__name__)

PRORATION = "create_prorations"


class BillingRejected(UtioError):
    status, code = 400, "billing_rejected"


def tax_rate_key(country: str, percentage: Decimal) -> str:
    return f"vat_{country}_{percentage}"


def _as_of(obj) -> int:
    """Stripe's own clock when it answered (the Date header), else ours."""
    response = getattr(obj, "last_response", None)
    date = response.headers.get("Date") if response is not None else None
    try:
        return int(parsedate_to_datetime(date).timestamp()) if date else int(time.time())
    except (TypeError, ValueError):
        return int(time.time())


@contextmanager
def calling_stripe(what: str) -> Iterator[None]:
    try:
        yield
    except stripe.CardError as exc:
        raise PaymentRequired(f"{what}: the card was declined: {exc.user_message or exc}",
                              code="card_declined", details={"request_id": exc.request_id}) from exc
    except stripe.InvalidRequestError as exc:
        raise BillingRejected(f"{what}: Stripe refused it: {exc.user_message or exc}",
                              details={"stripe_code": exc.code, "param": exc.param,
                                       "request_id": exc.request_id}) from exc
    except (stripe.AuthenticationError, stripe.PermissionError) as exc:
        log.error("Stripe rejected our API key while trying to %s: %s", what, exc)
        raise BillingUnavailable(f"{what}: billing is not configured correctly; "
                                 "the operator has been told") from exc
    except stripe.StripeError as exc:
        log.warning("Stripe failed to %s: %s (request %s)", what, exc,
                    getattr(exc, "request_id", None))
        raise BillingUnavailable(f"{what}: Stripe did not answer; try again shortly",
                                 details={"request_id": getattr(exc, "request_id", None)}) from exc


class StripeBilling(Billing):
    def __init__(self, secret_key: str, webhook_secret: str, *, api_base: str = "",
                 max_retries: int = 2, timeout: float = 30.0,
                 client: stripe.StripeClient | None = None):
        self._secret_key = secret_key
        self._webhook_secret = webhook_secret
        self._api_base = api_base
        self._max_retries = max_retries
        self._timeout = timeout
        self._client = client
        self._lock = threading.Lock()
        self._prices: dict[str, str] = {}
        self._tax_rates: dict[str, str] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> StripeBilling:
        return cls(settings.stripe_secret_key, settings.stripe_webhook_secret,
                   api_base=settings.stripe_api_base)

    @property
    def client(self) -> stripe.StripeClient:
        """Built on first use: a cold start that never bills pays nothing for it."""
        with self._lock:
            if self._client is None:
                if not self._secret_key:
                    raise BillingUnavailable("billing is not configured: set "
                                             "UTIO_STRIPE_SECRET_KEY", code="billing_not_configured")
                bases = {"api": self._api_base.rstrip("/")} if self._api_base else None
                self._client = stripe.StripeClient(
                    self._secret_key, base_addresses=bases, max_network_retries=self._max_retries,
                    http_client=stripe.RequestsClient(timeout=self._timeout))
            return self._client

    # --- catalogue lookups --------------------------------------------------------

    def price_id(self, lookup_key: str) -> str:
        if lookup_key in self._prices:
            return self._prices[lookup_key]
        with calling_stripe("look up a price"):
            found = self.client.v1.prices.list({"lookup_keys": [lookup_key], "active": True,
                                                "limit": 1})
        if not found.data:
            raise BillingUnavailable(f"no active Stripe price has lookup key {lookup_key}: the "
                                     "operator must run `python -m shared.billing.catalog_sync`",
                                     code="billing_not_configured")
        self._prices[lookup_key] = found.data[0].id
        return found.data[0].id

    def tax_rate(self, country: str, percentage: Decimal) -> str:
        key = tax_rate_key(country, percentage)
        if key not in self._tax_rates:
            for rate in self.list_tax_rates():
                self._tax_rates.setdefault((rate.get("metadata") or {}).get("utio_key", ""), rate["id"])
        if key not in self._tax_rates:
            with calling_stripe("create a tax rate"):
                rate = self.client.v1.tax_rates.create(
                    tax_rate_params(country, percentage), {"idempotency_key": f"utio-{key}"})
            self._tax_rates[key] = rate.id
        return self._tax_rates[key]

    def list_tax_rates(self) -> list[dict]:
        with calling_stripe("list tax rates"):
            page = self.client.v1.tax_rates.list({"active": True, "limit": 100})
            return [rate.to_dict() for rate in page.auto_paging_iter()]

    # --- customers ----------------------------------------------------------------

    def create_customer(self, account_id, email, name):
        params = {"name": name, "metadata": {"utio_account": account_id}}
        if email:
            params["email"] = email
        with calling_stripe("create the Stripe customer"):
            customer = self.client.v1.customers.create(
                params, {"idempotency_key": f"utio-customer-{account_id}"})
        return customer.id

    def update_customer_tax(self, customer_id, *, country, vat_number, reverse_charge):
        customers = self.client.v1.customers
        with calling_stripe("update the customer's tax details"):
            customers.update(customer_id, {"address": {"country": country},
                                           "tax_exempt": "reverse" if reverse_charge else "none"})
            existing = customers.tax_ids.list(customer_id, {"limit": 100}).data
            for tax_id in existing:
                if tax_id.type == "eu_vat" and tax_id.value != vat_number:
                    customers.tax_ids.delete(customer_id, tax_id.id)
            if vat_number and not any(t.type == "eu_vat" and t.value == vat_number
                                      for t in existing):
                customers.tax_ids.create(customer_id, {"type": "eu_vat", "value": vat_number})

    def portal_url(self, customer_id, return_url):
        with calling_stripe("open the billing portal"):
            session = self.client.v1.billing_portal.sessions.create(
                {"customer": customer_id, "return_url": return_url})
        return session.url

    # --- checkout and subscriptions -------------------------------------------------

    def _line_items(self, plan_id: str, extra_agents: int) -> list[dict]:
        items = [{"price": self.price_id(stripe_lookup_key(plan_id)), "quantity": 1}]
        if extra_agents:
            items.append({"price": self.price_id(stripe_agent_lookup_key(plan_id)),
                          "quantity": extra_agents})
        return items

    def create_checkout(self, request: CheckoutRequest) -> CheckoutLink:
        subscription_data: dict = {"metadata": request.metadata}
        if request.tax_rates:
            subscription_data["default_tax_rates"] = request.tax_rates
        params = {
            "mode": "subscription", "customer": request.customer_id,
            "line_items": self._line_items(request.plan_id, request.extra_agents),
            "success_url": request.success_url, "cancel_url": request.cancel_url,
            "client_reference_id": request.metadata.get("utio_device"),
            "metadata": request.metadata, "subscription_data": subscription_data,
        }
        with calling_stripe("start Stripe Checkout"):
            session = self.client.v1.checkout.sessions.create(params)
        return CheckoutLink(id=session.id, url=session.url)

    def expire_checkout(self, session_id):
        try:
            with calling_stripe("expire a Checkout session"):
                self.client.v1.checkout.sessions.expire(session_id)
        except BillingRejected:
            pass  # completed or expired already

    def retrieve_subscription(self, subscription_id):
        with calling_stripe("read the subscription"):
            sub = self.client.v1.subscriptions.retrieve(subscription_id)
        return stripe_shapes.subscription(sub.to_dict(), _as_of(sub))

    def change_plan(self, current, plan_id, extra_agents):
        items: list[dict] = [{"id": current.plan_item,
                              "price": self.price_id(stripe_lookup_key(plan_id)), "quantity": 1}]
        if extra_agents and current.agent_item:
            items.append({"id": current.agent_item, "quantity": extra_agents})
        elif extra_agents:
            items.append({"price": self.price_id(stripe_agent_lookup_key(plan_id)),
                          "quantity": extra_agents})
        elif current.agent_item:
            items.append({"id": current.agent_item, "deleted": True})
        params = {"items": items, "proration_behavior": PRORATION, "cancel_at_period_end": False,
                  "metadata": {"utio_plan": plan_id}}
        with calling_stripe("change the plan"):
            sub = self.client.v1.subscriptions.update(current.id, params)
        return stripe_shapes.subscription(sub.to_dict(), _as_of(sub))

    def set_cancel_at_period_end(self, subscription_id, cancel):
        with calling_stripe("cancel the subscription" if cancel else "resume the subscription"):
            sub = self.client.v1.subscriptions.update(subscription_id,
                                                      {"cancel_at_period_end": cancel})
        return stripe_shapes.subscription(sub.to_dict(), _as_of(sub))

    def cancel_now(self, subscription_id):
        with calling_stripe("cancel the subscription"):
            self.client.v1.subscriptions.cancel(subscription_id, {"prorate": True})

    def set_tax_rates(self, subscription_id, tax_rates):
        with calling_stripe("update the subscription's tax rates"):
            self.client.v1.subscriptions.update(subscription_id,
                                                {"default_tax_rates": tax_rates or ""})

    def list_invoices(self, customer_id, limit, starting_after):
        params: dict = {"customer": customer_id, "limit": limit}
        if starting_after:
            params["starting_after"] = starting_after
        with calling_stripe("list invoices"):
            page = self.client.v1.invoices.list(params)
        views: list[InvoiceView] = [stripe_shapes.invoice(inv.to_dict()) for inv in page.data]
        return views, bool(page.has_more)

    # --- webhooks -------------------------------------------------------------------

    def parse_event(self, payload, signature):
        if not self._webhook_secret:
            raise BillingUnavailable("Stripe webhooks are not configured: set "
                                     "UTIO_STRIPE_WEBHOOK_SECRET", code="billing_not_configured")
        try:
            event = stripe.Webhook.construct_event(payload, signature, self._webhook_secret)
        except stripe.SignatureVerificationError as exc:
            raise InvalidSignature(str(exc).split(". ")[0]) from exc
        except ValueError as exc:  # not UTF-8, or signed but not a JSON event
            raise BadRequest(f"the body is not a Stripe event: {exc}", code="invalid_event") from exc
        return event.to_dict()


def tax_rate_params(country: str, percentage: Decimal) -> dict:
    return {"display_name": "VAT", "description": f"VAT {country} standard rate",
            "percentage": str(percentage), "inclusive": False, "country": country,
            "jurisdiction": country, "tax_type": "vat",
            "metadata": {"utio_key": tax_rate_key(country, percentage)}}
