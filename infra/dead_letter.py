"""The dead-letter topic of the events fan-out subscription.

Pub/Sub pushes each event to webhook_fanout until it answers 2xx, backing off between
attempts; after `max_attempts` it publishes the message to the dead-letter topic, where
a pull subscription keeps it for an operator (inspect it, fix the cause, publish it to
the events topic again: fan-out is idempotent by event id). The same policy is set in
Terraform for production; the Pub/Sub service agent needs roles/pubsub.publisher on the
dead-letter topic and roles/pubsub.subscriber on the fan-out subscription.
"""

from __future__ import annotations

from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1
from google.cloud.pubsub_v1.types import DeadLetterPolicy, RetryPolicy, Subscription
from google.protobuf import duration_pb2, field_mask_pb2

from shared import names


def ensure_dead_letter(project: str, *, subscription: str = names.EVENTS_FANOUT_SUBSCRIPTION,
                       dead_letter_topic: str = names.EVENTS_DEAD_LETTER_TOPIC,
                       hold: str = names.EVENTS_DEAD_LETTER_SUBSCRIPTION, max_attempts: int = 5,
                       min_backoff: int = 1, max_backoff: int = 60) -> str:
    """Create the topic and its holding subscription, and set the fan-out subscription's
    dead-letter and retry policies. Returns the dead-letter topic's path."""
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic = publisher.topic_path(project, dead_letter_topic)
    try:
        publisher.create_topic(name=topic)
    except gexc.AlreadyExists:
        pass
    try:
        subscriber.create_subscription(request={
            "name": subscriber.subscription_path(project, hold), "topic": topic,
            "message_retention_duration": duration_pb2.Duration(seconds=7 * 24 * 3600)})
    except gexc.AlreadyExists:
        pass
    subscriber.update_subscription(request={
        "subscription": Subscription(
            name=subscriber.subscription_path(project, subscription),
            dead_letter_policy=DeadLetterPolicy(dead_letter_topic=topic,
                                                max_delivery_attempts=max_attempts),
            retry_policy=RetryPolicy(minimum_backoff=duration_pb2.Duration(seconds=min_backoff),
                                     maximum_backoff=duration_pb2.Duration(seconds=max_backoff))),
        "update_mask": field_mask_pb2.FieldMask(paths=["dead_letter_policy", "retry_policy"]),
    })
    return topic
