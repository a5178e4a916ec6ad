"""Insurer claim batches in plain Python: which invoiced lines may be claimed, the claim workbook's columns,
the batch lifecycle, matching an insurer's remittance and the outcome statistics.

Pure: the caller gathers the facts (one query per table for a whole batch, never one per line), these
functions decide, and the caller stores the answer. Amounts are Decimal euros rounded to the cent.

The flow the claims services follow:

1. Build one `ClaimLineFacts` per candidate invoice line and the cap remaining per `CapKey` *outside* this
   batch, then `validate_batch(...)`: lines are taken in treatment-date order, so earlier lines of the same
   batch use up a cap before later ones; excluded lines keep their `Reason`s (stable code + Dutch/English text).
2. Number the included lines (`batch_number`, `claim_reference`) and turn verdicts into workbook rows
   (`claim_row`, `excluded_row`) for `backoffice.claims.workbook.write_claim_workbook` with the insurer's
   `ClaimTemplate`.
3. Move the batch through `batch_transition` (draft -> exported -> submitted -> closed, or cancelled before
   submission); record per-line outcomes with `record_outcome`; `close_when_complete` closes the batch.
4. Read the insurer's reply into `RemittanceRow`s and `match_remittance(...)`: shown before anything is applied.
5. `outcome_statistics(...)` over outcome tallies (per line, or per group straight from a SQL GROUP BY).
"""

from __future__ import annotations

import enum
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from .credentials import KpRegistration, NvhMembership, check_on
from .indications import INDICATIONS, Indication
from .money import format_euro, round_cents
from .referrals import REFERRER_LABELS, Referral, add_months
from .validators import agb_error, bsn_error

ZERO = Decimal("0.00")
DEFAULT_DEADLINE_MONTHS = 12


def _day(value: date) -> str:
    return value.strftime("%d-%m-%Y")


def _euro_nl(amount: Decimal) -> str:
    return format_euro(amount).replace("EUR ", "€ ")


# ---- reasons ------------------------------------------------------------------------------------------------


class ReasonCode(enum.StrEnum):
    """Why a line cannot be claimed. The values are stable: they are stored and counted in statistics."""

    NO_POLICY = "no_policy"
    POLICY_NOT_VALID = "policy_not_valid"
    THERAPIST_NOT_ELIGIBLE = "therapist_not_eligible"
    MISSING_AGB = "missing_agb"
    MISSING_BSN = "missing_bsn"
    REFERRAL_MISSING = "referral_missing"
    REFERRAL_EXPIRED = "referral_expired"
    REFERRAL_AFTER_TREATMENT = "referral_after_treatment"
    CAP_USED_UP = "cap_used_up"
    PAST_DEADLINE = "past_deadline"
    ALREADY_CLAIMED = "already_claimed"
    NOT_REIMBURSABLE = "not_reimbursable"


@dataclass(frozen=True)
class Reason:
    """A reason with a stable code and the same sentence in Dutch and English.

    Insurer rejection reasons use this too, with the insurer's own code (e.g. "V12") and text.
    """

    code: str
    nl: str
    en: str = ""

    def __post_init__(self):
        if not self.code.strip():
            raise ValueError("a reason needs a code")
        if not (self.nl.strip() or self.en.strip()):
            raise ValueError("a reason needs a text")

    def text(self, language: str = "nl") -> str:
        return (self.en or self.nl) if language == "en" else (self.nl or self.en)


# ---- the facts of one claim line -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyFacts:
    """The patient's policy with the batch's insurer that was found for the treatment date."""

    number: str
    valid_from: date
    valid_until: date | None = None  # None: open-ended

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


@dataclass(frozen=True)
class TherapistOnDate:
    """The therapist as a claim needs them on the treatment date: eligible means NVH member and KP
    kwaliteitsregister on that date (`from_credentials` computes it from the registration history)."""

    name: str
    personal_agb: str
    eligible: bool
    kp_number: str = ""
    reasons: tuple[str, ...] = ()

    @classmethod
    def from_credentials(cls, name: str, personal_agb: str, day: date, memberships: Iterable[NvhMembership],
                         registrations: Iterable[KpRegistration]) -> TherapistOnDate:
        check = check_on(day, memberships, registrations)
        return cls(name=name, personal_agb=personal_agb, eligible=check.eligible,
                   kp_number=check.kp.kp_number if check.kp else "", reasons=tuple(check.reasons))


CapKey = tuple[int, str, int | None]   # (patient id, cap group, calendar year or None for a lifetime cap)


