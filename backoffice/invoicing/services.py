"""Invoice use cases: draft, issue, credit, record payments, status and overdue list.

Services add and flush; the caller (view or CLI command) commits once, so the number a service takes, the
invoice it numbers, its PDF and the access-log entry are stored together or not at all.

Issuing locks the draft row and then the counter row (always in that order, so two issuers cannot deadlock),
re-reads the status after the lock (a double-click or a second process finds it issued and gets it back
unchanged), checks for missing data before any number is taken, and renders the PDF exactly once.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Integer, Select, and_, delete, exists, literal_column, select, union, union_all
from sqlalchemy.orm import joinedload, selectinload

from .. import audit
from ..clock import clinic_timezone, clinic_today, utc_now
from ..documents.data import InvoiceDocument
from ..domain import invoicing as rules
from ..domain.dutch import nl_date
from ..domain.indications import Indication, Technique
from ..domain.money import format_euro, from_cents, to_cents
from ..domain.months import Month
from ..domain.statuses import InvoiceStatus
from ..domain.texts import N_, Text
from ..errors import ServiceError
from ..extensions import db
from ..formtools import month_arg
from ..i18n import dutch
from ..labels import body_area_label, indication_label, referrer_label, technique_label
from ..models import (
    DESK_PAYMENT_METHODS,
    PAYMENT_METHODS,
    CreditNote,
    CreditNoteLine,
    InsurerClaimSettings,
    Invoice,
    InvoicedTreatment,
    InvoiceLine,
    IssueRequest,
    Patient,
    Payment,
    Practice,
    Treatment,
    User,
)
from ..paging import INTEGER_LIMIT, Cursor, Keyset, Page
from . import balance, documents, insurer_parts, numbering

log = logging.getLogger(__name__)

Renderer = Callable[[InvoiceDocument], bytes]


class InvoiceError(ServiceError):
    """A use case cannot go ahead; the message says why, for the user."""


class MissingData(InvoiceError):  # noqa: N818 - reads as the message: "missing data: ..."
    """Issuing stopped before a number was taken; `fields` names every missing field."""

    def __init__(self, fields: Sequence[str | Text]):
        self.fields = list(fields)
        super().__init__(_("Cannot issue: missing %(fields)s.", fields="; ".join(map(str, self.fields))))


def _default_renderer(doc: InvoiceDocument) -> bytes:
    from ..documents.pdf import render_invoice  # WeasyPrint costs 0.6 s to import: only when printing

    return render_invoice(doc)


def _practice() -> Practice | None:
    return db.session.scalar(select(Practice).order_by(Practice.id).limit(1))


def _user_id(user) -> int | None:
    return getattr(user, "id", None) if getattr(user, "is_authenticated", True) else None


def _lock_invoice(invoice: Invoice) -> Invoice:
    """Lock the invoice row (FOR UPDATE on PostgreSQL) and read it afresh: another transaction may have
    issued it since it was loaded."""
    return db.session.execute(
        select(Invoice).where(Invoice.id == invoice.id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()


# ---- drafting -------------------------------------------------------------------------------------------

def not_invoiced() -> ColumnElement[bool]:
    """A treatment on no invoice now (draft or issued; a credited one is free again) and not withdrawn: what can be
    invoiced. The one definition, used by the patient's draft, bulk invoicing and the home page's work list."""
    return and_(Treatment.withdrawn_at.is_(None), ~exists().where(InvoicedTreatment.treatment_id == Treatment.id))


def invoiceable_treatments(patient: Patient) -> list[Treatment]:
    """The patient's treatments not on any invoice (draft or issued) now; credited ones count as free again."""
    return list(db.session.scalars(
        select(Treatment)
        .options(selectinload(Treatment.catalogue_item), selectinload(Treatment.therapist))
        .where(Treatment.patient_id == patient.id, not_invoiced())
        .order_by(Treatment.treatment_date, Treatment.id)
    ))


def _referral_text(treatment: Treatment) -> str:
    """The referral as printed on the invoice line, in Dutch (call inside i18n.dutch())."""
    referral = treatment.referral
    if referral is None:
        return ""
    kind = referrer_label(referral.referrer_type)
    agb = f" (AGB {referral.referrer_agb})" if referral.referrer_agb else ""
    diagnosis = f": {referral.diagnosis}" if referral.diagnosis else ""
    return f"{kind} {referral.referrer_name}{agb}, {nl_date(referral.referral_date)}{diagnosis}"


def _copy_treatment(line: InvoiceLine, treatment: Treatment) -> None:
    """Copy the treatment's stored assessment and names onto a draft line (again at issue, so a therapist AGB
    filled in after drafting, or a re-assessment, is what gets printed).

    The words copied (indication, technique, body area, referrer) are the Dutch labels whatever the user's
    language: the line is what the printed invoice and declaration show."""
    with dutch():
        _copy_treatment_dutch(line, treatment)


def _copy_treatment_dutch(line: InvoiceLine, treatment: Treatment) -> None:
    item = treatment.catalogue_item
    amounts = rules.LineAmounts(
        gross=from_cents(treatment.price_cents), net=from_cents(treatment.net_cents),
        vat=from_cents(treatment.vat_cents), rate=Decimal(treatment.vat_rate), exempt=treatment.vat_rate == 0,
    )  # raises if the stored figures do not add up: better than printing them
    line.treatment_id = treatment.id
    line.treatment_date = treatment.treatment_date
    line.description = item.name
    line.prestatiecode = item.prestatiecode or ""
    line.indication = indication_label(Indication(treatment.indication))  # a CHECK keeps it a known value
    line.medical = treatment.medical
    line.reimbursable = treatment.reimbursable
    line.quantity = 1
    line.gross_cents, line.net_cents, line.vat_cents = (to_cents(amounts.gross), to_cents(amounts.net),
                                                        to_cents(amounts.vat))
    line.vat_rate = treatment.vat_rate
    line.vat_exemption = rules.TOTAL_EXEMPT_LABEL if amounts.exempt else ""
    line.therapist_name = treatment.therapist.name
    line.therapist_agb = treatment.therapist.agb_code or ""
    line.technique = technique_label(Technique(item.technique)) if item.technique else ""
    line.body_area = body_area_label(treatment.body_area)
    line.referral = _referral_text(treatment)
    line.insurer_amount_cents = treatment.insurer_amount_cents
    line.insurer_part_cents = insurer_parts.insurer_part_cents(treatment)  # direct billing: the insurer's part


