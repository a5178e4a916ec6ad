"""The one set of test-data builders every test module uses (issue 9, part 9).

Plain builder functions rather than factory_boy: each builder adds a valid object with the clinic's usual values
to the session and flushes (so ids exist), every field can be overridden by keyword, and the caller decides when
to commit. factory_boy's SQLAlchemy factories would need a session bound at class definition (ours belongs to the
app of each test, on two backends), and most of what the scenes need is not field defaults but rules: a treatment's
VAT split and insurer amount come from `domain.vat`, an issued invoice goes through the invoicing service with
a stub renderer. Functions keep those rules in one visible place.

Use them inside an app context. Builders return the ORM object; the scenes (a test module's `clinic` fixture)
keep ids, not objects, so they survive the end of an app context; `committed()` builds one object in its own app
context and returns its id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from backoffice.domain import vat
from backoffice.domain.money import to_cents
from backoffice.extensions import db
from backoffice.models import (
    CatalogueItem,
    ClaimBatch,
    CoverageRule,
    CreditNote,
    Insurance,
    Insurer,
    InsurerClaimSettings,
    Intake,
    Invoice,
    KpRegistration,
    NvhMembership,
    Package,
    Patient,
    Practice,
    Referral,
    Therapist,
    Treatment,
    User,
)

ADMIN_EMAIL = "admin@clinic.nl"
THERAPIST_EMAIL = "eva@test.nl"
FAR_FUTURE = date(2031, 10, 31)


def _saved(obj: Any) -> Any:
    db.session.add(obj)
    db.session.flush()
    return obj


def committed(app: Any, builder: Callable[..., Any], *args: Any, **changes: Any) -> int:
    """`builder(*args, **changes)` in its own app context, committed; returns the new object's id. For tests that
    keep ids between requests: `factories.committed(app, factories.patient, "Jansen", "Eva")`."""
    with app.app_context():
        obj = builder(*args, **changes)
        db.session.commit()
        return obj.id


def stub_renderer(doc) -> bytes:
    """A PDF stand-in that still tells documents apart (kind, number and total)."""
    return f"%PDF-stub {doc.kind} {doc.number} {doc.total_gross}".encode()


def practice(**changes) -> Practice:
    values = {"name": "Huidtherapie Utrecht", "street": "Oudegracht 1", "postcode": "3511 AA", "city": "Utrecht",
              "kvk_number": "12345678", "vat_id": "NL123456789B01", "agb_code": "90001234",
              "iban": "NL91ABNA0417164300"}
    return _saved(Practice(**{**values, **changes}))


def user(email: str = THERAPIST_EMAIL, role: str = "therapist", name: str | None = None) -> User:
    """A user who never signs in (no usable password); tests that sign in use conftest's `users`."""
    return _saved(User(email=email, name=name or email.split("@")[0].title(), role=role, password_hash="x"))


def existing_user(email: str) -> User | None:
    return db.session.scalar(db.select(User).where(User.email == email))


def therapist(name: str = "Eva Jansen", agb_code: str = "90012345", *,
              kp: Iterable[tuple[date, date] | tuple[date, date, str]] | None = ((date(2022, 1, 1), FAR_FUTURE),),
              kp_number: str | None = None, kp_level: str = "kwaliteitsregister",
              nvh_number: str | None = "NVH-1", nvh_from: date = date(2019, 1, 1), nvh_until: date | None = None,
              **changes) -> Therapist:
    """A therapist with an NVH membership (none when `nvh_number` is None) and KP registrations over the given
    (start, end) or (start, end, level) periods (none when `kp` is None or empty), all under one KP number and
    at `kp_level` unless the period names its own level."""
    therapist = Therapist(name=name, agb_code=agb_code, **changes)
    if nvh_number is not None:
        therapist.nvh_memberships = [NvhMembership(member_number=nvh_number, valid_from=nvh_from,
                                                   valid_until=nvh_until)]
    therapist.kp_registrations = [
        KpRegistration(kp_number=kp_number or f"KP-{agb_code[-4:]}", level=level[0] if level else kp_level,
                       period_start=start, period_end=end)
        for start, end, *level in (kp or ())
    ]
    return _saved(therapist)


