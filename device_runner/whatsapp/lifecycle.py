"""A device's neonize client over its life: started in a thread of its own (neonize's
connect blocks while connected), wired to the dispatcher, and started anew after a capped
exponential backoff with jitter when the whole client ends or fails (whatsmeow itself
reconnects a dropped connection). Logged out, banned, replaced for good or an outdated
client: no retry."""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass, field
from datetime import datetime

from device_runner.transport import Listener
from shared import backoff
from shared.device_states import STATUS, StatusCode
from shared.domain import DeviceStatus

log = logging.getLogger(__name__)


class Backoff:
    """Capped exponential backoff with jitter: attempt n waits between half and all of
    min(cap, base * 2**n) seconds, so clients that failed together do not retry together."""

    def __init__(self, base: float, cap: float, rng: random.Random | None = None):
        self.base, self.cap = base, cap
        self.rng = rng or random.Random()

    def delay(self, attempt: int) -> float:
        return backoff.delay(attempt, base=self.base, cap=self.cap, spread=(0.5, 1.0),
                             rng=self.rng)


@dataclass
class Client:
    """One device's neonize client and what the adapter knows of it."""

    device_id: str
    listener: Listener
    client: object = None
    thread: threading.Thread | None = None
    stopping: threading.Event = field(default_factory=threading.Event)
    wake: threading.Event = field(default_factory=threading.Event)
    linked: threading.Event = field(default_factory=threading.Event)  # websocket up (QR or connected)
    connected: bool = False
    final: bool = False  # no reconnect: logged out, banned, replaced, outdated, link timeout
    attempts: int = 0
    qr_seen: int = 0
    qr_codes: set[str] = field(default_factory=set)  # the codes passed on (each once)
    pairing: bool = False
    ended_by: StatusCode | None = None  # why this adapter ended the client it will retry
    exists: dict[str, tuple[bool, datetime]] = field(default_factory=dict)




class Lifecycle:
    """Part of WhatsAppTransport (device_runner/whatsapp/adapter.py)."""

    clients: dict[str, Client]

    def connect(self, device_id, listener):
        with self._lock:
            if device_id in self.clients:
                return
            session = self.clients[device_id] = Client(device_id, listener)
        listener.on_status(device_id, DeviceStatus.linking, code=StatusCode.connecting)
        session.thread = threading.Thread(target=self._run, args=(session,), daemon=True,
                                          name=f"wa-{device_id}")
        session.thread.start()

    def disconnect(self, device_id):
        with self._lock:
            session = self.clients.pop(device_id, None)
        if session is None:
            return
        session.stopping.set()
        session.wake.set()
        self._stop_client(session)
        if session.thread is not None and session.thread is not threading.current_thread():
            session.thread.join(timeout=10)

    def _run(self, s: Client) -> None:
        try:
            self._loop(s)
        except Exception:  # a listener that raised (the store out of reach)...
            log.exception("device %s: the session thread failed", s.device_id)
        finally:  # ...or any end: a dead thread never leaves connect() a no-op
            with self._lock:
                if self.clients.get(s.device_id) is s and not s.final:
                    del self.clients[s.device_id]

    def _loop(self, s: Client) -> None:
        while not s.stopping.is_set():
            error: Exception | None = None
            try:  # reading the saved session and building the client fail like connecting
                saved = self.directory.jid_of(s.device_id)
                client = self.new_client(s.device_id, saved)
                self._wire(s, client)
                s.client = client
                client.connect()  # blocks for as long as the session runs
            except Exception as exc:  # neonize raises its errors; the loop survives them
                error = exc
            s.connected = False
            s.linked.clear()
            if s.stopping.is_set() or s.final:
                return
            delay = self.backoff.delay(s.attempts)
            s.attempts += 1
            code = s.ended_by or (StatusCode.connection_failed if error else StatusCode.disconnected)
            s.ended_by = None
            detail = f"{error}; " if error else ""
            log.warning("device %s: client ended (%s); reconnecting in %.1f s", s.device_id,
                        error or "closed", delay)
            s.listener.on_status(s.device_id, DeviceStatus.disconnected, code=code,
                                 detail=f"{detail}reconnect attempt {s.attempts} in {delay:.0f} s")
            self.wait(s.wake, delay)

    def _stop_client(self, s: Client) -> None:
        client = s.client
        if client is None:
            return
        for method in ("disconnect", "stop"):
            try:
                getattr(client, method)()
            except Exception:
                log.debug("device %s: %s failed", s.device_id, method, exc_info=True)

    def _finish(self, s: Client, code: StatusCode, detail: str | None = None, *,
                forget: bool = False) -> None:
        """A state without reconnection: report it and end the client."""
        s.final = True
        s.connected = False
        if forget:
            self.directory.forget(s.device_id)
        s.listener.on_status(s.device_id, STATUS[code], code=code, detail=detail)
        threading.Thread(target=self._stop_client, args=(s,), daemon=True).start()

