"""Firestore's composite indexes and TTL policies come from shared/indexes.py, through
terraform/generated/firestore.json, into modules/firestore. These tests fail when a query
of the code needs a composite index that is not listed, when a listed index serves no
query, and when the code writes an expiry field that has no TTL policy (or a policy
names a field the code never writes).

Which queries are there: every `….store.query(` and `….store.watch(` call in shared/, device_runner/ and
functions/ is found in the source, and every `self.find(` or `self.docs(` call of a
repository (shared/repositories/), whose class names the collection. A call whose
collection, filter fields and operators, and order are literals is judged from the
source alone. The others (filters
built up from optional arguments) must be run here, through a store that records each
query, by a flow below that calls the service function with every combination of its
optional filters; a call site that none of the flows reaches fails the test, so a new
dynamic query cannot go unchecked."""

from __future__ import annotations

import ast
import base64
import importlib
import inspect
import itertools
import json
import os
import re
import sys
import types
import typing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path

import pytest

from infra import generate
from shared import indexes
from shared.adapters.inprocess_bus import InProcessBus
from shared.adapters.memory_store import MemoryStore
from shared.adapters.storage import MemoryStorage
from shared.bootstrap import Container
from shared.domain import Event, Priority, WebhookRoute
from shared.indexes import ASC, CONTAINS, DESC, needs_index, served
from tests.fakes import FakeClock, FakeTaskQueue, make_settings
from tests.infra.tools import ROOT, TERRAFORM_DIR, evaluate, variable_blocks

SOURCES = ("shared", "device_runner", "functions")
# the stores themselves, and the repositories' base (it queries for its subclasses)
NOT_CALLERS = ("shared/adapters/", "shared/ports.py", "shared/repositories/base.py")
REPOSITORY_QUERIES = ("find", "docs")  # shared/repositories/base.py: (where, order_by, ...)
EXPIRY_FIELDS = ("expire_at", "expires_at")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
# Files that name an expiry field only in what they answer, never in a document they
# write, and why.
ANSWERS_ONLY = {
    "shared/services/linking/scan.py": "pairing_code() answers with the device_links "
                                          "document's expires_at (linking.py writes it)",
    # A message's expires_at is its deadline for being sent (it then fails `expired`), not
    # the document's retention: the message stays, so no TTL policy may delete it.
    "shared/services/messages.py": "a message's send deadline, not a TTL",
    "shared/events.py": "the example body of a message event (its send deadline)",
}


# --- the rules ----------------------------------------------------------------------


@pytest.mark.parametrize("where, order, need", [
    ([("a", "==")], [], None),
    ([("a", "=="), ("b", "in"), ("c", "array_contains")], [], None),
    ([("a", "<")], [], None),
    ([("a", ">=")], [("a", "desc")], None),
    ([], [("a", "asc")], None),
    ([("a", "==")], [("b", "desc")], ({("a", ASC)}, (("b", DESC),))),
    ([("a", "=="), ("b", ">")], [], ({("a", ASC)}, (("b", ASC),))),
    ([("a", "array_contains")], [("b", "asc")], ({("a", CONTAINS)}, (("b", ASC),))),
    ([], [("a", "desc"), ("b", "desc")], (set(), (("a", DESC), ("b", DESC)))),
])
def test_when_a_query_needs_a_composite_index(where, order, need):
    got = needs_index(where, order)
    assert got == (None if need is None else (frozenset(need[0]), need[1]))


