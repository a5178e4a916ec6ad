"""The insurer declaration (declaratie/verklaring) of an issued invoice, and the aftercare sheet of a treatment.

Both are built from the database into the plain dataclasses of backoffice/documents/data.py and rendered on
demand (neither is stored: the declaration is signed on paper, the aftercare sheet is handed out). Every
render is a print of patient data and writes an access-log entry; as with the other services, the caller
commits.

What goes on a declaration:
- the issued invoice's reimbursable lines that are not credited, exactly as frozen on the invoice, except those
  the claim check would exclude (domain.eligibility: the therapist's credentials on the date, as recorded now):
  these are left out and listed with the reason, so no line promises a reimbursement the insurer will refuse;
- the patient's name, address, date of birth and the insurance valid on the (latest) declared treatment date,
  read now, so a policy number recorded after issuing is printed; and the full BSN, because care providers
  include it when they send data to an insurer (Wbsn-z, see shared/domain.md). It never reaches the log;
- per therapist, the KP registration (number, level, period) and NVH membership valid on the treatment dates:
  a registration renewed between two treatment dates gives one row per registration;
- the practice AGB code and the place and date of signing (practice city, invoice date).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select

from .. import audit
from ..aftercare.services import content_for
from ..clock import clinic_today
from ..documents.data import AftercareDocument, DeclarationDocument, LeftOutLine, TherapistCredentialLine
from ..domain import credentials as cred
from ..domain import eligibility
from ..domain import invoicing as rules
from ..domain.dutch import nl_date as _nl  # the one Dutch date format (24-11-2026)
from ..domain.money import from_cents
from ..domain.statuses import InvoiceStatus
from ..domain.texts import N_, Text, Words, label, msg
from ..extensions import db
from ..i18n import dutch
from ..labels import body_area_label, technique_label
from ..models import Invoice, InvoiceLine, Practice, Therapist, Treatment
from . import documents
from .services import InvoiceError, MissingData, _patient_facts, _practice_facts

ZERO = Decimal("0.00")

KP_LEVEL_LABELS = {
    cred.KpLevel.KWALITEITSREGISTER: "Kwaliteitsregister",
    cred.KpLevel.DIPLOMAREGISTER: "Diplomaregister",
}


class DeclarationMissingData(MissingData):
    """Printing stopped: `fields` names every missing field. A MissingData, so callers may catch either."""

    def __init__(self, fields: Sequence[str | Text], aftercare: bool = False):
        super().__init__(fields)
        missing = "; ".join(map(str, self.fields))
        self.args = (_("Cannot print the aftercare sheet: missing %(fields)s.", fields=missing) if aftercare else
                     _("Cannot print the declaration: missing %(fields)s.", fields=missing),)

    def __str__(self) -> str:
        return self.args[0]


def _practice() -> Practice | None:
    return db.session.scalar(select(Practice).order_by(Practice.id).limit(1))


def declared_lines(invoice: Invoice) -> list[InvoiceLine]:
    """The lines an insurer is asked to pay: reimbursable and not credited."""
    return [line for line in invoice.lines if line.reimbursable and line.credit_line is None]


@dataclass(frozen=True)
class LineDecision:
    """One reimbursable line as the declaration treats it: declared with `expected`, or left out for `reasons`."""

    line: InvoiceLine
    declared: bool
    expected: Decimal
    reasons: tuple[Text, ...] = ()


def line_decisions(invoice: Invoice) -> list[LineDecision]:
    """Every reimbursable, uncredited line judged now by domain.eligibility, as the claim check judges it: the
    therapist's credentials on the treatment date at the KP level of the line's insurer rule (the history as
    recorded now, so a lapse recorded after issuing counts), and a valid personal AGB code. A line the claim
    check would exclude is left out with its reasons, never promised."""
    decisions: list[LineDecision] = []
    histories: dict[int, tuple[list, list]] = {}
    for line in declared_lines(invoice):
        treatment = line.treatment
        therapist: Therapist = treatment.therapist
        if therapist.id not in histories:
            histories[therapist.id] = therapist.credential_history()
        rule = treatment.coverage_rule
        answer = eligibility.eligibility_on(line.treatment_date, *histories[therapist.id],
                                            rule.kp_level_required if rule else None,
                                            rule.nvh_required if rule else True)
        verdict = eligibility.declaration_line(
            from_cents(line.insurer_amount_cents), answer,
            eligibility.agb_reason(line.therapist_name or therapist.name, line.therapist_agb or ""))
        decisions.append(LineDecision(line, verdict.declared, verdict.expected, verdict.reasons))
    return decisions


def left_out_lines(invoice: Invoice) -> list[LineDecision]:
    """The reimbursable lines the declaration leaves out, with the reasons (for the invoice page and the CLI)."""
    return [decision for decision in line_decisions(invoice) if not decision.declared]


def _period(start: date, end: date | None) -> str:
    return f"{_nl(start)} t/m {_nl(end)}" if end else f"vanaf {_nl(start)}"


def _credential_rows(lines: Sequence[InvoiceLine]) -> list[TherapistCredentialLine]:
    """One row per therapist and registration valid on their (declared) treatment dates."""
    rows: dict[tuple, TherapistCredentialLine] = {}
    checks: dict[tuple[int, date], cred.CredentialCheck] = {}
    for line in lines:
        therapist: Therapist = line.treatment.therapist
        day = line.treatment_date
        check = checks.get((therapist.id, day))
        if check is None:
            check = checks[(therapist.id, day)] = therapist.credentials_on(day)
        if check.kp is None:  # not declared (see line_decisions)
            continue
        key = (therapist.id, check.kp, check.nvh)
        if key not in rows:
            rows[key] = TherapistCredentialLine(
                therapist_name=line.therapist_name or therapist.name,
                therapist_agb=line.therapist_agb or therapist.agb_code or "",
                kp_number=check.kp.kp_number,
                kp_level=KP_LEVEL_LABELS.get(check.kp.level, str(check.kp.level)),
                kp_period=_period(check.kp.period_start, check.kp.period_end),
                nvh_number=check.nvh.number if check.nvh else "",
                nvh_period=_period(check.nvh.valid_from, check.nvh.valid_until) if check.nvh else "",
            )
    return list(rows.values())


def missing_for_declaration(invoice: Invoice, practice: Practice | None = None) -> list[Text]:
    """Every field the declaration of this issued invoice cannot be printed without (empty when it can)."""
    practice = practice or _practice()
    open_lines = [line for line in invoice.lines if line.credit_line is None]
    lines = declared_lines(invoice)
    day = documents.last_treatment_date(lines or open_lines) or invoice.issue_date or clinic_today()
    line_facts = [rules.LineFacts(treatment_date=line.treatment_date, medical=line.medical,
                                  therapist_name=line.therapist_name, therapist_agb=line.therapist_agb,
                                  reimbursable=line.reimbursable) for line in open_lines]
    missing = rules.missing_declaration_fields(_practice_facts(practice), _patient_facts(invoice.patient, day),
                                               line_facts)
    if not open_lines:
        missing = [field for field in missing if field.msgid != "at least one invoice line"]
        missing.append(label(N_("at least one line that is not credited")))
    if lines and not invoice.patient.bsn_encrypted:
        missing.append(label(N_("patient BSN (required when sending care data to an insurer)")))
    decisions = line_decisions(invoice) if lines else []
    if decisions and not any(decision.declared for decision in decisions):
        # Nothing left to declare: say why each line is left out (a declaration with some lines prints them).
        reasons: list[Words] = []
        for decision in decisions:
            reasons += [*(["; "] if reasons else []),
                        msg("%(date)s %(description)s: %(why)s", date=_nl(decision.line.treatment_date),
                            description=decision.line.description,
                            why=eligibility.missing_words(decision.reasons))]
        missing.append(msg("at least one line that can be declared (%(reasons)s)", reasons=reasons))
    return missing


def declaration_document(invoice: Invoice) -> DeclarationDocument:
    """The declaration of an issued invoice; raises DeclarationMissingData naming every missing field."""
    if invoice.status != InvoiceStatus.ISSUED:
        raise InvoiceError(_("Only an issued invoice has a declaration: issue the draft first."))
    practice = _practice()
    missing = missing_for_declaration(invoice, practice)
    if missing:
        raise DeclarationMissingData(missing)
    decisions = line_decisions(invoice)
    lines = [decision.line for decision in decisions if decision.declared]
    expected = {decision.line.id: decision.expected for decision in decisions if decision.declared}
    day = documents.last_treatment_date(lines)
    if practice is None or day is None or invoice.number is None or invoice.issue_date is None:
        raise InvoiceError(_("The declaration lacks the practice, a treatment or the invoice's number and date."))
    patient = dataclasses.replace(
        documents.patient_info(invoice.patient, day),
        bsn=invoice.patient.get_bsn() or "",
    )
    with dutch():  # lines stored before they held the Dutch words get them here (the declaration is printed now)
        document_lines = tuple(dataclasses.replace(
            documents.dutch_words(documents.document_line(line, documents.line_amounts(line))),
            insurer_amount=expected[line.id]) for line in lines)
        left_out = tuple(LeftOutLine(
            treatment_date=decision.line.treatment_date, description=decision.line.description,
            therapist_name=decision.line.therapist_name, gross=from_cents(decision.line.gross_cents),
            reasons=tuple(str(reason) for reason in decision.reasons)) for decision in decisions
            if not decision.declared)
    therapists = _credential_rows(lines)
    return DeclarationDocument(
        reference=invoice.number,
        issue_date=invoice.issue_date,
        practice=documents.practice_info(practice),
        patient=patient,
        lines=document_lines,
        therapists=tuple(therapists),
        total_gross=sum((line.gross for line in document_lines), ZERO),
        total_expected_reimbursement=sum((line.insurer_amount for line in document_lines), ZERO),
        place=practice.city,
        left_out=left_out,
    )


def _render_declaration(doc: DeclarationDocument) -> bytes:
    from ..documents.pdf import render_declaration  # WeasyPrint costs 0.6 s to import: only when printing

    return render_declaration(doc)


def _render_aftercare(doc: AftercareDocument) -> bytes:
    from ..documents.pdf import render_aftercare

    return render_aftercare(doc)


def declaration_pdf(invoice: Invoice, user=None,
                    renderer: Callable[[DeclarationDocument], bytes] | None = None) -> bytes:
    """The declaration as PDF bytes, rendered now; logged as a print of the patient's data."""
    doc = declaration_document(invoice)
    pdf = (renderer or _render_declaration)(doc)
    audit.record("print", invoice.patient_id, f"declaration {invoice.number}",
                 f"declaration PDF of invoice {invoice.number} ({len(doc.lines)} lines)", user=user)
    return pdf


