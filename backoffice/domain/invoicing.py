"""Invoice arithmetic, numbering format, missing-data checks and payment status. Pure: no Flask, no database.

Rounding rule (written down here and tested in tests/test_invoicing_domain.py):

1. Every line is split on its own from its VAT-inclusive price (`domain.vat.split`): the net amount is
   gross / (1 + rate) rounded half-up to the cent, and the VAT is gross - net. So on every line
   net + VAT = gross exactly, in whole cents.
2. Per VAT rate, the invoice shows the SUM of its lines' net, VAT and gross amounts. VAT is never recomputed
   on a per-rate subtotal, so the per-rate figures add up exactly to the invoice totals and to what the
   patient pays (the sum of the line prices). Recomputing on the subtotal could differ by a cent or more.
3. A credit note line is the exact negative of the invoice line it credits (net, VAT and gross), so an invoice
   plus its full credit note is zero, per rate and in total.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from .dutch import nl_date as nl
from .money import round_cents
from .referrals import add_months
from .texts import N_, Text, label, msg
from .vat import EXEMPTION_GROUND, VatSplit, split

ZERO = Decimal("0.00")

# What the printed documents say (Dutch): per line, and per rate in the totals block.
LINE_EXEMPT_LABEL = "vrijgesteld (art. 11 lid 1 onderdeel g Wet OB 1968)"
TOTAL_EXEMPT_LABEL = EXEMPTION_GROUND


def line_vat_label(rate: Decimal, exempt: bool) -> str:
    return LINE_EXEMPT_LABEL if exempt else f"{Decimal(rate):g} %"


def total_vat_label(rate: Decimal, exempt: bool) -> str:
    return TOTAL_EXEMPT_LABEL if exempt else f"{Decimal(rate):g} % btw"


@dataclass(frozen=True)
class LineAmounts:
    """One line's money: VAT-inclusive gross, net and VAT, the rate in percent and whether it is exempt."""

    gross: Decimal
    net: Decimal
    vat: Decimal
    rate: Decimal
    exempt: bool

    def __post_init__(self) -> None:
        for name in ("gross", "net", "vat"):
            value = getattr(self, name)
            if round_cents(value) != value:
                raise ValueError(f"{name} {value} is not a whole number of cents")
        if self.net + self.vat != self.gross:
            raise ValueError(f"net {self.net} + VAT {self.vat} != gross {self.gross}")
        if self.exempt and self.vat != 0:
            raise ValueError("an exempt line carries no VAT")

    @classmethod
    def from_split(cls, vat_split: VatSplit) -> LineAmounts:
        return cls(gross=vat_split.gross, net=vat_split.net, vat=vat_split.vat, rate=vat_split.rate,
                   exempt=vat_split.exempt)

    @classmethod
    def for_price(cls, gross: Decimal, medical: bool) -> LineAmounts:
        """Split a VAT-inclusive price: exempt for medical treatment, 21 % otherwise (rounding rule 1)."""
        return cls.from_split(split(gross, medical))

    def negated(self) -> LineAmounts:
        """The credit note line for this line (rounding rule 3)."""
        return LineAmounts(gross=-self.gross, net=-self.net, vat=-self.vat, rate=self.rate, exempt=self.exempt)

    @property
    def key(self) -> tuple[bool, Decimal]:
        return (not self.exempt, self.rate)


@dataclass(frozen=True)
class RateTotal:
    rate: Decimal
    exempt: bool
    net: Decimal
    vat: Decimal
    gross: Decimal

    @property
    def label(self) -> str:
        return total_vat_label(self.rate, self.exempt)


@dataclass(frozen=True)
class Totals:
    by_rate: tuple[RateTotal, ...]   # exempt first, then by rate
    net: Decimal
    vat: Decimal
    gross: Decimal


