"""One patient's timeline: intakes, referrals, insurances, prior authorisations, treatments with their corrections,
withdrawals and re-assessments, invoices, credit notes, payments, claims and their outcomes, and the documents
printed, exported or sent, newest first, in one list paged by key.

How a page is built, in a fixed number of queries whatever its length:
1. Each source (a table, or a kind of row in one) gives the keys of the patient's rows as (day, rank, id): `day`
   the clinic day the entry belongs to (a treatment's date, an invoice's issue date; for a moment such as a
   correction, its day at the clinic: sql.clinic_day), `rank` the source's fixed number (orders entries of one day
   and tells the sources apart). The sources the reader may see and asked for are one UNION ALL, paged by key
   (backoffice/paging.py: per_page + 1 rows past a cursor, no COUNT, no OFFSET).
2. Each source present on the page loads its rows by id, one query each (with what the words need joined in).
3. One query for the names of the users who did things.
The date range and the treatment/indication filter are conditions in the keys query, so a page is always full.

Every source says which kind it is (domain/timeline.Kind): the kind decides the filter checkbox and the permission
a reader needs (invoices and payments INVOICES_READ, claims CLAIMS_READ, treatments TREATMENTS_READ), as for the
pages the entries link to.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import (
    Date,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    literal,
    literal_column,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy import func as sql_func
from sqlalchemy.orm import joinedload

from ..clock import clinic_today
from ..domain import timeline as rules
from ..domain.claim_lifecycle import LineStatus
from ..domain.dutch import euro, nl_date
from ..domain.money import from_cents
from ..domain.patient_mail import SendingKind, SendingStatus
from ..domain.reminders import Stage
from ..domain.roles import Permission
from ..domain.statuses import InvoiceStatus
from ..domain.texts import translate
from ..domain.timeline import DocumentKind, Kind
from ..extensions import db
from ..invoicing import balance
from ..labels import body_area_label, contraindication_label, indication_label, referrer_label
from ..models import (
    PAYMENT_METHODS,
    SETTLEMENT_KINDS,
    AccessLog,
    CatalogueItem,
    ClaimBatch,
    ClaimLine,
    CreditNote,
    DocumentSending,
    Insurance,
    InsurerSettlement,
    Intake,
    Invoice,
    InvoiceLine,
    InvoiceReminder,
    PatientClaim,
    Payment,
    PriorAuthorisation,
    Referral,
    Treatment,
    TreatmentCorrection,
    User,
)
from ..models.reminders import REMINDER_DELIVERIES, STAGE_LABELS
from ..paging import Cursor, Keyset
from .sql import clinic_day

Can = Callable[[Permission], bool]


@dataclass(frozen=True)
class Filters:
    kinds: tuple[Kind, ...] = tuple(Kind)
    date_from: date | None = None
    date_to: date | None = None
    treatment_id: int | None = None
    indication: str | None = None

    @property
    def about_treatments(self) -> bool:
        return self.treatment_id is not None or bool(self.indication)

    def describe(self, visible: Iterable[Kind] = tuple(Kind)) -> str:
        """For the access log (fixed English, as the log is): which part of the record was shown, of what the
        reader may see (`visible`)."""
        parts = []
        if set(self.kinds) != set(visible):
            parts.append("kinds " + ",".join(kind.value for kind in self.kinds))
        if self.date_from:
            parts.append(f"from {self.date_from.isoformat()}")
        if self.date_to:
            parts.append(f"until {self.date_to.isoformat()}")
        if self.treatment_id is not None:
            parts.append(f"treatment {self.treatment_id}")
        if self.indication:
            parts.append(f"indication {self.indication}")
        return "; ".join(parts)


@dataclass
class Entry:
    """One line of the timeline, in the reader's language. `endpoint` and `args` make its link (url_for)."""

    kind: Kind
    source: str
    title: str
    description: str = ""
    amount_cents: int | None = None
    who: str = ""
    endpoint: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    struck: bool = False   # withdrawn: kept in the history, no longer valid
    status: str = ""       # a short state in words ("paid", "overdue 12 days")
    day: date | None = None
    who_id: int | None = None  # the user who did it: named in one query for the whole page


@dataclass
class TimelinePage:
    entries: list[Entry]
    previous: Cursor | None = None  # pass as ?before= for the newer entries
    next: Cursor | None = None      # pass as ?after= for the older entries


@dataclass(frozen=True)
class Scope:
    patient_id: int
    can: Can
    # The ids of the treatments a treatment or indication filter keeps (a subquery); None: no such filter.
    treatments: Select[Any] | None = None


@dataclass(frozen=True)
class Source:
    name: str
    rank: int
    kind: Kind
    keys: Callable[[Scope], Select[Any] | None]   # (day, id) of the patient's rows; None: none under this scope
    load: Callable[[Sequence[int], Scope], dict[int, Entry]]


def _keys(day: Any, row_id: Any) -> Select[Any]:
    return select(type_coerce(day, Date).label("day"), row_id.label("id"))


def _user_id(*ids: int | None) -> int | None:
    return next((value for value in ids if value is not None), None)


def _money(cents: int) -> str:
    return euro(from_cents(cents))


# ---- the scope of a treatment or indication filter ---------------------------------------------------------------

def _scoped_invoices(scope: Scope) -> Select[Any]:
    assert scope.treatments is not None
    return select(InvoiceLine.invoice_id).where(InvoiceLine.treatment_id.in_(scope.treatments))


def _treatment_subjects(scope: Scope, prefix: str = rules.TREATMENT_SUBJECT) -> Select[Any]:
    """The access-log subjects ("treatment 12") of the scoped treatments."""
    assert scope.treatments is not None
    return select(literal(prefix) + cast(Treatment.id, String)).where(Treatment.id.in_(scope.treatments))


# ---- intakes, referrals, insurances, prior authorisations ----------------------------------------------------------

def _intake_keys(scope: Scope) -> Select[Any] | None:
    if scope.treatments is not None:
        return None
    return _keys(Intake.intake_date, Intake.id).where(Intake.patient_id == scope.patient_id)