def test_listed_indexes_serve_a_query_alone_or_merged():
    listed = [("c", (("a", ASC), ("z", DESC))), ("c", (("b", ASC), ("z", DESC))),
              ("c", (("a", ASC), ("b", ASC), ("y", ASC)))]
    need = needs_index
    assert served("c", need([("a", "==")], [("z", "desc")]), listed)
    assert served("c", need([("a", "=="), ("b", "==")], [("z", "desc")]), listed)  # merged
    assert served("c", need([("b", "=="), ("a", "==")], [("y", "asc")]), listed)
    assert not served("c", need([("a", "==")], [("z", "asc")]), listed)  # other direction
    assert not served("c", need([("a", "=="), ("d", "==")], [("z", "desc")]), listed)
    assert not served("c", need([("a", "==")], [("y", "asc")]), listed)  # (a, b, y) is wider
    assert not served("other", need([("a", "==")], [("z", "desc")]), listed)
    assert not served("c", need([], [("z", "desc"), ("a", "asc")]), listed)


# --- the queries of the code --------------------------------------------------------


@dataclass(frozen=True)
class Site:
    path: str
    line: int
    end: int
    collection: str | None  # None: not a literal (or a constant the module defines)
    where: tuple[tuple[str, str], ...] | None  # None: built at run time
    order: tuple[tuple[str, str], ...] | None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def literal(self) -> bool:
        if self.where is None or self.order is None:
            return False
        return self.collection is not None or needs_index(self.where, self.order) is None


def _constant(node: ast.AST | None, module: types.ModuleType) -> object:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name | ast.Attribute):
        try:
            return eval(compile(ast.Expression(node), "<name>", "eval"), vars(module))  # noqa: S307
        except (NameError, AttributeError):
            return None
    return None


def _pairs(node: ast.AST | None, module) -> tuple[tuple[str, str], ...] | None:
    """((field, op-or-direction), ...) of a literal list of tuples; None otherwise."""
    if node is None:
        return ()
    if not isinstance(node, ast.List | ast.Tuple):
        return None
    found = []
    for item in node.elts:
        if not isinstance(item, ast.Tuple) or len(item.elts) < 2:
            return None
        field, op = _constant(item.elts[0], module), _constant(item.elts[1], module)
        if not isinstance(field, str) or not isinstance(op, str):
            return None
        found.append((field, op))
    return tuple(found)


def _argument(call: ast.Call, position: int, name: str) -> ast.AST | None:
    if len(call.args) > position:
        return call.args[position]
    return next((k.value for k in call.keywords if k.arg == name), None)


def _collection_of(tree: ast.Module) -> dict[ast.AST, str]:
    """Each call inside a repository class => the collection the class names (name = ...)."""
    found = {}
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        names = [a.value.value for a in cls.body if isinstance(a, ast.Assign)
                 and any(isinstance(t, ast.Name) and t.id == "name" for t in a.targets)
                 and isinstance(a.value, ast.Constant)]
        if names:
            found.update({node: names[0] for node in ast.walk(cls) if isinstance(node, ast.Call)})
    return found


def query_sites() -> list[Site]:
    sites = []
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith(NOT_CALLERS):
                continue
            tree = ast.parse(path.read_text(), filename=rel)
            module = None
            in_repository = _collection_of(tree) if rel.startswith("shared/repositories/") else {}
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                    continue
                module = module or importlib.import_module(rel[:-3].replace("/", "."))
                if node.func.attr in ("query", "watch") and ast.unparse(node.func.value).endswith("store"):
                    collection = _constant(_argument(node, 0, "collection"), module)
                    where, order = _argument(node, 1, "where"), _argument(node, 2, "order_by")
                elif node.func.attr in REPOSITORY_QUERIES and node in in_repository \
                        and ast.unparse(node.func.value) == "self":
                    collection = in_repository[node]
                    where, order = _argument(node, 0, "where"), _argument(node, 1, "order_by")
                else:
                    continue
                sites.append(Site(rel, node.lineno, node.end_lineno or node.lineno,
                                  collection if isinstance(collection, str) else None,
                                  _pairs(where, module), _pairs(order, module)))
    return sites


@dataclass(frozen=True)
class Recorded:
    collection: str
    where: tuple[tuple[str, str], ...]
    order: tuple[tuple[str, str], ...]
    path: str
    line: int


