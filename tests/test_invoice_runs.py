"""Bulk invoicing (backoffice/invoice_runs/): one invoice per patient in one go, what is left out and why, gapless
numbers when a patient fails, the background path on the print queue (Huey in immediate mode) with the e-mails
sent afterwards (outbox backend), and the pages. PDFs are stubs here (tests/factories.stub_renderer); the real
renderer in the print pool is what bench/bulk_invoicing.py measures. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

import factories
import pytest
from conftest import create_user, login, post_form
from sqlalchemy import func, select

from backoffice.care.services import set_scoping
from backoffice.clock import clinic_today, utc_now
from backoffice.documents.data import InvoiceDocument
from backoffice.domain.texts import Text, english
from backoffice.extensions import db
from backoffice.i18n import dutch
from backoffice.invoice_runs import services
from backoffice.invoicing import documents as invoice_documents
from backoffice.models import (
    AccessLog,
    DocumentSending,
    Invoice,
    InvoiceRun,
    NumberSeries,
    Patient,
    Therapist,
    Treatment,
    User,
)
from backoffice.models import Practice as PracticeRow
from backoffice.printing import rendering, tasks

DAY = date(2026, 11, 24)
UP_TO = date(2026, 11, 10)


class Practice:
    """A practice with a credentialed therapist, a reimbursable laser and an admin; patients are added by name
    (they sort by last name, which is the order of the invoice numbers). Keeps ids."""

    def __init__(self, admin_email: str = factories.ADMIN_EMAIL):
        factories.practice()
        user = factories.existing_user(admin_email) or factories.user(admin_email, role="admin")
        self.user_id, self.therapist_id = user.id, factories.therapist().id
        self.laser_id = factories.catalogue_item("FRAC-SCAR", "Fractional laser, acne scars").id

    @property
    def user(self) -> User:
        return db.session.get_one(User, self.user_id)

    def patient(self, last: str, first: str, *days: date, **changes) -> tuple[int, list[int]]:
        patient = factories.patient(last, first, **changes)
        ids = [factories.treatment(patient.id, self.therapist_id, self.laser_id, day).id for day in days]
        return patient.id, ids


def fails_for(name: str):
    """A stub renderer that fails for one patient's document (a PDF that cannot be made)."""

    def render(doc: InvoiceDocument) -> bytes:
        if name in doc.patient.name:
            raise RuntimeError("renderer broke")
        return factories.stub_renderer(doc)

    return render


def numbers_by_patient() -> dict[int, str]:
    rows = db.session.execute(select(Invoice.patient_id, Invoice.number).where(Invoice.status == "issued")).all()
    return {row.patient_id: row.number for row in rows}


def reasons(run: InvoiceRun) -> dict[int, list[str]]:
    """The reasons per patient in English (the message ids; shown in the reader's language)."""
    found: dict[int, list[str]] = {}
    for entry in run.left_out:
        found.setdefault(entry["patient_id"], []).append(english(Text.from_json(entry["reason"])))
    return found


# ---- the service ----------------------------------------------------------------------------------------

