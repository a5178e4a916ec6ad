"""Matching an insurer's remittance (its reply to a submitted batch) in plain Python: amounts read from the
file, rows matched to claimed lines by reference, and what is disputed instead of applied.

Pure: the caller reads the file into `RemittanceRow`s, shows the `RemittanceMatch` before anything is applied,
and applies `matched` in one transaction.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from .claim_lifecycle import LineOutcome, outcome_for
from .claim_reasons import UNSPECIFIED_REJECTION, Reason, insurer_reason
from .claim_sheet import normalise_reference
from .dutch import parse_decimal
from .money import round_cents
from .texts import N_

ZERO = Decimal("0.00")


def parse_amount(value: object) -> Decimal:
    """An amount from a remittance file: a number cell (12.5), or text as Dutch (and the insurer's software) write
    it: "12,50", "1.234,56", "1,234.56", "€ 12,50", "EUR -3,00" (domain.dutch.parse_decimal, the one parser).

    "1.234" and "1,234" raise AmbiguousNumber (a thousand, or three decimals?); anything else that is no amount
    in cents (text, three decimals, a bool) raises ValueError: never guessed, never a float."""
    if isinstance(value, bool):
        raise ValueError(f"not an amount: {value!r}")
    if isinstance(value, int | Decimal):
        return round_cents(Decimal(value))
    if isinstance(value, float):
        return round_cents(Decimal(repr(value)))
    return parse_decimal(str(value or ""), places=2, currency=True)


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
        return insurer_reason(self.reason_code, self.reason_text)


class DisputeCode(enum.StrEnum):
    DUPLICATE_REFERENCE = "duplicate_reference"
    OVERPAID = "overpaid"
    NEGATIVE_AMOUNT = "negative_amount"
    OUTCOME_CONFLICT = "outcome_conflict"    # the line already has a different outcome


DISPUTE_LABELS: dict[DisputeCode, str] = {
    DisputeCode.DUPLICATE_REFERENCE: N_("The reference is in the file more than once"),
    DisputeCode.OVERPAID: N_("Paid more than claimed"),
    DisputeCode.NEGATIVE_AMOUNT: N_("Negative amount"),
    DisputeCode.OUTCOME_CONFLICT: N_("Differs from the outcome already recorded"),
}


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

