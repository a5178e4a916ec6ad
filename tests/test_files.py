"""files.atomic_write, the one way the app writes a file, and `flask claims export --out` through it."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

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


# ---- every file the app writes is 0600, its folders 0700, whatever the umask --------------------------------


@pytest.fixture
def open_umask():
    """The umask of a careless service manager: files would be 0644 and folders 0755 by default."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_private_folder_makes_every_missing_folder_0700(tmp_path, open_umask):
    made = files.private_folder(tmp_path / "a" / "b" / "c")
    assert [mode(tmp_path / "a"), mode(tmp_path / "a" / "b"), mode(made)] == [0o700] * 3
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    files.private_folder(shared, own=False)   # a folder someone named (--out): its mode stays
    assert mode(shared) == 0o755
    files.private_folder(shared)              # the app's own folder: made private
    assert mode(shared) == 0o700


def test_atomic_write_into_new_folders_makes_them_0700(tmp_path, open_umask):
    existing = tmp_path / "desktop"
    existing.mkdir(mode=0o755)
    files.atomic_write_bytes(existing / "new" / "deeper" / "claims.xlsx", b"x")
    assert mode(existing) == 0o755
    assert mode(existing / "new") == mode(existing / "new" / "deeper") == 0o700
    assert mode(existing / "new" / "deeper" / "claims.xlsx") == 0o600


def test_the_sqlite_database_file_and_the_instance_folder_are_private(tmp_path, monkeypatch, open_umask):
    from backoffice import create_app

    for name in ("BACKOFFICE_ENV", "SECRET_KEY", "FIELD_ENCRYPTION_KEY"):
        monkeypatch.delenv(name, raising=False)
    instance = tmp_path / "instance"
    monkeypatch.setenv("BACKOFFICE_INSTANCE_PATH", str(instance))
    monkeypatch.setenv("DATABASE_URL", "sqlite:///backoffice.sqlite3")   # relative: under instance/, as by default
    app = create_app()
    database = instance / "backoffice.sqlite3"
    assert mode(instance) == 0o700
    assert mode(instance / "secret_key") == 0o600
    assert mode(database) == 0o600            # created before SQLite would make it 0644
    with app.app_context():
        db.create_all()                       # what `flask db upgrade` in `make run` does first
        db.session.execute(select(ClaimBatch)).all()
        db.engine.dispose()
    assert mode(database) == 0o600 and database.stat().st_size > 0
    database.chmod(0o644)                     # a file from before this fix is made private at the next start
    create_app()
    assert mode(database) == 0o600


def test_in_memory_and_postgresql_urls_make_no_file(tmp_path):
    assert files.private_sqlite_file("sqlite://", tmp_path) is None
    assert files.private_sqlite_file("sqlite:///:memory:", tmp_path) is None
    assert files.private_sqlite_file("postgresql+psycopg://u@localhost/clinic", tmp_path) is None
    assert list(tmp_path.iterdir()) == []
    assert files.sqlite_file("sqlite:////var/lib/clinic.db", tmp_path) == Path("/var/lib/clinic.db")


def test_the_print_queue_file_is_private(tmp_path, open_umask):
    from backoffice.printing.queue import make_huey

    huey = make_huey("", default_file=tmp_path / "queue" / "print_queue.sqlite3")
    huey.pending_count()   # SQLite creates the file and tables on first use
    assert mode(tmp_path / "queue") == 0o700
    assert mode(tmp_path / "queue" / "print_queue.sqlite3") == 0o600


def test_claim_workbooks_uploads_print_output_and_cli_files_are_private(app, clinic, tmp_path, open_umask):
    from test_remittance import xlsx

    from backoffice.claims import remittance
    from backoffice.printing import output, services

    (tmp_path / "out").mkdir(mode=0o755)   # a folder the user chose: its mode is theirs, the files are 0600
    out = tmp_path / "out" / "claim.xlsx"
    runner = app.test_cli_runner()
    result = runner.invoke(args=["claims", "export", "--insurer", "3311", "--period", "2026-10", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert mode(out) == 0o600 and mode(out.parent) == 0o755
    claims = tmp_path / "claims"
    stored = [p for p in claims.rglob("*") if p.is_file()]
    assert stored and all(mode(p) == 0o600 for p in stored)
    assert mode(claims) == mode(claims / "exports") == 0o700

    report = tmp_path / "out" / "monthly.xlsx"
    result = runner.invoke(args=["report", "monthly", "--month", "2026-10", "--out", str(report)])
    assert result.exit_code == 0, result.output
    assert mode(report) == 0o600

    with app.app_context():
        upload = remittance.upload(clinic.insurer, xlsx([("3311-2026-001-00001", 1, "", "")]), "a.xlsx", clinic.user)
        assert mode(claims / upload.stored_path) == 0o600 and mode(claims / "remittances") == 0o700
        db.session.rollback()
        app.config["PRINT_OUTPUT_DIR"] = str(tmp_path / "print_jobs")
        folder = services.output_dir()
        with output.atomic_files(folder / "job.pdf", folder / "job.zip") as (pdf, archive):
            pdf.write(b"%PDF-1.7")
            archive.write(b"PK")
    assert mode(folder) == 0o700
    assert mode(folder / "job.pdf") == mode(folder / "job.zip") == 0o600


def test_a_flat_zip_keeps_no_entry_in_memory_and_reads_back_whole(tmp_path):
    """files.flat_zip (the month-end pack's ZIP): the central directory's entries wait in a scratch file, not in
    memory; the ZIP is a normal one, every entry as written, CRCs right, dates and modes kept."""
    import tracemalloc
    import zipfile

    def write(target: Path, entries: int) -> int:
        tracemalloc.start()
        with files.atomic_write(target) as handle, files.flat_zip(handle, tmp_path / "directory.bin") as archive:
            before = tracemalloc.get_traced_memory()[0]
            for n in range(entries):
                info = zipfile.ZipInfo(f"facturen/factuur-2026-{n:05d}.pdf", date_time=(2026, 10, n % 28 + 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_STORED if n % 2 else zipfile.ZIP_DEFLATED
                info.external_attr = 0o640 << 16
                archive.writestr(info, f"%PDF document {n}\n".encode() * (n % 7 + 1))
            with archive.open(zipfile.ZipInfo("inhoud.txt", date_time=(2026, 11, 1, 8, 0, 0)), "w") as writer:
                writer.write(b"contents\n")
            grown = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        assert not (tmp_path / "directory.bin").exists()  # the scratch file goes with the ZIP's close
        return grown

    small, large = write(tmp_path / "small.zip", 200), write(tmp_path / "large.zip", 4000)
    assert large < small + 50_000  # flat: Python's own ZipFile keeps ~500 bytes per entry (2 MB more here)
    with zipfile.ZipFile(tmp_path / "large.zip") as archive:
        assert archive.testzip() is None
        infos = archive.infolist()
        assert len(infos) == 4001 and infos[-1].filename == "inhoud.txt"
        assert archive.read("inhoud.txt") == b"contents\n"
        third = archive.getinfo("facturen/factuur-2026-00003.pdf")
        assert archive.read(third) == b"%PDF document 3\n" * 4
        assert third.compress_type == zipfile.ZIP_STORED and third.date_time == (2026, 10, 4, 0, 0, 0)
        assert third.external_attr >> 16 == 0o640
        assert archive.getinfo("facturen/factuur-2026-00004.pdf").compress_type == zipfile.ZIP_DEFLATED