def _store_totals(invoice: Invoice) -> rules.Totals:
    totals = rules.totals(documents.line_amounts(line) for line in invoice.lines)
    invoice.total_gross_cents = to_cents(totals.gross)
    invoice.total_net_cents = to_cents(totals.net)
    invoice.total_vat_cents = to_cents(totals.vat)
    return totals


def _describe(treatments: Iterable[Treatment]) -> str:
    return ", ".join(f"{nl_date(t.treatment_date)} (#{t.id})" for t in treatments)


def draft_invoice(patient: Patient, treatment_ids: Iterable[int], user=None) -> Invoice:
    """A draft invoice for some of this patient's treatments that are on no other invoice."""
    wanted = sorted(set(treatment_ids))
    if not wanted:
        raise InvoiceError(_("Choose at least one treatment to invoice."))
    found = {t.id: t for t in db.session.scalars(
        select(Treatment)
        .options(selectinload(Treatment.catalogue_item), selectinload(Treatment.therapist),
                 selectinload(Treatment.referral))
        .where(Treatment.id.in_(wanted))
    )}
    foreign = [i for i in wanted if i not in found or found[i].patient_id != patient.id]
    if foreign:
        raise InvoiceError(_("Treatment(s) %(ids)s are not treatments of this patient.",
                             ids=", ".join(map(str, foreign))))
    withdrawn = [found[i] for i in wanted if found[i].withdrawn_at is not None]
    if withdrawn:
        raise InvoiceError(_("Withdrawn treatments are never invoiced: %(treatments)s.", treatments=", ".join(
            f"{nl_date(t.treatment_date)} (#{t.id})" for t in withdrawn)))
    taken = db.session.execute(
        select(InvoicedTreatment.treatment_id, Invoice.number)
        .join(InvoiceLine, InvoiceLine.id == InvoicedTreatment.invoice_line_id)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(InvoicedTreatment.treatment_id.in_(wanted))
    ).all()
    if taken:
        where = ", ".join(
            _("%(date)s (#%(id)s) on invoice %(number)s", date=nl_date(found[tid].treatment_date), id=tid,
              number=number) if number else
            _("%(date)s (#%(id)s) on a draft invoice", date=nl_date(found[tid].treatment_date), id=tid)
            for tid, number in taken
        )
        raise InvoiceError(_("Already invoiced: %(where)s. Credit the invoice (or remove the draft line) first.",
                             where=where))
    invoice = Invoice(patient_id=patient.id, status=InvoiceStatus.DRAFT.value, created_by_id=_user_id(user))
    db.session.add(invoice)
    for treatment in sorted(found.values(), key=lambda t: (t.treatment_date, t.id)):
        line = InvoiceLine()
        _copy_treatment(line, treatment)
        # The claim row is the database's guarantee: a treatment is on at most one live invoice line.
        line.claim = InvoicedTreatment(treatment_id=treatment.id)
        invoice.lines.append(line)
    _store_totals(invoice)
    db.session.flush()
    audit.record("create", patient, f"invoice draft {invoice.id}",
                 f"draft for treatments {_describe(found.values())}", user=user)
    return invoice


def _require_draft(invoice: Invoice) -> None:
    """A draft that may still change: not issued, and not waiting for the print worker to issue it (a request that
    failed or went stale is dropped: the user is changing the draft instead)."""
    if invoice.status != InvoiceStatus.DRAFT:
        raise InvoiceError(_("Invoice %(number)s is issued: it cannot be changed. Credit it instead.",
                             number=invoice.number))
    request = issue_request(invoice)
    if request is not None:
        if issue_pending(request):
            raise InvoiceError(_("This draft is being issued: wait for its number, then credit it if it must "
                                 "change."))
        db.session.delete(request)


def remove_line(invoice: Invoice, line_id: int, user=None) -> None:
    """Take a treatment off a draft; it becomes invoiceable again."""
    invoice = _lock_invoice(invoice)
    _require_draft(invoice)
    line = next((line for line in invoice.lines if line.id == line_id), None)
    if line is None:
        raise InvoiceError(_("That line is not on this invoice."))
    invoice.lines.remove(line)
    _store_totals(invoice)
    db.session.flush()
    audit.record("update", invoice.patient_id, f"invoice draft {invoice.id}",
                 f"removed treatment {nl_date(line.treatment_date)} (#{line.treatment_id})", user=user)


def delete_draft(invoice: Invoice, user=None) -> None:
    invoice = _lock_invoice(invoice)
    _require_draft(invoice)
    patient_id, invoice_id = invoice.patient_id, invoice.id
    db.session.delete(invoice)
    db.session.flush()
    audit.record("delete", patient_id, f"invoice draft {invoice_id}", "draft deleted", user=user)


# ---- issuing --------------------------------------------------------------------------------------------

def _practice_facts(practice: Practice | None) -> rules.PracticeFacts | None:
    if practice is None:
        return None
    return rules.PracticeFacts(name=practice.name, street=practice.street, postcode=practice.postcode,
                               city=practice.city, kvk_number=practice.kvk_number, vat_id=practice.vat_id,
                               agb_code=practice.agb_code)


def _patient_facts(patient: Patient, day: date) -> rules.PatientFacts:
    insurance = patient.insurance_on(day)
    return rules.PatientFacts(name=patient.full_name, street=patient.street, postcode=patient.postcode,
                              city=patient.city, policy_number=insurance.policy_number if insurance else "")


