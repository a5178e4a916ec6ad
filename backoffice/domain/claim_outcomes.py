"""Claim outcome statistics in plain Python: claimed vs paid vs rejected per insurer (and indication), with the
most frequent rejection reasons.

Pure: the tallies come per line, or per group straight from a SQL GROUP BY over the claim lines.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from .claim_lifecycle import LineStatus
from .claim_reasons import UNSPECIFIED_REJECTION, Reason
from .money import round_cents

ZERO = Decimal("0.00")


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



@dataclass
class _Group:
    """The running totals of one insurer (and indication) while the tallies are added up."""

    lines: int = 0
    claimed: Decimal = ZERO
    paid: Decimal = ZERO
    rejected_amount: Decimal = ZERO
    pending_amount: Decimal = ZERO
    status: Counter[LineStatus] = field(default_factory=Counter)
    route: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    texts: dict[str, str] = field(default_factory=dict)

    def add(self, tally: OutcomeTally) -> None:
        self.lines += tally.lines
        self.claimed += tally.claimed
        self.paid += tally.paid
        self.status[tally.status] += tally.lines
        self.route[tally.route.value] += tally.lines
        if tally.status is LineStatus.REJECTED:
            self.rejected_amount += tally.claimed
            reason = tally.reason or UNSPECIFIED_REJECTION
            self.reasons[reason.code] += tally.lines
            self.texts.setdefault(reason.code, reason.text())
        elif tally.status is LineStatus.PENDING:
            self.pending_amount += tally.claimed

    def stats(self, insurer: str, indication: str, top: int) -> OutcomeStats:
        reasons = sorted(self.reasons.items(), key=lambda item: (-item[1], item[0]))[:top]
        return OutcomeStats(
            insurer=insurer, indication=indication, lines=self.lines, claimed=self.claimed, paid=self.paid,
            paid_lines=self.status[LineStatus.PAID], partly_paid_lines=self.status[LineStatus.PARTLY_PAID],
            rejected_lines=self.status[LineStatus.REJECTED], rejected_amount=self.rejected_amount,
            pending_lines=self.status[LineStatus.PENDING], pending_amount=self.pending_amount,
            by_route=dict(sorted(self.route.items())),
            top_reasons=tuple(ReasonCount(code, self.texts[code], n) for code, n in reasons),
        )


def outcome_statistics(tallies: Iterable[OutcomeTally], *, per_indication: bool = True,
                       top: int = 3) -> list[OutcomeStats]:
    """Claimed vs paid vs rejected per insurer (and indication), with the most frequent rejection reasons
    (most lines first, then by code). Sorted by insurer, then indication."""
    groups: dict[tuple[str, str], _Group] = {}
    for tally in tallies:
        groups.setdefault((tally.insurer, tally.indication if per_indication else ""), _Group()).add(tally)
    return [groups[insurer, indication].stats(insurer, indication, top) for insurer, indication in sorted(groups)]
