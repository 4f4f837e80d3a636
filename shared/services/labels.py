"""Labels: an account's tags for chats and contacts (name unique in the account)."""

from __future__ import annotations

from shared.clock import Clock
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.ids import new_id
from shared.inbox import MAX_LABELS_PER_ACCOUNT, MAX_LABELS_PER_ITEM, Label, LabelColor
from shared.ports import DocumentStore


def _same_name(store: DocumentStore, account_id: str, name: str, label_id: str | None = None):
    for doc in store.query("labels", [("account_id", "==", account_id)]):
        if doc["name"].casefold() == name.casefold() and doc["id"] != label_id:
            raise Conflict(f"a label named {doc['name']!r} exists already ({doc['id']})",
                           code="label_exists", details={"label": doc["id"]})


def create_label(store: DocumentStore, clock: Clock, account_id: str, *, name: str,
                 color: LabelColor = LabelColor.grey, description: str | None = None) -> Label:
    existing = store.query("labels", [("account_id", "==", account_id)])
    if len(existing) >= MAX_LABELS_PER_ACCOUNT:
        raise Conflict(f"an account has at most {MAX_LABELS_PER_ACCOUNT} labels; delete one first",
                       code="label_limit_reached")
    _same_name(store, account_id, name)
    label = Label(id=new_id("lbl"), account_id=account_id, name=name, color=color,
                  description=description, created_at=clock.now())
    store.put("labels", label.id, label.to_doc())
    return label


def get_label(store: DocumentStore, account_id: str, label_id: str) -> Label:
    doc = store.get("labels", label_id)
    if doc is None or doc["account_id"] != account_id:
        raise NotFound(f"label {label_id} not found")
    return Label.model_validate(doc)


def list_labels(store: DocumentStore, account_id: str) -> list[Label]:
    docs = store.query("labels", [("account_id", "==", account_id)])
    return sorted((Label.model_validate(d) for d in docs), key=lambda lbl: lbl.name.casefold())


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
        store.update("labels", label_id, updates)
    return get_label(store, account_id, label_id)


def delete_label(store: DocumentStore, account_id: str, label_id: str) -> int:
    """Delete a label and take it off every chat and contact; returns how many it was on."""
    get_label(store, account_id, label_id)
    store.delete("labels", label_id)
    untagged = 0
    for collection in ("chats", "contacts"):
        for doc in store.query(collection, [("account_id", "==", account_id),
                                            ("labels", "array_contains", label_id)]):
            store.update(collection, doc["id"],
                         {"labels": [lbl for lbl in doc["labels"] if lbl != label_id]})
            untagged += 1
    return untagged


def check_labels(store: DocumentStore, account_id: str, label_ids: list[str]) -> list[str]:
    """The label ids, de-duplicated, once each is known to be one of the account's."""
    unique = list(dict.fromkeys(label_ids))
    if len(unique) > MAX_LABELS_PER_ITEM:
        raise ValidationFailed(f"labels: at most {MAX_LABELS_PER_ITEM} labels an item",
                               details={"field": "labels"}, code="too_many_labels")
    unknown = [label_id for label_id in unique
               if (doc := store.get("labels", label_id)) is None or doc["account_id"] != account_id]
    if unknown:
        raise ValidationFailed(f"labels: no label {', '.join(unknown)} in this account; create "
                               "labels with POST /v1/labels", details={"field": "labels",
                                                                       "unknown": unknown},
                               code="unknown_label")
    return unique
