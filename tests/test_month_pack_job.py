"""The month-end pack as a background job (backoffice/reporting/jobs.py): the manager asks for a month's pack, the
request returns at once with a page that follows the steps, the worker (Huey in immediate mode, as in
test_printing.py) builds it, the download is logged; a failure shows its reason and can be built again; a therapist
is refused and a post without CSRF token too. The pack's content is that of the synchronous build (the CLI) and of
the books read in one go (ledger_oracle.month_ledger), read page by page (books.py)."""

from __future__ import annotations

import dataclasses
import io
import os
import stat
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import ledger_oracle
import pytest
from conftest import csrf_token, login
from openpyxl import load_workbook
from sqlalchemy import func, select
from test_reporting import OCTOBER, TODAY, build_practice

from backoffice import unit_of_work
from backoffice.domain.money import format_euro
from backoffice.domain.statuses import PrintJobStatus
from backoffice.extensions import db
from backoffice.maintenance.cleanup import remove_old_files
from backoffice.models import AccessLog, CreditNote, Invoice
from backoffice.models.printing import PackJob
from backoffice.printing import tasks
from backoffice.reporting import books, jobs, pack, queries, workbook
from backoffice.reporting import views as report_views

NOT_BUILT = ("export", "print")


@pytest.fixture
def october(app, tmp_path):
    app.instance_path = str(tmp_path / "instance")
    Path(app.instance_path).mkdir()
    assert app.config["PRINT_QUEUE_URL"] == "immediate" and tasks.print_queue(app).huey.immediate
    with app.app_context():
        data = build_practice()
        data.pop("clinic")
        return data


def _october_numbers() -> list[str]:
    numbers = list(db.session.scalars(select(Invoice.number).where(
        Invoice.status == "issued", Invoice.issue_date.between(OCTOBER.first, OCTOBER.last))))
    return numbers + list(db.session.scalars(select(CreditNote.number).where(
        CreditNote.issue_date.between(OCTOBER.first, OCTOBER.last))))


def _ask_for_pack(client, month: str = "2026-10"):
    token = csrf_token(client, f"/reports/pack?month={month}")
    return client.post("/reports/pack", data={"month": month, "csrf_token": token})


