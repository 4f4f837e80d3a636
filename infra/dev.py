"""`make dev`: the whole platform on this machine, under one supervisor.

With gcloud: the Firestore and Pub/Sub emulators, every function on loopback
(functions-framework), one device runner with the sandbox transport, and the local
task dispatcher, each its own process. Without gcloud: the same components in this one
process on in-process backends. Ctrl-C, a closed terminal (SIGHUP) and SIGTERM stop
everything it started; so does its death by SIGKILL or a crash, through infra.watchdog
(and each component dies with it: PR_SET_PDEATHSIG).

Stopping is ordered so that the saved Firestore data and the task journal agree: the
components stop first (nothing sends or writes any more), then the emulator's data is
exported and the journal copied beside the export, then the emulators stop. A run that
could not save (the machine went down, the emulator was killed) leaves its marker file;
the next start then takes the journal copy that matches the last export, so that data and
pending tasks are rolled back together.

The processes are supervised by infra/supervisor.py, what is kept between runs is
infra/dev_data.py, and the run without gcloud is infra/dev_inprocess.py.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from infra import dead_letter, emulators
from infra.dev_data import load_keys, load_sign_in, recover_unsaved_run, save_data
from infra.supervisor import RESTART_LIMIT, RESTART_WINDOW, ROOT, Supervisor, say, wait_healthy
from shared import names

WEB_DIST = ROOT / "web" / "dist"  # `make web` builds it


@dataclass(frozen=True)
class Ports:
    api: int

    @property
    def runner(self) -> int:
        return self.api + 1

    @property
    def fanout(self) -> int:
        return self.api + 2

    @property
    def deliver(self) -> int:
        return self.api + 3

    @property
    def stripe(self) -> int:
        return self.api + 4

    @property
    def pubsub(self) -> int:
        return self.api + 5

    @property
    def firestore(self) -> int:
        return self.api + 6

    @property
    def local_stripe(self) -> int:
        return self.api + 8

    @property
    def auth(self) -> int:
        return self.api + 7

    @property
    def tasks(self) -> int:
        return self.api + 9


def component_env(ports: Ports, project: str, admin_key: str, *, inprocess: bool) -> dict[str, str]:
    base = "http://127.0.0.1"
    env = {
        "UTIO_ENV": "local",
        "UTIO_PROJECT": project,
        "GOOGLE_CLOUD_PROJECT": project,
        "UTIO_ADMIN_KEY": admin_key,
        "UTIO_ALLOW_PRIVATE_WEBHOOKS": "1",
        "UTIO_DEFAULT_TRANSPORT": "sandbox",
        "UTIO_RUNNER_URL": f"{base}:{ports.runner}",
        "UTIO_WEBHOOK_DELIVER_URL": f"{base}:{ports.deliver}/",
        "UTIO_LOCAL_TASKS_URL": f"{base}:{ports.tasks}",
        "UTIO_STORE_BACKEND": "memory" if inprocess else "firestore",
        "UTIO_BUS_BACKEND": "inprocess" if inprocess else "pubsub",
        "UTIO_TASKS_BACKEND": "inprocess" if inprocess else "local",
        "UTIO_WEB_DIR": str(WEB_DIST),  # the api serves the web app beside /v1
        "UTIO_PUBLIC_URL": f"{base}:{ports.api}",  # where Checkout and the portal return
    }
    if not inprocess:  # runners hold leases in Firestore; a full shard starts another runner
        env |= {"UTIO_PROVISIONER": "local", "UTIO_LEASE_SECONDS": "15",
                "UTIO_RENEW_SECONDS": "5"}
    return env


def local_stripe_env(ports: Ports, data_dir: Path) -> dict[str, str]:
    """Without Stripe keys, billing runs against the local Stripe (infra/local_stripe.py):
    these settings point every component at it. Empty when UTIO_STRIPE_SECRET_KEY is set."""
    if os.environ.get("UTIO_STRIPE_SECRET_KEY"):
        return {}
    path = data_dir / "local-stripe-secret"
    if not path.exists():
        path.write_text("whsec_local_" + secrets.token_urlsafe(24))
        path.chmod(0o600)
    return {"UTIO_STRIPE_SECRET_KEY": "sk_test_local",
            "UTIO_STRIPE_WEBHOOK_SECRET": path.read_text().strip(),
            "UTIO_STRIPE_API_BASE": f"http://127.0.0.1:{ports.local_stripe}"}


def dev_email() -> str:
    """The development account's email: its mail (a webhook disabled, a device down) goes
    to the local outbox, .utio/outbox.jsonl (the development sign-in's email too)."""
    return os.environ.get("UTIO_DEV_EMAIL") or "dev@utio.local"


def sync_local_catalogue() -> None:
    """The plans' products, prices and VAT rates in the local Stripe (idempotent)."""
    from shared.billing.catalog_sync import sync
    from shared.billing.stripe_adapter import StripeBilling
    from shared.settings import Settings

    sync(StripeBilling.from_settings(Settings.from_env()).client)


def run_processes(ports: Ports, data_dir: Path, project: str, admin_key: str, dev_key: str) -> int:
    supervisor = Supervisor(data_dir / "logs")
    os.environ.update(component_env(ports, project, admin_key, inprocess=False))
    stripe_env = local_stripe_env(ports, data_dir)
    os.environ.update(stripe_env)
    os.environ.setdefault("UTIO_MAIL_OUTBOX", str(data_dir / "outbox.jsonl"))
    env = dict(os.environ)
    firestore_dir = data_dir / "firestore"
    external = bool(os.environ.get("FIRESTORE_EMULATOR_HOST") and os.environ.get("PUBSUB_EMULATOR_HOST"))
    stopping = threading.Event()

    def on_signal(signum, frame):
        stopping.set()

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: a closed terminal
        signal.signal(sig, on_signal)
    journal, marker = data_dir / "tasks.jsonl", data_dir / "running"
    saving = False
    # it takes longest to start: first, in the background; its accounts are kept beside the
    # Firestore data they belong with (not when the emulators are someone else's)
    auth = AuthEmulator(ports, supervisor, data_dir=None if external else data_dir / "auth")
    try:
        if external:
            firestore_host = os.environ["FIRESTORE_EMULATOR_HOST"]
            pubsub_host = os.environ["PUBSUB_EMULATOR_HOST"]
            say(f"using running emulators: Firestore {firestore_host}, Pub/Sub {pubsub_host}")
        else:
            say("starting the Firestore and Pub/Sub emulators (gcloud)...")
            recover_unsaved_run(firestore_dir, journal, marker)
            firestore = emulators.start_firestore(
                ports.firestore, log_path=supervisor.logs / "firestore.log",
                import_dir=firestore_dir if firestore_dir.exists() else None)
            supervisor.add_emulator(firestore)
            pubsub = emulators.start_pubsub(ports.pubsub, log_path=supervisor.logs / "pubsub.log",
                                            data_dir=data_dir / "pubsub")
            supervisor.add_emulator(pubsub)
            firestore_host, pubsub_host = firestore.host, pubsub.host
            marker.write_text(json.dumps({"pid": os.getpid(), "started": time.time()}))
            saving = True
            supervisor.will_save(host=firestore_host, project=project,
                                 firestore_dir=str(firestore_dir), journal=str(journal),
                                 marker=str(marker))
        env |= {"FIRESTORE_EMULATOR_HOST": firestore_host, "PUBSUB_EMULATOR_HOST": pubsub_host}
        env |= auth.wait_env()
        os.environ.update({"FIRESTORE_EMULATOR_HOST": firestore_host,
                           "PUBSUB_EMULATOR_HOST": pubsub_host})
        emulators.ensure_push_subscription(pubsub_host, project, names.EVENTS_TOPIC,
                                           names.EVENTS_FANOUT_SUBSCRIPTION,
                                           f"http://127.0.0.1:{ports.fanout}/")
        dead_letter.ensure_dead_letter(project, max_backoff=10)
        py = sys.executable
        ff = str(Path(py).with_name("functions-framework"))
        supervisor.spawn("tasks", [py, "-m", "infra.local_tasks", "--port", str(ports.tasks),
                                   "--journal", str(journal)], env)
        supervisor.spawn("runner", [py, "-m", "device_runner.main", "--port", str(ports.runner)], env)
        for name, port in (("api", ports.api), ("fanout", ports.fanout), ("deliver", ports.deliver),
                           ("stripe", ports.stripe)):
            target = {"fanout": "webhook_fanout", "deliver": "webhook_deliver",
                      "stripe": "stripe_webhook"}.get(name, name)
            supervisor.spawn(name, [ff, "--source", "main.py", "--target", target,
                                    "--host", "127.0.0.1", "--port", str(port)], env)
        health = {}
        if stripe_env:
            supervisor.spawn("stripe-local", [py, "-m", "infra.local_stripe", "--port",
                                              str(ports.local_stripe), "--webhook-url",
                                              f"http://127.0.0.1:{ports.stripe}/", "--state",
                                              str(data_dir / "stripe.json")], env)
            health["stripe-local"] = stripe_env["UTIO_STRIPE_API_BASE"]
        wait_healthy(health | {"api": f"http://127.0.0.1:{ports.api}/v1/health",
                      "runner": f"http://127.0.0.1:{ports.runner}/healthz",
                      "tasks": f"http://127.0.0.1:{ports.tasks}/healthz",
                      "fanout": f"http://127.0.0.1:{ports.fanout}/",
                      "deliver": f"http://127.0.0.1:{ports.deliver}/",
                      "stripe": f"http://127.0.0.1:{ports.stripe}/"}, supervisor)
        if stripe_env:
            sync_local_catalogue()
        sign_in = ensure_dev_account(dev_key, data_dir if auth.host else None)
        banner(ports, admin_key, dev_key, "Firestore and Pub/Sub emulators", sign_in,
               local_stripe=bool(stripe_env))
        while not stopping.is_set():
            gone = supervisor.dead_emulators()
            if gone:  # the data lives in them: starting one afresh would lose it
                say(f"the {', '.join(gone)} emulator stopped unexpectedly; see "
                    f"{supervisor.logs}. Stopping.")
                return 1
            hopeless = supervisor.restart_dead(time.monotonic())
            if hopeless:
                say(f"{', '.join(hopeless)} keeps exiting ({RESTART_LIMIT} times in "
                    f"{RESTART_WINDOW:.0f} s); see {supervisor.logs}. Stopping.")
                return 1
            stopping.wait(0.5)
        return 0
    finally:
        say("stopping...")
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not cut the save short
        supervisor.stop_components()  # first: nothing changes after the data is saved
        if saving:
            try:
                say(save_data(supervisor.emulators[0].host, project, firestore_dir, journal,
                              marker))
            except Exception as exc:  # keep stopping whatever happens
                say(f"could not save Firestore data: {exc}")
        auth.abandon()
        supervisor.stop_emulators()
        supervisor.done()
        say("stopped.")


class AuthEmulator:
    """The Firebase Auth emulator, started in the background beside the others (or the one
    FIREBASE_AUTH_EMULATOR_HOST names), so that people can sign in to the web app."""

    def __init__(self, ports: Ports, supervisor: Supervisor, *, data_dir: Path | None = None):
        from concurrent.futures import ThreadPoolExecutor

        self.supervisor = supervisor
        self.host = os.environ.get("FIREBASE_AUTH_EMULATOR_HOST", "")
        self.future = None
        if self.host:
            say(f"using the running Firebase Auth emulator at {self.host}")
        elif os.environ.get("UTIO_DEV_AUTH") == "0":
            say("UTIO_DEV_AUTH=0: no Firebase Auth emulator; people cannot sign in, API keys work.")
        elif emulators.auth_available():
            say("starting the Firebase Auth emulator (firebase-tools)...")
            self._pool = ThreadPoolExecutor(1)
            self.future = self._pool.submit(emulators.start_auth, ports.auth,
                                            log_path=supervisor.logs / "auth.log",
                                            data_dir=data_dir)
        else:
            say("Node.js or firebase-tools (infra/firebase, `make dev` installs it) is missing: "
                "people cannot sign in to the web app; API keys work.")

    def wait_env(self) -> dict[str, str]:
        if self.future is not None:
            emulator = self.future.result()
            self.future = None
            self.supervisor.add_emulator(emulator)
            self.host = emulator.host
        if not self.host:
            return {}
        env = {"FIREBASE_AUTH_EMULATOR_HOST": self.host, "UTIO_AUTH_EMULATOR_HOST": self.host,
               "UTIO_IDENTITY_BACKEND": "firebase", "UTIO_IDENTITY_PROJECT": emulators.AUTH_PROJECT}
        os.environ.update(env)
        return env

    def abandon(self) -> None:
        """Stopping before the emulator was handed over: stop it once it has started."""
        if self.future is not None:
            try:
                self.future.result().stop()
            except Exception:  # it failed to start: nothing to stop
                pass


def ensure_dev_account(dev_key: str, data_dir: Path | None = None,
                       c=None) -> tuple[str, str] | None:
    """The development account (and, with the Auth emulator, its owner's sign-in), in the
    container `c` (the in-process stack's: its memory store) or a new one."""
    from shared.bootstrap import Container
    from shared.services.accounts import ensure_account_with_key

    c = c or Container()
    account_id = ensure_account_with_key(c, "Development", dev_key, dev_email())
    if data_dir is None or c.identity is None:
        return None
    from shared.services.people import ensure_owner

    email, password = load_sign_in(data_dir)
    ensure_owner(c.store, c.clock, c.identity, account_id, email, password)
    return email, password


def banner(ports: Ports, admin_key: str, dev_key: str, backend: str,
           sign_in: tuple[str, str] | None = None, local_stripe: bool = False) -> None:
    say("ready.")
    stripe = (f"Billing      the local Stripe, http://127.0.0.1:{ports.local_stripe} (no Stripe "
              "keys set):\n                 its Checkout takes the test card 4242 4242 4242 4242"
              if local_stripe else
              f"Stripe hook  http://127.0.0.1:{ports.stripe}/   (stripe listen --forward-to)")
    if not (WEB_DIST / "index.html").is_file():
        say("the web app is not built (web/dist): `make dev` builds it, or `make web`.")
    print(f"""
  Utio is running ({backend}).
    Console      http://127.0.0.1:{ports.api}/
    API          http://127.0.0.1:{ports.api}/v1   (OpenAPI: /v1/openapi.json)
    {stripe}
    API key      {dev_key}
    Admin key    {admin_key}
    Sign in      {f"{sign_in[0]} / {sign_in[1]}" if sign_in else "(no Auth emulator: API keys only)"}
  Try:  curl -H "Authorization: Bearer {dev_key}" http://127.0.0.1:{ports.api}/v1/devices
  Ctrl-C stops everything.
""", flush=True)


def busy_ports(ports: Ports, *, with_emulators: bool) -> list[int]:
    wanted = [ports.api, ports.runner, ports.fanout, ports.deliver, ports.stripe, ports.tasks,
              ports.local_stripe]
    if with_emulators:
        wanted += [ports.pubsub, ports.firestore]
    if not os.environ.get("FIREBASE_AUTH_EMULATOR_HOST") and os.environ.get("UTIO_DEV_AUTH") != "0":
        wanted.append(ports.auth)
    busy = []
    for port in wanted:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                busy.append(port)
    return busy


def main() -> int:
    ports = Ports(int(os.environ.get("UTIO_API_PORT", "8080")))
    external = bool(os.environ.get("FIRESTORE_EMULATOR_HOST") and os.environ.get("PUBSUB_EMULATOR_HOST"))
    busy = busy_ports(ports, with_emulators=not external)
    if busy:
        say(f"ports {', '.join(map(str, busy))} are in use (another make dev?). The stack uses "
            f"UTIO_API_PORT ({ports.api}) to UTIO_API_PORT + 9; set UTIO_API_PORT to another "
            "base, or stop what holds them.")
        return 1
    data_dir = Path(os.environ.get("UTIO_DATA_DIR", ROOT / ".utio"))
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    project = os.environ.get("UTIO_PROJECT", "utio-local")
    admin_key, dev_key = load_keys(data_dir)
    forced = os.environ.get("UTIO_DEV_INPROCESS") == "1"
    if forced or not emulators.gcloud_available():
        if not forced:
            say("gcloud (or Java) is not installed: running on in-process backends "
                "(in-memory store, in-process bus). Install the Google Cloud SDK with its "
                "Firestore and Pub/Sub emulators to run the real adapters.")
        from infra.dev_inprocess import run_inprocess

        return run_inprocess(ports, data_dir, project, admin_key, dev_key)
    return run_processes(ports, data_dir, project, admin_key, dev_key)


if __name__ == "__main__":
    sys.exit(main())