# ---- aftercare ------------------------------------------------------------------------------------------

def aftercare_document(treatment: Treatment) -> AftercareDocument:
    """The aftercare sheet for a treatment, with the text for its catalogue item or technique (aftercare/)."""
    practice = _practice()
    if practice is None or not practice.name.strip():
        raise DeclarationMissingData([label(N_("practice name"))], aftercare=True)
    item = treatment.catalogue_item
    text = content_for(treatment)
    with dutch():  # a printed document: Dutch whatever the user's language
        return AftercareDocument(
            practice=documents.practice_info(practice),
            patient_name=treatment.patient.full_name,
            treatment_date=treatment.treatment_date,
            treatment_name=item.name,
            technique=technique_label(item.technique) if item.technique else "",
            body_area=body_area_label(treatment.body_area),
            therapist_name=treatment.therapist.name,
            heading=text.title,
            recovery=text.expectations,
            instructions=text.instructions,
        )


def aftercare_pdf(treatment: Treatment, user=None,
                  renderer: Callable[[AftercareDocument], bytes] | None = None) -> bytes:
    doc = aftercare_document(treatment)
    pdf = (renderer or _render_aftercare)(doc)
    audit.record("print", treatment.patient_id, f"treatment {treatment.id}",
                 f"aftercare sheet of {_nl(treatment.treatment_date)}", user=user)
    return pdf