@dataclass(frozen=True)
class ClaimLineFacts:
    """Everything needed to decide whether one invoiced treatment line may be claimed, and to write it."""

    line_id: int                      # the invoice line (the caller's key)
    patient_id: int
    patient_name: str
    date_of_birth: date
    treatment_date: date
    indication: Indication
    description: str
    prestatiecode: str
    therapist: TherapistOnDate
    practice_agb: str
    insurer_name: str
    uzovi: str
    policy: PolicyFacts | None
    amount: Decimal                   # what the patient was charged (VAT-inclusive)
    expected_reimbursement: Decimal   # the stored assessment's insurer amount
    invoice_number: str
    bsn: str = ""                     # only where the law requires it (the insurer's rules say so)
    technique: str = ""
    referral_required: bool = False
    referral: Referral | None = None
    cap_group: str | None = None      # None: no cap applies
    cap_year: int | None = None       # calendar year of a yearly cap; None for a lifetime cap
    already_claimed: bool = False     # in a live batch (see `claim_is_live`)
    claimed_in: str = ""              # that batch's number, for the message

    @property
    def cap_key(self) -> CapKey | None:
        return None if self.cap_group is None else (self.patient_id, self.cap_group, self.cap_year)

    @property
    def category(self) -> str:
        return INDICATIONS[self.indication].category.value

    @property
    def indication_label(self) -> str:
        return INDICATIONS[self.indication].label


@dataclass(frozen=True)
class ClaimRules:
    """An insurer's claim conditions (data per insurer, not code)."""

    deadline_months: int = DEFAULT_DEADLINE_MONTHS   # a treatment older than this on the claim date is too late
    bsn_required: bool = False

    def __post_init__(self):
        if self.deadline_months < 1:
            raise ValueError("the claim deadline is at least one month")


def claim_deadline(treatment_date: date, months: int = DEFAULT_DEADLINE_MONTHS) -> date:
    """The last day a treatment can be claimed: the same date `months` later (month-end clamped)."""
    return add_months(treatment_date, months)


# ---- validation ---------------------------------------------------------------------------------------------


def _referrer(referral: Referral) -> str:
    return f"{REFERRER_LABELS.get(referral.referrer_type, referral.referrer_type)} {referral.referrer_name}".strip()


def _line_reasons(line: ClaimLineFacts, claim_date: date, rules: ClaimRules) -> list[Reason]:
    day = line.treatment_date
    reasons: list[Reason] = []
    if line.policy is None:
        reasons.append(Reason(
            ReasonCode.NO_POLICY,
            f"Geen polis bij {line.insurer_name} op {_day(day)}.",
            f"No policy with {line.insurer_name} on {_day(day)}.",
        ))
    elif not line.policy.covers(day):
        until_nl = f" tot en met {_day(line.policy.valid_until)}" if line.policy.valid_until else ""
        until_en = f" to {_day(line.policy.valid_until)}" if line.policy.valid_until else ""
        reasons.append(Reason(
            ReasonCode.POLICY_NOT_VALID,
            f"Polis {line.policy.number} loopt van {_day(line.policy.valid_from)}{until_nl} en dekt "
            f"{_day(day)} niet.",
            f"Policy {line.policy.number} runs from {_day(line.policy.valid_from)}{until_en} and does not cover "
            f"{_day(day)}.",
        ))
    if not line.therapist.eligible:
        detail = " ".join(line.therapist.reasons)
        reasons.append(Reason(
            ReasonCode.THERAPIST_NOT_ELIGIBLE,
            f"{line.therapist.name} was op {_day(day)} niet NVH-lid met KP-kwaliteitsregister.",
            f"{line.therapist.name} was not an NVH member in the KP kwaliteitsregister on {_day(day)}."
            + (f" {detail}" if detail else ""),
        ))
    if agb_error(line.therapist.personal_agb or ""):
        reasons.append(Reason(
            ReasonCode.MISSING_AGB,
            f"Geen geldige persoonlijke AGB-code van {line.therapist.name} (8 cijfers).",
            f"No valid personal AGB code for {line.therapist.name} (8 digits).",
        ))
    if agb_error(line.practice_agb or ""):
        reasons.append(Reason(
            ReasonCode.MISSING_AGB,
            "Geen geldige AGB-code van de praktijk (8 cijfers).",
            "No valid practice AGB code (8 digits).",
        ))
    if rules.bsn_required and (not line.bsn or bsn_error(line.bsn)):
        reasons.append(Reason(
            ReasonCode.MISSING_BSN,
            f"{line.insurer_name} vraagt het BSN; er is geen geldig BSN vastgelegd.",
            f"{line.insurer_name} requires the BSN; no valid BSN is recorded.",
        ))
    if line.referral_required:
        referral = line.referral
        if referral is None:
            reasons.append(Reason(
                ReasonCode.REFERRAL_MISSING,
                "Verwijzing vereist, maar er is geen verwijzing vastgelegd bij deze behandeling.",
                "A referral is required but none is recorded for this treatment.",
            ))
        elif day < referral.referral_date:
            reasons.append(Reason(
                ReasonCode.REFERRAL_AFTER_TREATMENT,
                f"De verwijzing van {_referrer(referral)} is van {_day(referral.referral_date)}, na de behandeling "
                f"op {_day(day)}.",
                f"The referral by {_referrer(referral)} is dated {_day(referral.referral_date)}, after the "
                f"treatment on {_day(day)}.",
            ))
        elif day > referral.valid_until:
            reasons.append(Reason(
                ReasonCode.REFERRAL_EXPIRED,
                f"De verwijzing van {_referrer(referral)} was geldig tot en met {_day(referral.valid_until)}; "
                f"de behandeling was op {_day(day)}.",
                f"The referral by {_referrer(referral)} was valid until {_day(referral.valid_until)}; the "
                f"treatment was on {_day(day)}.",
            ))
    deadline = claim_deadline(day, rules.deadline_months)
    if claim_date > deadline:
        reasons.append(Reason(
            ReasonCode.PAST_DEADLINE,
            f"Declaratietermijn van {rules.deadline_months} maanden verstreken op {_day(deadline)}.",
            f"The {rules.deadline_months}-month claim deadline passed on {_day(deadline)}.",
        ))
    if line.already_claimed:
        where_nl = f" {line.claimed_in}" if line.claimed_in else ""
        reasons.append(Reason(
            ReasonCode.ALREADY_CLAIMED,
            f"Deze regel zit al in lopende declaratiebatch{where_nl}.",
            f"This line is already in live claim batch{where_nl}.",
        ))
    if round_cents(line.expected_reimbursement) <= 0:
        reasons.append(Reason(
            ReasonCode.NOT_REIMBURSABLE,
            "Volgens de beoordeling vergoedt de verzekeraar niets voor deze behandeling.",
            "According to the assessment the insurer pays nothing for this treatment.",
        ))
    return reasons


