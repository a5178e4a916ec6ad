"""Why a claim line is excluded or rejected: a stable code with the same sentence in Dutch and English.

Pure: no Flask, no database. The clinic's own exclusion reasons have a `ReasonCode`; an insurer's rejection
reasons use `Reason` too, with the insurer's own code (e.g. "V12") and text.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


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

    def __post_init__(self) -> None:
        if not self.code.strip():
            raise ValueError("a reason needs a code")
        if not (self.nl.strip() or self.en.strip()):
            raise ValueError("a reason needs a text")

    def text(self, language: str = "nl") -> str:
        return (self.en or self.nl) if language == "en" else (self.nl or self.en)


# A rejection the insurer gave no reason for: remittance matching records it, the statistics count it.
UNSPECIFIED_REJECTION = Reason("unspecified", "Afgewezen zonder opgegeven reden.", "Rejected without a stated reason.")
