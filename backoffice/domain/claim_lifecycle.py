"""A claim batch's life cycle in plain Python: its statuses and transitions, the outcome of each line, and
whether a line is claimed (live) or may go into a new batch.

draft -> exported -> submitted -> closed, or cancelled before submission. Outcomes are recorded per line on a
submitted batch (`record_outcome`); `close_when_complete` closes it once every line has one.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from .claim_reasons import Reason
from .money import round_cents
from .texts import N_

ZERO = Decimal("0.00")


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


BATCH_STATUS_LABELS: dict[BatchStatus, str] = {
    BatchStatus.DRAFT: N_("draft"),
    BatchStatus.EXPORTED: N_("exported"),
    BatchStatus.SUBMITTED: N_("submitted"),
    BatchStatus.CLOSED: N_("closed"),
    BatchStatus.CANCELLED: N_("cancelled"),
}

LINE_STATUS_LABELS: dict[LineStatus, str] = {
    LineStatus.PENDING: N_("pending"),
    LineStatus.PAID: N_("paid"),
    LineStatus.PARTLY_PAID: N_("partly paid"),
    LineStatus.REJECTED: N_("rejected"),
}


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

    def __post_init__(self) -> None:
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

