from __future__ import annotations

import pytest

from shared.events import EventName
from shared.inbox import MAX_LABELS_PER_ACCOUNT, MAX_METADATA_KEYS
from tests.fakes import assert_error
from tests.unit.inbox.helpers import inbound


@pytest.fixture
def dev(device, account) -> dict:
    return device | {"account_id": account.id}


def contact_path(dev, phone="+447400123456") -> str:
    return f"/v1/devices/{dev['id']}/contacts/{phone}"


# --- labels -------------------------------------------------------------------------


def test_label_crud(api):
    created = api.post("/v1/labels", json={"name": "VIP", "color": "purple",
                                           "description": "yearly plan"})
    assert created.status_code == 201
    label = created.get_json()
    assert label["id"].startswith("lbl_") and label["color"] == "purple"
    api.post("/v1/labels", json={"name": "agency"})
    assert [lbl["name"] for lbl in api.get("/v1/labels").get_json()["data"]] == ["agency", "VIP"]
    assert api.get(f"/v1/labels/{label['id']}").get_json() == label
    patched = api.patch(f"/v1/labels/{label['id']}", json={"color": "blue", "description": None})
    assert patched.get_json()["color"] == "blue" and patched.get_json()["description"] is None
    assert patched.get_json()["name"] == "VIP"
    assert api.delete(f"/v1/labels/{label['id']}").status_code == 204
    assert_error(api.get(f"/v1/labels/{label['id']}"), 404)


def test_label_names_are_unique_regardless_of_case(api):
    first = api.post("/v1/labels", json={"name": "VIP"}).get_json()
    assert_error(api.post("/v1/labels", json={"name": "vip"}), 409, "label_exists")
    other = api.post("/v1/labels", json={"name": "Lead"}).get_json()
    assert_error(api.patch(f"/v1/labels/{other['id']}", json={"name": "Vip"}), 409)
    assert api.patch(f"/v1/labels/{first['id']}", json={"name": "vip"}).status_code == 200


@pytest.mark.parametrize("body", [{"name": ""}, {"name": "x" * 51}, {"name": "A", "color": "gold"},
                                  {"color": "red"}, {"name": "A", "extra": 1}])
def test_bad_labels(api, body):
    assert_error(api.post("/v1/labels", json=body), 422)


def test_an_account_has_at_most_100_labels(api, c, account):
    from shared.services.labels import create_label

    for n in range(MAX_LABELS_PER_ACCOUNT):
        create_label(c.store, c.clock, account.id, name=f"label {n}")
    assert_error(api.post("/v1/labels", json={"name": "one more"}), 409, "label_limit_reached")


def test_labels_are_private_to_an_account(api, new_account):
    label = api.post("/v1/labels", json={"name": "VIP"}).get_json()
    other = new_account("Other").api
    assert other.get("/v1/labels").get_json()["data"] == []
    assert_error(other.get(f"/v1/labels/{label['id']}"), 404)
    assert_error(other.delete(f"/v1/labels/{label['id']}"), 404)
    # And another account's label cannot be put on one's own contacts.
    device = other.post("/v1/devices", json={}).get_json()
    assert_error(other.patch(f"/v1/devices/{device['id']}/contacts/+447400123456",
                             json={"labels": [label["id"]]}), 422, "unknown_label")


def test_deleting_a_label_takes_it_off_chats_and_contacts(c, dev, api):
    inbound(c, dev, "+447400123456")
    vip = api.post("/v1/labels", json={"name": "VIP"}).get_json()
    lead = api.post("/v1/labels", json={"name": "Lead"}).get_json()
    both = [vip["id"], lead["id"]]
    api.patch(f"/v1/devices/{dev['id']}/chats/+447400123456", json={"labels": both})
    api.patch(contact_path(dev), json={"labels": both})
    api.delete(f"/v1/labels/{vip['id']}")
    assert api.get(f"/v1/devices/{dev['id']}/chats/+447400123456").get_json()["labels"] == [lead["id"]]
    assert api.get(contact_path(dev)).get_json()["labels"] == [lead["id"]]


