"""Replay dead-lettered events: pull them from the dead-letter hold subscription, publish
each again to the events topic with the same data and attributes, and acknowledge it only
once that publish is confirmed. The fan-out is idempotent by event id, so an event that
is replayed twice still makes one delivery per webhook.

  python -m infra.replay_dead_letters --project PROJECT [--limit 100] [--dry-run]

--dry-run prints what it would replay and acknowledges nothing (the messages come back
to the subscription after their ack deadline)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from shared import names


@dataclass(frozen=True)
class DeadLetter:
    ack_id: str
    data: bytes
    attributes: dict[str, str]


def describe(letter: DeadLetter) -> str:
    try:
        body = json.loads(letter.data)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return f"(not a JSON event, {len(letter.data)} bytes)"
    account = letter.attributes.get("account", "?")
    return f"{body.get('id', '?')} {body.get('event', '?')} account={account}"


def replay(pull: Callable[[int], list[DeadLetter]],
           publish: Callable[[bytes, dict[str, str]], None],
           ack: Callable[[list[str]], None], *, limit: int, batch: int = 50,
           dry_run: bool = False, out: TextIO = sys.stdout) -> int:
    """Replay up to `limit` dead letters; return how many were replayed (or listed)."""
    done = 0
    while done < limit:
        letters = pull(min(batch, limit - done))
        if not letters:
            break
        for letter in letters:
            print(("would replay " if dry_run else "replay ") + describe(letter), file=out)
            if not dry_run:
                publish(letter.data, letter.attributes)  # raises: nothing acknowledged
                ack([letter.ack_id])
            done += 1
        if dry_run:
            break  # pulling again would return the same unacknowledged messages
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", required=True)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)

    from google.cloud import pubsub_v1

    subscriber = pubsub_v1.SubscriberClient()
    publisher = pubsub_v1.PublisherClient()
    subscription = subscriber.subscription_path(args.project,
                                                names.EVENTS_DEAD_LETTER_SUBSCRIPTION)
    topic = publisher.topic_path(args.project, names.EVENTS_TOPIC)

    def pull(count: int) -> list[DeadLetter]:
        response = subscriber.pull(request={"subscription": subscription,
                                            "max_messages": count}, timeout=30)
        return [DeadLetter(r.ack_id, r.message.data, dict(r.message.attributes))
                for r in response.received_messages]

    def publish(data: bytes, attributes: dict[str, str]) -> None:
        publisher.publish(topic, data, **attributes).result(timeout=60)

    def ack(ack_ids: list[str]) -> None:
        subscriber.acknowledge(request={"subscription": subscription, "ack_ids": ack_ids})

    count = replay(pull, publish, ack, limit=args.limit, dry_run=args.dry_run)
    print(f"{count} dead letter(s) {'listed' if args.dry_run else 'replayed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