def totals(lines: Iterable[LineAmounts]) -> Totals:
    """Per-rate and overall totals as sums of the lines (rounding rule 2)."""
    groups: dict[tuple[bool, Decimal], list[LineAmounts]] = {}
    for line in lines:
        groups.setdefault(line.key, []).append(line)
    by_rate = tuple(
        RateTotal(rate=rate, exempt=not taxed, net=sum((x.net for x in group), ZERO),
                  vat=sum((x.vat for x in group), ZERO), gross=sum((x.gross for x in group), ZERO))
        for (taxed, rate), group in sorted(groups.items())
    )
    return Totals(by_rate=by_rate, net=sum((r.net for r in by_rate), ZERO),
                  vat=sum((r.vat for r in by_rate), ZERO), gross=sum((r.gross for r in by_rate), ZERO))


# ---- numbers -------------------------------------------------------------------------------------------

INVOICE_SERIES = "invoice"
CREDIT_SERIES = "credit"
SEQUENCE_DIGITS = 5


def series_name(kind: str, year: int) -> str:
    """The counter row a number comes from: one consecutive series per kind and calendar year."""
    if kind not in (INVOICE_SERIES, CREDIT_SERIES):
        raise ValueError(f"unknown series kind {kind!r}")
    return f"{kind}-{year}"


def format_number(kind: str, year: int, sequence: int) -> str:
    """2026-00001 for invoices, C2026-00001 for credit notes (more digits once a year passes 99999)."""
    if sequence < 1:
        raise ValueError("sequence numbers start at 1")
    prefix = "C" if kind == CREDIT_SERIES else ""
    series_name(kind, year)
    return f"{prefix}{year}-{sequence:0{SEQUENCE_DIGITS}d}"


def due_date(issue_date: date, term_days: int) -> date:
    return issue_date + timedelta(days=term_days)


# ---- missing data (nothing is numbered while anything is missing) ---------------------------------------

@dataclass(frozen=True)
class PracticeFacts:
    name: str
    street: str
    postcode: str
    city: str
    kvk_number: str
    vat_id: str
    agb_code: str


@dataclass(frozen=True)
class PatientFacts:
    name: str
    street: str
    postcode: str
    city: str
    policy_number: str = ""


@dataclass(frozen=True)
class LineFacts:
    treatment_date: date
    medical: bool
    therapist_name: str
    therapist_agb: str
    reimbursable: bool = False
    description: str = ""
    # None: not checked (a caller that does not know the code); "" on a reimbursable line stops the invoice.
    prestatiecode: str | None = None


def _blank(value: str | None) -> bool:
    return not (value or "").strip()


def missing_invoice_fields(practice: PracticeFacts | None, patient: PatientFacts,
                           lines: Sequence[LineFacts]) -> list[Text]:
    """Every field an invoice cannot be issued without (tax law plus what insurers need), in reading order.
    Texts: shown in the reader's language (`str()`), compared by message id and parameters."""
    missing: list[Text] = []
    if practice is None:
        missing.append(label(N_("practice details (name, address, KvK number, VAT id, practice AGB code)")))
    else:
        for name, value in ((N_("practice name"), practice.name), (N_("practice street"), practice.street),
                            (N_("practice postcode"), practice.postcode), (N_("practice city"), practice.city),
                            (N_("practice KvK number"), practice.kvk_number),
                            (N_("practice VAT id"), practice.vat_id), (N_("practice AGB code"), practice.agb_code)):
            if _blank(value):
                missing.append(label(name))
    for name, value in ((N_("patient name"), patient.name), (N_("patient street"), patient.street),
                        (N_("patient postcode"), patient.postcode), (N_("patient city"), patient.city)):
        if _blank(value):
            missing.append(label(name))
    if not lines:
        missing.append(label(N_("at least one invoice line")))
    for line in lines:
        # Insurers want the personal AGB of whoever performed medical care; a cosmetic line needs none.
        if line.medical and _blank(line.therapist_agb):
            text = msg("personal AGB code of therapist %(name)s", name=line.therapist_name or "(?)")
            if text not in missing:
                missing.append(text)
    for line in lines:
        # Insurers check the Vektis prestatiecode of every line they are asked to pay (GDS PM, since 2025).
        if line.reimbursable and line.prestatiecode is not None and _blank(line.prestatiecode):
            text = msg("prestatiecode of treatment %(item)s (enter it in the catalogue)",
                       item=line.description or "(?)")
            if text not in missing:
                missing.append(text)
    return missing