def _line_facts(lines: Iterable[InvoiceLine], codes: bool = False) -> list[rules.LineFacts]:
    """The lines as the missing-data rules read them; `codes`: check the prestatiecode of reimbursable lines
    (on issuing; a credit note reverses an invoice as it was issued, with or without codes)."""
    return [rules.LineFacts(treatment_date=line.treatment_date, medical=line.medical,
                            therapist_name=line.therapist_name, therapist_agb=line.therapist_agb,
                            reimbursable=line.reimbursable, description=line.description,
                            prestatiecode=(line.prestatiecode or "") if codes else None) for line in lines]


def missing_for_invoice(invoice: Invoice, practice: Practice | None = None) -> list[Text]:
    """What stops this draft from being issued (empty when it can be). Safe to show before issuing."""
    lines = invoice.lines
    day = documents.last_treatment_date(lines) or clinic_today()
    return rules.missing_invoice_fields(_practice_facts(practice or _practice()),
                                        _patient_facts(invoice.patient, day), _line_facts(lines, codes=True))


def claim_lines(treatments: Sequence[Treatment], prestatiecodes: dict[int, str] | None = None) -> list[rules.ClaimLine]:
    """The reimbursable treatments as the "what is missing" check reads them (one query for the insurers'
    settings). `prestatiecodes` (treatment id -> code) overrides the catalogue's code: a claim line carries the
    code frozen on its issued invoice line."""
    reimbursable = [t for t in treatments if t.reimbursable]
    insurer_ids = {t.insurer_id for t in reimbursable if t.insurer_id is not None}
    bsn_required = {s.insurer_id: bool(s.bsn_required) for s in db.session.scalars(
        select(InsurerClaimSettings).where(InsurerClaimSettings.insurer_id.in_(insurer_ids)))} if insurer_ids else {}
    lines = []
    for t in reimbursable:
        referral = t.referral if t.referral is not None and not t.referral.withdrawn else None
        code = (prestatiecodes or {}).get(t.id, t.catalogue_item.prestatiecode)
        lines.append(rules.ClaimLine(
            treatment_id=t.id, treatment_date=t.treatment_date, description=t.catalogue_item.name,
            catalogue_item_id=t.catalogue_item_id, prestatiecode=code or "",
            insurer_name=t.insurer.name if t.insurer is not None else "",
            bsn_required=bsn_required.get(t.insurer_id or 0, False),
            referral_required=bool(t.coverage_rule is not None and t.coverage_rule.referral_required),
            referral_from=referral.referral_date if referral else None,
            referral_until=referral.valid_until if referral else None,
        ))
    return lines


def claim_patient(patient: Patient) -> rules.ClaimPatient:
    return rules.ClaimPatient(
        bsn_recorded=bool(patient.bsn_encrypted),
        id_document_recorded=bool(patient.id_document_type and (patient.id_document_number or "").strip()),
        intake_dates=tuple(i.intake_date for i in patient.intakes),
    )


def claim_gaps(treatments: Sequence[Treatment], patient: Patient) -> list[rules.Missing]:
    """What the claim or declaration of these treatments would lack (BSN and ID document where the insurer asks
    for the BSN, prestatiecode, referral where the rule requires one, an intake valid on the treatment date),
    looking at the reimbursable ones only. Read now, so what was fixed since drafting no longer shows."""
    lines = claim_lines(treatments)
    if not lines:
        return []
    return rules.claim_gaps(claim_patient(patient), lines, int(current_app.config["INTAKE_VALIDITY_MONTHS"]))


def claim_gaps_for_invoice(invoice: Invoice) -> list[rules.Missing]:
    """The "what is missing for a claim or declaration" panel of a draft invoice (its treatments as they are now)."""
    treatments = list(db.session.scalars(
        select(Treatment)
        .options(selectinload(Treatment.catalogue_item), selectinload(Treatment.referral),
                 selectinload(Treatment.coverage_rule), selectinload(Treatment.insurer))
        .where(Treatment.id.in_([line.treatment_id for line in invoice.lines]))
    ))
    return claim_gaps(treatments, invoice.patient)


def _pdf_fields(pdf: bytes) -> tuple[bytes, str]:
    if not isinstance(pdf, bytes) or not pdf:
        raise InvoiceError(_("The document renderer returned no PDF."))
    return pdf, hashlib.sha256(pdf).hexdigest()


def issue_invoice(invoice: Invoice, user=None, today: date | None = None,
                  renderer: Renderer | None = None) -> Invoice:
    """Number, freeze and print a draft. Issuing an issued invoice returns it unchanged (double-click).

    `renderer` turns the InvoiceDocument into PDF bytes (default: backoffice.documents.pdf.render_invoice);
    tests pass a stub where they are about numbering, not printing.

    The steps (refresh_draft, number_draft, store_issued) are separate so that bulk invoicing
    (backoffice/invoice_runs/) can render many documents at once in the print pool between numbering and storing.
    """
    if invoice.status == InvoiceStatus.ISSUED:
        return invoice
    invoice = _lock_invoice(invoice)
    if invoice.status == InvoiceStatus.ISSUED:  # issued by someone else while we waited for the lock
        return invoice
    practice = _practice()
    refresh_draft(invoice, practice)
    assert practice is not None  # a missing practice is one of the missing fields
    pending = number_draft(invoice, practice, today or clinic_today())
    return store_issued(pending, (renderer or _default_renderer)(pending.doc), user)


# ---- issuing in the background ----------------------------------------------------------------------------
# With a print worker (PRINT_QUEUE_URL names a queue), the issue button does not render the PDF in the request
# (about 0.1 s on a quiet machine, 1 s and more on a busy one, under the number counter's lock): request_issue
# checks the draft at once (missing data is refused in the request, nothing is queued) and records the request;
# the view queues issue_requested after the commit, and the worker issues the draft with issue_invoice, in the
# requesting user's name. The invoice page shows it as being issued until then. A request the worker has not
# finished within PRINT_JOB_STALE_SECONDS (a stopped worker) no longer holds the draft: issuing again issues it in
# the request.

def issue_request(invoice: Invoice) -> IssueRequest | None:
    return db.session.get(IssueRequest, invoice.id) if invoice.status == InvoiceStatus.DRAFT else None


