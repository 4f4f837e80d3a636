"""Run the device runner: `python -m device_runner.main --port 8081`."""

from __future__ import annotations

import argparse
import logging

from device_runner.app import create_app
from device_runner.runner import Runner
from device_runner.sandbox import SandboxTransport
from device_runner.unavailable import UnavailableTransport
from shared.bootstrap import Container, container


def build_runner(c: Container, sandbox: SandboxTransport | None = None) -> Runner:
    transports = {
        "sandbox": sandbox or SandboxTransport(),
        "whatsapp": UnavailableTransport("the WhatsApp transport is not available in this build"),
    }
    return Runner(c, transports)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s runner %(levelname)s %(message)s")
    runner = build_runner(container())
    runner.start()
    from werkzeug.serving import run_simple

    run_simple(args.host, args.port, create_app(runner), threaded=True)


if __name__ == "__main__":
    main()
