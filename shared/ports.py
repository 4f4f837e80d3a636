"""Ports: small abstract classes that adapters implement and tests fake."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.domain import Event

# A filter is (field, op, value); op is one of OPS.
Filter = tuple[str, str, Any]
OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "array_contains")


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


class DocumentStore(ABC):
    """Documents in named collections; every returned document carries its "id"."""

    @abstractmethod
    def get(self, collection: str, doc_id: str) -> dict | None: ...

    @abstractmethod
    def create(self, collection: str, doc_id: str, data: dict) -> bool:
        """Write a new document; False (and nothing written) when it exists already."""

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
    def query(
        self,
        collection: str,
        where: Sequence[Filter] = (),
        order_by: Sequence[tuple[str, str]] = (),
        limit: int | None = None,
    ) -> list[dict]: ...

    def increment(self, collection: str, doc_id: str, field: str, by: int = 1) -> int:
        """Add `by` to a numeric field atomically (a missing document or field counts as
        0) and return the new value. Adapters override this with one write."""
        while True:
            doc = self.get(collection, doc_id)
            if doc is None:
                if self.create(collection, doc_id, {field: by}):
                    return by
                continue
            value = doc.get(field) or 0
            if self.update(collection, doc_id, {field: value + by}, when={field: doc.get(field)}):
                return value + by


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
