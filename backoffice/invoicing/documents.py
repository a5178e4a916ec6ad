"""Building the plain InvoiceDocument (backoffice/documents/data.py) from the database, and its JSON snapshot.

The snapshot stored with an issued invoice or credit note is this document as printed, minus the practice
logo (the PDF holds it; the JSON stays small). `document_from_snapshot` gives the same document back.
"""

from __future__ import annotations

import base64
import dataclasses
from datetime import date
from decimal import Decimal
from typing import Any

from ..documents.data import DocumentLine, InvoiceDocument, PatientInfo, PracticeInfo, VatTotal
from ..domain import credentials as cred
from ..domain import invoicing as rules
from ..domain.dutch import nl_date
from ..domain.money import format_euro, from_cents
from ..labels import LABEL_MAPS, body_area_label, indication_label, referrer_label, technique_label
from ..models import CreditNoteLine, Invoice, InvoiceLine, Patient, Practice, Treatment


def practice_info(practice: Practice) -> PracticeInfo:
    logo = ""
    if practice.logo and practice.logo_mimetype:
        logo = f"data:{practice.logo_mimetype};base64,{base64.b64encode(practice.logo).decode('ascii')}"
    return PracticeInfo(
        name=practice.name, street=practice.street, postcode=practice.postcode, city=practice.city,
        kvk_number=practice.kvk_number, vat_id=practice.vat_id, agb_code=practice.agb_code, iban=practice.iban,
        phone=practice.phone, email=practice.email, website=practice.website, logo_data_uri=logo,
    )


def patient_info(patient: Patient, day: date) -> PatientInfo:
    """Name, address and the insurance valid on `day`. No BSN on an invoice: it is not required there and
    the snapshot would hold it in clear text."""
    insurance = patient.insurance_on(day)
    return PatientInfo(
        name=patient.full_name, street=patient.street, postcode=patient.postcode, city=patient.city,
        date_of_birth=patient.date_of_birth,
        insurer_name=insurance.insurer.name if insurance else "",
        uzovi=insurance.insurer.uzovi if insurance else "",
        package_name=insurance.package.name if insurance and insurance.package else "",
        policy_number=insurance.policy_number if insurance else "",
    )


def line_amounts(line: InvoiceLine | CreditNoteLine) -> rules.LineAmounts:
    return rules.LineAmounts(
        gross=from_cents(line.gross_cents), net=from_cents(line.net_cents), vat=from_cents(line.vat_cents),
        rate=Decimal(line.vat_rate), exempt=line.vat_rate == 0,
    )


# The KP register levels as printed (Dutch register names, the same in every language of the interface).
KP_LEVEL_WORDS = {
    cred.KpLevel.KWALITEITSREGISTER: "Kwaliteitsregister",
    cred.KpLevel.DIPLOMAREGISTER: "Diplomaregister",
}
OWN_RISK_WORDS = "basisverzekering, eigen risico van toepassing"
AUTHORISATION_WORDS = "machtiging"


def rule_parts_words(treatment: Treatment | None) -> tuple[str, ...]:
    """Each paying rule's part of the treatment in Dutch, where more than one rule pays or basic insurance pays
    (the own-risk note): "Menzis chronische lijst: EUR 120,00 (basisverzekering, eigen risico van toepassing)"."""
    if treatment is None or not treatment.assessment:
        return ()
    parts = treatment.stored_assessment().parts
    if len(parts) < 2 and not any(part.own_risk or part.authorisation for part in parts):
        return ()
    words = []
    for part in parts:
        notes = ([OWN_RISK_WORDS] if part.own_risk else []) + (
            [f"{AUTHORISATION_WORDS} {part.authorisation}"] if part.authorisation else [])
        words.append(f"{part.rule.label}: {format_euro(part.amount)}" + (f" ({'; '.join(notes)})" if notes else ""))
    return tuple(words)


def _code_list(line: InvoiceLine) -> str:
    """The Vektis code list of the line's prestatiecode (e.g. "075"), from its catalogue item; "" if none.
    (The line stores the code as issued; the list is a property of the item's code, e.g. 075 for skin therapy.)"""
    if not line.prestatiecode or line.treatment is None or line.treatment.catalogue_item is None:
        return ""
    return line.treatment.catalogue_item.prestatiecode_list or ""


def _credentials(line: InvoiceLine) -> cred.CredentialCheck | None:
    """The therapist's KP registration and NVH membership valid on the treatment date."""
    treatment = line.treatment
    if treatment is None or treatment.therapist is None:
        return None
    return treatment.therapist.credentials_on(line.treatment_date)


def document_line(line: InvoiceLine, amounts: rules.LineAmounts) -> DocumentLine:
    check = _credentials(line)
    kp = check.kp if check else None
    nvh = check.nvh if check else None
    return DocumentLine(
        treatment_date=line.treatment_date, description=line.description, prestatiecode=line.prestatiecode,
        indication=line.indication, medical=line.medical, therapist_name=line.therapist_name,
        therapist_agb=line.therapist_agb, technique=line.technique, body_area=line.body_area,
        quantity=line.quantity, gross=amounts.gross, net=amounts.net, vat=amounts.vat, vat_rate=amounts.rate,
        vat_label=rules.line_vat_label(amounts.rate, amounts.exempt), referral=line.referral,
        insurer_amount=from_cents(line.insurer_amount_cents) * (1 if amounts.gross >= 0 else -1),
        prestatiecode_list=_code_list(line),
        kp_number=kp.kp_number if kp else "",
        kp_level=KP_LEVEL_WORDS.get(kp.level, str(kp.level)) if kp else "",
        nvh_number=nvh.number if nvh else "",
        rule_parts=rule_parts_words(line.treatment) if amounts.gross >= 0 else (),
    )


