"""The `make dev` supervisor: starts each component as a process that dies with it
(PR_SET_PDEATHSIG), tells infra.watchdog of everything it starts, starts again a
component that exits (as Cloud Run starts a crashed instance), and stops them all."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from infra import emulators

ROOT = Path(__file__).resolve().parent.parent


def say(text: str) -> None:
    try:
        print(f"[utio] {text}", flush=True)
    except OSError:  # the terminal is gone (SIGHUP): keep stopping, quietly
        pass


_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _die_with_parent(parent: int):
    """A preexec_fn: the child gets SIGTERM when the supervisor dies, however it dies."""
    def preexec() -> None:
        os.setsid()
        if _libc is not None:
            _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # died before the prctl took effect
            os._exit(1)
    return preexec


class Supervisor:
    def __init__(self, logs: Path):
        self.logs = logs
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.emulators: list[emulators.Emulator] = []
        self._specs: dict[str, tuple[list[str], dict[str, str]]] = {}
        self._restarts: dict[str, list[float]] = {}
        self.watchdog = subprocess.Popen(
            [sys.executable, "-m", "infra.watchdog"], cwd=ROOT, stdin=subprocess.PIPE,
            stdout=open(logs / "watchdog.log", "ab"), stderr=subprocess.STDOUT,  # noqa: SIM115
            start_new_session=True)

    def _tell(self, **note) -> None:
        try:
            self.watchdog.stdin.write(json.dumps(note).encode() + b"\n")
            self.watchdog.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass  # the watchdog is gone; the components still die with us (PDEATHSIG)

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 (lives as long as the child)
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT,
                                   preexec_fn=_die_with_parent(os.getpid()))
        self._tell(component=process.pid)  # setsid: its pid is its group's id
        threading.Thread(target=_pump, args=(name, process, log), daemon=True).start()
        self.children = [(n, p) for n, p in self.children if n != name] + [(name, process)]
        self._specs[name] = (argv, env)

    def add_emulator(self, emulator: emulators.Emulator) -> None:
        self.emulators.append(emulator)
        self._tell(emulator=emulator.process.pid)

    def will_save(self, **save) -> None:
        self._tell(save=save)

    def dead(self) -> list[str]:
        return [name for name, process in self.children if process.poll() is not None]

    def restart_dead(self, now: float) -> list[str]:
        """Start again each component that exited, as Cloud Run starts a crashed instance
        again. Returns those that crashed RESTART_LIMIT times within RESTART_WINDOW
        seconds: they are not started again (something is wrong beyond a crash)."""
        hopeless = []
        for name in self.dead():
            code = dict(self.children)[name].returncode
            recent = [t for t in self._restarts.get(name, []) if now - t < RESTART_WINDOW]
            if len(recent) >= RESTART_LIMIT:
                hopeless.append(name)
                continue
            self._restarts[name] = recent + [now]
            say(f"{name} exited (code {code}); starting it again (see {self.logs / name}.log)")
            self.spawn(name, *self._specs[name])
        return hopeless

    def dead_emulators(self) -> list[str]:
        return [e.name for e in self.emulators if e.process.poll() is not None]

    def stop_components(self) -> None:
        from infra.watchdog import stop_groups

        stop_groups([process.pid for _, process in reversed(self.children)])
        for _, process in self.children:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def stop_emulators(self) -> None:
        for emulator in reversed(self.emulators):
            emulator.stop()

    def done(self) -> None:
        """Everything is stopped: the watchdog has nothing left to do."""
        self._tell(clean=True)
        try:
            self.watchdog.stdin.close()
            self.watchdog.wait(timeout=5)
        except (BrokenPipeError, subprocess.TimeoutExpired):
            pass


RESTART_LIMIT, RESTART_WINDOW = 5, 60.0  # a component that exits more often stays down


def _pump(name: str, process: subprocess.Popen, log) -> None:
    quiet = os.environ.get("UTIO_DEV_QUIET") == "1"
    for line in iter(process.stdout.readline, b""):
        log.write(line)
        log.flush()
        if not quiet:
            try:
                sys.stdout.write(f"{name:>8} | {line.decode(errors='replace')}")
                sys.stdout.flush()
            except OSError:  # the terminal is gone; the log file still has it
                quiet = True


def wait_healthy(urls: dict[str, str], supervisor: Supervisor | None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    pending = dict(urls)
    while pending:
        if supervisor and supervisor.dead():
            raise RuntimeError(f"{', '.join(supervisor.dead())} exited during start-up; "
                               f"see {supervisor.logs}")
        for name, url in list(pending.items()):
            try:
                if requests.get(url, timeout=1).status_code < 500:
                    del pending[name]
            except requests.RequestException:
                pass
        if pending and time.monotonic() > deadline:
            raise RuntimeError(f"not healthy after {timeout:.0f} s: {', '.join(pending)}")
        time.sleep(0.2)
