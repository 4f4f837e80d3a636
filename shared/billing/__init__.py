"""Billing, all in this folder. Stripe is the system of record for money; Utio keeps only
Stripe ids and the state each device needs (its plan and billing status).

- port: the Billing port (what the services ask of Stripe) and its errors;
- stripe_adapter: the port over the stripe SDK; stripe_shapes: Stripe objects, converted;
- subscriptions: billing details, a subscription per device, invoices, the portal, and
  whether a device may send;
- trials: who gets a trial, and when it ends;
- stripe_events: Stripe's webhook events, each applied once;
- state: a subscription's state applied to its device (plan, billing status, emails);
- tax: EU VAT; catalog_sync: `python -m shared.billing.catalog_sync` writes the plans
  (shared/plans.py) to Stripe as products and prices.

The entry points are functions/api/routes/billing.py and functions/stripe_webhook.py."""
