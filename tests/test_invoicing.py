"""Invoices: drafting, issuing with consecutive numbers, immutability, credit notes, payments, overdue list.

Runs on SQLite and PostgreSQL. Tests about numbering pass a stub renderer; the PDF tests use the real one.
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal

import factories
import pytest
from conftest import make_test_app
from flask_migrate import upgrade
from sqlalchemy import func, select, text
from test_migrations import MIGRATIONS

from backoffice.domain.invoicing import PaymentState
from backoffice.extensions import db
from backoffice.invoicing import services
from backoffice.invoicing.services import InvoiceError, MissingData
from backoffice.models import (
    AccessLog,
    CreditNote,
    ImmutableDocumentError,
    Invoice,
    InvoiceLine,
    NumberSeries,
    Patient,
    Practice,
    Therapist,
    User,
)

DAY = date(2026, 11, 24)


class Renderer:
    """Counts calls; returns distinct bytes per document so a stored PDF can be told apart."""

    def __init__(self, fail: bool = False):
        self.calls = 0
        self.fail = fail

    def __call__(self, doc) -> bytes:
        self.calls += 1
        if self.fail:
            raise RuntimeError("printer on fire")
        return f"%PDF-stub {doc.kind} {doc.number} {doc.total_gross}".encode()


class Clinic:
    """Ids of a practice, a user, a therapist, a patient with insurance, and a catalogue item (tests/factories.py)."""

    def __init__(self, therapist_agb="90012345", practice=True):
        if practice:
            factories.practice()
        user = factories.user()
        therapist = factories.therapist(agb_code=therapist_agb, kp=None, nvh_number=None)
        insurer = factories.insurer()
        patient = factories.patient()
        laser = factories.catalogue_item()
        factories.insurance(patient, insurer, policy_number="ZK-778")
        db.session.commit()
        self.user_id, self.therapist_id, self.patient_id, self.item_id = user.id, therapist.id, patient.id, laser.id

    @property
    def user(self) -> User:
        return db.session.get(User, self.user_id)

    @property
    def patient(self) -> Patient:
        return db.session.get(Patient, self.patient_id)

    def treatment(self, price="175.00", medical=True, day=date(2026, 11, 2), patient_id=None) -> int:
        treatment = factories.treatment(patient_id or self.patient_id, self.therapist_id, self.item_id, day,
                                        medical=medical, price=price)
        db.session.commit()
        return treatment.id

    def issued(self, *treatment_ids, renderer=None, today=DAY) -> Invoice:
        invoice = factories.issued_invoice(self.patient_id, treatment_ids, self.user, today, renderer or Renderer())
        db.session.commit()
        return invoice


@pytest.fixture
def clinic(app):
    with app.app_context():
        yield Clinic()


def numbers() -> list[str]:
    return list(db.session.scalars(select(Invoice.number).where(Invoice.number.is_not(None))
                                   .order_by(Invoice.sequence)))


# ---- drafting and issuing -----------------------------------------------------------------------------

def test_draft_then_issue_takes_consecutive_numbers(clinic):
    first = services.draft_invoice(clinic.patient, [clinic.treatment(), clinic.treatment("60.50", medical=False)],
                                   user=clinic.user)
    db.session.commit()
    assert (first.status, first.number, len(first.lines)) == ("draft", None, 2)
    assert first.total_gross_cents == 23_550
    second = services.draft_invoice(clinic.patient, [clinic.treatment()], user=clinic.user)
    db.session.commit()

    renderer = Renderer()
    services.issue_invoice(first, clinic.user, today=DAY, renderer=renderer)
    db.session.commit()
    services.issue_invoice(second, clinic.user, today=DAY, renderer=renderer)
    db.session.commit()
    assert numbers() == ["2026-00001", "2026-00002"]
    assert (first.status, first.issue_date, first.due_date) == ("issued", DAY, date(2026, 12, 8))
    assert first.issued_by_id == clinic.user_id
    assert db.session.get(NumberSeries, "invoice-2026").next_value == 3

    # The frozen document: per rate net/VAT/total, exempt line with its legal ground, insurer fields.
    doc = services.invoice_document(first)
    assert (doc.number, doc.total_gross, doc.total_net, doc.total_vat) == (
        "2026-00001", Decimal("235.50"), Decimal("225.00"), Decimal("10.50"))
    assert [(t.label, t.net, t.vat, t.gross) for t in doc.vat_totals] == [
        ("Vrijgesteld van btw, art. 11 lid 1 onderdeel g Wet OB 1968", Decimal("175.00"), Decimal("0.00"),
         Decimal("175.00")),
        ("21 % btw", Decimal("50.00"), Decimal("10.50"), Decimal("60.50")),
    ]
    exempt = next(line for line in first.lines if line.medical)
    assert exempt.vat_exemption.startswith("Vrijgesteld van btw, art. 11")
    assert (doc.patient.policy_number, doc.patient.uzovi, doc.practice.agb_code) == ("ZK-778", "3311", "90001234")
    assert {(line.therapist_agb, line.prestatiecode, line.technique) for line in doc.lines} == {
        ("90012345", "9010", "Fractionele laser")}
    assert doc.patient.bsn == ""
    assert "2026-00001" in doc.payment_note and "14 dagen" in doc.payment_note

    logged = db.session.scalars(select(AccessLog.subject).where(AccessLog.patient_id == clinic.patient_id)).all()
    assert {"invoice 2026-00001", "invoice 2026-00002"} <= set(logged)
    assert any(subject.startswith("invoice draft") for subject in logged)


def test_missing_data_names_every_field_and_takes_no_number(app):
    with app.app_context():
        clinic = Clinic(therapist_agb="")
        practice = db.session.scalar(select(Practice))
        practice.kvk_number = practice.vat_id = ""
        patient = clinic.patient
        patient.street = patient.city = ""
        db.session.commit()
        invoice = services.draft_invoice(patient, [clinic.treatment(), clinic.treatment("50", medical=False)])
        db.session.commit()
        renderer = Renderer()
        with pytest.raises(MissingData) as caught:
            services.issue_invoice(invoice, clinic.user, today=DAY, renderer=renderer)
        db.session.rollback()
        assert [field.render(str) for field in caught.value.fields] == [  # the English message ids
            "practice KvK number", "practice VAT id", "patient street", "patient city",
            "personal AGB code of therapist Eva Jansen"]
        # Outside a request (CLI, worker) the message is Dutch.
        assert "KvK-nummer praktijk; btw-id praktijk" in str(caught.value)
        assert renderer.calls == 0
        assert db.session.get(NumberSeries, "invoice-2026") is None
        assert db.session.get(Invoice, invoice.id).status == "draft"

        # Filling in the data is enough: the draft picks up the therapist's AGB at issue.
        practice = db.session.scalar(select(Practice))
        practice.kvk_number, practice.vat_id = "12345678", "NL123456789B01"
        patient = clinic.patient
        patient.street, patient.city = "Laan 2", "Utrecht"
        db.session.get(Therapist, clinic.therapist_id).agb_code = "90012345"
        db.session.commit()
        invoice = db.session.get(Invoice, invoice.id)
        services.issue_invoice(invoice, clinic.user, today=DAY, renderer=renderer)
        db.session.commit()
        assert invoice.number == "2026-00001"
        assert {line.therapist_agb for line in invoice.lines} == {"90012345"}


def test_missing_practice_is_reported(app):
    with app.app_context():
        clinic = Clinic(practice=False)
        invoice = services.draft_invoice(clinic.patient, [clinic.treatment()])
        with pytest.raises(MissingData, match="praktijkgegevens"):
            services.issue_invoice(invoice, today=DAY, renderer=Renderer())


def test_double_issue_returns_the_issued_invoice_unchanged(clinic):
    invoice = services.draft_invoice(clinic.patient, [clinic.treatment()])
    db.session.commit()
    renderer = Renderer()
    services.issue_invoice(invoice, clinic.user, today=DAY, renderer=renderer)
    db.session.commit()
    sha = invoice.pdf_sha256
    # The second click, even from a fresh load of the row and a later day, changes nothing.
    db.session.expire_all()
    again = services.issue_invoice(db.session.get(Invoice, invoice.id), clinic.user, today=date(2026, 12, 1),
                                   renderer=renderer)
    db.session.commit()
    assert (again.number, again.issue_date, again.pdf_sha256) == ("2026-00001", DAY, sha)
    assert renderer.calls == 1
    assert db.session.get(NumberSeries, "invoice-2026").next_value == 2
    assert clinic.issued(clinic.treatment()).number == "2026-00002"


def test_a_failed_transaction_after_taking_a_number_leaves_no_gap(clinic):
    invoice = services.draft_invoice(clinic.patient, [clinic.treatment()])
    db.session.commit()
    # The renderer fails after the counter was incremented: the caller rolls back, the number comes back.
    with pytest.raises(RuntimeError, match="printer on fire"):
        services.issue_invoice(invoice, clinic.user, today=DAY, renderer=Renderer(fail=True))
    db.session.rollback()
    assert db.session.scalar(select(NumberSeries.next_value).where(NumberSeries.name == "invoice-2026")) in (None, 1)

    # An error after the whole issue (say the commit's caller fails later) rolls everything back too.
    invoice = db.session.get(Invoice, invoice.id)
    services.issue_invoice(invoice, clinic.user, today=DAY, renderer=Renderer())
    assert invoice.number == "2026-00001"
    db.session.rollback()
    invoice = db.session.get(Invoice, invoice.id)
    assert (invoice.status, invoice.number) == ("draft", None)

    services.issue_invoice(invoice, clinic.user, today=DAY, renderer=Renderer())
    db.session.commit()
    assert clinic.issued(clinic.treatment()).number == "2026-00002"
    assert numbers() == ["2026-00001", "2026-00002"]


def test_a_new_year_starts_a_new_series(clinic):
    assert clinic.issued(clinic.treatment(), today=date(2026, 12, 31)).number == "2026-00001"
    assert clinic.issued(clinic.treatment(), today=date(2027, 1, 1)).number == "2027-00001"
    assert clinic.issued(clinic.treatment(), today=date(2027, 1, 2)).number == "2027-00002"


def test_pdf_is_rendered_once_and_stored_with_its_sha256(clinic):
    from backoffice.documents.pdf import render_invoice

    calls = []

    def counting(doc):
        calls.append(doc.number)
        return render_invoice(doc)

    invoice = clinic.issued(clinic.treatment(), clinic.treatment("60.50", medical=False), renderer=counting)
    services.issue_invoice(invoice, clinic.user, renderer=counting)
    db.session.expire_all()
    invoice = db.session.get(Invoice, invoice.id)
    first, second = services.invoice_pdf(invoice, clinic.user), services.invoice_pdf(invoice, clinic.user)
    assert calls == ["2026-00001"]
    assert first == second and first.startswith(b"%PDF")
    assert hashlib.sha256(first).hexdigest() == invoice.pdf_sha256
    prints = db.session.scalar(select(func.count()).select_from(AccessLog)
                               .where(AccessLog.action == "print", AccessLog.subject == "invoice 2026-00001"))
    assert prints == 3  # rendered at issue + two downloads


# ---- issued invoices never change ----------------------------------------------------------------------

@pytest.mark.parametrize("change", ["total", "number", "delete", "line", "line_delete", "line_add"])
def test_the_orm_refuses_changes_to_an_issued_invoice(clinic, change):
    invoice = clinic.issued(clinic.treatment())
    line = invoice.lines[0]
    if change == "total":
        invoice.total_gross_cents = 1
    elif change == "number":
        invoice.number = "2026-99999"
    elif change == "delete":
        db.session.delete(invoice)
    elif change == "line":
        line.gross_cents = line.net_cents = 1
    elif change == "line_delete":
        db.session.delete(line)
    else:
        db.session.add(InvoiceLine(invoice_id=invoice.id, treatment_id=line.treatment_id, treatment_date=DAY,
                                   description="extra", gross_cents=100, net_cents=100, vat_cents=0))
    with pytest.raises(ImmutableDocumentError):
        db.session.flush()
    db.session.rollback()
    invoice = db.session.get(Invoice, invoice.id)
    assert (invoice.number, invoice.total_gross_cents, len(invoice.lines)) == ("2026-00001", 17_500, 1)
    with pytest.raises(InvoiceError, match="is uitgegeven"):
        services.delete_draft(invoice)
    with pytest.raises(InvoiceError, match="is uitgegeven"):
        services.remove_line(invoice, invoice.lines[0].id)


RAW_CHANGES = [
    "UPDATE invoices SET total_gross_cents = 1 WHERE status = 'issued'",
    "UPDATE invoices SET status = 'draft', number = NULL",
    "DELETE FROM invoices WHERE status = 'issued'",
    "UPDATE invoice_lines SET description = 'changed'",
    "DELETE FROM invoice_lines",
    "UPDATE credit_notes SET total_gross_cents = 0",
    "DELETE FROM credit_notes",
    "UPDATE credit_note_lines SET gross_cents = 0, net_cents = 0",
    "DELETE FROM credit_note_lines",
]


def test_the_database_refuses_raw_sql_changes(clinic):
    invoice = clinic.issued(clinic.treatment(), clinic.treatment())
    services.credit_invoice(invoice, [invoice.lines[0].id], today=DAY, renderer=Renderer())
    db.session.commit()
    for statement in RAW_CHANGES:
        # The triggers; on PostgreSQL the app's role has no UPDATE or DELETE on credit notes at all.
        with pytest.raises(Exception, match="cannot be changed|permission denied for table credit_note"), \
                db.engine.begin() as connection:
            connection.execute(text(statement))
    with pytest.raises(Exception, match="cannot be changed"), db.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO invoice_lines (invoice_id, treatment_id, treatment_date, description, prestatiecode, "
            "indication, medical, reimbursable, quantity, gross_cents, net_cents, vat_cents, vat_rate, "
            "vat_exemption, therapist_name, therapist_agb, technique, body_area, referral, insurer_amount_cents) "
            "SELECT invoice_id, treatment_id, treatment_date, 'extra', '', '', medical, reimbursable, 1, 1, 1, 0, "
            "0, '', '', '', '', '', '', 0 FROM invoice_lines"
        ))
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(InvoiceLine)) == 2
    assert db.session.get(Invoice, invoice.id).total_gross_cents == 35_000


def test_drafts_stay_editable_by_raw_sql(clinic):
    # The triggers only guard issued rows: a draft (no number yet) can still change.
    invoice = services.draft_invoice(clinic.patient, [clinic.treatment()])
    db.session.commit()
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE invoice_lines SET description = 'changed'"))
        connection.execute(text("UPDATE invoices SET total_gross_cents = total_gross_cents"))
    db.session.expire_all()
    assert db.session.get(Invoice, invoice.id).lines[0].description == "changed"


def test_migrations_install_the_same_guards(backend, request, tmp_path):
    if backend == "postgresql":
        app = make_test_app("postgresql", request.getfixturevalue("postgres_schema"))
    else:
        app = make_test_app("sqlite", None, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'migrated.db'}")
    with app.app_context():
        upgrade(directory=str(MIGRATIONS))
        try:
            clinic = Clinic()
            clinic.issued(clinic.treatment())
            for statement in ("UPDATE invoices SET due_date = issue_date", "DELETE FROM invoice_lines"):
                with pytest.raises(Exception, match="cannot be changed"), db.engine.begin() as connection:
                    connection.execute(text(statement))
        finally:
            db.session.remove()
            db.engine.dispose()


# ---- drafts ---------------------------------------------------------------------------------------------

def test_drafting_takes_only_this_patients_free_treatments(clinic):
    other = factories.patient("Bakker")
    db.session.commit()
    foreign = clinic.treatment(patient_id=other.id)
    mine = clinic.treatment()
    with pytest.raises(InvoiceError, match="geen behandelingen van deze cliënt"):
        services.draft_invoice(clinic.patient, [mine, foreign])
    with pytest.raises(InvoiceError, match="geen behandelingen van deze cliënt"):
        services.draft_invoice(clinic.patient, [999_999])
    with pytest.raises(InvoiceError, match="minstens één"):
        services.draft_invoice(clinic.patient, [])
    draft = services.draft_invoice(clinic.patient, [mine])
    db.session.commit()
    with pytest.raises(InvoiceError, match="op een conceptfactuur"):
        services.draft_invoice(clinic.patient, [mine])
    assert services.invoiceable_treatments(clinic.patient) == []

    services.remove_line(draft, draft.lines[0].id)
    db.session.commit()
    assert [t.id for t in services.invoiceable_treatments(clinic.patient)] == [mine]
    services.delete_draft(draft)
    db.session.commit()
    assert db.session.get(Invoice, draft.id) is None

    clinic.issued(mine)
    with pytest.raises(InvoiceError, match="op factuur 2026-00001"):
        services.draft_invoice(clinic.patient, [mine])


def test_the_database_allows_one_live_line_per_treatment(clinic):
    # Even past the service's check (two sessions racing), the claim's primary key refuses a second line.
    from sqlalchemy.exc import IntegrityError

    from backoffice.models import InvoicedTreatment

    treatment = clinic.treatment()
    services.draft_invoice(clinic.patient, [treatment])
    db.session.commit()
    invoice = Invoice(patient_id=clinic.patient_id, status="draft")
    line = InvoiceLine(treatment_id=treatment, treatment_date=DAY, description="again", gross_cents=1,
                       net_cents=1, vat_cents=0)
    line.claim = InvoicedTreatment(treatment_id=treatment)
    invoice.lines.append(line)
    db.session.add(invoice)
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


# ---- credit notes ---------------------------------------------------------------------------------------

def test_credit_per_line_then_the_rest(clinic):
    medical, cosmetic = clinic.treatment(), clinic.treatment("60.50", medical=False)
    invoice = clinic.issued(medical, cosmetic)
    cosmetic_line = next(line for line in invoice.lines if not line.medical)

    first = services.credit_invoice(invoice, [cosmetic_line.id], reason="wrong price", user=clinic.user,
                                    today=DAY, renderer=Renderer())
    db.session.commit()
    assert (first.number, first.invoice_id, first.total_gross_cents, first.total_vat_cents) == (
        "C2026-00001", invoice.id, -6_050, -1_050)
    assert [t.id for t in services.invoiceable_treatments(clinic.patient)] == [cosmetic]
    doc = services.documents.document_from_snapshot(first.snapshot)
    assert doc.kind == "credit_note" and doc.refers_to == "2026-00001 van 24-11-2026"  # after "Creditering van factuur"
    assert [(line.gross, line.net, line.vat) for line in doc.lines] == [
        (Decimal("-60.50"), Decimal("-50.00"), Decimal("-10.50"))]
    assert "wrong price" in doc.payment_note
    assert services.invoice_status(invoice, DAY).state is PaymentState.OPEN

    with pytest.raises(InvoiceError, match="al gecrediteerd"):
        services.credit_invoice(invoice, [cosmetic_line.id], today=DAY, renderer=Renderer())
    with pytest.raises(InvoiceError, match="staan niet op factuur"):
        services.credit_invoice(invoice, [999_999], today=DAY, renderer=Renderer())

    rest = services.credit_invoice(invoice, None, today=DAY, renderer=Renderer())
    db.session.commit()
    assert (rest.number, rest.total_gross_cents) == ("C2026-00002", -17_500)
    assert invoice.total_gross_cents + first.total_gross_cents + rest.total_gross_cents == 0
    assert services.invoice_status(invoice, DAY).state is PaymentState.CREDITED
    assert {t.id for t in services.invoiceable_treatments(clinic.patient)} == {medical, cosmetic}
    with pytest.raises(InvoiceError, match="volledig gecrediteerd"):
        services.credit_invoice(invoice, None, today=DAY, renderer=Renderer())

    # The issued invoice is untouched; the replacement is a new invoice in the invoice series.
    db.session.expire_all()
    original = db.session.get(Invoice, invoice.id)
    assert (original.status, original.total_gross_cents, len(original.lines)) == ("issued", 23_550, 2)
    assert clinic.issued(medical, cosmetic).number == "2026-00002"

    credit = db.session.get(CreditNote, first.id)
    credit.reason = "edited"
    with pytest.raises(ImmutableDocumentError):
        db.session.flush()
    db.session.rollback()
    pdf = services.credit_note_pdf(db.session.get(CreditNote, first.id))
    assert hashlib.sha256(pdf).hexdigest() == first.pdf_sha256


def test_a_draft_cannot_be_credited(clinic):
    draft = services.draft_invoice(clinic.patient, [clinic.treatment()])
    with pytest.raises(InvoiceError, match="Alleen een uitgegeven factuur"):
        services.credit_invoice(draft, None, renderer=Renderer())


def test_the_real_renderer_prints_a_credit_note(clinic):
    from backoffice.documents.pdf import render_invoice

    invoice = clinic.issued(clinic.treatment("60.50", medical=False))
    note = services.credit_invoice(invoice, None, today=DAY, renderer=render_invoice)
    db.session.commit()
    assert note.pdf.startswith(b"%PDF")


# ---- payments and overdue -------------------------------------------------------------------------------

def test_payment_status_and_overdue_list(clinic, app):
    early = clinic.issued(clinic.treatment(), today=date(2026, 10, 1))      # due 15-10, paid
    late = clinic.issued(clinic.treatment(), today=date(2026, 10, 10))      # due 24-10, stays open
    credited = clinic.issued(clinic.treatment(), today=date(2026, 10, 1))   # fully credited
    recent = clinic.issued(clinic.treatment(), today=date(2026, 11, 20))    # due 04-12, not yet overdue
    partly = clinic.issued(clinic.treatment(), today=date(2026, 10, 2))     # part paid, still overdue

    services.record_payment(early, date(2026, 10, 9), "pin", Decimal("175.00"), user=clinic.user)
    services.record_payment(partly, date(2026, 10, 9), "cash", "100", user=clinic.user)
    services.credit_invoice(credited, None, today=date(2026, 10, 5), renderer=Renderer())
    db.session.commit()

    status = services.invoice_status(early, DAY)
    assert (status.state, status.last_paid_on, status.last_method, status.balance) == (
        PaymentState.PAID, date(2026, 10, 9), "pin", Decimal("0.00"))
    assert services.invoice_status(credited, DAY).state is PaymentState.CREDITED
    assert services.invoice_status(recent, DAY).state is PaymentState.OPEN
    overdue = services.overdue_invoices(DAY)
    assert [(o.invoice.number, o.status.balance, o.status.days_overdue) for o in overdue] == [
        (partly.number, Decimal("75.00"), 39), (late.number, Decimal("175.00"), 31)]
    assert services.overdue_invoices(date(2026, 12, 5))[-1].invoice.id == recent.id
    # Paged by (due date, number): a page of one, then the rest after its last row, and back.
    first = services.overdue_page(1, today=DAY)
    assert [o.invoice.number for o in first.items] == [partly.number] and first.previous is None
    second = services.overdue_page(1, after=services.OVERDUE_ORDER.parse(first.next.token()), today=DAY)
    assert [o.invoice.number for o in second.items] == [late.number]
    back = services.overdue_page(1, before=second.previous, today=DAY)
    assert [o.invoice.number for o in back.items] == [partly.number]
    assert services.OVERDUE_ORDER.parse("garbage") is None
    app.config["INVOICE_PAYMENT_TERM_DAYS"] = 30
    assert clinic.issued(clinic.treatment(), today=DAY).due_date == date(2026, 12, 24)

    with pytest.raises(InvoiceError, match="betaalwijze"):
        services.record_payment(late, DAY, "cheque", "10")
    with pytest.raises(InvoiceError, match="bedrag boven 0"):
        services.record_payment(late, DAY, "pin", "0.001")
    draft = services.draft_invoice(clinic.patient, [clinic.treatment()])
    with pytest.raises(InvoiceError, match="alleen bij uitgegeven facturen"):
        services.record_payment(draft, DAY, "pin", "10")
    assert services.invoice_status(draft, DAY).state is PaymentState.DRAFT


def _domain_status(invoice, today: date):
    """The pure rule (domain.invoicing.invoice_status) on the invoice's loaded rows."""
    from backoffice.domain import invoicing as rules
    from backoffice.domain.money import from_cents

    db.session.refresh(invoice)
    return rules.invoice_status(
        issued=invoice.status == "issued", total=from_cents(invoice.total_gross_cents),
        credited=from_cents(-sum(note.total_gross_cents for note in invoice.credit_notes)),
        payments=[rules.PaymentFact(p.paid_on, p.method, from_cents(p.amount_cents)) for p in invoice.payments],
        fully_credited=bool(invoice.lines) and all(line.credit_line is not None for line in invoice.lines),
        due=invoice.due_date, today=today)


