"""One answer to "may this line be claimed from this insurer, and why not", for the therapist's credentials.

The assessment (coverage.py), the claim check (claim_validation.py), the declaration and the credentials report
all ask `eligibility_on`, so a line the claim check would exclude is never promised elsewhere.

The rule: on the treatment date the therapist is an NVH member and holds a KP registration at the level the
insurer requires. The insurer's rule names that level (`PolicyRule.kp_level_required`); a rule that names none
gets the kwaliteitsregister, the level insurers ask for (a diplomaregister entry is not enough, see
shared/domain.md). A rule that names the diplomaregister accepts either level.

The reasons name exactly what is missing and since when ("KP registration ended on 30-11-2026"), as Texts (English
message ids, translated when shown). `dutch()` renders them in Dutch without Flask, for the claim workbook's
reasons, which are always Dutch; tests/test_eligibility.py checks that these Dutch texts match the catalogue.

Pure: no Flask, no database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from .credentials import KP_REGISTERED, NVH_MEMBER, KpLevel, KpRegistration, NvhMembership
from .dutch import nl_date
from .money import round_cents
from .texts import N_, Text, Words, join, msg
from .validators import agb_error

DEFAULT_KP_LEVEL = KpLevel.KWALITEITSREGISTER

# What was in order (the KP and NVH texts are shared with credentials.check_on).
KP_DIPLOMA_ACCEPTED = N_("KP diplomaregister (no. %(number)s) on %(date)s.")

# What is missing, and since when.
NO_NVH = N_("no NVH membership recorded")
NVH_ENDED = N_("NVH membership ended on %(date)s")
NVH_NOT_YET = N_("NVH membership only from %(date)s")
NO_KP = N_("no KP registration recorded")
KP_ENDED = N_("KP registration ended on %(date)s")
KP_NOT_YET = N_("KP registration only from %(date)s")
DIPLOMA_ONLY = N_("diplomaregister only; this insurer requires the kwaliteitsregister")
KWALITEIT_ENDED = N_("KP kwaliteitsregister ended on %(date)s; since then diplomaregister only, and this insurer "
                     "requires the kwaliteitsregister")
AGB_INVALID = N_("no valid personal AGB code of %(therapist)s")
NOT_ELIGIBLE = N_("not an NVH member in the required KP register on %(date)s")  # when no detail is known

# The same sentences in Dutch, for what is always Dutch (the claim workbook); the catalogue holds the same words.
DUTCH: dict[str, str] = {
    NO_NVH: "geen NVH-lidmaatschap vastgelegd",
    NVH_ENDED: "NVH-lidmaatschap beëindigd op %(date)s",
    NVH_NOT_YET: "NVH-lidmaatschap pas vanaf %(date)s",
    NO_KP: "geen KP-registratie vastgelegd",
    KP_ENDED: "KP-registratie verlopen op %(date)s",
    KP_NOT_YET: "KP-registratie pas vanaf %(date)s",
    DIPLOMA_ONLY: "alleen diplomaregister; deze verzekeraar eist kwaliteitsregister",
    KWALITEIT_ENDED: "KP-kwaliteitsregister verlopen op %(date)s; sindsdien alleen diplomaregister, en deze "
                     "verzekeraar eist kwaliteitsregister",
    AGB_INVALID: "geen geldige persoonlijke AGB-code van %(therapist)s",
    NOT_ELIGIBLE: "op %(date)s geen NVH-lid in het vereiste KP-register",
}


def dutch(words: Words) -> str:
    """The Dutch wording of an eligibility reason, without Flask (unknown message ids stay English)."""
    return words.render(lambda message: DUTCH.get(message, message)) if isinstance(words, Text) else words


def english(words: Words) -> str:
    return words.render(lambda message: message) if isinstance(words, Text) else words


def required_level(rule_level: KpLevel | str | None) -> KpLevel:
    """The KP level an insurer's rule requires: the one it names, else the kwaliteitsregister."""
    return KpLevel(rule_level) if rule_level else DEFAULT_KP_LEVEL


@dataclass(frozen=True)
class Eligibility:
    """The answer for one therapist on one date under one insurer's KP level."""

    day: date
    level: KpLevel                       # the KP level that was required
    nvh: NvhMembership | None            # the membership covering the day
    kp: KpRegistration | None            # the registration covering the day at the required level (else any)
    missing: tuple[Text, ...] = ()       # what is missing and since when; empty: eligible
    in_order: tuple[Text, ...] = ()      # what was in order

    @property
    def eligible(self) -> bool:
        return not self.missing

    @property
    def messages(self) -> tuple[Text, ...]:
        """Everything said about the day: what was in order, then what is missing."""
        return (*self.in_order, *self.missing)


