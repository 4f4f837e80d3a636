"""`terraform fmt`, and checkov over terraform/ and the runner's Dockerfile with no
failed check unless terraform/checkov-skips.txt lists it with its reason."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.infra.tools import CHECKOV, ROOT, TERRAFORM_DIR, terraform, terraform_env

SKIPS = TERRAFORM_DIR / "checkov-skips.txt"


def test_terraform_is_formatted():
    done = subprocess.run([terraform(), "fmt", "-check", "-recursive", "-diff", "-no-color",
                           str(TERRAFORM_DIR)], env=terraform_env(), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, "run `terraform fmt -recursive terraform`:\n" + done.stdout


def skips() -> dict[str, str]:
    found = {}
    for number, line in enumerate(SKIPS.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = re.fullmatch(r"(CKV2?_[A-Z]+_\d+)\s+(\S.{19,})", line.strip())
        assert match, f"checkov-skips.txt:{number}: expected 'CHECK_ID  reason (20+ chars)'"
        assert match[1] not in found, f"checkov-skips.txt:{number}: {match[1]} twice"
        found[match[1]] = match[2]
    return found


def _json_documents(text: str) -> list[dict]:
    """checkov prints one JSON document per scanned directory (a list or an object)."""
    decoder, at, found = json.JSONDecoder(), 0, []
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            return found
        value, at = decoder.raw_decode(text, at)
        found += value if isinstance(value, list) else [value]


@pytest.fixture(scope="module")
def failed() -> dict[str, set[str]]:
    if not CHECKOV.exists():
        pytest.skip("no .venv-checkov: `make test` builds it from requirements-checkov.txt")
    done = subprocess.run(
        [str(CHECKOV), "--directory", str(TERRAFORM_DIR), "--directory",
         str(ROOT / "device_runner"), "--framework", "terraform", "dockerfile",
         "--output", "json", "--quiet", "--compact", "--skip-download",
         "--download-external-modules", "false"],
        capture_output=True, text=True, timeout=300, cwd=ROOT, env=terraform_env())
    assert done.returncode in (0, 1), done.stderr[-2000:]
    reports = _json_documents(done.stdout)
    assert {r["check_type"] for r in reports} == {"terraform", "dockerfile"}, done.stdout[:300]
    out: dict[str, set[str]] = {}
    for report in reports:
        assert report["summary"]["parsing_errors"] == 0, report["check_type"]
        assert report["summary"]["resource_count"] > 0, report["check_type"]
        for check in report["results"]["failed_checks"]:
            out.setdefault(check["check_id"], set()).add(
                f"{check['resource']} ({check['file_path']}): {check['check_name']}")
    return out


def test_no_failed_check_without_a_reason(failed):
    unexplained = {k: v for k, v in failed.items() if k not in skips()}
    assert not unexplained, "fix, or list in terraform/checkov-skips.txt with why:\n" + "\n".join(
        f"{k}: {r}" for k, rs in unexplained.items() for r in rs)


def test_every_skip_still_applies(failed):
    stale = sorted(set(skips()) - set(failed))
    assert not stale, f"these checks pass now; remove them from checkov-skips.txt: {stale}"
