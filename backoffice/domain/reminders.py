"""Payment reminders to consumers (patients): the stages of an overdue invoice by date, the term of the formal
reminder and the collection costs it must announce.

The law (checked against the texts, December 2026):
- Art. 6:96 lid 6 BW: a consumer owes extrajudicial collection costs only after a reminder, sent once the payment
  is late, that gives 14 days to pay "aanvangende de dag na aanmaning" and states the costs that follow if they do
  not. The Hoge Raad (25-11-2016, ECLI:NL:HR:2016:2704) reads this as: 14 days counted from the day after the
  consumer *received* the letter; "binnen 14 dagen na heden" or "na dagtekening" is too short and the costs are
  then not owed at all. So the letter names its date, the day it is assumed to arrive (`receipt_days` after
  sending, the conservative practice for post) and the last day to pay: arrival + 14 days, moved to the next
  working day when it falls on a Saturday, Sunday or a holiday of the Algemene termijnenwet (a term set by law).
- Besluit vergoeding voor buitengerechtelijke incassokosten (Stb. 2012, 141), art. 2: 15 % of the principal over
  the first EUR 2.500, 10 % over the next 2.500, 5 % over the next 5.000, 1 % over the next 190.000, 0,5 % over
  the rest, at least EUR 40 and at most EUR 6.775. Art. 2 lid 3: a creditor who cannot deduct VAT (e.g. care
  exempt under art. 11 Wet OB) may add the VAT rate, but only for costs a third party charges with VAT and only
  when the letter says so; so the default here is no VAT, and `CostScale.vat_rate` is the practice's setting.
  The scale is data (`CostScale`), not code: a practice may charge less than the maximum, and the amounts may change.

The stages: a friendly reminder (betalingsherinnering) `friendly_after_days` after the due date, then the formal
reminder (the veertiendagenbrief / aanmaning) `formal_after_days` after the friendly one. Never both on one day,
and never for an invoice with nothing left to pay (paid, credited, or the patient's part settled). A partly paid
invoice is reminded of its open balance, and the costs are computed over that balance.

Rounding: the scale's sum over the brackets is rounded once, half-up to the cent, then held between the minimum
and the maximum; the VAT is that amount times the rate, rounded half-up to the cent.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache

from .money import round_cents
from .texts import Text, msg

LEGAL_TERM_DAYS = 14  # art. 6:96 lid 6 BW: at least fourteen days


class Stage(enum.StrEnum):
    FRIENDLY = "friendly"   # betalingsherinnering
    FORMAL = "formal"       # veertiendagenbrief (aanmaning) with the collection costs


STAGES = (Stage.FRIENDLY, Stage.FORMAL)


# ---- settings -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReminderPolicy:
    """When the reminders go out and the terms they give (days)."""

    friendly_after_days: int = 7    # the friendly reminder: this many days after the due date
    friendly_term_days: int = 7     # the friendly reminder asks to pay within this many days
    formal_after_days: int = 14     # the formal reminder: this many days after the friendly one
    receipt_days: int = 2           # the formal letter is assumed to arrive this many days after it is sent
    formal_term_days: int = LEGAL_TERM_DAYS  # days to pay, counted from the day after arrival (at least 14)

    def __post_init__(self) -> None:
        problem = policy_problem(self)
        if problem:
            raise ValueError(str(problem))


def policy_problem(policy: ReminderPolicy) -> Text | None:
    """Why the settings cannot be used (a Text: shown in the reader's language), or None."""
    if not 1 <= policy.friendly_after_days <= 365:
        return msg("The payment reminder goes out 1 to 365 days after the due date.")
    if not 1 <= policy.friendly_term_days <= 90:
        return msg("The payment reminder asks to pay within 1 to 90 days.")
    if not 1 <= policy.formal_after_days <= 365:
        return msg("The 14-day letter goes out 1 to 365 days after the payment reminder.")
    if not 0 <= policy.receipt_days <= 10:
        return msg("The days for a letter to arrive are 0 to 10.")
    if not LEGAL_TERM_DAYS <= policy.formal_term_days <= 90:
        return msg("The 14-day letter gives at least %(days)s days to pay (art. 6:96 lid 6 BW), at most 90.",
                   days=LEGAL_TERM_DAYS)
    return None


@dataclass(frozen=True)
class Bracket:
    """The part of the principal above `start` (up to the next bracket's start) is charged `rate` percent."""

    start: Decimal
    rate: Decimal   # percent: 15, 10, 5, 1, 0.5


@dataclass(frozen=True)
class CostScale:
    """The collection-cost scale: brackets (ascending, the first from 0), a minimum, a maximum (None: none) and the
    VAT rate added on top (percent; 0 unless the practice may and does add it)."""

    brackets: tuple[Bracket, ...]
    minimum: Decimal
    maximum: Decimal | None
    vat_rate: Decimal = Decimal("0")

    def __post_init__(self) -> None:
        problem = scale_problem(self)
        if problem:
            raise ValueError(str(problem))


def scale_problem(scale: CostScale) -> Text | None:
    """Why the scale cannot be used (a Text), or None."""
    if not scale.brackets:
        return msg("The collection-cost scale needs at least one bracket.")
    starts = [bracket.start for bracket in scale.brackets]
    if starts[0] != 0:
        return msg("The first bracket of the collection-cost scale starts at EUR 0.")
    if any(later <= earlier for earlier, later in zip(starts, starts[1:], strict=False)):
        return msg("Each bracket of the collection-cost scale starts above the one before.")
    if any(not 0 <= bracket.rate <= 100 for bracket in scale.brackets):
        return msg("A bracket's percentage is 0 to 100.")
    if scale.minimum < 0:
        return msg("The minimum collection costs are 0 or more.")
    if scale.maximum is not None and scale.maximum < scale.minimum:
        return msg("The maximum collection costs are at least the minimum.")
    if not 0 <= scale.vat_rate <= 100:
        return msg("The VAT rate on the collection costs is 0 to 100 percent.")
    return None


# The Besluit vergoeding voor buitengerechtelijke incassokosten, art. 2 (Stb. 2012, 141), without VAT.
DEFAULT_SCALE = CostScale(
    brackets=(
        Bracket(Decimal("0"), Decimal("15")),
        Bracket(Decimal("2500"), Decimal("10")),
        Bracket(Decimal("5000"), Decimal("5")),
        Bracket(Decimal("10000"), Decimal("1")),
        Bracket(Decimal("200000"), Decimal("0.5")),
    ),
    minimum=Decimal("40"),
    maximum=Decimal("6775"),
    vat_rate=Decimal("0"),
)


# ---- collection costs ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CollectionCosts:
    principal: Decimal   # the open balance the costs are computed over
    costs: Decimal       # by the scale, before VAT
    vat_rate: Decimal
    vat: Decimal

    @property
    def total(self) -> Decimal:
        return self.costs + self.vat


def collection_costs(principal: Decimal, scale: CostScale = DEFAULT_SCALE) -> CollectionCosts:
    """The collection costs over `principal` (the open balance) by `scale`; nothing over nothing."""
    principal = round_cents(Decimal(principal))
    zero = round_cents(Decimal("0"))
    if principal <= 0:
        return CollectionCosts(principal=principal, costs=zero, vat_rate=scale.vat_rate, vat=zero)
    raw = Decimal("0")
    ends: list[Decimal | None] = [bracket.start for bracket in scale.brackets[1:]]
    for bracket, end in zip(scale.brackets, [*ends, None], strict=True):
        if principal <= bracket.start:
            break
        top = principal if end is None else min(principal, end)
        raw += (top - bracket.start) * bracket.rate / 100
    costs = max(round_cents(raw), round_cents(scale.minimum))
    if scale.maximum is not None:
        costs = min(costs, round_cents(scale.maximum))
    return CollectionCosts(principal=principal, costs=costs, vat_rate=scale.vat_rate,
                           vat=round_cents(costs * scale.vat_rate / 100))


# ---- stages -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SentReminder:
    stage: Stage
    sent_on: date


@dataclass(frozen=True)
class NextReminder:
    stage: Stage
    due_on: date   # from this day on it is to be sent


def next_reminder(due_date: date | None, balance: Decimal, sent: Iterable[SentReminder],
                  policy: ReminderPolicy = ReminderPolicy()) -> NextReminder | None:
    """The next reminder of an invoice and the day it becomes due; None when there is none to come (nothing to
    pay, no due date, or the formal reminder was sent)."""
    if due_date is None or balance <= 0:
        return None
    by_stage = {reminder.stage: reminder for reminder in sent}
    if Stage.FORMAL in by_stage:
        return None
    friendly = by_stage.get(Stage.FRIENDLY)
    if friendly is None:
        return NextReminder(Stage.FRIENDLY, due_date + timedelta(days=policy.friendly_after_days))
    return NextReminder(Stage.FORMAL, friendly.sent_on + timedelta(days=policy.formal_after_days))


def due_reminder(due_date: date | None, balance: Decimal, sent: Iterable[SentReminder], today: date,
                 policy: ReminderPolicy = ReminderPolicy()) -> NextReminder | None:
    """The reminder to send on `today`, or None. One stage a day at most: after a late start (the command did not
    run for weeks) the friendly reminder goes first and the formal one follows `formal_after_days` later."""
    upcoming = next_reminder(due_date, balance, sent, policy)
    return upcoming if upcoming is not None and upcoming.due_on <= today else None


def received_on(sent_on: date, policy: ReminderPolicy = ReminderPolicy()) -> date:
    """The day the letter is assumed to arrive."""
    return sent_on + timedelta(days=policy.receipt_days)


def formal_deadline(sent_on: date, policy: ReminderPolicy = ReminderPolicy()) -> date:
    """The last day to pay without collection costs: 14 (`formal_term_days`) days from the day after arrival, i.e.
    arrival + 14, moved to the next working day (Algemene termijnenwet)."""
    return next_working_day(received_on(sent_on, policy) + timedelta(days=policy.formal_term_days))


def friendly_deadline(sent_on: date, policy: ReminderPolicy = ReminderPolicy()) -> date:
    """The pay-by date the friendly reminder names (a working day)."""
    return next_working_day(sent_on + timedelta(days=policy.friendly_term_days))


def deadline(stage: Stage, sent_on: date, policy: ReminderPolicy = ReminderPolicy()) -> date:
    return formal_deadline(sent_on, policy) if stage is Stage.FORMAL else friendly_deadline(sent_on, policy)


# ---- working days (Algemene termijnenwet) -------------------------------------------------------------------

def easter_sunday(year: int) -> date:
    """Western Easter (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=64)
def atw_holidays(year: int) -> frozenset[date]:
    """The holidays of art. 3 Algemene termijnenwet (with Good Friday, lid 2): New Year's Day, Easter, Whit Sunday
    and Monday, Ascension Day, King's Day (26 April when the 27th is a Sunday), 5 May and Christmas. Days made
    equal to holidays by royal decree now and then (bridge days) are not included."""
    easter = easter_sunday(year)
    kings_day = date(year, 4, 27)
    if kings_day.weekday() == 6:
        kings_day = date(year, 4, 26)
    return frozenset({
        date(year, 1, 1), easter - timedelta(days=2), easter, easter + timedelta(days=1),
        easter + timedelta(days=39), easter + timedelta(days=49), easter + timedelta(days=50),
        kings_day, date(year, 5, 5), date(year, 12, 25), date(year, 12, 26),
    })


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in atw_holidays(day.year)


def next_working_day(day: date) -> date:
    """`day` itself when it is a working day, else the first working day after it."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day
