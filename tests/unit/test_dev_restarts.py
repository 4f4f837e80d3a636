"""The `make dev` supervisor: a crashed component is started again (as Cloud Run starts a
crashed instance), one that keeps crashing stops the stack, a dead emulator is named, and
and the stack's watchdog learns of every start."""

from __future__ import annotations

import subprocess
import sys
import time

from infra.emulators import Emulator
from infra.supervisor import RESTART_LIMIT, RESTART_WINDOW, Supervisor
from tests.fakes import wait_until


def supervisor(tmp_path) -> Supervisor:
    return Supervisor(tmp_path)


def stop(sup: Supervisor) -> None:
    sup.stop_components()
    sup.stop_emulators()
    sup.done()


def test_a_component_that_exits_is_started_again(tmp_path, capsys):
    sup = supervisor(tmp_path)
    marker = tmp_path / "runs"
    code = f"open({str(marker)!r}, 'a').write('x'); import time; time.sleep(60 if " \
           f"len(open({str(marker)!r}).read()) > 1 else 0)"
    sup.spawn("runner", [sys.executable, "-c", code], {})
    try:
        wait_until(lambda: sup.dead() == ["runner"], timeout=10)
        assert sup.restart_dead(time.monotonic()) == []
        assert "runner exited (code 0); starting it again" in capsys.readouterr().out
        wait_until(lambda: marker.exists() and marker.read_text() == "xx", timeout=10)
        assert sup.dead() == [] and [n for n, _ in sup.children] == ["runner"]
    finally:
        stop(sup)


def test_a_component_that_keeps_exiting_stops_the_stack(tmp_path):
    sup = supervisor(tmp_path)
    sup.spawn("api", [sys.executable, "-c", "raise SystemExit(3)"], {})
    try:
        now = 0.0
        for _ in range(RESTART_LIMIT):
            wait_until(lambda: sup.dead() == ["api"], timeout=10)
            assert sup.restart_dead(now) == []
            now += 1
        wait_until(lambda: sup.dead() == ["api"], timeout=10)
        assert sup.restart_dead(now) == ["api"]
        assert sup.restart_dead(now + RESTART_WINDOW) == []  # an old crash is forgiven
    finally:
        stop(sup)


def test_a_dead_emulator_is_named(tmp_path):
    sup = supervisor(tmp_path)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                             start_new_session=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    dead.wait()
    sup.emulators = [Emulator("firestore", "127.0.0.1:1", alive),
                     Emulator("pubsub", "127.0.0.1:2", dead)]
    try:
        assert sup.dead_emulators() == ["pubsub"]
    finally:
        stop(sup)
