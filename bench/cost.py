"""What a message costs in Firestore (issue #18): operations per message sent, delivered
and read, beside the baseline and the goal; the hottest document at one device sending
1000 messages a minute to one recipient; fan-out at 1000 webhooks of which 10 match; a
page of GET /v1/messages and of a chat's history as the account grows to a million messages."""

from __future__ import annotations

import threading
import time
from collections import Counter

from bench.harness import delivered, in_process_stack, message_bodies, wait
from shared.repositories.devices import Devices
from shared.repositories.messages import Messages
from shared.repositories.webhooks import Webhooks

# Measured by this figure at 3bdf53a (2026-12-02, before issue #18's work), same sizes.
BASELINE = {"reads": 17.00, "writes": 13.02,
            "reads_by": "messages 7.00, webhooks 4.00, devices 2.00, chats 1.98, api_keys 1.00, "
                        "usage_counters 1.00",
            "writes_by": "messages 5.00, events 4.00, chat_messages 2.00, usage_counters 1.00, "
                         "chats 1.00"}
GOAL = {"reads": 3.0, "writes": 6.0}
HOT_BASELINE = 16.7  # the chat's document at 3bdf53a: one write per message, 1000 a minute


def _send_all(c, client, headers, ids, count: int) -> None:
    for body in message_bodies(ids, count):
        assert client.post("/v1/messages", data=body, headers=headers).status_code == 201


def _all_read(c, count: int) -> bool:
    return len(c.store.inner.query(Messages.name, [("status", "==", "read")])) == count


def _per_message(caches: bool, devices: int, count: int):
    c, client, headers, ids, run = in_process_stack(devices, runner=True, caches=caches)
    store, tasks, bus = c.store, c.tasks, c.publisher
    store.reset()
    tasks.count.clear()
    bus.published.clear()
    tasks.open.clear()  # the API's share first, alone
    _send_all(c, client, headers, ids, count)
    api = sum(store.reads.values()), sum(store.writes.values())
    tasks.open.set()
    wait(lambda: delivered(c) == count and _all_read(c, count), 120)
    time.sleep(0.2)
    run.stop()
    c.quota_leases.close()  # the unspent quota units go back, as when the API exits
    return store, tasks, bus, api


def cost_per_message(devices: int = 10, count: int = 500) -> None:
    store, tasks, bus, (api_reads, api_writes) = _per_message(True, devices, count)
    off, _, _, _ = _per_message(False, devices, count)
    per = float(count)
    reads, writes = sum(store.reads.values()) / per, sum(store.writes.values()) / per

    def by(counter: Counter) -> str:
        return ", ".join(f"{k} {v / per:.2f}" for k, v in counter.most_common() if v / per >= 0.005)

    def goal(value: float, limit: float) -> str:
        return "goal met" if value <= limit + 1e-9 else f"goal NOT met (by {value - limit:.2f})"

    print(f"cost per delivered message ({count} text messages sent, delivered and read, "
          f"{devices} devices; Firestore operations as the adapter issues them)")
    print(f"  Firestore reads   {reads:5.2f}   baseline {BASELINE['reads']:5.2f}   goal <= "
          f"{GOAL['reads']:.0f}: {goal(reads, GOAL['reads'])}")
    print(f"    (API {api_reads / per:.2f}, runner and receipts {reads - api_reads / per:.2f})  "
          f"by collection: {by(store.reads)}")
    print(f"    baseline by collection: {BASELINE['reads_by']}")
    print(f"  Firestore writes  {writes:5.2f}   baseline {BASELINE['writes']:5.2f}   goal <= "
          f"{GOAL['writes']:.0f}: {goal(writes, GOAL['writes'])}")
    print(f"    (API {api_writes / per:.2f}, runner and receipts {writes - api_writes / per:.2f})  "
          f"by collection: {by(store.writes)}")
    print(f"    baseline by collection: {BASELINE['writes_by']}")
    print(f"  the same run with the caches off (shared/caches.py): reads "
          f"{sum(off.reads.values()) / per:.2f}, writes {sum(off.writes.values()) / per:.2f}")
    print(f"  Cloud Tasks       {sum(tasks.count.values()) / per:5.2f}")
    print(f"  Pub/Sub publishes {sum(bus.published.values()) / per:5.2f}   "
          + ", ".join(f"{k} {v / per:.2f}" for k, v in sorted(bus.published.items())))


# --- the hottest document -----------------------------------------------------------


