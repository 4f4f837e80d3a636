"""What every repository shares: one collection of the DocumentStore, its documents
read into a pydantic model (or kept as dicts where the aggregate has no model)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from shared.errors import NotFound
from shared.ports import DocumentStore, Filter, Guard
from shared.settings import Settings

M = TypeVar("M", bound=BaseModel)


class Collection:
    """Raw documents of one collection; subclasses name it and add their queries."""

    name: ClassVar[str]

    def __init__(self, store: DocumentStore, settings: Settings | None = None):
        self.store = store
        self.settings = settings  # for the repositories that seal what they store

    def doc(self, doc_id: str) -> dict | None:
        return self.store.get(self.name, doc_id)

    def create_doc(self, doc_id: str, data: dict) -> bool:
        return self.store.create(self.name, doc_id, data)

    def put_doc(self, doc_id: str, data: dict) -> None:
        self.store.put(self.name, doc_id, data)

    def update(self, doc_id: str, changes: dict, *, when: dict | None = None,
               guard: Guard | None = None) -> bool:
        if guard is None:  # the port's signature without it, as the stores' fakes have it
            return self.store.update(self.name, doc_id, changes, when=when)
        return self.store.update(self.name, doc_id, changes, when=when, guard=guard)

    def delete(self, doc_id: str) -> bool:
        return self.store.delete(self.name, doc_id)

    def increment(self, doc_id: str, field: str, by: int = 1, *, maximum: int | None = None,
                  extra: dict | None = None) -> int | None:
        return self.store.increment(self.name, doc_id, field, by, maximum=maximum, extra=extra)

    def docs(self, where: Sequence[Filter] = (), order_by: Sequence[tuple[str, str]] = (),
             limit: int | None = None, start_after: Sequence[Any] | None = None) -> list[dict]:
        if start_after is None:  # likewise
            return self.store.query(self.name, where, order_by=order_by, limit=limit)
        return self.store.query(self.name, where, order_by=order_by, limit=limit,
                                start_after=start_after)

    def guard(self, doc_id: str, when: dict) -> Guard:
        """A condition on this collection's document for a write elsewhere (Guard)."""
        return Guard(self.name, doc_id, when)


class Repository(Collection, Generic[M]):
    """Documents of one collection as the domain model `model`."""

    model: ClassVar[type[BaseModel]]
    missing: ClassVar[str] = "document"  # the noun of "... not found"

    def load(self, doc: dict) -> M:
        return self.model.model_validate(doc)  # type: ignore[return-value]

    def dump(self, item: M) -> dict:
        return item.model_dump(mode="python")

    def get(self, doc_id: str) -> M | None:
        doc = self.doc(doc_id)
        return None if doc is None else self.load(doc)

    def owned_doc(self, account_id: str, doc_id: str) -> dict:
        """The document if it is the account's; else NotFound (another account's objects
        are not found, never forbidden)."""
        doc = self.doc(doc_id)
        if doc is None or doc.get("account_id") != account_id:
            raise NotFound(f"{self.missing} {doc_id} not found")
        return doc

    def owned(self, account_id: str, doc_id: str) -> M:
        return self.load(self.owned_doc(account_id, doc_id))

    def add(self, item: M) -> None:
        self.put_doc(item.id, self.dump(item))  # type: ignore[attr-defined]

    def create(self, item: M) -> bool:
        return self.create_doc(item.id, self.dump(item))  # type: ignore[attr-defined]

    def count(self, where: Sequence[Filter] = ()) -> int:
        return self.store.count(self.name, where)

    def find(self, where: Sequence[Filter] = (), order_by: Sequence[tuple[str, str]] = (),
             limit: int | None = None, start_after: Sequence[Any] | None = None) -> list[M]:
        return [self.load(d) for d in self.docs(where, order_by, limit, start_after)]

    def of_account(self, account_id: str) -> list[M]:
        return self.find([("account_id", "==", account_id)])