def _cap_reason(line: ClaimLineFacts, remaining: Decimal) -> Reason:
    return Reason(
        ReasonCode.CAP_USED_UP,
        f"Maximale vergoeding ({line.cap_group}) voor deze patiënt is op: {_euro_nl(remaining)} over.",
        f"The reimbursement cap ({line.cap_group}) for this patient is used up: {format_euro(remaining)} left.",
    )


def validate_line(line: ClaimLineFacts, *, claim_date: date, rules: ClaimRules | None = None,
                  cap_remaining: Decimal | None = None) -> list[Reason]:
    """Why this line cannot be claimed on `claim_date` (empty: it can). `cap_remaining` is what is left of the
    line's cap (None: no cap); a partly used cap is no reason, the claim is limited to what is left."""
    rules = rules or ClaimRules()
    reasons = _line_reasons(line, claim_date, rules)
    if cap_remaining is not None and round_cents(cap_remaining) <= 0:
        reasons.append(_cap_reason(line, round_cents(cap_remaining)))
    return reasons


@dataclass(frozen=True)
class LineVerdict:
    line: ClaimLineFacts
    reasons: tuple[Reason, ...]
    claimable: Decimal                        # what is claimed: the expected amount, limited by the cap left
    cap_remaining_before: Decimal | None = None
    cap_remaining_after: Decimal | None = None

    @property
    def included(self) -> bool:
        return not self.reasons

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)


@dataclass(frozen=True)
class BatchValidation:
    verdicts: tuple[LineVerdict, ...]         # in the order they were processed: treatment date, then line id
    cap_remaining: Mapping[CapKey, Decimal]  # what is left of each cap after the included lines

    @property
    def included(self) -> tuple[LineVerdict, ...]:
        return tuple(v for v in self.verdicts if v.included)

    @property
    def excluded(self) -> tuple[LineVerdict, ...]:
        return tuple(v for v in self.verdicts if not v.included)

    @property
    def claimed_total(self) -> Decimal:
        return sum((v.claimable for v in self.verdicts if v.included), ZERO)


def validate_batch(lines: Iterable[ClaimLineFacts], *, claim_date: date, rules: ClaimRules | None = None,
                   cap_remaining: Mapping[CapKey, Decimal] | None = None) -> BatchValidation:
    """Validate a batch's candidate lines in treatment-date order (then line id).

    `cap_remaining` maps a line's `cap_key` to what is left of that cap before this batch (reimbursed or
    claimed elsewhere already subtracted); a key that is absent means no cap. Each included line uses up its
    claimable amount, so a later line of the same patient and cap group sees less, and none once it is gone.
    An excluded line uses nothing.
    """
    rules = rules or ClaimRules()
    left: dict[CapKey, Decimal] = {k: round_cents(v) for k, v in (cap_remaining or {}).items()}
    verdicts = []
    for line in sorted(lines, key=lambda x: (x.treatment_date, x.line_id)):
        reasons = _line_reasons(line, claim_date, rules)
        expected = max(round_cents(line.expected_reimbursement), ZERO)
        key = line.cap_key
        before = left.get(key) if key is not None else None
        if before is not None and before <= 0:
            reasons.append(_cap_reason(line, before))
        claimable = expected if before is None else min(expected, max(before, ZERO))
        after = before
        if not reasons and before is not None:
            after = before - claimable
            left[key] = after
        verdicts.append(LineVerdict(line=line, reasons=tuple(reasons), claimable=claimable if not reasons else ZERO,
                                    cap_remaining_before=before, cap_remaining_after=after))
    return BatchValidation(verdicts=tuple(verdicts), cap_remaining=left)


