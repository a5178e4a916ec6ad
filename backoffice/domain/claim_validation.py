"""Which invoiced lines may be claimed: the validation of one line and of a whole batch with cumulative caps.

Pure: the caller gathers one `ClaimLineFacts` per candidate line and the cap remaining per `CapKey` outside this
batch; `validate_batch` takes the lines in treatment-date order, so earlier lines of the same batch use up a cap
before later ones, and an excluded line keeps its `Reason`s (stable code + Dutch/English text).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache

from . import eligibility
from .claim_facts import CapKey, ClaimLineFacts, ClaimRules, claim_deadline, referrer_label
from .claim_reasons import Reason, ReasonCode
from .dutch import euro
from .dutch import nl_date as _day  # the one Dutch date format (24-11-2026)
from .money import round_cents
from .texts import msg
from .validators import agb_error, bsn_error

ZERO = Decimal("0.00")


def _euro_nl(amount: Decimal) -> str:
    return euro(amount).replace("EUR ", "€ ")


# ---- one check per condition, in the order the reasons are listed ------------------------------------------


@lru_cache(maxsize=1024)
def _agb_valid(code: str) -> bool:
    # A batch repeats the practice's and each therapist's AGB code on every line: each code is checked once.
    return agb_error(code) is None


Check = Callable[[ClaimLineFacts, date, ClaimRules], Reason | None]  # None: the condition is met


def _policy(line: ClaimLineFacts, claim_date: date, rules: ClaimRules) -> Reason | None:
    day, policy = line.treatment_date, line.policy
    if policy is None:
        return Reason(
            ReasonCode.NO_POLICY,
            f"Geen polis bij {line.insurer_name} op {_day(day)}.",
            f"No policy with {line.insurer_name} on {_day(day)}.",
        )
    if policy.covers(day):
        return None
    until_nl = f" tot en met {_day(policy.valid_until)}" if policy.valid_until else ""
    until_en = f" to {_day(policy.valid_until)}" if policy.valid_until else ""
    return Reason(
        ReasonCode.POLICY_NOT_VALID,
        f"Polis {policy.number} loopt van {_day(policy.valid_from)}{until_nl} en dekt {_day(day)} niet.",
        f"Policy {policy.number} runs from {_day(policy.valid_from)}{until_en} and does not cover {_day(day)}.",
    )


def _therapist(line: ClaimLineFacts, claim_date: date, rules: ClaimRules) -> Reason | None:
    """What is missing and since when, as domain.eligibility words it for the assessment and the declaration."""
    therapist = line.therapist
    if therapist.eligible:
        return None
    missing = therapist.missing or (msg(eligibility.NOT_ELIGIBLE, date=_day(line.treatment_date)),)
    return Reason(
        ReasonCode.THERAPIST_NOT_ELIGIBLE,
        f"{therapist.name}: {'; '.join(eligibility.dutch(text) for text in missing)}.",
        f"{therapist.name}: {'; '.join(eligibility.english(text) for text in missing)}.",
    )


def _personal_agb(line: ClaimLineFacts, claim_date: date, rules: ClaimRules) -> Reason | None:
    if _agb_valid(line.therapist.personal_agb or ""):
        return None
    return Reason(
        ReasonCode.MISSING_AGB,
        f"Geen geldige persoonlijke AGB-code van {line.therapist.name} (8 cijfers).",
        f"No valid personal AGB code for {line.therapist.name} (8 digits).",
    )


def _practice_agb(line: ClaimLineFacts, claim_date: date, rules: ClaimRules) -> Reason | None:
    if _agb_valid(line.practice_agb or ""):
        return None
    return Reason(
        ReasonCode.MISSING_AGB,
        "Geen geldige AGB-code van de praktijk (8 cijfers).",
        "No valid practice AGB code (8 digits).",
    )


def _bsn(line: ClaimLineFacts, claim_date: date, rules: ClaimRules) -> Reason | None:
    if not rules.bsn_required or (line.bsn and not bsn_error(line.bsn)):
        return None
    return Reason(
        ReasonCode.MISSING_BSN,
        f"{line.insurer_name} vraagt het BSN; er is geen geldig BSN vastgelegd.",
        f"{line.insurer_name} requires the BSN; no valid BSN is recorded.",
    )


def _prestatiecode(line: ClaimLineFacts, claim_date: date, rules: ClaimRules) -> Reason | None:
    # Insurers reject a line without the Vektis prestatiecode (GDS PM); lines invoiced before the catalogue
    # required one are refused here, before the insurer does.
    if line.prestatiecode.strip():
        return None
    return Reason(
        ReasonCode.MISSING_PRESTATIECODE,
        f"Geen prestatiecode bij “{line.description}”; vul die in de catalogus in en crediteer en "
        f"factureer de behandeling opnieuw.",
        f"No prestatiecode on “{line.description}”; enter it in the catalogue, then credit and "
        f"invoice the treatment again.",
    )


def _referral(line: ClaimLineFacts, claim_date: date, rules: ClaimRules) -> Reason | None:
    day, referral = line.treatment_date, line.referral
    if not line.referral_required or (referral is not None and referral.valid_on(day)):
        return None
    if referral is None:
        return Reason(
            ReasonCode.REFERRAL_MISSING,
            "Verwijzing vereist, maar er is geen verwijzing vastgelegd bij deze behandeling.",
            "A referral is required but none is recorded for this treatment.",
        )
    if day < referral.referral_date:
        return Reason(
            ReasonCode.REFERRAL_AFTER_TREATMENT,
            f"De verwijzing van {referrer_label(referral, 'nl')} is van {_day(referral.referral_date)}, na de "
            f"behandeling op {_day(day)}.",
            f"The referral by {referrer_label(referral)} is dated {_day(referral.referral_date)}, after the "
            f"treatment on {_day(day)}.",
        )
    return Reason(
        ReasonCode.REFERRAL_EXPIRED,
        f"De verwijzing van {referrer_label(referral, 'nl')} was geldig tot en met {_day(referral.valid_until)}; "
        f"de behandeling was op {_day(day)}.",
        f"The referral by {referrer_label(referral)} was valid until {_day(referral.valid_until)}; the "
        f"treatment was on {_day(day)}.",
    )


def _deadline(line: ClaimLineFacts, claim_date: date, rules: ClaimRules) -> Reason | None:
    deadline = claim_deadline(line.treatment_date, rules.deadline_months)
    if claim_date <= deadline:
        return None
    return Reason(
        ReasonCode.PAST_DEADLINE,
        f"Declaratietermijn van {rules.deadline_months} maanden verstreken op {_day(deadline)}.",
        f"The {rules.deadline_months}-month claim deadline passed on {_day(deadline)}.",
    )


def _not_claimed_yet(line: ClaimLineFacts, claim_date: date, rules: ClaimRules) -> Reason | None:
    if not line.already_claimed:
        return None
    where_nl = f" {line.claimed_in}" if line.claimed_in else ""
    return Reason(
        ReasonCode.ALREADY_CLAIMED,
        f"Deze regel zit al in lopende declaratiebatch{where_nl}.",
        f"This line is already in live claim batch{where_nl}.",
    )


def _reimbursable(line: ClaimLineFacts, claim_date: date, rules: ClaimRules) -> Reason | None:
    if round_cents(line.expected_reimbursement) > 0:
        return None
    return Reason(
        ReasonCode.NOT_REIMBURSABLE,
        "Volgens de beoordeling vergoedt de verzekeraar niets voor deze behandeling.",
        "According to the assessment the insurer pays nothing for this treatment.",
    )


CHECKS: tuple[Check, ...] = (
    _policy, _therapist, _personal_agb, _practice_agb, _bsn, _prestatiecode, _referral, _deadline, _not_claimed_yet,
    _reimbursable,
)


def _line_reasons(line: ClaimLineFacts, claim_date: date, rules: ClaimRules) -> list[Reason]:
    """Every reason this line cannot be claimed, in the order of `CHECKS` (empty: it can)."""
    return [reason for check in CHECKS if (reason := check(line, claim_date, rules)) is not None]


def _cap_reason(line: ClaimLineFacts, remaining: Decimal) -> Reason:
    return Reason(
        ReasonCode.CAP_USED_UP,
        f"Maximale vergoeding ({line.cap_group}) voor deze patiënt is op: {_euro_nl(remaining)} over.",
        f"The reimbursement cap ({line.cap_group}) for this patient is used up: {euro(remaining)} left.",
    )


# ---- one line, a whole batch --------------------------------------------------------------------------------


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


def _claimable(line: ClaimLineFacts, cap_left: Decimal | None) -> Decimal:
    """The expected reimbursement (never negative), limited by what is left of the line's cap (None: no cap)."""
    expected = max(round_cents(line.expected_reimbursement), ZERO)
    return expected if cap_left is None else min(expected, cap_left)


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
        key = line.cap_key
        before = None if key is None else left.get(key)
        if before is not None and before <= 0:
            reasons.append(_cap_reason(line, before))
        claimable = ZERO if reasons else _claimable(line, before)
        after = before
        if key is not None and before is not None and not reasons:
            after = left[key] = before - claimable
        verdicts.append(LineVerdict(line=line, reasons=tuple(reasons), claimable=claimable,
                                    cap_remaining_before=before, cap_remaining_after=after))
    return BatchValidation(verdicts=tuple(verdicts), cap_remaining=left)
