"""Run the device runner: `python -m device_runner.main --port 8081`.

It takes its shard's lease (UTIO_RUNNER_SHARD), resumes the shard's devices and any
nobody holds, and serves the task, rpc and health endpoints. SIGTERM (Cloud Run's stop,
or Ctrl-C) ends the sessions, then releases the lease, so another runner takes the
devices over at once instead of after the lease time."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading

from device_runner.app import create_app
from device_runner.forwarding import HttpForwarder
from device_runner.leases import Leases
from device_runner.runner import Runner
from device_runner.sandbox import SandboxTransport
from device_runner.transport import SessionDirectory, Transport
from device_runner.unavailable import UnavailableTransport
from shared.bootstrap import Container, container

log = logging.getLogger(__name__)


def whatsapp_transport(c: Container) -> Transport:
    """The neonize adapter, or a stand-in saying why it cannot run on this machine."""
    try:
        from device_runner.whatsapp.adapter import WhatsAppTransport
    except ImportError as exc:  # neonize (or its native library) is not installed
        return UnavailableTransport(f"the WhatsApp transport is not available: {exc}")
    return WhatsAppTransport.from_container(c)


def build_runner(c: Container, sandbox: SandboxTransport | None = None, *,
                 whatsapp: Transport | None = None, leases: Leases | None = None) -> Runner:
    transports = {
        "sandbox": sandbox or SandboxTransport(sessions=SessionDirectory(c.store),
                                               media=c.inbound_media,
                                               public_url=c.settings.public_url),
        "whatsapp": whatsapp or UnavailableTransport(
            "the WhatsApp transport is not available in this build"),
    }
    return Runner(c, transports, leases=leases)


def self_url(settings, environ=os.environ, project_number=None) -> str:
    """Where other runners reach this one: set explicitly, else Cloud Run's deterministic
    URL (https://SERVICE-PROJECT_NUMBER.REGION.run.app), else the runner URL (local)."""
    if settings.runner_self_url:
        return settings.runner_self_url
    service = environ.get("K_SERVICE")
    if service:
        number = project_number() if project_number else _project_number()
        if number:
            return f"https://{service}-{number}.{settings.region}.run.app"
    return settings.runner_url


def _project_number() -> str | None:
    import requests

    try:
        response = requests.get("http://metadata.google.internal/computeMetadata/v1/project/"
                                "numeric-project-id", headers={"Metadata-Flavor": "Google"},
                                timeout=2)
        return response.text.strip() if response.ok else None
    except requests.RequestException:
        return None


def leases_for(c: Container) -> Leases:
    s = c.settings
    return Leases(c.store, c.clock, shard=s.runner_shard, url=self_url(s),
                  capacity=s.shard_capacity, lease_seconds=s.lease_seconds)


def main() -> None:
    from werkzeug.serving import make_server

    from device_runner import logs, provisioner
    from device_runner.shards import ShardKeeper

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8081")))
    args = parser.parse_args()
    c = container()
    logs.configure(json_lines=not c.settings.local, shard=c.settings.runner_shard)
    runner = build_runner(c, whatsapp=whatsapp_transport(c), leases=leases_for(c))
    keeper = ShardKeeper(runner, provisioner=provisioner.from_settings(c.settings))
    server = make_server(args.host, args.port,
                         create_app(runner, HttpForwarder(c.settings), keeper), threaded=True)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    threading.Thread(target=server.serve_forever, daemon=True).start()  # /healthz at once
    threading.Thread(target=keeper.run, daemon=True, name="keeper").start()
    from shared.services.event_log import sweep_forever

    threading.Thread(target=sweep_forever, args=(c.store, c.publisher, c.clock),
                     kwargs={"stale": c.settings.event_relay_stale, "stop": stopping},
                     daemon=True, name="event-sweep").start()  # events of dead processes
    stopping.wait()
    log.info("stopping: ending sessions and releasing the lease")
    keeper.stop(release=True)
    server.shutdown()


if __name__ == "__main__":
    main()
