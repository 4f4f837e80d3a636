"""How long polls share a store listener per account (event_feed.Watches) and how the
Waker wakes only the polls of the account that logged (shared/services/event_log.Waker)."""

from __future__ import annotations

import threading
import time

from shared.adapters.memory_store import MemoryStore
from shared.services import event_feed
from shared.services.event_log import Waker


class WatchingStore(MemoryStore):
    """The memory store with a hand-driven watch, as Firestore's listener would call it."""

    def __init__(self):
        super().__init__()
        self.watching: dict[tuple[str, str], object] = {}  # (collection, account) => on_change
        self.started = 0

    def watch(self, collection, where, order_by, limit, on_change):
        (account,) = [v for f, op, v in where if f == "account_id"]
        self.watching[collection, account] = on_change
        self.started += 1
        return lambda: self.watching.pop((collection, account))

    def watched(self, account: str) -> bool:
        return any(a == account for _, a in self.watching)


# The listeners of one account: the log's collection, and the messages holding the
# events of their usual path (shared.services.event_log.HOMES).
LISTENERS = ("events", "messages")


def test_polls_of_an_account_share_one_listener_that_lingers_then_stops():
    store, waker = WatchingStore(), Waker()
    watches = event_feed.Watches(waker, linger=0.05)
    releases = [watches.hold(store, "acc_1") for _ in range(3)]
    assert store.started == len(LISTENERS) and len(watches) == 1
    assert {c for c, _ in store.watching} == set(LISTENERS)
    for release in releases:
        release()
    again = watches.hold(store, "acc_1")  # within the linger: the same listeners
    assert store.started == len(LISTENERS)
    again()
    deadline = time.monotonic() + 5
    while store.watched("acc_1") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not store.watched("acc_1") and len(watches) == 0


def test_a_store_that_cannot_watch_leaves_the_poll_reading():
    assert event_feed.Watches(Waker()).hold(MemoryStore(), "acc_1") is None


def test_the_listener_wakes_only_its_accounts_polls():
    store, waker = WatchingStore(), Waker()
    release = event_feed.Watches(waker).hold(store, "acc_1")
    woke: dict[str, float] = {}

    def wait(account):
        with waker.waiting(account) as waiting:
            seen = waiting.token()
            waiting.wait(3, seen)
            woke[account] = time.monotonic()

    threads = [threading.Thread(target=wait, args=(a,)) for a in ("acc_1", "acc_2")]
    for t in threads:
        t.start()
    time.sleep(0.1)
    started = time.monotonic()
    store.watching["messages", "acc_1"]()  # a listener saw a new event of acc_1
    for t in threads:
        t.join(5)
    release()
    assert woke["acc_1"] - started < 2 <= woke["acc_2"] - started
    assert waker._accounts == {}  # nobody waits: nothing kept


def test_a_notify_between_the_read_and_the_wait_is_not_lost():
    waker = Waker()
    with waker.waiting("acc_1") as waiting:
        seen = waiting.token()
        waker.notify(("acc_1",))  # an event came while the poll was reading
        started = time.monotonic()
        waiting.wait(5, seen)
        assert time.monotonic() - started < 1


def test_a_notify_with_no_poll_waiting_wakes_nothing_and_loses_nothing_after():
    waker = Waker()
    waker.notify(("acc_1",))  # no poll waits: nothing to do (and no lock taken)
    with waker.waiting("acc_1") as waiting:  # a poll that starts after: its token is new
        seen = waiting.token()
        waker.notify(("acc_2",))  # another account's event does not wake it
        started = time.monotonic()
        waiting.wait(0.2, seen)
        assert time.monotonic() - started >= 0.19
        waker.notify(("acc_1",))
        started = time.monotonic()
        waiting.wait(5, seen)
        assert time.monotonic() - started < 1
    waker.notify(None)  # every account's, with none waiting: still counted
    assert waker.generation == 1