def _caller() -> tuple[str, int]:
    """The file and line of the code (not a store) that called the store."""
    frame = sys._getframe(2)
    while frame is not None:
        try:
            rel = Path(frame.f_code.co_filename).resolve().relative_to(ROOT).as_posix()
        except ValueError:
            rel = ""
        if rel.startswith(SOURCES) and not rel.startswith(NOT_CALLERS):
            return rel, frame.f_lineno
        frame = frame.f_back
    return "?", 0


class RecordingStore(MemoryStore):
    """A MemoryStore that notes every query, and every write of an expiry field."""

    def __init__(self):
        super().__init__()
        self.queries: list[Recorded] = []
        self.expiring: list[tuple[str, str, str]] = []  # (collection, field, caller file)

    def query(self, collection, where=(), order_by=(), limit=None, start_after=None):
        self.queries.append(Recorded(collection, tuple((f, op) for f, op, *_ in where),
                                     tuple(order_by), *_caller()))
        return super().query(collection, where, order_by, limit, start_after)

    def watch(self, collection, where, order_by, limit, on_change):
        """A listener's query needs its index as a query does (noted; it never fires)."""
        self.queries.append(Recorded(collection, tuple((f, op) for f, op, *_ in where),
                                     tuple(order_by), *_caller()))
        return lambda: None

    def _note(self, collection: str, data: dict | None) -> None:
        for field in EXPIRY_FIELDS:
            if isinstance((data or {}).get(field), datetime):
                self.expiring.append((collection, field, _caller()[0]))

    def create(self, collection, doc_id, data):
        self._note(collection, data)
        return super().create(collection, doc_id, data)

    def put(self, collection, doc_id, data):
        self._note(collection, data)
        return super().put(collection, doc_id, data)

    def update(self, collection, doc_id, changes, *, when=None, guard=None):
        self._note(collection, changes)
        return super().update(collection, doc_id, changes, when=when, guard=guard)

    def commit(self, writes, *, guard=None):
        for w in writes:
            self._note(w.collection, w.data)
        return super().commit(writes, guard=guard)

    def increment(self, collection, doc_id, field, by=1, *, maximum=None, extra=None):
        self._note(collection, extra)
        return super().increment(collection, doc_id, field, by, maximum=maximum, extra=extra)


def _sample(hint) -> object:
    """A value of an optional argument's type (`X | None`)."""
    options = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    kind = options[0]
    if isinstance(kind, type) and issubclass(kind, Enum):
        return next(iter(kind))
    return {datetime: NOW, bool: True, int: 1, str: "x"}[kind]


def every_combination(function, *args, cursors: dict[str, str] = None, **fixed):
    """Call `function` with each subset of its optional (default None) keyword arguments
    set: the filters of a listing. `cursors` gives valid values for cursor arguments."""
    cursors = cursors or {}
    hints = typing.get_type_hints(function)
    optional = [name for name, p in inspect.signature(function).parameters.items()
                if p.default is None and name not in fixed]
    assert optional, f"{function.__qualname__} has no optional filter"
    for size in range(len(optional) + 1):
        for chosen in itertools.combinations(optional, size):
            values = {n: cursors[n] if n in cursors else _sample(hints[n]) for n in chosen}
            function(*args, **fixed, **values)


def _deps(store: RecordingStore) -> Container:
    return Container(make_settings(), store=store, tasks=FakeTaskQueue(), clock=FakeClock(NOW),
                     bus=InProcessBus(threaded=False))


