"""What production runs with: every setting of shared/settings.py is either passed by
Terraform or has a default that is right in production (said here, with why); each
component mounts the secrets its code uses, and no other; scheduled function targets are
jobs that Cloud Scheduler calls; the operator's variables refuse the examples."""

from __future__ import annotations

import ast
import re
import subprocess
from dataclasses import fields
from pathlib import Path

import pytest

from shared import names
from shared.settings import Settings
from tests.infra.tools import (
    ROOT,
    TERRAFORM_DIR,
    blocks,
    evaluate,
    parse_terraform,
    terraform,
    terraform_env,
    variable_blocks,
)

CATALOG = TERRAFORM_DIR / "modules" / "catalog"

# Settings Terraform leaves alone, and why their defaults suit production.
PRODUCTION_DEFAULTS = {
    "webhook_inline_attempts": "fan-out makes the first attempt of at most 10 deliveries a push "
                               "itself; the rest go to the deliver task at once",
    "webhook_inline_timeout": "5 s for a first attempt made inline, as the webhooks guide tells "
                              "receivers",
    "webhook_inline_budget": "no inline attempt starts 15 s into a push, well inside the push "
                             "subscription's 60 s ack deadline",
    "oidc_audience": "empty: a push's audience is the service URL, which Cloud Run checks "
                     "(UTIO_VERIFY_OIDC is off)",
    "oidc_certs_url": "Google's OIDC signing certificates (tests point it at a local server)",
    "id_token_certs_url": "Google's securetoken certificates, which sign Identity Platform's ID "
                          "tokens (tests point it at a local server)",
    "identity_project": "empty: Identity Platform lives in the environment's own project",
    "auth_emulator_host": "empty: the Firebase Auth emulator is for the local stack only",
    "person_check_seconds": "30 s: how long a user found live in Identity Platform is trusted",
    "web_dir": "empty: the load balancer serves the web app from its bucket, not the api",
    "local_tasks_url": "the local stack's task dispatcher; production uses Cloud Tasks",
    "allow_private_webhooks": "False: webhook and media URLs on private addresses are refused (SSRF)",
    "webhook_timeout": "10 s per delivery attempt",
    "webhook_retry_schedule": "Standard Webhooks' schedule (about a day) when UTIO_ENV is production",
    "webhook_retry_jitter": "±20 % on each retry delay",
    "webhook_disable_after": "a day of failures when UTIO_ENV is production",
    "stripe_api_base": "empty: Stripe itself (tests point it at a stand-in)",
    "data_dir": "the local stack's state directory",
    "storage_backend": "empty: Cloud Storage when UTIO_MEDIA_BUCKET is set or in production",
    "storage_dir": "local disk storage only",
    "media_fetch_timeout": "20 s to fetch media from a URL",
    "mail_outbox": "the file outbox, used only when UTIO_SMTP_URL is empty (never in production)",
    "lease_seconds": "30 s: a runner silent this long loses its devices to the others (docs/runner.md)",
    "renew_seconds": "10 s: three renewals per lease, so one slow Firestore write loses nothing",
    "reconnect_base": "2 s before a dropped WhatsApp session reconnects, doubling with jitter",
    "reconnect_max": "5 minutes between reconnects at most",
    "non_operative_after": "30 minutes disconnected before a device is non_operative and its owner mailed",
    "scan_wait": "4 s that GET /scan waits for a fresh QR code, well within the gateway's deadline",
    "event_ack_wait": "1 s a request waits for Pub/Sub to take the events it logged (docs/events.md)",
    "event_relay_stale": "60 s without renewal before a process's unrelayed events are swept",
    "caches": "on outside the tests: API keys 10 s, devices 5 s, as shared/caches.py states",
    "coalesce_chats": "on outside the tests: a chat's document written at most every 2 s "
                      "(shared/services/chat_filing.py)",
    "quota_leases": "on outside the tests: a block's unspent quota units counted for at most "
                    "5 s (shared/services/quota_leases.py)",
}

# A secret a component mounts although its code does not read it yet, and why.
AHEAD_OF_THE_CODE = {
    ("runner", "UTIO_SESSION_DB_URL"):
        "the WhatsApp (whatsmeow) session store the runner's transport keeps its keys in",
}