# ---- the workbook's columns ---------------------------------------------------------------------------------


class ColumnKind(enum.StrEnum):
    TEXT = "text"
    DATE = "date"
    MONEY = "money"


@dataclass(frozen=True)
class ColumnSpec:
    key: str
    header: str       # default header (Dutch: the workbook goes to Dutch insurers)
    kind: ColumnKind
    width: int        # in characters


@dataclass(frozen=True)
class ClaimRow:
    """One line of the claim sheet: every value a template column can show (keys are these field names)."""

    patient_name: str
    date_of_birth: date
    insurer_name: str
    uzovi: str
    policy_number: str
    treatment_date: date
    prestatiecode: str
    description: str
    category: str
    therapist_name: str
    therapist_agb: str
    practice_agb: str
    kp_number: str
    referral: str
    amount: Decimal
    expected_reimbursement: Decimal
    invoice_number: str
    claim_reference: str
    bsn: str = ""
    indication: str = ""
    technique: str = ""
    referral_date: date | None = None
    referrer_agb: str = ""


_T, _D, _M = ColumnKind.TEXT, ColumnKind.DATE, ColumnKind.MONEY
COLUMN_SPECS: dict[str, ColumnSpec] = {spec.key: spec for spec in (
    ColumnSpec("patient_name", "Naam patiënt", _T, 28),
    ColumnSpec("date_of_birth", "Geboortedatum", _D, 13),
    ColumnSpec("bsn", "BSN", _T, 11),
    ColumnSpec("insurer_name", "Verzekeraar", _T, 22),
    ColumnSpec("uzovi", "UZOVI", _T, 7),
    ColumnSpec("policy_number", "Polisnummer", _T, 16),
    ColumnSpec("treatment_date", "Behandeldatum", _D, 13),
    ColumnSpec("prestatiecode", "Prestatiecode", _T, 12),
    ColumnSpec("description", "Omschrijving", _T, 36),
    ColumnSpec("category", "Indicatiecategorie", _T, 18),
    ColumnSpec("indication", "Indicatie", _T, 24),
    ColumnSpec("technique", "Techniek", _T, 20),
    ColumnSpec("therapist_name", "Therapeut", _T, 24),
    ColumnSpec("therapist_agb", "AGB therapeut", _T, 12),
    ColumnSpec("practice_agb", "AGB praktijk", _T, 12),
    ColumnSpec("kp_number", "KP-nummer", _T, 12),
    ColumnSpec("referral", "Verwijzing", _T, 40),
    ColumnSpec("referral_date", "Verwijsdatum", _D, 13),
    ColumnSpec("referrer_agb", "AGB verwijzer", _T, 12),
    ColumnSpec("amount", "Bedrag", _M, 12),
    ColumnSpec("expected_reimbursement", "Verwachte vergoeding", _M, 14),
    ColumnSpec("invoice_number", "Factuurnummer", _T, 14),
    ColumnSpec("claim_reference", "Claimreferentie", _T, 20),
)}

DEFAULT_COLUMN_KEYS: tuple[str, ...] = (
    "patient_name", "date_of_birth", "bsn", "insurer_name", "uzovi", "policy_number", "treatment_date",
    "prestatiecode", "description", "category", "therapist_name", "therapist_agb", "practice_agb", "kp_number",
    "referral", "amount", "expected_reimbursement", "invoice_number", "claim_reference",
)


class TemplateError(ValueError):
    pass


@dataclass(frozen=True)
class TemplateColumn:
    key: str
    header: str

    @property
    def spec(self) -> ColumnSpec:
        return COLUMN_SPECS[self.key]


@dataclass(frozen=True)
class ClaimTemplate:
    """An insurer's claim-sheet columns: which, in what order, under which headers. Stored per insurer as
    `to_config()` (a JSON-ready list) and read back with `from_config`."""

    columns: tuple[TemplateColumn, ...]

    def __post_init__(self):
        if not self.columns:
            raise TemplateError("a template needs at least one column")
        seen = set()
        for column in self.columns:
            if column.key not in COLUMN_SPECS:
                raise TemplateError(f"unknown column {column.key!r}; known: {', '.join(sorted(COLUMN_SPECS))}")
            if column.key in seen:
                raise TemplateError(f"column {column.key!r} appears twice")
            if not column.header.strip():
                raise TemplateError(f"column {column.key!r} has an empty header")
            seen.add(column.key)

    @classmethod
    def default(cls, *, bsn_required: bool = True) -> ClaimTemplate:
        keys = [k for k in DEFAULT_COLUMN_KEYS if bsn_required or k != "bsn"]
        return cls(tuple(TemplateColumn(k, COLUMN_SPECS[k].header) for k in keys))

    @classmethod
    def from_config(cls, config: Sequence[str | Mapping[str, str]]) -> ClaimTemplate:
        """["patient_name", {"key": "amount", "header": "Bedrag incl."}, ...]; a bare key keeps its header."""
        columns = []
        for item in config:
            if isinstance(item, str):
                key, header = item, None
            else:
                key, header = item.get("key", ""), item.get("header")
            if key not in COLUMN_SPECS:
                raise TemplateError(f"unknown column {key!r}; known: {', '.join(sorted(COLUMN_SPECS))}")
            columns.append(TemplateColumn(key, header if header is not None else COLUMN_SPECS[key].header))
        return cls(tuple(columns))

    def to_config(self) -> list[dict[str, str]]:
        return [{"key": c.key, "header": c.header} for c in self.columns]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.columns)


