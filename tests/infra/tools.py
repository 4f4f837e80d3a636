"""What the infrastructure tests share: paths, the terraform binary, and evaluating a
provider-free Terraform module offline."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = ROOT / "terraform"
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
CHECKOV_PYTHON = ROOT / ".venv-checkov" / "bin" / "python"


def terraform() -> str:
    """The terraform binary, or skip: it is not on PyPI or in Debian, so a machine
    without it (see docs/operations.md) skips the checks that need it."""
    found = shutil.which("terraform")
    if not found:
        pytest.skip("terraform is not on PATH (Terraform >= 1.6 runs these checks)")
    return found


def terraform_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(TF_CLI_CONFIG_FILE=os.devnull, TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1",
               TF_INPUT="0")
    return env


def evaluate(module: Path, expression: str, workdir: Path, variables: str = "") -> object:
    """Evaluate `expression` over `module "m"` (a module that needs no provider) with
    `terraform console`, offline. The module is referred to by a relative path so
    Terraform reads it in place (path.module stays inside the repository)."""
    tf = terraform()
    source = os.path.relpath(module, workdir)
    (workdir / "main.tf").write_text(f'module "m" {{\n  source = "{source}"\n{variables}}}\n')
    env = terraform_env()
    init = subprocess.run([tf, "init", "-backend=false", "-input=false", "-no-color"],
                          cwd=workdir, env=env, capture_output=True, text=True, timeout=60)
    assert init.returncode == 0, init.stdout + init.stderr
    console = subprocess.run([tf, "console", "-no-color"], cwd=workdir, env=env,
                             input=f"jsonencode({expression})\n", capture_output=True,
                             text=True, timeout=60)
    assert console.returncode == 0, console.stdout + console.stderr
    return json.loads(json.loads(console.stdout))


_PARSE = """
import json, sys, pathlib
import hcl2
root = pathlib.Path(sys.argv[1])
out = {}
for path in sorted(root.rglob("*.tf")):
    if ".terraform" in path.parts:
        continue
    with open(path) as f:
        out[path.relative_to(root).as_posix()] = hcl2.load(f)
print(json.dumps(out))
"""


def parse_terraform() -> dict[str, dict]:
    """Every .tf file under terraform/, parsed with the HCL parser that checkov brings
    (in .venv-checkov, not the app's pins): relative path => HCL as JSON."""
    if not CHECKOV_PYTHON.exists():
        pytest.skip("no .venv-checkov: `make test` builds it from requirements-checkov.txt")
    done = subprocess.run([str(CHECKOV_PYTHON), "-c", _PARSE, str(TERRAFORM_DIR)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def blocks(parsed: dict, kind: str) -> dict[str, dict]:
    """name => body of every `kind` block (module, variable, output) in parsed files."""
    found: dict[str, dict] = {}
    for entry in parsed.get(kind, []):
        found.update(entry)
    return found


def variable_blocks(text: str, names: tuple[str, ...]) -> str:
    """The `variable "name" { ... }` blocks of a module's source, as written (to evaluate
    a module's variable types and validations offline, apart from its resources)."""
    out = []
    for name in names:
        start = text.index(f'variable "{name}" {{')
        depth, at = 0, start
        while True:
            ch = text[at]
            depth += ch == "{"
            depth -= ch == "}"
            at += 1
            if ch == "}" and depth == 0:
                break
        out.append(text[start:at])
    return "\n\n".join(out)
