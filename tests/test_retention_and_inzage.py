"""Retention (a patient cannot be deleted while invoices must be kept 7 years or the record 20 years after its last
change; beyond that the personal data are erased) and the patient's data export (inzage): admin only, logged."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, date, datetime

import factories
import pytest
from conftest import csrf_token
from sqlalchemy import select

from backoffice import clock
from backoffice.domain.retention import Hold, add_years, document_hold, holding, record_hold
from backoffice.extensions import db
from backoffice.invoicing import services as invoicing
from backoffice.maintenance import retention
from backoffice.models import (
    AccessLog,
    CareAssignment,
    Insurance,
    Intake,
    Invoice,
    InvoiceReminder,
    Patient,
    Treatment,
    User,
)

BSN = "111222333"
DAY = date(2026, 11, 10)
MOMENT = datetime(2026, 11, 10, 10, 0, tzinfo=UTC)


@pytest.fixture
def clinic(app, users):
    """A patient with an intake, an insurance, a referral, an invoiced and an uninvoiced treatment, an issued
    invoice with a payment and a credit note; recorded on 10 November 2026."""
    with app.app_context(), clock.freeze(MOMENT):
        admin = db.session.scalars(select(User).where(User.email == users["admin"])).one()
        factories.practice()
        therapist = factories.therapist()
        insurer = factories.insurer()
        item = factories.catalogue_item()
        patient = factories.patient(bsn=BSN)
        factories.intake(patient, DAY)
        factories.insurance(patient, insurer)
        used = factories.referral(patient)
        billed = factories.treatment(patient.id, therapist.id, item.id, DAY, referral_id=used.id)
        factories.treatment(patient.id, therapist.id, item.id, DAY, medical=False)
        invoice = factories.issued_invoice(patient.id, [billed.id], admin, DAY)
        invoicing.record_payment(invoice, DAY, "pin", "50.00", user=admin)
        factories.credit_note(invoice, None, admin, DAY)
        db.session.commit()
        return {"patient": patient.id, "invoice": invoice.number, "billed": billed.id, "therapist": therapist.id}


def _correspondence(app, clinic) -> None:
    """A payment reminder, the e-mail that sent it, a settled insurer's part and the therapist assigned."""
    with app.app_context(), clock.freeze(MOMENT):
        admin = db.session.scalars(select(User).where(User.role == "admin")).first()
        invoice = db.session.scalars(select(Invoice).where(Invoice.number == clinic["invoice"])).one()
        factories.invoice_reminder(invoice, DAY, date(2026, 11, 24), by=admin)
        factories.document_sending(invoice, admin, MOMENT, kind="reminder", to="anna@example.nl")
        factories.settlement(invoice, invoice.lines[0].id, admin, DAY)
        db.session.add(CareAssignment(patient_id=clinic["patient"], therapist_id=clinic["therapist"],
                                      assigned_by_id=admin.id))
        db.session.commit()


def test_retention_rules():
    assert add_years(date(2024, 2, 29), 7) == date(2031, 2, 28)
    assert record_hold(date(2026, 12, 5)).until == date(2046, 12, 5)
    invoice = document_hold("invoice", "2026-00001", date(2026, 1, 2))
    assert invoice == Hold("invoice", "2026-00001", "tax", date(2026, 1, 2), date(2033, 1, 2))
    record = record_hold(date(2026, 1, 2))
    assert holding([invoice, record], date(2033, 1, 1)) == [record, invoice]
    assert holding([invoice, record], date(2033, 1, 2)) == [record]
    assert holding([invoice, record], date(2046, 1, 2)) == []


def test_deleting_within_the_retention_periods_is_refused_with_the_records_and_dates(app, as_role, clinic):
    client = as_role("admin")
    url = f"/patients/{clinic['patient']}/delete"
    page = client.get(url).get_data(as_text=True)
    assert f"Invoice {clinic['invoice']}: kept until" in page and "2033" in page and "2046" in page
    assert "Patient record: kept until" in page and "20 years after the last change (WGBO)" in page
    assert "Credit note" in page and "7 years (tax law)" in page

    response = client.post(url, data={"confirm": "y", "csrf_token": csrf_token(client, url)})
    assert response.status_code == 409
    assert "cannot be deleted" in response.get_data(as_text=True)
    with app.app_context():
        patient = db.session.get_one(Patient, clinic["patient"])
        assert patient.first_name == "Anna" and patient.get_bsn() == BSN
        entry = db.session.scalars(select(AccessLog).where(AccessLog.action == "delete")).one()
        assert entry.patient_id == patient.id and "deletion refused" in entry.detail and BSN not in entry.detail

    # Without the confirmation box the form is re-shown with the field error, never a 500.
    response = client.post(url, data={"csrf_token": csrf_token(client, url)})
    assert response.status_code == 422 and "Tick the box to confirm." in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["therapist", "manager"])
