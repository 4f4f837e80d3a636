"""Outlives the `make dev` supervisor and stops what it started when it dies uncleanly.

The supervisor starts this process first, in a session of its own, with a pipe on its
stdin, and writes one JSON line per thing it starts: `{"component": pgid}` for an app
process group (runner and its shards, functions, task dispatcher), `{"emulator": pgid}`
for an emulator's group, `{"save": {...}}` for how to save the Firestore data. A clean stop
ends with `{"clean": true}`. When the pipe closes without it (the supervisor was killed
outright, crashed, or lost its terminal before it could stop), this process stops
everything the same way the supervisor would: the components first, so nothing changes
after the data is saved, then the Firestore data is saved, then the emulators stop.

Run as `python -m infra.watchdog`; only infra.dev starts it.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from contextlib import suppress
from pathlib import Path

from infra.emulators import _group_alive


def stop_groups(pgids: list[int], timeout: float = 10) -> None:
    """SIGTERM every process group, wait up to `timeout` for them to end, SIGKILL the rest."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
        alive = [pgid for pgid in pgids if _group_alive(pgid)]
        for pgid in alive:
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, sig)
        deadline = time.monotonic() + wait
        while any(_group_alive(pgid) for pgid in alive) and time.monotonic() < deadline:
            time.sleep(0.05)


def save_data(save: dict) -> str:
    """Export the Firestore emulator's data and snapshot the task journal beside it (see
    infra.dev_data.save_data). Returns what it did, for the log."""
    from infra.dev_data import save_data as save_with_journal

    return save_with_journal(save["host"], save["project"], Path(save["firestore_dir"]),
                             Path(save["journal"]), Path(save["marker"]))


def main() -> int:
    # The terminal's hang-up and Ctrl-C are the supervisor's to handle; this process only
    # acts when its pipe closes.
    for sig in (signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    components: list[int] = []
    emulators: list[int] = []
    save: dict | None = None
    for line in sys.stdin:
        try:
            note = json.loads(line)
        except ValueError:
            continue
        if note.get("clean"):
            return 0
        if "component" in note:
            components.append(int(note["component"]))
        if "emulator" in note:
            emulators.append(int(note["emulator"]))
        if "save" in note:
            save = note["save"]
    print("[utio] the supervisor is gone: stopping what it started", flush=True)
    stop_groups(components)
    if save is not None:
        try:
            print(f"[utio] {save_data(save)}", flush=True)
        except Exception as exc:  # stop the emulators whatever happens
            print(f"[utio] could not save Firestore data: {exc}", flush=True)
    stop_groups(emulators)
    return 0


if __name__ == "__main__":
    sys.exit(main())
