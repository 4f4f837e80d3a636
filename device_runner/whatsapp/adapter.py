"""The `whatsapp` transport over neonize (whatsmeow): one client per device, one event
dispatcher per client (a single type switch), connection state as enumerated codes.

Sessions live in whatsmeow's SQL store (settings.session_db_url: PostgreSQL; locally a
SQLite file per runner). The device's WhatsApp JID is kept on the device document, so a
restarted runner (or the one that takes a device over) resumes it without a scan.

The transport is put together from one part per concern, each a module of its own:
lifecycle.py (a client's life and reconnection), dispatch.py (neonize's events),
linking.py (QR and pairing codes), sending.py (sends, number checks, the profile),
group_calls.py (groups); convert.py is the pure conversion of messages (jids.py of
addresses, group_convert.py of group answers).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from device_runner.transport import SessionDirectory, Transport
from device_runner.whatsapp import jids
from device_runner.whatsapp.dispatch import Dispatcher
from device_runner.whatsapp.group_calls import GroupCalls
from device_runner.whatsapp.lifecycle import Backoff, Client, Lifecycle
from device_runner.whatsapp.linking import Linking
from device_runner.whatsapp.sending import Sending, SentLedger
from shared.adapters.inbound_media import MediaStore

ClientFactory = Callable[[str, str | None], object]
Timer = Callable[[float, Callable[[], None]], None]


def _thread_timer(delay: float, fn: Callable[[], None]) -> None:
    timer = threading.Timer(delay, fn)
    timer.daemon = True
    timer.start()


class WhatsAppTransport(Lifecycle, Dispatcher, Linking, Sending, GroupCalls, Transport):
    def __init__(self, new_client: ClientFactory, directory: SessionDirectory, ledger: SentLedger,
                 *, media: MediaStore | None = None, public_url: str = "",
                 backoff: Backoff | None = None, timer: Timer = _thread_timer,
                 wait: Callable[[threading.Event, float], object] | None = None):
        self.new_client = new_client
        self.directory, self.ledger = directory, ledger
        self.media, self.public_url = media, public_url
        self.backoff = backoff or Backoff(2.0, 300.0)
        self.timer = timer
        self.wait = wait or (lambda event, seconds: event.wait(seconds))
        self.clients: dict[str, Client] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_container(cls, c) -> WhatsAppTransport:
        s = c.settings
        db = s.session_db_url
        if not db:
            folder = Path(s.data_dir) / "sessions"
            folder.mkdir(parents=True, exist_ok=True)
            db = str(folder / f"{s.runner_shard}.db")
        return cls(neonize_factory(db), SessionDirectory(c.store), SentLedger(c.store),
                   media=c.inbound_media, public_url=s.public_url,
                   backoff=Backoff(s.reconnect_base, s.reconnect_max))


def neonize_factory(db: str) -> ClientFactory:
    """neonize clients over one whatsmeow store (a SQLite path or a postgres:// URL)."""

    def make(device_id: str, saved_jid: str | None):
        from neonize.client import NewClient

        jid = jids.parse_jid(saved_jid) if saved_jid else None
        return NewClient(db, jid=jid, uuid=device_id, new_device=jid is None)

    return make