def issue_pending(request: IssueRequest | None, now: datetime | None = None) -> bool:
    """Whether the worker is still expected to issue the draft: asked, not failed, not stale."""
    from ..printing.services import stale_after  # the print worker's one setting (printing imports invoicing)

    if request is None or request.failed_at is not None:
        return False
    return (now or utc_now()) - request.requested_at < stale_after()


def request_issue(invoice: Invoice, user=None) -> IssueRequest | None:
    """Check the draft now and ask the print worker to issue it; None when it is issued already (double-click).

    Raises MissingData exactly as issuing would, before anything is recorded. Asking again (a second click, or after
    a failure) records the request afresh: the worker issues a draft once, whatever it is asked."""
    if invoice.status == InvoiceStatus.ISSUED:
        return None
    invoice = _lock_invoice(invoice)  # the same order as issuing: the draft first
    if invoice.status == InvoiceStatus.ISSUED:
        return None
    refresh_draft(invoice, _practice())
    request = db.session.get(IssueRequest, invoice.id)
    if request is None:
        request = IssueRequest(invoice_id=invoice.id)
        db.session.add(request)
    request.requested_by_id = _user_id(user)
    request.requested_at = utc_now()
    request.failed_at = None
    db.session.flush()
    return request


def issue_requested(invoice_id: int) -> Invoice | None:
    """The print worker's part: issue the draft whose issue was requested, in the requesting user's name, and commit.

    Nothing to do when the request is gone (issued in the request meanwhile, or the draft deleted). When issuing
    fails (data gone missing since the request, a PDF that failed), nothing of it is stored and the request is kept
    as failed: the invoice page says so and offers issuing again."""
    from .. import unit_of_work

    request = db.session.get(IssueRequest, invoice_id)
    invoice = db.session.get(Invoice, invoice_id)
    if request is None or invoice is None:
        return None
    user = db.session.get(User, request.requested_by_id) if request.requested_by_id is not None else None
    try:
        issued = issue_invoice(invoice, user)
        unit_of_work.commit()
        return issued
    except Exception as error:
        unit_of_work.rollback()
        if isinstance(error, InvoiceError):  # a refusal (missing data, say): the page shows what is missing
            log.warning("invoice draft %s was not issued in the background: %s", invoice_id, error)
        else:
            log.exception("issuing invoice draft %s in the background failed", invoice_id)
        request = db.session.get(IssueRequest, invoice_id)
        if request is not None:
            request.failed_at = utc_now()
            unit_of_work.commit()
        return None


@dataclass(frozen=True)
class PendingIssue:
    """A draft whose number is taken and whose document is built: only its PDF is still to come. Store it with
    `store_issued` in the transaction that took the number (that is what keeps the series without gaps)."""

    invoice: Invoice
    doc: InvoiceDocument
    sequence: int
    issue_date: date
    due_date: date


def check_issuable(invoice: Invoice, practice: Practice | None) -> None:
    """Raise MissingData naming every field the draft cannot be issued without; before any number is taken."""
    missing = missing_for_invoice(invoice, practice)
    if missing:
        raise MissingData(missing)  # before the number: nothing is taken, nothing to roll back


def refresh_draft(invoice: Invoice, practice: Practice | None) -> None:
    """Copy the treatments onto the draft's lines afresh, then check it (what is checked is what gets printed)."""
    treatments = {t.id: t for t in db.session.scalars(
        select(Treatment)
        .options(selectinload(Treatment.catalogue_item), selectinload(Treatment.therapist),
                 selectinload(Treatment.referral))
        .where(Treatment.id.in_([line.treatment_id for line in invoice.lines]))
    )}
    for line in invoice.lines:
        _copy_treatment(line, treatments[line.treatment_id])
    _store_totals(invoice)
    db.session.flush()  # lines first: once the invoice row says 'issued' its lines are frozen
    check_issuable(invoice, practice)


def number_draft(invoice: Invoice, practice: Practice, today: date) -> PendingIssue:
    """Take the next number and build the printed document (Dutch). Everything the document needs is read before
    the number is taken: the counter row stays locked until the transaction ends."""
    term = int(current_app.config.get("INVOICE_PAYMENT_TERM_DAYS", 14))
    due = rules.due_date(today, term)
    practice_info = documents.practice_info(practice)
    patient_info = documents.patient_info(invoice.patient, documents.last_treatment_date(invoice.lines) or today)
    sequence = numbering.take_next(rules.series_name(rules.INVOICE_SERIES, today.year))
    number = rules.format_number(rules.INVOICE_SERIES, today.year, sequence)
    with dutch():  # the printed invoice is Dutch whatever the user's language
        doc = documents.invoice_document(invoice, practice_info, patient_info, number, today, due, term)
    return PendingIssue(invoice, doc, sequence, today, due)


def store_issued(pending: PendingIssue, pdf: bytes, user=None) -> Invoice:
    """Freeze the numbered draft with its PDF and SHA-256: one UPDATE from draft to issued, which the guards
    (models/guards.py) allow because the row is still a draft until it is written."""
    pdf, digest = _pdf_fields(pdf)
    invoice, doc = pending.invoice, pending.doc
    # Everything that may query is read first: a query between the assignments below would autoflush half of them
    # (status issued) and the rest would be a second UPDATE of an issued invoice, which the guards refuse. An
    # expired `user` (committed since it was loaded, as in the worker's session) loads on `user.id`.
    issued_by_id, snapshot = _user_id(user), documents.document_snapshot(doc)
    invoice.status = InvoiceStatus.ISSUED.value
    invoice.number = doc.number
    invoice.series_year = pending.issue_date.year
    invoice.sequence = pending.sequence
    invoice.issue_date = pending.issue_date
    invoice.due_date = pending.due_date
    invoice.snapshot = snapshot
    invoice.pdf = pdf
    invoice.pdf_sha256 = digest
    invoice.issued_by_id = issued_by_id
    invoice.issued_at = utc_now()
    db.session.flush()
    # Issued, whichever path issued it: a request for it is done (one statement, also when there was none).
    db.session.execute(delete(IssueRequest).where(IssueRequest.invoice_id == invoice.id))
    audit.record("create", invoice.patient_id, f"invoice {doc.number}",
                 f"issued invoice {doc.number} ({len(invoice.lines)} lines, total {doc.total_gross}); "
                 f"PDF sha256 {digest[:12]}", user=user)
    audit.record("print", invoice.patient_id, f"invoice {doc.number}", "PDF rendered at issue", user=user)
    return invoice


