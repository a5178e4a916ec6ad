"""The patient timeline (issue 14, part 3): one scene with an entry of every kind, read back in order (newest
first, by clinic day), paged, filtered, per role and under the care relationship, in a number of statements that
does not grow with the entries. The vocabulary (domain/timeline.py) is tested without an app at the end."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal

import factories
import pytest
from conftest import login
from sqlalchemy import event, select

from backoffice import clock
from backoffice.authorisations import services as authorisations
from backoffice.claims.patient_claims import record_patient_claim
from backoffice.domain import timeline as rules
from backoffice.domain.roles import ROLE_PERMISSIONS, Permission, Role
from backoffice.domain.timeline import DocumentKind, Kind, PaymentKind
from backoffice.extensions import db
from backoffice.invoicing import declarations
from backoffice.invoicing import services as invoicing
from backoffice.mail import services as mail
from backoffice.models import AccessLog, Insurance, Insurer, Patient, Practice, Referral, Treatment, User
from backoffice.patients import services as patients
from backoffice.referrals import services as referrals
from backoffice.reminders import services as reminder_services
from backoffice.timeline import services as timeline
from backoffice.treatments import services as treatments


def at(day: str, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=UTC)


def stub(doc) -> bytes:
    return b"%PDF-stub"


def _input(treatment: Treatment, **changes) -> treatments.TreatmentInput:
    fields = {name: getattr(treatment, name) for name in treatments.CORRECTABLE_FIELDS}
    return treatments.TreatmentInput(**{**fields, **changes})


@contextmanager
def _later(moment: datetime) -> Iterator[None]:
    """Do the block's work at `moment`: flushed inside it, since a row's time (created_at, an access-log entry's
    `at`) is taken when it is written."""
    with clock.freeze(moment):
        yield
        db.session.flush()


class Scene:
    """Anna de Vries's record, built in date order through the services (so each is logged as in real use):
    insurances (one withdrawn), intake, referrals (one withdrawn), a prior authorisation later withdrawn, five
    treatments (one corrected, one withdrawn at 01:30 Amsterdam time, one re-assessed), two invoices and a draft,
    a credit note, payments with a reversal and a refund, a claim line rejected, a patient-submitted claim partly
    paid, a settled insurer part, documents printed, e-mailed (one failed) and a payment reminder."""

    def __init__(self, app, users, tmp_path):
        app.config["MAIL_OUTBOX_DIR"] = str(tmp_path / "outbox")
        with app.app_context():
            self.build(users)

    def build(self, users):
        with _later(at("2026-09-01")):
            factories.practice(email="praktijk@example.nl")
            ada = factories.existing_user(users["admin"])
            eva = factories.therapist("Eva Jansen", "90012345")
            zk, cz = factories.insurer(), factories.insurer("CZ", "9664")
            factories.claim_settings(zk, direct_billing=False)  # restitution: the patient pays all
            factories.coverage_rule(zk, 2026, categories=("acne", "scars"), cap_cents=None)
            item = factories.catalogue_item(price_cents=12_000)
            anna = factories.patient(email="anna@example.nl", bsn="111222333", id_document_type="passport",
                                     id_document_number="NX1234567")
            factories.insurance(anna, zk, valid_from=date(2026, 1, 1))
            wrong = factories.insurance(anna, cz, valid_from=date(2026, 2, 1), policy_number="CZ-1")
            factories.intake(anna, date(2026, 9, 1), recorded_by_id=ada.id)
            referral = factories.referral(anna, referral_date=date(2026, 9, 1))
        with _later(at("2026-09-02")):
            patients.withdraw_insurance(db.session.get_one(Insurance, wrong.id), "Verkeerde verzekeraar", ada)
        with _later(at("2026-09-03")):
            typo = factories.referral(anna, referral_date=date(2026, 9, 3), referrer_name="Dr. Tikfout")
            referrals.withdraw_referral(db.session.get_one(Referral, typo.id), "Dubbel ingevoerd", ada)
        with _later(at("2026-09-10")):
            authorisation = authorisations.create_authorisation(anna, authorisations.AuthorisationInput(
                insurer_id=zk.id, number="M-77", valid_from=date(2026, 9, 10), valid_until=date(2027, 9, 10),
                indications=("acne_scar",)), ada)
        with _later(at("2026-09-12")):
            authorisations.withdraw_authorisation(authorisation, "Verkeerd nummer", ada)

        def record(day: date, **fields) -> Treatment:
            with _later(at(day.isoformat())):
                return factories.recorded_treatment(anna.id, eva.id, item.id, day, **fields)

        t1 = record(date(2026, 10, 2), referral_id=referral.id)
        with _later(at("2026-10-02", 13)):
            declarations.aftercare_pdf(t1, ada, renderer=stub)
        t2 = record(date(2026, 10, 9))
        t3 = record(date(2026, 10, 16))
        t4 = record(date(2026, 10, 23), indication="acne")
        with _later(at("2026-10-24")):
            treatments.correct_treatment(t4, _input(t4, price_cents=10_000), "Korting vergeten", ada)
        # 23:30 UTC on 24 October is 01:30 on 25 October in Amsterdam: the clinic's day is the 25th.
        with _later(at("2026-10-24", 23, 30)):
            treatments.withdraw_treatment(t3, "Niet uitgevoerd", ada)
        with _later(at("2026-10-26")):
            treatments.reassess(t2)
        t5 = record(date(2026, 10, 30))
        with _later(at("2026-11-02")):
            first = factories.issued_invoice(anna.id, [t1.id, t2.id], ada, date(2026, 11, 2), stub)
        with _later(at("2026-11-02", 13)):
            sent = mail.send_invoice(first, ada)
            assert sent.status == "sent", sent.error
        with _later(at("2026-11-03")):
            second = factories.issued_invoice(anna.id, [t5.id], ada, date(2026, 11, 3), stub)
            factories.document_sending(first, ada, at("2026-11-03"), sent=False)
        with _later(at("2026-11-04")):
            declarations.declaration_pdf(first, ada, renderer=stub)
        with _later(at("2026-11-05", 9)):
            invoicing.invoice_pdf(first, ada)
            wrong_payment = invoicing.record_payment(first, date(2026, 11, 5), "pin", "100.00", user=ada)
        with _later(at("2026-11-06")):
            invoicing.reverse_payment(first, wrong_payment.id, "Dubbel geboekt", ada, today=date(2026, 11, 6))
        with _later(at("2026-11-07")):
            invoicing.record_payment(first, date(2026, 11, 7), "bank_transfer", "250.00", user=ada, overpayment=True)
        with _later(at("2026-11-08")):
            invoicing.record_refund(first, date(2026, 11, 8), "bank_transfer", "10.00", user=ada)
        with _later(at("2026-11-10")):
            factories.credit_note(second, None, ada, date(2026, 11, 10), reason="Dubbel gefactureerd")
        with _later(at("2026-11-11")):
            batch = factories.claim_batch(zk, ada, at("2026-11-11"))
            factories.claim_line(batch, first.lines[0].id, status="rejected", outcome_at=at("2026-11-18"),
                                 outcome_by=ada, rejection_code="V40", rejection_text="Verwijzing ontbreekt")
        with _later(at("2026-11-12")):
            record_patient_claim(first.lines[1], zk.id, date(2026, 11, 12), paid=Decimal("50.00"),
                                 paid_on=date(2026, 11, 20), user=ada)
        with _later(at("2026-11-15")):
            draft = factories.draft_invoice(anna.id, [t4.id], ada)
        with _later(at("2026-11-19")):
            factories.settlement(first, first.lines[0].id, ada, date(2026, 11, 19))
        with _later(at("2026-11-21")):
            reminder = factories.invoice_reminder(first, date(2026, 11, 21), date(2026, 12, 5), by=ada)
        with _later(at("2026-11-22")):
            reminder_services.reminder_pdf(reminder, ada)  # logged as a print of the invoice, naming the reminder
        db.session.commit()
        self.anna, self.zk, self.item, self.eva, self.ada = anna.id, zk.id, item.id, eva.id, ada.id
        self.t1, self.t4, self.first, self.draft = t1.id, t4.id, first.id, draft.id


@pytest.fixture
def scene(app, users, tmp_path):
    return Scene(app, users, tmp_path)


# Newest first: (clinic day, source). Within a day the later step of the work comes first (documents, payments,
# invoices, treatments), as the sources' ranks say.
EXPECTED = [
    ("22-11-2026", "document_print"),     # the reminder's PDF
    ("21-11-2026", "reminder_friendly"),
    ("20-11-2026", "patient_claim_partly_paid"),
    ("19-11-2026", "settlement"),
    ("18-11-2026", "claim_rejected"),
    ("15-11-2026", "invoice"),            # the draft, on the day it was made
    ("12-11-2026", "patient_claim"),
    ("11-11-2026", "claim"),
    ("10-11-2026", "credit_note"),
    ("08-11-2026", "payment_refund"),
    ("07-11-2026", "payment_payment"),
    ("06-11-2026", "payment_reversal"),
    ("05-11-2026", "document_print"),     # the stored invoice PDF downloaded
    ("05-11-2026", "payment_payment"),
    ("04-11-2026", "document_print"),     # the declaration
    ("03-11-2026", "sending_failed"),
    ("03-11-2026", "invoice"),
    ("02-11-2026", "sending"),
    ("02-11-2026", "invoice"),
    ("30-10-2026", "treatment"),
    ("26-10-2026", "reassessment"),       # asked for
    ("25-10-2026", "reassessment"),       # the treatment after the one withdrawn, re-assessed with it
    ("25-10-2026", "treatment_withdrawal"),
    ("24-10-2026", "treatment_correction"),
    ("23-10-2026", "treatment"),
    ("16-10-2026", "treatment"),          # withdrawn: struck through
    ("09-10-2026", "treatment"),
    ("02-10-2026", "document_print"),     # the aftercare sheet
    ("02-10-2026", "treatment"),
    ("12-09-2026", "authorisation_withdrawn"),
    ("10-09-2026", "authorisation"),
    ("03-09-2026", "referral_withdrawn"),
    ("03-09-2026", "referral"),
    ("02-09-2026", "insurance_withdrawn"),
    ("01-09-2026", "referral"),
    ("01-09-2026", "intake"),
    ("01-02-2026", "insurance"),
    ("01-01-2026", "insurance"),
]
_ROW = re.compile(r'<tr data-kind="(\w+)" data-source="(\w+)"[^>]*>\s*<td[^>]*>([0-9-]+)</td>(.*?)</tr>', re.S)


def rows(html: str) -> list[tuple[str, str]]:
    return [(day, source) for _kind, source, day, _rest in _ROW.findall(html)]


def row_html(html: str, source: str) -> list[str]:
    return [rest for _kind, found, _day, rest in _ROW.findall(html) if found == source]


def _client(app, email: str):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def _timeline(client, patient_id: int, query: str = "", status: int = 200) -> str:
    response = client.get(f"/patients/{patient_id}/timeline{query}")
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return response.get_data(as_text=True)


def test_every_kind_of_entry_in_order_with_words_amounts_links_and_pages(app, users, scene):
    admin = _client(app, users["admin"])
    detail = admin.get(f"/patients/{scene.anna}").get_data(as_text=True)
    assert f'href="/patients/{scene.anna}/timeline"' in detail  # linked from the patient page

    app.config["PAGE_SIZE"] = 100
    html = _timeline(admin, scene.anna)
    assert rows(html) == EXPECTED, "\n".join(map(str, rows(html)))
    assert "111222333" not in html and "222333" not in html  # no BSN, not even in part
    # Dutch dates and money, the words of each kind, who did it, and links to the objects.
    (refund,) = row_html(html, "payment_refund")
    assert "EUR -10,00" in refund and "Refund" in refund and "Admin" in refund
    (reversal,) = row_html(html, "payment_reversal")
    assert "reverses the entry of 05-11-2026" in reversal and "Dubbel geboekt" in reversal
    (rejected,) = row_html(html, "claim_rejected")
    assert "Claim rejected" in rejected and "V40 Verwijzing ontbreekt" in rejected and "/claims/" in rejected
    (partly,) = row_html(html, "patient_claim_partly_paid")
    assert "EUR 50,00 of EUR 120,00 paid" in partly
    withdrawn = row_html(html, "treatment_withdrawal")[0]
    assert "Niet uitgevoerd" in withdrawn and 'href="/treatments/' in withdrawn
    assert "Price" in row_html(html, "treatment_correction")[0]  # the field changed, by its form label
    assert "insurer pays EUR 120,00 → EUR 120,00" in row_html(html, "reassessment")[0]
    assert 'data-withdrawn="1"' in re.search(r'<tr[^>]*data-source="treatment"[^>]*>\s*<td[^>]*>16-10-2026',
                                             html).group(0)
    invoices = row_html(html, "invoice")
    assert "Draft invoice" in invoices[0] and f'href="/invoices/{scene.draft}"' in invoices[0]
    assert f'href="/invoices/{scene.first}"' in invoices[2] and "EUR 240,00" in invoices[2]
    assert "Eva Jansen" in row_html(html, "treatment")[-1]  # who performed it
    (aftercare, declaration, stored, reminder) = reversed(row_html(html, "document_print"))
    assert "Payment reminder for invoice" in reminder and "printed" in reminder
    assert "Aftercare sheet printed" in aftercare and f'href="/treatments/{scene.t1}"' in aftercare
    assert "Declaration of invoice" in declaration and f'href="/invoices/{scene.first}"' in declaration
    assert "stored PDF downloaded" in stored
    (sent,) = row_html(html, "sending")
    assert "e-mailed" in sent and "anna@example.nl" in sent  # once: its access-log export is not shown again
    assert "Connection refused" in row_html(html, "sending_failed")[0]
    with app.app_context():
        logged = db.session.scalars(select(AccessLog).where(AccessLog.patient_id == scene.anna,
                                                            AccessLog.subject == "timeline")).all()
        assert [(entry.action, entry.detail) for entry in logged] == [("view", "")]

    # Paged by key: walking the "older" links gives the same entries, page by page, and back again.
    app.config["PAGE_SIZE"] = 7
    walked, page = [], _timeline(admin, scene.anna)
    while True:
        walked += rows(page)
        older = re.search(r'data-testid="older" href="([^"#]+)"', page)
        if older is None:
            break
        page = admin.get(older.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert walked == EXPECTED
    newer = re.search(r'data-testid="newer" href="([^"#]+)"', page).group(1).replace("&amp;", "&")
    last = (len(EXPECTED) - 1) // 7 * 7  # where the last page starts
    assert rows(page) == EXPECTED[last:] and rows(admin.get(newer).get_data(as_text=True)) == EXPECTED[last - 7:last]
    assert rows(_timeline(admin, scene.anna, "?after=garbage")) == EXPECTED[:7]


def test_filters_by_kind_dates_treatment_and_indication(app, users, scene):
    admin = _client(app, users["admin"])

    html = _timeline(admin, scene.anna, "?kind=payment&kind=claim&kind=nonsense")
    assert {source for _day, source in rows(html)} == {
        "settlement", "claim_rejected", "claim", "patient_claim", "patient_claim_partly_paid", "payment_refund",
        "payment_payment", "payment_reversal"}
    assert re.search(r'value="payment" checked', html) and not re.search(r'value="invoice" checked', html)
    # The filter stays on the pager's links.
    app.config["PAGE_SIZE"] = 3
    older = re.search(r'data-testid="older" href="([^"#]+)"', _timeline(admin, scene.anna, "?kind=claim")).group(1)
    assert "kind=claim" in older
    app.config["PAGE_SIZE"] = 100

    dated = rows(_timeline(admin, scene.anna, "?date_from=02-11-2026&date_to=05-11-2026"))
    assert dated == [entry for entry in EXPECTED if entry[0] in ("02-11-2026", "03-11-2026", "04-11-2026",
                                                                 "05-11-2026")]

    # One treatment: what is about it (its referral, invoice, payments, claims and documents), nothing else.
    about_t1 = rows(_timeline(admin, scene.anna, f"?treatment_id={scene.t1}"))
    assert {source for _day, source in about_t1} == {
        "reminder_friendly", "settlement", "claim_rejected", "claim", "payment_refund", "payment_payment",
        "payment_reversal", "document_print", "sending", "sending_failed", "invoice", "treatment", "referral"}
    assert ("02-10-2026", "treatment") in about_t1 and ("09-10-2026", "treatment") not in about_t1
    assert ("03-09-2026", "referral") not in about_t1 and ("03-11-2026", "invoice") not in about_t1
    acne = rows(_timeline(admin, scene.anna, "?indication=acne"))
    assert acne == [("15-11-2026", "invoice"), ("25-10-2026", "reassessment"), ("24-10-2026", "treatment_correction"),
                    ("23-10-2026", "treatment")]

    # Bad input: a message, never a 500; the rest of the filter still applies.
    html = _timeline(admin, scene.anna, "?date_from=31-02-2026&kind=intake", status=422)
    assert "Type a date as dd-mm-yyyy" in html and rows(html) == [("01-09-2026", "intake")]
    html = _timeline(admin, scene.anna, "?date_from=10-11-2026&date_to=01-11-2026", status=422)
    assert "The end date lies before the start date." in html
    assert rows(_timeline(admin, scene.anna, "?treatment_id=999999")) == EXPECTED  # not hers: no filter
    with app.app_context():
        details = db.session.scalars(select(AccessLog.detail).where(AccessLog.subject == "timeline")
                                     .order_by(AccessLog.id)).all()
        assert "kinds payment,claim" in details[0] and f"treatment {scene.t1}" in " ".join(details)


def test_roles_see_what_their_permissions_allow_and_the_care_relationship_holds(app, users, scene):
    app.config["PAGE_SIZE"] = 100
    therapist = _client(app, users["therapist"])
    html = _timeline(therapist, scene.anna)
    # A therapist has no CLAIMS_READ: no claim entries, no claim checkbox, no claim workbook export.
    assert all(not source.startswith(("claim", "patient_claim")) for _day, source in rows(html))
    assert 'value="claim"' not in html and ("11-11-2026", "claim") not in rows(html)
    assert ("07-11-2026", "payment_payment") in rows(html)
    assert rows(_timeline(_client(app, users["manager"]), scene.anna)) == EXPECTED

    # Without INVOICES_READ (no role of the demo; the rule holds for any): no invoices, payments, invoice
    # documents or reminders, while the aftercare sheet (a treatment's document) stays.
    reader = ROLE_PERMISSIONS[Role.THERAPIST] - {Permission.INVOICES_READ}
    with app.app_context(), app.test_request_context():
        page = timeline.timeline_page(scene.anna, timeline.Filters(), 100, lambda p: p in reader)
        sources = [entry.source for entry in page.entries]
    assert {entry.kind for entry in page.entries} <= {
        Kind.INTAKE, Kind.REFERRAL, Kind.INSURANCE, Kind.AUTHORISATION, Kind.TREATMENT, Kind.DOCUMENT}
    assert [s for s in sources if s.startswith(("document", "sending", "reminder"))] == ["document_print"]

    # The practice limits therapists to their own patients: this therapist (no treatment, no assignment) is
    # refused like on the patient page.
    with app.app_context():
        db.session.scalar(select(Practice)).therapists_own_patients_only = True
        db.session.commit()
    assert therapist.get(f"/patients/{scene.anna}").status_code == 403
    assert therapist.get(f"/patients/{scene.anna}/timeline").status_code == 403
    assert _client(app, users["admin"]).get(f"/patients/{scene.anna}/timeline").status_code == 200


def test_the_number_of_statements_does_not_grow_with_the_entries(app, users, scene):
    admin = _client(app, users["admin"])
    app.config["PAGE_SIZE"] = 500

    def statements() -> tuple[int, int]:
        with app.app_context():
            engine = db.engine
        seen: list[str] = []

        def remember(conn, cursor, statement, *args):
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", remember)
        try:
            html = _timeline(admin, scene.anna)
        finally:
            event.remove(engine, "before_cursor_execute", remember)
        assert not any("count(" in statement.lower() for statement in seen)
        return len(rows(html)), len(seen)

    entries, before = statements()
    with app.app_context():
        ada = db.session.get_one(User, scene.ada)
        anna = db.session.get_one(Patient, scene.anna)
        # New rows that point at new related rows (another therapist, other treatments in the catalogue): a
        # relationship read row by row would cost a statement more for each.
        bas = factories.therapist("Bas de Wit", "90054321")
        items = [factories.catalogue_item(f"C{day}", f"Camouflage {day}", price_cents=9_500) for day in (16, 17, 18)]
        more = [factories.recorded_treatment(scene.anna, bas.id, item.id, date(2026, 11, day))
                for item, day in zip(items, (16, 17, 18), strict=True)]
        treatments.correct_treatment(more[0], _input(more[0], price_cents=9_000), "Korting", ada)
        treatments.reassess(more[1])
        invoice = factories.issued_invoice(scene.anna, [t.id for t in more], ada, date(2026, 11, 20), stub)
        invoicing.record_payment(invoice, date(2026, 11, 21), "pin", "50.00", user=ada)
        invoicing.record_payment(invoice, date(2026, 11, 22), "cash", "20.00", user=ada)
        declarations.declaration_pdf(invoice, ada, renderer=stub)
        declarations.aftercare_pdf(more[2], ada, renderer=stub)
        factories.intake(anna, date(2026, 11, 16))
        factories.referral(anna, referral_date=date(2026, 11, 16))
        factories.document_sending(invoice, ada, at("2026-11-21"), sent=False)
        factories.invoice_reminder(invoice, date(2026, 11, 25), date(2026, 12, 9), by=ada)
        batch = factories.claim_batch(db.session.get_one(Insurer, scene.zk), ada, at("2026-11-23"))
        line = invoice.lines[0]
        factories.claim_line(batch, line.id, status="paid", paid_cents=line.insurer_amount_cents,
                             outcome_at=at("2026-11-24"), outcome_by=ada)
        db.session.commit()
    more_entries, after = statements()
    assert more_entries > entries + 12
    assert after == before, (before, after)


# ---- the vocabulary, without an app --------------------------------------------------------------------------------

def test_payment_kinds_documents_and_reassessments_read_back_from_their_records():
    assert rules.payment_kind(10_000, reverses=False, by_insurer=False) is PaymentKind.PAYMENT
    assert rules.payment_kind(-1_000, reverses=False, by_insurer=False) is PaymentKind.REFUND
    assert rules.payment_kind(-10_000, reverses=True, by_insurer=False) is PaymentKind.REVERSAL
    assert rules.payment_kind(5_000, reverses=False, by_insurer=True) is PaymentKind.INSURER

    assert rules.logged_document("credit note 2026-C0003") == rules.LoggedDocument(DocumentKind.CREDIT_NOTE,
                                                                                   "2026-C0003")
    assert rules.logged_document("invoice 2026-00001").kind is DocumentKind.INVOICE
    assert rules.logged_document("declaration 2026-00001").reference == "2026-00001"
    assert rules.logged_document("treatment 12") == rules.LoggedDocument(DocumentKind.AFTERCARE, "12")
    assert rules.logged_document("claim batch 3311-2026-001").kind is DocumentKind.CLAIM_BATCH
    assert rules.logged_document("something new").kind is DocumentKind.OTHER
    assert rules.logged_document("invoice 2026-00001", "formal payment reminder of 2026-11-21: stored PDF "
                                 "downloaded") == rules.LoggedDocument(DocumentKind.REMINDER, "2026-00001")

    assert rules.reassessed_amounts("re-assessed: insurer amount 80.00 -> 0.00, reimbursable True -> False") == (
        Decimal("80.00"), Decimal("0.00"))
    assert rules.reassessed_amounts("re-assessed after treatment 4 was withdrawn: insurer amount 60 -> 120.50") \
        == (Decimal("60"), Decimal("120.50"))
    assert rules.reassessed_amounts("corrected (price_cents)") is None
    assert rules.subject_id("treatment 12", "treatment ") == 12
    assert rules.subject_id("treatment １２", "treatment ") is None  # full-width digits are no id

    everything = set(Permission)
    assert rules.visible_kinds(lambda p: p in everything) == list(Kind)
    therapist = ROLE_PERMISSIONS[Role.THERAPIST]
    assert Kind.CLAIM not in rules.visible_kinds(lambda p: p in therapist)
    assert rules.chosen_kinds(["claim", "payment", "bogus"], list(Kind)) == [Kind.PAYMENT, Kind.CLAIM]
    assert rules.chosen_kinds(["bogus"], [Kind.INTAKE]) == [Kind.INTAKE]
    assert not rules.document_visible(DocumentKind.CLAIM_BATCH, lambda p: p in therapist)