def test_the_manager_asks_for_the_pack_follows_its_steps_and_downloads_it(app, as_role, october, monkeypatch):
    client = as_role("manager")
    # The old links lead to the new page: the dashboard's button, a bookmarked /reports/pack.zip.
    assert 'href="/reports/pack?month=2026-10"' in client.get("/reports/?month=2026-10").get_data(as_text=True)
    old = client.get("/reports/pack.zip?month=2026-10")
    assert old.status_code == 302 and old.headers["Location"].endswith("/reports/pack?month=2026-10")
    page = client.get("/reports/pack?month=2026-10").get_data(as_text=True)
    assert 'data-testid="build-pack"' in page and 'name="month" value="2026-10"' in page

    # What the job's page says at each stored step, read by another request while the worker runs.
    seen: list[dict] = []
    checkpoint = unit_of_work.checkpoint

    def watching() -> None:
        checkpoint()
        with app.app_context():
            job_id = db.session.scalar(select(func.max(PackJob.id)))
        seen.append(client.get(f"/reports/packs/{job_id}/status").get_json())

    monkeypatch.setattr(unit_of_work, "checkpoint", watching)
    monkeypatch.setattr(pack, "DOCUMENT_PAGE", 2)  # progress while the documents are copied
    monkeypatch.setattr(jobs, "PROGRESS_INTERVAL", 0.0)
    response = _ask_for_pack(client)
    assert response.status_code == 302
    job_url = response.headers["Location"]
    assert job_url.endswith("/reports/packs/1")
    steps = [(s["status"], s["step"], s["done"], s["total"]) for s in seen]
    assert steps[0] == ("running", "", 0, 0)
    assert [step for _status, step, _d, _t in steps if step][:1] == ["report"]
    documents = [(done, total) for status, step, done, total in steps if step == "claims"]
    assert documents[-1] == (5, 5) and (2, 5) in documents  # the invoices step, document by document
    assert [s["percent"] for s in seen] == sorted(s["percent"] for s in seen)  # never backwards
    assert seen[-1]["status"] == "done" and seen[-1]["percent"] == 100 and seen[-1]["download_url"]

    job_page = client.get(job_url)
    html = job_page.get_data(as_text=True)
    assert "Refresh" not in job_page.headers  # done: no need to reload
    assert 'data-testid="download-zip"' in html and html.count('data-done="yes"') == 4
    download = client.get(seen[-1]["download_url"])
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert 'filename=maandafsluiting-2026-10.zip' in download.headers["Content-Disposition"]
    assert download.headers["Cache-Control"] == "no-store"
    with zipfile.ZipFile(io.BytesIO(download.data)) as archive:
        pdfs = [n for n in archive.namelist() if n.startswith("facturen/")]
    download.close()

    with app.app_context():
        numbers = _october_numbers()
        assert sorted(n.split("-", 1)[1].removesuffix(".pdf") for n in pdfs) == sorted(numbers)
        entries = db.session.execute(select(AccessLog.action, AccessLog.subject, AccessLog.user_role,
                                            AccessLog.detail, AccessLog.patient_id).order_by(AccessLog.id)).all()
        # Built by the worker on the manager's behalf: each document printed, the claim workbook's patients.
        printed = [e for e in entries if e.action == "print" and "pack job 1" in e.detail]
        assert sorted(e.subject.split()[-1] for e in printed) == sorted(numbers)
        assert {e.user_role for e in printed} == {"manager"} and all(e.patient_id for e in printed)
        # The download: the pack (what the manager's home reads) and every document in it, by the manager.
        downloaded = [e for e in entries
                      if e.action == "export" and "downloaded maandafsluiting-2026-10.zip" in e.detail]
        assert ("export", "month-end pack 2026-10", "manager") in {(e.action, e.subject, e.user_role)
                                                                 for e in downloaded}
        assert sorted(e.subject.split()[-1] for e in downloaded if e.patient_id) == sorted(numbers)
        job = db.session.get_one(PackJob, 1)
        assert (job.status, job.document_count, job.step) == ("done", 5, "zip")
        stored = Path(app.instance_path) / "month_packs" / job.zip_path
        assert stored.is_file() and stored.stat().st_size == job.size_bytes
        assert stored.name == "maandafsluiting-2026-10_pack1.zip"


def test_the_download_logs_from_the_list_beside_the_zip_and_is_refused_without_it(app, as_role, october):
    client = as_role("manager")
    _ask_for_pack(client)
    with app.app_context():
        job = db.session.get_one(PackJob, 1)
        listed = jobs.documents_list_path(job)
        kept = list(pack.read_documents_list(listed))
        # One line per document, beside the ZIP (the row keeps none of them: a chain's month holds thousands).
        assert listed.parent == jobs.pack_dir() and listed.name == "maandafsluiting-2026-10_pack1.documents.tsv"
        assert stat.S_IMODE(listed.stat().st_mode) == 0o600
        assert sorted(subject.split()[-1] for _patient, subject in kept) == sorted(_october_numbers())
        assert job.documents == [] and job.document_count == len(kept) == 5
        exports = select(func.count()).select_from(AccessLog).where(AccessLog.action == "export")
        before = db.session.scalar(exports)
    download = client.get("/reports/packs/1/download.zip")
    assert download.status_code == 200
    download.close()
    with app.app_context():
        assert db.session.scalar(exports) == before + 5 + 1  # each document and the pack
        listed.unlink()
    refused = client.get("/reports/packs/1/download.zip")
    assert refused.status_code == 302 and refused.headers["Location"].endswith("/reports/packs/1")
    assert "no longer there" in client.get("/reports/packs/1").get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(exports) == before + 6  # nothing logged for a file not handed out


