"""The listing bench's store: MemoryStore with the ordered indexes Firestore would answer
the listing queries from, so that a page's time is our code's and an index seek's, as it
is on Firestore, rather than a scan of every document (MemoryStore.query filters and
sorts the whole collection). Bench only; the production stores are untouched.

- `OrderedIndex(collection, equal, order_by)`: documents grouped by the values of the
  `equal` fields, each group sorted by `order_by` (all ascending or all descending). A
  query whose filters are equalities on exactly those fields (plus, at most, a `<` or `>`
  on the first ordered field) and whose order is `order_by` is answered from it, with
  its cursor (`start_after`) and limit by bisection.
- `("id", "in", [...])` with other equalities is answered by key look-ups (Firestore's
  document-name `in`).
- `bulk_put` stores prepared documents fast (the fill of a million messages); any other
  write to an indexed collection drops its indexes, and queries scan again: never a stale
  answer."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from shared.adapters.memory_store import MemoryStore


@dataclass
class OrderedIndex:
    collection: str
    equal: tuple[str, ...]
    order_by: tuple[tuple[str, str], ...]
    groups: dict[tuple, list[tuple]] = field(default_factory=dict)  # values -> sorted keys
    ids: dict[tuple, list[str]] = field(default_factory=dict)

    def add_sorted(self, rows: list[tuple[str, dict]]) -> None:
        ordered = [f for f, _ in self.order_by]
        pairs: dict[tuple, list[tuple]] = {}
        for doc_id, doc in rows:
            # documents lacking a field are left out, as from MemoryStore's answers ("id"
            # included, though its value is the document's id)
            try:
                key = tuple([doc_id if f == "id" else doc[f] for f in ordered])
                group = tuple([doc[f] for f in self.equal])
            except KeyError:
                continue
            if "id" in ordered and "id" not in doc:
                continue
            pairs.setdefault(group, []).append((key, doc_id))
        for group, found in pairs.items():
            found.sort()
            self.groups[group] = [key for key, _ in found]
            self.ids[group] = [doc_id for _, doc_id in found]

    def answers(self, where, order_by) -> bool:
        if tuple(tuple(o) for o in order_by) != self.order_by:
            return False
        equal = sorted(f for f, op, _ in where if op == "==")
        ranges = [(f, op) for f, op, _ in where if op != "=="]
        return equal == sorted(self.equal) and all(
            f == self.order_by[0][0] and op in ("<", ">") for f, op in ranges) and \
            len(ranges) <= 1

    def find(self, where, limit, start_after) -> list[str]:
        values = {f: v for f, op, v in where if op == "=="}
        group = tuple(values[f] for f in self.equal)
        keys, ids = self.groups.get(group, []), self.ids.get(group, [])
        low, high = 0, len(keys)
        for _, op, v in where:
            if op == "<":
                high = min(high, bisect.bisect_left(keys, (v,)))
            elif op == ">":
                low = max(low, bisect.bisect_right(keys, (v, _Top())))
        descending = self.order_by[0][1] == "desc"
        if start_after is not None:
            cut = tuple(start_after)
            if descending:
                high = min(high, bisect.bisect_left(keys, cut))
            else:
                low = max(low, bisect.bisect_right(keys, cut))
        if descending:
            start = low if limit is None else max(low, high - limit)
            return ids[start:high][::-1]
        return ids[low:high if limit is None else min(high, low + limit)]


class _Top:
    """Sorts after every value (the upper bound of a key's first field)."""

    def __lt__(self, other):
        return False

    def __gt__(self, other):
        return True


class PagedStore(MemoryStore):
    def __init__(self, indexes: list[OrderedIndex]):
        super().__init__()
        self.indexes = indexes

    def bulk_put(self, collection: str, rows: list[tuple[str, dict]]) -> None:
        """Documents already as stored (UTC datetimes, plain values), none of them there
        before, then the collection's indexes built anew."""
        with self._lock:
            docs = self._data.setdefault(collection, {})
            docs.update(rows)
            for index in self.indexes:
                if index.collection == collection:
                    index.groups.clear()
                    index.ids.clear()
                    index.add_sorted(list(docs.items()))

    def _written(self, collection: str) -> None:
        self.indexes = [i for i in self.indexes if i.collection != collection]

    def commit(self, writes, *, guard=None):
        for w in writes:
            self._written(w.collection)
        return super().commit(writes, guard=guard)

    def create(self, collection, doc_id, data):
        self._written(collection)
        return super().create(collection, doc_id, data)

    def put(self, collection, doc_id, data):
        self._written(collection)
        super().put(collection, doc_id, data)

    def update(self, collection, doc_id, changes, *, when=None, guard=None):
        self._written(collection)
        return super().update(collection, doc_id, changes, when=when, guard=guard)

    def delete(self, collection, doc_id):
        self._written(collection)
        return super().delete(collection, doc_id)

    def increment(self, collection, doc_id, field, by=1, *, maximum=None, extra=None):
        self._written(collection)
        return super().increment(collection, doc_id, field, by, maximum=maximum, extra=extra)

    def query(self, collection, where=(), order_by=(), limit=None, start_after=None):
        keyed = [v for f, op, v in where if f == "id" and op == "in"]
        if keyed and all(op == "==" for f, op, _ in where if f != "id") and not order_by:
            rest = [(f, v) for f, op, v in where if f != "id"]
            found = [doc for doc in (self.get(collection, i) for i in keyed[0])
                     if doc is not None and all(doc.get(f) == v for f, v in rest)]
            return found[:limit] if limit is not None else found
        for index in self.indexes:
            if index.collection == collection and index.answers(where, order_by):
                with self._lock:
                    ids = index.find(where, limit, start_after)
                return [self.get(collection, doc_id) for doc_id in ids]
        return super().query(collection, where, order_by, limit, start_after)