def insurer(name: str = "Zilveren Kruis", uzovi: str = "3311", packages: Iterable[str] = (), **changes) -> Insurer:
    return _saved(Insurer(name=name, uzovi=uzovi, packages=[Package(name=p) for p in packages], **changes))


def coverage_rule(insurer: Insurer, year: int = 2026, *, categories: Iterable[str] = ("acne", "scars"),
                  cap_cents: int | None = 30_000, cap_group: str | None = None, **changes) -> CoverageRule:
    """A rule for all the insurer's packages; its cap group is `acne-<insurer id>` unless given (`""` gives the
    rule its own cap, `rule-<id>`, as in the coverage domain)."""
    values = {"label": "Acne and scars", "cap_period": "year", "percentage": 100}
    group = f"acne-{insurer.id}" if cap_group is None else cap_group
    return _saved(CoverageRule(insurer_id=insurer.id, year=year, categories=list(categories), cap_cents=cap_cents,
                               cap_group=group, **{**values, **changes}))


def catalogue_item(code: str = "FL", name: str = "Fractional laser", *, technique: str | None = "fractional_laser",
                   prestatiecode: str = "9010", price_cents: int = 17_500, **changes) -> CatalogueItem:
    return _saved(CatalogueItem(code=code, name=name, technique=technique, prestatiecode=prestatiecode,
                                price_cents=price_cents, **changes))


def patient(last_name: str = "de Vries", first_name: str = "Anna", *, bsn: str | None = None, **changes) -> Patient:
    values = {"date_of_birth": date(1990, 5, 17), "street": "Laan 2", "postcode": "3512 BB", "city": "Utrecht"}
    patient = Patient(first_name=first_name, last_name=last_name, **{**values, **changes})
    if bsn is not None:
        patient.set_bsn(bsn)
    return _saved(patient)


def intake(patient: Patient, intake_date: date, *, contraindications: Iterable[dict[str, Any]] = (),
           medications: Iterable[dict[str, Any]] = (), consent_given: bool = True, **changes) -> Intake:
    """A dated intake; with consent (given by the patient on the intake date) unless `consent_given` is False.
    Entries are stored as the intake form stores them: `{"kind", "areas", "ended_on"}` and
    `{"medication", "stopped_on"}` with ISO dates."""
    consent = {"consent_by": "patient", "consent_on": intake_date} if consent_given else {}
    return _saved(Intake(patient_id=patient.id, intake_date=intake_date, contraindications=list(contraindications),
                         medications=list(medications), consent_given=consent_given, **{**consent, **changes}))


def insurance(patient: Patient, insurer: Insurer, *, package: Package | None = None,
              policy_number: str | None = None, valid_from: date = date(2026, 1, 1), **changes) -> Insurance:
    number = f"P-{patient.id:04d}" if policy_number is None else policy_number
    return _saved(Insurance(patient_id=patient.id, insurer_id=insurer.id, package_id=package.id if package else None,
                            policy_number=number, valid_from=valid_from, **changes))


def referral(patient: Patient, *, referral_date: date = date(2026, 9, 1), valid_until: date = date(2027, 9, 1),
             **changes) -> Referral:
    values = {"referrer_type": "dermatologist", "referrer_name": "Dr. S. Aydin", "referrer_agb": "03056789",
              "diagnosis": "Acnelittekens"}
    return _saved(Referral(patient_id=patient.id, referral_date=referral_date, valid_until=valid_until,
                           **{**values, **changes}))


