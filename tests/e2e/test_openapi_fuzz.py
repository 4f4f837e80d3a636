"""Schemathesis over our own OpenAPI document, on the local stack as a user runs it,
authenticated with the development account's key: no answer to anything the document
allows (or almost allows) is a 5xx, on every operation; and data the document allows is
accepted, but for the rules no schema can state (listed in SCHEMA_CANNOT_SAY)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.e2e

# Refusals of schema-valid data that depend on stored data, on the network, on the clock or
# on a rule no JSON Schema can state. Anything else the document allows must be accepted:
# a schema looser than its validation fails this test.
SCHEMA_CANNOT_SAY = {
    "is not a valid phone number": "a number of the right form that is not a valid one "
                                   "(phonenumbers)",
    "invalid_cursor": "cursors are opaque: only the API's own next_cursor is one",
    "unknown_label": "labels must exist in the account",
    "unknown_device": "devices must exist in the account",
    "unknown_file": "files must exist in the account (uploaded with POST /v1/files)",
    "media_url": "a media URL that does not resolve or answer (the network)",
    "expires_too_soon": "expires_at must be later than now (the clock)",
    "extra_agents_not_sold": "only some plans sell extra agents",
    "invalid_vat_number": "each country has its VAT number format",
    "group_chat": "this route sends in one-to-one chats only",
    "device_required": "an account with several devices names the one to send from",
    "wait needs after": "OpenAPI cannot tie one query parameter to another",
    "not a JPEG or PNG image": "a profile image's bytes must be an image",
    "string_pattern_mismatch": "a few characters Python's and JSON Schema's \\S disagree on",
}


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
         f"Authorization: Bearer {stack.key}", "--checks",
         "not_a_server_error,positive_data_acceptance",
         "--phases", "examples,fuzzing", "--max-examples", "4", "--workers", "4",
         "--seed", "1", "--generation-database", "none", "--request-timeout", "20",
         "--no-color", "--warnings", "off"],
        cwd=tmp_path, capture_output=True, text=True, timeout=400)
    out = run.stdout + run.stderr
    (tmp_path / "schemathesis.txt").write_text(out)
    failures = _failures(out)
    unexplained = {op: why for op, why in failures.items() if not _explained(why)}
    assert not unexplained, (f"{unexplained}\n" + out[-8000:] + "\n--- api log ---\n"
                             + _api_errors(stack.log))
    assert run.returncode == 0 or failures, out[-8000:]
    tested = re.search(r"Tested:\s+(\d+)", out)
    assert tested and int(tested.group(1)) == operations, out[-3000:]


def _failures(out: str) -> dict[str, str]:
    """Each failing operation's report, from schemathesis's FAILURES section."""
    section = out.split("FAILURES", 1)[1] if "FAILURES" in out else ""
    section = section.split("SUMMARY", 1)[0]
    blocks = re.split(r"^_{3,} (.+?) _{3,}$", section, flags=re.M)
    return {blocks[i]: blocks[i + 1] for i in range(1, len(blocks) - 1, 2)}


def _explained(report: str) -> bool:
    """Only ST202 (schema-valid data refused), each time for a reason no schema can say."""
    checks = re.findall(r"^- (ST\d+|[A-Z][^\n]*)", report, flags=re.M)
    answers = re.split(r"^\[\d{3}\] ", report, flags=re.M)[1:]
    if not checks or any(not c.startswith("ST202") for c in checks) or len(answers) < len(checks):
        return False
    return all(any(reason in answer for reason in SCHEMA_CANNOT_SAY) for answer in answers)


def _api_errors(log: Path) -> str:
    api_log = log.parent / "data" / "logs" / "api.log"
    text = api_log.read_text(errors="replace") if api_log.exists() else "(no api log)"
    return "\n".join(line for line in text.splitlines() if "rror" in line)[-4000:]
