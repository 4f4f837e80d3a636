"""Ports: small abstract classes that adapters implement and tests fake."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from shared.errors import ValidationFailed

if TYPE_CHECKING:
    from pydantic import BaseModel

    from shared.domain import Event, FailureReason

# A filter is (field, op, value); op is one of OPS.
Filter = tuple[str, str, Any]
OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "array_contains", "array_contains_any")


class AnyOf(tuple):
    """A condition value meaning "the field equals one of these"."""


@dataclass(frozen=True)
class Guard:
    """A condition on another document, checked in the same atomic step as a write: the
    write happens only if `collection/doc_id` exists and matches `when` (a fencing token,
    e.g. the device's lease epoch)."""

    collection: str
    doc_id: str
    when: dict


MAX_DOCUMENT_ID_BYTES = 1500
_RESERVED_ID = re.compile(r"__.+__", re.DOTALL)


def document_id_problem(doc_id: Any) -> str | None:
    """Why Firestore would refuse `doc_id` as a document id, or None if it takes it: an
    empty id, `.` or `..`, one with `/`, one that is not UTF-8, one over 1500 bytes, or
    one of the reserved `__…__` form."""
    if not isinstance(doc_id, str) or not doc_id:
        return "an id must be a non-empty string"
    if doc_id in (".", ".."):
        return "an id cannot be . or .."
    if "/" in doc_id:
        return "an id cannot contain /"
    try:
        size = len(doc_id.encode("utf-8"))
    except UnicodeEncodeError:
        return "an id must be valid Unicode text (no lone surrogates)"
    if size > MAX_DOCUMENT_ID_BYTES:
        return f"an id is at most {MAX_DOCUMENT_ID_BYTES} bytes"
    if doc_id.startswith("__") and _RESERVED_ID.fullmatch(doc_id):  # (the regex is the slow part)
        return "ids of the form __…__ are reserved"
    return None


class InvalidDocumentId(ValidationFailed):
    """A write under an id no document can have (see document_id_problem)."""

    code = "invalid_id"


def check_document_id(doc_id: Any) -> str:
    problem = document_id_problem(doc_id)
    if problem:
        shown = str(doc_id)[:80].encode("utf-8", "backslashreplace").decode("utf-8")
        raise InvalidDocumentId(f"{problem}: {shown!r}", details={"id": shown})
    return doc_id


class _CommitTime:
    """A field value the store replaces with the time of the commit that writes it (the
    server's clock: Firestore's request time). Commits are ordered by it: a document
    committed after another never gets an earlier time (see docs/events.md)."""

    def __repr__(self) -> str:
        return "COMMIT_TIME"


COMMIT_TIME = _CommitTime()


@dataclass(frozen=True)
class Write:
    """One document write of an atomic `DocumentStore.commit`.

    op: "create" (only if the document does not exist), "put" (replace), "update"
    (merge `data` into an existing document, only if every field in `when` equals its
    value, as `DocumentStore.update`'s `when`), or "delete" (whether or not it exists).

    `version` (updates only, instead of `when`): only if the document is still at that
    version (see Committed), checked by the store without reading the document first."""

    op: str
    collection: str
    doc_id: str
    data: dict
    when: dict | None = None
    version: str | None = None

    def __post_init__(self):
        if self.version is not None and (self.op != "update" or self.when):
            raise ValueError("a version is the condition of an update, instead of a `when`")

    @classmethod
    def create(cls, collection: str, doc_id: str, data: dict) -> Write:
        return cls("create", collection, doc_id, data)

    @classmethod
    def put(cls, collection: str, doc_id: str, data: dict) -> Write:
        return cls("put", collection, doc_id, data)

    @classmethod
    def update(cls, collection: str, doc_id: str, changes: dict, *,
               when: dict | None = None, version: str | None = None) -> Write:
        return cls("update", collection, doc_id, changes, when, version)

    @classmethod
    def delete(cls, collection: str, doc_id: str) -> Write:
        return cls("delete", collection, doc_id, {})


class Committed:
    """What `DocumentStore.commit` answers when it wrote: true, with the version each
    document it wrote (deleted ones excepted) is at now.

    A version is an opaque string naming one state of one document (Firestore: its
    update time and a tag of its path; MemoryStore: a number no other write has). A
    later `Write.update(..., version=V)` applies only while the document is still at V:
    the store checks it without reading (Firestore: a `last_update_time` precondition),
    so a caller that kept the document as it wrote it saves the read. When the document
    is no longer at V (another write came between, it was deleted, or V is another
    document's), the commit writes nothing and answers False, as for any failed
    condition; the store never falls back itself: the caller reads the document and
    decides again, as without a version. A write that changes nothing may leave the
    document at its version (Firestore does, MemoryStore does not): the document is then
    still exactly what the version named, so a write on it stays right."""

    __slots__ = ("versions",)

    def __init__(self, versions: dict[tuple[str, str], str] | None = None):
        self.versions = versions or {}

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"Committed({self.versions!r})"

    def version(self, collection: str, doc_id: str) -> str | None:
        return self.versions.get((collection, doc_id))


def version_of(committed, collection: str, doc_id: str) -> str | None:
    """The version a commit's answer gives `collection/doc_id`; None when it gives none
    (a store, or a test's fake, that answers a plain True: callers then read as before)."""
    return committed.version(collection, doc_id) if isinstance(committed, Committed) else None


class DocumentStore(ABC):
    """Documents in named collections; every returned document carries its "id".

    Ids follow Firestore's rules (document_id_problem): under an id no document can have,
    `get` answers None and `update`/`delete` False (nothing can be there), while `create`,
    `put` and `increment` raise InvalidDocumentId (a 422 at the API)."""

    @abstractmethod
    def get(self, collection: str, doc_id: str) -> dict | None: ...

    @abstractmethod
    def create(self, collection: str, doc_id: str, data: dict) -> bool:
        """Write a new document; False (and nothing written) when it exists already."""

    def get_many(self, collection: str, doc_ids: Sequence[str]) -> dict[str, dict]:
        """The documents that exist among `doc_ids`, by id. Adapters answer in batches
        (Firestore's batched get: one call, a read per document)."""
        found = {doc_id: self.get(collection, doc_id) for doc_id in doc_ids}
        return {doc_id: doc for doc_id, doc in found.items() if doc is not None}

    @abstractmethod
    def put(self, collection: str, doc_id: str, data: dict) -> None: ...

    @abstractmethod
    def update(
        self, collection: str, doc_id: str, changes: dict, *, when: dict | None = None,
        guard: Guard | None = None,
    ) -> bool:
        """Apply `changes` atomically if the document exists and every field in `when`
        equals its value (None: missing or null; AnyOf(...): one of), and the `guard`
        document matches too. Returns whether it did."""

    @abstractmethod
    def delete(self, collection: str, doc_id: str) -> bool: ...

    @abstractmethod
    def commit(self, writes: Sequence[Write], *, guard: Guard | None = None) -> Committed | bool:
        """All the writes in one atomic step, or none: False (nothing written) when a
        create's document exists, an update's document is missing or fails its `when` or
        its `version`, or the `guard` document does not match. Writes of one commit share
        one COMMIT_TIME. Done, it answers Committed: the documents' new versions."""

    def increment(self, collection: str, doc_id: str, field: str, by: int = 1, *,
                  maximum: int | None = None, extra: dict | None = None) -> int | None:
        """Add `by` to a numeric field atomically (a missing document or field counts as
        0), with `extra` fields merged in, and return the new value. With `maximum`,
        nothing is written and None returned when the result would pass it. Adapters
        override this with fewer round trips (without `maximum`: one blind write)."""
        while True:
            doc = self.get(collection, doc_id)
            value = ((doc or {}).get(field) or 0) + by
            if maximum is not None and value > maximum:
                return None
            data = (extra or {}) | {field: value}
            if doc is None:
                if self.create(collection, doc_id, data):
                    return value
                continue
            if self.update(collection, doc_id, data, when={field: doc.get(field)}):
                return value

    @abstractmethod
    def query(
        self,
        collection: str,
        where: Sequence[Filter] = (),
        order_by: Sequence[tuple[str, str]] = (),
        limit: int | None = None,
        start_after: Sequence[Any] | None = None,
    ) -> list[dict]:
        """`start_after`: values of the `order_by` fields of the last document of the
        previous page; the page starts after it (cursor pagination)."""

    def count(self, collection: str, where: Sequence[Filter] = ()) -> int:
        """How many documents match; adapters answer without reading them (Firestore's
        count aggregation)."""
        return len(self.query(collection, where))

    def watch(self, collection: str, where: Sequence[Filter], order_by: Sequence[tuple[str, str]],
              limit: int, on_change: Callable[[], None]) -> Callable[[], None] | None:
        """Call `on_change` (on another thread, without arguments) when the query's answer
        may have changed, including once when the watch starts; returns the function that
        stops it. None: this store cannot watch (callers read again from time to time)."""
        return None


class TaskQueue(ABC):
    @abstractmethod
    def enqueue(
        self,
        queue: str,
        target: str,
        payload: dict,
        *,
        name: str | None = None,
        schedule_at: datetime | None = None,
    ) -> None:
        """Deliver `payload` to `target` (a logical name from shared.names) at least once.
        A task with a `name` already used is not created again."""


class EventBus(ABC):
    @abstractmethod
    def publish(self, event: Event) -> None: ...


class Mailer(ABC):
    @abstractmethod
    def send(self, to: str, subject: str, body: str) -> None: ...


class Storage(ABC):
    """Bytes by key: Cloud Storage in production, a directory locally."""

    @abstractmethod
    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The bytes; LookupError when there are none under `key`."""

    @abstractmethod
    def delete(self, key: str) -> bool: ...


@dataclass(frozen=True)
class Fetched:
    data: bytes
    content_type: str | None
    url: str  # after redirects


class FetchError(Exception):
    """A URL that could not be fetched; `reason` is one of: forbidden_address,
    invalid_url, unreachable, timeout, http_status, too_large."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


class MediaFetcher(ABC):
    @abstractmethod
    def fetch(self, url: str, *, max_bytes: int, timeout: float) -> Fetched:
        """GET `url`, following a few redirects, every hop checked against the private-
        address guard; at most `max_bytes` and `timeout` seconds in all, else FetchError."""


EventHandler = Callable[["Event"], None]


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: str  # the first bytes only
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case


class HttpClient(ABC):
    @abstractmethod
    def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float, *,
             address: str | None = None) -> HttpAnswer:
        """POST without following redirects, to `address` (an IP the caller checked)
        when given, else wherever the URL's host resolves; reads the first bytes of the
        answer only. Raises OSError on network failure or timeout."""


