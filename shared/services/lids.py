"""Anonymous WhatsApp ids (LIDs, "<digits>@lid"): WhatsApp names many contacts by one
instead of their number. A device keeps what it learns (collection lid_map, one
document per device and LID, with the phone number): once a LID's number is known,
everything from and to that LID is filed under the number, so a chat never splits in
two, and a message sent to the LID goes to the number's chat."""

from __future__ import annotations

import re

from shared.ports import DocumentStore

COLLECTION = "lid_map"
LID = re.compile(r"^\d{1,24}@lid$")


def is_lid(value: str | None) -> bool:
    return bool(value) and bool(LID.match(value or ""))


def _doc_id(device_id: str, lid: str) -> str:
    return f"{device_id}:{lid}"


def learn(store: DocumentStore, device_id: str, lid: str, phone: str) -> bool:
    """Keep lid -> phone for the device (the first learnt stays: WhatsApp does not move
    a LID to another number). True when it is new: then the LID's chat, if one was
    opened, joins the number's (shared.services.lid_chats)."""
    if is_lid(lid) and phone and not is_lid(phone):
        return store.create(COLLECTION, _doc_id(device_id, lid),
                            {"device_id": device_id, "lid": lid, "phone": phone})
    return False


def phone_of(store: DocumentStore, device_id: str, lid: str) -> str | None:
    doc = store.get(COLLECTION, _doc_id(device_id, lid))
    return doc.get("phone") if doc else None


def lid_of(store: DocumentStore, device_id: str, phone: str) -> str | None:
    found = store.query(COLLECTION, [("device_id", "==", device_id), ("phone", "==", phone)],
                        limit=1)
    return found[0]["lid"] if found else None