def missing_declaration_fields(practice: PracticeFacts | None, patient: PatientFacts,
                               lines: Sequence[LineFacts]) -> list[Text]:
    """A declaration for the insurer additionally needs the policy number and reimbursable lines."""
    missing = missing_invoice_fields(practice, patient, lines)
    if _blank(patient.policy_number):
        missing.append(label(N_("patient policy number")))
    if lines and not any(line.reimbursable for line in lines):
        missing.append(label(N_("at least one reimbursable line")))
    return missing


# ---- what a claim or declaration still needs (shown before issuing or exporting) ------------------------

class Gap(enum.StrEnum):
    """Where the missing item is fixed: the page a link on the "what is missing" panel opens."""

    BSN = "bsn"                      # the patient form
    ID_DOCUMENT = "id_document"      # the patient form
    REFERRAL = "referral"            # the patient's referrals
    PRESTATIECODE = "prestatiecode"  # the catalogue item
    INTAKE = "intake"                # a new intake for the patient
    POLICY = "policy"                # the patient's insurances
    THERAPIST = "therapist"          # the therapist's AGB code and credentials
    PRACTICE = "practice"            # the practice settings
    OTHER = "other"                  # nothing to link to (a cap used up, a deadline passed)


@dataclass(frozen=True)
class Missing:
    """One thing a claim or declaration lacks: what (rendered when shown) and where to fix it (`gap`, with the id
    of the record to open: a catalogue item, a therapist, a treatment; None for the patient's own pages)."""

    gap: Gap
    text: object                      # a Text, or anything worded when turned into a string (a claim Reason)
    ref: int | None = None

    def __str__(self) -> str:
        return str(self.text)


@dataclass(frozen=True)
class ClaimLine:
    """One reimbursable treatment as the "what is missing" check needs it."""

    treatment_id: int
    treatment_date: date
    description: str
    catalogue_item_id: int
    prestatiecode: str
    insurer_name: str = ""
    bsn_required: bool = False        # the insurer's setting: the BSN goes on its declarations and claim lines
    referral_required: bool = False   # the coverage rule asks for a referral
    referral_from: date | None = None  # the treatment's referral (withdrawn ones left out), its validity
    referral_until: date | None = None


@dataclass(frozen=True)
class ClaimPatient:
    bsn_recorded: bool
    id_document_recorded: bool        # type and number of the ID document checked with the BSN
    intake_dates: tuple[date, ...] = ()


def claim_gaps(patient: ClaimPatient, lines: Sequence[ClaimLine], intake_validity_months: int) -> list[Missing]:
    """Everything that would keep these reimbursable lines off a claim or a declaration, each named once, patient
    first (BSN, ID document), then per line in date order (prestatiecode, referral, intake)."""
    found: list[Missing] = []

    def add(item: Missing) -> None:
        if all(str(item.text) != str(seen.text) or item.gap != seen.gap for seen in found):
            found.append(item)

    asking = sorted({line.insurer_name for line in lines if line.bsn_required and line.insurer_name})
    if any(line.bsn_required for line in lines):
        if not patient.bsn_recorded:
            add(Missing(Gap.BSN, msg("patient BSN (%(insurers)s asks for it on declarations and claims)",
                                     insurers=", ".join(asking) or "?")))
        if not patient.id_document_recorded:
            add(Missing(Gap.ID_DOCUMENT, label(N_("type and number of the ID document checked with the BSN"))))
    for line in sorted(lines, key=lambda x: (x.treatment_date, x.treatment_id)):
        day = nl(line.treatment_date)
        if _blank(line.prestatiecode):
            add(Missing(Gap.PRESTATIECODE, msg("prestatiecode of treatment %(item)s (enter it in the catalogue)",
                                               item=line.description or "(?)"), line.catalogue_item_id))
        if line.referral_required:
            if line.referral_from is None or line.referral_until is None:
                add(Missing(Gap.REFERRAL, msg("referral for the treatment of %(date)s (%(item)s): the insurer's "
                                              "rule requires one", date=day, item=line.description),
                            line.treatment_id))
            elif not line.referral_from <= line.treatment_date <= line.referral_until:
                add(Missing(Gap.REFERRAL, msg("valid referral for the treatment of %(date)s (%(item)s): the "
                                              "referral runs from %(start)s to %(end)s", date=day,
                                              item=line.description, start=nl(line.referral_from),
                                              end=nl(line.referral_until)), line.treatment_id))
        before = [d for d in patient.intake_dates if d <= line.treatment_date]
        if not before:
            add(Missing(Gap.INTAKE, msg("intake before the treatment of %(date)s", date=day)))
        elif line.treatment_date > add_months(max(before), intake_validity_months):
            add(Missing(Gap.INTAKE, msg("up-to-date intake: the intake of %(intake)s was older than %(months)s "
                                        "months on %(date)s", intake=nl(max(before)),
                                        months=intake_validity_months, date=day)))
    return found


