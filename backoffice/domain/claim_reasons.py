"""Why a claim line is excluded or rejected: a stable code with the same sentence in Dutch and English.

Pure: no Flask, no database. The clinic's own exclusion reasons have a `ReasonCode`; an insurer's rejection
reasons use `Reason` too, with the insurer's own code (e.g. "V12") and text.

People read the sentence, never the clinic's internal code (`therapist_not_eligible`): `Reason.text()` gives it in
the language of whoever reads it. Which language that is, the app says through `set_language_source`
(backoffice/claims plugs in the interface language); without it (the domain's own tests, a script) Dutch. The
claim workbook for the insurer asks for Dutch explicitly (`text("nl")`). An insurer's own code (V12) may be shown
beside the sentence as a hint (`insurer_code`); the clinic's codes are for statistics and tests only.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from .texts import N_


class ReasonCode(enum.StrEnum):
    """Why a line cannot be claimed. The values are stable: they are stored and counted in statistics."""

    NO_POLICY = "no_policy"
    POLICY_NOT_VALID = "policy_not_valid"
    THERAPIST_NOT_ELIGIBLE = "therapist_not_eligible"
    MISSING_AGB = "missing_agb"
    MISSING_BSN = "missing_bsn"
    MISSING_PRESTATIECODE = "missing_prestatiecode"
    REFERRAL_MISSING = "referral_missing"
    REFERRAL_EXPIRED = "referral_expired"
    REFERRAL_AFTER_TREATMENT = "referral_after_treatment"
    CAP_USED_UP = "cap_used_up"
    PAST_DEADLINE = "past_deadline"
    ALREADY_CLAIMED = "already_claimed"
    NOT_REIMBURSABLE = "not_reimbursable"


# The clinic's reasons in a few words, for lists and statistics (translated where shown).
REASON_CODE_LABELS: dict[ReasonCode, str] = {
    ReasonCode.NO_POLICY: N_("No policy"),
    ReasonCode.POLICY_NOT_VALID: N_("Policy not valid on the treatment date"),
    ReasonCode.THERAPIST_NOT_ELIGIBLE: N_("Therapist not eligible"),
    ReasonCode.MISSING_AGB: N_("AGB code missing"),
    ReasonCode.MISSING_BSN: N_("BSN missing"),
    ReasonCode.MISSING_PRESTATIECODE: N_("Prestatiecode missing"),
    ReasonCode.REFERRAL_MISSING: N_("Referral missing"),
    ReasonCode.REFERRAL_EXPIRED: N_("Referral expired"),
    ReasonCode.REFERRAL_AFTER_TREATMENT: N_("Referral dated after the treatment"),
    ReasonCode.CAP_USED_UP: N_("Reimbursement cap used up"),
    ReasonCode.PAST_DEADLINE: N_("Claim deadline passed"),
    ReasonCode.ALREADY_CLAIMED: N_("Already claimed"),
    ReasonCode.NOT_REIMBURSABLE: N_("Not reimbursable"),
}

UNSPECIFIED_CODE = "unspecified"
INTERNAL_CODES = frozenset({*(code.value for code in ReasonCode), UNSPECIFIED_CODE})
LANGUAGES = ("nl", "en")
DEFAULT_LANGUAGE = "nl"

LanguageSource = Callable[[], str]


def _dutch() -> str:
    return DEFAULT_LANGUAGE


_language: LanguageSource = _dutch


def set_language_source(source: LanguageSource | None) -> None:
    """Tell the domain the reader's language ("nl" or "en"); None restores Dutch."""
    global _language
    _language = source or _dutch


def reader_language() -> str:
    language = _language()
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


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

    def text(self, language: str | None = None) -> str:
        """The sentence in `language`; by default in the reader's language (see set_language_source)."""
        language = language or reader_language()
        return (self.en or self.nl) if language == "en" else (self.nl or self.en)

    @property
    def insurer_code(self) -> str:
        """The insurer's own code (V12) to show beside the sentence; "" for the clinic's internal codes."""
        return "" if self.code in INTERNAL_CODES else self.code

    def __str__(self) -> str:
        return self.text()


# A rejection the insurer gave no reason for: remittance matching records it, the statistics count it.
UNSPECIFIED_REJECTION = Reason(UNSPECIFIED_CODE, "Afgewezen zonder opgegeven reden.",
                               "Rejected without a stated reason.")


def insurer_reason(code: str, text: str) -> Reason | None:
    """The insurer's rejection reason as typed or read from its file: its code and/or its text (shown as the insurer
    wrote it, whatever the reader's language). None when both are empty."""
    code, text = (code or "").strip(), (text or "").strip()
    if not (code or text):
        return None
    return Reason(code or UNSPECIFIED_CODE, text or code)


def stored_reason(code: str, text: str) -> Reason | None:
    """A rejection as stored on a claim line (its code and Dutch text): the stated-reason-less rejection in the
    reader's language, an insurer's reason as the insurer wrote it. None when nothing is stored."""
    code, text = (code or "").strip(), (text or "").strip()
    if code == UNSPECIFIED_CODE and text in ("", UNSPECIFIED_REJECTION.nl, UNSPECIFIED_REJECTION.en):
        return UNSPECIFIED_REJECTION
    return insurer_reason(code, text)
