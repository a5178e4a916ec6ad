"""Insurer claim batches in plain Python: the one import for the claims services. The rules live in one module
per use case; this module re-exports their public names, so `from backoffice.domain.claims import X` and
`claims.X` keep working.

Pure: the caller gathers the facts (one query per table for a whole batch, never one per line), these
functions decide, and the caller stores the answer. Amounts are Decimal euros rounded to the cent.

The flow the claims services follow, and where each step lives:

1. `claim_facts`, `claim_validation`: build one `ClaimLineFacts` per candidate invoice line and the cap
   remaining per `CapKey` *outside* this batch, then `validate_batch(...)`: lines are taken in treatment-date
   order, so earlier lines of the same batch use up a cap before later ones; excluded lines keep their
   `Reason`s (`claim_reasons`: stable code + Dutch/English text).
2. `claim_sheet`: number the included lines (`batch_number`, `claim_reference`) and turn verdicts into workbook
   rows (`claim_row`, `excluded_row`) for `backoffice.claims.workbook.write_claim_workbook` with the insurer's
   `ClaimTemplate`.
3. `claim_lifecycle`: move the batch through `batch_transition` (draft -> exported -> submitted -> closed, or
   cancelled before submission); record per-line outcomes with `record_outcome`; `close_when_complete` closes
   the batch.
4. `remittance_matching`: read the insurer's reply into `RemittanceRow`s and `match_remittance(...)`: shown
   before anything is applied.
5. `claim_outcomes`: `outcome_statistics(...)` over outcome tallies (per line, or per group straight from a SQL
   GROUP BY).
"""

from __future__ import annotations

from .claim_facts import (
    DEFAULT_DEADLINE_MONTHS,
    CapKey,
    ClaimLineFacts,
    ClaimRules,
    PolicyFacts,
    TherapistOnDate,
    claim_deadline,
)
from .claim_lifecycle import (
    BATCH_TRANSITIONS,
    BatchStatus,
    ClaimAttempt,
    LineOutcome,
    LineStatus,
    TransitionError,
    already_claimed,
    batch_complete,
    batch_transition,
    can_resubmit,
    claim_is_live,
    close_when_complete,
    lines_editable,
    outcome_for,
    record_outcome,
)
from .claim_outcomes import ClaimRoute, OutcomeStats, OutcomeTally, ReasonCount, outcome_statistics
from .claim_reasons import UNSPECIFIED_REJECTION, Reason, ReasonCode
from .claim_sheet import (
    COLUMN_SPECS,
    DEFAULT_COLUMN_KEYS,
    ClaimRow,
    ClaimTemplate,
    ColumnKind,
    ColumnSpec,
    ExcludedRow,
    TemplateColumn,
    TemplateError,
    batch_number,
    claim_reference,
    claim_row,
    excluded_row,
    normalise_reference,
    referral_text,
)
from .claim_validation import BatchValidation, LineVerdict, validate_batch, validate_line
from .remittance_matching import (
    ClaimedLine,
    DisputeCode,
    DisputedRow,
    MatchedLine,
    RemittanceMatch,
    RemittanceRow,
    match_remittance,
    parse_amount,
)

__all__ = [
    # claim_reasons
    "UNSPECIFIED_REJECTION", "Reason", "ReasonCode",
    # claim_facts
    "DEFAULT_DEADLINE_MONTHS", "CapKey", "ClaimLineFacts", "ClaimRules", "PolicyFacts", "TherapistOnDate",
    "claim_deadline",
    # claim_validation
    "BatchValidation", "LineVerdict", "validate_batch", "validate_line",
    # claim_sheet
    "COLUMN_SPECS", "DEFAULT_COLUMN_KEYS", "ClaimRow", "ClaimTemplate", "ColumnKind", "ColumnSpec", "ExcludedRow",
    "TemplateColumn", "TemplateError", "batch_number", "claim_reference", "claim_row", "excluded_row",
    "normalise_reference", "referral_text",
    # claim_lifecycle
    "BATCH_TRANSITIONS", "BatchStatus", "ClaimAttempt", "LineOutcome", "LineStatus", "TransitionError",
    "already_claimed", "batch_complete", "batch_transition", "can_resubmit", "claim_is_live",
    "close_when_complete", "lines_editable", "outcome_for", "record_outcome",
    # remittance_matching
    "ClaimedLine", "DisputeCode", "DisputedRow", "MatchedLine", "RemittanceMatch", "RemittanceRow",
    "match_remittance", "parse_amount",
    # claim_outcomes
    "ClaimRoute", "OutcomeStats", "OutcomeTally", "ReasonCount", "outcome_statistics",
]
