"""The listing bench's indexed store (bench/paged_store.py) answers every query it
serves from an index exactly as MemoryStore's scan does: pages by cursor in both
directions, a bound on the ordered field, key look-ups; and after any other write it
scans again rather than answer from a stale index."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from bench.paged_store import OrderedIndex, PagedStore
from shared.adapters.memory_store import MemoryStore

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def _stores():
    rng = random.Random(3)
    rows = []
    for n in range(400):
        rows.append((f"m{n:04d}", {"id": f"m{n:04d}", "account_id": f"acc_{n % 3}", "status": "read",
                                   # ties on purpose: the id orders them
                                   "created_at": EPOCH + timedelta(seconds=rng.randrange(100)),
                                   "thread": f"thr_{n % 4}", "seq": n // 4 + 1}))
    plain = MemoryStore()
    for doc_id, doc in rows:
        plain.put("messages", doc_id, doc)
    paged = PagedStore([
        OrderedIndex("messages", ("account_id",), (("created_at", "desc"), ("id", "desc"))),
        OrderedIndex("messages", ("thread",), (("seq", "desc"),)),
        OrderedIndex("messages", ("account_id", "status"), (("created_at", "asc"), ("id", "asc")))])
    paged.bulk_put("messages", [(doc_id, dict(doc)) for doc_id, doc in rows])
    return plain, paged


def _pages(store, where, order_by, limit):
    """Every page by cursor; the cursor is the last document's ordered values."""
    pages, after = [], None
    while True:
        page = store.query("messages", where, order_by=order_by, limit=limit, start_after=after)
        if not page:
            return pages
        pages.append([d["id"] for d in page])
        after = [page[-1][f] for f, _ in order_by]


def test_paged_queries_answer_as_the_scan_does():
    plain, paged = _stores()
    shapes = [
        ([("account_id", "==", "acc_1")], [("created_at", "desc"), ("id", "desc")], 7),
        ([("account_id", "==", "acc_2"), ("status", "==", "read")],
         [("created_at", "asc"), ("id", "asc")], 11),
        ([("thread", "==", "thr_3")], [("seq", "desc")], 9),
        ([("thread", "==", "thr_0"), ("seq", "<", 40)], [("seq", "desc")], 5),
        ([("thread", "==", "thr_0"), ("seq", ">", 60)], [("seq", "desc")], 5),
        ([("account_id", "==", "acc_9")], [("created_at", "desc"), ("id", "desc")], 5),
    ]
    for where, order_by, limit in shapes:
        assert _pages(paged, where, order_by, limit) == _pages(plain, where, order_by, limit), where
        assert paged.query("messages", where, order_by=order_by) == \
            plain.query("messages", where, order_by=order_by)
    keyed = [("account_id", "==", "acc_1"), ("id", "in", ["m0001", "m0002", "m0004", "nope"])]
    assert sorted(d["id"] for d in paged.query("messages", keyed)) == \
        sorted(d["id"] for d in plain.query("messages", keyed)) == ["m0001", "m0004"]


def test_any_other_write_drops_the_indexes_of_its_collection():
    plain, paged = _stores()
    where, order_by = [("account_id", "==", "acc_1")], [("created_at", "desc"), ("id", "desc")]
    for store in (plain, paged):
        store.update("messages", "m0001", {"created_at": EPOCH + timedelta(days=1)})
        store.put("messages", "m9999", {"id": "m9999", "account_id": "acc_1", "status": "read",
                                        "created_at": EPOCH + timedelta(days=2)})
        store.delete("messages", "m0004")
    assert paged.indexes == []
    assert _pages(paged, where, order_by, 10) == _pages(plain, where, order_by, 10)
    assert _pages(paged, where, order_by, 10)[0][:2] == ["m9999", "m0001"]
