"""The event log (collection "events": every event, written in the same commit as the
change it announces, kept RETENTION) and how far each publishing process has relayed it
("event_relays"). shared/services/event_log.py, event_relay.py and event_feed.py write
and read them."""

from __future__ import annotations

from shared.repositories.base import Collection


class EventLogEntries(Collection):
    name = "events"


class EventRelays(Collection):
    name = "event_relays"