def _tf_texts() -> str:
    return "\n".join(p.read_text() for p in TERRAFORM_DIR.rglob("*.tf") if ".terraform" not in p.parts)


def test_every_setting_is_set_by_terraform_or_fine_by_default():
    text = _tf_texts()
    passed = {f.name for f in fields(Settings)
              if re.search(rf"\bUTIO_{f.name.upper()}\b", text) or f"UTIO_{f.name.upper()}" in names.SECRETS}
    settings = {f.name for f in fields(Settings)}
    undecided = settings - passed - set(PRODUCTION_DEFAULTS)
    assert not undecided, (f"Settings {sorted(undecided)}: pass them from terraform/ (or a "
                           "secret), or say in PRODUCTION_DEFAULTS why the default suits production")
    both = passed & set(PRODUCTION_DEFAULTS)
    assert not both, f"Terraform passes {sorted(both)}: drop them from PRODUCTION_DEFAULTS"
    assert set(PRODUCTION_DEFAULTS) <= settings, "PRODUCTION_DEFAULTS names a setting that is gone"


def test_functions_are_told_where_the_api_answers_and_who_mails():
    root = (TERRAFORM_DIR / "main.tf").read_text()
    env = root[root.index("function_env = merge("):]
    env = env[:env.index("})")]
    for setting in ("UTIO_PUBLIC_URL", "UTIO_MAIL_FROM", "UTIO_VAT_HOME_COUNTRY",
                    "UTIO_RUNNER_URL"):
        assert setting in env, f"the functions' environment lacks {setting}"
    assert "UTIO_PUBLIC_URL       = module.api_gateway.url" in env
    assert "UTIO_MEDIA_BUCKET" in root[root.index("common_env = {"):root.index("function_env")]


def test_the_gateway_does_not_wait_for_the_functions():
    """The functions read the gateway's URL (UTIO_PUBLIC_URL); were the gateway given
    module.functions' output, Terraform would find a cycle."""
    root = (TERRAFORM_DIR / "main.tf").read_text()
    call = root[root.index('module "api_gateway" {'):]
    call = call[:call.index("\n}\n")]
    assert "module.functions" not in call
    assert 'backend_url             = format(local.run_url, local.functions["api"].name)' in call


# --- which code each component runs -------------------------------------------------


def _handler_sources() -> dict[str, str]:
    """Component => the source of the code that serves it: for each function target, the
    handler functions/main.py imports in it (the whole API package for `api`); for the
    runner, device_runner/."""
    main = ast.parse((ROOT / "functions" / "main.py").read_text())
    defined = {n.name: n for n in main.body if isinstance(n, ast.FunctionDef)}
    sources: dict[str, str] = {}
    for node in main.body:
        if not isinstance(node, ast.FunctionDef) or node.name not in names.FUNCTION_TARGETS:
            continue
        parts = []
        helpers = [defined[c.func.id] for c in ast.walk(node) if isinstance(c, ast.Call)
                   and isinstance(c.func, ast.Name) and c.func.id in defined]
        for imp in (n for f in (node, *helpers) for n in ast.walk(f) if isinstance(n, ast.ImportFrom)):
            if imp.module.startswith("functions.api"):
                parts += [p.read_text() for p in sorted((ROOT / "functions" / "api").rglob("*.py"))]
                continue
            path = ROOT / Path(*imp.module.split(".")).with_suffix(".py")
            text = path.read_text()
            for definition in ast.parse(text).body:
                if isinstance(definition, ast.FunctionDef) and definition.name in {
                        a.name for a in imp.names}:
                    parts.append(ast.get_source_segment(text, definition))
        assert parts, f"functions/main.py: {node.name} imports no handler"
        sources[node.name] = "\n".join(parts)
    assert set(sources) == set(names.FUNCTION_TARGETS)
    sources["runner"] = "\n".join(p.read_text() for p in sorted((ROOT / "device_runner").rglob("*.py")))
    return sources


def _calls(source: str, module: str, function: str | None = None) -> bool:
    """Whether the code calls `module.function(` (any function of `module` if None)."""
    return any(isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
               and isinstance(node.func.value, ast.Name) and node.func.value.id == module
               and function in (None, node.func.attr)
               for node in ast.walk(ast.parse(source)))


