"""An in-process DocumentStore: the fake in unit tests and the backend of `make dev`
on a machine without gcloud."""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from shared.ports import (
    COMMIT_TIME,
    AnyOf,
    Committed,
    DocumentStore,
    Filter,
    Guard,
    check_document_id,
    document_id_problem,
)


def _matches(value, expected) -> bool:
    if isinstance(expected, AnyOf):
        return value in expected
    return value == expected


_WRITES = itertools.count(1)  # the versions' numbers
_ATOMS = frozenset({str, int, float, bool, type(None), bytes, datetime})


def _copy(value):
    """A deep copy of a stored value: dicts and lists of immutable leaves, copied by hand
    (copy.deepcopy's memo and dispatch cost several times more, on every read)."""
    kind = type(value)
    if kind is dict:  # (a leaf is taken as it is without a call: most fields are leaves)
        return {key: item if type(item) in _ATOMS else _copy(item) for key, item in value.items()}
    if kind is list:
        return [_copy(item) for item in value]
    if kind in _ATOMS:
        return value
    return copy.deepcopy(value)


_PLAIN = _ATOMS - {datetime}


def _stored(value, at: datetime | None = None, marks: list | None = None):
    """A deep copy as Firestore stores it: datetimes in UTC (naive ones taken as UTC),
    tuples as lists, and COMMIT_TIME as a field of a map replaced by `at` (the commit's
    time), in one walk of the value. With `marks` (and no `at`), COMMIT_TIME is left where
    it is and each place of it, (map, field), is added to `marks`: a commit copies its
    writes before it takes the lock and fills the time in under it."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:  # (a plain leaf, or a datetime in UTC already, is taken without a call)
        copied = {key: item if type(item) in _PLAIN or (type(item) is datetime and item.tzinfo is UTC)
                  else (at if at is not None else item) if item is COMMIT_TIME
                  else _stored(item, at, marks)
                  for key, item in value.items()}
        if marks is not None and at is None:
            marks.extend((copied, key) for key, item in copied.items() if item is COMMIT_TIME)
        return copied
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, dict):
        return _stored(dict(value), at, marks)
    if isinstance(value, list | tuple):
        return [_stored(item) for item in value]
    return copy.deepcopy(value)


def _test(doc: dict, flt: Filter) -> bool:
    field, op, value = flt
    if field not in doc:  # like Firestore: a filter never matches a missing field
        return False
    have = doc[field]
    if op == "==":
        return have == value
    if op == "!=":
        return have is not None and have != value
    if op == "in":
        return have in value
    if op == "array_contains":
        return isinstance(have, list) and value in have
    if op == "array_contains_any":
        return isinstance(have, list) and any(v in have for v in value)
    if have is None:
        return False
    return {"<": have < value, "<=": have <= value, ">": have > value, ">=": have >= value}[op]


class MemoryStore(DocumentStore):
    def __init__(self):
        self._data: dict[str, dict[str, dict]] = {}
        self._lock = threading.RLock()
        self._last_commit = datetime.min.replace(tzinfo=UTC)
        # Each document's version (Committed): a number no other write ever had (in any
        # store of the process), so a version of another document, or from before a
        # delete, never matches.
        self._versions: dict[tuple[str, str], str] = {}

    def _wrote(self, collection: str, doc_id: str) -> str:
        """A write of the document (called under the lock): its new version."""
        version = self._versions[collection, doc_id] = f"m{next(_WRITES)}"
        return version

    def _commit_time(self) -> datetime:
        """Strictly increasing, like Firestore's commit times (called under the lock)."""
        self._last_commit = max(datetime.now(UTC), self._last_commit + timedelta(microseconds=1))
        return self._last_commit

    def _stamped(self, data: dict) -> dict:
        return _stored(data, self._commit_time())

    def commit(self, writes, *, guard: Guard | None = None):
        for w in writes:
            check_document_id(w.doc_id)
        # The copies are made before the lock, which is held only to check and apply: a
        # thread holding it when the GIL switches away holds up every other (the bench's
        # pipeline: the API's thread waited 1.5 s of 2.9 on runner threads holding it)
        times: list = []  # where the commit's time goes, once it is drawn under the lock
        copies = [None if w.op == "delete" else _stored(w.data, None, times) for w in writes]
        with self._lock:
            if guard is not None:
                fence = self._data.get(guard.collection, {}).get(guard.doc_id)
                if fence is None or not all(_matches(fence.get(f), v) for f, v in guard.when.items()):
                    return False
            for w in writes:
                doc = self._data.get(w.collection, {}).get(w.doc_id)
                if w.op == "create" and doc is not None:
                    return False
                if w.op == "update" and (doc is None or not all(
                        _matches(doc.get(f), v) for f, v in (w.when or {}).items())):
                    return False
                if w.version is not None and \
                        self._versions.get((w.collection, w.doc_id)) != w.version:
                    return False
                if w.op not in ("create", "put", "update", "delete"):
                    raise ValueError(f"unknown write {w.op!r}")
            at = self._commit_time()
            for copied, key in times:
                copied[key] = at
            versions = {}
            for w, data in zip(writes, copies, strict=True):
                docs = self._data.setdefault(w.collection, {})
                if w.op == "delete":
                    docs.pop(w.doc_id, None)
                    self._versions.pop((w.collection, w.doc_id), None)
                    versions.pop((w.collection, w.doc_id), None)
                    continue
                if w.op == "update":
                    docs[w.doc_id].update(data)
                else:
                    docs[w.doc_id] = data
                versions[w.collection, w.doc_id] = self._wrote(w.collection, w.doc_id)
            return Committed(versions)

    def get(self, collection, doc_id):
        if document_id_problem(doc_id):
            return None
        with self._lock:
            doc = self._data.get(collection, {}).get(doc_id)
            return None if doc is None else _copy(doc) | {"id": doc_id}

    def create(self, collection, doc_id, data):
        check_document_id(doc_id)
        with self._lock:
            docs = self._data.setdefault(collection, {})
            if doc_id in docs:
                return False
            docs[doc_id] = self._stamped(data)
            self._wrote(collection, doc_id)
            return True

    def put(self, collection, doc_id, data):
        check_document_id(doc_id)
        with self._lock:
            self._data.setdefault(collection, {})[doc_id] = self._stamped(data)
            self._wrote(collection, doc_id)

    def update(self, collection, doc_id, changes, *, when=None, guard=None):
        if document_id_problem(doc_id) or (guard and document_id_problem(guard.doc_id)):
            return False
        with self._lock:
            doc = self._data.get(collection, {}).get(doc_id)
            if doc is None:
                return False
            for field, expected in (when or {}).items():
                if not _matches(doc.get(field), expected):
                    return False
            if guard is not None:
                fence = self._data.get(guard.collection, {}).get(guard.doc_id)
                if fence is None or not all(_matches(fence.get(f), v) for f, v in guard.when.items()):
                    return False
            doc.update(self._stamped(changes))
            self._wrote(collection, doc_id)
            return True

    def delete(self, collection, doc_id):
        if document_id_problem(doc_id):
            return False
        with self._lock:
            self._versions.pop((collection, doc_id), None)
            return self._data.get(collection, {}).pop(doc_id, None) is not None

    def increment(self, collection, doc_id, field, by=1, *, maximum=None, extra=None):
        check_document_id(doc_id)
        with self._lock:
            doc = self._data.setdefault(collection, {}).get(doc_id)
            value = ((doc or {}).get(field) or 0) + by
            if maximum is not None and value > maximum:
                return None
            if doc is None:
                doc = self._data[collection][doc_id] = {}
            doc.update(_copy(extra or {}))
            doc[field] = value
            self._wrote(collection, doc_id)
            return value

    def query(self, collection, where: Sequence[Filter] = (), order_by=(), limit=None,
              start_after=None):
        with self._lock:
            # filtered, ordered and cut before copying: a query copies what it returns only
            rows = sorted(((doc_id, doc) for doc_id, doc in self._data.get(collection, {}).items()
                           if all(_test(doc, flt) for flt in where)
                           and all(field in doc for field, _ in order_by)),  # as Firestore
                          key=lambda row: row[0])
            for field, direction in reversed(order_by):
                rows.sort(key=lambda row, f=field: (_value(row, f) is not None, _value(row, f)),
                          reverse=direction == "desc")
            if start_after is not None:
                rows = [row for row in rows if _after(row, order_by, start_after)]
            if limit is not None:
                rows = rows[:limit]
            return [_copy(doc) | {"id": doc_id} for doc_id, doc in rows]

    def count(self, collection, where: Sequence[Filter] = ()):
        with self._lock:
            return sum(1 for doc in self._data.get(collection, {}).values()
                       if all(_test(doc, flt) for flt in where))


def _value(row: tuple[str, dict], field: str):
    """A field of a queried document, as the caller sees it (its id under "id")."""
    return row[0] if field == "id" else row[1].get(field)


def _after(row: tuple[str, dict], order_by, cursor) -> bool:
    """Whether the document sorts after the cursor's values under `order_by`."""
    for (field, direction), value in zip(order_by, cursor, strict=True):
        have = _value(row, field)
        if have == value:
            continue
        return have > value if direction == "asc" else have < value
    return False