def invoice_pdf(invoice: Invoice, user=None) -> bytes:
    """The PDF exactly as rendered at issue (checked against its SHA-256); logged as a print."""
    if invoice.status != InvoiceStatus.ISSUED:
        raise InvoiceError(_("A draft has no PDF yet: issue it first."))
    return _stored_pdf(invoice, f"invoice {invoice.number}", user)


def credit_note_pdf(credit_note: CreditNote, user=None) -> bytes:
    return _stored_pdf(credit_note, f"credit note {credit_note.number}", user,
                       patient_id=credit_note.invoice.patient_id)


def stored_pdf(document: Invoice | CreditNote) -> bytes:
    """The PDF of an issued invoice or a credit note exactly as stored at issue, checked against its SHA-256;
    not logged (the caller logs what it does with it: a download, an e-mail)."""
    pdf = document.pdf
    if isinstance(document, Invoice) and document.status != InvoiceStatus.ISSUED:
        raise InvoiceError(_("A draft has no PDF yet: issue it first."))
    if pdf is None or hashlib.sha256(pdf).hexdigest() != document.pdf_sha256:
        raise InvoiceError(_("The stored PDF of %(document)s does not match its checksum: it was altered.",
                             document=document.number))
    return pdf


def _stored_pdf(document, subject: str, user, patient_id: int | None = None) -> bytes:
    pdf = stored_pdf(document)
    audit.record("print", patient_id if patient_id is not None else document.patient_id, subject,
                 "stored PDF downloaded", user=user)
    return pdf


def invoice_document(invoice: Invoice) -> InvoiceDocument:
    """The document as printed, from the snapshot taken at issue."""
    if invoice.snapshot is None:
        raise InvoiceError(_("A draft has no printed document yet."))
    return documents.document_from_snapshot(invoice.snapshot)


# ---- credit notes ---------------------------------------------------------------------------------------

def credit_invoice(invoice: Invoice, line_ids: Iterable[int] | None = None, reason: str = "", user=None,
                   today: date | None = None, renderer: Renderer | None = None) -> CreditNote:
    """A credit note (own series) for the given lines of an issued invoice, or for all lines not yet credited.

    The credited treatments become invoiceable again; a replacement is simply a new invoice.
    """
    invoice = _lock_invoice(invoice)
    if invoice.status != InvoiceStatus.ISSUED:
        raise InvoiceError(_("Only an issued invoice can be credited; a draft can be changed or deleted."))
    lines = _lines_to_credit(invoice, line_ids)
    today = today or clinic_today()
    last_treatment = documents.last_treatment_date(lines) or today  # never empty: lines were chosen
    practice = _practice()
    missing = rules.missing_invoice_fields(
        _practice_facts(practice), _patient_facts(invoice.patient, last_treatment), _line_facts(lines))
    if missing:
        raise MissingData(missing)
    assert practice is not None  # a missing practice is one of the missing fields

    reason = (reason or "").strip()
    practice_info = documents.practice_info(practice)
    patient_info = documents.patient_info(invoice.patient, last_treatment)
    sequence = numbering.take_next(rules.series_name(rules.CREDIT_SERIES, today.year))
    number = rules.format_number(rules.CREDIT_SERIES, today.year, sequence)
    with dutch():
        doc = documents.credit_note_document(invoice, lines, practice_info, patient_info, number, today, reason)
    pdf, digest = _pdf_fields((renderer or _default_renderer)(doc))

    credit_note = CreditNote(
        number=number, series_year=today.year, sequence=sequence, invoice_id=invoice.id, issue_date=today,
        reason=reason, total_gross_cents=to_cents(doc.total_gross), total_net_cents=to_cents(doc.total_net),
        total_vat_cents=to_cents(doc.total_vat), snapshot=documents.document_snapshot(doc), pdf=pdf,
        pdf_sha256=digest, created_by_id=_user_id(user), lines=[_credit_line(line) for line in lines],
    )
    db.session.add(credit_note)
    # Free the treatments: the claim rows go (delete-orphan); the issued lines stay exactly as printed.
    for line in lines:
        line.claim = None
    db.session.flush()
    audit.record("create", invoice.patient_id, f"credit note {number}",
                 f"credits {len(lines)} line(s) of invoice {invoice.number}, total {doc.total_gross}"
                 + (f"; reason: {reason}" if reason else ""), user=user)
    audit.record("print", invoice.patient_id, f"credit note {number}", "PDF rendered at issue", user=user)
    return credit_note


def _lines_to_credit(invoice: Invoice, line_ids: Iterable[int] | None) -> list[InvoiceLine]:
    """The lines `line_ids` of `invoice` (all not yet credited when None); refused when one is unknown or
    already credited, or when nothing is left."""
    if line_ids is None:
        lines = [line for line in invoice.lines if line.credit_line is None]
        if not lines:
            raise InvoiceError(_("Invoice %(number)s is already fully credited.", number=invoice.number))
        return lines
    wanted = set(line_ids)
    if not wanted:
        raise InvoiceError(_("Choose at least one line to credit."))
    by_id = {line.id: line for line in invoice.lines}
    unknown = sorted(wanted - by_id.keys())
    if unknown:
        raise InvoiceError(_("Line(s) %(ids)s are not on invoice %(number)s.", ids=", ".join(map(str, unknown)),
                             number=invoice.number))
    done = sorted(i for i in wanted if by_id[i].credit_line is not None)
    if done:
        raise InvoiceError(_("Line(s) %(ids)s of invoice %(number)s are already credited.",
                             ids=", ".join(map(str, done)), number=invoice.number))
    return [line for line in invoice.lines if line.id in wanted]