def _delivers(source: str) -> bool:
    """Whether the code makes webhook delivery attempts: the deliver task's, or fan-out's,
    which makes each delivery's first attempt itself (shared/services/webhooks/fanout.py)."""
    return _calls(source, "delivery", "deliver") or _calls(source, "fanout", "fan_out")


def _opens_webhook_secrets(source: str) -> bool:
    """Whether the code registers webhooks or delivers to them (shared/services/webhooks/
    registration and delivery): both open the webhooks' sealed signing secrets with the
    key in the settings the Deps bundle carries (UTIO_WEBHOOK_SECRET_KEY)."""
    return _calls(source, "registration") or _delivers(source)


def _mails(source: str) -> bool:
    """Whether the code sends mail: through a mailer it names, or by delivering webhooks
    (a webhook that keeps failing is disabled and its owner emailed)."""
    return re.search(r"\bmailer\b", source) is not None or _delivers(source)


# Secret => how to tell from a component's code that it reads it.
SECRET_USES = {
    "UTIO_ADMIN_KEY": lambda src: "admin_key" in src,
    "UTIO_STRIPE_SECRET_KEY": lambda src: re.search(r"\.billing\b", src) is not None,
    "UTIO_STRIPE_WEBHOOK_SECRET": lambda src: "parse_event(" in src,
    "UTIO_WEBHOOK_SECRET_KEY": _opens_webhook_secrets,
    "UTIO_SMTP_URL": _mails,
    "UTIO_SESSION_DB_URL": lambda src: "session_db_url" in src,
}


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> dict:
    return evaluate(CATALOG, "{functions = module.m.functions, runner = module.m.runner}",
                    tmp_path_factory.mktemp("catalog"))


def test_every_secret_is_known_to_the_check():
    assert set(SECRET_USES) == set(names.SECRETS)


def test_each_component_mounts_the_secrets_its_code_reads_and_no_other(catalog):
    mounted = {t: set(f["secrets"]) for t, f in catalog["functions"].items()}
    mounted["runner"] = set(catalog["runner"]["secrets"])
    for component, source in _handler_sources().items():
        needed = {s for s, used in SECRET_USES.items() if used(source)}
        assert needed <= mounted[component], (
            f"{component} reads {sorted(needed - mounted[component])} but Terraform does not "
            "mount it: add it to the component's secrets in terraform/modules/catalog")
        extra = {s for s in mounted[component] - needed if (component, s) not in AHEAD_OF_THE_CODE}
        assert not extra, f"{component} mounts {sorted(extra)}, which its code does not read"


def test_mail_senders_and_the_api_mount_the_smtp_url(catalog):
    """The mails: quota and media refusals (api), a disabled webhook (webhook_deliver),
    payment failures (stripe_webhook)."""
    for target in ("api", "webhook_deliver", "stripe_webhook"):
        assert "UTIO_SMTP_URL" in catalog["functions"][target]["secrets"], target


# --- scheduled jobs -----------------------------------------------------------------


def test_every_schedule_names_a_function_target_with_a_cron():
    assert names.SCHEDULES, "no scheduled job: chat_cleanup runs daily"
    for target, cron in names.SCHEDULES.items():
        assert target in names.FUNCTION_TARGETS, target
        assert re.fullmatch(r"(\S+ ){4}\S+", cron), f"{target}: {cron!r} is not a 5-field cron"
    assert "chat_cleanup" in names.SCHEDULES


def test_every_job_handler_is_scheduled():
    """A target served from functions/jobs.py is a scheduled job: it needs a schedule,
    else nothing ever calls it."""
    main = ast.parse((ROOT / "functions" / "main.py").read_text())
    jobs = {node.name for node in main.body if isinstance(node, ast.FunctionDef)
            and any(isinstance(n, ast.ImportFrom) and n.module == "functions.jobs"
                    for n in ast.walk(node))}
    assert jobs == set(names.SCHEDULES)