def test_background_run_issues_one_invoice_per_patient_and_says_what_it_left_out(app):
    app.config["BULK_INVOICE_CHUNK"] = 2  # three chunks, each committed: the failing PDF falls in the second
    with app.app_context():
        clinic = Practice()
        anna, (a1, a2, a_later) = clinic.patient("Aalders", "Anna", date(2026, 11, 2), date(2026, 11, 5),
                                                 date(2026, 11, 20))
        bas, _ = clinic.patient("Bakker", "Bas", date(2026, 11, 3), street="")  # no street: cannot be issued
        carla, (c1, c2) = clinic.patient("Claes", "Carla", date(2026, 11, 4), date(2026, 11, 6))
        draft = factories.draft_invoice(carla, [c1], clinic.user).id
        daan, _ = clinic.patient("Dekker", "Daan", date(2026, 11, 7))
        withdrawn = factories.treatment(daan, clinic.therapist_id, clinic.laser_id, date(2026, 11, 8),
                                        withdrawn_at=utc_now(), withdrawn_reason="Dubbel ingevoerd").id
        eva, _ = clinic.patient("Eijk", "Eva", date(2026, 11, 9))
        fleur, _ = clinic.patient("Fransen", "Fleur", date(2026, 11, 10))
        db.session.commit()
        run_id = services.request_run(services.Selection(up_to=UP_TO), user=clinic.user).id
        db.session.commit()

        services.execute(run_id, renderer=fails_for("Eva"), today=DAY)
        db.session.remove()  # what follows is read back as committed

        run = db.session.get(InvoiceRun, run_id)
        assert (run.status, run.total_count, run.done_count, run.invoice_count) == ("done", 6, 6, 3)
        # One invoice each for Anna, Daan and Fleur, numbered in name order without a gap where Eva's PDF failed.
        assert numbers_by_patient() == {anna: "2026-00001", daan: "2026-00002", fleur: "2026-00003"}
        assert db.session.get(NumberSeries, "invoice-2026").next_value == 4
        invoices = db.session.scalars(select(Invoice).where(Invoice.id.in_(run.invoice_ids))
                                      .order_by(Invoice.sequence)).all()
        assert [invoice.issue_date for invoice in invoices] == [DAY] * 3
        assert [[line.treatment_id for line in invoice.lines] for invoice in invoices][0] == [a1, a2]
        assert withdrawn not in [line.treatment_id for invoice in invoices for line in invoice.lines]
        for invoice in invoices:
            assert invoice.pdf.startswith(b"%PDF-stub invoice " + invoice.number.encode())
            assert invoice.pdf_sha256 == hashlib.sha256(invoice.pdf).hexdigest()
        assert run.total_gross_cents == sum(invoice.total_gross_cents for invoice in invoices) == 4 * 17_500
        # What was left out, and why, per patient; nothing of theirs was kept (no draft, no number).
        assert reasons(run) == {
            bas: ["Cannot issue: missing patient street."],
            carla: [f"This patient has a draft invoice (#{draft}): issue or delete that draft first, then "
                    "invoice the rest."],
            eva: ["The PDF could not be made (RuntimeError): nothing was issued for this patient."],
        }
        with dutch():  # outside a request, and on a Dutch user's page: Dutch
            assert services.reason_text(run.left_out[1]) == "Kan niet uitgeven: ontbreekt straat cliënt."
        assert db.session.scalar(select(func.count()).select_from(Invoice).where(Invoice.status == "draft")) == 1
        claimed = {line.treatment_id for invoice in db.session.scalars(select(Invoice)) for line in invoice.lines}
        assert a_later not in claimed and c2 not in claimed
        # The access log as the single-invoice path writes it, in the requester's name.
        entries = db.session.execute(select(AccessLog.action, AccessLog.subject, AccessLog.user_email)
                                     .where(AccessLog.patient_id == anna).order_by(AccessLog.id)).all()
        assert [(action, subject.split(" ")[0]) for action, subject, _ in entries] == [
            ("create", "invoice"), ("create", "invoice"), ("print", "invoice")]
        assert {email for *_, email in entries} == {factories.ADMIN_EMAIL}

        # A second run finds nothing new for Anna up to that day, and Bas after his street is filled in.
        db.session.get(Patient, bas).street = "Laan 9"
        db.session.commit()
        again = services.request_run(services.Selection(up_to=UP_TO), user=clinic.user)
        services.execute(again.id, background=False, renderer=factories.stub_renderer, today=DAY)
        db.session.commit()
        assert numbers_by_patient()[bas] == "2026-00004" and numbers_by_patient()[eva] == "2026-00005"
        assert reasons(db.session.get(InvoiceRun, again.id)) == {carla: [reasons(run)[carla][0]]}
        with pytest.raises(services.RunError, match="elke behandeling tot en met 03-11-2026 staat al op een factuur"):
            services.request_run(services.Selection(up_to=date(2026, 11, 3)), user=clinic.user)


