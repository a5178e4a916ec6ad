"""Plain data for the printed documents: what the templates in reports/ receive, and nothing else.

Services build these from the database; the renderer never sees an ORM object or a Flask request.
Amounts are Decimal euros (already rounded to the cent), dates are dates; the templates format them Dutch-style.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class PracticeInfo:
    name: str
    street: str
    postcode: str
    city: str
    kvk_number: str
    vat_id: str
    agb_code: str          # practice AGB: the declarant insurers want
    iban: str
    phone: str = ""
    email: str = ""
    website: str = ""
    logo_data_uri: str = ""  # "data:image/png;base64,..." or "" (rendered without fetching anything)


@dataclass(frozen=True)
class PatientInfo:
    name: str
    street: str
    postcode: str
    city: str
    date_of_birth: date
    bsn: str = ""              # full BSN only where the law requires it (declaration to an insurer), else ""
    insurer_name: str = ""
    uzovi: str = ""
    package_name: str = ""
    policy_number: str = ""


@dataclass(frozen=True)
class DocumentLine:
    treatment_date: date
    description: str
    prestatiecode: str
    indication: str            # human label, e.g. "Acne scars"
    medical: bool
    therapist_name: str
    therapist_agb: str
    technique: str             # human label; shown always, required on hair removal lines
    body_area: str
    quantity: int
    gross: Decimal             # VAT-inclusive line amount
    net: Decimal
    vat: Decimal
    vat_rate: Decimal          # 0 or 21
    vat_label: str             # "vrijgesteld (art. 11 lid 1 onderdeel g Wet OB 1968)" or "21 %"
    referral: str = ""         # "GP J. de Boer (AGB 01234567), 02-03-2026: diagnosis" or ""
    insurer_amount: Decimal = Decimal("0")
    prestatiecode_list: str = ""  # the Vektis code list the prestatiecode comes from, e.g. "075", or ""
    # The therapist's registrations valid on the treatment date ("" when there is none). Defaults, so a snapshot
    # stored before lines held them loads as it was printed.
    kp_number: str = ""
    kp_level: str = ""         # "Kwaliteitsregister" or "Diplomaregister"
    nvh_number: str = ""
    # Where more than one rule pays (or basic insurance, with its own-risk note): each rule's part, in Dutch
    # ("Menzis littekens aanvullend: EUR 30,00"). Empty on lines stored before rules stacked.
    rule_parts: tuple[str, ...] = ()

    @property
    def prestatie(self) -> str:
        """The prestatiecode as printed: "075/HD101" with its code list, else the code alone (or "")."""
        if self.prestatiecode and self.prestatiecode_list:
            return f"{self.prestatiecode_list}/{self.prestatiecode}"
        return self.prestatiecode


@dataclass(frozen=True)
class VatTotal:
    label: str                 # "Vrijgesteld van btw, art. 11 lid 1 onderdeel g Wet OB 1968" or "21 % btw"
    rate: Decimal
    net: Decimal
    vat: Decimal
    gross: Decimal


@dataclass(frozen=True)
class InvoiceDocument:
    kind: str                  # "invoice" or "credit_note"
    number: str                # "2026-00001" / "C2026-00001"
    issue_date: date
    due_date: date | None
    practice: PracticeInfo
    patient: PatientInfo
    lines: tuple[DocumentLine, ...]
    vat_totals: tuple[VatTotal, ...]
    total_net: Decimal
    total_vat: Decimal
    total_gross: Decimal
    refers_to: str = ""        # for a credit note: the original invoice number and date
    payment_note: str = ""     # e.g. "Please pay within 14 days to NL91 ABNA 0417 1643 00 quoting 2026-00001"
    # Direct billing: the part the practice claims from the insurer itself; the patient pays the rest.
    insurer_part: Decimal = Decimal("0.00")
    insurer_name: str = ""


@dataclass(frozen=True)
class TherapistCredentialLine:
    therapist_name: str
    therapist_agb: str
    kp_number: str
    kp_level: str
    kp_period: str             # "01-01-2024 t/m 31-12-2028"
    nvh_number: str
    nvh_period: str


@dataclass(frozen=True)
class LeftOutLine:
    """A reimbursable invoice line the declaration leaves out, because the claim check would exclude it."""

    treatment_date: date
    description: str
    therapist_name: str
    gross: Decimal
    reasons: tuple[str, ...]   # Dutch: what is missing and since when ("KP-registratie verlopen op 30-11-2026")


@dataclass(frozen=True)
class DeclarationDocument:
    """The declaration (declaratie/verklaring) the therapist signs and the patient sends to the insurer."""

    reference: str             # invoice number it belongs to
    issue_date: date
    practice: PracticeInfo
    patient: PatientInfo
    lines: tuple[DocumentLine, ...]              # only the reimbursable lines
    therapists: tuple[TherapistCredentialLine, ...]  # credentials valid on the treatment dates
    total_gross: Decimal
    total_expected_reimbursement: Decimal
    place: str = ""            # place of signing (practice city)
    left_out: tuple[LeftOutLine, ...] = ()      # reimbursable lines not declared, with the reasons


@dataclass(frozen=True)
class AftercareDocument:
    practice: PracticeInfo
    patient_name: str
    treatment_date: date
    treatment_name: str
    technique: str
    body_area: str
    therapist_name: str
    instructions: tuple[str, ...] = field(default_factory=tuple)
    recovery: tuple[str, ...] = field(default_factory=tuple)
    heading: str = ""  # the aftercare text's own title, e.g. "Nazorg na elektrisch epileren"
