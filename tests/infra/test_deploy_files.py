"""cloudbuild.yaml, the runner's Dockerfile and the operator's guide agree with the
rest: the build tests before it ships and applies on main only, the image runs as a
non-root user, and the guide covers every alert and environment."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.infra.tools import CHECKOV_PYTHON, ROOT, TERRAFORM_DIR


@pytest.fixture(scope="module")
def build() -> dict:
    if not CHECKOV_PYTHON.exists():
        pytest.skip("no .venv-checkov (it has the YAML parser): run `make test`")
    done = subprocess.run(
        [str(CHECKOV_PYTHON), "-c",
         "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
         str(ROOT / "cloudbuild.yaml")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _step(build: dict, step_id: str) -> dict:
    return next(s for s in build["steps"] if s["id"] == step_id)


def _text(step: dict) -> str:
    return " ".join(step.get("args", []))


def test_build_order(build):
    ids = [s["id"] for s in build["steps"]]
    assert ids.index("test") < ids.index("package-functions") < ids.index("terraform-plan")
    assert ids.index("push-runner-image") < ids.index("terraform-plan") < ids.index(
        "terraform-apply")
    assert "make test" in _text(_step(build, "test"))
    assert "infra.package_functions" in _text(_step(build, "package-functions"))


def test_plan_deploys_what_was_built(build):
    pushed = _step(build, "push-runner-image")["args"][-1]
    assert pushed in _step(build, "runner-image")["args"]
    plan = _text(_step(build, "terraform-plan"))
    assert f"-var=runner_image={pushed}" in plan
    assert "-var-file=envs/${_ENV}.tfvars" in plan and "-out=tfplan" in plan
    assert "-backend-config=envs/${_ENV}.backend.hcl" in _text(_step(build, "terraform-init"))
    for env in ("staging", "production"):
        assert (TERRAFORM_DIR / "envs" / f"{env}.tfvars").exists()


def test_apply_runs_on_main_only(build):
    script = _text(_step(build, "terraform-apply"))
    assert re.search(r'if \[ "\$\{_BRANCH\}" = "main" \]; then\s+terraform apply .*tfplan', script)
    assert build["substitutions"]["_BRANCH"] == "${BRANCH_NAME}"
    applying = [s["id"] for s in build["steps"] if "apply" in _text(s)]
    assert applying == ["terraform-apply"]


def test_runner_image_is_slim_python_and_not_root():
    dockerfile = (ROOT / "device_runner" / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.MULTILINE)
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert "${PORT}" in dockerfile


def test_the_guide_explains_every_alert_and_is_linked_from_the_readme():
    guide = (ROOT / "docs" / "operations.md").read_text()
    monitoring = (TERRAFORM_DIR / "modules" / "monitoring" / "main.tf").read_text()
    for policy in re.findall(r'display_name\s*=\s*"(Utio: [^"]+)"', monitoring):
        assert policy in guide, f"docs/operations.md does not explain the alert {policy!r}"
    for section in ("Deploy from zero", "Stripe", "shards", "Rotate", "Back up", "restore",
                    "Reading the alerts", "cost"):
        assert section.lower() in guide.lower(), section
    assert "docs/operations.md" in (ROOT / "README.md").read_text()