def _intake_load(ids: Sequence[int], scope: Scope) -> dict[int, Entry]:
    entries = {}
    for intake in db.session.scalars(select(Intake).where(Intake.id.in_(ids))):
        found = [contraindication_label(entry.get("kind")) for entry in intake.contraindications or ()]
        found += [contraindication_label(entry.get("medication")) for entry in intake.medications or ()]
        words = [_("consent given") if intake.consent_given else _("no consent")]
        words.append(_("contraindications: %(list)s", list=", ".join(found)) if found else _("no contraindications"))
        entries[intake.id] = Entry(Kind.INTAKE, "intake", _("Intake"), "; ".join(words), who_id=intake.recorded_by_id,
                                   endpoint="intakes.detail",
                                   args={"patient_id": scope.patient_id, "intake_id": intake.id})
    return entries


def _used_referrals(query: Select[Any], scope: Scope) -> Select[Any]:
    """Under a treatment filter: only the referrals those treatments used."""
    if scope.treatments is None:
        return query
    return query.where(Referral.id.in_(select(Treatment.referral_id).where(Treatment.id.in_(scope.treatments))))


def _referral_keys(scope: Scope) -> Select[Any] | None:
    return _used_referrals(_keys(Referral.referral_date, Referral.id).where(Referral.patient_id == scope.patient_id),
                           scope)


def _referral_withdrawn_keys(scope: Scope) -> Select[Any] | None:
    return _used_referrals(_keys(clinic_day(Referral.withdrawn_at), Referral.id).where(
        Referral.patient_id == scope.patient_id, Referral.withdrawn_at.is_not(None)), scope)


def _referral_words(referral: Referral) -> str:
    who = f"{referrer_label(referral.referrer_type)} {referral.referrer_name}".strip()
    text = _("%(referrer)s, valid until %(date)s", referrer=who, date=nl_date(referral.valid_until))
    return f"{text}: {referral.diagnosis}" if referral.diagnosis else text


def _referral_load(ids: Sequence[int], scope: Scope) -> dict[int, Entry]:
    return {referral.id: Entry(Kind.REFERRAL, "referral", _("Referral"), _referral_words(referral),
                               endpoint="referrals.list_referrals", args={"patient_id": scope.patient_id},
                               struck=referral.withdrawn, status=_("withdrawn") if referral.withdrawn else "")
            for referral in db.session.scalars(select(Referral).where(Referral.id.in_(ids)))}


def _referral_withdrawn_load(ids: Sequence[int], scope: Scope) -> dict[int, Entry]:
    return {referral.id: Entry(Kind.REFERRAL, "referral_withdrawn", _("Referral withdrawn"),
                               _("%(referral)s; reason: %(reason)s", referral=_referral_words(referral),
                                 reason=referral.withdrawn_reason or "—"),
                               who_id=referral.withdrawn_by_id, endpoint="referrals.list_referrals",
                               args={"patient_id": scope.patient_id})
            for referral in db.session.scalars(select(Referral).where(Referral.id.in_(ids)))}


def _insurance_keys(scope: Scope) -> Select[Any] | None:
    if scope.treatments is not None:
        return None
    return _keys(Insurance.valid_from, Insurance.id).where(Insurance.patient_id == scope.patient_id)


def _insurance_withdrawn_keys(scope: Scope) -> Select[Any] | None:
    if scope.treatments is not None:
        return None
    return _keys(clinic_day(Insurance.withdrawn_at), Insurance.id).where(
        Insurance.patient_id == scope.patient_id, Insurance.withdrawn_at.is_not(None))


def _insurance_words(insurance: Insurance) -> str:
    name = insurance.insurer.name + (f" {insurance.package.name}" if insurance.package else "")
    until = nl_date(insurance.valid_until) if insurance.valid_until else _("open")
    return _("%(insurer)s, policy %(number)s, %(start)s – %(end)s", insurer=name, number=insurance.policy_number,
             start=nl_date(insurance.valid_from), end=until)


def _insurances(ids: Sequence[int]) -> Iterable[Insurance]:
    return db.session.scalars(select(Insurance).options(joinedload(Insurance.insurer), joinedload(Insurance.package))
                              .where(Insurance.id.in_(ids)))


def _insurance_load(ids: Sequence[int], scope: Scope) -> dict[int, Entry]:
    return {insurance.id: Entry(Kind.INSURANCE, "insurance", _("Insurance"), _insurance_words(insurance),
                                endpoint="patients.detail", args={"patient_id": scope.patient_id},
                                struck=insurance.withdrawn, status=_("withdrawn") if insurance.withdrawn else "")
            for insurance in _insurances(ids)}


def _insurance_withdrawn_load(ids: Sequence[int], scope: Scope) -> dict[int, Entry]:
    return {insurance.id: Entry(Kind.INSURANCE, "insurance_withdrawn", _("Insurance withdrawn"),
                                _("%(insurance)s; reason: %(reason)s", insurance=_insurance_words(insurance),
                                  reason=insurance.withdrawn_reason or "—"),
                                who_id=insurance.withdrawn_by_id, endpoint="patients.detail",
                                args={"patient_id": scope.patient_id})
            for insurance in _insurances(ids)}


def _authorisation_keys(scope: Scope) -> Select[Any] | None:
    if scope.treatments is not None:
        return None
    return _keys(PriorAuthorisation.valid_from, PriorAuthorisation.id).where(
        PriorAuthorisation.patient_id == scope.patient_id)


def _authorisation_withdrawn_keys(scope: Scope) -> Select[Any] | None:
    if scope.treatments is not None:
        return None
    return _keys(clinic_day(PriorAuthorisation.withdrawn_at), PriorAuthorisation.id).where(
        PriorAuthorisation.patient_id == scope.patient_id, PriorAuthorisation.withdrawn_at.is_not(None))