def referral_text(referral: Referral | None) -> str:
    if referral is None:
        return ""
    agb = f" (AGB {referral.referrer_agb})" if referral.referrer_agb else ""
    diagnosis = f": {referral.diagnosis}" if referral.diagnosis else ""
    return (f"{_referrer(referral)}{agb}, {_day(referral.referral_date)}{diagnosis}; geldig t/m "
            f"{_day(referral.valid_until)}")


def claim_row(verdict: LineVerdict, claim_reference: str) -> ClaimRow:
    """The claim-sheet row for an included line; the expected reimbursement is what is claimed after caps."""
    line = verdict.line
    return ClaimRow(
        patient_name=line.patient_name, date_of_birth=line.date_of_birth, bsn=line.bsn,
        insurer_name=line.insurer_name, uzovi=line.uzovi,
        policy_number=line.policy.number if line.policy else "", treatment_date=line.treatment_date,
        prestatiecode=line.prestatiecode, description=line.description,
        category=line.category.replace("_", " "), indication=line.indication_label, technique=line.technique,
        therapist_name=line.therapist.name, therapist_agb=line.therapist.personal_agb,
        practice_agb=line.practice_agb, kp_number=line.therapist.kp_number, referral=referral_text(line.referral),
        referral_date=line.referral.referral_date if line.referral else None,
        referrer_agb=line.referral.referrer_agb if line.referral else "",
        amount=round_cents(line.amount), expected_reimbursement=verdict.claimable,
        invoice_number=line.invoice_number, claim_reference=claim_reference,
    )


@dataclass(frozen=True)
class ExcludedRow:
    patient_name: str
    treatment_date: date
    invoice_number: str
    description: str
    therapist_name: str
    amount: Decimal
    reasons: tuple[Reason, ...]


def excluded_row(verdict: LineVerdict) -> ExcludedRow:
    line = verdict.line
    return ExcludedRow(patient_name=line.patient_name, treatment_date=line.treatment_date,
                       invoice_number=line.invoice_number, description=line.description,
                       therapist_name=line.therapist.name, amount=round_cents(line.amount), reasons=verdict.reasons)


# ---- lifecycle ----------------------------------------------------------------------------------------------


class BatchStatus(enum.StrEnum):
    DRAFT = "draft"            # lines can be added, removed and re-validated
    EXPORTED = "exported"      # the workbook was made: lines locked; may be exported again (same bytes)
    SUBMITTED = "submitted"    # sent to the insurer: outcomes can be recorded
    CLOSED = "closed"          # every line has an outcome
    CANCELLED = "cancelled"    # given up before submission: its lines are free again


