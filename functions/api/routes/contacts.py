from __future__ import annotations

from functions.api.access import agent_route
from functions.api.registry import Principal
from functions.api.schemas_chats import ContactList, ContactOut, ContactQuery, UpdateContact
from shared import phones
from shared.services import contacts, devices, lids

_CONTACT = "/v1/devices/{device_id}/contacts/{phone}"


def _contact_id(raw: str) -> str:
    """A contact: their number in E.164, or their anonymous id (<digits>@lid) while the
    device does not know the number."""
    return raw if lids.is_lid(raw) else phones.normalise(raw)


def _out(contact) -> ContactOut:
    return ContactOut.model_validate(contacts.contact_data(contact))


@agent_route("GET", "/v1/devices/{device_id}/contacts", query=ContactQuery, response=ContactList,
             summary="List a device's contacts by number", tag="contacts", errors=(404,))
def list_contacts(p: Principal, device_id: str, query: ContactQuery):
    """The device's contacts (everyone it exchanged messages with), by number, with the name,
    metadata and labels you set. Filter by `label`; page with `cursor`.

    Errors: 404 when the device is not in this account; 422 for a bad filter or cursor."""
    devices.get_device(p.c, p.account_id, device_id)
    found, next_cursor = contacts.list_contacts(p.c.store, device_id, label=query.label,
                                                limit=query.limit, after=query.cursor)
    return ContactList(data=[_out(c) for c in found], next_cursor=next_cursor)


@agent_route("GET", _CONTACT, response=ContactOut, summary="Get a contact", tag="contacts",
             errors=(404,))
def get_contact(p: Principal, device_id: str, phone: str):
    """One contact by its E.164 number (or, while the device knows only that, their
    anonymous WhatsApp id, `<digits>@lid`): the name, metadata and labels you set on it,
    `lid` when known, and when it was first and last seen. A contact under an anonymous id
    joins the number's contact when the number is learnt.

    Errors: 404 when the device or the contact is not found."""
    return _out(contacts.get_contact(p.c.store, p.account_id, device_id, _contact_id(phone)))


@agent_route("PATCH", _CONTACT, body=UpdateContact, response=ContactOut, tag="contacts",
             errors=(404,),
             summary="Set a contact's name, metadata and labels (event contact:update)")
def update_contact(p: Principal, device_id: str, phone: str, body: UpdateContact):
    """Sets a contact's `name`, merges `metadata` (your own keys, such as a CRM id; null deletes
    a key; at most 50 keys) and replaces its `labels`. Emits `contact:update`. Use metadata
    to keep the link between a WhatsApp number and your systems.

    Errors: 404 when the device or the contact is not found; 409 when many requests change the
    same contact at once (retry); 422 for too many keys, long values or unknown labels."""
    devices.get_device(p.c, p.account_id, device_id)
    contact = contacts.update_contact(p.c.store, p.c.bus, p.c.clock, p.account_id, device_id,
                                      _contact_id(phone), body.model_dump(exclude_unset=True))
    return _out(contact)
