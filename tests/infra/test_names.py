"""One source of names: shared/names.py. `python -m infra.generate` copies it to
terraform/generated/names.json, modules/catalog turns that into what Terraform deploys,
and these tests fail when the code and Terraform disagree."""

from __future__ import annotations

import ast
import importlib
import json
import shutil
from dataclasses import fields
from pathlib import Path

import pytest

from infra import generate
from shared import names
from shared.settings import Settings
from tests.infra.tools import ROOT, TERRAFORM_DIR, evaluate

CATALOG = TERRAFORM_DIR / "modules" / "catalog"
EVERYTHING = ("{queues = module.m.queues, topics = module.m.topics, "
              "functions = module.m.functions, secrets = module.m.secrets, runner = module.m.runner}")


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> dict:
    return evaluate(CATALOG, EVERYTHING, tmp_path_factory.mktemp("catalog"))


def test_names_json_is_generated_from_names_py():
    assert json.loads(generate.NAMES_FILE.read_text()) == generate.names_document(), (
        "terraform/generated/names.json is stale: run `make generate`")


def test_every_queue_in_the_code_is_a_queue_in_terraform(catalog):
    assert set(catalog["queues"]) == set(names.ALL_QUEUES)
    assert set(names.MESSAGE_QUEUES.values()) | {names.RUNNER_CONTROL_QUEUE,
                                                 names.WEBHOOK_QUEUE} <= set(names.ALL_QUEUES)


def test_every_queue_has_rate_limits_and_a_retry_policy(catalog):
    for name, q in catalog["queues"].items():
        assert 0 < q["max_dispatches_per_second"] <= 500, name  # Cloud Tasks' ceiling
        assert 0 < q["max_concurrent_dispatches"] <= 5000, name
        assert q["max_attempts"] == -1 or q["max_attempts"] > 0, name
        for key in ("min_backoff", "max_backoff", "max_retry_duration"):
            assert q[key].endswith("s") and float(q[key][:-1]) >= 0, (name, key)
        assert float(q["min_backoff"][:-1]) <= float(q["max_backoff"][:-1]), name
        assert 0 <= q["log_sampling_ratio"] <= 1, name
    assert {q["role"] for q in catalog["queues"].values()} == {"message", "control", "webhook"}


def test_every_topic_in_the_code_is_a_topic_in_terraform(catalog):
    assert catalog["topics"] == {
        "events": names.EVENTS_TOPIC,
        "dead_letter": names.EVENTS_DEAD_LETTER_TOPIC,
        "fanout_subscription": names.EVENTS_FANOUT_SUBSCRIPTION,
        "dead_letter_subscription": names.EVENTS_DEAD_LETTER_SUBSCRIPTION,
    }


@pytest.mark.parametrize("module", ["functions.main", "main"])
def test_every_function_target_in_terraform_exists_in_the_code(catalog, module):
    assert set(catalog["functions"]) == set(names.FUNCTION_TARGETS)
    source = importlib.import_module(module)
    for target in catalog["functions"]:
        assert callable(getattr(source, target, None)), (
            f"Terraform deploys target {target!r}, but {module}.py has no function of that name")


def test_function_profiles_use_known_names(catalog):
    topics = set(catalog["topics"].values())
    for target, f in catalog["functions"].items():
        assert f["name"] == "utio-" + target.replace("_", "-")
        assert set(f["enqueues"]) <= set(names.ALL_QUEUES), target
        assert set(f["publishes"]) <= topics, target
        assert set(f["secrets"]) <= set(names.SECRETS), target
        assert f["invoker"] in ("push", "gateway", "public"), target
        assert (f["ingress"] == "ALLOW_ALL") == (f["invoker"] in ("gateway", "public")), target
    assert catalog["functions"]["api"]["invoker"] == "gateway"
    assert set(catalog["runner"]["secrets"]) <= set(names.SECRETS)


def test_every_secret_fills_a_setting(catalog):
    settings = {"UTIO_" + f.name.upper() for f in fields(Settings)}
    assert {env: s["id"] for env, s in catalog["secrets"].items()} == names.SECRETS
    for env, secret in catalog["secrets"].items():
        assert env in settings, f"secret {secret['id']} fills {env}, which Settings never reads"
        assert secret["source"] in ("generated", "terraform", "operator")


def test_a_new_name_in_the_code_is_a_new_resource_without_editing_terraform(tmp_path):
    """Adding a target, a queue or a secret to shared/names.py is the one edit needed."""
    shutil.copytree(CATALOG, tmp_path / "modules" / "catalog")
    doc = generate.names_document()
    doc["function_targets"] += [t for t in ("stripe_webhook", "nightly_sweep")
                                if t not in doc["function_targets"]]
    doc["all_queues"] += ["exports"]
    doc["secrets"]["UTIO_MAILER_KEY"] = "utio-mailer-key"
    (tmp_path / "generated").mkdir()
    (tmp_path / "generated" / "names.json").write_text(json.dumps(doc))
    shutil.copy(generate.FIRESTORE_FILE, tmp_path / "generated" / "firestore.json")
    work = tmp_path / "work"
    work.mkdir()
    got = evaluate(tmp_path / "modules" / "catalog", EVERYTHING, work)
    stripe, sweep = got["functions"]["stripe_webhook"], got["functions"]["nightly_sweep"]
    assert (stripe["invoker"], stripe["ingress"]) == ("public", "ALLOW_ALL")
    assert "UTIO_STRIPE_WEBHOOK_SECRET" in stripe["secrets"]
    assert (sweep["invoker"], sweep["ingress"], sweep["name"]) == (
        "push", "ALLOW_INTERNAL_ONLY", "utio-nightly-sweep")
    assert got["queues"]["exports"]["role"] == "control"
    assert got["secrets"]["UTIO_MAILER_KEY"] == {"id": "utio-mailer-key", "source": "operator"}


def _string_first_args(path: Path, method: str) -> list[int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == method and node.args
            and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)]


def test_the_code_names_queues_only_through_names_py():
    """A queue named by a string literal in the code would escape the check above."""
    offenders = []
    for folder in ("shared", "functions", "device_runner"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            offenders += [f"{path.relative_to(ROOT)}:{line}"
                          for line in _string_first_args(path, "enqueue")]
    assert offenders == [], "use a queue from shared/names.py: " + ", ".join(offenders)
