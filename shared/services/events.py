from __future__ import annotations

from shared.clock import Clock
from shared.domain import Event, Message
from shared.events import STATUS_EVENTS, EventName
from shared.ids import new_id
from shared.ports import EventBus


def publish(bus: EventBus, clock: Clock, name: EventName | str, account: str,
            device: str | None, data: dict) -> Event:
    event = Event(id=new_id("evt"), event=str(name), created_at=clock.now(), account=account,
                  device=device, data=data)
    bus.publish(event)
    return event


def message_data(message: Message) -> dict:
    return message.model_dump(mode="json", exclude=set(Message.INTERNAL))


def message_status_event(bus: EventBus, clock: Clock, message: Message) -> Event:
    """The event of a message reaching its status; its id derives from the message and
    the status, so the same transition never yields two events."""
    from shared.services.event_log import new_event

    return new_event(bus, clock, STATUS_EVENTS[message.status], message.account_id,
                     message.device_id, message_data(message),
                     key=f"{message.id}:{message.status.value}")
