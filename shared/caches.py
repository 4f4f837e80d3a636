"""Short-lived, per-process caches of what nearly every request reads: the API key of a
request, the device a message is sent from, the LID of the number it goes to, the
webhooks an event goes to; and a runner's messages just sent, for their receipts.

The consistency each allows, stated where it lives and tested (tests/unit/test_caches.py):

- A change made through this process (its Container) drops the entry at once, so this
  process never acts on a value it changed itself.
- A change made by another process (another API instance, the Stripe webhook function,
  an operator's script) is seen at most `staleness` seconds later, by `deps.clock`: an
  entry is read from the store again once it is that old, however often it is used.
- Nothing absent is cached (webhooks aside, below): a key or device just created works
  everywhere at once; only a removal or a change can be late, by at most its staleness.

Plans are code (shared/plans.py), not documents: a device's plan is a field of the
device, so it is as fresh as the device's entry. Usage counters are never cached: the
quota's atomic increments are the limit's only guard.

An account's webhooks are cached by (account, event name): the fan-out process keeps the
webhooks that take an event (Webhooks.routes_for; none is a value kept too, as it is what
most events find), so fan-out reads nothing in the steady state and its cost still grows
with the matching webhooks, not with all of an account's. WEBHOOK_STALENESS bounds what a
change made elsewhere (the API) may lag here:
- deleted, disabled, or a new URL, secret or custom headers: at once where it matters,
  as delivery reads the webhook before each POST (shared/services/webhooks/delivery.py);
  a delivery made from a stale entry ends `webhook_deleted` / `webhook_disabled`, unsent;
- events or devices narrowed: an event fanned out at most WEBHOOK_STALENESS after the
  change may still be delivered to it;
- created, enabled, or taking more events or devices: the events fanned out from a stale
  entry would miss it, so the change enqueues a catch-up task first (fanout.catch_up), run
  once the staleness has passed, which replays the events logged since the change through
  the same idempotent fan-out: nothing is lost, nothing is delivered twice.

Settings.caches turns them off (every read goes to the store): the unit tests' default,
because they write documents behind the services' back.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import timedelta
from typing import Generic, TypeVar

from shared.clock import Clock
from shared.domain import Device, Message, WebhookRoute

V = TypeVar("V")

# How long another process's change may go unseen here, in seconds.
API_KEY_STALENESS = 10.0  # a revoked key is refused everywhere within 10 s
DEVICE_STALENESS = 5.0  # a deleted device, a lapsed subscription, a plan change: within 5 s
WEBHOOK_STALENESS = 5.0  # a webhook changed elsewhere: fan-out sees it within 5 s
LID_STALENESS = 5.0  # a LID the runner just learnt shows on messages sent after at most 5 s
LID_KEPT = 3600.0  # a LID learnt never moves to another number: kept an hour
SENT_KEPT = 120.0  # seconds a runner keeps a message it sent, for its receipts
SENT_SIZE = 5_000
SIZE = 10_000  # entries a cache keeps at most (the least recently used go first)


class TtlCache(Generic[V]):
    """Values by key, each kept `staleness` seconds from when it was read (not from when
    it was last used), at most `size` of them; None is never kept."""

    def __init__(self, staleness: float, clock: Clock, size: int = SIZE):
        self.staleness = timedelta(seconds=staleness)
        self.clock = clock
        self.size = size
        self._entries: OrderedDict[Hashable, tuple[object, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], V | None]) -> V | None:
        now = self.clock.now()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and now < entry[0]:
                self._entries.move_to_end(key)
                return entry[1]
        value = load()  # outside the lock: a slow read holds no other key up
        if value is not None:
            self.put(key, value, read_at=now)  # its age counts from before the read
        else:
            self.drop(key)
        return value

    def put(self, key: Hashable, value: V, *, read_at=None) -> None:
        """Keep `value` for `staleness` seconds from `read_at` (default: now)."""
        with self._lock:
            self._entries[key] = ((read_at or self.clock.now()) + self.staleness, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def peek(self, key: Hashable) -> V | None:
        """The value kept for `key`, if it is not older than the staleness."""
        return self.get(key, lambda: None)

    def drop(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def drop_where(self, test: Callable[[Hashable], bool]) -> None:
        with self._lock:
            for key in [k for k in self._entries if test(k)]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class Caches:
    """The caches of one process (the Container builds one); `enabled` False: none."""

    def __init__(self, repos, clock: Clock, *, enabled: bool = True):
        self.repos = repos
        self.enabled = enabled
        self.keys: TtlCache[str] = TtlCache(API_KEY_STALENESS, clock)  # hash => account
        self.devices: TtlCache[Device] = TtlCache(DEVICE_STALENESS, clock)
        self.sole_devices: TtlCache[str] = TtlCache(DEVICE_STALENESS, clock)  # account => device
        self.sent_messages: TtlCache[Message] = TtlCache(SENT_KEPT, clock, SENT_SIZE)  # by wa_id
        self.lids: TtlCache[str] = TtlCache(LID_KEPT, clock)  # (device, phone) => LID
        self.no_lids: TtlCache[bool] = TtlCache(LID_STALENESS, clock)  # (device, phone) => none yet
        # (account, event name) => the account's webhooks that take it (maybe none)
        self.webhooks: TtlCache[tuple[WebhookRoute, ...]] = TtlCache(WEBHOOK_STALENESS, clock)

    def account_of_key(self, key_hash: str) -> str | None:
        def load() -> str | None:
            key = self.repos.api_keys.by_hash(key_hash)
            return None if key is None else key.account_id

        return self.keys.get(key_hash, load) if self.enabled else load()

    def device(self, device_id: str) -> Device | None:
        """The device as read at most DEVICE_STALENESS ago. For decisions that may lag by
        that much (the API's checks before accepting a message); what must be exact (a
        send's claim, the lease) checks the document in the same atomic step instead."""
        if not self.enabled:
            return self.repos.devices.get(device_id)
        return self.devices.get(device_id, lambda: self.repos.devices.get(device_id))

    def first_devices(self, account_id: str) -> list[Device]:
        """Devices.of_account(account_id, limit=2), for a message sent without naming its
        device: it goes from the account's device when there is only one. That an account
        has exactly one device is kept DEVICE_STALENESS (its device itself comes from the
        device cache, so a change to it is as fresh as there): a second device made by
        another process may go unseen that long, and meanwhile such messages still go from
        the first one rather than being refused as ambiguous. Zero or several devices are
        not kept (read again each time)."""
        def load() -> list[Device]:
            return self.repos.devices.of_account(account_id, limit=2)

        if not self.enabled:
            return load()
        device_id = self.sole_devices.peek(account_id)
        device = self.device(device_id) if device_id is not None else None
        if device is not None and device.account_id == account_id:
            return [device]
        read_at = self.sole_devices.clock.now()  # an entry's age counts from before its read
        found = load()
        if len(found) == 1:
            self.sole_devices.put(account_id, found[0].id, read_at=read_at)
            self.devices.put(found[0].id, found[0], read_at=read_at)
        else:
            self.sole_devices.drop(account_id)
        return found

    def webhooks_taking(self, account_id: str, event_name: str) -> tuple[WebhookRoute, ...]:
        """The account's webhooks that name the event or a pattern taking it, as read at
        most WEBHOOK_STALENESS ago (see the module's doc for what that allows, and
        fanout.catch_up for what it must not lose)."""
        def load() -> tuple[WebhookRoute, ...]:
            return tuple(self.repos.webhooks.routes_for(account_id, event_name))

        return self.webhooks.get((account_id, event_name), load) if self.enabled else load()

    def lid_of(self, store, device_id: str, phone: str) -> str | None:
        """The LID the device learnt for `phone` (shared.services.lids.lid_of), for the
        `lid` a sent message carries (data only: where it goes and which chat files it
        do not depend on it). A LID learnt stays the number's for good, so it is kept
        LID_KEPT; that there is none yet, LID_STALENESS."""
        from shared.services import lids

        if not self.enabled:
            return lids.lid_of(store, device_id, phone)
        key = (device_id, phone)
        found = self.lids.peek(key)
        if found is not None or self.no_lids.peek(key):
            return found
        found = lids.lid_of(store, device_id, phone)
        if found is None:
            self.no_lids.put(key, True)
        else:
            self.lids.put(key, found)
        return found

    def sent(self, wa_id: str) -> Message | None:
        """The message this runner sent under `wa_id` (SENT_KEPT seconds at most), as its
        last transition here left it, so that its receipts need not look it up. Not a
        source of truth: the transitions from it are conditional on the status and on what
        others may change after sending (message_transitions.CHANGED_AFTER_SENDING), and a
        failed one reads the document again."""
        if not self.enabled:
            return None
        return self.sent_messages.peek(wa_id)

    def moved_on(self, message: Message | None) -> None:
        if self.enabled and message is not None and message.wa_id:
            self.sent_messages.put(message.wa_id, message)

    # --- what this process changed: seen at once -------------------------------------

    def key_removed(self, key_hash: str) -> None:
        self.keys.drop(key_hash)

    def device_changed(self, device_id: str) -> None:
        self.devices.drop(device_id)

    def devices_added(self, account_id: str) -> None:
        self.sole_devices.drop(account_id)

    def webhooks_changed(self, account_id: str) -> None:
        self.webhooks.drop_where(lambda key: key[0] == account_id)
