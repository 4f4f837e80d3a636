"""Ids from the pooled randomness: the form they always had, no repeats, and a forked
child (gunicorn's workers) does not hand out its parent's next ids."""

from __future__ import annotations

import os
import re
import threading

from shared.ids import new_id
from tests.fakes import in_threads


def test_ids_keep_their_form_and_never_repeat():
    ids = [new_id("msg") for _ in range(5000)]  # several refills of the pool
    assert all(re.fullmatch(r"msg_[0-9a-f]{20}", i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_threads_get_distinct_ids():
    found: list[str] = []
    lock = threading.Lock()

    def make():
        mine = [new_id("evt") for _ in range(500)]
        with lock:
            found.extend(mine)

    in_threads(make, 8)
    assert len(set(found)) == len(found) == 4000


def test_a_forked_child_does_not_repeat_its_parents_ids():
    new_id("msg")  # the pool is filled before the fork
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        os.write(write, ",".join(new_id("msg") for _ in range(10)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split(","))
    os.waitpid(pid, 0)
    parent = {new_id("msg") for _ in range(10)}
    assert len(child) == 10 and not child & parent
