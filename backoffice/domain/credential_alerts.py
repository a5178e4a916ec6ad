"""Credential alerts: how close a therapist's NVH membership or KP registration is to its end, and which stage of
the e-mail to the managers is due (`flask credentials check --mail`).

A credential runs to and including its end date. Its stage on a day is the tightest warning window its end date
falls in (within 7, 30 or 90 days, today counted), or "lapsed" once the end date has passed. The managers are told
once per stage: each stage mailed is recorded with the end date it was mailed for. A stage mailed for another end
date does not count (the end date was corrected, or a membership was extended by moving its end date rather than
recording a new period): the new end date is told again. When a credential skips stages (recorded late, or the
check did not run for weeks), only the stage it is in now is mailed, never the looser ones it passed.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import date, timedelta

from .texts import Text, msg

# Days before the end date at which the managers are warned, loosest last.
HORIZONS: tuple[int, ...] = (7, 30, 90)


class AlertStage(enum.StrEnum):
    DAYS_90 = "90"
    DAYS_30 = "30"
    DAYS_7 = "7"
    LAPSED = "lapsed"


# Most urgent first: the order of the e-mail and of the manager's home page.
STAGE_ORDER: tuple[AlertStage, ...] = (AlertStage.LAPSED, AlertStage.DAYS_7, AlertStage.DAYS_30, AlertStage.DAYS_90)

# The credentials page's own headings (credentials/overview.html), rendered in the reader's language.
STAGE_LABELS: dict[AlertStage, Text] = {
    AlertStage.LAPSED: msg("Expired, no successor recorded"),
    AlertStage.DAYS_7: msg("Expiring within %(days)s days", days=7),
    AlertStage.DAYS_30: msg("Expiring within %(days)s days", days=30),
    AlertStage.DAYS_90: msg("Expiring within %(days)s days", days=90),
}


def horizon_of(ends_on: date, today: date, horizons: tuple[int, ...] = HORIZONS) -> int | None:
    """The tightest of `horizons` (days) the end date falls within, counting from today; None when it lies
    further away or has passed."""
    if ends_on < today:
        return None
    for horizon in sorted(horizons):
        if ends_on <= today + timedelta(days=horizon):
            return horizon
    return None


def stage_on(ends_on: date, today: date) -> AlertStage | None:
    """The credential's stage on `today`; None while it runs for more than 90 days."""
    if ends_on < today:
        return AlertStage.LAPSED
    horizon = horizon_of(ends_on, today)
    return AlertStage(str(horizon)) if horizon is not None else None


def stage_due(ends_on: date, today: date, sent: Mapping[AlertStage, date]) -> AlertStage | None:
    """The stage to mail today, or None. `sent`: each stage mailed before for this credential, with the end date
    it was mailed for."""
    stage = stage_on(ends_on, today)
    if stage is None or sent.get(stage) == ends_on:
        return None
    return stage
