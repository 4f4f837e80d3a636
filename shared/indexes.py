"""What Firestore needs to serve the code's queries and forget what expires: every
composite index, and every TTL policy. `python -m infra.generate` writes both to
terraform/generated/firestore.json, from which Terraform makes them
(terraform/modules/firestore); tests/infra/test_firestore_indexes.py fails when a query
in the code needs an index that is not listed here, when an index here serves no query,
and when a document is written with an expiry field that has no TTL policy.

When Firestore needs a composite index (`needs_index`):
- equality filters (==, in, array-contains) alone never do: single-field indexes,
  merged, serve them;
- a range filter or an order on one field alone never does;
- equality filters with an order (or a range filter) on another field do, and so does an
  order on several fields: the index holds the equality fields, then the order fields.
How listed indexes serve a query (`served`): Firestore merges composite indexes that
end in the same order fields (index merging), so a query with equality filters on a, b
and an order on c is served by (a, c) and (b, c) together, or by (a, b, c). This is how
one index per filter field serves every combination of filters of GET /v1/messages and
the chat listing. Firestore documents merging for equality filters with an order; the
listings here also page with a range filter on their first order field (the chats'
sort_key cursor, the messages' since/until), which merging scans as a range of the same
order. If Firestore ever answers such a query with FAILED_PRECONDITION ("The query
requires an index", with the index to create), add that exact index below."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

ASC, DESC, CONTAINS = "ASCENDING", "DESCENDING", "CONTAINS"

# (collection, ((field, ASC | DESC | CONTAINS), ...))
Index = tuple[str, tuple[tuple[str, str], ...]]

# --- the inbox (shared/services/chats.py, contacts.py) ------------------------------
# Chats, most recently active first, filtered by label, kind, unread, assignee and a
# search term; a chat's messages newest first; contacts by phone number, filtered by label.
INBOX: tuple[Index, ...] = (
    ("chats", (("device_id", ASC), ("sort_key", DESC))),
    ("chats", (("device_id", ASC), ("labels", CONTAINS), ("sort_key", DESC))),
    ("chats", (("device_id", ASC), ("kind", ASC), ("sort_key", DESC))),
    ("chats", (("device_id", ASC), ("has_unread", ASC), ("sort_key", DESC))),
    ("chats", (("device_id", ASC), ("assigned_to", ASC), ("sort_key", DESC))),
    ("chats", (("device_id", ASC), ("terms", CONTAINS), ("sort_key", DESC))),
    ("chat_messages", (("thread", ASC), ("seq", DESC))),
    ("contacts", (("device_id", ASC), ("phone", ASC))),
    ("contacts", (("device_id", ASC), ("labels", CONTAINS), ("phone", ASC))),
)

# --- messages (shared/services/messages.py list_messages) ---------------------------
# GET /v1/messages: newest first, `id` breaking ties of created_at (the cursor's order),
# an account's messages filtered by any of these fields (merged when several are given).
MESSAGE_FILTERS = ("device_id", "status", "phone", "group", "reference")
_NEWEST = (("created_at", DESC), ("id", DESC))
MESSAGES: tuple[Index, ...] = (
    ("messages", (("account_id", ASC), *_NEWEST)),
    *(("messages", (("account_id", ASC), (field, ASC), *_NEWEST)) for field in MESSAGE_FILTERS),
)

# --- webhook deliveries (shared/services/webhooks/) ----------------------------------
# A webhook's delivery log newest first, optionally by status; recovery of the failed
# ones oldest first.
DELIVERIES: tuple[Index, ...] = (
    ("deliveries", (("webhook_id", ASC), ("sort_key", DESC))),
    ("deliveries", (("webhook_id", ASC), ("status", ASC), ("sort_key", DESC))),
    ("deliveries", (("webhook_id", ASC), ("status", ASC), ("sort_key", ASC))),
)

# --- the event log (shared/services/event_feed.py, event_log.py) ----------------------
# GET /v1/events: an account's events in log order (newest first, or oldest first after a
# position), by device and by event name (merged when both are given); the sweep: one
# process's events in log order.
_LOG_ORDER = {direction: (("logged_at", direction), ("id", direction)) for direction in (ASC, DESC)}
EVENT_LOG: tuple[Index, ...] = (
    *(("events", (("account_id", ASC), *fields, *_LOG_ORDER[direction]))
      for direction in (ASC, DESC) for fields in ((), (("device", ASC),), (("event", ASC),))),
    ("events", (("origin", ASC), ("logged_at", ASC))),
)
# The events of a message's usual path live in the message's document (event_log.HOMES):
# per such event, the same orders by its own fields (`event_<status>_at`, `_id`), by
# account and by device (the stream holds one event name, so no `event` filter); the
# sweep's by origin; and the messages by their newest such event (the long poll's
# listener, event_feed.Watches).
_HOME_FIELDS = ("event_new", "event_sent", "event_delivered", "event_read")
EVENT_HOMES: tuple[Index, ...] = (
    *(("messages", (("account_id", ASC), *fields, (f"{home}_at", direction),
                    (f"{home}_id", direction)))
      for home in _HOME_FIELDS for direction in (ASC, DESC)
      for fields in ((), (("device_id", ASC),))),
    *(("messages", ((f"{home}_origin", ASC), (f"{home}_at", ASC))) for home in _HOME_FIELDS),
    ("messages", (("account_id", ASC), ("event_logged_at", DESC))),
)


# --- the runner's stranded-work sweep (device_runner/sweep.py) -----------------------
# Queued messages, oldest first, older than a cut-off; a device taken over: its messages
# sent lately, oldest first (their chat entries filed if missing, chat_filing.py).
RUNNER: tuple[Index, ...] = (
    ("messages", (("status", ASC), ("created_at", ASC))),
    ("messages", (("device_id", ASC), ("sent_at", ASC))),
)

# --- a device's queue (shared/services/queue_pages.py) --------------------------------
# GET /v1/devices/{id}/queue pages it: each priority's unscheduled messages oldest first,
# and the scheduled ones soonest first.
QUEUE: tuple[Index, ...] = (
    ("messages", (("device_id", ASC), ("status", ASC), ("priority", ASC), ("deliver_at", ASC),
                  ("created_at", ASC), ("id", ASC))),
    ("messages", (("device_id", ASC), ("status", ASC), ("deliver_at", ASC), ("id", ASC))),
)

INDEXES: tuple[Index, ...] = (*INBOX, *MESSAGES, *DELIVERIES, *RUNNER, *QUEUE, *EVENT_LOG,
                               *EVENT_HOMES)

# (collection, field): Firestore deletes a document some time (usually within a day)
# after the time in this field. The code never queries these fields, so Terraform also
# turns their single-field indexes off (an indexed, ever-rising timestamp limits the
# write rate of a collection).
TTL: tuple[tuple[str, str], ...] = (
    ("deliveries", "expire_at"),  # webhooks.fanout.DELIVERY_RETENTION: the log, 30 days
    ("stripe_events", "expire_at"),  # stripe_events.KEEP: claims of Stripe events, 35 days
    ("idempotency", "expires_at"),  # services.messages.IDEMPOTENCY_TTL: Idempotency-Key claims, 24 h
    ("files", "expires_at"),  # files.KEEP: uploaded media records, 30 days (blobs: 31)
    ("device_links", "expires_at"),  # linking: a device's current QR or pairing code, ~20 s
    ("events", "expire_at"),  # event_log.RETENTION: the event log, 30 days
    ("event_relays", "expire_at"),  # event_relay.RETENTION: a process's relay document
)

EQUALITY_OPS = ("==", "in", "array_contains", "array_contains_any")
_DIRECTIONS = {"asc": ASC, "desc": DESC}

# What a query needs: (equality fields with their mode, order fields with direction).
Need = tuple[frozenset[tuple[str, str]], tuple[tuple[str, str], ...]]


def needs_index(where: Sequence[tuple[str, str, Any]] | Iterable[tuple[str, str]],
                order_by: Sequence[tuple[str, str]] = ()) -> Need | None:
    """The composite index a query needs, or None when single-field indexes serve it.
    `where` holds (field, op) or (field, op, value); `order_by` (field, "asc" | "desc")."""
    equal: set[tuple[str, str]] = set()
    ranges: list[str] = []
    for field, op, *_ in where:
        if op in EQUALITY_OPS:
            equal.add((field, CONTAINS if op.startswith("array_contains") else ASC))
        else:
            ranges.append(field)
    order = tuple((field, _DIRECTIONS[direction]) for field, direction in order_by)
    if not order and ranges:
        order = ((ranges[0], ASC),)  # Firestore orders by the range field first
    if not order:
        return None
    if not equal and len(order) == 1 and set(ranges) <= {order[0][0]}:
        return None
    return frozenset(equal), order


def served(collection: str, need: Need, indexes: Iterable[Index] = INDEXES) -> bool:
    """Whether the listed indexes serve the need: one holds exactly its fields, or several
    ending in its order fields hold, together, all its equality fields (merging)."""
    equal, order = need
    covered: set[tuple[str, str]] = set()
    for name, fields in indexes:
        if name != collection or len(fields) < len(order) or fields[len(fields) - len(order):] != order:
            continue
        prefix = set(fields[:len(fields) - len(order)])
        if prefix == equal:
            return True
        if prefix and prefix <= equal:
            covered |= prefix
    return bool(equal) and covered == equal


def exact(collection: str, need: Need, index: Index) -> bool:
    """Whether `index` holds exactly the fields `need` asks for."""
    name, fields = index
    equal, order = need
    return (name == collection and len(fields) == len(equal) + len(order)
            and fields[len(equal):] == order and set(fields[:len(equal)]) == equal)
