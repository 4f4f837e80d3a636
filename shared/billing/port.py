"""The Billing port: what Utio asks of its billing system (Stripe). The adapter is
shared/billing/stripe_adapter.py; it speaks Stripe's API through the stripe SDK."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from decimal import Decimal

from shared.errors import Unavailable, UtioError

# Stripe subscription statuses in which the subscription still bills the device.
LIVE = ("trialing", "active", "past_due", "unpaid", "paused")
ENDED = ("canceled", "incomplete_expired")


class PaymentRequired(UtioError):
    status, code = 402, "payment_required"


class BillingUnavailable(Unavailable):
    """Stripe could not be reached or failed; the caller may retry."""

    status, code = 503, "billing_unavailable"


class InvalidSignature(Exception):
    """A Stripe webhook whose signature or timestamp does not verify."""


@dataclass(frozen=True)
class SubscriptionSnapshot:
    """A subscription as Stripe reported it at `as_of` (Unix seconds)."""

    id: str
    customer: str
    status: str
    created: int
    as_of: int
    plan: str | None = None
    extra_agents: int = 0
    plan_item: str | None = None  # subscription item id of the plan's price
    agent_item: str | None = None  # subscription item id of the extra agents
    cancel_at_period_end: bool = False
    current_period_end: int | None = None
    device_id: str | None = None
    account_id: str | None = None

    @property
    def live(self) -> bool:
        return self.status in LIVE


@dataclass(frozen=True)
class CheckoutLink:
    id: str
    url: str


@dataclass(frozen=True)
class InvoiceView:
    id: str
    number: str | None
    status: str | None
    currency: str
    subtotal: int
    tax: int
    total: int
    amount_due: int
    amount_paid: int
    created: int
    period_start: int | None
    period_end: int | None
    hosted_invoice_url: str | None
    invoice_pdf: str | None
    subscription: str | None
    device_id: str | None


@dataclass(frozen=True)
class CheckoutRequest:
    customer_id: str
    plan_id: str
    extra_agents: int
    tax_rates: list[str]
    success_url: str
    cancel_url: str
    metadata: dict[str, str] = field(default_factory=dict)


class Billing(ABC):
    @abstractmethod
    def create_customer(self, account_id: str, email: str | None, name: str) -> str:
        """A new customer for the account (idempotent per account); returns its id."""

    @abstractmethod
    def update_customer_tax(self, customer_id: str, *, country: str, vat_number: str | None,
                            reverse_charge: bool) -> None:
        """Set the customer's country and tax exemption; keep exactly `vat_number` as its
        EU VAT tax id (none when None)."""

    @abstractmethod
    def tax_rate(self, country: str, percentage: Decimal) -> str:
        """The id of an exclusive VAT tax rate for the country (created when missing)."""

    @abstractmethod
    def create_checkout(self, request: CheckoutRequest) -> CheckoutLink: ...

    @abstractmethod
    def expire_checkout(self, session_id: str) -> None: ...

    @abstractmethod
    def retrieve_subscription(self, subscription_id: str) -> SubscriptionSnapshot: ...

    @abstractmethod
    def change_plan(self, current: SubscriptionSnapshot, plan_id: str,
                    extra_agents: int) -> SubscriptionSnapshot:
        """Switch plan and agent quantity at once, prorating on the next invoice."""

    @abstractmethod
    def set_cancel_at_period_end(self, subscription_id: str, cancel: bool) -> SubscriptionSnapshot: ...

    @abstractmethod
    def cancel_now(self, subscription_id: str) -> None: ...

    @abstractmethod
    def set_tax_rates(self, subscription_id: str, tax_rates: list[str]) -> None: ...

    @abstractmethod
    def list_invoices(self, customer_id: str, limit: int,
                      starting_after: str | None) -> tuple[list[InvoiceView], bool]:
        """A page of the customer's invoices, newest first, and whether more follow."""

    @abstractmethod
    def portal_url(self, customer_id: str, return_url: str) -> str: ...

    @abstractmethod
    def parse_event(self, payload: bytes, signature: str | None) -> dict:
        """The event in a webhook body, after verifying its signature and timestamp on the
        raw bytes; InvalidSignature otherwise."""
