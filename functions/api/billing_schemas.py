"""Request and response models of the billing API (plans, subscriptions, tax details,
invoices, portal)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

import phonenumbers
from pydantic import ConfigDict, Field, field_validator, model_validator

from shared.billing import tax
from shared.domain import BillingStatus
from shared.errors import ValidationFailed
from shared.model import Model
from shared.plans import MediaLimits, PlanFamily, PlanId

_URL = r"^https?://\S+$"


class Input(Model):
    model_config = ConfigDict(extra="forbid")


def stamp(seconds: int | None) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if seconds else None


class PlanOut(Model):
    id: str
    family: PlanFamily
    name: str
    price_eur_cents: int = Field(description="Per 30 days, excluding taxes.")
    billing_interval_days: int = 30
    messages_per_month: int
    media: MediaLimits = Field(description="Largest media file per type, in bytes.")
    number_checks_per_month: int
    agents_included: int
    extra_agent_eur_cents: int | None = Field(description="Price of each agent beyond "
                                              "agents_included, per 30 days; null: not sold.")
    max_delivery_speed: int = Field(description="Messages per minute a device may send at most.")
    webhooks: bool
    chatbots: bool


class PlanList(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{"trial_days": 7, "data": [{
        "id": "messaging-professional", "family": "messaging", "name": "Professional",
        "price_eur_cents": 2900, "billing_interval_days": 30, "messages_per_month": 10000,
        "media": {"image": 2097152, "audio": 8388608, "video": 12582912, "document": 12582912},
        "number_checks_per_month": 1000, "agents_included": 0, "extra_agent_eur_cents": None,
        "max_delivery_speed": 20, "webhooks": True, "chatbots": False}]}]})
    trial_days: int
    data: list[PlanOut]


class BillingDetailsIn(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"country": "DE", "vat_number": "DE123456789"}, {"country": "ES"}, {"country": "US"}]})
    country: str = Field(min_length=2, max_length=2,
                         json_schema_extra={"enum": sorted(phonenumbers.SUPPORTED_REGIONS)},
                         description="ISO 3166-1 alpha-2 country of the billing address.")
    vat_number: str | None = Field(
        default=None, max_length=32, description="EU VAT number (with or without its country "
        "prefix): the reverse charge applies. Without one, EU customers pay their country's "
        "standard VAT rate; customers outside the EU pay no VAT.")

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        value = value.upper()
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
        return value

    @model_validator(mode="after")
    def _vat(self) -> BillingDetailsIn:
        if self.vat_number is not None and self.vat_number.strip():
            try:
                self.vat_number = tax.normalise_vat_number(self.country, self.vat_number)
            except ValueError as exc:  # named after its field, not the whole body
                raise ValidationFailed(f"body: vat_number: {exc}", code="invalid_vat_number",
                                       details=[{"field": "vat_number", "message": str(exc),
                                                 "type": "vat_number"}]) from exc
        else:
            self.vat_number = None
        return self


class BillingDetailsOut(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "country": "DE", "vat_number": "DE123456789", "tax_treatment": "reverse_charge",
        "vat_rate": None, "updated_at": "2026-11-24T10:00:00Z"}]})
    country: str | None
    vat_number: str | None
    tax_treatment: tax.TaxTreatment | None = Field(
        description="none (outside the EU), reverse_charge (EU VAT number) or standard.")
    vat_rate: str | None = Field(description="Percent charged on top of prices, for standard.")
    updated_at: datetime | None = None


class Subscribe(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"plan": "messaging-business"},
        {"plan": "platform-enterprise", "extra_agents": 5,
         "success_url": "https://app.acme.example/billing/done"}]})
    plan: PlanId
    extra_agents: int = Field(default=0, ge=0, le=1000, description="Agents beyond the plan's "
                              "included ones (platform-enterprise only).")
    success_url: str | None = Field(default=None, max_length=2000, pattern=_URL,
                                    description="Where Checkout returns after paying.")
    cancel_url: str | None = Field(default=None, max_length=2000, pattern=_URL,
                                   description="Where Checkout returns when abandoned.")


class SubscriptionOut(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "device_id": "dev_5e6f7a8b9c0d1a2b3c4d", "plan": "messaging-business",
        "billing_status": "active", "trial_ends_at": None,
        "subscription_id": "sub_1Q2w3E4r5T6y", "status": "active", "extra_agents": 0,
        "cancel_at_period_end": False, "current_period_end": "2026-12-24T10:00:00Z"}]})
    device_id: str
    plan: str
    billing_status: BillingStatus
    trial_ends_at: datetime | None
    subscription_id: str | None
    status: str | None = Field(description="Stripe's status of the subscription.")
    extra_agents: int
    cancel_at_period_end: bool
    current_period_end: datetime | None


class SubscribeResult(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "action": "checkout", "checkout_url": "https://checkout.stripe.com/c/pay/cs_test_a1",
        "checkout_session_id": "cs_test_a1", "subscription": SubscriptionOut.model_config[
            "json_schema_extra"]["examples"][0] | {"billing_status": "trialing",
                                                  "subscription_id": None, "status": None}}]})
    action: Literal["checkout", "changed", "resumed", "unchanged"] = Field(
        description="checkout: open checkout_url to pay; changed: the plan changed now, "
        "prorated on the next invoice; resumed: a scheduled cancellation was undone.")
    checkout_url: str | None = None
    checkout_session_id: str | None = None
    subscription: SubscriptionOut


class InvoiceQuery(Input):
    limit: int = Field(default=20, ge=1, le=100)
    starting_after: str | None = Field(default=None, max_length=100,
                                       description="An invoice id: the page after it.")


class InvoiceOut(Model):
    id: str
    number: str | None
    status: str | None
    currency: str
    subtotal: int = Field(description="Cents, excluding taxes.")
    tax: int
    total: int
    amount_due: int
    amount_paid: int
    created: datetime
    period_start: datetime | None
    period_end: datetime | None
    hosted_invoice_url: str | None
    invoice_pdf: str | None
    subscription: str | None
    device_id: str | None


class InvoiceList(Model):
    data: list[InvoiceOut]
    has_more: bool


class PortalLink(Model):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"url": "https://billing.stripe.com/p/session/test_YWNjdF8x"}]})
    url: str = Field(description="Stripe's customer portal for cards and invoices; short-lived.")


class BillingReturn(Model):
    status: str = "ok"
    message: str