def test_jobs_are_internal_single_runs_that_may_publish(catalog):
    for target, f in catalog["functions"].items():
        if target not in names.SCHEDULES:
            assert f["schedule"] is None, target
            continue
        assert f["schedule"] == names.SCHEDULES[target]
        assert (f["invoker"], f["ingress"]) == ("push", "ALLOW_INTERNAL_ONLY"), target
        assert f["max_instances"] == 1 and f["concurrency"] == 1, target
        assert 60 <= f["timeout"] <= 1800, f"{target}: Cloud Scheduler waits at most 30 minutes"
    assert catalog["functions"]["chat_cleanup"]["publishes"] == [names.EVENTS_TOPIC]


@pytest.fixture(scope="module")
def parsed() -> dict[str, dict]:
    return parse_terraform()


def test_a_scheduler_job_calls_each_scheduled_function_with_an_oidc_token(parsed):
    root: dict = {}
    for path, body in parsed.items():
        if "/" not in path:
            for kind, entries in body.items():
                root.setdefault(kind, []).extend(entries)
    call = blocks(root, "module")["scheduler"]
    assert call["source"] in (["./modules/scheduler"], "./modules/scheduler")
    assert re.search(r"if f\.schedule != (null|None)", str(call["jobs"]))
    assert call["service_account"] in (["${module.iam.push_email}"], "${module.iam.push_email}")
    module = (TERRAFORM_DIR / "modules" / "scheduler" / "main.tf").read_text()
    assert "for_each = var.jobs" in module
    assert "oidc_token {" in module and "service_account_email = var.service_account" in module
    assert "audience              = each.value.url" in module
    services = (TERRAFORM_DIR / "modules" / "services" / "main.tf").read_text()
    assert '"cloudscheduler.googleapis.com"' in services


# --- the operator's variables -------------------------------------------------------


def _accepts(tmp_path: Path, name: str, value: str) -> bool:
    """Whether the root module's variable `name` takes `value` (HCL), by its validation."""
    source = variable_blocks((TERRAFORM_DIR / "variables.tf").read_text(), (name,))
    (tmp_path / "main.tf").write_text(source + f'\noutput "v" {{\n  value = var.{name}\n}}\n')
    (tmp_path / "test.tfvars").write_text(f"{name} = {value}\n")
    env = terraform_env()
    init = subprocess.run([terraform(), "init", "-backend=false", "-no-color"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert init.returncode == 0, init.stderr
    done = subprocess.run([terraform(), "console", "-no-color", "-var-file=test.tfvars"],
                          cwd=tmp_path, env=env, input="var." + name + "\n",
                          capture_output=True, text=True, timeout=60)
    return done.returncode == 0 and "Invalid value for variable" not in done.stdout + done.stderr


@pytest.mark.parametrize("name, value, ok", [
    ("mail_from", '"Utio <no-reply@utio.io>"', True),
    ("mail_from", '"no-reply@mail.utio.io"', True),
    ("mail_from", '"Utio <no-reply@utio.example>"', False),
    ("mail_from", '"Utio"', False),
    ("mail_from", '""', False),
    ("vat_home_country", '"FR"', True),
    ("vat_home_country", '""', True),
    ("vat_home_country", '"fr"', False),
    ("media_retention_days", "31", True),
    ("media_retention_days", "30", False),
])
def test_variable_validation(tmp_path, name, value, ok):
    assert _accepts(tmp_path, name, value) is ok


@pytest.mark.parametrize("env", ["staging", "production"])
def test_the_example_sender_must_be_replaced(tmp_path, env):
    tfvars = (TERRAFORM_DIR / "envs" / f"{env}.tfvars").read_text()
    value = re.search(r"^mail_from\s*=\s*(\".*\")$", tfvars, re.MULTILINE)
    assert value, f"{env}.tfvars sets no mail_from"
    assert not _accepts(tmp_path, "mail_from", value[1])


def test_media_objects_outlive_their_file_records():
    from shared.services import files

    text = (TERRAFORM_DIR / "variables.tf").read_text()
    floor = int(re.search(r"var\.media_retention_days >= (\d+)", text)[1])
    assert floor > files.KEEP.days
    for env in ("staging", "production"):
        tfvars = (TERRAFORM_DIR / "envs" / f"{env}.tfvars").read_text()
        days = re.search(r"^media_retention_days\s*=\s*(\d+)", tfvars, re.MULTILINE)
        assert days is None or int(days[1]) >= floor, env
