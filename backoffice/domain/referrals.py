"""Referrals (verwijzingen): huidtherapie is directly accessible, but many policies only pay with one."""

from __future__ import annotations

import calendar
import enum
from dataclasses import dataclass
from datetime import date, timedelta

from .indications import Indication
from .texts import N_

DEFAULT_VALIDITY_MONTHS = 12


class ReferrerType(enum.StrEnum):
    GP = "gp"
    DERMATOLOGIST = "dermatologist"
    OTHER_SPECIALIST = "other_specialist"


REFERRER_LABELS = {
    ReferrerType.GP: N_("GP (huisarts)"),
    ReferrerType.DERMATOLOGIST: N_("Dermatologist"),
    ReferrerType.OTHER_SPECIALIST: N_("Other medical specialist"),
}


@dataclass(frozen=True)
class Referral:
    referrer_type: ReferrerType
    referrer_name: str
    referrer_agb: str
    referral_date: date
    diagnosis: str
    valid_until: date
    indication: Indication | None = None   # what the referrer refers for (recorded since rules can demand a match)

    def valid_on(self, day: date) -> bool:
        return self.referral_date <= day <= self.valid_until


def add_months(day: date, months: int) -> date:
    """The same day `months` later; the last day of the month where that day does not exist (31-01 + 1 = 28/29-02)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def default_valid_until(referral_date: date, months: int = DEFAULT_VALIDITY_MONTHS) -> date:
    """Valid for `months` after the referral date: through the day before the same date `months` later."""
    return add_months(referral_date, months) - timedelta(days=1)
