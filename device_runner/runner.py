"""The runner: holds its devices' sessions, feeds their send queues, and turns what the
transport reports into status changes and events."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from device_runner import control
from device_runner.leases import Leases
from device_runner.risk import RiskWindow
from device_runner.send_queue import Retry, SendQueue
from device_runner.sweep import SweepReport
from device_runner.transport import Listener, Transport
from shared.bootstrap import Container
from shared.device_states import StatusCode
from shared.domain import Device, DeviceStatus, Message, MessageStatus
from shared.errors import Unavailable
from shared.ports import Inbound, Receipt
from shared.runner_tasks import DeviceTask
from shared.services import accounts, chat_filing, daily_caps, inbound, message_transitions, outbound, risk
from shared.services import messages as message_service
from shared.services.linking import codes, connection
from shared.services.quotas import effective_speed

log = logging.getLogger(__name__)

LATE_RETRY = 1.0  # seconds: a send that found the lease late (renewal overdue) tries again
# A message due later than this stays with Cloud Tasks (a follow-up task), not in memory;
# Cloud Tasks itself schedules at most 30 days ahead.
HOLD_AHEAD = timedelta(hours=1)


class Runner(Listener):
    def __init__(self, c: Container, transports: dict[str, Transport], *, shard: str | None = None,
                 leases: Leases | None = None):
        self.c = c
        self.transports = transports
        self.shard = shard or c.settings.runner_shard
        self.sessions: dict[str, SendQueue] = {}
        self._lock = threading.RLock()
        # With leases, this runner holds only the devices its shard holds, and every write
        # for a device is fenced by the device's lease epoch (device_runner/leases.py).
        self.leases = leases
        self.statuses: dict[str, str] = {}  # device -> the last status reported (health)
        self._attempts: dict[str, int] = {}  # message -> failed attempts so far
        self._transport_names: dict[str, str] = {}  # device -> transport, read with the device
        self._waiting: dict[str, Message] = {}  # messages in sessions, as last read
        self.devices: dict[str, Device] = {}  # as last read: settings, caps, pause
        self.risk: dict[str, RiskWindow] = {}  # recent send outcomes (device:risk)
        # Devices a resume skipped because the lease was late: the keeper resumes them
        # after its next renewal (device_runner/shards.py).
        self.to_resume: set[str] = set()
        self.sweep_report = SweepReport()  # what the stranded-work sweep found (sweep.py)
        self._after_renewal: list = []  # transport reports that came while the lease was late

    # --- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        """Resume every device (with leases: every device this shard holds, then orphans
        up to its capacity) and reload its queued messages."""
        if self.leases is not None:
            self.resume(self.leases.mine())
            self.resume(self.leases.orphans(self.leases.free()))
        else:
            self.resume(self.c.repos.devices.ids())

    def resume(self, device_ids: list[str]) -> list[str]:
        """Start the sessions of these devices. One that cannot be resumed is logged with
        the reason; if it was ours, it is handed back for another shard to take."""
        resumed = []
        for device_id in device_ids:
            try:
                if self.ensure_session(device_id) is not None:
                    resumed.append(device_id)
                    self.to_resume.discard(device_id)
                    continue
            except Exception as exc:
                log.exception("could not resume device %s: %s; leaving it for another shard",
                              device_id, exc)
                self.drop_session(device_id, let_go=True)
                continue
            if self.leases is not None and self.leases.late():
                self.to_resume.add(device_id)
                log.warning("resume of device %s waits: the lease's renewal is late", device_id)
            elif device_id in self.to_resume:
                self.to_resume.discard(device_id)
            else:
                log.info("not resuming device %s: %s", device_id, self._refusal(device_id))
        return resumed

    def _refusal(self, device_id: str) -> str:
        if self.leases is None:
            return "it is gone"
        if not self.leases.valid():
            return "this shard does not hold its lease"
        if self.leases.free() == 0:
            return f"this shard is full ({self.leases.capacity} devices)"
        return "another live shard holds it, or it is gone"

    def drop_all(self) -> None:
        """The lease is lost (or ran out): let go of every session at once, writing
        nothing of theirs (only the daily caps' unspent units go back), and forget
        everything kept per device, so that nothing stale (a status, a fence) outlives the
        session."""
        with self._lock:
            sessions, self.sessions = self.sessions, {}
            self.statuses.clear()
            self._attempts.clear()
            self._transport_names.clear()
            self._waiting.clear()
            self.devices.clear()
            self.risk.clear()
            self.to_resume.clear()
            self._after_renewal.clear()
        for device_id, session in sessions.items():
            session.stop()
            for transport in self.transports.values():
                transport.disconnect(device_id)
        self._give_back_daily_caps()
        if self.leases is not None:
            for device_id in self.leases.held():
                self.leases.forget(device_id)

    def stop(self) -> None:
        with self._lock:
            sessions, self.sessions = self.sessions, {}
        for device_id, session in sessions.items():
            session.stop()
            self.transport_of(device_id).disconnect(device_id)
        self._give_back_daily_caps()
        self.c.outbound_filing.flush_all()  # what waits of the chats' histories

    def _give_back_daily_caps(self) -> None:
        """The daily caps' unspent units of every device (shared/services/quota_leases.py
        DailyCapLeases), before the devices go to another runner: it counts on from what
        was sent, not parking messages until tomorrow behind units held here. (An
        unfenced decrement of what this process took: right whoever holds the devices.)"""
        try:
            self.c.daily_leases.close()
        except Exception:
            log.exception("could not give back the daily caps' units")

    def transport_of(self, device_id: str, device: Device | None = None) -> Transport:
        if device is None and device_id in self._transport_names:
            return self.transports[self._transport_names[device_id]]
        if device is None:
            device = self.c.repos.devices.get(device_id)
        name = device.transport.value if device else "sandbox"
        return self.transports[name]

    def ensure_session(self, device_id: str) -> SendQueue | None:
        with self._lock:
            if device_id in self.sessions:
                return self.sessions[device_id]
            if self.leases is not None and self.leases.claim(device_id) is None:
                return None  # another runner holds it; the task endpoints forward there
            device = self.load_device(device_id)
            if device is None:
                return None
            session = SendQueue(device_id, lambda message_id: self._send(device_id, message_id),
                                delivery_speed=effective_speed(device),
                                expire=lambda message_id: self._expire(message_id),
                                paused=device.queue_paused_at is not None)
            self.sessions[device_id] = session
            self.devices[device_id] = device
            self.risk[device_id] = RiskWindow()
            self._transport_names[device_id] = device.transport.value
        self._release_foreign_claims(device_id)
        self._file_unfiled(device_id)
        for message in self.c.repos.messages.queued_for_device(device_id):
            self._schedule(session, message, reload=True)
        transport = self.transport_of(device_id, device)
        transport.connect(device_id, self)
        if transport.replays_receipts:
            self._replay_receipts(device_id, transport)
        return session

    def load_device(self, device_id: str) -> Device | None:
        """The device as its session sends for it: with its account's settings."""
        device = self.c.repos.devices.get(device_id)
        return accounts.with_account_settings(self.c, device) if device else None

    def _replay_receipts(self, device_id: str, transport: Transport) -> None:
        """Messages sent before a restart that never heard their receipts (sandbox)."""
        docs = self.c.repos.messages.awaiting_receipts(device_id)
        waiting = [(d.get("wa_id") or d["id"], d["status"] == MessageStatus.delivered.value)
                   for d in docs if d.get("direction", "outbound") == "outbound"]
        if waiting:
            transport.replay_receipts(device_id, waiting)

    def _release_foreign_claims(self, device_id: str) -> None:
        fence = self.fence_of(device_id)
        if fence is not None:
            message_transitions.release_foreign_claims(self.c, device_id, self.shard, fence)

    def _file_unfiled(self, device_id: str) -> None:
        """Sent messages of the device its last holder died before filing in their chats
        (shared/services/chat_filing.py): filed now, before this session sends. What waits
        here of an earlier session of ours goes first."""
        self.c.outbound_filing.flush_device(device_id)
        leases = self.leases
        lease = leases.lease.total_seconds() if leases else self.c.settings.lease_seconds
        since = chat_filing.recovery_since(self.c.clock.now(), lease,
                                           leases.held_until(device_id) if leases else None)
        chat_filing.file_unfiled(self.c.store, self.c.clock,
                                 self.c.repos.messages.sent_since(device_id, since))

    def drop_session(self, device_id: str, *, let_go: bool = False) -> None:
        """End a device's session here. `let_go`: we hold it but cannot run it, so hand it
        to another shard instead of keeping it assigned to us."""
        with self._lock:
            session = self.sessions.pop(device_id, None)
            self._transport_names.pop(device_id, None)
            self.statuses.pop(device_id, None)
            self.devices.pop(device_id, None)
            self.risk.pop(device_id, None)
            self.to_resume.discard(device_id)
            for message_id in [m.id for m in list(self._waiting.values()) if m.device_id == device_id]:
                self._waiting.pop(message_id, None)
        if session:
            session.stop()
        try:  # its daily cap's unspent units: the next holder counts on from the true count
            self.c.daily_leases.give_back_device(device_id)
        except Exception:
            log.exception("could not give back the daily cap's units of %s", device_id)
        for transport in self.transports.values():
            transport.disconnect(device_id)
        if self.leases is not None:
            if let_go:
                try:
                    self.leases.let_go(device_id)
                except Exception:
                    log.exception("could not hand device %s back", device_id)
            self.leases.forget(device_id)

    # --- tasks -------------------------------------------------------------------

    def handle_message_task(self, message_id: str, queued: dict | None = None,
                            version: str | None = None) -> None:
        """`queued`: the message as its task brought it (MessageTask.message), not read
        again: one cancelled or sent since is refused by its claim, which checks both.
        `version`: the version of its document that `queued` is (MessageTask.version)."""
        messages = self.c.repos.messages
        if queued is not None and queued.get("id") == message_id:
            message = Message.model_validate(queued).made_at_version(version)
        else:
            doc = messages.doc(message_id)
            if doc is None or doc["status"] != MessageStatus.queued.value:
                return  # cancelled, sent already, or a repeated task: nothing to do
            message = messages.load(doc)
        session = self.ensure_session(message.device_id)
        if session is not None:
            self._schedule(session, message)
        elif self.leases is not None and self.leases.late():
            # Acknowledging now would forget the message: its task is retried instead.
            raise Unavailable(f"the lease of shard {self.shard} is being renewed; retry")

    def handle_device_task(self, task: DeviceTask | dict) -> None:
        """A control task (device_runner/control.py)."""
        control.handle(self, task)

    def _schedule(self, session: SendQueue, message: Message, reload: bool = False) -> bool:
        """Queue the message in its session; False when it was queued there already (or
        is left to Cloud Tasks for later)."""
        now = self.c.clock.now()
        ready_in = 0.0
        if message.expires_at is not None and message.expires_at <= now:
            # expired while no runner had it (a restart, a runner down): it fails now
            message_transitions.expire(self.c, message)
            return False
        if message.deliver_at and message.deliver_at > now:
            if message.deliver_at - now > HOLD_AHEAD:
                if not reload:  # on reload, its task is still waiting in Cloud Tasks
                    self._defer(message, now)
                return False
            ready_in = (message.deliver_at - now).total_seconds()
        self._waiting[message.id] = message
        expires_in = (message.expires_at - now).total_seconds() if message.expires_at else None
        return session.push(message.id, message.send_rank, message.created_at.timestamp(),
                            ready_in, expires_in)

    def requeue(self, session: SendQueue, message: Message) -> bool:
        """The sweep found a queued message its session does not have: queue it again."""
        return self._schedule(session, message, reload=True)

    def _defer(self, message: Message, now: datetime) -> None:
        """A task that came early (Cloud Tasks caps schedule times at 30 days): hand the
        message back to the queue for later, under a name of its own per hop."""
        message_service.enqueue_send(self.c.tasks, message, name=f"{message.id}-{now:%Y%m%d%H%M}")

    def _send(self, device_id: str, message_id: str) -> bool | Retry:
        """The session's send: True when a message left (or failed for good), False when
        it was not ours to send (no gap), Retry after a transient failure."""
        attempt = self._attempts.get(message_id, 0) + 1
        window = self.risk.get(device_id)
        outcome = outbound.send_queued(self.c, self.transport_of(device_id), message_id,
                                       self.shard, attempt=attempt, current=self._waiting.get(message_id),
                                       fence=self._fence(), device=self.devices.get(device_id),
                                       on_result=window.add if window is not None else None)
        if window is not None:
            self._warn_of_risk(device_id, window)
        if outcome == outbound.SendOutcome.retry:
            self._attempts[message_id] = attempt
            return Retry()
        if outcome == outbound.SendOutcome.capped:  # the day's cap: it waits for tomorrow
            return Retry(after=daily_caps.seconds_to_next_day(self.c.clock.now()) + 1.0)
        if outcome == outbound.SendOutcome.not_ours and message_id in self._waiting \
                and self._paused_now(device_id):
            return Retry(after=LATE_RETRY)  # paused before we heard of it: it stays queued
        if outcome == outbound.SendOutcome.not_ours and message_id in self._waiting \
                and self.leases is not None and self.leases.late(device_id):
            # Late but not lost: the message stays in the queue until the lease is renewed
            # (a lost lease drops the whole session; the next holder sends it).
            return Retry(after=LATE_RETRY)
        self._attempts.pop(message_id, None)
        self._waiting.pop(message_id, None)
        return outcome == outbound.SendOutcome.done

    def _paused_now(self, device_id: str) -> bool:
        """A claim refused: was it the pause? (Then the session hears of it now.)"""
        doc = self.c.repos.devices.doc(device_id) or {}
        if doc.get("queue_paused_at") is None:
            return False
        session = self.sessions.get(device_id)
        if session is not None:
            session.set_paused(True)
        return True

    def _expire(self, message_id: str) -> None:
        message = self._waiting.pop(message_id, None)
        self._attempts.pop(message_id, None)
        if message is None:
            message = self.c.repos.messages.get(message_id)
        if message is not None:
            message_transitions.expire(self.c, message)

    def _warn_of_risk(self, device_id: str, window: RiskWindow) -> None:
        figure = window.crossed()
        device = self.devices.get(device_id)
        if figure is not None and device is not None:
            risk.warn(self.c, device, figure, guard=self.fence_of(device_id))

    # --- transport events --------------------------------------------------------

    def _fence(self):
        return self.leases.fence if self.leases is not None else None

    def fence_of(self, device_id: str):
        """The guard of this runner's writes for the device; None also when it is not ours."""
        return self.leases.fence(device_id) if self.leases is not None else None

    def owns(self, device_id: str) -> bool:
        return self.leases is None or self.leases.holds(device_id)

    def _late(self, report) -> bool:
        """Hold a transport's report that came while the lease's renewal is late (its
        write cannot be fenced now) until the keeper has renewed: dropped, a device that
        linked meanwhile would never show `connected`."""
        with self._lock:
            self._after_renewal.append(report)
        return True

    def renewed(self) -> None:
        """The keeper renewed the lease: replay what waited for it."""
        with self._lock:
            waiting, self._after_renewal = self._after_renewal, []
        for report in waiting:
            try:
                report()
            except Exception:
                log.exception("a transport report that waited for the lease failed")

    def on_status(self, device_id, status, phone=None, detail=None, code=None):
        if self.leases is not None and self.leases.late(device_id):
            self._late(lambda: self.on_status(device_id, status, phone, detail, code))
            return
        if not self.owns(device_id):
            return  # a stale session of a device another runner holds now
        self.statuses[device_id] = DeviceStatus(status).value
        connection.record_status(self.c.store, self.c.bus, self.c.clock, device_id, status,
                                 code=code, phone=phone, detail=detail,
                                 guard=self.fence_of(device_id))
        if status != DeviceStatus.linking:
            codes.clear(self.c.store, device_id)
        session = self.sessions.get(device_id)
        if session:
            if phone is not None and status == DeviceStatus.connected:
                device = self.load_device(device_id)  # linked_at: the warm-up
                if device is not None:
                    self.devices[device_id] = device
            session.set_connected(status == DeviceStatus.connected)

    def on_link(self, device_id, qr=None, pairing_code=None, expires_in=None):
        if self.leases is not None and self.leases.late(device_id):
            self._late(lambda: self.on_link(device_id, qr, pairing_code, expires_in))
            return
        if not self.owns(device_id):
            return
        codes.publish_code(self.c.store, self.c.clock, device_id, qr=qr,
                             pairing_code=pairing_code, expires_in=expires_in)
        code = StatusCode.pairing_code if pairing_code else StatusCode.qr
        connection.record_status(self.c.store, self.c.bus, self.c.clock, device_id,
                                 DeviceStatus.linking, code=code, guard=self.fence_of(device_id))

    def on_receipt(self, device_id, wa_id, receipt: Receipt):
        outbound.record_receipt(self.c, wa_id, receipt)

    def on_inbound(self, device_id: str, message: Inbound) -> None:
        inbound.receive(self.c, device_id, message)
