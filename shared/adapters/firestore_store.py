"""DocumentStore over the google-cloud-firestore client (the emulator locally)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from google.api_core import exceptions as gexc
from google.api_core.datetime_helpers import DatetimeWithNanoseconds
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.ports import (
    COMMIT_TIME,
    AnyOf,
    Committed,
    DocumentStore,
    Filter,
    Guard,
    Write,
    check_document_id,
    document_id_problem,
)

_CAS_ATTEMPTS = 50
_DIRECTIONS = {"asc": firestore.Query.ASCENDING, "desc": firestore.Query.DESCENDING}


def _matches(value, expected) -> bool:
    if isinstance(expected, AnyOf):
        return value in expected
    return value == expected


def _holds(snap, when: dict) -> bool:
    """Whether a snapshot's document exists and its fields match `when`."""
    return snap is not None and snap.exists and all(
        _matches(snap.to_dict().get(f), v) for f, v in when.items())


def _stage(target, op: str, ref, data: dict, **options) -> None:
    """One write of a commit into a batch or a transaction (they take the same calls);
    `options` go with an update."""
    if op == "create":
        target.create(ref, data)
    elif op == "put":
        target.set(ref, data)
    elif op == "delete":
        target.delete(ref)
    elif op == "update":
        target.update(ref, data, **options)  # without a precondition: the document must exist
    else:
        raise ValueError(f"unknown write {op!r}")


def _path_tag(ref) -> str:
    return hashlib.blake2b(ref.path.encode(), digest_size=8).hexdigest()


def _version(ref, update_time) -> str:
    """A document's version (Committed): its update time, with a tag of its path so that
    a version of another document (one written in the same commit has the same time) is
    never taken for one of this document."""
    return f"{_path_tag(ref)}@{update_time.rfc3339()}"


def _update_time(ref, version: str) -> DatetimeWithNanoseconds | None:
    """The update time a version of `ref` names; None when it is not one of its versions."""
    tag, _, stamp = version.partition("@")
    if tag != _path_tag(ref):
        return None
    try:
        return DatetimeWithNanoseconds.from_rfc3339(stamp)
    except ValueError:
        return None


def _committed(writes, refs, results) -> Committed:
    """The versions of a commit's documents, from its write results (in the order of its
    writes: one each). Deleted documents have none."""
    results = list(results or ())
    if len(results) != len(refs):
        return Committed()  # not one result a write: no versions rather than wrong ones
    return Committed({(w.collection, w.doc_id): _version(ref, result.update_time)
                      for w, ref, result in zip(writes, refs, results, strict=True)
                      if w.op != "delete"})


_REFUSALS = (gexc.AlreadyExists, gexc.NotFound, gexc.FailedPrecondition)


