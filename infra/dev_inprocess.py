"""`make dev` without gcloud (or with UTIO_DEV_INPROCESS=1): every component in this one
process, on the in-process backends (a MemoryStore, the in-process bus and task
dispatcher); the Auth emulator and the local Stripe beside it when they can run."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

from infra.dev import (
    AuthEmulator,
    Ports,
    banner,
    component_env,
    ensure_dev_account,
    local_stripe_env,
    sync_local_catalogue,
)
from infra.supervisor import Supervisor, say


def run_inprocess(ports: Ports, data_dir: Path, project: str, admin_key: str,
                  dev_key: str) -> int:
    """Every component in this process: MemoryStore, in-process bus and task dispatcher."""
    from werkzeug.serving import make_server

    from device_runner.app import create_app as runner_app
    from device_runner.main import build_runner, whatsapp_transport
    from functions.api.app import create_app as api_app
    from shared.bootstrap import Container, set_container
    from shared.settings import Settings

    os.environ.update(component_env(ports, project, admin_key, inprocess=True))
    stripe_env = local_stripe_env(ports, data_dir)
    os.environ.update(stripe_env)
    os.environ.setdefault("UTIO_MAIL_OUTBOX", str(data_dir / "outbox.jsonl"))
    # People sign in here too: the Auth emulator needs Node.js and firebase-tools, not gcloud.
    supervisor = Supervisor(data_dir / "logs")
    auth = AuthEmulator(ports, supervisor)
    try:
        auth.wait_env()
    except Exception as exc:  # noqa: BLE001 - API keys still work without it
        say(f"the Firebase Auth emulator did not start ({exc}); people cannot sign in, "
            "API keys work.")
    local_stripe = None
    if stripe_env:
        from infra.local_stripe import StripeStandIn

        local_stripe = StripeStandIn(stripe_env["UTIO_STRIPE_SECRET_KEY"],
                                     port=ports.local_stripe,
                                     webhook_url=f"http://127.0.0.1:{ports.stripe}/",
                                     webhook_secret=stripe_env["UTIO_STRIPE_WEBHOOK_SECRET"]).start()
        sync_local_catalogue()
    c = Container(Settings.from_env())
    set_container(c)
    runner = build_runner(c, whatsapp=whatsapp_transport(c))
    runner.start()
    from functions.main import stripe_webhook, webhook_deliver

    deliver_app = _function_app(webhook_deliver)
    servers = [make_server("127.0.0.1", port, app, threaded=True)
               for port, app in ((ports.api, api_app(c)), (ports.runner, runner_app(runner)),
                                 (ports.deliver, deliver_app),
                                 (ports.stripe, _function_app(stripe_webhook)))]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    sign_in = ensure_dev_account(dev_key, data_dir if auth.host else None, c)
    stopping = threading.Event()
    # Before the banner: a Ctrl-C right after "ready" must stop cleanly, not with a traceback.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: a closed terminal
        signal.signal(sig, lambda *_: stopping.set())
    banner(ports, admin_key, dev_key, "in-process backends; data is not kept between runs",
           sign_in, local_stripe=local_stripe is not None)
    stopping.wait()
    say("stopping...")
    for server in servers:
        server.shutdown()
    if local_stripe is not None:
        local_stripe.stop()
    runner.stop()
    supervisor.stop_emulators()
    supervisor.done()
    say("stopped.")
    return 0


def _function_app(function):
    import flask

    app = flask.Flask(function.__name__)
    app.add_url_rule("/", view_func=lambda: function(flask.request), methods=["POST", "GET"])
    return app