def test_the_page_refreshes_while_the_pack_waits_for_the_worker(app, as_role, october, monkeypatch):
    queued: list[int] = []
    monkeypatch.setattr(tasks, "enqueue_pack", queued.append)
    client = as_role("manager")
    job_url = _ask_for_pack(client).headers["Location"]
    assert queued == [1]  # handed to the queue after the commit
    page = client.get(job_url)
    assert page.headers["Refresh"] == str(report_views.REFRESH_SECONDS)
    assert 'data-status="queued"' in page.get_data(as_text=True)
    assert client.get("/reports/packs/1/download.zip").status_code == 302  # not ready: back to its page
    assert "not ready" in client.get(job_url).get_data(as_text=True)
    with app.app_context():
        unit_of_work.run(lambda: jobs.run_job(1))
        unit_of_work.run(lambda: jobs.run_job(1))  # a doubled task leaves a finished job alone
        assert db.session.get_one(PackJob, 1).status == "done"
        assert db.session.scalar(select(func.count()).select_from(AccessLog).where(
            AccessLog.subject == "month-end pack 2026-10")) == 1
    assert "Refresh" not in client.get(job_url).headers


def test_a_failed_pack_says_why_leaves_nothing_and_can_be_built_again(app, as_role, october, monkeypatch):
    build = pack.build_pack

    def broken(*args, **kwargs):
        kwargs["progress"]("report")
        Path(kwargs["documents_list"]).write_text("1\tinvoice 2026-00001\n", encoding="utf-8")  # half written
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pack, "build_pack", broken)
    client = as_role("manager")
    job_url = _ask_for_pack(client).headers["Location"]
    html = client.get(job_url).get_data(as_text=True)
    assert 'data-testid="job-error"' in html and "Building the pack failed (OSError)" in html
    with app.app_context():
        job = db.session.get_one(PackJob, 1)
        assert job.status == "failed" and job.zip_path is None
        assert db.session.scalar(select(func.count()).select_from(AccessLog).where(
            AccessLog.action.in_(NOT_BUILT), AccessLog.subject == "month-end pack 2026-10")) == 0
    assert not list((Path(app.instance_path) / "month_packs").iterdir())

    monkeypatch.setattr(pack, "build_pack", build)
    token = csrf_token(client, job_url)
    again = client.post("/reports/packs/1/again", data={"csrf_token": token})
    assert again.status_code == 302 and again.headers["Location"].endswith("/reports/packs/2")
    assert "job 2" in client.get(again.headers["Location"]).get_data(as_text=True)
    download = client.get("/reports/packs/2/download.zip")
    assert download.status_code == 200 and download.data.startswith(b"PK")
    download.close()
    # The month's page lists both.
    listing = client.get("/reports/pack?month=2026-10").get_data(as_text=True)
    assert 'href="/reports/packs/1"' in listing and 'href="/reports/packs/2"' in listing


def test_an_unreachable_queue_fails_the_job_with_a_message(app, as_role, october, monkeypatch):
    def unreachable(job_id: int) -> None:
        raise ConnectionError("queue down")

    monkeypatch.setattr(tasks, "enqueue_pack", unreachable)
    client = as_role("manager")
    job_url = _ask_for_pack(client).headers["Location"]
    assert "could not be reached" in client.get(job_url).get_data(as_text=True)
    with app.app_context():
        assert db.session.get_one(PackJob, 1).status == "failed"


def test_a_stale_job_is_failed_when_its_page_is_read(app, as_role, october, monkeypatch):
    monkeypatch.setattr(tasks, "enqueue_pack", lambda job_id: None)
    client = as_role("manager")
    job_url = _ask_for_pack(client).headers["Location"]
    with app.app_context():
        job = db.session.get_one(PackJob, 1)
        job.status, job.started_at = "running", datetime.now(UTC) - timedelta(hours=1)
        job.created_at = job.progress_at = job.started_at
        db.session.commit()
    assert jobs.STALE_ERROR in client.get(job_url).get_data(as_text=True)


