"""The provisioner against a recording stand-in of the Cloud Run Admin API, and the
keeper asking for a shard when every shard is full."""

from __future__ import annotations

from dataclasses import dataclass

from google.cloud import run_v2

from device_runner.main import self_url
from device_runner.provisioner import CloudRunProvisioner, Provisioner, request_shard
from tests.fakes import make_settings, seed_account, seed_device
from tests.shards import Cluster


@dataclass
class Operation:
    service: run_v2.Service

    def result(self, timeout=None):
        return self.service


class RecordingServicesClient:
    """Answers like run_v2.ServicesClient and keeps every request."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        template = run_v2.RevisionTemplate(
            revision="utio-runner-0-00042-abc", service_account="utio-runner@p.iam",
            scaling=run_v2.RevisionScaling(min_instance_count=1, max_instance_count=1),
            containers=[run_v2.Container(image="europe-docker.pkg.dev/p/utio/runner:abc", env=[
                run_v2.EnvVar(name="UTIO_ENV", value="production"),
                run_v2.EnvVar(name="UTIO_RUNNER_SHARD", value="runner-0")])])
        self.model = run_v2.Service(name="utio-runner-0", template=template,
                                    ingress=run_v2.IngressTraffic.INGRESS_TRAFFIC_INTERNAL_ONLY)

    def get_service(self, name):
        self.calls.append(("get_service", {"name": name}))
        return self.model

    def create_service(self, parent, service, service_id):
        self.calls.append(("create_service", {"parent": parent, "service": service,
                                              "service_id": service_id}))
        return Operation(run_v2.Service(service, uri=f"https://{service_id}-123.europe-west1.run.app"))

    def get_iam_policy(self, request):
        from google.iam.v1 import policy_pb2

        self.calls.append(("get_iam_policy", {"request": request}))
        return policy_pb2.Policy(bindings=[policy_pb2.Binding(
            role="roles/run.invoker", members=["serviceAccount:push@p.iam",
                                               "serviceAccount:utio-api@p.iam",
                                               "serviceAccount:utio-runner@p.iam"])])

    def set_iam_policy(self, request):
        self.calls.append(("set_iam_policy", {"request": request}))


def test_a_new_shard_copies_runner_0_with_its_own_name(container):
    client = RecordingServicesClient()
    provisioner = CloudRunProvisioner(client, project="p", region="europe-west1",
                                      invoker="push@p.iam")
    shard = request_shard(container.store, container.clock, provisioner)
    assert shard == "runner-0"  # no shard documents yet
    shard = request_shard(container.store, container.clock, provisioner)
    assert shard is None  # one is being provisioned: nobody asks twice
    assert [name for name, _ in client.calls] == ["get_service", "create_service",
                                                  "get_iam_policy", "set_iam_policy"]
    created = client.calls[1][1]
    assert created["parent"] == "projects/p/locations/europe-west1"
    assert created["service_id"] == "utio-runner-0"
    template = created["service"].template
    assert (template.scaling.min_instance_count, template.scaling.max_instance_count) == (1, 1)
    assert template.service_account == "utio-runner@p.iam" and template.revision == ""
    env = {e.name: e.value for e in template.containers[0].env}
    assert env == {"UTIO_ENV": "production", "UTIO_RUNNER_SHARD": "runner-0"}
    assert client.calls[2][1]["request"].resource.endswith("/services/utio-runner-0")
    [binding] = client.calls[3][1]["request"].policy.bindings  # runner-0's invokers
    assert binding.role == "roles/run.invoker" and list(binding.members) == [
        "serviceAccount:push@p.iam", "serviceAccount:utio-api@p.iam",
        "serviceAccount:utio-runner@p.iam"]
    doc = container.store.get("shards", "runner-0")
    assert doc["state"] == "provisioning" and doc["url"].startswith("https://utio-runner-0-")


class RecordingProvisioner(Provisioner):
    def __init__(self):
        self.created: list[str] = []

    def create_shard(self, shard_id):
        self.created.append(shard_id)
        return f"http://{shard_id}.test"


def test_when_every_shard_is_full_the_keeper_asks_for_one_more(container, network):
    c = container
    cluster = Cluster(c, network, capacity=2)
    try:
        first = cluster.add("runner-0").keeper
        keeper = cluster.add("runner-1").keeper
        provisioner = first.provisioner = keeper.provisioner = RecordingProvisioner()
        account = seed_account(c)
        devices = [seed_device(c, account) for _ in range(5)]
        keeper.tick()  # runner-1 takes two; runner-0 still has room: nothing to provision
        assert provisioner.created == []
        first.tick()  # runner-0 takes two; one is left and every shard is full
        keeper.tick()
        first.tick()
        held = [c.store.get("devices", d.id)["shard"] for d in devices]
        assert sorted(h for h in held if h) == ["runner-0", "runner-0", "runner-1", "runner-1"]
        assert provisioner.created == ["runner-2"]  # once, though both saw it full
        new = cluster.add("runner-2")  # the provisioned runner starts and takes the rest
        assert len(new.runner.sessions) == 1
    finally:
        cluster.stop()


def test_self_url_on_cloud_run_is_the_deterministic_url():
    settings = make_settings(region="europe-west1")
    assert self_url(settings, {"K_SERVICE": "utio-runner-3"}, lambda: "123") == \
        "https://utio-runner-3-123.europe-west1.run.app"
    assert self_url(settings, {}) == settings.runner_url


def test_locally_a_new_shard_is_another_runner_process(monkeypatch, tmp_path):
    import socket
    import time

    import requests

    from device_runner.provisioner import LocalProvisioner

    with socket.socket() as probe:  # a free port for the new shard (runner port + 100 + 7)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for name, value in {"UTIO_STORE_BACKEND": "memory", "UTIO_BUS_BACKEND": "inprocess",
                        "UTIO_TASKS_BACKEND": "inprocess", "UTIO_ENV": "test",
                        "UTIO_DATA_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(name, value)
    provisioner = LocalProvisioner(make_settings(runner_url=f"http://127.0.0.1:{port - 107}"))
    try:
        url = provisioner.create_shard("runner-7")
        assert url == f"http://127.0.0.1:{port}"
        deadline, health = time.monotonic() + 20, None
        while time.monotonic() < deadline:
            try:
                health = requests.get(url + "/healthz", timeout=1).json()
                break
            except requests.RequestException:
                time.sleep(0.1)
        assert health == {"ok": True, "shard": "runner-7", "devices": 0}
    finally:
        provisioner.stop()
    assert all(child.poll() is not None for child in provisioner.children)
