from shared.billing import stripe_shapes


def _item(item_id, key, quantity=1, period_end=None):
    item = {"id": item_id, "quantity": quantity,
            "price": {"id": "price_" + item_id, "lookup_key": key, "metadata": {}}}
    if period_end:
        item["current_period_end"] = period_end
    return item


def test_subscription_reads_plan_agents_and_period_from_items():
    snap = stripe_shapes.subscription({
        "id": "sub_1", "customer": "cus_1", "status": "active", "created": 100,
        "cancel_at_period_end": True, "metadata": {"utio_device": "dev_1", "utio_account": "acc_1"},
        "items": {"data": [_item("si_1", "utio_plan_platform-enterprise", 1, 2000),
                           _item("si_2", "utio_agent_platform-enterprise", 4, 2000)]}}, as_of=150)
    assert (snap.plan, snap.plan_item, snap.extra_agents, snap.agent_item) == (
        "platform-enterprise", "si_1", 4, "si_2")
    assert snap.current_period_end == 2000 and snap.cancel_at_period_end and snap.live
    assert (snap.device_id, snap.account_id, snap.as_of) == ("dev_1", "acc_1", 150)


def test_subscription_of_an_older_api_version():
    snap = stripe_shapes.subscription({
        "id": "sub_1", "customer": {"id": "cus_1"}, "status": "canceled", "created": 1,
        "current_period_end": 999, "items": {"data": [
            {"id": "si_1", "quantity": 1, "price": {"lookup_key": None,
                                                    "metadata": {"utio_kind": "plan",
                                                                 "utio_plan": "messaging-business"}}}]}},
        as_of=5)
    assert (snap.customer, snap.plan, snap.current_period_end, snap.live) == (
        "cus_1", "messaging-business", 999, False)


def test_invoice_in_both_shapes():
    new = stripe_shapes.invoice({
        "id": "in_1", "total": 11900, "total_excluding_tax": 10000, "subtotal": 10000,
        "created": 5, "parent": {"subscription_details": {
            "subscription": "sub_1", "metadata": {"utio_device": "dev_1"}}}})
    assert (new.tax, new.subscription, new.device_id) == (1900, "sub_1", "dev_1")
    old = stripe_shapes.invoice({"id": "in_2", "total": 100, "tax": 0, "subscription": "sub_2",
                                 "subscription_details": {"metadata": {"utio_device": "dev_2"}}})
    assert (old.tax, old.subscription, old.device_id) == (0, "sub_2", "dev_2")