def test_ticked_treatments_invoiced_meanwhile_or_withdrawn_and_a_failing_patient_leave_the_rest(app, monkeypatch):
    with app.app_context():
        clinic = Practice()
        anna, (meanwhile, withdrawn, fine) = clinic.patient("Aalders", "Anna", date(2026, 11, 2),
                                                            date(2026, 11, 3), date(2026, 11, 4))
        bas, (b1,) = clinic.patient("Bakker", "Bas", date(2026, 11, 3))
        carla, (c1,) = clinic.patient("Claes", "Carla", date(2026, 11, 5))
        db.session.commit()
        run_id = services.request_run(services.Selection(treatment_ids=(meanwhile, withdrawn, fine, b1, c1)),
                                      user=clinic.user).id
        db.session.commit()
        # Between asking and running: one treatment is invoiced on its own, another withdrawn.
        factories.issued_invoice(anna, [meanwhile], clinic.user, DAY)
        db.session.get(Treatment, withdrawn).withdrawn_at = utc_now()
        db.session.commit()
        # Bas's document cannot be built after his number is taken: his savepoint gives the number back.
        building = invoice_documents.invoice_document

        def broken_for_bas(invoice, *args, **kwargs):
            if invoice.patient_id == bas:
                raise ValueError("unexpected")
            return building(invoice, *args, **kwargs)

        monkeypatch.setattr(invoice_documents, "invoice_document", broken_for_bas)

        run = services.execute(run_id, background=False, renderer=factories.stub_renderer, today=DAY)
        db.session.commit()

        assert run.status == "done" and run.invoice_count == 2
        assert numbers_by_patient() == {anna: "2026-00002", carla: "2026-00003"}  # 00001 is the one meanwhile
        anna_invoice = db.session.scalar(select(Invoice).where(Invoice.number == "2026-00002"))
        assert [line.treatment_id for line in anna_invoice.lines] == [fine]
        assert reasons(run) == {
            anna: [f"Treatment of 02-11-2026 (#{meanwhile}) is already on invoice 2026-00001.",
                   f"Treatment of 03-11-2026 (#{withdrawn}) was withdrawn: withdrawn treatments are never invoiced."],
            bas: ["Unexpected error (ValueError; the server log has the details): nothing was issued for this "
                  "patient."],
        }
        assert not db.session.scalars(select(Invoice).where(Invoice.patient_id == bas)).all()

        # Runs without a sign of life are failed (the worker stopped), as print jobs are.
        hour_ago = utc_now() - timedelta(hours=1)
        stuck = InvoiceRun(status="running", up_to=UP_TO, created_at=hour_ago, started_at=hour_ago,
                           progress_at=hour_ago)
        db.session.add(stuck)
        db.session.flush()
        assert services.fail_stale_runs() == [stuck.id]
        db.session.refresh(stuck)
        assert stuck.status == "failed" and "worker stopped" in stuck.error
        assert services.in_request(InvoiceRun(total_count=20)) and not services.in_request(InvoiceRun(total_count=21))
        # Chunks last about two seconds (they hold the write locks), whatever the machine's pace.
        assert [services.next_chunk_size(10, seconds) for seconds in (1.0, 100.0, 0.001)] == [20, 8, 100]


# ---- the pages and the queue ---------------------------------------------------------------------------

@pytest.fixture
def queue_and_outbox(app, tmp_path, monkeypatch):
    """Huey runs each task as it is queued once the request has committed; runs of more than one patient go to
    it; e-mails are written to a temporary outbox; the print pool renders stubs in this process."""
    assert tasks.print_queue(app).huey.immediate
    app.config.update(BULK_INVOICE_IN_REQUEST_MAX=1, MAIL_BACKEND="outbox", MAIL_OUTBOX_DIR=str(tmp_path / "outbox"))
    monkeypatch.setenv("PRINT_WORKERS", "0")
    monkeypatch.setattr(rendering, "render_one", lambda kind, doc: factories.stub_renderer(doc))
    return tmp_path / "outbox"