class DocWrites:
    """Counts the writes of each document of the store under the bench's counting one."""

    def __init__(self, inner):
        self.counts: Counter = Counter()
        self._lock = threading.Lock()
        for name in ("create", "put", "update", "delete", "increment"):
            setattr(inner, name, self._counted(getattr(inner, name), name))
        commit = inner.commit

        def counted_commit(writes, *args, **kwargs):
            writes = list(writes)
            done = commit(writes, *args, **kwargs)
            if done:
                with self._lock:
                    for w in writes:
                        self.counts[f"{w.collection}/{w.doc_id}"] += 1
            return done

        inner.commit = counted_commit

    def _counted(self, method, name):
        def counted(collection, doc_id, *args, **kwargs):
            done = method(collection, doc_id, *args, **kwargs)
            if done is not False and done is not None or name in ("put",):
                with self._lock:
                    self.counts[f"{collection}/{doc_id}"] += 1
            return done

        return counted


def hottest_document(count: int = 300, speed: int = 1000) -> None:
    """One device sending `speed` messages a minute to one recipient (its real pacing),
    every message sent, delivered and read: the document written most, in writes a
    second over the run."""
    c, client, headers, ids, run = in_process_stack(1, runner=True)
    docs = DocWrites(c.store.inner)
    for session in run.sessions.values():
        session.set_speed(speed)
    started = time.monotonic()
    _send_all(c, client, headers, ids, count)
    wait(lambda: _all_read(c, count), 60 + count * 60 / speed * 2)
    seconds = time.monotonic() - started
    run.stop()
    print(f"hottest document: {count} messages from one device to one recipient at "
          f"{speed}/min (real pacing), sent, delivered and read; {seconds:.1f} s")
    for name, writes in docs.counts.most_common(3):
        print(f"  {writes / seconds:6.2f} writes/s  {writes:5d} writes  {name}")
    hottest = docs.counts.most_common(1)[0][1] / seconds
    print(f"  hottest {hottest:.2f} writes/s   baseline {HOT_BASELINE:.1f} (the chat's document)"
          f"   goal <= 1: {'goal met' if hottest <= 1 else 'goal NOT met'}")


# --- fan-out and listing ------------------------------------------------------------


def fanout_cost(webhooks: int = 1000, matching: int = 10, events: int = 200) -> None:
    """An account with `webhooks` webhooks of which `matching` take message:out:sent, beside
    one with only the `matching` ones: reads and time per event of the fan-out."""
    import dataclasses
    from datetime import UTC, datetime

    from shared.domain import Event
    from shared.services.webhooks import registration
    from shared.services.webhooks.fanout import fan_out

    rows = []
    for total in (matching, webhooks):
        c, _, _, ids, _ = in_process_stack(1, runner=False)
        # what fan-out reads to find the webhooks; its inline first attempts (a read of
        # each matching webhook and a POST, as webhook_deliver's did) are off here
        c.settings = dataclasses.replace(c.settings, webhook_inline_attempts=0)
        account = c.store.inner.get(Devices.name, ids[0])["account_id"]
        for i in range(total):
            registration.create_webhook(c, account, url=f"https://hooks.example.com/{i}",
                                        events=["message:out:sent"] if i < matching else
                                        ["message:in:new", "device:status"], devices=None,
                                        resolver=lambda host, port: ["93.184.215.14"])
        c.store.reset()
        started = time.perf_counter()
        for n in range(events):
            found = fan_out(c, Event(id=f"evt_bench_{n}", event="message:out:sent",
                                     account=account, device=ids[0],
                                     created_at=datetime.now(UTC), data={}))
            assert len(found) == matching
        elapsed = (time.perf_counter() - started) / events
        rows.append((total, c.store.reads[Webhooks.name] / events, elapsed))
    print(f"fan-out: {matching} of an account's webhooks match the event ({events} events)")
    base = rows[0]
    for total, reads, elapsed in rows:
        print(f"  {total:5d} webhooks   webhook reads/event {reads:7.2f}   "
              f"{elapsed * 1000:6.2f} ms/event   ratio {elapsed / base[2]:.2f}"
              + ("   (baseline: only the matching ones)" if total == base[0] else ""))


