"""Source root for Cloud Functions and functions-framework: `--target api` and so on."""

from functions.main import api, stripe_webhook, webhook_deliver, webhook_fanout

__all__ = ["api", "stripe_webhook", "webhook_deliver", "webhook_fanout"]