def _credit_line(line: InvoiceLine) -> CreditNoteLine:
    amounts = documents.line_amounts(line).negated()
    return CreditNoteLine(invoice_line=line, gross_cents=to_cents(amounts.gross), net_cents=to_cents(amounts.net),
                          vat_cents=to_cents(amounts.vat), vat_rate=line.vat_rate)


# ---- payments and status --------------------------------------------------------------------------------

def _open_balance_cents(invoice: Invoice) -> int:
    return to_cents(invoice_status(invoice).balance)


def record_payment(invoice: Invoice, paid_on: date, method: str, amount: Decimal | str, note: str = "",
                   user=None, overpayment: bool = False) -> Payment:
    """Record money received against an issued invoice: more than 0, and at most the open balance unless it is
    recorded knowingly as an overpayment (`overpayment`: the excess is to be refunded, see record_refund)."""
    invoice = _lock_invoice(invoice)  # two payments at once must not both fit the same open balance
    if invoice.status != InvoiceStatus.ISSUED:
        raise InvoiceError(_("Payments are recorded against issued invoices only."))
    if method not in DESK_PAYMENT_METHODS:  # the insurer's payments come from its outcomes (insurer_parts.py)
        raise InvoiceError(_("Unknown payment method %(method)s; choose one of %(methods)s.", method=repr(method),
                             methods=", ".join(DESK_PAYMENT_METHODS)))
    cents = to_cents(Decimal(amount))
    if cents <= 0:
        raise InvoiceError(_("A payment needs an amount above 0. A refund is recorded as a refund; a wrong "
                             "payment is reversed."))
    open_cents = _open_balance_cents(invoice)
    above = cents > open_cents
    if above and not overpayment:
        if open_cents > 0:
            raise InvoiceError(_("The open balance is %(balance)s: enter at most that amount, or record the payment "
                                 "as an overpayment to refund.", balance=format_euro(from_cents(open_cents))))
        raise InvoiceError(_("Nothing is open on this invoice (balance %(balance)s): record the payment as an "
                             "overpayment to refund, if it was received.", balance=format_euro(from_cents(open_cents))))
    payment = Payment(invoice_id=invoice.id, paid_on=paid_on, method=method, amount_cents=cents,
                      note=(note or "").strip()[:200], overpayment=above, recorded_by_id=_user_id(user))
    db.session.add(payment)
    db.session.flush()
    extra = f"; overpayment, {from_cents(cents - max(open_cents, 0))} to refund" if above else ""
    audit.record("update", invoice.patient_id, f"invoice {invoice.number}",
                 f"payment {from_cents(cents)} on {nl_date(paid_on)} by {PAYMENT_METHODS[method]}{extra}", user=user)
    return payment


def record_refund(invoice: Invoice, paid_on: date, method: str, amount: Decimal | str, note: str = "",
                  user=None) -> Payment:
    """Record money paid back to the patient (stored as a negative payment): more than 0 and at most what was
    paid too much (the negative balance)."""
    invoice = _lock_invoice(invoice)
    if invoice.status != InvoiceStatus.ISSUED:
        raise InvoiceError(_("Payments are recorded against issued invoices only."))
    if method not in DESK_PAYMENT_METHODS:  # the insurer's payments come from its outcomes (insurer_parts.py)
        raise InvoiceError(_("Unknown payment method %(method)s; choose one of %(methods)s.", method=repr(method),
                             methods=", ".join(DESK_PAYMENT_METHODS)))
    cents = to_cents(Decimal(amount))
    if cents <= 0:
        raise InvoiceError(_("Enter the refunded amount above 0."))
    to_refund = -_open_balance_cents(invoice)
    if cents > to_refund:
        if to_refund <= 0:
            raise InvoiceError(_("Nothing was paid too much on this invoice: there is nothing to refund."))
        raise InvoiceError(_("Only %(amount)s was paid too much: refund at most that amount.",
                             amount=format_euro(from_cents(to_refund))))
    payment = Payment(invoice_id=invoice.id, paid_on=paid_on, method=method, amount_cents=-cents,
                      note=(note or "").strip()[:200], recorded_by_id=_user_id(user))
    db.session.add(payment)
    db.session.flush()
    audit.record("update", invoice.patient_id, f"invoice {invoice.number}",
                 f"refund {from_cents(cents)} on {nl_date(paid_on)} by {PAYMENT_METHODS[method]}", user=user)
    return payment


def reverse_payment(invoice: Invoice, payment_id: int, reason: str, user=None, today: date | None = None) -> Payment:
    """Reverse a payment (or refund) recorded in error with a reversal entry: the opposite amount, dated today,
    naming the entry it reverses and why. Nothing is deleted; the balance is as if the entry had not been made."""
    invoice = _lock_invoice(invoice)
    payment = db.session.get(Payment, payment_id)
    if payment is None or payment.invoice_id != invoice.id:
        raise InvoiceError(_("That payment is not on this invoice."))
    if payment.reverses_id is not None:
        raise InvoiceError(_("A reversal cannot be reversed; record the payment again instead."))
    if payment.by_insurer:
        raise InvoiceError(_("The insurer's payment follows its claim outcome: it is not reversed here."))
    if payment.reversal is not None:
        raise InvoiceError(_("This payment was already reversed on %(date)s.",
                             date=nl_date(payment.reversal.paid_on)))
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvoiceError(_("Give the reason for the reversal."))
    if len(reason) > 200:
        raise InvoiceError(_("Keep the reason within 200 characters."))
    reversal = Payment(invoice_id=invoice.id, paid_on=today or clinic_today(), method=payment.method,
                       amount_cents=-payment.amount_cents, note=reason, reverses=payment,
                       recorded_by_id=_user_id(user))
    db.session.add(reversal)
    db.session.flush()
    audit.record("update", invoice.patient_id, f"invoice {invoice.number}",
                 f"payment {from_cents(payment.amount_cents)} of {nl_date(payment.paid_on)} (#{payment.id}) "
                 f"reversed; reason: {reason}", user=user)
    return reversal


