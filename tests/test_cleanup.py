"""`flask cleanup`: print output, claim workbooks, report scratch files and the development mail outbox past
FILE_RETENTION_DAYS are removed (a dry run only lists them); files of a print job still running and uploaded
remittances are kept. Time is frozen."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from backoffice import clock
from backoffice.extensions import db
from backoffice.models import AccessLog, PrintJob

NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)


def _file(path, age_days: float) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"patient data")
    moment = (NOW - timedelta(days=age_days)).timestamp()
    os.utime(path, (moment, moment))
    return str(path)


def _job(app, status: str) -> int:
    with app.app_context():
        job = PrintJob(kind="invoices", period_start=date(2026, 10, 1), period_end=date(2026, 10, 31), status=status)
        db.session.add(job)
        db.session.commit()
        return job.id


def test_cleanup_removes_old_print_and_claim_files_and_keeps_the_rest(app, tmp_path):
    app.config.update(PRINT_OUTPUT_DIR=str(tmp_path / "print_jobs"), CLAIMS_DIR=str(tmp_path / "claims"),
                      FILE_RETENTION_DAYS=30)
    app.instance_path = str(tmp_path / "instance")
    done, running = _job(app, "done"), _job(app, "running")
    old_print = _file(tmp_path / "print_jobs" / f"facturen_2026-10-01_2026-10-31_job{done}.pdf", 31)
    old_zip = _file(tmp_path / "print_jobs" / f"facturen_2026-10-01_2026-10-31_job{done}.zip", 45)
    busy = _file(tmp_path / "print_jobs" / f"facturen_2026-10-01_2026-10-31_job{running}.pdf", 40)
    recent_print = _file(tmp_path / "print_jobs" / "facturen_2026-11-01_2026-11-30_job99.pdf", 29.5)
    old_workbook = _file(tmp_path / "claims" / "exports" / "declaratie-3343-2026-001.xlsx", 60)
    recent_workbook = _file(tmp_path / "claims" / "exports" / "declaratie-3343-2026-002.xlsx", 2)
    remittance = _file(tmp_path / "claims" / "remittances" / "abc.csv", 400)
    scratch = _file(tmp_path / "instance" / "reports" / "tmp123.xlsx", 31)
    old_mail = _file(tmp_path / "instance" / "outbox" / "20261101-factuur.eml", 34)
    recent_mail = _file(tmp_path / "instance" / "outbox" / "20261203-factuur.eml", 2)
    runner = app.test_cli_runner()

    with clock.freeze(NOW):
        dry = runner.invoke(args=["cleanup", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    for path in (old_print, old_zip, old_workbook, scratch, old_mail):
        assert f"would remove: {path}" in dry.output and os.path.exists(path)
    assert f"kept: {busy} (its print job is still queued or running)" in dry.output
    assert "5 file(s) would remove" in dry.output
    assert f"{old_mail} (e-mail in the development outbox)" in dry.output
    with app.app_context():
        assert not db.session.scalars(select(AccessLog).where(AccessLog.subject == "file retention")).all()

    with clock.freeze(NOW):
        result = runner.invoke(args=["cleanup"])
    assert result.exit_code == 0, result.output
    assert "5 file(s) removed, 60 bytes" in result.output
    for path in (old_print, old_zip, old_workbook, scratch, old_mail):
        assert not os.path.exists(path)
    for path in (busy, recent_print, recent_workbook, remittance, recent_mail):
        assert os.path.exists(path)
    with app.app_context():
        entry = db.session.scalars(select(AccessLog).where(AccessLog.subject == "file retention")).one()
        assert entry.action == "delete" and "5 file(s) older than 30 days" in entry.detail

    # A day later the 29.5-day-old print file has passed the limit too; --days overrides the setting.
    with clock.freeze(NOW + timedelta(days=1)):
        assert "1 file(s) removed" in runner.invoke(args=["cleanup"]).output
    assert not os.path.exists(recent_print) and os.path.exists(recent_workbook)
    with clock.freeze(NOW):
        assert "2 file(s) removed" in runner.invoke(args=["cleanup", "--days", "1"]).output
    assert not os.path.exists(recent_workbook) and not os.path.exists(recent_mail) and os.path.exists(busy)


def test_cleanup_with_nothing_to_remove_says_so(app, tmp_path):
    app.config.update(PRINT_OUTPUT_DIR=str(tmp_path / "missing"), CLAIMS_DIR=str(tmp_path / "claims"))
    app.instance_path = str(tmp_path / "instance")
    with clock.freeze(NOW):
        result = app.test_cli_runner().invoke(args=["cleanup"])
    assert result.exit_code == 0 and "0 file(s) removed, 0 bytes; 0 old file(s) kept (older than 30 days: " \
        "before 2026-11-05 03:00 UTC)" in result.output
