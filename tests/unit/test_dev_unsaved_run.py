"""A local run that ended without saving its Firestore data (the emulator killed, the
machine down) rolls its task journal back with the data: to the copy saved beside the
last export, never keeping tasks newer than the data."""

from __future__ import annotations

from infra.dev_data import recover_unsaved_run


def test_an_unsaved_run_takes_the_journal_saved_with_the_data(tmp_path):
    export, journal, marker = tmp_path / "firestore", tmp_path / "tasks.jsonl", tmp_path / "running"
    export.mkdir()
    (export / "tasks.jsonl").write_text('{"saved": 1}\n')
    journal.write_text('{"saved": 1}\n{"newer": 2}\n')
    marker.write_text("{}")
    recover_unsaved_run(export, journal, marker)
    assert journal.read_text() == '{"saved": 1}\n'
    assert not marker.exists()
    aside = list(tmp_path.glob("tasks.unsaved-*.jsonl"))
    assert len(aside) == 1 and "newer" in aside[0].read_text()


def test_an_unsaved_first_run_keeps_no_journal(tmp_path):
    export, journal, marker = tmp_path / "firestore", tmp_path / "tasks.jsonl", tmp_path / "running"
    journal.write_text('{"task": 1}\n')
    marker.write_text("{}")
    recover_unsaved_run(export, journal, marker)
    assert not journal.exists()  # no data was ever saved: no task may refer to any


def test_a_saved_run_keeps_its_journal(tmp_path):
    export, journal, marker = tmp_path / "firestore", tmp_path / "tasks.jsonl", tmp_path / "running"
    journal.write_text('{"task": 1}\n')
    recover_unsaved_run(export, journal, marker)
    assert journal.read_text() == '{"task": 1}\n'