def test_bulk_page_runs_in_the_background_and_sends_the_invoices(app, client, users, queue_and_outbox):
    with app.app_context():
        clinic = Practice(users["admin"])
        today = clinic_today()
        anna, _ = clinic.patient("Aalders", "Anna", today - timedelta(days=3), today - timedelta(days=1),
                                 email="anna@example.nl")
        bas, _ = clinic.patient("Bakker", "Bas", today - timedelta(days=2))  # no e-mail address
        db.session.commit()
    login(client, users["admin"])
    assert client.get("/invoices/new").status_code == 200  # not a 404: choose a patient, or bulk
    page = client.get("/invoices/bulk").get_data(as_text=True)
    assert f'data-patient="{anna}"' in page and "EUR 350,00" in page and "3 treatment(s) of 2 patient(s)" in page
    assert client.post("/invoices/bulk", data={"everything": "1"}).status_code == 400  # no CSRF token
    bad = post_form(client, "/invoices/bulk", {"ticked": "1", "treatment_ids": "１２"})
    assert bad.status_code == 422 and "reload the page" in bad.get_data(as_text=True)

    response = post_form(client, "/invoices/bulk", {"everything": "1", "up_to": today.strftime("%d-%m-%Y"),
                                                    "send_email": "y"})
    assert response.status_code == 302
    run_id = int(response.headers["Location"].rsplit("/", 1)[1])
    status = client.get(f"/invoices/bulk/{run_id}/status").get_json()
    assert (status["status"], status["percent"], status["done"], status["total"]) == ("done", 100, 4, 4)
    shown = client.get(f"/invoices/bulk/{run_id}").get_data(as_text=True)
    # The practice has no sender address yet: Anna's e-mail failed (with the reason), Bas has no address.
    assert "2 invoices issued" in shown and 'data-sending="failed"' in shown and "no sender address" in shown
    assert "No e-mail address: not sent." in shown and 'data-testid="send-again"' in shown
    assert not queue_and_outbox.exists() or not list(queue_and_outbox.glob("*.eml"))

    # Both fixed; the failed and the unsent e-mails are sent again in the background.
    with app.app_context():
        db.session.get(Patient, bas).email = "bas@example.nl"
        db.session.scalar(select(PracticeRow)).email = "info@huidtherapie.nl"
        db.session.commit()
    assert post_form(client, f"/invoices/bulk/{run_id}/send-again", {},
                     token_from=f"/invoices/bulk/{run_id}").status_code == 302
    shown = client.get(f"/invoices/bulk/{run_id}").get_data(as_text=True)
    assert shown.count('data-sending="sent"') == 2 and "No e-mail address" not in shown and "anna@example.nl" in shown
    assert 'data-testid="send-again"' not in shown
    assert len(list(queue_and_outbox.glob("*.eml"))) == 2
    with app.app_context():
        run = db.session.get(InvoiceRun, run_id)
        assert (run.status, run.mail_done_count) == ("done", 2)
        assert sorted(db.session.scalars(select(DocumentSending.attempts))) == [1, 2]  # Anna's: a second try
        assert db.session.scalar(select(func.count()).select_from(AccessLog).where(
            AccessLog.subject == f"invoice run {run_id}")) == 3  # each view of the result, naming its patients
    page = client.get("/invoices/bulk").get_data(as_text=True)
    assert "is on an invoice" in page and f'href="/invoices/bulk/{run_id}"' in page


def test_a_limited_therapist_invoices_only_own_patients_in_the_request(app, client, queue_and_outbox):
    app.config["BULK_INVOICE_IN_REQUEST_MAX"] = 20
    create_user(app, "eva@test.nl", "therapist")
    with app.app_context():
        clinic = Practice()
        db.session.get_one(Therapist, clinic.therapist_id).user_id = factories.existing_user("eva@test.nl").id
        set_scoping(True, clinic.user)
        other = factories.therapist("Noor Bakker", "90054321")
        today = clinic_today()
        mine, (m1,) = clinic.patient("Aalders", "Anna", today)
        theirs = factories.patient("Bakker", "Bas")
        t1 = factories.treatment(theirs.id, other.id, clinic.laser_id, today).id
        db.session.commit()
        theirs_id = theirs.id
    login(client, "eva@test.nl")
    page = client.get("/invoices/bulk").get_data(as_text=True)
    assert f'data-patient="{mine}"' in page and f'data-patient="{theirs_id}"' not in page
    refused = post_form(client, "/invoices/bulk", {"ticked": "1", "treatment_ids": [str(m1), str(t1)]})
    assert refused.status_code == 422 and "not of your patients" in refused.get_data(as_text=True)

    response = post_form(client, "/invoices/bulk", {"ticked": "1", "treatment_ids": str(m1)})
    run_id = int(response.headers["Location"].rsplit("/", 1)[1])
    shown = client.get(f"/invoices/bulk/{run_id}").get_data(as_text=True)
    assert "1 invoice issued" in shown and "Aalders, Anna" in shown
    with app.app_context():
        assert numbers_by_patient() == {mine: f"{today.year}-00001"}
        other_run = InvoiceRun(status="done", up_to=today)
        db.session.add(other_run)
        db.session.commit()
        other_id = other_run.id
    assert client.get(f"/invoices/bulk/{other_id}").status_code == 404  # someone else's run
