"""The plans table: only the Enterprise plans allow the largest media (issue 7: image
5 MB, audio 16 MB, video 30 MB, document 30 MB; the others less), and within a family a
dearer plan never allows less."""

from shared.plans import MB, PLANS, PlanFamily

LARGEST = {"image": 5 * MB, "audio": 16 * MB, "video": 30 * MB, "document": 30 * MB}


def test_only_enterprise_allows_the_largest_media():
    for plan in PLANS.values():
        media = plan.media.model_dump()
        if plan.id.endswith("-enterprise"):
            assert media == LARGEST, plan.id
        else:
            assert all(media[kind] < LARGEST[kind] for kind in LARGEST), plan.id


def test_platform_business_media_limits():
    assert PLANS["platform-business"].media.model_dump() == {
        "image": 4 * MB, "audio": 14 * MB, "video": 25 * MB, "document": 25 * MB}


def test_a_dearer_plan_never_allows_smaller_media():
    for family in PlanFamily:
        plans = sorted((p for p in PLANS.values() if p.family == family),
                       key=lambda p: p.price_eur_cents)
        for cheaper, dearer in zip(plans, plans[1:], strict=False):
            for kind in LARGEST:
                assert getattr(cheaper.media, kind) <= getattr(dearer.media, kind), (
                    cheaper.id, dearer.id, kind)
