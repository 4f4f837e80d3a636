"""Billing: the Billing port, EU VAT rules and the pure conversion of Stripe objects.
Stripe is the system of record for money; Utio keeps only Stripe ids and the state
each device needs (its plan and billing status)."""
