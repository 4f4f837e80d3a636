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
from shared.repositories.shards import Shards
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
    shards = store.query(Shards.name)
    if any(s.get("state") == "provisioning" and s.get("created_at")
           and s["created_at"] > now - PROVISIONING_TIMEOUT for s in shards):
        return None
    taken = [int(m.group(1)) for s in shards if (m := _INDEX.match(s["id"]))]
    shard_id = f"runner-{max(taken, default=-1) + 1}"
    if not store.create(Shards.name, shard_id, {"state": "provisioning", "created_at": now,
                                             "epoch": 0, "instance": None, "lease_until": None,
                                             "url": "", "capacity": 0}):
        return None
    log.info("every shard is full: creating %s", shard_id)
    try:
        url = provisioner.create_shard(shard_id)
    except Exception:
        log.exception("could not create shard %s", shard_id)
        store.update(Shards.name, shard_id, {"state": "failed"}, when={"state": "provisioning"})
        return None
    if url:
        store.update(Shards.name, shard_id, {"url": url}, when={"state": "provisioning"})
    return shard_id


class CloudRunProvisioner(Provisioner):
    """A Cloud Run service per shard (Admin API v2), `utio-<shard>` as Terraform names
    them. The new service copies the revision template of an existing shard (Terraform's
    `utio-runner-0`: image, service account, secrets, VPC egress, always-on scaling with
    one instance) and changes only UTIO_RUNNER_SHARD, so it runs exactly like the others;
    it gets the template's invokers too.

    The runner's service account needs run.services.get, create, getIamPolicy and
    setIamPolicy and run.operations.get (Terraform's utioRunnerProvisioner role, when
    runner_autoprovision is on), and to act as itself (iam.serviceAccountUser)."""

    def __init__(self, client, *, project: str, region: str, template_shard: str = "runner-0",
                 invoker: str = "", timeout: float = 600):
        self.client = client  # google.cloud.run_v2.ServicesClient, or a stand-in in tests
        self.project, self.region = project, region
        self.template_shard, self.invoker, self.timeout = template_shard, invoker, timeout

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.region}"

    def service(self, shard_id: str):
        from google.cloud import run_v2

        model = self.client.get_service(name=f"{self.parent}/services/utio-{self.template_shard}")
        template = run_v2.RevisionTemplate(model.template)
        template.revision = ""  # a new service names its own revisions
        for container in template.containers:
            env = [e for e in container.env if e.name not in ("UTIO_RUNNER_SHARD",
                                                              "UTIO_RUNNER_SELF_URL")]
            env.append(run_v2.EnvVar(name="UTIO_RUNNER_SHARD", value=shard_id))
            del container.env[:]
            container.env.extend(env)
        template.scaling = run_v2.RevisionScaling(min_instance_count=1, max_instance_count=1)
        return run_v2.Service(
            labels=dict(model.labels) | {"utio-role": "device-runner", "utio-shard": shard_id,
                                         "utio-provisioned": "true"},
            ingress=model.ingress or run_v2.IngressTraffic.INGRESS_TRAFFIC_INTERNAL_ONLY,
            template=template)

    def invokers(self) -> list[str]:
        """Who may invoke a new shard: whoever may invoke the template shard (Terraform
        grants the push, api and runner service accounts), and `invoker`."""
        from google.iam.v1 import iam_policy_pb2

        policy = self.client.get_iam_policy(request=iam_policy_pb2.GetIamPolicyRequest(
            resource=f"{self.parent}/services/utio-{self.template_shard}"))
        members = [m for b in policy.bindings if b.role == "roles/run.invoker" for m in b.members]
        if self.invoker:
            members.append(f"serviceAccount:{self.invoker}")
        return sorted(set(members))

    def create_shard(self, shard_id):
        operation = self.client.create_service(parent=self.parent, service=self.service(shard_id),
                                               service_id=f"utio-{shard_id}")
        created = operation.result(timeout=self.timeout)
        members = self.invokers()
        if members:  # Cloud Tasks, the API and the other shards call it as these
            from google.iam.v1 import iam_policy_pb2, policy_pb2

            policy = policy_pb2.Policy(bindings=[policy_pb2.Binding(
                role="roles/run.invoker", members=members)])
            self.client.set_iam_policy(request=iam_policy_pb2.SetIamPolicyRequest(
                resource=f"{self.parent}/services/utio-{shard_id}", policy=policy))
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
            env=env, stdout=out, stderr=subprocess.STDOUT))  # in our process group: `make
        #                                                   dev` stops it with us
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

        return CloudRunProvisioner(run_v2.ServicesClient(), project=settings.project,
                                   region=settings.region, invoker=settings.tasks_service_account)
    return None
