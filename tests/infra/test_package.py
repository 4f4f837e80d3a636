"""The functions archive Terraform deploys: reproducible, complete, and importable on
its own (no test, runner or local-stack code in it)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile

import pytest

from infra import package_functions
from shared import names


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    out = tmp_path_factory.mktemp("pkg") / "functions.zip"
    digest = package_functions.build(out)
    return out, digest


def test_the_same_code_gives_the_same_bytes(archive, tmp_path):
    out, digest = archive
    again = package_functions.build(tmp_path / "again.zip")
    assert again == digest == hashlib.sha256(out.read_bytes()).hexdigest()


def test_it_holds_the_functions_and_shared_code_only(archive):
    out, _ = archive
    entries = zipfile.ZipFile(out).namelist()
    assert {"main.py", "requirements.txt", "functions/main.py", "shared/names.py",
            "functions/api/app.py"} <= set(entries)
    tops = {e.split("/", 1)[0] for e in entries}
    assert tops == {"main.py", "requirements.txt", "functions", "shared"}
    assert not [e for e in entries if "__pycache__" in e or e.endswith(".pyc")]


def test_every_target_imports_from_the_archive_alone(archive, tmp_path):
    out, _ = archive
    zipfile.ZipFile(out).extractall(tmp_path)
    probe = (
        "import main, sys\n"
        f"targets = {list(names.FUNCTION_TARGETS)!r}\n"
        "missing = [t for t in targets if not callable(getattr(main, t, None))]\n"
        "assert not missing, missing\n"
        "from functions.api.app import create_app\n"
        "import functions.webhook_fanout\nimport functions.webhook_deliver\n"
        "create_app()\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tests', 'infra', 'device_runner')]\n"
        "assert not bad, bad\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
