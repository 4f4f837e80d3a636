"""The one backoff formula: capped exponential, with an optional random spread.

Step n (0 for the first retry) waits min(cap, base * 2**n) seconds, multiplied by a
factor drawn uniformly from `spread` (low, high) when one is given, so that clients that
failed together do not retry together. Every retry loop of ours uses it: the runner's
reconnects and sends, the local task dispatcher and the in-process event bus. (Webhook
deliveries follow a fixed schedule instead, settings.webhook_retry_schedule.)"""

from __future__ import annotations

import random


def delay(step: int, *, base: float, cap: float, spread: tuple[float, float] | None = None,
          rng: random.Random | None = None) -> float:
    wait = min(cap, base * 2 ** min(max(step, 0), 64))
    if spread is None:
        return wait
    return wait * (rng or random).uniform(*spread)
