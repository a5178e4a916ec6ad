"""Was the therapist allowed to do this on that date? NVH membership and KP registration history."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TypeVar

from .dutch import nl_date
from .texts import N_, Text, msg


class KpLevel(enum.StrEnum):
    KWALITEITSREGISTER = "kwaliteitsregister"
    DIPLOMAREGISTER = "diplomaregister"


@dataclass(frozen=True)
class NvhMembership:
    number: str
    valid_from: date
    valid_until: date | None = None  # None: open-ended, still a member

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


@dataclass(frozen=True)
class KpRegistration:
    kp_number: str
    level: KpLevel
    period_start: date
    period_end: date

    def covers(self, day: date) -> bool:
        return self.period_start <= day <= self.period_end


@dataclass(frozen=True)
class CredentialCheck:
    """The answer for one date: eligible or not, with the reasons a person can read."""

    day: date
    nvh: NvhMembership | None
    kp: KpRegistration | None
    reasons: list[str] = field(default_factory=list)  # English, as stored in assessments
    messages: list[Text] = field(default_factory=list)  # the same reasons, translatable (shown on screens)

    @property
    def nvh_member(self) -> bool:
        return self.nvh is not None

    @property
    def kp_kwaliteitsregister(self) -> bool:
        return self.kp is not None and self.kp.level is KpLevel.KWALITEITSREGISTER

    @property
    def eligible(self) -> bool:
        return self.nvh_member and self.kp_kwaliteitsregister


# The reasons that say a credential is in order (the others say what is missing).
NVH_MEMBER = N_("NVH member (no. %(number)s) on %(date)s.")
KP_REGISTERED = N_("KP kwaliteitsregister (no. %(number)s) on %(date)s.")


def _english(message: str) -> str:
    return message


_Period = TypeVar("_Period", "NvhMembership", "KpRegistration")


def _latest_ending(items: Sequence[_Period]) -> _Period:
    # When periods overlap, prefer the one that runs longest; open-ended NVH periods win.
    def ending(item: NvhMembership | KpRegistration) -> date:
        if isinstance(item, NvhMembership):
            return item.valid_until or date.max
        return item.period_end

    return max(items, key=ending)


def check_on(
    day: date, memberships: Iterable[NvhMembership], registrations: Iterable[KpRegistration]
) -> CredentialCheck:
    """Was the therapist an NVH member and KP kwaliteitsregister-registered on `day`?"""
    nvh_hits = [m for m in memberships if m.covers(day)]
    kp_hits = [r for r in registrations if r.covers(day)]
    kwaliteit = [r for r in kp_hits if r.level is KpLevel.KWALITEITSREGISTER]
    nvh = _latest_ending(nvh_hits) if nvh_hits else None
    kp = _latest_ending(kwaliteit or kp_hits) if kp_hits else None

    shown = nl_date(day)
    messages: list[Text] = []
    if nvh:
        messages.append(msg(NVH_MEMBER, number=nvh.number, date=shown))
    else:
        messages.append(msg("No NVH membership on %(date)s.", date=shown))
    if kp is None:
        messages.append(msg("No KP registration on %(date)s.", date=shown))
    elif kp.level is KpLevel.KWALITEITSREGISTER:
        messages.append(msg(KP_REGISTERED, number=kp.kp_number, date=shown))
    else:
        messages.append(msg("KP registration no. %(number)s was diplomaregister only on %(date)s; "
                            "insurers require the kwaliteitsregister level.", number=kp.kp_number, date=shown))
    reasons = [message.render(_english) for message in messages]
    return CredentialCheck(day=day, nvh=nvh, kp=kp, reasons=reasons, messages=messages)


class Badge(enum.StrEnum):
    VALID = "valid"
    EXPIRING = "expiring"
    EXPIRED = "expired"
    DIPLOMA_ONLY = "diploma only"
    NONE = "none"


BADGE_LABELS: dict[Badge, str] = {
    Badge.VALID: N_("valid"),
    Badge.EXPIRING: N_("expiring"),
    Badge.EXPIRED: N_("expired"),
    Badge.DIPLOMA_ONLY: N_("diploma only"),
    Badge.NONE: N_("none"),
}


@dataclass(frozen=True)
class BadgeStatus:
    badge: Badge
    ends_on: date | None
    message: Text

    @property
    def text(self) -> str:
        """The status in the current language (English without a translator): valid until 31-12-2028."""
        return str(self.message)


def badge_on(
    today: date,
    memberships: Iterable[NvhMembership],
    registrations: Iterable[KpRegistration],
    warn_days: int = 90,
) -> BadgeStatus:
    """The badge shown next to a therapist: valid, expiring within `warn_days`, expired, diploma only."""
    memberships = list(memberships)
    registrations = list(registrations)
    check = check_on(today, memberships, registrations)
    if check.eligible and check.kp is not None and check.nvh is not None:
        ends = [check.kp.period_end]
        if check.nvh.valid_until is not None:
            ends.append(check.nvh.valid_until)
        ends_on = min(ends)
        if ends_on - today <= timedelta(days=warn_days):
            days = (ends_on - today).days
            return BadgeStatus(Badge.EXPIRING, ends_on,
                               msg("expires in %(days)s days (%(date)s)", days=days, date=nl_date(ends_on)))
        return BadgeStatus(Badge.VALID, ends_on, msg("valid until %(date)s", date=nl_date(ends_on)))
    if check.kp is not None and check.kp.level is KpLevel.DIPLOMAREGISTER:
        return BadgeStatus(Badge.DIPLOMA_ONLY, check.kp.period_end, msg("KP diplomaregister only"))
    if memberships or registrations:
        past = [r.period_end for r in registrations if r.period_end < today]
        past += [m.valid_until for m in memberships if m.valid_until and m.valid_until < today]
        ended = max(past) if past else None
        if ended:
            text = msg("expired %(date)s", date=nl_date(ended))
        elif check.kp_kwaliteitsregister:
            text = msg("no current NVH membership")
        else:
            text = msg("no current KP kwaliteitsregister")
        return BadgeStatus(Badge.EXPIRED, ended, text)
    return BadgeStatus(Badge.NONE, None, msg("no credentials recorded"))


def ineligible_periods(
    start: date, end: date, memberships: Iterable[NvhMembership], registrations: Iterable[KpRegistration]
) -> list[tuple[date, date]]:
    """The date ranges within [start, end] (inclusive) on which the therapist was NOT both an NVH member and
    KP kwaliteitsregister-registered: treatments on those dates cannot be claimed."""
    memberships = list(memberships)
    kwaliteit = [r for r in registrations if r.level is KpLevel.KWALITEITSREGISTER]

    def covered(items: list[tuple[date, date]], first: date, last: date) -> list[tuple[date, date]]:
        return [(max(first, a), min(last, b)) for a, b in items if a <= last and b >= first]

    nvh = covered([(m.valid_from, m.valid_until or date.max) for m in memberships], start, end)
    kp = covered([(r.period_start, r.period_end) for r in kwaliteit], start, end)
    # Eligible where an NVH period and a KP period overlap.
    both = sorted((max(a1, a2), min(b1, b2)) for a1, b1 in nvh for a2, b2 in kp if max(a1, a2) <= min(b1, b2))
    gaps: list[tuple[date, date]] = []
    cursor = start
    for first, last in both:
        if first > cursor:
            gaps.append((cursor, first - timedelta(days=1)))
        if last >= cursor:
            cursor = last + timedelta(days=1) if last < date.max else last
        if cursor > end:
            break
    if cursor <= end and (not both or max(b for _, b in both) < end):
        gaps.append((cursor, end))
    return gaps
