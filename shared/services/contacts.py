"""Contacts: the people a device talks to, with the customer's own metadata (Stripe-style
bounded key-value pairs) and labels. A chat's first message creates its contact; PATCH
creates one for a number the device has not talked to yet."""

from __future__ import annotations

import re

from shared import cursor
from shared.clock import Clock
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.events import EventName
from shared.inbox import (
    MAX_METADATA_KEY_LENGTH,
    MAX_METADATA_KEYS,
    MAX_METADATA_VALUE_LENGTH,
    Contact,
)
from shared.ports import DocumentStore, EventBus, Write
from shared.repositories.chats import chat_key
from shared.repositories.contacts import Contacts
from shared.services import event_log
from shared.services.chats import rename
from shared.services.labels import check_labels

_KEY = re.compile(r"^[A-Za-z0-9_.\-]+$")


def check_metadata_patch(patch: dict) -> None:
    """Each key and value within bounds (a null value deletes the key)."""
    for key, value in patch.items():
        if not key or len(key) > MAX_METADATA_KEY_LENGTH or not _KEY.match(key):
            raise ValidationFailed(
                f"metadata: key {key[:60]!r} must be 1 to {MAX_METADATA_KEY_LENGTH} characters "
                "of letters, digits, '_', '-' and '.'", details={"field": "metadata", "key": key[:60]},
                code="invalid_metadata")
        if value is not None and len(value) > MAX_METADATA_VALUE_LENGTH:
            raise ValidationFailed(
                f"metadata: the value of {key!r} has {len(value)} characters; at most "
                f"{MAX_METADATA_VALUE_LENGTH}", details={"field": "metadata", "key": key},
                code="metadata_too_large")


def merge_metadata(current: dict[str, str], patch: dict[str, str | None]) -> dict[str, str]:
    """JSON merge patch of flat metadata: a key with null is deleted, others are set."""
    check_metadata_patch(patch)
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > MAX_METADATA_KEYS:
        raise ValidationFailed(
            f"metadata: a contact has at most {MAX_METADATA_KEYS} keys; this change makes "
            f"{len(merged)} (set a key to null to delete it)",
            details={"field": "metadata", "keys": len(merged)}, code="metadata_too_large")
    return merged


def get_contact(store: DocumentStore, account_id: str, device_id: str, phone: str) -> Contact:
    doc = Contacts(store).doc_of(device_id, phone)
    if doc is None or doc["account_id"] != account_id:
        raise NotFound(f"contact {phone} not found on device {device_id}")
    return Contact.model_validate(doc)


def list_contacts(store: DocumentStore, device_id: str, *, label: str | None = None,
                  limit: int = 50, after: str | None = None) -> tuple[list[Contact], str | None]:
    """The device's contacts by phone number; and the cursor of the next page."""
    found = Contacts(store).page(device_id, label=label, limit=limit + 1,
                                 after=cursor.decode(after, str) if after else None)
    contacts = found[:limit]
    return contacts, cursor.encode(contacts[-1].phone) if len(found) > limit else None


def update_contact(store: DocumentStore, bus: EventBus, clock: Clock, account_id: str,
                   device_id: str, phone: str, changes: dict) -> Contact:
    """Set name, merge metadata, replace labels; creates the contact if need be. Nothing is
    written unless the whole change is valid."""
    contacts = Contacts(store)
    labels = check_labels(store, account_id, changes["labels"]) if changes.get("labels") is not None else None
    if changes.get("metadata") is not None:
        check_metadata_patch(changes["metadata"])
    for _ in range(20):
        now = clock.now()
        doc = contacts.doc_of(device_id, phone)
        if doc is not None and doc["account_id"] != account_id:
            raise NotFound(f"contact {phone} not found on device {device_id}")
        contact = Contact.model_validate(doc) if doc else Contact(
            account_id=account_id, device_id=device_id, phone=phone, created_at=now, updated_at=now)
        updates: dict = {"updated_at": now, "version": contact.version + 1}
        if "name" in changes:
            updates["name"] = changes["name"]
        if changes.get("metadata") is not None:
            updates["metadata"] = merge_metadata(contact.metadata, changes["metadata"])
        if labels is not None:
            updates["labels"] = labels
        updated = contact.model_copy(update=updates)
        event = event_log.new_event(
            bus, clock, EventName.contact_update, account_id, device_id,
            contact_data(updated) | {"changed": sorted(set(updates) - {"updated_at", "version"})})
        # Conditional on the version read, so two concurrent metadata merges both land; the
        # change and its event are one commit.
        key = chat_key(device_id, phone)
        write = (Write.create(Contacts.name, key, updated.to_doc()) if doc is None else
                 Write.update(Contacts.name, key, updates, when={"version": contact.version}))
        if event_log.commit(bus, store, [write], [event]):
            if "name" in changes:  # what the chat list shows
                rename(store, account_id, device_id, phone, updated.name)
            return updated
    raise Conflict(f"contact {phone} is being changed by many requests at once; try again",
                   code="busy")


def contact_data(contact: Contact) -> dict:
    return contact.model_dump(mode="json", exclude={"account_id", "device_id", "version"})