def _authorisation_words(authorisation: PriorAuthorisation) -> str:
    indications = ", ".join(indication_label(code) for code in authorisation.indications or ())
    return _("%(insurer)s, number %(number)s, %(start)s – %(end)s: %(indications)s",
             insurer=authorisation.insurer.name, number=authorisation.number,
             start=nl_date(authorisation.valid_from), end=nl_date(authorisation.valid_until), indications=indications)


def _authorisations(ids: Sequence[int]) -> Iterable[PriorAuthorisation]:
    return db.session.scalars(select(PriorAuthorisation).options(joinedload(PriorAuthorisation.insurer))
                              .where(PriorAuthorisation.id.in_(ids)))


def _authorisation_load(ids: Sequence[int], scope: Scope) -> dict[int, Entry]:
    return {a.id: Entry(Kind.AUTHORISATION, "authorisation", _("Prior authorisation"), _authorisation_words(a),
                        who_id=a.recorded_by_id, endpoint="authorisations.list_authorisations",
                        args={"patient_id": scope.patient_id}, struck=a.withdrawn,
                        status=_("withdrawn") if a.withdrawn else "")
            for a in _authorisations(ids)}


def _authorisation_withdrawn_load(ids: Sequence[int], scope: Scope) -> dict[int, Entry]:
    return {a.id: Entry(Kind.AUTHORISATION, "authorisation_withdrawn", _("Prior authorisation withdrawn"),
                        _("%(authorisation)s; reason: %(reason)s", authorisation=_authorisation_words(a),
                          reason=a.withdrawn_reason or "—"),
                        who_id=a.withdrawn_by_id, endpoint="authorisations.list_authorisations",
                        args={"patient_id": scope.patient_id})
            for a in _authorisations(ids)}


# ---- treatments, corrections, withdrawals, re-assessments -----------------------------------------------------------

def _treatment_keys(scope: Scope) -> Select[Any] | None:
    query = _keys(Treatment.treatment_date, Treatment.id).where(Treatment.patient_id == scope.patient_id)
    if scope.treatments is not None:
        query = query.where(Treatment.id.in_(scope.treatments))
    return query


def _treatment_load(ids: Sequence[int], scope: Scope) -> dict[int, Entry]:
    entries = {}
    query = select(Treatment).options(joinedload(Treatment.catalogue_item), joinedload(Treatment.therapist)) \
        .where(Treatment.id.in_(ids))
    for treatment in db.session.scalars(query):
        words = [treatment.catalogue_item.name, indication_label(treatment.indication),
                 body_area_label(treatment.body_area)]
        if treatment.withdrawn:
            pays = ""
        elif treatment.reimbursable:
            pays = _("insurer pays %(amount)s", amount=_money(treatment.insurer_amount_cents))
        else:
            pays = _("not reimbursed")
        description = ", ".join(word for word in words if word) + (f"; {pays}" if pays else "")
        entries[treatment.id] = Entry(
            Kind.TREATMENT, "treatment", _("Treatment"), description, amount_cents=treatment.price_cents,
            who=treatment.therapist.name, endpoint="treatments.detail", args={"treatment_id": treatment.id},
            struck=treatment.withdrawn, status=_("withdrawn") if treatment.withdrawn else "")
    return entries


def _correction_keys(scope: Scope) -> Select[Any] | None:
    query = _keys(clinic_day(TreatmentCorrection.corrected_at), TreatmentCorrection.id) \
        .join(Treatment, Treatment.id == TreatmentCorrection.treatment_id) \
        .where(Treatment.patient_id == scope.patient_id)
    if scope.treatments is not None:
        query = query.where(Treatment.id.in_(scope.treatments))
    return query


def _correction_load(ids: Sequence[int], scope: Scope) -> dict[int, Entry]:
    from ..treatments.views import FIELD_LABELS  # the treatment form's names of the fields

    entries = {}
    query = select(TreatmentCorrection).options(
        joinedload(TreatmentCorrection.treatment).joinedload(Treatment.catalogue_item)) \
        .where(TreatmentCorrection.id.in_(ids))
    for correction in db.session.scalars(query):
        treatment = correction.treatment
        what = _("%(treatment)s of %(date)s", treatment=treatment.catalogue_item.name,
                 date=nl_date(treatment.treatment_date))
        if correction.changed_fields == ["withdrawn"]:
            title = _("Treatment withdrawn")
            description = _("%(treatment)s; reason: %(reason)s", treatment=what, reason=correction.reason)
        else:
            title = _("Treatment corrected")
            fields = ", ".join(str(FIELD_LABELS.get(name, name)) for name in correction.changed_fields)
            description = _("%(treatment)s: %(fields)s changed; reason: %(reason)s", treatment=what, fields=fields,
                            reason=correction.reason)
        source = "treatment_withdrawal" if correction.changed_fields == ["withdrawn"] else "treatment_correction"
        entries[correction.id] = Entry(Kind.TREATMENT, source, title, description,
                                       who_id=correction.corrected_by_id, endpoint="treatments.detail",
                                       args={"treatment_id": treatment.id})
    return entries


def _reassessment_keys(scope: Scope) -> Select[Any] | None:
    """Re-assessments are stored on the treatment (the new assessment) and logged; the log says when and what."""
    query = _keys(clinic_day(AccessLog.at), AccessLog.id).where(
        AccessLog.patient_id == scope.patient_id, AccessLog.action == "update",
        AccessLog.subject.like(rules.TREATMENT_SUBJECT + "%"), AccessLog.detail.like(rules.REASSESSED_PREFIX + "%"))
    if scope.treatments is not None:
        query = query.where(AccessLog.subject.in_(_treatment_subjects(scope)))
    return query


