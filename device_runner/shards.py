"""Keeps a runner's shard alive: takes the shard's lease at start (waiting while another
instance of the shard still holds it, as in a rollout), renews it, lets go of every
session at once if it is lost, takes over devices nobody holds (a dead shard's, within
the lease time), asks the provisioner for a new shard when all are full, and sweeps
its devices for the non-operative rule. Graceful shutdown ends the sessions first and
then releases the lease, so the next holder never overlaps a live WhatsApp session."""

from __future__ import annotations

import logging
import threading

from device_runner.provisioner import Provisioner, request_shard
from device_runner.runner import Runner
from device_runner.sweep import SWEEP_SECONDS, sweep
from shared.services.linking import connection

log = logging.getLogger(__name__)


class ShardKeeper:
    def __init__(self, runner: Runner, *, renew_seconds: float | None = None,
                 provisioner: Provisioner | None = None):
        if runner.leases is None:
            raise ValueError("a ShardKeeper needs a runner built with leases")
        self.runner = runner
        self.leases = runner.leases
        self.renew_seconds = renew_seconds or runner.c.settings.renew_seconds
        self.provisioner = provisioner
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._resume_all = False
        self._starter: threading.Thread | None = None
        self._ticks = 0
        self.sweep_every = max(1, round(SWEEP_SECONDS / self.renew_seconds))  # ticks

    def start(self, *, loop: bool = True, timeout: float | None = None) -> bool:
        """Take the lease (waiting for it), start renewing, then resume the shard's devices:
        a resume of hundreds of devices takes longer than a lease, so the renewals run
        beside it (in their own thread) rather than after it."""
        waited = 0.0
        while not self._acquire():
            if self._stopping.is_set() or (timeout is not None and waited >= timeout):
                return False
            step = min(self.renew_seconds, 1.0)
            self._stopping.wait(step)
            waited += step
        log.info("holding shard %s (epoch %s)", self.leases.shard, self.leases.epoch)
        if loop:
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name=f"lease-{self.leases.shard}")
            self._thread.start()
        self.runner.start()
        return True

    def _acquire(self) -> bool:
        try:
            if self.leases.acquire():
                return True
            log.info("shard %s is held by another instance; waiting for its lease",
                     self.leases.shard)
        except Exception:  # the store out of reach at start: keep trying, never die
            log.exception("could not take the lease of shard %s; retrying", self.leases.shard)
        return False

    def run(self) -> None:
        """start() for the runner's main thread: never raises, retries until stopped."""
        self._starter = threading.current_thread()
        while not self._stopping.is_set():
            try:
                if self.start():
                    return
            except Exception:
                log.exception("starting shard %s failed; retrying", self.leases.shard)
                self._stopping.wait(min(self.renew_seconds, 5.0))

    def running(self) -> bool:
        """Starting (waiting for the lease, resuming) or renewing: the runner is alive."""
        threads = [t for t in (self._starter, self._thread) if t is not None]
        return self._stopping.is_set() or not threads or any(t.is_alive() for t in threads)

    def _run(self) -> None:
        while not self._stopping.wait(self.renew_seconds):
            self.safe_tick()

    def safe_tick(self) -> None:
        """tick(), never raising. A renew that keeps failing (the store out of reach) must
        still drop the sessions once the lease has run out: another shard takes the
        devices then, and one WhatsApp session must never run twice. If the store answers
        again before anyone took them, the next tick resumes them."""
        try:
            self.tick()
        except Exception:
            log.exception("lease tick failed")
            if not self.leases.valid() and self.runner.sessions:
                log.error("the lease of shard %s ran out while renewing failed: dropping "
                          "every session", self.leases.shard)
                self.runner.drop_all()
                self._resume_all = True

    def tick(self) -> None:
        leases, runner = self.leases, self.runner
        if not leases.renew():
            log.error("lost the lease of shard %s: dropping every session", leases.shard)
            runner.drop_all()
            if leases.acquire():
                self._beside(runner.start)
            return
        runner.renewed()
        if self._resume_all:  # sessions dropped while the lease ran out: take them up again
            self._resume_all = False
            self._beside(lambda: runner.resume(leases.mine()))
        elif runner.to_resume:  # skipped while the lease was late
            runner.resume(sorted(runner.to_resume))
        adopted = runner.resume(leases.orphans(leases.free()))
        if adopted:
            log.info("took over %d device(s): %s", len(adopted), ", ".join(adopted))
        if self.provisioner is not None and leases.orphans(1) and not leases.room_anywhere():
            request_shard(runner.c.store, runner.c.clock, self.provisioner)
        c = runner.c
        self._ticks += 1
        if self._ticks % self.sweep_every == 0:
            self.sweep()
        down = [d for d in leases.held() if runner.statuses.get(d) == "disconnected"]
        if down:  # read only the devices whose transport last said disconnected
            connection.sweep_non_operative(c.store, c.bus, c.clock, c.mailer, down,
                                           after=c.settings.non_operative_after,
                                           fence=leases.fence)

    def sweep(self):
        """Stranded work (device_runner/sweep.py): devices of this shard without a session,
        queued messages past due that no session has."""
        return sweep(self.runner, self.runner.c.clock.now())

    def _beside(self, resume) -> None:
        """Run a resume of many devices beside the renewals (in the renewing thread, it
        would starve them); inline when the test drives the ticks itself."""
        if self._thread is None:
            resume()
        else:
            threading.Thread(target=resume, daemon=True,
                             name=f"resume-{self.leases.shard}").start()

    def stop(self, *, release: bool = True) -> None:
        """Graceful: end the sessions, then give the lease up for an immediate takeover."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.runner.stop()
        if release:
            self.leases.release()
        if self.provisioner is not None:
            self.provisioner.stop()

    def kill(self) -> None:
        """What a crash looks like to the others (tests and the bench): renewing stops,
        nothing is released, the sessions vanish."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.runner.drop_all()
