"""The one table of plans, shared by messaging limits and billing (Stripe products and
prices are synced from it). Prices exclude taxes, in EUR cents per 30 days. Only the
Enterprise plans allow the largest media (image 5 MB, audio 16 MB, video 30 MB,
document 30 MB); every other plan allows less."""

from __future__ import annotations

from enum import StrEnum

from pydantic import ConfigDict

from shared.model import Model

MB = 1024 * 1024


class PlanFamily(StrEnum):
    messaging = "messaging"
    platform = "platform"


class MediaLimits(Model):
    model_config = ConfigDict(frozen=True)

    image: int
    audio: int
    video: int
    document: int


class Plan(Model):
    model_config = ConfigDict(frozen=True)

    id: str
    family: PlanFamily
    name: str
    price_eur_cents: int
    messages_per_month: int
    media: MediaLimits
    number_checks_per_month: int
    agents_included: int
    extra_agent_eur_cents: int | None
    max_delivery_speed: int
    webhooks: bool = True
    chatbots: bool = False


PLANS: dict[str, Plan] = {
    plan.id: plan
    for plan in (
        Plan(id="messaging-professional", family=PlanFamily.messaging, name="Professional",
             price_eur_cents=2900, messages_per_month=10_000,
             media=MediaLimits(image=2 * MB, audio=8 * MB, video=12 * MB, document=12 * MB),
             number_checks_per_month=1_000, agents_included=0, extra_agent_eur_cents=None,
             max_delivery_speed=20),
        Plan(id="messaging-business", family=PlanFamily.messaging, name="Business",
             price_eur_cents=5900, messages_per_month=30_000,
             media=MediaLimits(image=3 * MB, audio=12 * MB, video=20 * MB, document=20 * MB),
             number_checks_per_month=5_000, agents_included=0, extra_agent_eur_cents=None,
             max_delivery_speed=40),
        Plan(id="messaging-enterprise", family=PlanFamily.messaging, name="Enterprise",
             price_eur_cents=11900, messages_per_month=100_000,
             media=MediaLimits(image=5 * MB, audio=16 * MB, video=30 * MB, document=30 * MB),
             number_checks_per_month=20_000, agents_included=0, extra_agent_eur_cents=None,
             max_delivery_speed=60),
        Plan(id="platform-professional", family=PlanFamily.platform, name="Platform Professional",
             price_eur_cents=7900, messages_per_month=30_000,
             media=MediaLimits(image=3 * MB, audio=12 * MB, video=20 * MB, document=20 * MB),
             number_checks_per_month=5_000, agents_included=3, extra_agent_eur_cents=None,
             max_delivery_speed=40, chatbots=True),
        Plan(id="platform-business", family=PlanFamily.platform, name="Platform Business",
             price_eur_cents=14900, messages_per_month=60_000,
             media=MediaLimits(image=4 * MB, audio=14 * MB, video=25 * MB, document=25 * MB),
             number_checks_per_month=10_000, agents_included=5, extra_agent_eur_cents=None,
             max_delivery_speed=60, chatbots=True),
        Plan(id="platform-enterprise", family=PlanFamily.platform, name="Platform Enterprise",
             price_eur_cents=29900, messages_per_month=150_000,
             media=MediaLimits(image=5 * MB, audio=16 * MB, video=30 * MB, document=30 * MB),
             number_checks_per_month=30_000, agents_included=10, extra_agent_eur_cents=1900,
             max_delivery_speed=120, chatbots=True),
    )
}

DEFAULT_PLAN = "messaging-professional"


def get_plan(plan_id: str) -> Plan:
    return PLANS[plan_id]


# --- billing (Stripe) -------------------------------------------------------------
# Every plan is billed every 30 days; prices are synced to Stripe under stable lookup
# keys (python -m shared.billing.catalog_sync), so code refers to prices by plan id only.
BILLING_INTERVAL = "day"
BILLING_INTERVAL_COUNT = 30

PlanId = StrEnum("PlanId", {plan_id: plan_id for plan_id in PLANS})


def stripe_lookup_key(plan_id: str) -> str:
    return f"utio_plan_{plan_id}"


def stripe_agent_lookup_key(plan_id: str) -> str:
    """The price of one extra agent on a plan that sells them (extra_agent_eur_cents)."""
    return f"utio_agent_{plan_id}"