def run_flows(store: RecordingStore, monkeypatch) -> None:
    """Every query whose filters are built at run time, with every filter combination."""
    from shared import cursor
    from shared.services import chats, contacts, message_content, messages
    from shared.services.webhooks import delivery_log

    deps = _deps(store)
    # messages: GET /v1/messages (list_messages); whether a chat was started (sends)
    stamp = base64.urlsafe_b64encode(json.dumps([NOW.isoformat(), "msg_1"]).encode()).decode()
    every_combination(messages.list_messages, deps, "acc_1", cursors={"cursor": stamp})
    for to in ("+447911123456", "120363000000000000@g.us"):
        message_content.conversation_started(deps, "dev_1", to, Priority.normal, NOW)
    # the inbox: chats, a chat's messages, contacts
    after = cursor.encode("20260301T120000|x")
    every_combination(chats.list_chats, store, "dev_1", cursors={"after": after})
    monkeypatch.setattr(chats, "get_chat", lambda *a, **k: types.SimpleNamespace(thread="thr_1"))
    every_combination(chats.list_entries, store, "acc_1", "dev_1", "+447911123456",
                      cursors={"after": cursor.encode(7)})
    every_combination(contacts.list_contacts, store, "dev_1", cursors={"after": after})
    # a webhook's delivery log
    store.put("webhooks", "wh_1", {"account_id": "acc_1"})
    every_combination(delivery_log.list_deliveries, deps, "acc_1", "wh_1",
                      cursors={"after": cursor.encode("20260301T120000.000000~dlv_1")})
    # the event log: GET /v1/events in both directions, and the sweep
    from shared.services import event_feed, event_log
    from tests.fakes import FakeClock as Clock

    position = event_feed.encode_position((NOW, "evt_1"))
    for names in (None, ["device:status"], ["message:*"]):
        for device, devices in ((None, None), ("dev_1", None), (None, frozenset({"dev_1"}))):
            for since in (None, NOW):
                event_feed.list_events(store, "acc_1", types=names, device=device,
                                       devices=devices, since=since, until=since,
                                       cursor=position if since else None)
            event_feed.events_after(store, Clock(NOW), "acc_1", position, types=names,
                                    device=device, devices=devices)
        # a new webhook's catch-up (shared/services/webhooks/fanout.py)
        list(event_feed.logged_between(store, "acc_1", NOW - timedelta(seconds=8), NOW,
                                       types=names))
    store.put(event_log.RELAYS, "proc_1", {"beat_at": NOW - timedelta(hours=1),
                                           "pending_since": NOW - timedelta(hours=1)})
    event_log.sweep(store, types.SimpleNamespace(publish=lambda e: None), Clock(NOW), stale=60)
    event_log.find(store, "evt_1")  # GET /v1/events/{id}: the log, then each home
    event_feed.Watches(linger=0).hold(store, "acc_1")()  # the long poll's listeners


def write_expiring_documents(store: RecordingStore) -> None:
    """Each writer of a document with an expiry field, once."""
    from shared.billing import stripe_events
    from shared.services import files, messages
    from shared.services.linking import codes
    from shared.services.webhooks import fanout as webhook_fanout

    deps = _deps(store)
    clock = deps.clock
    messages._claim_key(deps, "acc_1", "key-1", "fingerprint", "msg_1")
    files.store_file(store, MemoryStorage(), clock, "acc_1", b"some bytes")
    stripe_events.handle(store, None, None, clock, {"id": "evt_1", "type": "customer.created"})
    route = WebhookRoute(id="wh_1", account_id="acc_1", events=["*"])
    event = Event(id="evt_1", event="message:sent", created_at=NOW, account="acc_1", data={})
    webhook_fanout.enqueue_delivery(deps, route, event)
    codes.publish_code(store, clock, "dev_1", qr="2@qr")  # the runner, while linking
    from shared.services.event_log import EventLog
    from shared.services.event_relay import Relay

    relay = Relay(store, types.SimpleNamespace(publish=lambda e: None, synchronous=True), clock)
    EventLog(store, relay, clock).publish(event.model_copy(update={"id": "evt_2"}))


@pytest.fixture(scope="module")
def sites() -> list[Site]:
    found = query_sites()
    assert len(found) >= 30, "the scan of store.query( calls found too few; is it broken?"
    return found


@pytest.fixture
def recorded(monkeypatch) -> RecordingStore:
    store = RecordingStore()
    run_flows(store, monkeypatch)
    return store