def test_a_therapist_is_refused_and_a_post_needs_its_csrf_token(app, client, users, october):
    login(client, users["therapist"])
    for url in ("/reports/pack?month=2026-10", "/reports/pack.zip?month=2026-10", "/reports/packs/1",
                "/reports/packs/1/status", "/reports/packs/1/download.zip"):
        assert client.get(url).status_code == 403, url
    token = csrf_token(client, "/")
    assert client.post("/reports/pack", data={"month": "2026-10", "csrf_token": token}).status_code == 403
    assert client.post("/reports/packs/1/again", data={"csrf_token": token}).status_code == 403
    anonymous = app.test_client()
    assert anonymous.get("/reports/pack?month=2026-10").status_code == 302
    manager = app.test_client()
    login(manager, users["manager"])
    assert manager.post("/reports/pack", data={"month": "2026-10"}).status_code == 400  # no CSRF token
    bad = manager.post("/reports/pack", data={"month": "2026-13", "csrf_token": csrf_token(manager, "/reports/")})
    assert bad.status_code == 400  # not a month: refused, not a 500
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PackJob)) == 0


def _sheets(data: bytes) -> dict[str, list[tuple]]:
    """Every sheet's values, the generation time (row 2) left out."""
    book = load_workbook(io.BytesIO(data))
    return {ws.title: [row for index, row in enumerate(ws.iter_rows(values_only=True), 1)
                       if index != workbook.GENERATED_ROW] for ws in book.worksheets}


def _contents(data: bytes) -> list[str]:
    return [line for line in data.decode("utf-8").splitlines() if not line.startswith("Gegenereerd")]


def test_the_jobs_pack_equals_the_synchronous_build_and_the_in_memory_books(app, as_role, october, tmp_path,
                                                                            monkeypatch):
    # Small pages, so the page-by-page reading crosses page boundaries.
    monkeypatch.setattr(books, "PAGE", 2)
    monkeypatch.setattr(pack, "DOCUMENT_PAGE", 2)
    target = tmp_path / "cli.zip"
    result = app.test_cli_runner().invoke(args=["report", "pack", "--month", "2026-10", "--out", str(target)])
    assert result.exit_code == 0, result.output
    client = as_role("manager")
    _ask_for_pack(client)
    job_zip = client.get("/reports/packs/1/download.zip")
    with zipfile.ZipFile(target) as cli, zipfile.ZipFile(io.BytesIO(job_zip.data)) as job:
        assert cli.namelist() == job.namelist()
        for name in cli.namelist():
            if name.endswith(".xlsx"):
                assert _sheets(cli.read(name)) == _sheets(job.read(name)), name
            elif name == pack.CONTENTS_NAME:
                assert _contents(cli.read(name)) == _contents(job.read(name))
            else:
                assert cli.read(name) == job.read(name), name
        names = job.namelist()
        register, payments = job.read(pack.register_filename(OCTOBER)), job.read(pack.payments_filename(OCTOBER))
        report_sheets = _sheets(job.read(workbook.default_filename(OCTOBER)))
        pdfs = {name: job.read(name) for name in names if name.startswith("facturen/")}
    job_zip.close()

    with app.app_context():
        # The books read page by page are the in-memory ledger's, row for row; so are the CSVs and the sheets.
        book = ledger_oracle.month_ledger(OCTOBER, OCTOBER.last)
        streamed = books.MonthBooks.of(OCTOBER, OCTOBER.last)
        assert streamed.rates == book.rates
        assert tuple(streamed.register()) == book.register and tuple(streamed.payments()) == book.payments
        assert len(book.register) == 5 and book.register[-1].kind == "credit_note"
        assert register == pack.register_csv(book) and payments == pack.payments_csv(book)
        today = queries.build_report(OCTOBER)  # the download with the month's books: the pack's report
        path = tmp_path / "report.xlsx"
        workbook.write_report(today, path, streamed)
        assert _sheets(path.read_bytes()) == report_sheets
        # Every document as stored at issue, under its number.
        stored = {f"facturen/factuur-{number}.pdf": pdf for number, pdf in db.session.execute(
            select(Invoice.number, Invoice.pdf).where(Invoice.status == "issued",
                                                      Invoice.issue_date.between(OCTOBER.first, OCTOBER.last)))}
        stored |= {f"facturen/creditnota-{number}.pdf": pdf for number, pdf in db.session.execute(
            select(CreditNote.number, CreditNote.pdf).where(CreditNote.issue_date.between(OCTOBER.first,
                                                                                         OCTOBER.last)))}
        assert pdfs == stored
        # The register's count and total in the contents list, as before.
        with zipfile.ZipFile(target) as archive:
            lines = _contents(archive.read(pack.CONTENTS_NAME))
        line = next(line for line in lines if line.startswith("factuurregister-2026-10.csv\t"))
        assert "5" in line.split("\t")[1] and line.endswith("\t" + format_euro(book.total))