# --- what the send and inbound flows need of a WhatsApp connection ------------------------
# The runner's transports (device_runner/transport.py) implement MessageSender; the flows
# in shared/services/outbound.py and inbound.py take one and the values below.


class Receipt(StrEnum):
    delivered = "delivered"
    read = "read"


@dataclass(frozen=True)
class SendResult:
    ok: bool
    reason: FailureReason | None = None
    retryable: bool = False  # a transient failure: tried again with backoff


@dataclass(frozen=True)
class Inbound:
    """A message that arrived on a device."""

    wa_id: str
    sender: str  # E.164
    text: str
    at: datetime
    type: str = "text"  # text, image, video, audio, document, sticker, location, contacts,
    #                     reaction, button_reply, list_reply, poll_vote, unsupported
    content: dict | None = None  # the type's fields (device_runner/whatsapp/convert.py)
    group: str | None = None  # the group's id (<digits>@g.us) when sent to a group
    push_name: str | None = None
    lid: str | None = None  # the sender's anonymous id ("<digits>@lid") when WhatsApp gave one


class MessageSender(ABC):
    @abstractmethod
    def send(self, device_id: str, wa_id: str, to: str, content: BaseModel,
             media: bytes | None = None, **context) -> SendResult:
        """Send `content` (a model of shared.content) under `wa_id` to `to`: an E.164 phone,
        or a group id ending in @g.us. `media` holds the file's bytes for Media content.
        `context`, given only when set: `quote` (a MessageRef as a dict: a reply) and
        `forwarded` (True: shown as forwarded).
        Sending the same wa_id again must not deliver twice."""