def treatment(patient_id: int, therapist_id: int, item_id: int, day: date = date(2026, 11, 2), *,
              medical: bool = True, reimbursable: bool | None = None, price: str | Decimal | None = None,
              insurer_amount: str | Decimal | None = None, indication: str | None = None, insurer_id: int | None = None,
              rule: CoverageRule | None = None, referral_id: int | None = None, **changes) -> Treatment:
    """A recorded treatment priced like the treatment service does: gross price split into net and VAT by the
    medical/cosmetic rule; a medical one is reimbursable (unless `reimbursable` is False) for its full price unless
    `insurer_amount` says otherwise. Written directly (not through the service) so that scenes can place treatments
    on any date."""
    gross = Decimal(price or ("175.00" if medical else "60.50"))
    split = vat.split(gross, medical)
    reimbursable = medical if reimbursable is None else reimbursable
    full = split.gross if reimbursable else Decimal(0)
    reimbursed = Decimal(insurer_amount) if insurer_amount is not None else full
    return _saved(Treatment(
        patient_id=patient_id, therapist_id=therapist_id, treatment_date=day, catalogue_item_id=item_id,
        indication=indication or ("acne_scar" if medical else "fine_lines"), body_area="face",
        price_cents=to_cents(split.gross), medical=medical, vat_rate=int(split.rate), net_cents=to_cents(split.net),
        vat_cents=to_cents(split.vat), reimbursable=reimbursable, insurer_amount_cents=to_cents(reimbursed),
        insurer_id=insurer_id, coverage_rule_id=rule.id if rule else None,
        cap_group=(rule.cap_group or f"rule-{rule.id}") if rule else None,
        referral_id=referral_id, **changes,
    ))


def recorded_treatment(patient_id: int, therapist_id: int, item_id: int, day: date, *, indication: str = "acne_scar",
                       price_cents: int = 12_000, **fields) -> Treatment:
    """A treatment recorded through the treatment service with a passing screening: classified, priced and
    assessed (coverage, cap) like one entered on the web page, with its stored assessment."""
    from backoffice.domain.intake import Screening
    from backoffice.treatments import services

    data = services.TreatmentInput(therapist_id=therapist_id, treatment_date=day, catalogue_item_id=item_id,
                                   indication=indication, body_area=fields.pop("body_area", "face"),
                                   price_cents=price_cents, **fields)
    return services.record_treatment(db.session.get_one(Patient, patient_id), data, Screening(day=day))


def draft_invoice(patient_id: int, treatment_ids: Iterable[int], by: User) -> Invoice:
    from backoffice.invoicing import services

    return services.draft_invoice(db.session.get_one(Patient, patient_id), list(treatment_ids), user=by)


def issued_invoice(patient_id: int, treatment_ids: Iterable[int], by: User, today: date,
                   renderer: Callable[[Any], bytes] = stub_renderer) -> Invoice:
    """Drafted and issued through the invoicing service (number, stored PDF), as the web page does."""
    from backoffice.invoicing import services

    invoice = draft_invoice(patient_id, treatment_ids, by)
    services.issue_invoice(invoice, by, today=today, renderer=renderer)
    return invoice


def credit_note(invoice: Invoice, line_ids: list[int] | None, by: User, today: date, reason: str = "Dubbel",
                renderer: Callable[[Any], bytes] = stub_renderer) -> CreditNote:
    from backoffice.invoicing import services

    return services.credit_invoice(invoice, line_ids, reason=reason, user=by, today=today, renderer=renderer)


def claim_settings(insurer: Insurer, **changes) -> InsurerClaimSettings:
    """The insurer's claim settings row (direct billing, 12 months' deadline, no BSN unless `bsn_required`)."""
    values = {"direct_billing": True, "deadline_months": 12, "bsn_required": False}
    return _saved(InsurerClaimSettings(insurer_id=insurer.id, **{**values, **changes}))


def submitted_batch(insurer: Insurer, invoice_line_ids: Iterable[int], by: User, submitted_at: datetime,
                    period: tuple[date, date] = (date(2026, 1, 1), date(2026, 12, 31))) -> ClaimBatch:
    """A claim batch of these lines, validated and submitted at `submitted_at` without outcomes (the export that
    normally comes before submitting writes a workbook file; a scene about waiting for outcomes needs none)."""
    from backoffice.claims import batches
    from backoffice.claims.validation import validate

    day = submitted_at.date()
    batch = batches.new_batch(insurer, *period, by, day)
    batches.add_lines(batch, list(invoice_line_ids))
    validate(batch, today=day)
    batch.status, batch.submitted_at, batch.submitted_by_id = "submitted", submitted_at, by.id
    db.session.flush()
    return batch