def _needs(sites: list[Site], recorded: RecordingStore) -> dict[tuple, list[str]]:
    """(collection, need) => where in the code, for every query that needs an index."""
    found: dict[tuple, list[str]] = {}
    for site in sites:
        if site.literal and site.collection is not None:
            need = needs_index(site.where, site.order)
            if need is not None:
                found.setdefault((site.collection, need), []).append(str(site))
    for query in recorded.queries:
        need = needs_index(query.where, query.order)
        if need is not None:
            found.setdefault((query.collection, need), []).append(f"{query.path}:{query.line}")
    return found


def test_every_dynamic_query_is_run_by_a_flow(sites, recorded):
    dynamic = [s for s in sites if not s.literal]
    assert dynamic, "no query builds its filters at run time? then the flows check nothing"
    missed = [str(s) for s in dynamic
              if not any(q.path == s.path and s.line <= q.line <= s.end for q in recorded.queries)]
    assert not missed, ("these queries build their filters at run time: call them from "
                        "run_flows() in this file with each filter: " + ", ".join(missed))


def test_every_query_that_needs_an_index_has_one(sites, recorded):
    missing = {f"{c}: where {sorted(n[0])} order {list(n[1])}": where
               for (c, n), where in _needs(sites, recorded).items() if not served(c, n)}
    assert not missing, "add to shared/indexes.py (then `make generate`):\n" + "\n".join(
        f"  {need}  (at {', '.join(sorted(set(where))[:3])})" for need, where in missing.items())


def test_every_listed_index_serves_a_query(sites, recorded):
    needs = _needs(sites, recorded)
    unused = [index for index in indexes.INDEXES
              if not any(indexes.exact(c, n, index) for c, n in needs)]
    assert not unused, f"no query uses these indexes; drop them from shared/indexes.py: {unused}"


def test_indexes_are_listed_once_and_well_formed():
    assert len(set(indexes.INDEXES)) == len(indexes.INDEXES)
    for collection, fields in indexes.INDEXES:
        assert re.fullmatch(r"[a-z_]+", collection)
        assert len(fields) >= 2, (collection, fields)  # one field: a single-field index
        assert len({f for f, _ in fields}) == len(fields), (collection, fields)
        assert sum(mode == CONTAINS for _, mode in fields) <= 1, (collection, fields)
        assert all(mode in (ASC, DESC, CONTAINS) for _, mode in fields), (collection, fields)


def test_messages_page_by_created_at_then_id():
    """docs/messaging.md: the cursor is (created_at, id), both descending (the listing's
    indexes; the runner's sweep reads queued messages oldest first, indexes.RUNNER)."""
    for _, fields in indexes.MESSAGES:
        assert fields[-2:] == (("created_at", DESC), ("id", DESC))


def test_the_deliveries_log_has_its_indexes():
    listed = {fields for collection, fields in indexes.INDEXES if collection == "deliveries"}
    assert listed == {(("webhook_id", ASC), ("sort_key", DESC)),
                      (("webhook_id", ASC), ("status", ASC), ("sort_key", DESC)),
                      (("webhook_id", ASC), ("status", ASC), ("sort_key", ASC))}


# --- TTL ----------------------------------------------------------------------------


