"""Starting the local stack as a user does (`python -m infra.dev`, what `make dev` runs)
on a free block of ports, for the end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.fakes import wait_until

ROOT = Path(__file__).resolve().parents[2]


def _ephemeral_low() -> int:
    """The lowest port the kernel hands out to outgoing connections (Linux's default 32768)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_base() -> int:
    """A base port with the ten ports the stack takes (base to base + 9) all free, below
    the ephemeral range: a port free now but in that range can be taken by any process's
    next outgoing connection before the stack's component binds it (a start-up failure
    seen under load: "Port 37748 is in use by another program")."""
    blocks = max(1, (_ephemeral_low() - 20000) // 10 - 1)
    for _ in range(200):
        base = 20000 + (uuid.uuid4().int % blocks) * 10
        sockets = []
        try:
            for port in range(base, base + 10):
                s = socket.socket()
                s.bind(("127.0.0.1", port))
                sockets.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no free port range")


def healthy(api: str) -> bool:
    try:
        return requests.get(f"{api}/health", timeout=1).ok
    except requests.RequestException:
        return False


@dataclass
class Stack:
    api: str
    key: str
    admin: str
    process: subprocess.Popen
    log: Path
    base: int
    project: str  # unique to this stack: every process it starts has it in its environment


def processes_of(project: str) -> list[int]:
    """The live processes whose environment holds UTIO_PROJECT=project (zombies aside)."""
    needle = f"UTIO_PROJECT={project}".encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
        except (OSError, IndexError):
            continue  # gone meanwhile, or not ours to read
        found.append(int(entry.name))
    return found


@contextmanager
def running_stack(data: Path, env_overrides: dict[str, str | None],
                  project: str | None = None) -> Iterator[Stack]:
    """The stack on free ports with fresh keys; `None` in env_overrides removes a variable.
    Stopped with SIGINT (Ctrl-C) at the end, as a user stops it."""
    base = free_base()
    env = dict(os.environ) | {
        "UTIO_API_PORT": str(base), "UTIO_DATA_DIR": str(data / "data"),
        "UTIO_PROJECT": project or "e2e-" + uuid.uuid4().hex[:8],
        "UTIO_DEV_API_KEY": "utio_e2e_" + uuid.uuid4().hex,
        "UTIO_ADMIN_KEY": "adm_e2e_" + uuid.uuid4().hex, "UTIO_DEV_QUIET": "1",
        # people's sign-in only where a test hands in the session's Auth emulator
        # (FIREBASE_AUTH_EMULATOR_HOST in env_overrides): it is slow to start
        "UTIO_DEV_AUTH": "0"}
    env.pop("FIREBASE_AUTH_EMULATOR_HOST", None)
    for name, value in env_overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    data.mkdir(parents=True, exist_ok=True)
    log_path = data / "dev.log"
    log = open(log_path, "wb")  # noqa: SIM115
    # a process group of its own, as a terminal gives the job it runs
    process = subprocess.Popen([sys.executable, "-m", "infra.dev"], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    api = f"http://127.0.0.1:{base}/v1"
    try:
        wait_until(lambda: healthy(api) or process.poll() is not None, 90, "the stack to start",
                   interval=0.1)
        assert process.poll() is None, log_path.read_text()[-3000:]
        # the banner prints after the dev account exists
        wait_until(lambda: "Utio is running" in log_path.read_text(), 30, "the banner",
                   interval=0.1)
        yield Stack(api, env["UTIO_DEV_API_KEY"], env["UTIO_ADMIN_KEY"], process, log_path, base,
                    env["UTIO_PROJECT"])
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()