class LineStatus(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    PARTLY_PAID = "partly_paid"
    REJECTED = "rejected"


BATCH_TRANSITIONS: dict[BatchStatus, frozenset[BatchStatus]] = {
    BatchStatus.DRAFT: frozenset({BatchStatus.EXPORTED, BatchStatus.CANCELLED}),
    BatchStatus.EXPORTED: frozenset({BatchStatus.EXPORTED, BatchStatus.SUBMITTED, BatchStatus.CANCELLED}),
    BatchStatus.SUBMITTED: frozenset({BatchStatus.CLOSED}),
    BatchStatus.CLOSED: frozenset(),
    BatchStatus.CANCELLED: frozenset(),
}


class TransitionError(ValueError):
    pass


def lines_editable(status: BatchStatus) -> bool:
    """Only a draft's lines change; from export on they are locked."""
    return status is BatchStatus.DRAFT


@dataclass(frozen=True)
class LineOutcome:
    claimed: Decimal
    status: LineStatus = LineStatus.PENDING
    paid: Decimal = ZERO
    reason: Reason | None = None   # required for a rejection; optional for a partial payment

    def __post_init__(self):
        if self.status is LineStatus.PENDING and (self.paid != 0 or self.reason is not None):
            raise ValueError("a pending line has no payment and no reason")
        if self.status is LineStatus.REJECTED and (self.paid != 0 or self.reason is None):
            raise ValueError("a rejected line has no payment and has a reason")
        if self.status is LineStatus.PAID and self.paid != self.claimed:
            raise ValueError("a paid line is paid in full")
        if self.status is LineStatus.PARTLY_PAID and not 0 < self.paid < self.claimed:
            raise ValueError("a partly paid line is paid more than nothing and less than claimed")

    @property
    def settled(self) -> bool:
        return self.status is not LineStatus.PENDING

    @property
    def shortfall(self) -> Decimal:
        return self.claimed - self.paid if self.settled else ZERO


def batch_complete(outcomes: Iterable[LineOutcome]) -> bool:
    outcomes = list(outcomes)
    return bool(outcomes) and all(o.settled for o in outcomes)


def batch_transition(current: BatchStatus, target: BatchStatus,
                     outcomes: Iterable[LineOutcome] | None = None) -> BatchStatus:
    """The new status, or TransitionError. Closing needs every line's outcome (`outcomes`)."""
    if target not in BATCH_TRANSITIONS[current]:
        raise TransitionError(f"a {current.value} batch cannot become {target.value}")
    if target is BatchStatus.CLOSED and not batch_complete(outcomes or ()):
        raise TransitionError("a batch closes only when every line has an outcome")
    return target


def outcome_for(claimed: Decimal, paid: Decimal, reason: Reason | None = None) -> LineOutcome:
    """What the insurer's payment means: all -> paid, some -> partly paid, nothing -> rejected (needs a reason).
    A negative payment or more than claimed is a dispute, not an outcome: ValueError."""
    claimed, paid = round_cents(claimed), round_cents(paid)
    if paid < 0 or paid > claimed:
        raise ValueError(f"paid {paid} is outside 0..{claimed}: dispute it instead")
    if paid == claimed and claimed > 0:
        return LineOutcome(claimed, LineStatus.PAID, paid, reason)
    if paid == 0:
        if reason is None:
            raise ValueError("a rejection needs a reason code and text")
        return LineOutcome(claimed, LineStatus.REJECTED, ZERO, reason)
    return LineOutcome(claimed, LineStatus.PARTLY_PAID, paid, reason)


def record_outcome(batch_status: BatchStatus, current: LineOutcome, *, paid: Decimal,
                   reason: Reason | None = None) -> LineOutcome:
    """Record (or, while the batch is open, correct) what the insurer did with one submitted line."""
    if batch_status is not BatchStatus.SUBMITTED:
        raise TransitionError(f"outcomes are recorded on submitted batches, not on a {batch_status.value} one")
    return outcome_for(current.claimed, paid, reason)


def close_when_complete(status: BatchStatus, outcomes: Iterable[LineOutcome]) -> BatchStatus:
    """A submitted batch whose lines all have an outcome is closed; otherwise the status stays."""
    if status is BatchStatus.SUBMITTED and batch_complete(outcomes):
        return BatchStatus.CLOSED
    return status


def claim_is_live(batch_status: BatchStatus, line_status: LineStatus) -> bool:
    """A line is claimed while it sits in a batch that was not cancelled and it was not rejected. A line is in
    at most one live claim (the database enforces it); a rejected one may go into a new batch."""
    return batch_status is not BatchStatus.CANCELLED and line_status is not LineStatus.REJECTED


@dataclass(frozen=True)
class ClaimAttempt:
    """One time an invoice line was in a batch (its history is every attempt, oldest first)."""

    batch_number: str
    claim_reference: str
    batch_status: BatchStatus
    outcome: LineOutcome

    @property
    def live(self) -> bool:
        return claim_is_live(self.batch_status, self.outcome.status)


def already_claimed(history: Iterable[ClaimAttempt]) -> ClaimAttempt | None:
    """The live attempt, if any (then the line cannot go into another batch)."""
    return next((a for a in history if a.live), None)


def can_resubmit(history: Sequence[ClaimAttempt]) -> bool:
    """After a fix, a rejected line goes into a new batch: there was an attempt, none is live, and none was paid."""
    if not history or already_claimed(history) is not None:
        return False
    return not any(a.outcome.status in (LineStatus.PAID, LineStatus.PARTLY_PAID) for a in history)


def batch_number(uzovi: str, year: int, sequence: int) -> str:
    """3311-2026-004: the fourth batch for UZOVI 3311 in 2026."""
    if sequence < 1:
        raise ValueError("batch sequences start at 1")
    return f"{uzovi}-{year}-{sequence:03d}"


def claim_reference(batch: str, sequence: int) -> str:
    """3311-2026-004-00012: line 12 of that batch. A resubmission gets a new reference in its new batch."""
    if sequence < 1:
        raise ValueError("line sequences start at 1")
    return f"{batch}-{sequence:05d}"


def normalise_reference(value: str) -> str:
    """Spreadsheets add spaces and change case; references match on what is left."""
    return re.sub(r"\s+", "", str(value or "")).upper()


# ---- remittance -----------------------------------------------------------------------------------------


_GROUPED = re.compile(r"^\d{1,3}([.,]\d{3})+$")


def parse_amount(value: object) -> Decimal:
    """An amount from a remittance file: 12.5, "12,50", "1.234,56", "1,234.56", "€ 12,50", "-3,00", "1.234".

    The last separator followed by one or two digits is the decimal one; separators before three-digit groups
    are thousands. Anything else (text, three decimals, a bool) raises ValueError: never guessed, never a float.
    """
    if isinstance(value, bool):
        raise ValueError(f"not an amount: {value!r}")
    if isinstance(value, int | Decimal):
        return round_cents(Decimal(value))
    if isinstance(value, float):
        return round_cents(Decimal(repr(value)))
    text = re.sub(r"\s+", "", str(value or "").replace("€", "").replace("EUR", ""))
    sign = ""
    if text and text[0] in "+-":
        sign, text = ("-" if text[0] == "-" else ""), text[1:]
    whole, fraction = text, "00"
    match = re.match(r"^(.*?)([.,])(\d{1,2})$", text)
    if match:
        whole, fraction = match.group(1), match.group(3)
        if match.group(2) in whole:  # "1.234.5": the decimal separator cannot also group thousands
            raise ValueError(f"not an amount: {value!r}")
    if _GROUPED.match(whole):
        whole = re.sub(r"[.,]", "", whole)
    if not whole.isdigit() or not whole.isascii():
        raise ValueError(f"not an amount: {value!r}")
    return round_cents(Decimal(f"{sign}{whole}.{fraction}"))


@dataclass(frozen=True)
class ClaimedLine:
    """A submitted line as the batch knows it, with its current outcome (pending until one is applied)."""

    reference: str
    outcome: LineOutcome

    @property
    def claimed(self) -> Decimal:
        return self.outcome.claimed


@dataclass(frozen=True)
class RemittanceRow:
    """One row of the insurer's reply, already mapped from its columns."""

    row_number: int
    reference: str
    paid: Decimal
    reason_code: str = ""
    reason_text: str = ""

    def reason(self) -> Reason | None:
        if not (self.reason_code.strip() or self.reason_text.strip()):
            return None
        return Reason(self.reason_code.strip() or "unspecified", self.reason_text.strip() or self.reason_code.strip())


class DisputeCode(enum.StrEnum):
    DUPLICATE_REFERENCE = "duplicate_reference"
    OVERPAID = "overpaid"
    NEGATIVE_AMOUNT = "negative_amount"
    OUTCOME_CONFLICT = "outcome_conflict"    # the line already has a different outcome


UNSPECIFIED_REJECTION = Reason("unspecified", "Afgewezen zonder opgegeven reden.", "Rejected without a stated reason.")


@dataclass(frozen=True)
class MatchedLine:
    claim: ClaimedLine
    row: RemittanceRow
    outcome: LineOutcome             # what applying it records


@dataclass(frozen=True)
class DisputedRow:
    row: RemittanceRow
    claim: ClaimedLine | None
    code: DisputeCode

    @property
    def amount(self) -> Decimal:
        return self.row.paid


@dataclass(frozen=True)
class RemittanceMatch:
    matched: tuple[MatchedLine, ...]       # a pending line and a row that makes sense: applied as `outcome`
    unchanged: tuple[MatchedLine, ...]     # rows repeating an outcome already recorded (a file imported twice)
    unmatched: tuple[RemittanceRow, ...]   # no line of this batch has the reference
    disputed: tuple[DisputedRow, ...]      # not applied: see the code
    missing: tuple[ClaimedLine, ...]       # pending lines the reply says nothing about (stay pending)

    @property
    def matched_claimed(self) -> Decimal:
        return sum((m.claim.claimed for m in self.matched), ZERO)

    @property
    def matched_paid(self) -> Decimal:
        return sum((m.outcome.paid for m in self.matched), ZERO)

    @property
    def matched_shortfall(self) -> Decimal:
        """Claimed minus paid on the matched lines: partial payments and rejections."""
        return self.matched_claimed - self.matched_paid

    @property
    def unmatched_amount(self) -> Decimal:
        return sum((r.paid for r in self.unmatched), ZERO)

    @property
    def disputed_amount(self) -> Decimal:
        return sum((d.amount for d in self.disputed), ZERO)

    @property
    def missing_claimed(self) -> Decimal:
        return sum((c.claimed for c in self.missing), ZERO)


def match_remittance(claims: Iterable[ClaimedLine], rows: Iterable[RemittanceRow]) -> RemittanceMatch:
    """Match reply rows to submitted lines by claim reference (case and spaces ignored). Nothing is applied:
    the caller shows the result and applies `matched` in one transaction."""
    by_reference = {normalise_reference(c.reference): c for c in claims}
    rows = list(rows)
    counts = Counter(normalise_reference(r.reference) for r in rows)
    matched, unchanged, unmatched, disputed = [], [], [], []
    answered = set()
    for row in rows:
        key = normalise_reference(row.reference)
        claim = by_reference.get(key)
        if claim is None:
            unmatched.append(row)
            continue
        answered.add(key)
        paid = round_cents(row.paid)
        if counts[key] > 1:
            disputed.append(DisputedRow(row, claim, DisputeCode.DUPLICATE_REFERENCE))
        elif paid < 0:
            disputed.append(DisputedRow(row, claim, DisputeCode.NEGATIVE_AMOUNT))
        elif paid > claim.claimed:
            disputed.append(DisputedRow(row, claim, DisputeCode.OVERPAID))
        else:
            outcome = outcome_for(claim.claimed, paid, row.reason() or (UNSPECIFIED_REJECTION if paid == 0 else None))
            current = claim.outcome
            if not current.settled:
                matched.append(MatchedLine(claim, row, outcome))
            elif (current.status, current.paid) == (outcome.status, outcome.paid):
                unchanged.append(MatchedLine(claim, row, outcome))
            else:
                disputed.append(DisputedRow(row, claim, DisputeCode.OUTCOME_CONFLICT))
    missing = tuple(c for k, c in by_reference.items() if k not in answered and not c.outcome.settled)
    return RemittanceMatch(tuple(matched), tuple(unchanged), tuple(unmatched), tuple(disputed), missing)


# ---- outcome statistics -------------------------------------------------------------------------------------


class ClaimRoute(enum.StrEnum):
    BATCH = "batch"        # the clinic claimed in a batch
    PATIENT = "patient"    # the patient sent the declaration (restitution) and told us what was paid


@dataclass(frozen=True)
class OutcomeTally:
    """Outcomes of one or more lines with the same insurer, indication, status and reason: one line, or one
    row of a SQL GROUP BY over the claim lines (then `lines` is the count and the amounts are sums)."""

    insurer: str
    indication: str
    status: LineStatus
    claimed: Decimal
    paid: Decimal = ZERO
    reason: Reason | None = None
    lines: int = 1
    route: ClaimRoute = ClaimRoute.BATCH


@dataclass(frozen=True)
class ReasonCount:
    code: str
    text: str
    lines: int


@dataclass(frozen=True)
class OutcomeStats:
    insurer: str
    indication: str               # "" when grouped per insurer only
    lines: int = 0
    claimed: Decimal = ZERO
    paid: Decimal = ZERO
    paid_lines: int = 0
    partly_paid_lines: int = 0
    rejected_lines: int = 0
    rejected_amount: Decimal = ZERO    # claimed on rejected lines
    pending_lines: int = 0
    pending_amount: Decimal = ZERO
    by_route: Mapping[str, int] = field(default_factory=dict)
    top_reasons: tuple[ReasonCount, ...] = ()

    @property
    def settled_claimed(self) -> Decimal:
        return self.claimed - self.pending_amount

    @property
    def paid_share(self) -> Decimal | None:
        """Paid as a percentage of what was claimed on settled lines (None while nothing is settled)."""
        settled = self.settled_claimed
        return None if settled <= 0 else round_cents(self.paid * 100 / settled)


def outcome_statistics(tallies: Iterable[OutcomeTally], *, per_indication: bool = True,
                       top: int = 3) -> list[OutcomeStats]:
    """Claimed vs paid vs rejected per insurer (and indication), with the most frequent rejection reasons
    (most lines first, then by code). Sorted by insurer, then indication."""
    groups: dict[tuple[str, str], dict] = {}
    for t in tallies:
        key = (t.insurer, t.indication if per_indication else "")
        g = groups.setdefault(key, {"lines": 0, "claimed": ZERO, "paid": ZERO, "status": Counter(),
                                    "rejected_amount": ZERO, "pending_amount": ZERO, "route": Counter(),
                                    "reasons": Counter(), "texts": {}})
        g["lines"] += t.lines
        g["claimed"] += t.claimed
        g["paid"] += t.paid
        g["status"][t.status] += t.lines
        g["route"][t.route.value] += t.lines
        if t.status is LineStatus.REJECTED:
            g["rejected_amount"] += t.claimed
            reason = t.reason or UNSPECIFIED_REJECTION
            g["reasons"][reason.code] += t.lines
            g["texts"].setdefault(reason.code, reason.text())
        elif t.status is LineStatus.PENDING:
            g["pending_amount"] += t.claimed
    result = []
    for (insurer, indication), g in sorted(groups.items()):
        reasons = sorted(g["reasons"].items(), key=lambda item: (-item[1], item[0]))[:top]
        result.append(OutcomeStats(
            insurer=insurer, indication=indication, lines=g["lines"], claimed=g["claimed"], paid=g["paid"],
            paid_lines=g["status"][LineStatus.PAID], partly_paid_lines=g["status"][LineStatus.PARTLY_PAID],
            rejected_lines=g["status"][LineStatus.REJECTED], rejected_amount=g["rejected_amount"],
            pending_lines=g["status"][LineStatus.PENDING], pending_amount=g["pending_amount"],
            by_route=dict(sorted(g["route"].items())),
            top_reasons=tuple(ReasonCount(code, g["texts"][code], n) for code, n in reasons),
        ))
    return result