def claim_batch(insurer: Insurer, by: User, submitted_at: datetime, *, number: str | None = None) -> ClaimBatch:
    """A claim batch exported and submitted at `submitted_at`, without lines (add them with `claim_line`)."""
    day = submitted_at.date()
    count = db.session.scalar(db.select(db.func.count(ClaimBatch.id))) or 0
    return _saved(ClaimBatch(
        insurer_id=insurer.id, number=number or f"{insurer.uzovi}-{day.year}-{count + 1:03d}",
        period_start=date(day.year, 1, 1), period_end=date(day.year, 12, 31), status="submitted", claim_date=day,
        created_by_id=by.id, exported_at=submitted_at, exported_by_id=by.id, submitted_at=submitted_at,
        submitted_by_id=by.id))


def claim_line(batch: ClaimBatch, invoice_line_id: int, *, status: str = "pending", paid_cents: int = 0,
               outcome_at: datetime | None = None, outcome_by: User | None = None, rejection_code: str = "",
               rejection_text: str = "") -> Any:
    """An included line of `batch` for one invoice line, claimed for its insurer amount, with the insurer's
    outcome as given (written directly, so a scene can hold any outcome on any day)."""
    from backoffice.models import ClaimLine, InvoiceLine

    line = db.session.get_one(InvoiceLine, invoice_line_id)
    live = None if status == "rejected" else True
    return _saved(ClaimLine(batch_id=batch.id, invoice_line_id=line.id, included=True, live=live, status=status,
                            amount_cents=line.gross_cents, expected_cents=line.insurer_amount_cents,
                            claimed_cents=line.insurer_amount_cents, paid_cents=paid_cents,
                            rejection_code=rejection_code, rejection_text=rejection_text, outcome_at=outcome_at,
                            outcome_by_id=outcome_by.id if outcome_by else None))


def settlement(invoice: Invoice, invoice_line_id: int, by: User, settled_on: date, *, kind: str = "written_off",
               amount_cents: int = 1_000, reason: str = "Verschil met de verzekeraar") -> Any:
    """An insurer's part settled by the admin (moved to the patient or written off)."""
    from backoffice.models import InsurerSettlement

    return _saved(InsurerSettlement(invoice_id=invoice.id, invoice_line_id=invoice_line_id, kind=kind,
                                    amount_cents=amount_cents, reason=reason, settled_on=settled_on,
                                    recorded_by_id=by.id))


def document_sending(invoice: Invoice, by: User | None, at: datetime, *, kind: str = "invoice", sent: bool = True,
                     to: str = "anna@example.nl", error: str = "Connection refused") -> Any:
    """An e-mail with an invoice document (backoffice/mail/), sent at `at` or failed then."""
    from backoffice.models import DocumentSending

    return _saved(DocumentSending(
        kind=kind, patient_id=invoice.patient_id, invoice_id=invoice.id, to_address=to, subject="Uw factuur",
        body="Beste patiënt,", status="sent" if sent else "failed", error="" if sent else error, attempts=1,
        created_at=at, last_attempt_at=at, sent_at=at if sent else None, sent_by_id=by.id if by else None))


def invoice_reminder(invoice: Invoice, sent_on: date, deadline: date, *, stage: str = "friendly",
                     open_cents: int | None = None, collection_costs_cents: int = 0, by: User | None = None) -> Any:
    """A payment reminder stage recorded for an invoice (backoffice/reminders/), with a stand-in PDF."""
    import hashlib

    from backoffice.models import InvoiceReminder

    pdf = f"%PDF-stub reminder {invoice.number} {stage}".encode()
    return _saved(InvoiceReminder(
        invoice_id=invoice.id, stage=stage, sent_on=sent_on, deadline=deadline,
        open_cents=invoice.total_gross_cents if open_cents is None else open_cents,
        collection_costs_cents=collection_costs_cents, delivery="email", pdf=pdf,
        pdf_sha256=hashlib.sha256(pdf).hexdigest(), created_by_id=by.id if by else None))