def invoice_status(invoice: Invoice, today: date | None = None) -> rules.InvoiceStatus:
    """Open / paid / credited, derived from payments and credit notes (the invoice row never changes); read
    with the one definition in balance.py."""
    db.session.flush()
    return balance.statuses([invoice], today or clinic_today())[invoice.id]


@dataclass(frozen=True)
class OverdueInvoice:
    invoice: Invoice
    status: rules.InvoiceStatus


def _overdue_query(today: date):
    return (
        select(Invoice, *balance.status_columns())
        .options(selectinload(Invoice.patient))
        .where(balance.in_state("overdue", today))
        .order_by(Invoice.due_date, Invoice.number)
    )


def _overdue(row, today: date) -> OverdueInvoice:
    return OverdueInvoice(row.Invoice, balance.status_from_row(row.Invoice, row, today))


def overdue_invoices(today: date | None = None) -> list[OverdueInvoice]:
    """Issued invoices past their due date with money still to pay, oldest due first. Sums in SQL."""
    today = today or clinic_today()
    return [_overdue(row, today) for row in db.session.execute(_overdue_query(today))]


# The overdue list's order: oldest due date first, then the invoice number (unique once issued); paged by key.
OVERDUE_ORDER = Keyset((Invoice.due_date, Invoice.number))


def overdue_page(per_page: int, after: Cursor | None = None, before: Cursor | None = None,
                 today: date | None = None, patients=None) -> Page[OverdueInvoice]:
    """One page of overdue_invoices (paging.Keyset: no count, no offset); `patients`: only those patients'
    (a subquery of ids: a therapist's own patients, backoffice/care/)."""
    today = today or clinic_today()
    query = _overdue_query(today)
    if patients is not None:
        query = query.where(Invoice.patient_id.in_(patients))
    page = OVERDUE_ORDER.page(query, per_page, after, before, rows=True,
                              cursor_of=lambda row: OVERDUE_ORDER.cursor_of(row.Invoice))
    return Page([_overdue(row, today) for row in page.items], page.previous, page.next)


# ---- the invoice list -----------------------------------------------------------------------------------

# ?status= of the invoice list; empty: every issued invoice and credit note (drafts only when asked for).
LIST_STATUSES = {"draft": N_("drafts"), "open": N_("open"), "paid": N_("paid"), "credited": N_("fully credited"),
                 "overdue": N_("overdue"), "credit_notes": N_("credit notes")}
INVOICE_RANK, CREDIT_NOTE_RANK = 0, 1  # on the same day a credit note lists above (after) the invoices
# A list cursor: a draft's id, or "<issue date>.<rank>.<id>" of an issued document.
_LIST_CURSOR = re.compile(r"(?:(?P<day>[0-9]{4}-[0-9]{2}-[0-9]{2})\.(?P<rank>[0-9])\.)?(?P<id>[0-9]{1,10})", re.ASCII)


@dataclass(frozen=True)
class ListFilters:
    status: str = ""                    # a key of LIST_STATUSES, or "" for all issued documents
    month: Month | None = None          # the issue date's month (a draft's creation date)
    q: str = ""                         # patient search words (name, date of birth, policy number, BSN)


def parse_list_filters(args) -> ListFilters:
    """Filters from the query string; anything malformed is ignored rather than refused."""
    status = args.get("status", "")
    month = month_arg(args.get("month"))
    return ListFilters(status=status if status in LIST_STATUSES else "", month=month,
                       q=(args.get("q") or "").strip())


@dataclass(frozen=True)
class ListCursor:
    """Where a page of the invoice list ends: (issue date, rank, id) of an issued document, or a draft's id."""

    id: int
    day: date | None = None
    rank: int = INVOICE_RANK

    def token(self) -> str:
        return str(self.id) if self.day is None else f"{self.day.isoformat()}.{self.rank}.{self.id}"

    @classmethod
    def parse(cls, text: str | None) -> ListCursor | None:
        """The cursor of a link; None (the first page) for anything else: ASCII digits only, an id an INTEGER
        holds (int() took full-width digits and numbers beyond any column: a 500 on both backends)."""
        found = _LIST_CURSOR.fullmatch(text or "")
        if found is None or int(found["id"]) > INTEGER_LIMIT:
            return None
        if found["day"] is None:
            return cls(int(found["id"]))
        if int(found["rank"]) not in (INVOICE_RANK, CREDIT_NOTE_RANK):
            return None
        try:
            return cls(int(found["id"]), date.fromisoformat(found["day"]), int(found["rank"]))
        except ValueError:
            return None

    def values(self) -> tuple:
        return (self.id,) if self.day is None else (self.day, self.rank, self.id)

    @classmethod
    def of(cls, values: tuple) -> ListCursor:
        """From `values()`: (id,) of a draft, (day, rank, id) of an issued document."""
        return cls(values[0]) if len(values) == 1 else cls(values[2], values[0], values[1])


@dataclass(frozen=True)
class ListRow:
    """One line of the list: an invoice (draft or issued) with its status, or a credit note and its invoice."""

    invoice: Invoice
    status: rules.InvoiceStatus
    credit_note: CreditNote | None = None

    @property
    def number(self) -> str | None:
        return self.credit_note.number if self.credit_note else self.invoice.number

    @property
    def day(self) -> date | None:
        return self.credit_note.issue_date if self.credit_note else self.invoice.issue_date

    @property
    def total_cents(self) -> int:
        return self.credit_note.total_gross_cents if self.credit_note else self.invoice.total_gross_cents


@dataclass
class ListPage:
    rows: list[ListRow]
    previous: ListCursor | None  # pass as ?before= to show the rows just newer than this page
    next: ListCursor | None      # pass as ?after= to show the rows just older than this page