def _reassessment_load(ids: Sequence[int], scope: Scope) -> dict[int, Entry]:
    logged = db.session.scalars(select(AccessLog).where(AccessLog.id.in_(ids))).all()
    treatment_ids = {rules.subject_id(entry.subject, rules.TREATMENT_SUBJECT) for entry in logged} - {None}
    treatments = {row.id: row for row in db.session.execute(
        select(Treatment.id, Treatment.treatment_date, CatalogueItem.name)
        .join(CatalogueItem, CatalogueItem.id == Treatment.catalogue_item_id)
        .where(Treatment.id.in_(treatment_ids), Treatment.patient_id == scope.patient_id))} if treatment_ids else {}
    entries = {}
    for entry in logged:
        treatment = treatments.get(rules.subject_id(entry.subject, rules.TREATMENT_SUBJECT) or 0)
        if treatment is None:
            continue
        amounts = rules.reassessed_amounts(entry.detail)
        what = _("%(treatment)s of %(date)s", treatment=treatment.name, date=nl_date(treatment.treatment_date))
        description = _("%(treatment)s: insurer pays %(before)s → %(after)s", treatment=what,
                        before=euro(amounts[0]), after=euro(amounts[1])) if amounts else what
        entries[entry.id] = Entry(Kind.TREATMENT, "reassessment", _("Treatment re-assessed"), description,
                                  who=entry.user_email if entry.user_id is None else "", who_id=entry.user_id,
                                  endpoint="treatments.detail", args={"treatment_id": treatment.id})
    return entries


# ---- invoices, credit notes, payments, settlements ------------------------------------------------------------------

def _invoice_keys(scope: Scope) -> Select[Any] | None:
    day = case((Invoice.issue_date.is_not(None), Invoice.issue_date), else_=clinic_day(Invoice.created_at))
    query = _keys(day, Invoice.id).where(Invoice.patient_id == scope.patient_id)
    if scope.treatments is not None:
        query = query.where(Invoice.id.in_(_scoped_invoices(scope)))
    return query


def _invoice_load(ids: Sequence[int], scope: Scope) -> dict[int, Entry]:
    invoices = db.session.scalars(select(Invoice).where(Invoice.id.in_(ids))).all()
    issued = [invoice for invoice in invoices if invoice.status == InvoiceStatus.ISSUED]
    statuses = balance.statuses(issued, clinic_today())
    entries = {}
    for invoice in invoices:
        if invoice.status == InvoiceStatus.DRAFT:
            title, description, status = _("Draft invoice"), _("not issued yet"), _("draft")
        else:
            state = statuses[invoice.id]
            title = _("Invoice %(number)s", number=invoice.number)
            description = _("issued, due %(date)s", date=nl_date(invoice.due_date))
            status = _("Overdue %(days)s days", days=state.days_overdue) if state.overdue else translate(state.label)
        entries[invoice.id] = Entry(Kind.INVOICE, "invoice", title, description,
                                    amount_cents=invoice.total_gross_cents, status=status,
                                    who_id=_user_id(invoice.issued_by_id, invoice.created_by_id),
                                    endpoint="invoices.detail", args={"invoice_id": invoice.id})
    return entries


def _credit_note_keys(scope: Scope) -> Select[Any] | None:
    query = _keys(CreditNote.issue_date, CreditNote.id).join(Invoice, Invoice.id == CreditNote.invoice_id) \
        .where(Invoice.patient_id == scope.patient_id)
    if scope.treatments is not None:
        query = query.where(Invoice.id.in_(_scoped_invoices(scope)))
    return query


def _credit_note_load(ids: Sequence[int], scope: Scope) -> dict[int, Entry]:
    query = select(CreditNote).options(joinedload(CreditNote.invoice)).where(CreditNote.id.in_(ids))
    return {note.id: Entry(Kind.INVOICE, "credit_note", _("Credit note %(number)s", number=note.number),
                           _("credits invoice %(number)s: %(reason)s", number=note.invoice.number,
                             reason=note.reason or "—"),
                           amount_cents=note.total_gross_cents, who_id=note.created_by_id,
                           endpoint="invoices.detail", args={"invoice_id": note.invoice_id})
            for note in db.session.scalars(query)}


def _payment_keys(scope: Scope) -> Select[Any] | None:
    query = _keys(Payment.paid_on, Payment.id).join(Invoice, Invoice.id == Payment.invoice_id) \
        .where(Invoice.patient_id == scope.patient_id)
    if scope.treatments is not None:
        query = query.where(Invoice.id.in_(_scoped_invoices(scope)))
    return query


def _payment_load(ids: Sequence[int], scope: Scope) -> dict[int, Entry]:
    query = select(Payment).options(joinedload(Payment.invoice), joinedload(Payment.reverses)) \
        .where(Payment.id.in_(ids))
    entries = {}
    for payment in db.session.scalars(query):
        kind = rules.payment_kind(payment.amount_cents, payment.reverses_id is not None, payment.by_insurer)
        words = [_("invoice %(number)s", number=payment.invoice.number)]
        if kind is not rules.PaymentKind.INSURER:
            words.append(translate(PAYMENT_METHODS.get(payment.method, payment.method)))
        if payment.reverses is not None:
            words.append(_("reverses the entry of %(date)s", date=nl_date(payment.reverses.paid_on)))
        if payment.note:
            words.append(payment.note)
        entries[payment.id] = Entry(Kind.PAYMENT, f"payment_{kind.value}", translate(rules.PAYMENT_TITLES[kind]),
                                    ", ".join(words), amount_cents=payment.amount_cents,
                                    who_id=payment.recorded_by_id, endpoint="invoices.detail",
                                    args={"invoice_id": payment.invoice_id})
    return entries


def _settlement_keys(scope: Scope) -> Select[Any] | None:
    query = _keys(InsurerSettlement.settled_on, InsurerSettlement.id) \
        .join(Invoice, Invoice.id == InsurerSettlement.invoice_id).where(Invoice.patient_id == scope.patient_id)
    if scope.treatments is not None:
        query = query.join(InvoiceLine, InvoiceLine.id == InsurerSettlement.invoice_line_id) \
            .where(InvoiceLine.treatment_id.in_(scope.treatments))
    return query


