"""The composite Firestore indexes the inbox's queries need (chats, chat messages,
contacts); terraform turns each into a google_firestore_index. Queries with equality
filters only (and array-contains) run on single-field indexes and are not listed.
Combined chat filters (label and unread, say) are served by merging these indexes, as
they share the device_id prefix and the sort_key order."""

from __future__ import annotations

# (collection, ((field, "ASCENDING" | "DESCENDING" | "CONTAINS"), ...))
INDEXES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("chats", (("device_id", "ASCENDING"), ("sort_key", "DESCENDING"))),
    ("chats", (("device_id", "ASCENDING"), ("labels", "CONTAINS"), ("sort_key", "DESCENDING"))),
    ("chats", (("device_id", "ASCENDING"), ("kind", "ASCENDING"), ("sort_key", "DESCENDING"))),
    ("chats", (("device_id", "ASCENDING"), ("has_unread", "ASCENDING"), ("sort_key", "DESCENDING"))),
    ("chat_messages", (("thread", "ASCENDING"), ("seq", "DESCENDING"))),
    ("contacts", (("device_id", "ASCENDING"), ("phone", "ASCENDING"))),
    ("contacts", (("device_id", "ASCENDING"), ("labels", "CONTAINS"), ("phone", "ASCENDING"))),
)
