"""Start and stop the Firestore and Pub/Sub emulators of the Google Cloud SDK.

Used by the `make dev` supervisor and by the test fixtures. Nothing here builds a client
at import time."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

READY_TIMEOUT = 90.0


def gcloud_available() -> bool:
    return shutil.which("gcloud") is not None and shutil.which("java") is not None


def free_port() -> int:
    """A port free now, from 10000-19999: below the kernel's ephemeral range (32768 up),
    so that no process's outgoing connection takes it before its server binds it (an
    emulator takes seconds to), and apart from the end-to-end stacks' blocks (20000 up)."""
    for _ in range(500):
        port = random.randrange(10000, 20000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 10000-19999")


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs (zombies waiting for init do not count)."""
    proc = Path("/proc")
    if proc.is_dir():
        for stat in proc.glob("[0-9]*/stat"):
            try:
                state, _ppid, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
            if int(group) == pgid and state != "Z":
                return True
        return False
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


@dataclass
class Emulator:
    name: str
    host: str  # "127.0.0.1:PORT"
    process: subprocess.Popen
    log_path: Path | None = None

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM the whole process group (gcloud, its shell wrapper and java), wait,
        then SIGKILL whatever is left."""
        pgid = self.process.pid  # started with start_new_session: pid == pgid
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
            with suppress(ProcessLookupError):
                os.killpg(pgid, sig)
            deadline = time.monotonic() + wait
            while _group_alive(pgid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if not _group_alive(pgid):
                break
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)  # reap gcloud itself

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _start(name: str, args: list[str], port: int | None, log_path: Path | None,
           argv: list[str] | None = None, timeout: float = READY_TIMEOUT) -> Emulator:
    port = port or free_port()
    host = f"127.0.0.1:{port}"
    if log_path is None:
        fd, raw = tempfile.mkstemp(prefix=f"utio-{name}-", suffix=".log")
        os.close(fd)
        log_path = Path(raw)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            argv + ["--port", str(port)] if argv else ["gcloud", "--quiet", *args, f"--host-port={host}"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    emulator = Emulator(name, host, process, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            emulator.stop()
            raise RuntimeError(f"the {name} emulator exited with code {process.returncode} before "
                               f"answering on {host}; log {log_path}:\n{emulator.log_tail()}")
        try:
            with urllib.request.urlopen(f"http://{host}/", timeout=2):
                return emulator
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    emulator.stop()
    raise RuntimeError(f"the {name} emulator did not answer on {host} within {timeout:.0f} s; "
                       f"log {log_path}:\n{emulator.log_tail()}")


def _latest_export(import_dir: Path) -> Path | None:
    """The newest `*.overall_export_metadata` under import_dir (what --import-data wants)."""
    found = list(import_dir.rglob("*.overall_export_metadata")) if import_dir.is_dir() else []
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def start_firestore(port: int | None = None, *, log_path: Path | None = None,
                    import_dir: Path | None = None) -> Emulator:
    args = ["emulators", "firestore", "start"]
    metadata = _latest_export(import_dir) if import_dir else None
    if metadata:
        args.append(f"--import-data={metadata.resolve()}")
    return _start("firestore", args, port, log_path)


def export_firestore(host: str, project: str, export_dir: Path) -> None:
    """Export one project's documents to export_dir, replacing an earlier export there, so
    that `start_firestore(import_dir=export_dir)` sees them again."""
    export_dir = export_dir.resolve()
    incoming = export_dir / ".incoming"
    shutil.rmtree(incoming, ignore_errors=True)
    incoming.mkdir(parents=True)  # the emulator wants an existing directory
    body = {"database": f"projects/{project}/databases/(default)", "export_directory": str(incoming)}
    request = urllib.request.Request(
        f"http://{host}/emulator/v1/projects/{project}:export", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    try:
        urllib.request.urlopen(request, timeout=60).close()
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"Firestore emulator export failed: {exc.code} {exc.read()[:500]!r}") from exc
    produced = [p for p in incoming.iterdir() if p.is_dir()]
    if len(produced) != 1 or _latest_export(produced[0]) is None:
        raise RuntimeError(f"Firestore emulator export left no metadata file in {incoming}")
    for old in export_dir.glob("firestore_export_*"):
        shutil.rmtree(old)
    produced[0].rename(export_dir / produced[0].name)
    incoming.rmdir()


def start_pubsub(port: int | None = None, *, log_path: Path | None = None,
                 data_dir: Path | None = None) -> Emulator:
    args = ["beta", "emulators", "pubsub", "start"]
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)  # gcloud fails on a missing one
        args.append(f"--data-dir={data_dir.resolve()}")
    return _start("pubsub", args, port, log_path)


@contextmanager
def _pubsub(host: str):
    """Publisher and subscriber clients on the emulator at host, whatever the environment."""
    import grpc
    from google.cloud import pubsub_v1
    from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport
    from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

    publisher = pubsub_v1.PublisherClient(
        transport=PublisherGrpcTransport(channel=grpc.insecure_channel(host)))
    subscriber = pubsub_v1.SubscriberClient(
        transport=SubscriberGrpcTransport(channel=grpc.insecure_channel(host)))
    try:
        yield publisher, subscriber
    finally:
        publisher.transport.close()
        subscriber.close()


def ensure_topic(host: str, project: str, topic: str) -> None:
    from google.api_core.exceptions import AlreadyExists

    with _pubsub(host) as (publisher, _), suppress(AlreadyExists):
        publisher.create_topic(name=publisher.topic_path(project, topic))


PUSH_ACK_DEADLINE = 60  # seconds, as terraform/modules/pubsub's fanout subscription


def ensure_push_subscription(host: str, project: str, topic: str, subscription: str,
                             push_endpoint: str) -> None:
    """The topic, and a push subscription on it to push_endpoint (moved there if it exists),
    with terraform's ack deadline (PUSH_ACK_DEADLINE): fan-out's inline attempts may hold a
    push longer than the emulator's default 10 s."""
    from google.api_core.exceptions import AlreadyExists, NotFound
    from google.pubsub_v1 import PushConfig

    ensure_topic(host, project, topic)
    push = PushConfig(push_endpoint=push_endpoint)
    with _pubsub(host) as (publisher, subscriber):
        path = subscriber.subscription_path(project, subscription)
        try:
            subscriber.create_subscription(
                name=path, topic=publisher.topic_path(project, topic), push_config=push,
                ack_deadline_seconds=PUSH_ACK_DEADLINE)
            return
        except AlreadyExists:
            pass
        with suppress(NotFound):  # deleted meanwhile: nothing to move
            if subscriber.get_subscription(subscription=path).push_config.push_endpoint != push_endpoint:
                subscriber.modify_push_config(subscription=path, push_config=push)


FIREBASE_DIR = Path(__file__).resolve().parent / "firebase"  # firebase-tools, `npm ci` there
AUTH_PROJECT = "demo-utio"  # a demo- project: the emulator never reaches for the network
AUTH_READY_TIMEOUT = 300.0  # it compiles its API description at start: ~20 s of CPU


def auth_available() -> bool:
    return shutil.which("node") is not None and (
        FIREBASE_DIR / "node_modules" / "firebase-tools" / "package.json").is_file()


def start_auth(port: int | None = None, *, log_path: Path | None = None,
               project: str = AUTH_PROJECT, data_dir: Path | None = None) -> Emulator:
    """The Firebase Auth emulator of firebase-tools (infra/firebase/auth_emulator.cjs),
    for Identity Platform. One emulator serves every local project; ID tokens that the
    browser gets from it are for `project`. With `data_dir`, its accounts are kept there
    between runs (written within a second of each change, and as it stops)."""
    if not auth_available():
        raise RuntimeError(f"the Firebase Auth emulator needs Node.js and firebase-tools: run "
                           f"`npm ci --ignore-scripts` in {FIREBASE_DIR} (make dev and make "
                           "test do)")
    argv = ["node", str(FIREBASE_DIR / "auth_emulator.cjs"), "--host", "127.0.0.1",
            "--project", project] + (["--data", str(data_dir.resolve())] if data_dir else [])
    return _start("auth", [], port, log_path, argv=argv, timeout=AUTH_READY_TIMEOUT)


@contextmanager
def serving(emulator: Emulator, variable: str) -> Iterator[Emulator]:
    """The emulator named in `variable` (the Google clients read it) for the block; then
    the variable as it was, and the emulator stopped."""
    saved = os.environ.get(variable)
    os.environ[variable] = emulator.host
    try:
        yield emulator
    finally:
        if saved is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = saved
        emulator.stop()


def auth_env(auth: Emulator) -> dict[str, str]:
    """What the API needs to take the emulator's ID tokens and manage its users."""
    return {"FIREBASE_AUTH_EMULATOR_HOST": auth.host, "UTIO_AUTH_EMULATOR_HOST": auth.host,
            "UTIO_IDENTITY_BACKEND": "firebase", "UTIO_IDENTITY_PROJECT": AUTH_PROJECT}


def emulator_env(firestore: Emulator, pubsub: Emulator) -> dict[str, str]:
    return {"FIRESTORE_EMULATOR_HOST": firestore.host, "PUBSUB_EMULATOR_HOST": pubsub.host}
