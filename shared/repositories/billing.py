"""Billing's own collections: each account's Stripe customer ("billing_customers"), each
device's subscription record ("billing_subscriptions"), the trials an account has used
("billing_trials") and the Stripe events already applied ("stripe_events")."""

from __future__ import annotations

from shared.repositories.base import Collection


class BillingCustomers(Collection):
    name = "billing_customers"


class BillingSubscriptions(Collection):
    name = "billing_subscriptions"

    def of_account(self, account_id: str) -> list[dict]:
        return self.docs([("account_id", "==", account_id)])

    def by_subscription(self, subscription_id: str) -> dict | None:
        found = self.docs([("subscription_id", "==", subscription_id)], limit=1)
        return found[0] if found else None


class BillingTrials(Collection):
    name = "billing_trials"


class StripeEvents(Collection):
    name = "stripe_events"