def _settlement_load(ids: Sequence[int], scope: Scope) -> dict[int, Entry]:
    query = select(InsurerSettlement).options(joinedload(InsurerSettlement.invoice),
                                              joinedload(InsurerSettlement.invoice_line)) \
        .where(InsurerSettlement.id.in_(ids))
    return {s.id: Entry(Kind.PAYMENT, "settlement", _("Insurer's part settled: %(how)s",
                                                      how=translate(SETTLEMENT_KINDS.get(s.kind, s.kind)).lower()),
                        _("%(line)s of %(date)s, invoice %(number)s; reason: %(reason)s",
                          line=s.invoice_line.description, date=nl_date(s.invoice_line.treatment_date),
                          number=s.invoice.number, reason=s.reason),
                        amount_cents=s.amount_cents, who_id=s.recorded_by_id, endpoint="invoices.detail",
                        args={"invoice_id": s.invoice_id})
            for s in db.session.scalars(query)}


# ---- claims and their outcomes -----------------------------------------------------------------------------------

def _claim_line_keys(scope: Scope, day: Any, *where: Any) -> Select[Any]:
    query = _keys(day, ClaimLine.id).join(ClaimBatch, ClaimBatch.id == ClaimLine.batch_id) \
        .join(InvoiceLine, InvoiceLine.id == ClaimLine.invoice_line_id) \
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id) \
        .where(Invoice.patient_id == scope.patient_id, ClaimLine.included.is_(True), *where)
    if scope.treatments is not None:
        query = query.where(InvoiceLine.treatment_id.in_(scope.treatments))
    return query


def _claim_keys(scope: Scope) -> Select[Any] | None:
    """A line is claimed once its batch is exported (the workbook went to the insurer); a draft is not a claim yet."""
    return _claim_line_keys(scope, clinic_day(sql_func.coalesce(ClaimBatch.submitted_at, ClaimBatch.exported_at)),
                            or_(ClaimBatch.submitted_at.is_not(None), ClaimBatch.exported_at.is_not(None)))


def _claim_outcome_keys(scope: Scope) -> Select[Any] | None:
    return _claim_line_keys(scope, clinic_day(ClaimLine.outcome_at), ClaimLine.outcome_at.is_not(None))


def _claim_lines(ids: Sequence[int]) -> Iterable[ClaimLine]:
    return db.session.scalars(select(ClaimLine).options(
        joinedload(ClaimLine.batch).joinedload(ClaimBatch.insurer), joinedload(ClaimLine.invoice_line))
        .where(ClaimLine.id.in_(ids)))


def _line_words(line: InvoiceLine) -> str:
    return _("%(line)s of %(date)s", line=line.description, date=nl_date(line.treatment_date))


def _outcome(status: str, claimed_cents: int, paid_cents: int, code: str, text: str) -> tuple[str, str]:
    """(title, words) of an insurer's outcome: paid, partly paid (short-paid) or rejected."""
    if status == LineStatus.REJECTED:
        reason = " ".join(part for part in (code, text) if part)
        return _("Claim rejected"), _("reason: %(reason)s", reason=reason or "—")
    if status == LineStatus.PARTLY_PAID:
        words = _("%(paid)s of %(claimed)s paid", paid=_money(paid_cents), claimed=_money(claimed_cents))
        reason = " ".join(part for part in (code, text) if part)
        return _("Claim partly paid"), f"{words}; {reason}" if reason else words
    return _("Claim paid"), _("%(paid)s paid", paid=_money(paid_cents))


def _claim_load(ids: Sequence[int], scope: Scope) -> dict[int, Entry]:
    entries = {}
    for line in _claim_lines(ids):
        batch = line.batch
        words = _("%(line)s in batch %(batch)s", line=_line_words(line.invoice_line), batch=batch.number)
        entries[line.id] = Entry(Kind.CLAIM, "claim", _("Claimed from %(insurer)s", insurer=batch.insurer.name),
                                 words, amount_cents=line.claimed_cents,
                                 who_id=_user_id(batch.submitted_by_id, batch.exported_by_id),
                                 endpoint="claims.batch", args={"batch_id": batch.id},
                                 struck=batch.cancelled_at is not None,
                                 status=_("batch cancelled") if batch.cancelled_at is not None else "")
    return entries


def _claim_outcome_load(ids: Sequence[int], scope: Scope) -> dict[int, Entry]:
    entries = {}
    for line in _claim_lines(ids):
        title, words = _outcome(line.status, line.claimed_cents, line.paid_cents, line.rejection_code,
                                line.rejection_text)
        entries[line.id] = Entry(Kind.CLAIM, f"claim_{line.status}", title,
                                 f"{_line_words(line.invoice_line)}, {line.batch.insurer.name}: {words}",
                                 amount_cents=line.paid_cents, who_id=line.outcome_by_id, endpoint="claims.batch",
                                 args={"batch_id": line.batch_id})
    return entries


def _patient_claim_keys(scope: Scope, day: Any, *where: Any) -> Select[Any]:
    query = _keys(day, PatientClaim.id).join(InvoiceLine, InvoiceLine.id == PatientClaim.invoice_line_id) \
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id).where(Invoice.patient_id == scope.patient_id, *where)
    if scope.treatments is not None:
        query = query.where(InvoiceLine.treatment_id.in_(scope.treatments))
    return query


def _patient_claim_submitted_keys(scope: Scope) -> Select[Any] | None:
    return _patient_claim_keys(scope, PatientClaim.submitted_on)


def _patient_claim_outcome_keys(scope: Scope) -> Select[Any] | None:
    """The insurer's answer on the day it paid, else the day it was recorded."""
    day = sql_func.coalesce(PatientClaim.paid_on, clinic_day(PatientClaim.updated_at))
    return _patient_claim_keys(scope, day, PatientClaim.status != LineStatus.PENDING.value)


def _patient_claims(ids: Sequence[int]) -> Iterable[PatientClaim]:
    return db.session.scalars(select(PatientClaim).options(
        joinedload(PatientClaim.insurer), joinedload(PatientClaim.invoice_line).joinedload(InvoiceLine.invoice))
        .where(PatientClaim.id.in_(ids)))