def _expiry_sites() -> dict[str, list[int]]:
    """Files of shared/ and device_runner/ that set an expiry field (a dict key or a
    keyword argument named expire_at or expires_at), with the lines."""
    found: dict[str, list[int]] = {}
    for folder in ("shared", "device_runner"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            for node in ast.walk(ast.parse(path.read_text(), filename=rel)):
                keys = ([k for k in node.keys if isinstance(k, ast.Constant)]
                        if isinstance(node, ast.Dict) else [])
                if (any(k.value in EXPIRY_FIELDS for k in keys)
                        or isinstance(node, ast.keyword) and node.arg in EXPIRY_FIELDS):
                    found.setdefault(rel, []).append(node.lineno)
    return found


def test_every_expiring_document_has_a_ttl_policy_and_every_policy_is_used():
    store = RecordingStore()
    write_expiring_documents(store)
    written = {(collection, field) for collection, field, _ in store.expiring}
    assert written - set(indexes.TTL) == set(), (
        "documents written with an expiry field that has no TTL policy; add them to "
        f"shared/indexes.py TTL: {sorted(written - set(indexes.TTL))}")
    assert set(indexes.TTL) - written == set(), (
        f"TTL policies on fields no writer sets: {sorted(set(indexes.TTL) - written)}")
    writers = {caller for _, _, caller in store.expiring}
    unexercised = {path: lines for path, lines in _expiry_sites().items()
                   if path not in writers and path not in ANSWERS_ONLY}
    assert not unexercised, ("these files set an expiry field: write their documents in "
                             f"write_expiring_documents() in this file: {unexercised}")
    assert set(ANSWERS_ONLY) <= set(_expiry_sites()) - writers, "ANSWERS_ONLY is stale"


def test_ttl_policies_match_the_code_s_retention():
    from shared.billing import stripe_events
    from shared.repositories.messages import IdempotencyKeys
    from shared.services import event_log, event_relay, files
    from shared.services.linking import codes
    from shared.services.webhooks import fanout as webhook_fanout

    assert {("deliveries", "expire_at"), ("stripe_events", "expire_at"),
            (IdempotencyKeys.name, "expires_at"), (files.FILES, "expires_at"),
            (codes.LINKS, "expires_at"), (event_log.EVENTS, "expire_at"),
            (event_relay.RELAYS, "expire_at")} == set(indexes.TTL)
    assert event_log.RETENTION == timedelta(days=30)  # docs/events.md states it
    assert stripe_events.EVENTS == "stripe_events"
    assert webhook_fanout.DELIVERY_RETENTION >= timedelta(days=1)


# --- into Terraform -----------------------------------------------------------------


def test_firestore_json_is_generated_from_indexes_py():
    assert json.loads(generate.FIRESTORE_FILE.read_text()) == generate.firestore_document(), (
        "terraform/generated/firestore.json is stale: run `make generate`")


def test_the_firestore_module_takes_the_catalog_s_indexes_and_ttl(tmp_path):
    """The catalog's outputs, converted to the firestore module's variable types (which
    `terraform validate` would check, offline here): each index field has its order or
    its array_config, never both."""
    module = (TERRAFORM_DIR / "modules" / "firestore" / "main.tf").read_text()
    typed = tmp_path / "typed"
    typed.mkdir()
    (typed / "main.tf").write_text(variable_blocks(module, ("indexes", "ttl")) + """
output "indexes" {
  value = var.indexes
}
output "ttl" {
  value = var.ttl
}
""")
    wrapper = tmp_path / "wrapper"
    wrapper.mkdir()
    catalog = os.path.relpath(TERRAFORM_DIR / "modules" / "catalog", wrapper)
    (wrapper / "main.tf").write_text(f"""
module "catalog" {{
  source = "{catalog}"
}}
module "typed" {{
  source  = "../typed"
  indexes = module.catalog.firestore_indexes
  ttl     = module.catalog.firestore_ttl
}}
output "got" {{
  value = {{ indexes = module.typed.indexes, ttl = module.typed.ttl }}
}}
""")
    work = tmp_path / "work"
    work.mkdir()
    got = evaluate(wrapper, "module.m.got", work)
    doc = generate.firestore_document()
    assert got["ttl"] == doc["ttl"]
    assert got["indexes"] == doc["indexes"]
    for key, index in got["indexes"].items():
        for field in index["fields"]:
            assert (field["order"] is None) != (field["array_config"] is None), (key, field)
    assert 'for_each = var.indexes' in module and 'for_each = var.ttl' in module
    assert "ttl_config {}" in module

