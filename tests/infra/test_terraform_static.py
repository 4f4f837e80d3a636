"""What `terraform validate` would catch, and more, checked offline (the Google provider
cannot be downloaded here): module calls match the modules' variables, environments set
only declared variables, every resource module is driven by the catalog of names, no
name is written twice, and every setting Terraform passes is one the code reads."""

from __future__ import annotations

import re
from dataclasses import fields

import pytest

from shared import names
from shared.settings import Settings
from tests.infra.tools import TERRAFORM_DIR, blocks, parse_terraform


@pytest.fixture(scope="module")
def parsed() -> dict[str, dict]:
    return parse_terraform()


def _module_files(parsed: dict, module_dir: str) -> list[dict]:
    return [body for path, body in parsed.items() if path.rsplit("/", 1)[0] == module_dir]


def _root(parsed: dict) -> dict:
    merged: dict = {}
    for path, body in parsed.items():
        if "/" not in path:
            for kind, entries in body.items():
                merged.setdefault(kind, []).extend(entries)
    return merged


def test_every_module_call_matches_the_modules_variables(parsed):
    calls = blocks(_root(parsed), "module")
    assert calls, "the root module calls no module"
    meta = {"source", "depends_on", "count", "for_each", "providers", "__start_line__",
            "__end_line__"}
    used = set()
    for name, call in calls.items():
        module_dir = call["source"][0].removeprefix("./")
        used.add(module_dir)
        variables: dict = {}
        for body in _module_files(parsed, module_dir):
            for entry in body.get("variable", []):
                variables.update(entry)
        given = set(call) - meta
        assert given <= set(variables), f"module {name}: no variable {sorted(given - set(variables))}"
        required = {v for v, spec in variables.items() if "default" not in spec}
        assert required <= given, f"module {name}: missing {sorted(required - given)}"
    on_disk = {p.relative_to(TERRAFORM_DIR).as_posix() for p in (TERRAFORM_DIR / "modules").iterdir()}
    assert on_disk == used, f"modules nobody calls: {sorted(on_disk - used)}"


def _tfvars_keys(path) -> set[str]:
    return set(re.findall(r"^([a-z_][a-z0-9_]*)\s*=", path.read_text(), re.MULTILINE))


@pytest.mark.parametrize("env", ["staging", "production"])
def test_environments_set_only_declared_variables(parsed, env):
    declared = set(blocks(_root(parsed), "variable"))
    tfvars = TERRAFORM_DIR / "envs" / f"{env}.tfvars"
    keys = _tfvars_keys(tfvars)
    assert keys <= declared, f"{tfvars.name} sets undeclared {sorted(keys - declared)}"
    assert keys >= {"environment", "region"}
    backend = (TERRAFORM_DIR / "envs" / f"{env}.backend.hcl").read_text()
    assert re.search(r'^bucket\s*=\s*"[a-z0-9._-]+"', backend, re.MULTILINE)
    assert re.search(rf'^prefix\s*=\s*"utio/{env}"', backend, re.MULTILINE)


def test_every_variable_has_a_description_or_is_internal(parsed):
    for name, spec in blocks(_root(parsed), "variable").items():
        assert spec.get("description"), f"variable {name} needs a description"


def _resource(parsed: dict, module_dir: str, kind: str) -> dict:
    for body in _module_files(parsed, module_dir):
        for entry in body.get("resource", []):
            if kind in entry:
                return next(iter(entry[kind].values()))
    raise AssertionError(f"{module_dir} has no {kind}")


@pytest.mark.parametrize("module_dir, kind, for_each", [
    ("modules/tasks", "google_cloud_tasks_queue", "${var.queues}"),
    ("modules/functions", "google_cloudfunctions2_function", "${var.functions}"),
    ("modules/secrets", "google_secret_manager_secret", "${var.secrets}"),
])
def test_resources_are_made_for_each_name_of_the_catalog(parsed, module_dir, kind, for_each):
    assert _resource(parsed, module_dir, kind)["for_each"] == [for_each]


def test_the_root_feeds_the_modules_from_the_catalog(parsed):
    root = _root(parsed)
    calls = blocks(root, "module")
    local_values: dict = {}
    for entry in root.get("locals", []):
        local_values.update(entry)
    assert local_values["functions"] in ("${module.catalog.functions}",
                                         ["${module.catalog.functions}"])
    assert calls["tasks"]["queues"] == ["${module.catalog.queues}"]
    assert calls["functions"]["functions"] == ["${local.functions}"]
    assert calls["secrets"]["secrets"] == ["${module.catalog.secrets}"]
    assert calls["pubsub"]["topics"] == ["${module.catalog.topics}"]
    pubsub = _module_files(parsed, "modules/pubsub")[0]
    topics = {next(iter(e["google_pubsub_topic"].values()))["name"][0]
              for e in pubsub["resource"] if "google_pubsub_topic" in e}
    assert topics == {"${var.topics.events}", "${var.topics.dead_letter}"}


def _tf_texts() -> dict[str, str]:
    return {p.relative_to(TERRAFORM_DIR).as_posix(): p.read_text()
            for p in TERRAFORM_DIR.rglob("*.tf") if ".terraform" not in p.parts}


def _values_only(text: str) -> str:
    """The text without block headers (resource "type" "label" {), whose labels are
    Terraform's own names, not the cloud's."""
    return re.sub(r'^\s*(resource|data|module|output|variable)\s+("[^"]*"\s*)+\{', "", text,
                  flags=re.MULTILINE)


def test_no_resource_name_of_the_code_is_written_again_in_terraform():
    values = {v for v in (*names.ALL_QUEUES, names.EVENTS_TOPIC, names.EVENTS_DEAD_LETTER_TOPIC,
                          names.EVENTS_FANOUT_SUBSCRIPTION, names.EVENTS_DEAD_LETTER_SUBSCRIPTION,
                          *names.SECRETS.values())}
    for path, text in _tf_texts().items():
        for value in values:
            assert f'"{value}"' not in _values_only(text), (
                f"{path} writes {value!r}; take it from the catalog (shared/names.py)")


def test_every_setting_terraform_passes_is_one_the_code_reads():
    settings = {"UTIO_" + f.name.upper() for f in fields(Settings)}
    passed = set()
    for text in _tf_texts().values():
        passed |= set(re.findall(r"(?<![@\w])(UTIO_[A-Z0-9_]+)\b(?!@)", text))
    assert passed, "Terraform passes no UTIO_ setting"
    assert passed <= settings, f"not fields of shared/settings.py: {sorted(passed - settings)}"
