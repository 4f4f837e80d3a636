"""`make dev` bills against the local Stripe only when no Stripe key is set."""

from __future__ import annotations

from infra.dev import Ports, local_stripe_env


def test_without_a_key_billing_points_at_the_local_stripe(tmp_path, monkeypatch):
    monkeypatch.delenv("UTIO_STRIPE_SECRET_KEY", raising=False)
    env = local_stripe_env(Ports(33000), tmp_path)
    assert env["UTIO_STRIPE_API_BASE"] == "http://127.0.0.1:33008"
    assert env["UTIO_STRIPE_WEBHOOK_SECRET"].startswith("whsec_local_")
    assert local_stripe_env(Ports(33000), tmp_path) == env  # the same secret every run


def test_with_a_key_billing_uses_stripe_as_configured(tmp_path, monkeypatch):
    monkeypatch.setenv("UTIO_STRIPE_SECRET_KEY", "sk_test_real")
    assert local_stripe_env(Ports(33000), tmp_path) == {}