def _english_labels(kind: str) -> dict[str, Any]:
    """English label -> enum member of one kind of labels.LABEL_MAPS."""
    _, labels = LABEL_MAPS[kind]
    return {label: member for member, label in labels.items()}


def dutch_words(line: DocumentLine) -> DocumentLine:
    """The line with Dutch enum words, also when it was stored before lines held them ("Acne scars", "face",
    "GP (huisarts) ..."): an English label becomes its Dutch label, anything else stays as stored. Call inside
    i18n.dutch() (a document rendered now, e.g. the declaration; an issued invoice's PDF is never rendered again).
    """
    indications, techniques = _english_labels("indication"), _english_labels("technique")
    body_areas = _english_labels("body_area")
    body_area = line.body_area
    if body_area in body_areas:
        body_area = body_area_label(body_areas[body_area])
    elif body_area.replace(" ", "_") in {member.value for member in body_areas.values()}:
        body_area = body_area_label(body_area.replace(" ", "_"))  # stored as the code, "bikini line"
    referral = line.referral
    for english, member in _english_labels("referrer").items():
        if referral.startswith(english + " "):
            referral = referrer_label(member) + referral[len(english):]
            break
    return dataclasses.replace(
        line,
        indication=indication_label(indications[line.indication]) if line.indication in indications
        else line.indication,
        technique=technique_label(techniques[line.technique]) if line.technique in techniques else line.technique,
        body_area=body_area,
        referral=referral,
    )


def vat_totals(totals: rules.Totals) -> tuple[VatTotal, ...]:
    return tuple(VatTotal(label=r.label, rate=r.rate, net=r.net, vat=r.vat, gross=r.gross) for r in totals.by_rate)


def last_treatment_date(lines: list[InvoiceLine]) -> date | None:
    return max((line.treatment_date for line in lines), default=None)


def invoice_document(invoice: Invoice, practice: PracticeInfo, patient: PatientInfo, number: str,
                     issue_date: date, due: date, term_days: int) -> InvoiceDocument:
    """Everything is read before the number is taken (`patient` included), so the counter row stays locked
    only for building this dataclass, rendering and writing. Call inside i18n.dutch(), as credit_note_document."""
    pairs = [(line, line_amounts(line)) for line in invoice.lines]
    totals = rules.totals(amounts for _, amounts in pairs)
    pay_to = f" op {practice.iban} t.n.v. {practice.name}" if practice.iban else ""
    # Direct billing: the insurer's part (fixed on the lines at issue) is claimed by the practice, so the patient
    # is asked for the rest only.
    insurer_part = from_cents(sum(line.insurer_part_cents for line in invoice.lines))
    insurers = sorted({line.treatment.insurer.name for line in invoice.lines
                       if line.insurer_part_cents and line.treatment and line.treatment.insurer})
    to_pay = totals.gross - insurer_part
    if to_pay > 0:
        payment_note = (f"Graag {format_euro(to_pay)} binnen {term_days} dagen overmaken{pay_to}, "
                        f"onder vermelding van factuurnummer {number}.")
    else:
        payment_note = "U hoeft niets te betalen: de praktijk declareert het bedrag rechtstreeks bij uw verzekeraar."
    return InvoiceDocument(
        kind="invoice", number=number, issue_date=issue_date, due_date=due, practice=practice, patient=patient,
        lines=tuple(dutch_words(document_line(line, amounts)) for line, amounts in pairs),
        vat_totals=vat_totals(totals), total_net=totals.net, total_vat=totals.vat, total_gross=totals.gross,
        payment_note=payment_note, insurer_part=insurer_part, insurer_name=" en ".join(insurers),
    )


def credit_note_document(invoice: Invoice, lines: list[InvoiceLine], practice: PracticeInfo, patient: PatientInfo,
                         number: str, issue_date: date, reason: str) -> InvoiceDocument:
    pairs = [(line, line_amounts(line).negated()) for line in lines]
    totals = rules.totals(amounts for _, amounts in pairs)
    refers_to = f"{invoice.number} van {nl_date(invoice.issue_date)}"  # printed after "Creditering van factuur"
    note = f"Deze creditnota vervalt (een deel van) factuur {invoice.number}."
    if reason:
        note += f" Reden: {reason}."
    return InvoiceDocument(
        kind="credit_note", number=number, issue_date=issue_date, due_date=None, practice=practice,
        patient=patient, lines=tuple(dutch_words(document_line(line, amounts)) for line, amounts in pairs),
        vat_totals=vat_totals(totals), total_net=totals.net, total_vat=totals.vat, total_gross=totals.gross,
        refers_to=refers_to, payment_note=note,
    )


# ---- JSON snapshot --------------------------------------------------------------------------------------

def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def document_snapshot(doc: InvoiceDocument) -> dict:
    data = _plain(dataclasses.asdict(doc))
    data["practice"]["logo_data_uri"] = ""
    return data


def _load(cls, data: dict):
    values = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        kind = str(f.type)
        if value is not None and "Decimal" in kind:
            value = Decimal(value)
        elif value is not None and kind.startswith("date"):
            value = date.fromisoformat(value)
        elif value is not None and kind.startswith("tuple"):
            value = tuple(value)
        values[f.name] = value
    return cls(**values)


def document_from_snapshot(data: dict) -> InvoiceDocument:
    doc = _load(InvoiceDocument, {
        **data, "practice": None, "patient": None, "lines": (), "vat_totals": (),
    })
    return dataclasses.replace(
        doc,
        practice=_load(PracticeInfo, data["practice"]),
        patient=_load(PatientInfo, data["patient"]),
        lines=tuple(_load(DocumentLine, line) for line in data["lines"]),
        vat_totals=tuple(_load(VatTotal, total) for total in data["vat_totals"]),
    )
