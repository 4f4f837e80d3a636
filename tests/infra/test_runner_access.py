"""Who may call the runner shards, and what the runner may do to add one: the API's
synchronous calls and a shard's forwards carry ID tokens (shared/id_tokens.py) that
Cloud Run checks, so their service accounts need run.invoker on every shard; the
provisioner (device_runner/provisioner.py) needs a role that holds exactly what it
calls, and only when the operator turns auto-provisioning on."""

from __future__ import annotations

import ast
import re

from tests.infra.tools import ROOT, TERRAFORM_DIR

RUNNER = (TERRAFORM_DIR / "modules" / "runner" / "main.tf").read_text()
ROOT_MAIN = (TERRAFORM_DIR / "main.tf").read_text()


def _block(text: str, opening: str) -> str:
    body = text[text.index(opening):]
    return body[:body.index("\n}\n")]


def test_push_api_and_runner_accounts_invoke_every_shard():
    call = _block(ROOT_MAIN, 'module "runner" {')
    invokers = call[call.index("invokers = {"):]
    invokers = invokers[:invokers.index("\n  }")]
    assert 'push   = "serviceAccount:${module.iam.push_email}"' in invokers
    assert 'api    = local.member["api"]' in invokers
    assert 'runner = local.member["runner"]' in invokers
    grant = _block(RUNNER, 'resource "google_cloud_run_v2_service_iam_member" "invoker" {')
    assert "setproduct(var.shards, keys(var.invokers))" in grant
    assert 'role     = "roles/run.invoker"' in grant


def test_each_shard_knows_its_url_and_whether_it_provisions():
    assert 'UTIO_RUNNER_SELF_URL = format(var.url_format, "utio-${each.key}")' in RUNNER
    assert 'UTIO_PROVISIONER     = var.provision ? "cloudrun" : "none"' in RUNNER
    call = _block(ROOT_MAIN, 'module "runner" {')
    assert "url_format          = local.run_url" in call
    assert "provision           = var.runner_autoprovision" in call
    assert "environment         = local.runner_env" in call
    env = _block(ROOT_MAIN, "  runner_env = merge(")
    for setting in ("UTIO_PUBLIC_URL", "UTIO_MAIL_FROM", "UTIO_SHARD_CAPACITY"):
        assert setting in env, setting


def test_auto_provisioning_is_off_unless_the_operator_turns_it_on():
    variables = (TERRAFORM_DIR / "variables.tf").read_text()
    block = _block(variables, 'variable "runner_autoprovision" {')
    assert re.search(r"default\s*=\s*false", block)
    for name in ('resource "google_project_iam_custom_role" "provisioner" {',
                 'resource "google_project_iam_member" "provisioner" {',
                 'resource "google_service_account_iam_member" "provisioner_act_as_runner" {'):
        assert "count = var.provision ? 1 : 0" in _block(RUNNER, name), name
    act_as = _block(RUNNER, 'resource "google_service_account_iam_member" "provisioner_act_as_runner" {')
    assert '"roles/iam.serviceAccountUser"' in act_as
    assert "serviceAccounts/${var.service_account}" in act_as
    assert 'member             = "serviceAccount:${var.service_account}"' in act_as


# The Cloud Run Admin API method the provisioner calls => the permission it needs.
PERMISSIONS = {
    "get_service": "run.services.get",
    "create_service": "run.services.create",
    "get_iam_policy": "run.services.getIamPolicy",
    "set_iam_policy": "run.services.setIamPolicy",
    "result": "run.operations.get",  # waiting on the create operation
}


def test_the_provisioner_role_holds_what_the_provisioner_calls_and_no_more():
    source = (ROOT / "device_runner" / "provisioner.py").read_text()
    tree = ast.parse(source)
    cloud_run = next(n for n in tree.body if isinstance(n, ast.ClassDef)
                     and n.name == "CloudRunProvisioner")
    called = {n.func.attr for n in ast.walk(cloud_run) if isinstance(n, ast.Call)
              and isinstance(n.func, ast.Attribute) and n.func.attr in PERMISSIONS}
    assert called == set(PERMISSIONS), f"the provisioner calls {sorted(called)}"
    role = _block(RUNNER, 'resource "google_project_iam_custom_role" "provisioner" {')
    granted = set(re.findall(r'"(run\.[a-zA-Z.]+)"', role))
    assert granted == set(PERMISSIONS.values())