# ---- payment status (derived, so issued invoice rows never change) --------------------------------------

class PaymentState(enum.StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    CREDITED = "credited"


PAYMENT_STATE_LABELS = {
    PaymentState.DRAFT: N_("Draft"),
    PaymentState.OPEN: N_("Open"),
    PaymentState.PAID: N_("Paid"),
    PaymentState.CREDITED: N_("Credited"),
}


@dataclass(frozen=True)
class PaymentFact:
    paid_on: date
    method: str
    amount: Decimal


@dataclass(frozen=True)
class InvoiceStatus:
    state: PaymentState
    total: Decimal             # invoice gross
    credited: Decimal          # positive: the amount credit notes took off
    paid: Decimal
    balance: Decimal           # still to pay (negative: to refund)
    overdue: bool
    days_overdue: int
    last_paid_on: date | None
    last_method: str
    # Direct billing: the insurer's part of the lines not credited, less what was moved to the patient (not the
    # patient's to pay: the insurer pays it, or it was written off), and what the insurer paid so far.
    insurer_share: Decimal = ZERO
    insurer_paid: Decimal = ZERO

    @property
    def label(self) -> str:
        return PAYMENT_STATE_LABELS[self.state]

    @property
    def patient_part(self) -> Decimal:
        """What the patient is asked to pay: the total less credit notes, less the insurer's share."""
        return self.total - self.credited - self.insurer_share


# A payment with this method is the insurer's (direct billing): it settles the insurer's part, not the balance.
INSURER_PAYMENT_METHOD = "insurer"


def invoice_status(issued: bool, total: Decimal, credited: Decimal, payments: Sequence[PaymentFact],
                   fully_credited: bool, due: date | None, today: date,
                   insurer_share: Decimal = ZERO) -> InvoiceStatus:
    """Open until paid; paid when payments cover what is left after credit notes; credited when every line was.

    Direct billing: the patient owes the total less credit notes less `insurer_share` (the insurer's part of the
    lines not credited, less short payments moved to the patient); the insurer's own payments settle its share
    and leave the patient's balance as it is."""
    insurer_paid = sum((p.amount for p in payments if p.method == INSURER_PAYMENT_METHOD), ZERO)
    payments = [p for p in payments if p.method != INSURER_PAYMENT_METHOD]
    paid = sum((p.amount for p in payments), ZERO)
    balance = total - credited - paid - insurer_share
    last = max(payments, key=lambda p: p.paid_on) if payments else None
    if not issued:
        state = PaymentState.DRAFT
    elif fully_credited:
        state = PaymentState.CREDITED
    elif balance <= 0:
        state = PaymentState.PAID
    else:
        state = PaymentState.OPEN
    overdue = state is PaymentState.OPEN and due is not None and due < today
    return InvoiceStatus(
        state=state, total=total, credited=credited, paid=paid, balance=balance, overdue=overdue,
        days_overdue=(today - due).days if overdue and due else 0,
        last_paid_on=last.paid_on if last else None, last_method=last.method if last else "",
        insurer_share=insurer_share, insurer_paid=insurer_paid,
    )
