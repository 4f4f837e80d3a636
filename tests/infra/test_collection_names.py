"""A collection is named in its repository (shared/repositories/) and nowhere else: no call
of a store (get, put, update, create, delete, query, increment, watch on something named
a store), no Write and no Guard in shared/, functions/, device_runner/, infra/ or bench/
spells a collection's name out. shared/indexes.py lists them as data; the rest use a
repository or its `name`."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import shared.repositories
from shared.repositories.base import Collection

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("shared", "functions", "device_runner", "infra", "bench")
ALLOWED = ("shared/repositories/", "shared/indexes.py")
# Where a name is still written out, and why it is left.
KNOWN: dict[str, str] = {}
STORE_CALLS = {"get", "put", "update", "create", "delete", "query", "increment", "watch"}
WRITES = {"put", "update", "create", "delete"}


def collection_names() -> set[str]:
    for info in pkgutil.iter_modules(shared.repositories.__path__):
        importlib.import_module(f"shared.repositories.{info.name}")
    found, todo = set(), [Collection]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if "name" in vars(cls):
            found.add(cls.name)
    return found


def spelled_out(tree: ast.AST, names: set[str]) -> list[tuple[int, str]]:
    """(line, name) of each call whose collection argument is one of `names` as a literal."""
    hits = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and first.value in names):
            continue
        func = node.func
        store_call = (isinstance(func, ast.Attribute) and func.attr in STORE_CALLS
                      and "store" in ast.unparse(func.value))  # not a dict's get
        write = (isinstance(func, ast.Attribute) and func.attr in WRITES
                 and isinstance(func.value, ast.Name) and func.value.id == "Write")
        guard = isinstance(func, ast.Name) and func.id == "Guard"
        if store_call or write or guard:
            hits.append((node.lineno, first.value))
    return hits


def test_every_repository_names_its_own_collection():
    names = collection_names()
    assert {"devices", "messages", "wa_sent", "chat_messages", "events"} <= names


def test_no_collection_name_is_written_out_of_its_repository():
    names = collection_names()
    found = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if "node_modules" in rel or rel.startswith(ALLOWED) or rel in KNOWN:
                continue
            for line, name in spelled_out(ast.parse(path.read_text()), names):
                found.append(f"{rel}:{line} {name!r}")
    assert not found, ("name the collection through its repository (deps.repos.<aggregate>, "
                       "or Repository.name): " + ", ".join(found))


def test_the_known_exceptions_still_are_exceptions():
    names = collection_names()
    for rel, why in KNOWN.items():
        tree = ast.parse((ROOT / rel).read_text())
        assert spelled_out(tree, names), f"{rel} names no collection now: drop it from KNOWN ({why})"


def test_the_check_finds_what_it_looks_for():
    code = ('c.store.get("devices", "dev_1")\nchanges.get("devices")\n'
            'Write.put("messages", "msg_1", {})\nGuard("devices", "dev_1", {})\n'
            'self.store.query("wa_sent", [])\n')
    assert [line for line, _ in spelled_out(ast.parse(code), collection_names())] == [1, 3, 4, 5]