def _patient_claim_submitted_load(ids: Sequence[int], scope: Scope) -> dict[int, Entry]:
    return {claim.id: Entry(Kind.CLAIM, "patient_claim", _("Declaration sent in by the patient"),
                            _("to %(insurer)s: %(line)s, invoice %(number)s", insurer=claim.insurer.name,
                              line=_line_words(claim.invoice_line), number=claim.invoice_line.invoice.number),
                            amount_cents=claim.claimed_cents, who_id=claim.recorded_by_id,
                            endpoint="invoices.detail", args={"invoice_id": claim.invoice_line.invoice_id})
            for claim in _patient_claims(ids)}


def _patient_claim_outcome_load(ids: Sequence[int], scope: Scope) -> dict[int, Entry]:
    entries = {}
    for claim in _patient_claims(ids):
        title, words = _outcome(claim.status, claim.claimed_cents, claim.paid_cents, claim.rejection_code,
                                claim.rejection_text)
        entries[claim.id] = Entry(Kind.CLAIM, f"patient_claim_{claim.status}", title,
                                  f"{_line_words(claim.invoice_line)}, {claim.insurer.name}: {words}",
                                  amount_cents=claim.paid_cents, who_id=claim.recorded_by_id,
                                  endpoint="invoices.detail", args={"invoice_id": claim.invoice_line.invoice_id})
    return entries


# ---- documents printed, exported or sent ----------------------------------------------------------------------------

def _subject_of(kind: DocumentKind) -> Any:
    """Whether a print or export entry's subject names a document of `kind` (aftercare: a print of a treatment)."""
    prefix = dict(rules.SUBJECT_PREFIXES)[kind]
    condition = AccessLog.subject.like(prefix + "%")
    return and_(condition, AccessLog.action == "print") if kind is DocumentKind.AFTERCARE else condition


def _document_keys(scope: Scope) -> Select[Any] | None:
    query = _keys(clinic_day(AccessLog.at), AccessLog.id).where(
        AccessLog.patient_id == scope.patient_id, AccessLog.action.in_(("print", "export")),
        AccessLog.detail != rules.RENDERED_AT_ISSUE, ~AccessLog.detail.like("%" + rules.EMAILED + "%"))
    # Documents of a kind the reader may not see (an invoice without INVOICES_READ) are left out.
    hidden = [kind for kind, _prefix in rules.SUBJECT_PREFIXES if not rules.document_visible(kind, scope.can)]
    for kind in hidden:
        query = query.where(~_subject_of(kind))
    if scope.treatments is not None:
        invoices = Invoice.id.in_(_scoped_invoices(scope))
        query = query.where(or_(
            and_(AccessLog.action == "print", AccessLog.subject.in_(_treatment_subjects(scope))),
            AccessLog.subject.in_(select(literal("invoice ") + Invoice.number).where(invoices)),
            AccessLog.subject.in_(select(literal("declaration ") + Invoice.number).where(invoices)),
            AccessLog.subject.in_(select(literal("credit note ") + CreditNote.number)
                                  .where(CreditNote.invoice_id.in_(_scoped_invoices(scope)))),
        ))
    return query


def _document_links(logged: Sequence[tuple[AccessLog, rules.LoggedDocument]], scope: Scope) -> dict[str, Any]:
    """The pages the logged documents are on: invoice numbers to invoice ids, credit note numbers to their
    invoice, claim batch numbers to batch ids (one query for each kind present)."""
    wanted: dict[DocumentKind, set[str]] = defaultdict(set)
    for _entry, document in logged:
        wanted[document.kind].add(document.reference)
    links: dict[str, Any] = {}
    invoice_numbers = wanted[DocumentKind.INVOICE] | wanted[DocumentKind.DECLARATION] | wanted[DocumentKind.REMINDER]
    if invoice_numbers:
        for number, invoice_id in db.session.execute(select(Invoice.number, Invoice.id).where(
                Invoice.patient_id == scope.patient_id, Invoice.number.in_(invoice_numbers))):
            links[f"invoice {number}"] = ("invoices.detail", {"invoice_id": invoice_id})
    if wanted[DocumentKind.CREDIT_NOTE]:
        for number, invoice_id in db.session.execute(select(CreditNote.number, CreditNote.invoice_id).where(
                CreditNote.number.in_(wanted[DocumentKind.CREDIT_NOTE]))):
            links[f"credit note {number}"] = ("invoices.detail", {"invoice_id": invoice_id})
    if wanted[DocumentKind.CLAIM_BATCH]:
        for number, batch_id in db.session.execute(select(ClaimBatch.number, ClaimBatch.id).where(
                ClaimBatch.number.in_(wanted[DocumentKind.CLAIM_BATCH]))):
            links[f"claim batch {number}"] = ("claims.batch", {"batch_id": batch_id})
    return links