# --- contacts -----------------------------------------------------------------------


def test_patch_creates_a_contact_and_merges_metadata(c, dev, api):
    response = api.patch(contact_path(dev), json={"name": "Jane", "metadata": {"crm_id": "C-1",
                                                                               "order": "1042"}})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["metadata"] == {"crm_id": "C-1", "order": "1042"}
    merged = api.patch(contact_path(dev), json={"metadata": {"order": None, "tier": "gold"}}).get_json()
    assert merged["metadata"] == {"crm_id": "C-1", "tier": "gold"}
    assert merged["name"] == "Jane"
    events = [e for e in c.bus.published if e.event == EventName.contact_update]
    assert len(events) == 2
    assert events[-1].data["metadata"] == {"crm_id": "C-1", "tier": "gold"}
    assert events[-1].data["changed"] == ["metadata"]
    assert api.get(contact_path(dev, "447400123456")).get_json() == merged


def test_metadata_is_bounded(dev, api):
    path = contact_path(dev)
    assert_error(api.patch(path, json={"name": "Jane", "metadata": {"k": "x" * 501}}), 422)
    assert_error(api.get(path), 404)  # a refused change writes nothing, not even the contact
    assert_error(api.patch(path, json={"metadata": {"k": "x" * 501}}), 422, "metadata_too_large")
    assert_error(api.patch(path, json={"metadata": {"k" * 41: "x"}}), 422, "invalid_metadata")
    assert_error(api.patch(path, json={"metadata": {"bad key": "x"}}), 422, "invalid_metadata")
    assert_error(api.patch(path, json={"metadata": {"": "x"}}), 422, "invalid_metadata")
    assert_error(api.patch(path, json={"metadata": {"n": 5}}), 422)
    assert_error(api.patch(path, json={"metadata": {"n": {"nested": "x"}}}), 422)
    many = {f"k{n}": "v" for n in range(MAX_METADATA_KEYS + 1)}
    assert_error(api.patch(path, json={"metadata": many}), 422)
    # 50 keys fit, one more through a second patch does not, until one is deleted.
    assert api.patch(path, json={"metadata": {f"k{n}": "v" * 500 for n in range(50)}}).status_code == 200
    assert_error(api.patch(path, json={"metadata": {"k50": "v"}}), 422, "metadata_too_large")
    assert api.patch(path, json={"metadata": {"k0": None, "k50": "v"}}).status_code == 200


def test_contact_errors(dev, api, new_account):
    assert_error(api.get(contact_path(dev)), 404)
    assert_error(api.patch(contact_path(dev, "not-a-phone"), json={"name": "x"}), 422)
    assert_error(api.patch(contact_path(dev), json={"name": "x" * 101}), 422)
    assert_error(api.patch("/v1/devices/dev_nope/contacts/+447400123456", json={"name": "x"}), 404)
    api.patch(contact_path(dev), json={"name": "Jane"})
    assert_error(new_account("Other").api.get(contact_path(dev)), 404)


def test_contacts_list_by_phone_with_label_filter_and_pages(c, dev, api):
    phones = [f"+4474001234{n:02d}" for n in range(5)]
    for phone in reversed(phones):
        inbound(c, dev, phone)
    vip = api.post("/v1/labels", json={"name": "VIP"}).get_json()
    api.patch(contact_path(dev, phones[1]), json={"labels": [vip["id"]]})
    api.patch(contact_path(dev, phones[3]), json={"labels": [vip["id"]]})
    base = f"/v1/devices/{dev['id']}/contacts"
    first = api.get(base, query_string={"limit": 3}).get_json()
    second = api.get(base, query_string={"limit": 3, "cursor": first["next_cursor"]}).get_json()
    assert [x["phone"] for x in first["data"] + second["data"]] == phones
    assert second["next_cursor"] is None
    labelled = api.get(base, query_string={"label": vip["id"]}).get_json()["data"]
    assert [x["phone"] for x in labelled] == [phones[1], phones[3]]
