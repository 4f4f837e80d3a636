"""What the local stack keeps in its data dir (.utio/) between runs: the admin and
development keys, the development sign-in, and the Firestore export saved together with
the task journal (and rolled back together after a run that could not save)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from pathlib import Path

from infra import emulators
from infra.supervisor import say


def load_keys(data_dir: Path) -> tuple[str, str]:
    """The admin and development keys: from the environment, else kept in the data dir
    so they stay the same between runs."""
    saved = _saved(data_dir)
    admin = os.environ.get("UTIO_ADMIN_KEY") or saved.get("admin") or "adm_" + secrets.token_urlsafe(24)
    dev = os.environ.get("UTIO_DEV_API_KEY") or saved.get("dev") or "utio_dev_" + secrets.token_urlsafe(24)
    _save(data_dir, saved | {"admin": admin, "dev": dev})
    return admin, dev


def load_sign_in(data_dir: Path) -> tuple[str, str]:
    """The development sign-in (UTIO_DEV_EMAIL, UTIO_DEV_PASSWORD), kept like the keys."""
    saved = _saved(data_dir)
    email = os.environ.get("UTIO_DEV_EMAIL") or saved.get("email") or "dev@utio.local"
    password = (os.environ.get("UTIO_DEV_PASSWORD") or saved.get("password")
                or secrets.token_urlsafe(12))
    _save(data_dir, saved | {"email": email, "password": password})
    return email, password


def _saved(data_dir: Path) -> dict:
    path = data_dir / "keys.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _save(data_dir: Path, values: dict) -> None:
    path = data_dir / "keys.json"
    path.write_text(json.dumps(values))
    path.chmod(0o600)


def save_data(host: str, project: str, firestore_dir: Path, journal: Path, marker: Path) -> str:
    """Export the emulator's documents, copy the task journal beside them (the pair the
    next start rolls back to if this run cannot save), and clear the run's marker."""
    emulators.export_firestore(host, project, firestore_dir)
    if journal.exists():
        shutil.copyfile(journal, firestore_dir / "tasks.jsonl")
    else:
        (firestore_dir / "tasks.jsonl").unlink(missing_ok=True)
    marker.unlink(missing_ok=True)
    return f"data saved in {firestore_dir}"


def recover_unsaved_run(firestore_dir: Path, journal: Path, marker: Path) -> None:
    """If the last run ended without saving, its Firestore data is the last export's: take
    the journal that goes with that export, so that no task refers to a change the data
    does not have, and none is missing for one it has."""
    if not marker.exists():
        return
    saved = firestore_dir / "tasks.jsonl"
    if journal.exists():
        aside = journal.with_name(f"tasks.unsaved-{int(time.time())}.jsonl")
        journal.rename(aside)
        say(f"the last run stopped without saving its data: back to the last saved data; "
            f"its newer task journal is kept aside in {aside}")
    if saved.exists():
        shutil.copyfile(saved, journal)
    marker.unlink()