def listing_page(sizes: tuple[int, ...] = (1_000, 50_000, 1_000_000), page: int = 50,
                 rounds: int = 20) -> None:
    """GET /v1/messages (a page of `page`, then the next ones by cursor) and a chat's history
    (GET /v1/devices/{id}/chats/{chat}/messages) in an account of `sizes` messages, its chats
    of 1000 entries each (a chat's cap): documents read per page, which Firestore bills,
    and the p50 CPU time of a page (CPU, not wall-clock: the machine is shared). The store
    answers the listing queries from ordered indexes, as Firestore does
    (bench/paged_store.py), so the time is our code's and an index seek's; the smallest
    account is the baseline."""
    import gc
    import statistics
    from datetime import UTC, datetime, timedelta
    from urllib.parse import quote

    from bench.paged_store import OrderedIndex, PagedStore
    from shared.content import Text
    from shared.domain import Message, MessageStatus
    from shared.inbox import Chat, ChatEntry
    from shared.repositories.chats import ChatMessages, chat_key, entry_doc_id

    store = PagedStore([
        OrderedIndex(Messages.name, ("account_id",), (("created_at", "desc"), ("id", "desc"))),
        OrderedIndex(ChatMessages.name, ("thread",), (("seq", "desc"),))])
    c, client, headers, ids, _ = in_process_stack(1, runner=False, inner=store)
    device = ids[0]
    account = store.get(Devices.name, device)["account_id"]
    epoch = datetime(2026, 1, 1, tzinfo=UTC)
    message = c.repos.messages.dump(Message(
        id="msg_template", account_id=account, device_id=device, phone="+447911123456",
        message="m", content=Text(text="m"), status=MessageStatus.read, created_at=epoch))
    entry = ChatEntry(message_id="msg_template", account_id=account, device_id=device,
                      chat="+447911123456", wa_id="wa", direction="outbound", phone="+447911123456",
                      message="m", at=epoch).to_doc()
    phone = "+447911123456"
    print(f"listing: a page of {page} by cursor, in an account of N messages (chats of 1000); "
          f"documents read per page, p50 CPU time of {rounds} pages (an indexed in-memory store)")
    made, base = 0, None
    for size in sizes:
        filled = time.perf_counter()
        gc.disable()  # millions of new dicts: the collector's passes would triple the fill
        numbers = range(made, size)
        message_ids = [f"msg_{i:020d}" for i in numbers]
        stamps = [epoch + timedelta(milliseconds=i) for i in numbers]
        store.bulk_put(Messages.name, [
            (mid, message | {"id": mid, "created_at": at})
            for mid, at in zip(message_ids, stamps, strict=True)])
        store.bulk_put(ChatMessages.name, [
            (entry_doc_id(device, f"wa{i}"),
             entry | {"message_id": mid, "wa_id": f"wa{i}", "thread": f"thr_{i // 1000}",
                      "seq": i % 1000 + 1, "at": at})
            for i, mid, at in zip(numbers, message_ids, stamps, strict=True)])
        # the chat measured: the newest full one (the phone's, its thread's 1000 entries)
        thread = f"thr_{(size - 1) // 1000}"
        c.repos.chats.add(Chat(key=chat_key(device, phone), account_id=account, device_id=device,
                               chat=phone, thread=thread, seq=1000, last_message_at=epoch,
                               sort_key="x", created_at=epoch, updated_at=epoch))
        made = size
        gc.enable()
        gc.freeze()  # (nor scan them again and again while the pages are timed)
        filled = time.perf_counter() - filled
        rows = {}
        for label, url in (("GET /v1/messages", "/v1/messages"),
                           ("chat history", f"/v1/devices/{device}/chats/{quote(phone)}/messages")):
            for _ in range(3):  # warm-up, not counted
                client.get(f"{url}?limit={page}", headers=headers)
            reads, times, cursor = Counter(), [], None
            for _ in range(rounds):
                c.store.reset()
                started = time.thread_time()  # (the test client answers in this thread)
                answer = client.get(f"{url}?limit={page}" + (f"&cursor={cursor}" if cursor else ""),
                                    headers=headers)
                times.append(time.thread_time() - started)
                assert answer.status_code == 200, answer.get_json()
                body = answer.get_json()
                assert len(body["data"]) == page, len(body["data"])
                cursor = body["next_cursor"]
                reads += c.store.reads
            rows[label] = ({k: v / rounds for k, v in reads.items()}, statistics.median(times))
        base = base or rows
        print(f"  {size:9,d} messages (filled in {filled:4.1f} s)")
        for label, (reads, p50) in rows.items():
            spent = ", ".join(f"{k} {v:g}" for k, v in sorted(reads.items(), key=lambda kv: -kv[1]))
            print(f"    {label:18s} {sum(reads.values()):5.1f} reads a page ({spent})   "
                  f"p50 {p50 * 1000:6.2f} ms CPU   ratio {p50 / base[label][1]:.2f}"
                  + ("   (baseline)" if rows is base else ""))