def _draft_keys(filters: ListFilters, patients):
    query = select(Invoice.id.label("id")).where(Invoice.status == InvoiceStatus.DRAFT)
    if filters.month is not None:
        first, after = (datetime.combine(day, time.min, tzinfo=clinic_timezone()) for day in filters.month.bounds)
        query = query.where(Invoice.created_at >= first, Invoice.created_at < after)
    if patients is not None:
        query = query.where(Invoice.patient_id.in_(patients))
    return query.subquery()


def _document_keys(filters: ListFilters, patients, today: date):
    """(day, rank, id) of the issued invoices and credit notes the filters let through, as one subquery."""
    arms = []
    if filters.status != "credit_notes":
        invoices = select(Invoice.issue_date.label("day"), literal_column(str(INVOICE_RANK), Integer).label("rank"),
                          Invoice.id.label("id")).where(Invoice.status == InvoiceStatus.ISSUED)
        if filters.status:
            invoices = invoices.where(balance.in_state(filters.status, today))
        if filters.month is not None:
            first, after = filters.month.bounds
            invoices = invoices.where(Invoice.issue_date >= first, Invoice.issue_date < after)
        if patients is not None:
            invoices = invoices.where(Invoice.patient_id.in_(patients))
        arms.append(invoices)
    if filters.status in ("", "credit_notes"):
        notes = select(CreditNote.issue_date.label("day"),
                       literal_column(str(CREDIT_NOTE_RANK), Integer).label("rank"), CreditNote.id.label("id"))
        if filters.month is not None:
            first, after = filters.month.bounds
            notes = notes.where(CreditNote.issue_date >= first, CreditNote.issue_date < after)
        if patients is not None:
            notes = notes.where(CreditNote.invoice_id.in_(select(Invoice.id).where(Invoice.patient_id.in_(patients))))
        arms.append(notes)
    return (union_all(*arms) if len(arms) > 1 else arms[0]).subquery()


def _list_keys(filters: ListFilters, today: date, only_patients=None):
    """The keys of the documents the list shows for `filters` (one subquery): (id) of drafts, else (day, rank, id)
    of issued invoices and credit notes. `only_patients`: a therapist's own patients (backoffice/care/)."""
    from ..patients.services import search_query

    patients = search_query(filters.q).with_only_columns(Patient.id).order_by(None) if filters.q else None
    if only_patients is not None:
        patients = only_patients if patients is None else patients.where(Patient.id.in_(only_patients))
    if filters.status == "draft":
        return _draft_keys(filters, patients)
    return _document_keys(filters, patients, today)


def list_patient_ids(filters: ListFilters, today: date | None = None, only_patients=None) -> Select[Any]:
    """The patients of the documents the list shows for `filters` (distinct ids): whom its export names."""
    keys = _list_keys(filters, today or clinic_today(), only_patients)
    if filters.status == "draft":
        return select(Invoice.patient_id).where(Invoice.id.in_(select(keys.c.id))).distinct()
    noted = select(keys.c.id).where(keys.c.rank == CREDIT_NOTE_RANK)
    invoice_ids = union(select(keys.c.id).where(keys.c.rank == INVOICE_RANK),
                        select(CreditNote.invoice_id).where(CreditNote.id.in_(noted)))
    return select(Invoice.patient_id).where(Invoice.id.in_(invoice_ids)).distinct()


def overdue_patient_ids(today: date | None = None, patients=None) -> Select[Any]:
    """The patients of the overdue list (distinct ids): whom its export names."""
    query = select(Invoice.patient_id).where(balance.in_state("overdue", today or clinic_today())).distinct()
    return query if patients is None else query.where(Invoice.patient_id.in_(patients))


def list_invoices(filters: ListFilters, per_page: int, after: ListCursor | None = None,
                  before: ListCursor | None = None, today: date | None = None, only_patients=None) -> ListPage:
    """One page of the invoice list, newest first: issued invoices and credit notes by (issue date, id), or
    drafts by id when filters.status is "draft".

    Paged by key, never counted: per_page + 1 keys tell whether there is a further page. `after` shows the
    rows older than a cursor, `before` the rows newer than it. Then the invoices and credit notes of the page
    are loaded with what their status needs (a fixed number of queries, whatever the page size).
    """
    today = today or clinic_today()
    drafts = filters.status == "draft"
    keys = _list_keys(filters, today, only_patients)
    keyset = (Keyset((keys.c.id,), descending=True, types=(int,)) if drafts else
              Keyset((keys.c.day, keys.c.rank, keys.c.id), descending=True, types=(date, int, int)))
    after_key, before_key = (Cursor(cursor.values()) if cursor is not None and (cursor.day is None) == drafts
                             else None for cursor in (after, before))
    page = keyset.page(select(*keyset.columns), per_page, after_key, before_key, rows=True)
    cursors = [ListCursor.of(tuple(row)) for row in page.items]
    return ListPage(_list_rows(cursors, today), *(None if cursor is None else ListCursor.of(cursor.values)
                                                  for cursor in (page.previous, page.next)))


def _list_rows(keys: Sequence[ListCursor], today: date) -> list[ListRow]:
    note_ids = [key.id for key in keys if key.day is not None and key.rank == CREDIT_NOTE_RANK]
    notes = {note.id: note for note in db.session.scalars(
        select(CreditNote).options(joinedload(CreditNote.invoice)).where(CreditNote.id.in_(note_ids))
    )} if note_ids else {}
    invoice_ids = {key.id for key in keys if key.day is None or key.rank == INVOICE_RANK}
    invoice_ids |= {note.invoice_id for note in notes.values()}
    invoices, statuses = {}, {}
    if invoice_ids:
        for row in db.session.execute(select(Invoice, *balance.status_columns())
                                      .options(joinedload(Invoice.patient)).where(Invoice.id.in_(invoice_ids))):
            invoices[row.Invoice.id] = row.Invoice
            statuses[row.Invoice.id] = balance.status_from_row(row.Invoice, row, today)
    rows = []
    for key in keys:
        note = notes[key.id] if key.day is not None and key.rank == CREDIT_NOTE_RANK else None
        invoice_id = note.invoice_id if note is not None else key.id
        rows.append(ListRow(invoices[invoice_id], statuses[invoice_id], note))
    return rows
