"""Batch printing (backoffice/printing): merged PDF and ZIP of a period's invoices or declarations, written
atomically, from the service, the CLI and the web (Huey in immediate mode; one test runs the real consumer).

The invoice PDFs are rendered for real at issue and read back with pypdf. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import threading
import time
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from conftest import POSTGRES_URL, csrf_token, login, make_test_app, post_form
from flask import current_app
from pypdf import PdfReader
from sqlalchemy import create_engine, select
from test_declarations import BSN, InvoiceClinic, pdf_text

from backoffice import create_app
from backoffice.documents.pdf import render_invoice
from backoffice.domain.roles import ROLE_PERMISSIONS, Permission, Role
from backoffice.extensions import db
from backoffice.invoicing import services as invoicing
from backoffice.models import AccessLog, CreditNote, Invoice, PrintJob
from backoffice.printing import output, queue, rendering, services, tasks

OCTOBER = (date(2026, 10, 1), date(2026, 10, 31))
PROJECT = Path(__file__).resolve().parent.parent


class October:
    """Three invoices issued in October 2026 for two patients (real PDFs), a credit note for one line, one
    cosmetic-only invoice (nothing to declare) and an invoice issued in November (outside the period)."""

    def __init__(self, patient_without_bsn: bool = False):
        self.clinic = clinic = InvoiceClinic()
        anna = clinic.patient_id
        self.first = clinic.issued(clinic.treatment(day=date(2026, 10, 2)), clinic.treatment(medical=False),
                                   renderer=render_invoice, today=date(2026, 10, 5))
        bas = clinic.second_patient("Bas", "van den Berg", bsn=None if patient_without_bsn else "123456782")
        clinic.patient_id = bas
        self.second = clinic.issued(clinic.treatment(day=date(2026, 10, 9)), renderer=render_invoice,
                                    today=date(2026, 10, 12))
        clinic.patient_id = anna
        self.cosmetic = clinic.issued(clinic.treatment(medical=False, day=date(2026, 10, 20)),
                                      renderer=render_invoice, today=date(2026, 10, 21))
        self.november = clinic.issued(clinic.treatment(day=date(2026, 11, 2)), renderer=render_invoice,
                                      today=date(2026, 11, 3))
        cosmetic_line = db.session.get(Invoice, self.first.id).lines[1]
        credit = invoicing.credit_invoice(db.session.get(Invoice, self.first.id), [cosmetic_line.id],
                                          reason="Dubbel gefactureerd", user=clinic.user, today=date(2026, 10, 25),
                                          renderer=render_invoice)
        db.session.commit()
        # Plain values only: tests use them after this app context has ended.
        self.anna, self.bas, self.user_email = anna, bas, clinic.user.email
        self.invoice_ids = [self.first.id, self.second.id, self.cosmetic.id]
        self.credit_id = credit.id
        self.numbers = [self.first.number, self.second.number, self.cosmetic.number]
        self.november_number = self.november.number


@pytest.fixture
def october(app):
    """October's invoices, with the app context kept open for the service tests (not for web requests: they
    would share its `g`, and with it a stale CSRF token)."""
    with app.app_context():
        yield October()


@pytest.fixture
def october_web(app, users):
    with app.app_context():
        return October()


@pytest.fixture
def immediate_queue(app, tmp_path):
    """Huey runs each task as it is queued, once the request has committed (PRINT_QUEUE_URL=immediate, the
    default of an app built with a test config); files go to a temporary folder."""
    app.config["PRINT_OUTPUT_DIR"] = str(tmp_path / "jobs")
    assert app.config["PRINT_QUEUE_URL"] == "immediate" and tasks.print_queue(app).huey.immediate
    return tmp_path / "jobs"


def batch_entries(detail_fragment: str) -> list[tuple[int, str, str]]:
    return [tuple(row) for row in db.session.execute(
        select(AccessLog.patient_id, AccessLog.action, AccessLog.subject)
        .where(AccessLog.detail.contains(detail_fragment)).order_by(AccessLog.id))]


def page_texts(data: bytes) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages]


# ---- the service ------------------------------------------------------------------------------------------

def test_invoice_batch_merges_the_stored_pdfs_and_zips_them(october, tmp_path):
    invoices = [db.session.get(Invoice, invoice_id) for invoice_id in october.invoice_ids]
    credit = db.session.get(CreditNote, october.credit_id)
    stored = [*(i.pdf for i in invoices), credit.pdf]

    result = services.print_batch("invoices", *OCTOBER, tmp_path)
    db.session.commit()

    assert result.pdf_path == tmp_path / "facturen_2026-10-01_2026-10-31.pdf"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["facturen_2026-10-01_2026-10-31.pdf",
                                                          "facturen_2026-10-01_2026-10-31.zip"]
    merged = result.pdf_path.read_bytes()
    reader = PdfReader(io.BytesIO(merged))
    single_pages = [len(PdfReader(io.BytesIO(pdf)).pages) for pdf in stored]
    assert len(reader.pages) == result.pages == sum(single_pages)
    assert [item.title for item in reader.outline] == [
        "Factuur 2026-00001, Anna de Vries", "Factuur 2026-00002, Bas van den Berg",
        "Factuur 2026-00003, Anna de Vries", "Creditnota C2026-00001, Anna de Vries"]
    # Each document's first page, in order, carries its own number and patient; November is not there.
    texts = page_texts(merged)
    starts = [sum(single_pages[:i]) for i in range(len(stored))]
    for start, number, name in zip(starts, [*october.numbers, "C2026-00001"],
                                   ["Anna de Vries", "Bas van den Berg", "Anna de Vries", "Anna de Vries"],
                                   strict=True):
        assert number in texts[start] and name in texts[start], texts[start]
    assert "Factuur" in texts[0] and "Creditnota" in texts[starts[3]]
    assert october.november_number not in " ".join(texts)

    with zipfile.ZipFile(result.zip_path) as archive:
        assert archive.namelist() == [
            "factuur-2026-00001-anna-de-vries.pdf", "factuur-2026-00002-bas-van-den-berg.pdf",
            "factuur-2026-00003-anna-de-vries.pdf", "creditnota-C2026-00001-anna-de-vries.pdf"]
        # The exact bytes stored at issue: their SHA-256 is the one on record.
        assert [hashlib.sha256(archive.read(name)).hexdigest() for name in archive.namelist()] == [
            *(i.pdf_sha256 for i in invoices), credit.pdf_sha256]
        assert archive.getinfo("factuur-2026-00002-bas-van-den-berg.pdf").date_time[:3] == (2026, 10, 12)

    assert batch_entries("batch print") == [
        (october.anna, "print", "invoice 2026-00001"), (october.bas, "print", "invoice 2026-00002"),
        (october.anna, "print", "invoice 2026-00003"), (october.anna, "print", "credit note C2026-00001")]


def test_declaration_batch_renders_in_worker_processes(app, tmp_path):
    with app.app_context():
        october = October()
        progress = []
        result = services.print_batch("declarations", *OCTOBER, tmp_path, workers=2,
                                      progress=lambda done, total: progress.append((done, total)))
        db.session.commit()

        # Anna's first invoice (its cosmetic line is credited) and Bas's; the cosmetic-only invoice has nothing
        # to declare and November lies outside the period.
        assert result.count == 2 and result.skipped == []
        assert progress[0] == (0, 2) and progress[-1] == (2, 2)
        text = pdf_text(result.pdf_path.read_bytes())
        assert text.count("Declaratie / verklaring zorgverlener") >= 2
        for expected in ("Factuurnummer", "2026-00001", "2026-00002", "Anna de Vries", "Bas van den Berg",
                         f"BSN {BSN}", "BSN 123456782", "KP-nummer KP-20431", "Handtekening"):
            assert expected in text, expected
        assert "2026-00003" not in text and october.november_number not in text
        with zipfile.ZipFile(result.zip_path) as archive:
            assert archive.namelist() == ["declaratie-2026-00001-anna-de-vries.pdf",
                                          "declaratie-2026-00002-bas-van-den-berg.pdf"]
            single = pdf_text(archive.read("declaratie-2026-00002-bas-van-den-berg.pdf"))
            assert "Bas van den Berg" in single and "Anna de Vries" not in single
        assert batch_entries("batch print") == [(october.anna, "print", "declaration 2026-00001"),
                                                (october.bas, "print", "declaration 2026-00002")]
        assert not any(BSN in entry for entry in db.session.scalars(select(AccessLog.detail)))


def test_a_declaration_with_missing_data_is_left_out_and_named(app, tmp_path):
    with app.app_context():
        october = October(patient_without_bsn=True)
        result = services.print_batch("declarations", *OCTOBER, tmp_path, workers=0)
        db.session.commit()
        assert [subject for _, subject in result.entries] == ["declaration 2026-00001"]
        assert result.skipped == ["2026-00002: De declaratie kan niet worden afgedrukt: ontbreekt BSN cliënt "
                                  "(verplicht bij het sturen van zorggegevens naar een verzekeraar)."]
        assert batch_entries("batch print") == [(october.anna, "print", "declaration 2026-00001")]


def test_nothing_to_print_is_an_error_and_writes_nothing(october, tmp_path):
    with pytest.raises(services.BatchError, match="Niets af te drukken: geen uitgegeven facturen of creditnota's "
                                                  "tussen 01-09-2026 en 30-09-2026"):
        services.print_batch("invoices", date(2026, 9, 1), date(2026, 9, 30), tmp_path)
    with pytest.raises(services.BatchError, match="end date lies before"):
        services.print_batch("invoices", date(2026, 10, 31), date(2026, 10, 1), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_failure_while_writing_leaves_no_file_and_no_log_entry(october, tmp_path, monkeypatch):
    def disk_full(documents, target):
        target.write(b"PK half an archive")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(output, "write_zip", disk_full)
    with pytest.raises(OSError, match="No space left"):
        services.print_batch("invoices", *OCTOBER, tmp_path)
    db.session.rollback()
    assert list(tmp_path.iterdir()) == []  # neither the merged PDF nor any temporary file
    assert batch_entries("batch print") == []


def test_atomic_files_never_leave_an_incomplete_set(tmp_path, monkeypatch):
    pdf, archive = tmp_path / "a.pdf", tmp_path / "a.zip"
    with output.atomic_files(pdf, archive) as (first, second):
        first.write(b"one")
        second.write(b"two")
    assert (pdf.read_bytes(), archive.read_bytes()) == (b"one", b"two")

    real_replace = os.replace
    calls = []

    def second_rename_fails(source, target):
        calls.append(target)
        if len(calls) == 2:
            raise OSError("rename failed")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", second_rename_fails)
    other_pdf, other_zip = tmp_path / "b.pdf", tmp_path / "b.zip"
    with pytest.raises(OSError, match="rename failed"), output.atomic_files(other_pdf, other_zip) as (first, second):
        first.write(b"new")
        second.write(b"new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pdf", "a.zip"]


def test_zip_names_are_safe_and_unique():
    assert output.slug("Anna van der Berg-Öztürk") == "anna-van-der-berg-ozturk"
    assert output.slug("../../etc") == "etc"
    assert output.unique_names(["a.pdf", "b.pdf", "a.pdf", "a.pdf"]) == ["a.pdf", "b.pdf", "a-2.pdf", "a-3.pdf"]


def test_render_pool_keeps_the_order_and_reports_progress():
    app = make_test_app("sqlite")  # the database only provides the documents: one backend is enough
    with app.app_context():
        db.create_all()
        clinic = InvoiceClinic()
        invoices = [clinic.issued(clinic.treatment(day=date(2026, 10, day))) for day in (1, 2, 3)]
        docs = [invoicing.invoice_document(invoice) for invoice in invoices]
    done = []
    pdfs = list(rendering.render_all("invoice", iter(docs), workers=2, on_rendered=done.append))
    assert done == [1, 2, 3]
    assert [number in pdf_text(pdf) for number, pdf in zip(["2026-00001", "2026-00002", "2026-00003"], pdfs,
                                                          strict=True)] == [True, True, True]
    assert pdfs == [render_invoice(doc) for doc in docs]  # same data, same bytes, in any process


# ---- command line -----------------------------------------------------------------------------------------

def test_cli_writes_the_pdf_and_the_zip(app, october, tmp_path):
    out = tmp_path / "out"
    result = app.test_cli_runner().invoke(args=[
        "documents", "print", "--from", "2026-10-01", "--to", "2026-10-31", "--kind", "invoices", "--out", str(out),
        "--user", october.user_email])
    assert result.exit_code == 0, result.output + result.stderr
    assert "4 documents" in result.stdout
    assert str(out / "facturen_2026-10-01_2026-10-31.pdf") in result.stdout
    assert "Printing invoices and credit notes 01-10-2026 t/m 31-10-2026" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["facturen_2026-10-01_2026-10-31.pdf",
                                                     "facturen_2026-10-01_2026-10-31.zip"]
    entries = db.session.execute(select(AccessLog.user_email, AccessLog.subject).where(
        AccessLog.detail == "batch print: invoices and credit notes 01-10-2026 t/m 31-10-2026, command line")).all()
    assert len(entries) == 4 and {email for email, _ in entries} == {october.user_email}


def test_cli_errors_and_exit_codes(app, tmp_path):
    runner = app.test_cli_runner()

    def run(*args):
        return runner.invoke(args=["documents", "print", "--out", str(tmp_path), *args])

    with app.app_context():
        October(patient_without_bsn=True)
    empty = run("--from", "2026-09-01", "--to", "2026-09-30", "--kind", "invoices")
    assert empty.exit_code == 1 and "Niets af te drukken" in empty.stderr  # the command line is Dutch
    backwards = run("--from", "2026-10-31", "--to", "2026-10-01", "--kind", "invoices")
    assert backwards.exit_code == 2 and "end date lies before the start date" in backwards.stderr
    assert run("--from", "2026-10-01", "--to", "2026-10-31", "--kind", "receipts").exit_code == 2
    assert run("--from", "1-10-2026", "--to", "2026-10-31", "--kind", "invoices").exit_code == 2
    nobody = run("--from", "2026-10-01", "--to", "2026-10-31", "--kind", "invoices", "--user", "x@y.nl")
    assert nobody.exit_code == 2 and "no user with e-mail x@y.nl" in nobody.stderr
    assert list(tmp_path.iterdir()) == []
    # Declarations: one printed, one left out for missing data: written, but exit 3 and the reason on stderr.
    partial = run("--from", "2026-10-01", "--to", "2026-10-31", "--kind", "declarations", "--workers", "0")
    assert partial.exit_code == 3, partial.output + partial.stderr
    assert "1 documents" in partial.stdout
    assert "left out: 2026-00002: De declaratie kan niet worden afgedrukt" in partial.stderr
    assert (tmp_path / "declaraties_2026-10-01_2026-10-31.zip").is_file()


# ---- web ----------------------------------------------------------------------------------------------------

def start_job(client, kind="invoices", start="2026-10-01", end="2026-10-31"):
    return post_form(client, "/printing/", {"kind": kind, "date_from": start, "date_to": end})


def test_web_job_runs_to_done_and_offers_the_downloads(app, as_role, october_web, immediate_queue):
    october = october_web
    client = as_role("manager")
    page = client.get("/printing/")
    assert page.status_code == 200 and b"Batch printing" in page.data and b"No print jobs yet" in page.data
    assert b'href="/printing/">Batch print</a>' in page.data  # the nav entry

    response = start_job(client)
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        job_id = db.session.scalars(select(PrintJob.id)).one()
    assert response.headers["Location"] == f"/printing/jobs/{job_id}"

    status = client.get(f"/printing/jobs/{job_id}/status").get_json()
    assert status == {"id": job_id, "status": "done", "done": 4, "total": 4, "percent": 100, "error": "",
                      "pdf_url": f"/printing/jobs/{job_id}/download.pdf",
                      "zip_url": f"/printing/jobs/{job_id}/download.zip"}
    html = client.get(f"/printing/jobs/{job_id}").get_data(as_text=True)
    assert "Download PDF" in html and "Download ZIP" in html and "progress.js" not in html  # no polling when done
    with app.app_context():
        job = db.session.get(PrintJob, job_id)
        assert (job.requested_by.email, job.document_count, job.started_at is not None) == ("manager@test.nl", 4,
                                                                                             True)
    assert sorted(p.name for p in immediate_queue.iterdir()) == [
        f"facturen_2026-10-01_2026-10-31_job{job_id}.pdf", f"facturen_2026-10-01_2026-10-31_job{job_id}.zip"]

    download = client.get(f"/printing/jobs/{job_id}/download.pdf")
    assert download.status_code == 200 and download.mimetype == "application/pdf"
    assert "filename=facturen_2026-10-01_2026-10-31.pdf" in download.headers["Content-Disposition"]
    assert download.headers["Cache-Control"] == "no-store"
    merged = download.get_data()
    download.close()
    assert all(number in pdf_text(merged) for number in october.numbers)
    archive_response = client.get(f"/printing/jobs/{job_id}/download.zip")
    with zipfile.ZipFile(io.BytesIO(archive_response.get_data())) as archive:
        assert len(archive.namelist()) == 4
    archive_response.close()

    with app.app_context():
        logged = db.session.execute(
            select(AccessLog.user_email, AccessLog.action, AccessLog.patient_id)
            .where(AccessLog.detail.contains(f"print job {job_id}")).order_by(AccessLog.id)).all()
    printed = [row for row in logged if row.action == "print"]
    exported = [row for row in logged if row.action == "export"]
    assert len(printed) == 4 and {row.user_email for row in printed} == {"manager@test.nl"}
    assert len(exported) == 8  # each download: one entry per document in the file
    assert sorted({row.patient_id for row in exported}) == sorted({october.anna, october.bas})

    listing = client.get("/printing/").get_data(as_text=True)
    assert f'href="/printing/jobs/{job_id}"' in listing and 'data-status="done"' in listing


def test_a_job_is_queued_only_after_the_request_has_committed_it(app, as_role, october_web, immediate_queue,
                                                                 monkeypatch):
    """The worker runs in another process and must find the job stored: the view hands it to the queue from
    unit_of_work.after_commit, when no transaction is open and another connection sees the row."""
    seen = []

    def enqueue(job_id):
        in_transaction = db.session().in_transaction()
        with db.engine.connect() as other:  # on PostgreSQL a second connection: it sees committed rows only
            status = other.execute(select(PrintJob.status).where(PrintJob.id == job_id)).scalar()
        seen.append((job_id, in_transaction, status))

    monkeypatch.setattr(tasks, "enqueue", enqueue)
    response = start_job(as_role("admin"))
    assert response.status_code == 302
    job_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert seen == [(job_id, False, "queued")]


def test_a_request_that_fails_after_asking_for_a_job_queues_nothing(app, as_role, october_web, immediate_queue,
                                                                    monkeypatch):
    queued = []
    monkeypatch.setattr(tasks, "enqueue", queued.append)

    def broken_url_for(*args, **kwargs):
        raise RuntimeError("after the job was flushed and its queueing registered")

    monkeypatch.setattr("backoffice.printing.views.url_for", broken_url_for)
    client = as_role("admin")
    with pytest.raises(RuntimeError, match="queueing registered"):  # tests propagate errors (TESTING)
        start_job(client)
    assert queued == []
    with app.app_context():
        assert db.session.scalars(select(PrintJob)).all() == []


def queued_job(app, kind="declarations") -> int:
    with app.app_context():
        job = services.request_job(kind, *OCTOBER)
        db.session.commit()
        return job.id


def test_a_queued_job_page_polls_its_status(app, as_role, october_web, immediate_queue):
    job_id = queued_job(app)
    client = as_role("therapist")
    html = client.get(f"/printing/jobs/{job_id}").get_data(as_text=True)
    assert 'src="/printing/progress.js"' in html and f'data-status-url="/printing/jobs/{job_id}/status"' in html
    assert "Waiting for the print worker" in html
    script = client.get("/printing/progress.js")
    assert script.status_code == 200 and script.mimetype == "text/javascript" and b"fetch(url" in script.data
    assert client.get(f"/printing/jobs/{job_id}/status").get_json()["status"] == "queued"
    not_yet = client.get(f"/printing/jobs/{job_id}/download.pdf")
    assert not_yet.status_code == 302 and not_yet.headers["Location"] == f"/printing/jobs/{job_id}"
    assert "This print job has no files (yet)." in client.get(not_yet.headers["Location"]).get_data(as_text=True)


def test_form_errors_are_shown_and_start_no_job(app, as_role, october_web, immediate_queue):
    client = as_role("therapist")
    missing = post_form(client, "/printing/", {"kind": "invoices", "date_from": "", "date_to": ""})
    assert missing.status_code == 200
    assert b"Enter the first day of the period." in missing.data and b"Enter the last day" in missing.data
    backwards = start_job(client, start="2026-10-31", end="2026-10-01")
    assert b"The end date lies before the start date." in backwards.data
    too_long = start_job(client, start="2025-01-01", end="2026-10-31")
    assert b"A batch covers at most 366 days" in too_long.data
    empty = start_job(client, kind="declarations", start="2026-09-01", end="2026-09-30")
    assert b"Nothing to print: no issued invoices with reimbursable lines" in empty.data
    unknown = start_job(client, kind="receipts")
    assert unknown.status_code == 200 and b"Not a valid choice" in unknown.data
    no_token = client.post("/printing/", data={"kind": "invoices", "date_from": "2026-10-01",
                                               "date_to": "2026-10-31"})
    assert no_token.status_code == 400
    with app.app_context():
        assert db.session.scalars(select(PrintJob)).all() == []


def test_a_failing_job_is_marked_failed_with_its_reason(app, as_role, october_web, immediate_queue, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("printer on fire")

    monkeypatch.setattr(services, "write_batch", broken)
    client = as_role("admin")
    response = start_job(client)
    assert response.status_code == 302
    job_id = int(response.headers["Location"].rsplit("/", 1)[1])
    status = client.get(f"/printing/jobs/{job_id}/status").get_json()
    assert status["status"] == "failed" and status["pdf_url"] is None
    assert status["error"] == "Printing failed (RuntimeError); the server log has the details."
    page = client.get(f"/printing/jobs/{job_id}").get_data(as_text=True)
    assert "the server log has the details" in page and "printer on fire" not in page
    assert not immediate_queue.exists() or list(immediate_queue.iterdir()) == []
    with app.app_context():
        assert batch_entries("batch print") == []


def test_printing_routes_need_the_print_permission(app, client, users, october_web, monkeypatch):
    job_id = queued_job(app, "invoices")
    urls = ["/printing/", f"/printing/jobs/{job_id}", f"/printing/jobs/{job_id}/status",
            f"/printing/jobs/{job_id}/download.pdf", f"/printing/jobs/{job_id}/download.zip", "/printing/progress.js"]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login"), url
    assert all(Permission.DOCUMENTS_PRINT in ROLE_PERMISSIONS[role] for role in Role)

    without = {**ROLE_PERMISSIONS, Role.MANAGER: ROLE_PERMISSIONS[Role.MANAGER] - {Permission.DOCUMENTS_PRINT}}
    monkeypatch.setattr("backoffice.domain.roles.ROLE_PERMISSIONS", without)
    login(client, users["manager"])
    for url in urls:
        assert client.get(url).status_code == 403, url
    token = csrf_token(client, "/patients/")
    refused = client.post("/printing/", data={"kind": "invoices", "date_from": "2026-10-01",
                                              "date_to": "2026-10-31", "csrf_token": token})
    assert refused.status_code == 403
    assert "/printing/" not in client.get("/").get_data(as_text=True)  # no nav entry either
    with app.app_context():
        assert db.session.scalars(select(PrintJob.id)).all() == [job_id]


# ---- the queue ----------------------------------------------------------------------------------------------

def test_queue_configuration(tmp_path):
    queue_file = tmp_path / "queues" / "print.sqlite3"
    huey = queue.make_huey(f"sqlite:///{queue_file}")
    assert not queue_file.exists()  # created on first use, not at import
    huey.enqueue(huey.task()(lambda: None).s())
    assert queue_file.is_file() and len(huey) == 1
    assert queue.make_huey("immediate").immediate is True
    with pytest.raises(queue.QueueConfigError, match="PRINT_QUEUE_URL must be"):
        queue.make_huey("amqp://rabbit/")
    with pytest.raises(queue.QueueConfigError, match="needs a file path"):
        queue.make_huey("sqlite://")


def test_queue_on_postgresql(postgres_schema):
    huey = queue.make_huey(f"{POSTGRES_URL}?options=-csearch_path%3D{postgres_schema}")
    task = huey.task()(lambda: None)
    huey.enqueue(task.s())
    assert len(huey) == 1 and huey.dequeue() is not None and len(huey) == 0
    huey.storage.close()


def test_processes_starting_together_on_a_new_queue_schema_all_start(postgres_schema):
    """Two app servers and a worker started at the same moment each create the queue's tables; PostgreSQL's
    CREATE TABLE IF NOT EXISTS collides between them (a duplicate key in pg_type), and one server failed to boot.
    Six at once, twice over, on a fresh schema each time: every one gets a working queue."""
    url = f"{POSTGRES_URL}?options=-csearch_path%3D{postgres_schema}"
    for round_ in range(2):
        if round_:  # the schema new again
            engine = create_engine(POSTGRES_URL)
            with engine.begin() as connection:
                connection.exec_driver_sql(f'DROP SCHEMA "{postgres_schema}" CASCADE')
                connection.exec_driver_sql(f'CREATE SCHEMA "{postgres_schema}"')
            engine.dispose()
        start = threading.Barrier(6)
        made: list = []
        failed: list[Exception] = []

        def make(start: threading.Barrier, made: list, failed: list[Exception]) -> None:
            start.wait()
            try:
                made.append(queue.make_huey(url))
            except Exception as error:  # noqa: BLE001 - the test reports it
                failed.append(error)

        threads = [threading.Thread(target=make, args=(start, made, failed)) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failed and len(made) == 6
        for huey in made:
            assert huey.pending_count() == 0
            huey.storage.close()


def test_the_real_consumer_runs_a_queued_job(tmp_path):
    """What `make run` starts: huey_consumer on the default SQLite queue in the instance folder, in its own
    process, picking up a job that another process (the web server) queued."""
    instance, database = tmp_path / "instance", tmp_path / "clinic.sqlite3"
    env = {**os.environ, "BACKOFFICE_INSTANCE_PATH": str(instance), "DATABASE_URL": f"sqlite:///{database}",
           "PRINT_QUEUE_URL": "", "PRINT_WORKERS": "0", "SECRET_KEY": "x" * 40}
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}", "SECRET_KEY": "x" * 40})
    with app.app_context():
        db.create_all()
        October()
        job_id = services.request_job("invoices", *OCTOBER).id
        db.session.commit()
        db.session.remove()
        db.engine.dispose()

    def python(*args, **kwargs):
        return subprocess.Popen([sys.executable, *args], cwd=PROJECT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, **kwargs)

    enqueue = ("from backoffice import create_app; from backoffice.printing import tasks\n"
               f"with create_app().app_context(): tasks.enqueue({job_id})")
    web = subprocess.run([sys.executable, "-c", enqueue], cwd=PROJECT, env=env, capture_output=True, text=True,
                         timeout=60)
    assert web.returncode == 0, web.stderr
    assert (instance / "print_queue.sqlite3").is_file()

    consumer = python("-m", "huey.bin.huey_consumer", "backoffice.printing.tasks.huey", "-w", "1")
    try:
        deadline = time.monotonic() + 60
        status = "queued"
        while time.monotonic() < deadline and status in ("queued", "running"):
            time.sleep(0.3)
            with app.app_context():
                status = db.session.get(PrintJob, job_id).status
                db.session.remove()
    finally:
        consumer.terminate()
        log = consumer.communicate(timeout=30)[0].decode()
    with app.app_context():
        job = db.session.get(PrintJob, job_id)
        assert (job.status, job.done_count, job.total_count, job.error) == ("done", 4, 4, ""), log
        assert (instance / "print_jobs" / job.pdf_path).is_file()
        db.session.remove()
        db.engine.dispose()


# ---- stale jobs: the worker stopped -----------------------------------------------------------------------

def aged_job(kind="invoices", status="running", age=700, progress_age=None) -> int:
    """A job queued (and started) `age` seconds ago, as a worker that stopped leaves it; with `progress_age`
    its worker last showed progress that many seconds ago. Call inside an app context."""
    now = datetime.now(UTC)
    job = services.request_job(kind, *OCTOBER)
    job.status, job.created_at = status, now - timedelta(seconds=age)
    if status == "running":
        job.started_at = now - timedelta(seconds=age)
    if progress_age is not None:
        job.progress_at = now - timedelta(seconds=progress_age)
    db.session.commit()
    return job.id


def statuses(*job_ids: int) -> list[str]:
    db.session.expire_all()
    return [db.session.get(PrintJob, job_id).status for job_id in job_ids]


def test_a_job_without_progress_is_shown_failed_and_printed_again(app, as_role, october_web, immediate_queue):
    with app.app_context():
        stopped = aged_job()
        alive = aged_job(progress_age=30)  # started long ago, but its worker still makes progress
        recent = aged_job(age=30)
    client = as_role("manager")
    status = client.get(f"/printing/jobs/{stopped}/status").get_json()
    assert (status["status"], status["error"], status["pdf_url"]) == ("failed", services.STALE_ERROR, None)
    assert "The print worker stopped" in services.STALE_ERROR and "start it again" in services.STALE_ERROR
    with app.app_context():
        assert statuses(stopped, alive, recent) == ["failed", "running", "running"]
        assert db.session.get(PrintJob, stopped).finished_at is not None

    page = client.get(f"/printing/jobs/{stopped}").get_data(as_text=True)
    assert "The print worker stopped before this job was finished" in page and "progress.js" not in page
    assert f'action="/printing/jobs/{stopped}/again"' in page and "Print again" in page
    listing = client.get("/printing/").get_data(as_text=True)
    assert listing.count('data-status="failed"') == 1 and "The print worker stopped" in listing
    assert listing.count("/again") == 1  # only the failed job offers it

    assert client.post(f"/printing/jobs/{stopped}/again").status_code == 400  # no CSRF token
    again = post_form(client, f"/printing/jobs/{stopped}/again", {}, token_from=f"/printing/jobs/{stopped}")
    assert again.status_code == 302
    new = int(again.headers["Location"].rsplit("/", 1)[1])
    assert new not in (stopped, alive, recent)
    with app.app_context():
        job = db.session.get(PrintJob, new)
        assert (job.kind, job.period_start, job.period_end, job.status, job.document_count) == (
            "invoices", *OCTOBER, "done", 4)  # immediate mode: run at once
        assert job.requested_by.email == "manager@test.nl"
        assert statuses(stopped) == ["failed"]
    assert f"Printing again as job {new}" in client.get(again.headers["Location"]).get_data(as_text=True)


def test_print_again_of_an_empty_period_starts_nothing(app, as_role, users, immediate_queue):
    with app.app_context():
        job = services.request_job("declarations", date(2026, 9, 1), date(2026, 9, 30))
        job.status, job.error = "failed", services.STALE_ERROR
        db.session.commit()
        job_id = job.id
    stranger = app.test_client()
    anonymous = stranger.post(f"/printing/jobs/{job_id}/again", data={"csrf_token": csrf_token(stranger)})
    assert anonymous.status_code == 401  # signed out: refused
    client = as_role("therapist")
    response = post_form(client, f"/printing/jobs/{job_id}/again", {}, token_from=f"/printing/jobs/{job_id}")
    assert response.status_code == 302 and response.headers["Location"] == f"/printing/jobs/{job_id}"
    assert "Nothing to print" in client.get(response.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(PrintJob.id)).all() == [job_id]


def test_queued_jobs_fail_only_when_no_worker_makes_progress(october, tmp_path):
    current_app.config["PRINT_OUTPUT_DIR"] = str(tmp_path)
    current_app.config["PRINT_JOB_STALE_SECONDS"] = 60
    waiting = aged_job(status="queued", age=120)
    busy = aged_job(age=120, progress_age=10)  # a long job, still progressing: the queued one waits for it
    assert services.fail_stale_jobs() == []
    assert statuses(waiting, busy) == ["queued", "running"]

    job = db.session.get(PrintJob, busy)
    job.progress_at = datetime.now(UTC) - timedelta(seconds=90)  # its worker stopped 90 s ago
    db.session.commit()
    assert services.fail_stale_jobs(include_queued=False) == [busy]
    db.session.commit()
    assert statuses(waiting, busy) == ["queued", "failed"]
    assert services.fail_stale_jobs() == [waiting]  # no worker progresses: nobody will run it
    db.session.commit()
    assert statuses(waiting) == ["failed"]
    assert db.session.get(PrintJob, waiting).error == services.STALE_ERROR
    assert services.run_job(waiting).status == "failed"  # a task arriving late leaves it failed

    current_app.config["PRINT_JOB_STALE_SECONDS"] = 600
    assert services.fail_stale_jobs() == [] and statuses(aged_job(age=300)) == ["running"]


def test_a_queued_job_of_any_kind_waits_while_the_worker_progresses_on_another_kind(october, tmp_path):
    """One worker runs print jobs, bulk invoicing runs and month-end packs (printing/services.py: fail_stale): a
    pack queued behind a print job that still progresses waits; once nothing progresses, it is failed too."""
    from backoffice.models import PackJob
    from backoffice.reporting import jobs as pack_jobs

    current_app.config["PRINT_OUTPUT_DIR"] = str(tmp_path)
    current_app.config["PRINT_JOB_STALE_SECONDS"] = 60
    pack = PackJob(month=date(2026, 10, 1), status="queued", created_at=datetime.now(UTC) - timedelta(seconds=120))
    db.session.add(pack)
    db.session.commit()
    busy = aged_job(age=120, progress_age=10)
    assert pack_jobs.fail_stale_jobs() == [] and db.session.get(PackJob, pack.id).status == "queued"

    db.session.get(PrintJob, busy).progress_at = datetime.now(UTC) - timedelta(seconds=90)
    db.session.commit()
    assert services.fail_stale_jobs(include_queued=False) == [busy]
    assert pack_jobs.fail_stale_jobs() == [pack.id]
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(PackJob, pack.id).status == "failed"
    assert db.session.get(PackJob, pack.id).error == pack_jobs.STALE_ERROR


def test_the_worker_records_when_it_last_made_progress(october, tmp_path, monkeypatch):
    current_app.config["PRINT_OUTPUT_DIR"] = str(tmp_path)
    job_id = services.request_job("invoices", *OCTOBER).id
    db.session.commit()
    seen = []
    real_write = services.write_batch

    def write(*args, **kwargs):
        job = db.session.get(PrintJob, job_id)
        seen.append((job.done_count, job.progress_at is not None and job.progress_at >= job.started_at))
        return real_write(*args, **kwargs)

    monkeypatch.setattr(services, "write_batch", write)
    assert services.run_job(job_id).status == "done"
    assert seen == [(4, True)]  # the progress was committed with its time before the files were written


def test_the_consumer_start_fails_stale_running_jobs(october, tmp_path):
    current_app.config["PRINT_OUTPUT_DIR"] = str(tmp_path)
    stopped, queued = aged_job(), aged_job(status="queued")
    print_queue = tasks.print_queue()
    assert print_queue.huey._startup["fail_stale_jobs"] is print_queue.fail_stale_jobs  # huey_consumer calls it
    print_queue.fail_stale_jobs()
    # The running job's worker is gone; the queued one is about to be run by the consumer that just started.
    assert statuses(stopped, queued) == ["failed", "queued"]
