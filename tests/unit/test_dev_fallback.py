"""`python -m infra.dev` without gcloud on PATH says it falls back to in-process backends,
starts, and stops on Ctrl-C. A real subprocess on loopback ports, bounded in time."""

from __future__ import annotations

import os
import queue
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPAN = 10  # the stack uses UTIO_API_PORT .. UTIO_API_PORT + 9
STARTUP = 60.0  # seconds to wait for the banner


def _free_base() -> int:
    for _ in range(50):
        base = random.randrange(20000, 60000 - SPAN)
        sockets = []
        try:
            for port in range(base, base + SPAN):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no run of 10 free loopback ports")


def _path_without_gcloud() -> str:
    kept = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and not (Path(d) / "gcloud").exists()]
    path = os.pathsep.join(kept)
    assert shutil.which("gcloud", path=path) is None
    return path


def test_without_gcloud_the_dev_stack_runs_on_in_process_backends(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("UTIO_") and not k.endswith("_EMULATOR_HOST")}
    env |= {"PATH": _path_without_gcloud(), "PYTHONPATH": str(ROOT),
            "UTIO_API_PORT": str(_free_base()), "UTIO_DATA_DIR": str(tmp_path / "data"),
            "UTIO_MAIL_OUTBOX": str(tmp_path / "outbox.jsonl"), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "infra.dev"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    lines: queue.Queue[str | None] = queue.Queue()

    def pump():
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + STARTUP
        while not any("Utio is running" in line for line in seen):
            left = deadline - time.monotonic()
            assert left > 0, "no banner within the time:\n" + "".join(seen)
            try:
                line = lines.get(timeout=left)
            except queue.Empty:
                continue
            assert line is not None, "infra.dev ended before its banner:\n" + "".join(seen)
            seen.append(line)
        output = "".join(seen)
        assert "gcloud (or Java) is not installed: running on in-process backends" in output
        assert "in-process backends; data is not kept between runs" in output
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    while (line := lines.get(timeout=5)) is not None:
        seen.append(line)
    assert "[utio] stopped." in "".join(seen)
