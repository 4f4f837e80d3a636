"""EventBus over Pub/Sub (the emulator locally): one topic, JSON body, attributes for
routing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.domain import Event
from shared.ports import EventBus

if TYPE_CHECKING:
    from google.cloud import pubsub_v1


def encode(event: Event) -> tuple[bytes, dict[str, str]]:
    data = event.model_dump_json().encode()  # (one pass, not a dict then json.dumps)
    attributes = {"event": event.event, "account": event.account, "device": event.device or ""}
    return data, attributes


def decode(data: bytes) -> Event:
    return Event.model_validate_json(data)


class PubSubBus(EventBus):
    def __init__(self, publisher: pubsub_v1.PublisherClient, project: str, topic: str):
        self._publisher = publisher
        self._topic = publisher.topic_path(project, topic)

    def publish(self, event: Event) -> None:
        data, attributes = encode(event)
        # Wait for the server's ack: a caller that returns has a durable event.
        self._publisher.publish(self._topic, data, **attributes).result(timeout=30)