def test_an_altered_pdf_is_left_out_with_a_note(app, october, tmp_path, monkeypatch):
    """The stored documents cannot be changed (database guards): a PDF read back altered is simulated."""
    read = pack._documents
    altered: list[str] = []

    def tampered(month):
        for index, document in enumerate(read(month)):
            if index == 0:
                altered.append(document.number)
                document = dataclasses.replace(document, pdf=(document.pdf or b"") + b"%")
            yield document

    monkeypatch.setattr(pack, "_documents", tampered)
    with app.app_context():
        result = pack.build_pack(OCTOBER, tmp_path / "p.zip", today=TODAY, documents_list=tmp_path / "p.tsv")
        assert result.documents == 4 and any(altered[0] in note and "SHA-256" in note for note in result.notes)
        subjects = [subject for _patient, subject in pack.read_documents_list(tmp_path / "p.tsv")]
        assert len(subjects) == 4 and all(altered[0] not in subject for subject in subjects)
        # Nor is it logged as printed.
        printed = db.session.scalars(select(AccessLog.subject).where(
            AccessLog.action == "print", AccessLog.detail.contains("month-end pack 2026-10"))).all()
        assert len(printed) == 4 and all(altered[0] not in subject for subject in printed)
    with zipfile.ZipFile(tmp_path / "p.zip") as archive:
        assert f"facturen/factuur-{altered[0]}.pdf" not in archive.namelist()
        assert altered[0] in archive.read(pack.CONTENTS_NAME).decode()


def test_cleanup_removes_old_packs_but_not_one_being_built(app, october):
    now = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
    folder = Path(app.instance_path) / jobs.FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    with app.app_context():
        running = PackJob(month=date(2026, 10, 1), status=PrintJobStatus.RUNNING.value)
        done = PackJob(month=date(2026, 10, 1), status=PrintJobStatus.DONE.value)
        db.session.add_all([running, done])
        db.session.commit()
        old = now - timedelta(days=40)
        paths = {}
        for job in (running, done):
            path = folder / f"{jobs.file_stem(OCTOBER, job.id)}.zip"
            path.write_bytes(b"pack")
            listed = jobs.documents_list_path(job)
            listed.write_text("1\tinvoice 2026-00001\n", encoding="utf-8")
            for each in (path, listed):
                os.utime(each, (old.timestamp(), old.timestamp()))
            paths[job.status] = (path, listed)
        report = remove_old_files(now=now)
        db.session.commit()
    assert not any(path.exists() for path in paths["done"]) and all(path.exists() for path in paths["running"])
    assert [entry.reason for entry in report.kept] == ["its pack job is still queued or running"] * 2
