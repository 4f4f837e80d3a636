from __future__ import annotations

from functions.api.registry import Principal, api
from functions.api.schemas_queue import (
    DailyOut,
    QueueCleared,
    QueuedMessage,
    QueueOut,
    QueueQuery,
    QueueState,
)
from shared.services import device_queue

TAG = "devices"


@api.route("GET", "/v1/devices/{device_id}/queue", query=QueueQuery, response=QueueOut,
           summary="What a device's queue will send, in order, and when", tag=TAG,
           errors=(404,))
def get_queue(p: Principal, device_id: str, query: QueueQuery):
    """The device's queued messages in the order they will go out: highest `priority`
    first, oldest first within a priority, scheduled ones from their `deliver_at`. Each
    has its `position` and `expected_at`, the time it should go out at the device's
    delivery speed and daily cap (`daily`: the warm-up of a new number and `daily_limit`;
    messages beyond a day's cap are expected the next day), if the device stays
    connected. While the queue is paused, `expected_at` is null. A message that would
    come up only after its `expires_at` is listed at that turn with `position` null: it
    will fail `expired`. Page with `limit` (1 to 1000, default 100) and `cursor` (the
    `next_cursor` of the previous page, null at the end): a page reads only what it lists,
    not the whole queue, and the pages after the first continue the plan made for it
    (messages sent or cancelled since are left out; their times are that plan's).

    Errors: 404 when the device is not in this account; 422 for a limit outside 1..1000
    or a cursor this API did not return."""
    view = device_queue.view(p.c, p.account_id, device_id, limit=query.limit,
                             cursor=query.cursor)
    daily = view.daily
    return QueueOut(
        device=device_id, paused=view.paused, paused_at=view.device.queue_paused_at,
        delivery_speed=view.speed, total=view.total,
        daily=DailyOut(day=daily.day, used=daily.used, limit=daily.limit,
                       warmup_day=daily.warmup_day, resets_at=daily.resets_at),
        data=[QueuedMessage(
            id=s.message.id, position=s.position, priority=s.message.priority,
            type=s.message.type, phone=s.message.phone, group=s.message.group,
            message=s.message.message, reference=s.message.reference,
            created_at=s.message.created_at, deliver_at=s.message.deliver_at,
            expires_at=s.message.expires_at, expected_at=s.expected_at,
            sending=s.message.claimed_by is not None) for s in view.slots],
        next_cursor=view.next_cursor)


def _state(device) -> QueueState:
    return QueueState(device=device.id, paused=device.queue_paused_at is not None,
                      paused_at=device.queue_paused_at)


@api.route("POST", "/v1/devices/{device_id}/queue/pause", response=QueueState,
           summary="Pause a device's queue", tag=TAG, errors=(404,))
def pause_queue(p: Principal, device_id: str):
    """Stops sending from the device: nothing goes out, every queued message is kept, and
    scheduled messages wait past their time until the queue is resumed. New messages are
    still accepted and queued. The pause is kept across restarts; pausing a paused queue
    changes nothing. Emits `device:queue:paused`. Messages with an `expires_at` still
    expire while paused.

    Errors: 404 when the device is not in this account."""
    return _state(device_queue.pause(p.c, p.account_id, device_id))


@api.route("POST", "/v1/devices/{device_id}/queue/resume", response=QueueState,
           summary="Resume a paused queue", tag=TAG, errors=(404,))
def resume_queue(p: Principal, device_id: str):
    """Sends again what waited, in order, at the device's speed (`device:queue:resumed`);
    resuming a queue that is not paused changes nothing.

    Errors: 404 when the device is not in this account."""
    return _state(device_queue.resume(p.c, p.account_id, device_id))


@api.route("DELETE", "/v1/devices/{device_id}/queue", response=QueueCleared,
           summary="Cancel everything queued on a device", tag=TAG, errors=(404,))
def clear_queue(p: Principal, device_id: str):
    """Cancels every queued and scheduled message of the device, each with its
    `message:out:cancelled` event; cancelled messages do not count against the quota. A
    message the device is sending at that very moment is not cancelled (it is listed in
    `in_flight` and ends `sent` or `failed`): nothing is sent twice and nothing is lost.

    Errors: 404 when the device is not in this account."""
    cleared = device_queue.clear(p.c, p.account_id, device_id)
    return QueueCleared(device=device_id, cancelled=len(cleared.cancelled),
                        in_flight=cleared.in_flight)