def test_only_admins_delete_or_export(as_role, clinic, role):
    client = as_role(role)
    assert client.get(f"/patients/{clinic['patient']}/delete").status_code == 403
    token = csrf_token(client, f"/patients/{clinic['patient']}")
    assert client.post(f"/patients/{clinic['patient']}/export", data={"csrf_token": token}).status_code == 403


def test_beyond_the_retention_periods_the_personal_data_are_erased(app, clinic):
    with app.app_context():
        patient = db.session.get_one(Patient, clinic["patient"])
        assert retention.last_record_change(patient) == DAY
        # The record holds 20 years after its last change: the day before that it is still refused.
        with pytest.raises(retention.RetentionRefused) as refused:
            retention.erase_patient(patient, None, today=date(2046, 11, 9))
        assert [hold.subject for hold in refused.value.holds] == ["patient record"]
        db.session.rollback()
        patient = db.session.get_one(Patient, clinic["patient"])
        report = retention.erase_patient(patient, None, today=date(2046, 11, 10))
        db.session.commit()
        assert report.deleted["intakes"] == report.deleted["insurances"] == report.deleted["treatments"] == 1
        patient = db.session.get_one(Patient, clinic["patient"])
        assert (patient.first_name, patient.last_name, patient.street, patient.bsn_encrypted) == (
            "Verwijderd", f"patient {patient.id}", "", None)
        assert not db.session.scalars(select(Intake).where(Intake.patient_id == patient.id)).all()
        assert not db.session.scalars(select(Insurance).where(Insurance.patient_id == patient.id)).all()
        # The invoiced treatment and the issued invoice stay (immutable); they point at the anonymous stub.
        kept = db.session.scalars(select(Treatment.id).where(Treatment.patient_id == patient.id)).all()
        assert kept == [clinic["billed"]]
        assert db.session.scalars(select(Invoice).where(Invoice.patient_id == patient.id)).one().number == \
            clinic["invoice"]
        entry = db.session.scalars(select(AccessLog).where(AccessLog.action == "delete")).one()
        assert "personal data erased" in entry.detail and "1 intakes" in entry.detail


def test_patient_data_export_holds_everything_the_practice_has_and_is_logged(app, as_role, clinic):
    _correspondence(app, clinic)
    client = as_role("admin")
    detail = f"/patients/{clinic['patient']}"
    url = f"{detail}/export"
    assert client.get(url).status_code == 405  # only a POST with a CSRF token starts it
    assert client.post(url, data={}).status_code in (302, 400)
    response = client.post(url, data={"csrf_token": csrf_token(client, detail)})
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert BSN not in response.headers["Content-Disposition"] and response.headers["Cache-Control"] == "no-store"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    data = json.loads(archive.read("patient-data.json"))
    assert data["patient"]["bsn"] == BSN and "bsn_encrypted" not in data["patient"]
    assert data["patient"]["last_name"] == "de Vries"
    counts = {key: len(rows) for key, rows in data.items() if key != "patient"}
    assert counts["intakes"] == counts["insurances"] == counts["referrals"] == counts["invoices"] == 1
    assert counts["treatments"] == 2 and counts["invoice_lines"] == 1 and counts["payments"] == 1
    assert counts["credit_notes"] == counts["credit_note_lines"] == 1
    assert counts["access_log"] >= 1 and "claim_lines" in data and "patient_claims" in data
    assert data["invoices"][0]["number"] == clinic["invoice"] and "pdf" not in data["invoices"][0]
    # What was sent to the patient and what happened to the bill: reminders, e-mails, settlements, therapists.
    assert counts["payment_reminders"] == counts["emails"] == counts["insurer_settlements"] == 1
    assert counts["care_assignments"] == 1 and data["care_assignments"][0]["therapist_id"] == clinic["therapist"]
    assert data["emails"][0]["to_address"] == "anna@example.nl" and data["emails"][0]["kind"] == "reminder"
    assert data["payment_reminders"][0]["stage"] == "friendly" and "pdf" not in data["payment_reminders"][0]
    with app.app_context():
        invoice = db.session.scalars(select(Invoice).where(Invoice.number == clinic["invoice"])).one()
        assert archive.read(f"documents/factuur-{invoice.number}.pdf") == invoice.pdf
        note = invoice.credit_notes[0]
        assert archive.read(f"documents/creditnota-{note.number}.pdf") == note.pdf
        reminder = db.session.scalars(select(InvoiceReminder)).one()
        assert archive.read(f"documents/herinnering-{invoice.number}.pdf") == reminder.pdf
        entry = db.session.scalars(select(AccessLog).where(AccessLog.action == "export")
                                   .order_by(AccessLog.id.desc())).first()
        assert entry.patient_id == clinic["patient"] and entry.subject == "patient data export (inzage)"
        assert BSN not in entry.detail
    assert "LEESMIJ.txt" in archive.namelist()
