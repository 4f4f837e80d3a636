"""Labels: an account's tags for chats and contacts (name unique in the account)."""

from __future__ import annotations

from shared.clock import Clock
from shared.errors import Conflict, ValidationFailed
from shared.ids import new_id
from shared.inbox import MAX_LABELS_PER_ACCOUNT, MAX_LABELS_PER_ITEM, Label, LabelColor
from shared.ports import DocumentStore
from shared.repositories.chats import Chats
from shared.repositories.contacts import Contacts
from shared.repositories.labels import Labels


def _same_name(store: DocumentStore, account_id: str, name: str, label_id: str | None = None):
    for doc in Labels(store).docs([("account_id", "==", account_id)]):
        if doc["name"].casefold() == name.casefold() and doc["id"] != label_id:
            raise Conflict(f"a label named {doc['name']!r} exists already ({doc['id']})",
                           code="label_exists", details={"label": doc["id"]})


def create_label(store: DocumentStore, clock: Clock, account_id: str, *, name: str,
                 color: LabelColor = LabelColor.grey, description: str | None = None) -> Label:
    labels = Labels(store)
    existing = labels.docs([("account_id", "==", account_id)])
    if len(existing) >= MAX_LABELS_PER_ACCOUNT:
        raise Conflict(f"an account has at most {MAX_LABELS_PER_ACCOUNT} labels; delete one first",
                       code="label_limit_reached")
    _same_name(store, account_id, name)
    label = Label(id=new_id("lbl"), account_id=account_id, name=name, color=color,
                  description=description, created_at=clock.now())
    labels.add(label)
    return label


def get_label(store: DocumentStore, account_id: str, label_id: str) -> Label:
    return Labels(store).owned(account_id, label_id)


def list_labels(store: DocumentStore, account_id: str) -> list[Label]:
    return sorted(Labels(store).of_account(account_id), key=lambda lbl: lbl.name.casefold())


def update_label(store: DocumentStore, account_id: str, label_id: str, changes: dict) -> Label:
    """Set name and color when given; description when present (null clears it)."""
    get_label(store, account_id, label_id)
    updates: dict = {}
    if changes.get("name") is not None:
        _same_name(store, account_id, changes["name"], label_id)
        updates["name"] = changes["name"]
    if changes.get("color") is not None:
        updates["color"] = LabelColor(changes["color"]).value
    if "description" in changes:
        updates["description"] = changes["description"]
    if updates:
        Labels(store).update(label_id, updates)
    return get_label(store, account_id, label_id)


def delete_label(store: DocumentStore, account_id: str, label_id: str) -> int:
    """Delete a label and take it off every chat and contact; returns how many it was on."""
    get_label(store, account_id, label_id)
    Labels(store).delete(label_id)
    untagged = 0
    for tagged in (Chats(store), Contacts(store)):
        for doc in tagged.with_label(account_id, label_id):
            tagged.update(doc["id"], {"labels": [lbl for lbl in doc["labels"] if lbl != label_id]})
            untagged += 1
    return untagged


def check_labels(store: DocumentStore, account_id: str, label_ids: list[str]) -> list[str]:
    """The label ids, de-duplicated, once each is known to be one of the account's."""
    unique, labels = list(dict.fromkeys(label_ids)), Labels(store)
    if len(unique) > MAX_LABELS_PER_ITEM:
        raise ValidationFailed(f"labels: at most {MAX_LABELS_PER_ITEM} labels an item",
                               details={"field": "labels"}, code="too_many_labels")
    unknown = [label_id for label_id in unique
               if (doc := labels.doc(label_id)) is None or doc["account_id"] != account_id]
    if unknown:
        raise ValidationFailed(f"labels: no label {', '.join(unknown)} in this account; create "
                               "labels with POST /v1/labels", details={"field": "labels",
                                                                       "unknown": unknown},
                               code="unknown_label")
    return unique
