"""Per-device event sequence numbers, so a receiver can order a device's events.

Each event of a device takes the next value of a counter document
(`event_sequences/{device}`) as it is published, wherever it is published from (the API
for message:out:new and cancellations, the runner for everything else): one atomic
write with a server-side increment, no transaction, so concurrent publishers never
collide or retry. Numbers only grow; they may skip (an event whose publish failed after
taking its number), so a receiver orders by them but never waits for a missing one.

Cost and limit: one extra small write per device event. Firestore sustains about one
write a second to one document and absorbs bursts above that with added latency, not
errors; a WhatsApp device produces a few events a second at its busiest (delivery speed
is at most 120 messages a minute, each with sent/delivered/read). Should one device
outgrow that, the runner that holds the device's lease can hand out numbers in memory
from a block it reserves with one write (epoch-prefixed, so a new holder's numbers are
always higher), leaving only the API-side events on the counter."""

from __future__ import annotations

from shared.domain import Event
from shared.ports import DocumentStore, EventBus

COLLECTION = "event_sequences"


def next_sequence(store: DocumentStore, device_id: str) -> int:
    return store.increment(COLLECTION, device_id, "last")


class SequencedBus(EventBus):
    """An EventBus that numbers each device event, then hands it to `inner`."""

    def __init__(self, store: DocumentStore, inner: EventBus):
        self.store = store
        self.inner = inner

    def publish(self, event: Event) -> None:
        if event.device is not None and event.sequence is None:
            event.sequence = next_sequence(self.store, event.device)
        self.inner.publish(event)

    def __getattr__(self, name):  # the inner bus's extras (subscribe, published…)
        return getattr(self.inner, name)
