"""The DocumentStore contract (shared/ports.py), held by the in-memory fake and by the
Firestore adapter on the emulator alike."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.adapters.memory_store import MemoryStore
from shared.ports import AnyOf, DocumentStore


@pytest.fixture(params=["memory", "firestore"])
def store(request) -> DocumentStore:
    if request.param == "memory":
        return MemoryStore()
    return request.getfixturevalue("firestore_store")


@pytest.fixture
def people(store) -> DocumentStore:
    rows = [
        ("ann", {"name": "Ann", "age": 31, "team": "red", "tags": ["admin", "ops"]}),
        ("bob", {"name": "Bob", "age": 25, "team": "blue", "tags": ["ops"]}),
        ("cid", {"name": "Cid", "age": 47, "team": "red", "tags": []}),
        ("dee", {"name": "Dee", "age": 25, "team": "green", "tags": ["dev"]}),
    ]
    for doc_id, data in rows:
        store.put("people", doc_id, data)
    return store


def ids(docs: list[dict]) -> list[str]:
    return [d["id"] for d in docs]


def test_get_returns_the_document_with_its_id_or_none(store):
    assert store.get("things", "a") is None
    store.put("things", "a", {"n": 1, "nested": {"x": [1, 2]}})
    assert store.get("things", "a") == {"id": "a", "n": 1, "nested": {"x": [1, 2]}}


def test_create_does_not_overwrite(store):
    assert store.create("things", "a", {"n": 1}) is True
    assert store.create("things", "a", {"n": 2}) is False
    assert store.get("things", "a") == {"id": "a", "n": 1}


def test_put_replaces_the_whole_document(store):
    store.put("things", "a", {"n": 1, "old": True})
    store.put("things", "a", {"n": 2})
    assert store.get("things", "a") == {"id": "a", "n": 2}


def test_update_merges_changes(store):
    store.put("things", "a", {"n": 1, "keep": "yes"})
    assert store.update("things", "a", {"n": 2, "new": None}) is True
    assert store.get("things", "a") == {"id": "a", "n": 2, "keep": "yes", "new": None}


def test_update_of_a_missing_document_is_false_and_writes_nothing(store):
    assert store.update("things", "nope", {"n": 1}) is False
    assert store.update("things", "nope", {"n": 1}, when={"n": None}) is False
    assert store.get("things", "nope") is None


def test_update_when_equal(store):
    store.put("jobs", "j", {"status": "queued"})
    assert store.update("jobs", "j", {"status": "sent"}, when={"status": "running"}) is False
    assert store.get("jobs", "j")["status"] == "queued"
    assert store.update("jobs", "j", {"status": "sent"}, when={"status": "queued"}) is True
    assert store.get("jobs", "j")["status"] == "sent"


def test_update_when_none_means_missing_or_null(store):
    store.put("jobs", "missing", {"status": "queued"})
    store.put("jobs", "null", {"status": "queued", "claimed_by": None})
    store.put("jobs", "taken", {"status": "queued", "claimed_by": "shard-1"})
    for doc_id in ("missing", "null", "taken"):
        won = store.update("jobs", doc_id, {"claimed_by": "shard-2"},
                           when={"status": "queued", "claimed_by": None})
        assert won is (doc_id != "taken"), doc_id
    assert store.get("jobs", "taken")["claimed_by"] == "shard-1"
    assert store.get("jobs", "missing")["claimed_by"] == "shard-2"


def test_update_when_any_of(store):
    store.put("jobs", "j", {"status": "sent"})
    assert store.update("jobs", "j", {"status": "read"}, when={"status": AnyOf(["queued"])}) is False
    assert store.update("jobs", "j", {"status": "read"},
                        when={"status": AnyOf(s for s in ("sent", "delivered"))}) is True
    assert store.get("jobs", "j")["status"] == "read"


def test_delete(store):
    store.put("things", "a", {"n": 1})
    assert store.delete("things", "a") is True
    assert store.get("things", "a") is None
    assert store.delete("things", "a") is False


def test_collections_are_separate(store):
    store.put("one", "a", {"n": 1})
    assert store.get("two", "a") is None
    assert store.query("two") == []


@pytest.mark.parametrize(("where", "expected"), [
    ([], {"ann", "bob", "cid", "dee"}),
    ([("team", "==", "red")], {"ann", "cid"}),
    ([("team", "in", ["blue", "green"])], {"bob", "dee"}),
    ([("age", "<", 31)], {"bob", "dee"}),
    ([("age", ">=", 31)], {"ann", "cid"}),
    ([("age", ">", 25), ("age", "<=", 31)], {"ann"}),
    ([("team", "!=", "red")], {"bob", "dee"}),
    ([("tags", "array_contains", "ops")], {"ann", "bob"}),
    ([("tags", "array_contains_any", ["ops", "nobody"])], {"ann", "bob"}),
    ([("team", "==", "red"), ("tags", "array_contains_any", ["dev", "admin"])], {"ann"}),
    ([("team", "==", "red"), ("tags", "array_contains", "admin")], {"ann"}),
    ([("team", "==", "nobody")], set()),
])
def test_query_filters(people, where, expected):
    assert set(ids(people.query("people", where))) == expected


def test_query_returns_whole_documents(people):
    assert people.query("people", [("name", "==", "Bob")]) == [
        {"id": "bob", "name": "Bob", "age": 25, "team": "blue", "tags": ["ops"]}]


def test_query_order_and_limit(people):
    assert ids(people.query("people", order_by=[("name", "asc")])) == ["ann", "bob", "cid", "dee"]
    assert ids(people.query("people", order_by=[("name", "desc")])) == ["dee", "cid", "bob", "ann"]
    assert ids(people.query("people", order_by=[("age", "desc"), ("name", "asc")])) == [
        "cid", "ann", "bob", "dee"]
    assert ids(people.query("people", order_by=[("age", "asc"), ("name", "desc")], limit=2)) == [
        "dee", "bob"]
    assert ids(people.query("people", [("team", "==", "red")], order_by=[("age", "asc")],
                            limit=1)) == ["ann"]
    assert len(people.query("people", limit=3)) == 3


def test_datetimes_round_trip_as_aware_utc(store):
    when = datetime(2025, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
    store.put("things", "a", {"at": when, "later": [when + timedelta(hours=1)]})
    doc = store.get("things", "a")
    assert doc["at"] == when
    assert doc["at"].utcoffset() == timedelta(0)
    assert doc["later"][0] == when + timedelta(hours=1)


def test_datetimes_compare_in_queries(store):
    base = datetime(2025, 1, 1, tzinfo=UTC)
    for i in range(3):
        store.put("events", f"e{i}", {"at": base + timedelta(minutes=i)})
    later = store.query("events", [("at", ">=", base + timedelta(minutes=1))],
                        order_by=[("at", "desc")])
    assert ids(later) == ["e2", "e1"]
    # an aware datetime in another zone is the same instant
    plus_two = (base + timedelta(minutes=1)).astimezone(timezone(timedelta(hours=2)))
    assert ids(store.query("events", [("at", "==", plus_two)])) == ["e1"]


def race(threads: int, attempt) -> list[bool | BaseException]:
    """Runs attempt(i) in `threads` threads released at once; their answers or errors."""
    results: list[bool | BaseException] = []
    start = threading.Barrier(threads)

    def run(i: int) -> None:
        start.wait()
        try:
            results.append(attempt(i))
        except BaseException as exc:  # noqa: BLE001 - reported by the caller's assertion
            results.append(exc)

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    return results


@pytest.mark.emulator
@pytest.mark.parametrize("threads", [10, 30])
def test_only_one_of_many_racing_conditional_updates_wins(firestore_store, threads):
    store = firestore_store
    store.put("messages", "m", {"status": "queued", "claimed_by": None})
    results = race(threads, lambda i: store.update(
        "messages", "m", {"claimed_by": f"shard-{i}"}, when={"status": "queued", "claimed_by": None}))
    assert sorted(map(repr, results)) == ["False"] * (threads - 1) + ["True"]
    winner = store.get("messages", "m")["claimed_by"]
    assert winner.startswith("shard-")


@pytest.mark.emulator
def test_racing_updates_without_conditions_all_apply(firestore_store):
    store = firestore_store
    store.put("counters", "c", {"n": 0})
    results = race(10, lambda i: store.update("counters", "c", {f"k{i}": i}))
    assert results == [True] * 10
    assert store.get("counters", "c") == {"id": "c", "n": 0} | {f"k{i}": i for i in range(10)}


@pytest.mark.emulator
def test_only_one_of_many_racing_deletes_reports_it(firestore_store):
    store = firestore_store
    store.put("things", "a", {"n": 1})
    results = race(10, lambda i: store.delete("things", "a"))
    assert sorted(map(repr, results)) == ["False"] * 9 + ["True"]
    assert store.get("things", "a") is None


# --- Firestore semantics the in-memory fake copies ---------------------------------------
# Not in the port's docstrings, but production code on Firestore sees them; a fake that
# differed would let unit tests pass on behaviour that production does not have.


@pytest.fixture(params=["memory", "firestore"])
def strict_store(request) -> DocumentStore:
    if request.param == "memory":
        return MemoryStore()
    return request.getfixturevalue("firestore_store")


@pytest.fixture
def sparse(strict_store) -> DocumentStore:
    strict_store.put("c", "has", {"x": 1})
    strict_store.put("c", "null", {"x": None})
    strict_store.put("c", "missing", {"y": 1})
    return strict_store


def test_filters_and_order_skip_documents_without_the_field(sparse):
    assert ids(sparse.query("c", [("x", "==", None)])) == ["null"]
    assert ids(sparse.query("c", [("x", "!=", 2)])) == ["has"]
    assert ids(sparse.query("c", order_by=[("x", "asc")])) == ["null", "has"]


def test_without_order_by_documents_come_in_id_order(strict_store):
    for doc_id in ("b", "c", "a"):
        strict_store.put("c", doc_id, {})
    assert ids(strict_store.query("c")) == ["a", "b", "c"]


def test_naive_and_zoned_datetimes_come_back_in_utc(strict_store):
    strict_store.put("c", "a", {"naive": datetime(2025, 1, 1, 12),
                                "zoned": datetime(2025, 1, 1, 14, tzinfo=timezone(timedelta(hours=2)))})
    doc = strict_store.get("c", "a")
    assert doc["naive"] == doc["zoned"] == datetime(2025, 1, 1, 12, tzinfo=UTC)
    assert doc["naive"].utcoffset() == doc["zoned"].utcoffset() == timedelta(0)


# --- commit: several writes, all or none ----------------------------------------------


def test_commit_writes_all_of_its_writes(store):
    from shared.ports import Write

    store.put("jobs", "j", {"status": "queued", "n": 1})
    assert store.commit([Write.update("jobs", "j", {"status": "sent"}, when={"status": "queued"}),
                         Write.create("log", "e1", {"job": "j"}),
                         Write.put("other", "o", {"x": 1})])
    assert store.get("jobs", "j") == {"id": "j", "status": "sent", "n": 1}
    assert store.get("log", "e1") == {"id": "e1", "job": "j"}
    assert store.get("other", "o") == {"id": "o", "x": 1}


@pytest.mark.parametrize("guarded", [False, True])
def test_commit_deletes_with_its_other_writes(store, guarded):
    from shared.ports import Guard, Write

    store.put("leases", "dev", {"epoch": 1})
    store.put("chats", "c", {"n": 1})
    guard = Guard("leases", "dev", {"epoch": 1}) if guarded else None
    assert store.commit([Write.delete("chats", "c"), Write.delete("chats", "never"),
                         Write.create("log", "e1", {"deleted": "c"})], guard=guard)
    assert store.get("chats", "c") is None and store.get("log", "e1")
    # a failing write keeps the document
    store.put("chats", "d", {"n": 2})
    assert store.commit([Write.delete("chats", "d"),
                         Write.create("log", "e1", {"again": True})], guard=guard) is False
    assert store.get("chats", "d") == {"id": "d", "n": 2}


@pytest.mark.parametrize("failing", ["when", "missing", "exists"])
def test_commit_writes_nothing_when_one_condition_fails(store, failing):
    from shared.ports import Write

    store.put("jobs", "j", {"status": "queued"})
    store.put("log", "taken", {"old": True})
    bad = {"when": Write.update("jobs", "j", {"status": "sent"}, when={"status": "sent"}),
           "missing": Write.update("jobs", "nope", {"status": "sent"}),
           "exists": Write.create("log", "taken", {"new": True})}[failing]
    assert store.commit([Write.create("log", "e1", {"job": "j"}),
                         Write.update("jobs", "j", {"n": 2}), bad]) is False
    assert store.get("log", "e1") is None
    assert store.get("jobs", "j") == {"id": "j", "status": "queued"}
    assert store.get("log", "taken") == {"id": "taken", "old": True}


def test_commit_with_a_guard(store):
    from shared.ports import Guard, Write

    store.put("leases", "dev", {"epoch": 3})
    store.put("jobs", "j", {"status": "queued"})
    stale = Guard("leases", "dev", {"epoch": 2})
    writes = [Write.update("jobs", "j", {"status": "sent"}, when={"status": "queued"}),
              Write.create("log", "e1", {"job": "j"})]
    assert store.commit(writes, guard=stale) is False
    assert store.get("log", "e1") is None
    assert store.commit(writes, guard=Guard("leases", "dev", {"epoch": 3}))
    assert store.get("jobs", "j")["status"] == "sent" and store.get("log", "e1")
    assert store.commit(writes, guard=Guard("leases", "dev", {"epoch": 3})) is False


def test_commit_time_orders_commits(store):
    from shared.ports import COMMIT_TIME, Write

    for n in range(5):
        assert store.commit([Write.create("log", f"e{n}", {"n": n, "at": COMMIT_TIME})])
    times = [store.get("log", f"e{n}")["at"] for n in range(5)]
    assert all(isinstance(t, datetime) and t.tzinfo is not None for t in times)
    assert times == sorted(times) and len(set(times)) == 5
    store.commit([Write.create("log", "a", {"at": COMMIT_TIME}),
                  Write.create("log", "b", {"at": COMMIT_TIME})])
    assert store.get("log", "a")["at"] == store.get("log", "b")["at"] > times[-1]
    ordered = store.query("log", [("at", ">", times[2])], order_by=[("at", "asc")])
    assert [d["id"] for d in ordered][:2] == ["e3", "e4"]


def test_commit_time_in_a_map_and_in_an_update_is_the_commits_time_and_the_callers_data_stays(store):
    from shared.ports import COMMIT_TIME, Write

    store.put("jobs", "j", {"status": "queued"})
    nested = {"n": 1, "home": {"at": COMMIT_TIME, "deeper": {"at": COMMIT_TIME}}}
    changes = {"status": "sent", "sent": COMMIT_TIME}
    assert store.commit([Write.create("log", "nested", nested), Write.update("jobs", "j", changes)])
    doc, job = store.get("log", "nested"), store.get("jobs", "j")
    at = doc["home"]["at"]
    assert isinstance(at, datetime) and doc["home"]["deeper"]["at"] == at == job["sent"]
    assert nested["home"]["at"] is COMMIT_TIME and changes["sent"] is COMMIT_TIME  # not ours to change
    assert store.commit([Write.create("log", "nested", nested)]) is False  # refused: nothing moves
    assert store.get("log", "nested")["home"]["at"] == at


def test_only_one_of_racing_conditional_commits_wins(store):
    from shared.ports import Write

    store.put("jobs", "j", {"status": "queued"})
    results = []

    def attempt(n):
        results.append(store.commit([
            Write.update("jobs", "j", {"status": "sent", "by": n}, when={"status": "queued"}),
            Write.create("log", f"e{n}", {"by": n})]))

    workers = [threading.Thread(target=attempt, args=(n,)) for n in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert sum(1 for done in results if done) == 1
    winner = store.get("jobs", "j")["by"]
    assert [d["id"] for d in store.query("log")] == [f"e{winner}"]


# Ids Firestore refuses (checked on the emulator): the reserved __…__ form, over 1500
# bytes, `.` and `..`, a `/`, empty, and text that is not UTF-8 (a lone surrogate).
IMPOSSIBLE_IDS = [
    pytest.param("__main__", id="reserved"), pytest.param("__proto__", id="reserved-proto"),
    pytest.param("_____", id="underscores"), pytest.param(".", id="dot"),
    pytest.param("..", id="dot-dot"), pytest.param("a/b", id="slash"),
    pytest.param("", id="empty"), pytest.param("a" * 1501, id="1501-bytes"),
    pytest.param("é" * 751, id="1502-utf8-bytes"), pytest.param("\ud800", id="surrogate"),
]
POSSIBLE_IDS = ["__x", "x__", "____", "a.b", " ", "a" * 1500, "\u200b", "msg_abc"]


@pytest.mark.parametrize("doc_id", IMPOSSIBLE_IDS)
def test_an_impossible_id_is_simply_not_found(store, doc_id):
    from shared.ports import Guard

    store.put("things", "real", {"n": 1})
    assert store.get("things", doc_id) is None
    assert store.update("things", doc_id, {"n": 2}) is False
    assert store.update("things", doc_id, {"n": 2}, when={"n": 1}) is False
    assert store.update("things", "real", {"n": 2}, guard=Guard("things", doc_id, {})) is False
    assert store.delete("things", doc_id) is False
    assert store.get("things", "real") == {"id": "real", "n": 1}


@pytest.mark.parametrize("doc_id", IMPOSSIBLE_IDS)
def test_a_write_under_an_impossible_id_is_refused_as_bad_input(store, doc_id):
    from shared.ports import InvalidDocumentId

    for write in (lambda: store.create("things", doc_id, {"n": 1}),
                  lambda: store.put("things", doc_id, {"n": 1}),
                  lambda: store.increment("things", doc_id, "n"),
                  lambda: store.increment("things", doc_id, "n", maximum=5)):
        with pytest.raises(InvalidDocumentId) as caught:
            write()
        assert caught.value.status == 422
    assert store.query("things") == []


@pytest.mark.parametrize("doc_id", POSSIBLE_IDS)
def test_ids_firestore_takes_work_on_both(store, doc_id):
    assert store.create("things", doc_id, {"n": 1}) is True
    assert store.get("things", doc_id) == {"id": doc_id, "n": 1}
    assert store.delete("things", doc_id) is True


def test_count_matches_the_query_without_reading_it(store):
    for i in range(7):
        store.put("things", f"t{i}", {"kind": "a" if i % 2 else "b", "n": i, "none": None})
    assert store.count("things") == 7
    assert store.count("things", [("kind", "==", "a")]) == 3
    assert store.count("things", [("kind", "==", "b"), ("none", "==", None)]) == 4
    assert store.count("nothing", [("kind", "==", "a")]) == 0


# --- versions: an update conditional on the version a commit answered ------------------


def _version(store, collection: str, doc_id: str, data: dict) -> str:
    from shared.ports import Write

    done = store.commit([Write.put(collection, doc_id, data)])
    version = done.version(collection, doc_id)
    assert isinstance(version, str) and version
    return version


def test_a_commit_answers_the_version_of_each_document_it_wrote(store):
    from shared.ports import Committed, Write

    store.put("jobs", "j", {"status": "queued"})
    store.put("chats", "gone", {"n": 1})
    done = store.commit([Write.update("jobs", "j", {"status": "sent"}, when={"status": "queued"}),
                         Write.create("log", "e1", {"job": "j"}),
                         Write.put("other", "o", {"x": 1}), Write.delete("chats", "gone")])
    assert isinstance(done, Committed) and done
    assert set(done.versions) == {("jobs", "j"), ("log", "e1"), ("other", "o")}
    assert done.version("chats", "gone") is None  # deleted: at no version
    refused = store.commit([Write.create("log", "e1", {"again": True})])
    assert refused is False


def test_an_update_on_its_version_applies_without_a_condition_and_answers_the_next(store):
    from shared.ports import Write

    v1 = _version(store, "jobs", "j", {"status": "queued", "n": 1})
    done = store.commit([Write.update("jobs", "j", {"status": "sent"}, version=v1),
                         Write.create("log", "e1", {"job": "j"})])
    assert done
    v2 = done.version("jobs", "j")
    assert v2 and v2 != v1
    assert store.get("jobs", "j") == {"id": "j", "status": "sent", "n": 1}
    assert store.commit([Write.update("jobs", "j", {"status": "read"}, version=v2)])
    assert store.get("jobs", "j")["status"] == "read"


@pytest.mark.parametrize("writer", ["update", "put", "commit", "increment", "conditional"])
def test_a_stale_version_is_refused_and_nothing_of_its_commit_written(store, writer):
    from shared.ports import Write

    v1 = _version(store, "jobs", "j", {"status": "queued", "n": 1})
    {"update": lambda: store.update("jobs", "j", {"status": "cancelled"}),
     "put": lambda: store.put("jobs", "j", {"status": "cancelled", "n": 1}),
     "commit": lambda: store.commit([Write.update("jobs", "j", {"status": "cancelled"})]),
     "increment": lambda: store.increment("jobs", "j", "n"),
     "conditional": lambda: store.update("jobs", "j", {"status": "cancelled"},
                                         when={"status": "queued"})}[writer]()
    before = store.get("jobs", "j")
    assert store.commit([Write.update("jobs", "j", {"status": "sent"}, version=v1),
                         Write.create("log", "e1", {"job": "j"})]) is False
    assert store.get("jobs", "j") == before
    assert store.get("log", "e1") is None


def test_a_version_of_another_document_is_refused(store):
    from shared.ports import Write

    # written in one commit: on Firestore both have the same update time
    done = store.commit([Write.put("jobs", "a", {"n": 1}), Write.put("jobs", "b", {"n": 1}),
                         Write.put("tasks", "a", {"n": 1})])
    of_a = done.version("jobs", "a")
    assert store.commit([Write.update("jobs", "b", {"n": 2}, version=of_a)]) is False
    assert store.commit([Write.update("tasks", "a", {"n": 2}, version=of_a)]) is False
    assert store.get("jobs", "b")["n"] == 1 and store.get("tasks", "a")["n"] == 1
    assert store.commit([Write.update("jobs", "a", {"n": 2}, version=of_a)])


def test_a_version_from_before_a_delete_is_refused(store):
    from shared.ports import Write

    v1 = _version(store, "jobs", "j", {"n": 1})
    assert store.delete("jobs", "j")
    assert store.commit([Write.update("jobs", "j", {"n": 2}, version=v1)]) is False
    assert store.get("jobs", "j") is None  # an update never creates
    store.put("jobs", "j", {"n": 1})  # the same document again: a new version
    assert store.commit([Write.update("jobs", "j", {"n": 2}, version=v1)]) is False
    assert store.get("jobs", "j") == {"id": "j", "n": 1}


def test_a_version_with_a_guard(store):
    from shared.ports import Guard, Write

    store.put("leases", "dev", {"epoch": 3})
    v1 = _version(store, "jobs", "j", {"status": "queued"})
    stale_guard = Guard("leases", "dev", {"epoch": 2})
    held = Guard("leases", "dev", {"epoch": 3})
    claim = [Write.update("jobs", "j", {"claimed_by": "a"}, version=v1),
             Write.create("log", "e1", {"job": "j"})]
    assert store.commit(claim, guard=stale_guard) is False
    assert store.get("jobs", "j") == {"id": "j", "status": "queued"}
    done = store.commit(claim, guard=held)
    assert done and done.version("jobs", "j") not in (None, v1)
    assert store.get("jobs", "j")["claimed_by"] == "a" and store.get("log", "e1")
    again = [Write.update("jobs", "j", {"claimed_by": "b"}, version=v1)]
    assert store.commit(again, guard=held) is False  # its version is gone: refused, not Aborted
    assert store.get("jobs", "j")["claimed_by"] == "a"


def test_a_stale_version_beside_a_holding_condition_is_refused(store):
    from shared.ports import Write

    store.put("jobs", "other", {"status": "queued"})
    v1 = _version(store, "jobs", "j", {"n": 1})
    store.update("jobs", "j", {"n": 5})
    assert store.commit([Write.update("jobs", "other", {"status": "sent"}, when={"status": "queued"}),
                         Write.update("jobs", "j", {"n": 2}, version=v1)]) is False
    assert store.get("jobs", "other")["status"] == "queued" and store.get("jobs", "j")["n"] == 5


def test_a_version_is_the_condition_of_an_update_only():
    from shared.ports import Write

    with pytest.raises(ValueError):
        Write.update("jobs", "j", {"n": 1}, when={"n": 0}, version="v")
    with pytest.raises(ValueError):
        Write("create", "jobs", "j", {"n": 1}, version="v")


@pytest.mark.parametrize("guarded", [False, True])
def test_only_one_of_many_racing_writes_on_one_version_wins(store, guarded):
    from shared.ports import Guard, Write

    store.put("leases", "dev", {"epoch": 1})
    v1 = _version(store, "messages", "m", {"status": "queued", "claimed_by": None})
    guard = Guard("leases", "dev", {"epoch": 1}) if guarded else None
    results = []

    def attempt(n):
        results.append((n, store.commit([
            Write.update("messages", "m", {"claimed_by": f"shard-{n}"}, version=v1),
            Write.create("log", f"e{n}", {"by": n})], guard=guard)))

    workers = [threading.Thread(target=attempt, args=(n,)) for n in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    won = [n for n, done in results if done]
    assert len(won) == 1 and all(done is False for n, done in results if n != won[0])
    assert store.get("messages", "m")["claimed_by"] == f"shard-{won[0]}"
    assert [d["id"] for d in store.query("log")] == [f"e{won[0]}"]


def test_a_refused_transaction_answers_false_even_behind_a_failed_rollback():
    """The library rolls a failed transaction back and chains the rollback's own error to
    the commit's: the refusal under it still answers False (else a stale version would
    raise, and its send be retried on it for ever)."""
    from google.api_core import exceptions as gexc

    from shared.adapters.firestore_store import _refused

    try:
        try:
            raise gexc.FailedPrecondition("the document is not at that update time")
        except gexc.FailedPrecondition:
            raise gexc.InvalidArgument("rollback: the transaction has ended") from None
    except gexc.InvalidArgument as masked:
        assert masked.__context__ is not None
        assert _refused(masked)
    assert not _refused(gexc.ServiceUnavailable("the store is out of reach"))
