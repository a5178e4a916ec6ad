"""The facts of one candidate claim line and an insurer's claim conditions: what the claims services gather
(one query per table for a whole batch, never one per line) before the rules in `claim_validation` judge them.

Pure: no Flask, no database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from .credentials import KpLevel, KpRegistration, NvhMembership
from .eligibility import eligibility_on, english
from .indications import INDICATIONS, Indication
from .referrals import REFERRER_LABELS, Referral, ReferrerType, add_months
from .texts import Text

DEFAULT_DEADLINE_MONTHS = 12



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
    """The therapist as a claim needs them on the treatment date: eligible means NVH member and in the KP at the
    level the insurer requires on that date (`from_credentials` asks domain.eligibility, as the assessment and the
    declaration do). `missing` names what is missing and since when."""

    name: str
    personal_agb: str
    eligible: bool
    kp_number: str = ""
    kp_level: str = ""                  # KpLevel value of that registration ("" without one)
    nvh_number: str = ""                # the NVH membership covering the day ("" without one)
    reasons: tuple[str, ...] = ()       # English: everything said about the day
    missing: tuple[Text, ...] = ()      # what is missing (translatable; empty when eligible)

    @classmethod
    def from_credentials(cls, name: str, personal_agb: str, day: date, memberships: Iterable[NvhMembership],
                         registrations: Iterable[KpRegistration],
                         kp_level_required: KpLevel | str | None = None,
                         nvh_required: bool = True) -> TherapistOnDate:
        answer = eligibility_on(day, memberships, registrations, kp_level_required, nvh_required)
        return cls(name=name, personal_agb=personal_agb, eligible=answer.eligible,
                   kp_number=answer.kp.kp_number if answer.kp else "",
                   kp_level=answer.kp.level.value if answer.kp else "",
                   nvh_number=answer.nvh.number if answer.nvh else "",
                   reasons=tuple(english(text) for text in answer.messages), missing=answer.missing)


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

    def __post_init__(self) -> None:
        if self.deadline_months < 1:
            raise ValueError("the claim deadline is at least one month")


def claim_deadline(treatment_date: date, months: int = DEFAULT_DEADLINE_MONTHS) -> date:
    """The last day a treatment can be claimed: the same date `months` later (month-end clamped)."""
    return add_months(treatment_date, months)


# The kinds of referrer as the Dutch claim reasons and the claim sheet name them (always Dutch, for the insurer).
REFERRER_LABELS_NL = {
    ReferrerType.GP: "huisarts",
    ReferrerType.DERMATOLOGIST: "dermatoloog",
    ReferrerType.OTHER_SPECIALIST: "medisch specialist",
}


def referrer_label(referral: Referral, language: str = "en") -> str:
    """GP (huisarts) J. de Vries (English) or huisarts J. de Vries ("nl"): the kind of referrer and the name, as
    the claim reasons in each language name them."""
    labels = REFERRER_LABELS_NL if language == "nl" else REFERRER_LABELS
    return f"{labels.get(referral.referrer_type, referral.referrer_type)} {referral.referrer_name}".strip()
