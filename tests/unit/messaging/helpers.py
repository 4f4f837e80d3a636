"""Building blocks for the messaging tests: a container with in-memory storage, a
scripted media fetcher and a file outbox; an API caller; sample files of each type."""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable

from functions.api.app import create_app
from shared.adapters.mailers import FileOutboxMailer
from shared.adapters.storage import MemoryStorage
from shared.ports import Fetched, FetchError, MediaFetcher
from tests.fakes import ADMIN_KEY, Caller, make_container

PHONE = "+447911123456"
OTHER = "+447911123457"
GROUP = "120363025246125486@g.us"


class FakeFetcher(MediaFetcher):
    """Serves URLs from a dict: bytes, or a FetchError to raise. Honours max_bytes."""

    def __init__(self):
        self.files: dict[str, bytes | FetchError] = {}
        self.calls: list[tuple[str, int]] = []

    def fetch(self, url, *, max_bytes, timeout):
        self.calls.append((url, max_bytes))
        answer = self.files.get(url)
        if answer is None:
            raise FetchError("http_status", f"fetching {url} answered HTTP 404")
        if isinstance(answer, FetchError):
            raise answer
        if len(answer) > max_bytes:
            raise FetchError("too_large", f"{url} is larger than {max_bytes} bytes")
        return Fetched(answer, None, url)


def messaging_container(tmp_path, **kwargs):
    c = make_container(**kwargs)
    c.__dict__["storage"] = MemoryStorage()
    c.__dict__["fetcher"] = FakeFetcher()
    c.__dict__["mailer"] = FileOutboxMailer(tmp_path / "outbox.jsonl")
    return c


def make_api(c, name: str = "Acme Ltd", email: str | None = "owner@acme.example") -> Caller:
    client = create_app(c).test_client()
    body = {"name": name} | ({"email": email} if email else {})
    created = client.post("/v1/accounts", json=body,
                          headers={"Authorization": f"Bearer {ADMIN_KEY}"}).get_json()
    return Caller(client, created["api_key"]["key"], created["account"]["id"])


def set_plan(c, device_id: str, plan: str) -> None:
    """What billing does when a plan changes."""
    assert c.store.update("devices", device_id, {"plan": plan})


def first_text(api: Caller, device_id: str, to: dict) -> dict:
    """A text that opens the chat, so buttons and lists may follow."""
    response = api.send(device=device_id, message="Hello!", **to)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# --- sample files: the first bytes of each format, padded to a size -------------------


def _pad(head: bytes, size: int) -> bytes:
    return head + b"\0" * max(0, size - len(head))


def jpeg(size: int = 2048) -> bytes:
    return _pad(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01", size)


def png(size: int = 2048) -> bytes:
    return _pad(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", size)


def webp(size: int = 2048) -> bytes:
    return _pad(b"RIFF" + struct.pack("<I", size - 8) + b"WEBPVP8 ", size)


def gif_image(size: int = 2048) -> bytes:
    return _pad(b"GIF89a\x01\x00\x01\x00", size)


def bmp(size: int = 2048) -> bytes:
    return _pad(b"BM" + struct.pack("<I", size) + b"\0\0\0\0\x36\0\0\0", size)


def _ftyp(major: bytes, compatible: bytes, size: int) -> bytes:
    box = b"ftyp" + major + b"\0\0\2\0" + compatible
    return _pad(struct.pack(">I", len(box) + 4) + box, size)


def mp4(size: int = 4096) -> bytes:
    return _ftyp(b"isom", b"isomiso2avc1mp41", size)


def m4a(size: int = 4096) -> bytes:
    return _ftyp(b"M4A ", b"M4A isommp42", size)


def three_gp(size: int = 4096) -> bytes:
    return _ftyp(b"3gp4", b"isom3gp4", size)


def mov(size: int = 4096) -> bytes:
    return _ftyp(b"qt  ", b"qt  ", size)


def mp3(size: int = 4096) -> bytes:
    return _pad(b"ID3\x04\x00\x00\x00\x00\x00\x00", size)


def ogg(size: int = 4096) -> bytes:
    return _pad(b"OggS\x00\x02" + b"\0" * 22 + b"OpusHead", size)


def aac(size: int = 4096) -> bytes:
    return _pad(b"\xff\xf1\x50\x80", size)


def pdf(size: int = 4096) -> bytes:
    return _pad(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", size)


def rar(size: int = 4096) -> bytes:
    return _pad(b"Rar!\x1a\x07\x01\x00", size)


def _zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return out.getvalue()


def docx() -> bytes:
    return _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})


def pptx() -> bytes:
    return _zip({"[Content_Types].xml": b"<Types/>", "ppt/presentation.xml": b"<p/>"})


def plain_zip() -> bytes:
    return _zip({"a.txt": b"hello", "b.txt": b"world"})


def html() -> bytes:
    return b"<!DOCTYPE html><html><body>Not found</body></html>"


def unknown_binary(size: int = 1024) -> bytes:
    return bytes(range(7, 256)) * (size // 249 + 1)


SampleFactory = Callable[..., bytes]


class Timer:
    """A sandbox timer that runs callbacks only when the test fires them."""

    def __init__(self):
        import threading

        self.pending: list = []
        self._lock = threading.Lock()

    def __call__(self, delay, fn):
        with self._lock:
            self.pending.append((delay, fn))

    def fire(self) -> int:
        with self._lock:
            due, self.pending = sorted(self.pending, key=lambda item: item[0]), []
        for _, fn in due:
            fn()
        return len(due)


def connect(runner, timer: Timer, device_id: str, speed: int = 60_000):
    """Start the device's session on `runner`, link it (its sandbox's `timer` fired) and
    pace it to `speed` a minute; the session. A long bound: this waits on runner threads,
    on loaded machines."""
    from tests.fakes import wait_until

    runner.handle_device_task({"device_id": device_id, "action": "start"})
    timer.fire()
    wait_until(lambda: runner.sessions[device_id].connected, 15.0, "connected")
    runner.sessions[device_id].set_speed(speed)
    return runner.sessions[device_id]


def status(c, message_id: str) -> str:
    return c.repos.messages.doc(message_id)["status"]


def connected_sandbox(c, device_id: str, **transport):
    """A runner over a sandbox network of its own (`transport`: more of the sandbox's
    arguments), the device started, linked and paced to 60 000 a minute:
    (runner, network)."""
    from device_runner.main import build_runner
    from device_runner.sandbox import SandboxNetwork, SandboxTransport

    network = SandboxNetwork()
    timer = Timer()
    runner = build_runner(c, sandbox=SandboxTransport(network, timer=timer, **transport))
    connect(runner, timer, device_id)
    return runner, network