def test_the_sql_balance_and_state_agree_with_the_domain_rule(clinic):
    """balance.py (what every list, filter, report and page reads) gives what the pure rule gives, for invoices in
    every state: draft, open, part paid, paid, overpaid, refunded, part credited, credited, credited with a refund
    whose payment was reversed (more refunded than paid), overdue."""
    from backoffice.invoicing import balance

    day = date(2026, 10, 1)
    draft = services.draft_invoice(clinic.patient, [clinic.treatment()])
    invoices = {"draft": draft}
    for name in ("open", "part_paid", "paid", "overpaid", "refunded", "part_credited", "credited",
                 "credited_refunded", "overdue"):
        medical, cosmetic = clinic.treatment(), clinic.treatment("60.50", medical=False)
        invoices[name] = clinic.issued(medical, cosmetic, today=date(2026, 9, 1) if name == "overdue" else day)
    pay = {"part_paid": ["100"], "paid": ["235.50"], "overpaid": ["250"], "refunded": ["250", "-14.50"],
           "credited_refunded": ["20", "-20"], "overdue": ["50"]}
    for name in ("credited", "credited_refunded"):
        services.credit_invoice(invoices[name], None, today=day, renderer=Renderer())
    for name, amounts in pay.items():
        for number, amount in enumerate(amounts):
            record = services.record_refund if amount.startswith("-") else services.record_payment
            extra = {} if amount.startswith("-") else {"overpayment": True}
            record(invoices[name], date(2026, 10, 2 + number), ("pin", "cash")[number], amount.lstrip("-"), **extra)
    part = invoices["part_credited"]
    services.credit_invoice(part, [next(line.id for line in part.lines if not line.medical)], today=day,
                            renderer=Renderer())
    # Credited, paid 20 too much and refunded, then the payment reversed (recorded in error): 20 to pay again.
    wrong = invoices["credited_refunded"].payments[0]
    services.reverse_payment(invoices["credited_refunded"], wrong.id, "booked on the wrong invoice", today=day)
    db.session.commit()

    today = date(2026, 10, 20)
    in_sql = balance.statuses(invoices.values(), today)
    expected = {"draft": PaymentState.DRAFT, "open": PaymentState.OPEN, "part_paid": PaymentState.OPEN,
                "paid": PaymentState.PAID, "overpaid": PaymentState.PAID, "refunded": PaymentState.PAID,
                "part_credited": PaymentState.OPEN, "credited": PaymentState.CREDITED,
                "credited_refunded": PaymentState.CREDITED, "overdue": PaymentState.OPEN}
    for name, invoice in invoices.items():
        assert in_sql[invoice.id] == _domain_status(invoice, today), name
        assert in_sql[invoice.id].state is expected[name], name
        for state in (*PaymentState, "overdue"):  # the list's filters select exactly the invoices in that state
            chosen = db.session.scalar(select(func.count()).select_from(Invoice).where(
                Invoice.id == invoice.id, balance.in_state(state, today)))
            assert chosen == (in_sql[invoice.id].overdue if state == "overdue"
                              else in_sql[invoice.id].state is state), (name, state)
    assert in_sql[invoices["overdue"].id].overdue and in_sql[invoices["credited_refunded"].id].balance == 20
    assert in_sql[invoices["refunded"].id].last_method == "cash"
