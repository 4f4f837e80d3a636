"""Adding a shard when every shard is full: a new Cloud Run service pinned to one instance
(production), or another runner process (the local stack).

`request_shard` makes sure that of all the runners that notice at once, one creates the
next shard: it first creates `shards/runner-N` in state `provisioning` (create-if-absent
decides), and nobody asks again while a shard is being provisioned."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from abc import ABC, abstractmethod
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from shared.clock import Clock
from shared.ports import DocumentStore
from shared.settings import Settings

log = logging.getLogger(__name__)

PROVISIONING_TIMEOUT = timedelta(minutes=10)
_INDEX = re.compile(r"^runner-(\d+)$")


class Provisioner(ABC):
    @abstractmethod
    def create_shard(self, shard_id: str) -> str | None:
        """Start a runner for `shard_id`; its URL when known now (the runner records it
        itself otherwise)."""

    def stop(self) -> None:
        """End what this provisioner started (local processes); production shards stay."""
        return None


def request_shard(store: DocumentStore, clock: Clock, provisioner: Provisioner) -> str | None:
    now = clock.now()
    shards = store.query("shards")
    if any(s.get("state") == "provisioning" and s.get("created_at")
           and s["created_at"] > now - PROVISIONING_TIMEOUT for s in shards):
        return None
    taken = [int(m.group(1)) for s in shards if (m := _INDEX.match(s["id"]))]
    shard_id = f"runner-{max(taken, default=-1) + 1}"
    if not store.create("shards", shard_id, {"state": "provisioning", "created_at": now,
                                             "epoch": 0, "instance": None, "lease_until": None,
                                             "url": "", "capacity": 0}):
        return None
    log.info("every shard is full: creating %s", shard_id)
    try:
        url = provisioner.create_shard(shard_id)
    except Exception:
        log.exception("could not create shard %s", shard_id)
        store.update("shards", shard_id, {"state": "failed"}, when={"state": "provisioning"})
        return None
    if url:
        store.update("shards", shard_id, {"url": url}, when={"state": "provisioning"})
    return shard_id


class CloudRunProvisioner(Provisioner):
    """A Cloud Run service per shard (Admin API v2): always on (min = max = 1 instance,
    CPU always allocated), the runner's own image and settings, the shard's name."""

    def __init__(self, client, *, project: str, region: str, image: str, service_account: str,
                 env: dict[str, str], invoker: str = "", timeout: float = 600):
        self.client = client  # google.cloud.run_v2.ServicesClient, or a stand-in in tests
        self.project, self.region = project, region
        self.image, self.service_account = image, service_account
        self.env, self.invoker, self.timeout = env, invoker, timeout

    def service(self, shard_id: str):
        from google.cloud import run_v2

        env = [run_v2.EnvVar(name=k, value=v) for k, v in sorted(self.env.items())
               if k not in ("UTIO_RUNNER_SHARD", "UTIO_RUNNER_SELF_URL")]
        env.append(run_v2.EnvVar(name="UTIO_RUNNER_SHARD", value=shard_id))
        return run_v2.Service(
            labels={"utio-role": "device-runner", "utio-shard": shard_id},
            ingress=run_v2.IngressTraffic.INGRESS_TRAFFIC_INTERNAL_ONLY,
            template=run_v2.RevisionTemplate(
                service_account=self.service_account,
                scaling=run_v2.RevisionScaling(min_instance_count=1, max_instance_count=1),
                max_instance_request_concurrency=200,
                timeout=timedelta(seconds=300),
                containers=[run_v2.Container(
                    image=self.image, env=env,
                    resources=run_v2.ResourceRequirements(
                        limits={"cpu": "2", "memory": "4Gi"}, cpu_idle=False,
                        startup_cpu_boost=True),
                    startup_probe=run_v2.Probe(http_get=run_v2.HTTPGetAction(path="/healthz")),
                )],
            ))

    def create_shard(self, shard_id):
        parent = f"projects/{self.project}/locations/{self.region}"
        operation = self.client.create_service(parent=parent, service=self.service(shard_id),
                                               service_id=shard_id)
        created = operation.result(timeout=self.timeout)
        if self.invoker:  # Cloud Tasks and the other shards call it with this identity
            from google.iam.v1 import iam_policy_pb2, policy_pb2

            name = f"{parent}/services/{shard_id}"
            policy = policy_pb2.Policy(bindings=[policy_pb2.Binding(
                role="roles/run.invoker", members=[f"serviceAccount:{self.invoker}"])])
            self.client.set_iam_policy(request=iam_policy_pb2.SetIamPolicyRequest(
                resource=name, policy=policy))
        return created.uri or None


class LocalProvisioner(Provisioner):
    """Another `python -m device_runner.main` on the next free port (the local stack)."""

    def __init__(self, settings: Settings, *, root: Path | None = None,
                 python: str = sys.executable, logs: Path | None = None):
        self.settings = settings
        self.root = root or Path(__file__).resolve().parent.parent
        self.python = python
        self.logs = logs
        self.children: list[subprocess.Popen] = []

    def port_of(self, shard_id: str) -> int:
        base = urlsplit(self.settings.runner_url).port or 8081
        return base + 100 + int(shard_id.rsplit("-", 1)[-1])

    def create_shard(self, shard_id):
        port = self.port_of(shard_id)
        url = f"http://127.0.0.1:{port}"
        env = dict(os.environ, UTIO_RUNNER_SHARD=shard_id, UTIO_RUNNER_SELF_URL=url)
        out = open(self.logs / f"{shard_id}.log", "ab") if self.logs else subprocess.DEVNULL  # noqa: SIM115
        self.children.append(subprocess.Popen(
            [self.python, "-m", "device_runner.main", "--port", str(port)], cwd=self.root,
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
        return url

    def stop(self):
        for child in self.children:
            if child.poll() is None:
                child.terminate()
        for child in self.children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


def from_settings(settings: Settings) -> Provisioner | None:
    if settings.provisioner == "local":
        logs = Path(settings.data_dir) / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        return LocalProvisioner(settings, logs=logs)
    if settings.provisioner == "cloudrun":
        from google.cloud import run_v2

        env = {k: v for k, v in os.environ.items() if k.startswith("UTIO_")}
        return CloudRunProvisioner(run_v2.ServicesClient(), project=settings.project,
                                   region=settings.region, image=settings.shard_image,
                                   service_account=settings.shard_service_account, env=env,
                                   invoker=settings.tasks_service_account)
    return None