def _refused(exc: BaseException) -> bool:
    """Whether a transaction failed because its commit was refused (a create's document
    exists, an update's is missing or not at its version). The library rolls a failed
    transaction back and chains an error of the rollback to the commit's (__context__):
    the refusal is looked for along that chain, so a refusal always answers False."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, _REFUSALS):
            return True
        seen = seen.__context__
    return False


def _server(value):
    """COMMIT_TIME as Firestore's server timestamp (the commit's time)."""
    if value is COMMIT_TIME:
        return firestore.SERVER_TIMESTAMP
    if isinstance(value, dict):
        return {key: _server(item) for key, item in value.items()}
    return value


class FirestoreStore(DocumentStore):
    def __init__(self, client: firestore.Client, prefix: str = ""):
        self._client = client
        self._prefix = prefix

    def _col(self, collection: str):
        return self._client.collection(self._prefix + collection)

    def get(self, collection, doc_id):
        if document_id_problem(doc_id):
            return None  # no document can have it: Firestore would refuse the read
        snap = self._col(collection).document(doc_id).get()
        return None if not snap.exists else snap.to_dict() | {"id": doc_id}

    def get_many(self, collection, doc_ids):
        found: dict[str, dict] = {}
        ids = [doc_id for doc_id in dict.fromkeys(doc_ids) if not document_id_problem(doc_id)]
        for start in range(0, len(ids), 300):  # a batched get per 300
            refs = [self._col(collection).document(doc_id) for doc_id in ids[start:start + 300]]
            for snap in self._client.get_all(refs):
                if snap.exists:
                    found[snap.id] = snap.to_dict() | {"id": snap.id}
        return found

    def create(self, collection, doc_id, data):
        check_document_id(doc_id)
        try:
            self._col(collection).document(doc_id).create(_server(data))
            return True
        except gexc.AlreadyExists:
            return False

    def put(self, collection, doc_id, data):
        check_document_id(doc_id)
        self._col(collection).document(doc_id).set(_server(data))

    def update(self, collection, doc_id, changes, *, when=None, guard=None):
        if document_id_problem(doc_id) or (guard and document_id_problem(guard.doc_id)):
            return False
        ref = self._col(collection).document(doc_id)
        if guard is not None:
            return self._guarded_update(ref, changes, when or {}, guard)
        if not when:
            try:
                ref.update(changes)
                return True
            except gexc.NotFound:
                return False
        # Compare-and-set: write only if the document is still the version we checked.
        # (A transaction here holds a lock per reader; under contention the losers ran out
        # of attempts and raised instead of answering False.)
        for _ in range(_CAS_ATTEMPTS):
            snap = ref.get()
            if not snap.exists:
                return False
            doc = snap.to_dict()
            if not all(_matches(doc.get(field), expected) for field, expected in when.items()):
                return False
            try:
                ref.update(changes, option=self._client.write_option(last_update_time=snap.update_time))
                return True
            except gexc.NotFound:
                return False
            except gexc.FailedPrecondition:
                continue  # written meanwhile: check the condition again
        raise gexc.Aborted(f"{collection}/{doc_id} kept changing during a conditional update")

    def _guarded_update(self, ref, changes, when: dict, guard) -> bool:
        """Both documents read in one transaction: Firestore aborts and retries it if
        either changes before the commit, so the guard holds at the moment of the write."""
        fence_ref = self._col(guard.collection).document(guard.doc_id)

        @firestore.transactional
        def apply(tx) -> bool:
            snap, fence = ref.get(transaction=tx), fence_ref.get(transaction=tx)
            if not snap.exists or not fence.exists:
                return False
            doc, fenced = snap.to_dict(), fence.to_dict()
            if not all(_matches(doc.get(f), v) for f, v in when.items()):
                return False
            if not all(_matches(fenced.get(f), v) for f, v in guard.when.items()):
                return False
            tx.update(ref, changes)
            return True

        return apply(self._client.transaction())

    def commit(self, writes, *, guard: Guard | None = None):
        """One batch (an atomic commit). Updates with a `when` are checked against a read
        first and committed with that version as a precondition (compare-and-set, as
        `update`); updates with a `version` are sent with it as the precondition, unread.
        With a guard the reads and the writes are one transaction instead. The answer's
        versions are the commit's write results (their update times)."""
        writes = list(writes)
        for w in writes:
            check_document_id(w.doc_id)
        refs = [self._col(w.collection).document(w.doc_id) for w in writes]
        stamps = {}  # write => the update time its version names
        for i, w in enumerate(writes):
            if w.version is not None:
                stamps[i] = _update_time(refs[i], w.version)
                if stamps[i] is None:
                    return False  # another document's version: it cannot be at it
        if guard is not None:
            return self._commit_guarded(writes, refs, stamps, guard)
        cas = [i for i, w in enumerate(writes) if w.op == "update" and w.when]
        failed_at = None  # the cas documents' update times when a precondition failed
        for _ in range(_CAS_ATTEMPTS):
            snaps = self._snapshots([refs[i] for i in cas])
            read_at = {path: snap.update_time for path, snap in snaps.items()}
            if failed_at is not None and read_at == failed_at:
                return False  # the cas documents did not change: a version's was the failure
            batch = self._client.batch()
            for i, w in enumerate(writes):
                options = {}
                if i in cas:  # a conditional update: on the version read
                    snap = snaps.get(refs[i].path)
                    if not _holds(snap, w.when):
                        return False
                    options["option"] = self._client.write_option(
                        last_update_time=snap.update_time)
                elif i in stamps:  # a versioned update: on the version the caller had
                    options["option"] = self._client.write_option(last_update_time=stamps[i])
                _stage(batch, w.op, refs[i], _server(w.data), **options)
            try:
                results = batch.commit()
            except (gexc.AlreadyExists, gexc.NotFound):
                return False
            except gexc.FailedPrecondition:
                # A versioned document is no longer at its version, or a conditional one
                # was written meanwhile: the next pass reads the conditional ones again,
                # and answers False if they did not change.
                failed_at = read_at
                continue
            return _committed(writes, refs, results)
        raise gexc.Aborted("documents kept changing during a conditional commit")

    def _snapshots(self, refs) -> dict:
        if not refs:
            return {}
        return {snap.reference.path: snap for snap in self._client.get_all(refs)}

    def _commit_guarded(self, writes: list[Write], refs: list, stamps: dict,
                        guard: Guard) -> Committed | bool:
        fence_ref = self._col(guard.collection).document(guard.doc_id)

        @firestore.transactional
        def apply(tx) -> bool:
            if not _holds(fence_ref.get(transaction=tx), guard.when):
                return False
            for w, ref in zip(writes, refs, strict=True):
                if w.op == "update" and w.when and not _holds(ref.get(transaction=tx), w.when):
                    return False
            for i, (w, ref) in enumerate(zip(writes, refs, strict=True)):
                options = {}
                if i in stamps:  # unread: the commit checks the version
                    options["option"] = self._client.write_option(last_update_time=stamps[i])
                _stage(tx, w.op, ref, _server(w.data), **options)
            return True

        tx = self._client.transaction()
        try:
            if not apply(tx):
                return False
        except Exception as exc:
            if _refused(exc):
                return False
            raise
        return _committed(writes, refs, tx.write_results)  # set by the transaction's commit

    def delete(self, collection, doc_id):
        if document_id_problem(doc_id):
            return False
        try:  # one call, so that of two racing deletes only one answers True
            self._col(collection).document(doc_id).delete(option=self._client.write_option(exists=True))
            return True
        except gexc.NotFound:
            return False

    def query(self, collection, where: Sequence[Filter] = (), order_by=(), limit=None,
              start_after=None):
        q = self._query(collection, where, order_by, limit, start_after)
        return [snap.to_dict() | {"id": snap.id} for snap in q.stream()]

    def count(self, collection, where: Sequence[Filter] = ()):
        """A count aggregation: billed as one read per 1000 documents counted."""
        [[result]] = self._query(collection, where, (), None, None).count().get()
        return int(result.value)

    def watch(self, collection, where, order_by, limit, on_change):
        """A Firestore listener (one gRPC stream and its thread): a read per change seen."""
        def changed(_snapshots, _changes, _read_time):
            on_change()

        return self._query(collection, where, order_by, limit, None).on_snapshot(changed).unsubscribe

    def _query(self, collection, where, order_by, limit, start_after):
        q = self._col(collection)
        for field, op, value in where:
            listed = op in ("in", "array_contains_any")
            q = q.where(filter=FieldFilter(field, op, list(value) if listed else value))
        for field, direction in order_by:
            q = q.order_by(field, direction=_DIRECTIONS[direction])
        if start_after is not None:
            q = q.start_after({field: value for (field, _), value
                               in zip(order_by, start_after, strict=True)})
        if limit is not None:
            q = q.limit(limit)
        return q

    def increment(self, collection, doc_id, field, by=1, *, maximum=None, extra=None):
        check_document_id(doc_id)
        ref = self._col(collection).document(doc_id)
        if maximum is None:
            # One write with a server-side transform, no transaction: the commit answers
            # with the field's value after the increment.
            result = ref.set((extra or {}) | {field: firestore.Increment(by)}, merge=True)
            return int(result.transform_results[0].integer_value)
        # Compare-and-set on the document's update time: counter shards see contention by
        # design, and optimistic writes answer where transactions would queue on locks.
        for _ in range(_CAS_ATTEMPTS):
            snap = ref.get()
            value = ((snap.to_dict() or {}).get(field) or 0 if snap.exists else 0) + by
            if value > maximum:
                return None
            data = (extra or {}) | {field: value}
            try:
                if snap.exists:
                    ref.update(data,
                               option=self._client.write_option(last_update_time=snap.update_time))
                else:
                    ref.create(data)
                return value
            except (gexc.FailedPrecondition, gexc.AlreadyExists, gexc.NotFound):
                continue  # written meanwhile: read it again
        raise gexc.Aborted(f"{collection}/{doc_id} kept changing during an increment")
