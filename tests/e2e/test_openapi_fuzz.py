"""Schemathesis over our own OpenAPI document, on the local stack as a user runs it,
authenticated with the development account's key: no answer to anything the document
allows (or almost allows) is a 5xx, on every operation."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(420)  # the stack's start, then about 100 s of schemathesis (2 cores)
def test_no_operation_answers_a_5xx(shared_stack, tmp_path: Path):
    stack = shared_stack
    operations = sum(len(methods) for methods in
                     requests.get(f"{stack.api}/openapi.json", timeout=10).json()["paths"].values())
    # a device, so that calls naming one reach past the look-up
    headers = {"Authorization": f"Bearer {stack.key}"}
    requests.post(f"{stack.api}/devices", json={"alias": "fuzz"}, headers=headers,
                  timeout=10).raise_for_status()
    st = Path(sys.executable).with_name("st")
    run = subprocess.run(
        [str(st), "run", f"{stack.api}/openapi.json", "--header",
         f"Authorization: Bearer {stack.key}", "--checks", "not_a_server_error",
         "--phases", "examples,fuzzing", "--max-examples", "4", "--workers", "4",
         "--seed", "1", "--generation-database", "none", "--request-timeout", "20",
         "--no-color", "--warnings", "off"],
        cwd=tmp_path, capture_output=True, text=True, timeout=400)
    out = run.stdout + run.stderr
    (tmp_path / "schemathesis.txt").write_text(out)
    assert run.returncode == 0, out[-8000:] + "\n--- api log ---\n" + _api_errors(stack.log)
    tested = re.search(r"Tested:\s+(\d+)", out)
    assert tested and int(tested.group(1)) == operations, out[-3000:]


def _api_errors(log: Path) -> str:
    api_log = log.parent / "data" / "logs" / "api.log"
    text = api_log.read_text(errors="replace") if api_log.exists() else "(no api log)"
    return "\n".join(line for line in text.splitlines() if "rror" in line)[-4000:]
