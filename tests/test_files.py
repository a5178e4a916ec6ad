"""files.atomic_write, the one way the app writes a file, and `flask claims export --out` through it."""

from __future__ import annotations

import errno
import os
import stat

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from test_claims import ClaimClinic

from backoffice import files
from backoffice.extensions import db
from backoffice.models import ClaimBatch


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_complete_write_replaces_the_target_with_mode_0600(tmp_path):
    target = tmp_path / "sub" / "report.xlsx"   # the folder is made when missing
    with files.atomic_write(target) as handle:
        handle.write(b"first")
    assert target.read_bytes() == b"first"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    files.atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    assert [p.name for p in target.parent.iterdir()] == ["report.xlsx"]


def test_a_failure_mid_write_leaves_the_target_untouched_and_no_temporary_file(tmp_path):
    target = tmp_path / "claim.xlsx"
    target.write_bytes(b"the old workbook")
    with pytest.raises(RuntimeError, match="half way"), files.atomic_write(target) as handle:
        handle.write(b"half a new")
        raise RuntimeError("half way")
    assert target.read_bytes() == b"the old workbook"
    assert [p.name for p in tmp_path.iterdir()] == ["claim.xlsx"]


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_a_full_disk_at_the_end_leaves_nothing_new(tmp_path, monkeypatch, step):
    """A full disk shows up at flush, fsync or close: nothing at the final name, no temporary file."""
    monkeypatch.setattr(os, step, _disk_full)
    target = tmp_path / "new.zip"
    with pytest.raises(OSError) as raised, files.atomic_write(target) as handle:
        handle.write(b"x" * 10_000)
    assert raised.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []


def test_the_mode_is_applied_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        files.atomic_write_bytes(tmp_path / "a", b"a")
        files.atomic_write_bytes(tmp_path / "b", b"b", mode=0o640)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "b").stat().st_mode) == 0o640


# ---- flask claims export --out ------------------------------------------------------------------------------


@pytest.fixture
def clinic(app, tmp_path):
    app.config["CLAIMS_DIR"] = str(tmp_path / "claims")
    with app.app_context():
        clinic = ClaimClinic()
        clinic.line(clinic.patient("Bakker"))
        db.session.commit()
    return clinic


def test_export_out_on_a_full_disk_leaves_no_file_and_says_so(app, clinic, tmp_path, monkeypatch):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "claim.xlsx"
    real_fsync = os.fsync

    def fsync_fails_for_out(descriptor):
        # The stored copy under CLAIMS_DIR is written fine; the disk of --out is full.
        if os.readlink(f"/proc/self/fd/{descriptor}").startswith(str(out_dir)):
            _disk_full()
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync_fails_for_out)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["claims", "export", "--insurer", "3311", "--period", "2026-10", "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert f"Could not write {out}" in result.output and "No space left on device" in result.output
    assert isinstance(result.exception, SystemExit)  # click's clean exit, not an error raised through it
    assert list(out_dir.iterdir()) == []   # no corrupt claim.xlsx, no temporary file
    with app.app_context():  # the export was rolled back with it: the batch is not marked exported
        assert all(batch.status != "exported" for batch in db.session.scalars(select(ClaimBatch)))

    monkeypatch.setattr(os, "fsync", real_fsync)
    result = runner.invoke(args=["claims", "export", "--insurer", "3311", "--period", "2026-10", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert load_workbook(out).sheetnames[0] == "Declaratie"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert [p.name for p in out_dir.iterdir()] == ["claim.xlsx"]