def _latest(items: Sequence[NvhMembership] | Sequence[KpRegistration]) -> NvhMembership | KpRegistration:
    def ending(item: NvhMembership | KpRegistration) -> date:
        if isinstance(item, NvhMembership):
            return item.valid_until or date.max
        return item.period_end

    return max(items, key=ending)


def _nvh(day: date, memberships: Sequence[NvhMembership]) -> tuple[NvhMembership | None, Text]:
    covering = [m for m in memberships if m.covers(day)]
    if covering:
        nvh = _latest(covering)
        assert isinstance(nvh, NvhMembership)
        return nvh, msg(NVH_MEMBER, number=nvh.number, date=nl_date(day))
    ended = [m.valid_until for m in memberships if m.valid_until is not None and m.valid_until < day]
    if ended:
        return None, msg(NVH_ENDED, date=nl_date(max(ended)))
    later = [m.valid_from for m in memberships if m.valid_from > day]
    if later:
        return None, msg(NVH_NOT_YET, date=nl_date(min(later)))
    return None, msg(NO_NVH)


def _kp(day: date, registrations: Sequence[KpRegistration], level: KpLevel) -> tuple[KpRegistration | None, Text,
                                                                                      bool]:
    """(the registration covering the day, what to say, whether it meets `level`)."""
    covering = [r for r in registrations if r.covers(day)]
    kwaliteit = [r for r in covering if r.level is KpLevel.KWALITEITSREGISTER]
    if kwaliteit:
        kp = _latest(kwaliteit)
        assert isinstance(kp, KpRegistration)
        return kp, msg(KP_REGISTERED, number=kp.kp_number, date=nl_date(day)), True
    if covering:
        kp = _latest(covering)
        assert isinstance(kp, KpRegistration)
        if level is KpLevel.DIPLOMAREGISTER:
            return kp, msg(KP_DIPLOMA_ACCEPTED, number=kp.kp_number, date=nl_date(day)), True
        lapsed = [r.period_end for r in registrations
                  if r.level is KpLevel.KWALITEITSREGISTER and r.period_end < day]
        if lapsed:
            return kp, msg(KWALITEIT_ENDED, date=nl_date(max(lapsed))), False
        return kp, msg(DIPLOMA_ONLY), False
    ended = [r.period_end for r in registrations if r.period_end < day]
    if ended:
        return None, msg(KP_ENDED, date=nl_date(max(ended))), False
    later = [r.period_start for r in registrations if r.period_start > day]
    if later:
        return None, msg(KP_NOT_YET, date=nl_date(min(later))), False
    return None, msg(NO_KP), False


def eligibility_on(day: date, memberships: Iterable[NvhMembership], registrations: Iterable[KpRegistration],
                   level: KpLevel | str | None = None, nvh_required: bool = True) -> Eligibility:
    """May a line of this therapist on `day` be claimed from an insurer requiring `level` (None: the
    kwaliteitsregister)? The answer names what was in order and what is missing, and since when. A rule that
    does not demand NVH membership (`nvh_required` False) is met by the KP registration alone."""
    required = required_level(level)
    nvh, nvh_text = _nvh(day, list(memberships))
    kp, kp_text, kp_ok = _kp(day, list(registrations), required)
    checks = ((nvh_text, nvh is not None, nvh_required), (kp_text, kp_ok, True))
    in_order = tuple(text for text, ok, _needed in checks if ok)
    missing = tuple(text for text, ok, needed in checks if needed and not ok)
    return Eligibility(day=day, level=required, nvh=nvh, kp=kp, missing=missing, in_order=in_order)


def agb_reason(therapist: str, personal_agb: str) -> Text | None:
    """Why the therapist's personal AGB code cannot go on a claim (None: it can)."""
    return None if agb_error(personal_agb or "") is None else msg(AGB_INVALID, therapist=therapist or "?")


def missing_words(missing: Sequence[Words]) -> list[Words]:
    """The missing items as one Text parameter: "KP registration ended on 30-11-2026; no NVH membership ..."."""
    return join(missing, "; ")


@dataclass(frozen=True)
class DeclarationLine:
    """What a declaration does with one reimbursable line: declare it with its expected reimbursement, or leave
    it out with the reasons (the claim check would exclude it)."""

    declared: bool
    expected: Decimal                  # 0.00 when left out
    reasons: tuple[Text, ...] = ()     # why left out


def declaration_line(expected_reimbursement: Decimal, eligibility: Eligibility,
                     agb_problem: Text | None = None) -> DeclarationLine:
    """A line is declared only when the claim check would accept the therapist on its date: the same
    `eligibility_on` answer, and a valid personal AGB code. Otherwise it is left out, never promised."""
    reasons = (*eligibility.missing, *((agb_problem,) if agb_problem is not None else ()))
    if reasons:
        return DeclarationLine(False, round_cents(Decimal("0")), tuple(reasons))
    return DeclarationLine(True, max(round_cents(expected_reimbursement), round_cents(Decimal("0"))))