def _document_link(document: rules.LoggedDocument, links: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    if document.kind in (DocumentKind.INVOICE, DocumentKind.DECLARATION, DocumentKind.REMINDER):
        return links.get(f"invoice {document.reference}", (None, {}))
    if document.kind is DocumentKind.CREDIT_NOTE:
        return links.get(f"credit note {document.reference}", (None, {}))
    if document.kind is DocumentKind.CLAIM_BATCH:
        return links.get(f"claim batch {document.reference}", (None, {}))
    if document.kind is DocumentKind.AFTERCARE and document.reference.isascii() and document.reference.isdigit():
        return "treatments.detail", {"treatment_id": int(document.reference)}
    return None, {}


def _document_name(kind: DocumentKind, number: str = "") -> str:
    """How a document is named in an entry ("Invoice 2026-00001"), in the reader's language."""
    return translate(rules.DOCUMENT_NAMES[kind]) % {"number": number}


def _document_detail(detail: str) -> str:
    """The logged detail (fixed English) in the reader's words, where it says how the document was made."""
    if detail.startswith("batch print"):
        return _("in a batch print")
    if detail.startswith("downloaded the batch"):
        return _("downloaded with a batch print")
    if detail.endswith("stored PDF downloaded"):
        return _("stored PDF downloaded")
    return ""


def _document_load(ids: Sequence[int], scope: Scope) -> dict[int, Entry]:
    logged = [(entry, rules.logged_document(entry.subject, entry.detail))
              for entry in db.session.scalars(select(AccessLog).where(AccessLog.id.in_(ids)))]
    links = _document_links(logged, scope)
    entries = {}
    for entry, document in logged:
        name = _document_name(document.kind, document.reference)
        title = _("%(document)s printed", document=name) if entry.action == "print" else \
            _("%(document)s exported", document=name)
        words = [_document_detail(entry.detail)]
        if entry.on_behalf_of:
            words.append(_("on behalf of %(name)s", name=entry.on_behalf_of))
        endpoint, args = _document_link(document, links)
        entries[entry.id] = Entry(Kind.DOCUMENT, f"document_{entry.action}", title,
                                  ", ".join(word for word in words if word), endpoint=endpoint, args=args,
                                  who=entry.user_email if entry.user_id is None else "", who_id=entry.user_id)
    return entries


# ---- documents e-mailed to the patient (backoffice/mail/) and payment reminders (backoffice/reminders/) ----------

# The permission a reader needs to see that a kind of document was e-mailed.
SENDING_PERMISSION: dict[str, Permission] = {
    SendingKind.INVOICE: Permission.INVOICES_READ,
    SendingKind.CREDIT_NOTE: Permission.INVOICES_READ,
    SendingKind.DECLARATION: Permission.INVOICES_READ,
    SendingKind.REMINDER: Permission.INVOICES_READ,
    SendingKind.AFTERCARE: Permission.TREATMENTS_READ,
}


def _sending_keys(scope: Scope) -> Select[Any] | None:
    """A sending shows on the day it went out, or (failed) on the day it was tried first."""
    kinds = [kind for kind, permission in SENDING_PERMISSION.items() if scope.can(permission)]
    query = _keys(clinic_day(sql_func.coalesce(DocumentSending.sent_at, DocumentSending.created_at)),
                  DocumentSending.id).where(DocumentSending.patient_id == scope.patient_id,
                                            DocumentSending.kind.in_(kinds))
    if scope.treatments is not None:
        query = query.where(or_(DocumentSending.treatment_id.in_(scope.treatments),
                                DocumentSending.invoice_id.in_(_scoped_invoices(scope))))
    return query


def _sending_name(sending: DocumentSending) -> str:
    number = (sending.invoice.number if sending.invoice is not None else None) or ""
    if sending.kind == SendingKind.CREDIT_NOTE and sending.credit_note is not None:
        return _document_name(DocumentKind.CREDIT_NOTE, sending.credit_note.number)
    if sending.kind == SendingKind.DECLARATION:
        return _document_name(DocumentKind.DECLARATION, number)
    if sending.kind == SendingKind.AFTERCARE:
        return _document_name(DocumentKind.AFTERCARE)
    if sending.kind == SendingKind.REMINDER:
        return _document_name(DocumentKind.REMINDER, number)
    return _document_name(DocumentKind.INVOICE, number)


def _sending_load(ids: Sequence[int], scope: Scope) -> dict[int, Entry]:
    query = select(DocumentSending).options(joinedload(DocumentSending.invoice),
                                            joinedload(DocumentSending.credit_note)) \
        .where(DocumentSending.id.in_(ids))
    entries = {}
    for sending in db.session.scalars(query):
        name = _sending_name(sending)
        sent = sending.status == SendingStatus.SENT
        title = _("%(document)s e-mailed", document=name) if sent else _("%(document)s not sent", document=name)
        words = [_("to %(address)s", address=sending.to_address)]
        if sending.attempts > 1:
            words.append(_("%(count)s attempts", count=sending.attempts))
        if not sent and sending.error:
            words.append(sending.error)
        endpoint, args = ("invoices.detail", {"invoice_id": sending.invoice_id}) if sending.invoice_id is not None \
            else ("treatments.detail", {"treatment_id": sending.treatment_id or 0})
        entries[sending.id] = Entry(Kind.DOCUMENT, "sending" if sent else "sending_failed", title, "; ".join(words),
                                    who_id=sending.sent_by_id, endpoint=endpoint, args=args,
                                    status="" if sent else _("failed"))
    return entries


def _reminder_keys(scope: Scope) -> Select[Any] | None:
    if not scope.can(Permission.INVOICES_READ):
        return None
    query = _keys(InvoiceReminder.sent_on, InvoiceReminder.id).join(Invoice, Invoice.id == InvoiceReminder.invoice_id) \
        .where(Invoice.patient_id == scope.patient_id)
    if scope.treatments is not None:
        query = query.where(Invoice.id.in_(_scoped_invoices(scope)))
    return query


def _reminder_load(ids: Sequence[int], scope: Scope) -> dict[int, Entry]:
    query = select(InvoiceReminder, Invoice.number).join(Invoice, Invoice.id == InvoiceReminder.invoice_id) \
        .where(InvoiceReminder.id.in_(ids))
    entries = {}
    for reminder, number in db.session.execute(query):
        words = [_("invoice %(number)s, open %(amount)s, pay by %(date)s", number=number,
                   amount=_money(reminder.open_cents), date=nl_date(reminder.deadline))]
        if reminder.stage == Stage.FORMAL:
            words.append(_("collection costs after that: %(amount)s",
                           amount=_money(reminder.collection_costs_cents)))
        words.append(translate(REMINDER_DELIVERIES.get(reminder.delivery, reminder.delivery)))
        entries[reminder.id] = Entry(Kind.DOCUMENT, f"reminder_{reminder.stage}",
                                     translate(STAGE_LABELS.get(reminder.stage, reminder.stage)), "; ".join(words),
                                     who_id=reminder.created_by_id, endpoint="invoices.detail",
                                     args={"invoice_id": reminder.invoice_id})
    return entries


# ---- the sources, in the order of a day (a higher rank shows first: the payment above its invoice) ---------------

SOURCES: tuple[Source, ...] = (
    Source("intake", 10, Kind.INTAKE, _intake_keys, _intake_load),
    Source("referral", 20, Kind.REFERRAL, _referral_keys, _referral_load),
    Source("referral_withdrawn", 21, Kind.REFERRAL, _referral_withdrawn_keys, _referral_withdrawn_load),
    Source("insurance", 30, Kind.INSURANCE, _insurance_keys, _insurance_load),
    Source("insurance_withdrawn", 31, Kind.INSURANCE, _insurance_withdrawn_keys, _insurance_withdrawn_load),
    Source("authorisation", 40, Kind.AUTHORISATION, _authorisation_keys, _authorisation_load),
    Source("authorisation_withdrawn", 41, Kind.AUTHORISATION, _authorisation_withdrawn_keys,
           _authorisation_withdrawn_load),
    Source("treatment", 50, Kind.TREATMENT, _treatment_keys, _treatment_load),
    Source("treatment_correction", 51, Kind.TREATMENT, _correction_keys, _correction_load),
    Source("reassessment", 52, Kind.TREATMENT, _reassessment_keys, _reassessment_load),
    Source("invoice", 60, Kind.INVOICE, _invoice_keys, _invoice_load),
    Source("credit_note", 61, Kind.INVOICE, _credit_note_keys, _credit_note_load),
    Source("payment", 70, Kind.PAYMENT, _payment_keys, _payment_load),
    Source("settlement", 71, Kind.PAYMENT, _settlement_keys, _settlement_load),
    Source("claim", 80, Kind.CLAIM, _claim_keys, _claim_load),
    Source("claim_outcome", 81, Kind.CLAIM, _claim_outcome_keys, _claim_outcome_load),
    Source("patient_claim", 82, Kind.CLAIM, _patient_claim_submitted_keys, _patient_claim_submitted_load),
    Source("patient_claim_outcome", 83, Kind.CLAIM, _patient_claim_outcome_keys, _patient_claim_outcome_load),
    Source("document", 90, Kind.DOCUMENT, _document_keys, _document_load),
    Source("sending", 91, Kind.DOCUMENT, _sending_keys, _sending_load),
    Source("reminder", 92, Kind.DOCUMENT, _reminder_keys, _reminder_load),
)


# ---- the page ------------------------------------------------------------------------------------------------------

def _treatment_scope(patient_id: int, filters: Filters) -> Select[Any] | None:
    if not filters.about_treatments:
        return None
    query = select(Treatment.id).where(Treatment.patient_id == patient_id)
    if filters.treatment_id is not None:
        query = query.where(Treatment.id == filters.treatment_id)
    if filters.indication:
        query = query.where(Treatment.indication == filters.indication)
    return query


def _keyset(keys: Any) -> Keyset:
    return Keyset((keys.c.day, keys.c.rank, keys.c.id), descending=True, types=(date, int, int))


def sources_for(filters: Filters, can: Can) -> list[Source]:
    """The sources a page reads: of the kinds asked for that the reader may see (and, under a treatment filter,
    of the kinds about treatments)."""
    kinds = {kind for kind in filters.kinds if can(rules.KIND_PERMISSION[kind]) and can(Permission.PATIENTS_READ)}
    if filters.about_treatments:
        kinds &= rules.TREATMENT_RELATED
    return [source for source in SOURCES if source.kind in kinds]


def timeline_page(patient_id: int, filters: Filters, per_page: int, can: Can, after: str | None = None,
                  before: str | None = None) -> TimelinePage:
    """One page of the patient's timeline, newest first. `after`/`before`: the cursor tokens of the links."""
    scope = Scope(patient_id, can, _treatment_scope(patient_id, filters))
    arms = []
    sources = {}
    for source in sources_for(filters, can):
        arm = source.keys(scope)
        if arm is not None:
            arms.append(arm.add_columns(literal_column(str(source.rank), Integer).label("rank")))
            sources[source.rank] = source
    if not arms:
        return TimelinePage([])
    keys = (union_all(*arms) if len(arms) > 1 else arms[0]).subquery("timeline_keys")
    keyset = _keyset(keys)
    query = select(*keyset.columns)
    if filters.date_from is not None:
        query = query.where(keys.c.day >= filters.date_from)
    if filters.date_to is not None:
        query = query.where(keys.c.day <= filters.date_to)
    after_cursor = keyset.parse(after)
    before_cursor = None if after_cursor is not None else keyset.parse(before)
    page = keyset.page(query, per_page, after_cursor, before_cursor, rows=True)

    wanted: dict[int, list[int]] = defaultdict(list)
    for row in page.items:
        wanted[row.rank].append(row.id)
    loaded = {rank: sources[rank].load(ids, scope) for rank, ids in wanted.items()}
    entries = []
    for row in page.items:
        entry = loaded[row.rank].get(row.id)
        if entry is not None:
            entry.day = row.day
            entries.append(entry)
    _name_users(entries)
    return TimelinePage(entries, page.previous, page.next)


def _name_users(entries: Sequence[Entry]) -> None:
    ids = {entry.who_id for entry in entries if entry.who_id is not None}
    names = {row.id: row.name for row in db.session.execute(select(User.id, User.name).where(User.id.in_(ids)))} \
        if ids else {}
    for entry in entries:
        if entry.who_id is not None and entry.who_id in names:
            entry.who = names[entry.who_id]
        elif entry.who == "(system)":
            entry.who = _("the system")


@dataclass(frozen=True)
class TreatmentChoice:
    id: int
    treatment_date: date
    name: str
    indication: str


def treatment_choices(patient_id: int, can: Can) -> list[TreatmentChoice]:
    """The patient's treatments for the filter (newest first), with their indications; none without
    TREATMENTS_READ."""
    if not can(Permission.TREATMENTS_READ):
        return []
    rows = db.session.execute(
        select(Treatment.id, Treatment.treatment_date, CatalogueItem.name, Treatment.indication)
        .join(CatalogueItem, CatalogueItem.id == Treatment.catalogue_item_id)
        .where(Treatment.patient_id == patient_id)
        .order_by(Treatment.treatment_date.desc(), Treatment.id.desc()))
    return [TreatmentChoice(*row) for row in rows]
