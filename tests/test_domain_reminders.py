"""Payment reminders, the pure rules (no app): stages by date, the 14-day term and the collection-cost scale of the
Besluit vergoeding voor buitengerechtelijke incassokosten."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backoffice.domain.reminders import (
    DEFAULT_SCALE,
    Bracket,
    CostScale,
    ReminderPolicy,
    SentReminder,
    Stage,
    atw_holidays,
    collection_costs,
    due_reminder,
    easter_sunday,
    formal_deadline,
    friendly_deadline,
    is_working_day,
    next_reminder,
)

DUE = date(2026, 10, 1)  # a Thursday
OPEN = Decimal("175.00")


# ---- collection costs ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("principal", "costs"), [
    ("150.00", "40.00"),        # 15 % = 22,50: the minimum of EUR 40
    ("266.66", "40.00"),        # 15 % = 39,999 -> 40,00: just at the minimum
    ("300.30", "45.05"),        # 15 % = 45,045: half-up (half-even would give 45,04)
    ("2500.00", "375.00"),      # the whole first bracket
    ("2700.00", "395.00"),      # 375 + 10 % of 200
    ("12000.00", "895.00"),     # 375 + 250 + 250 + 1 % of 2.000
    ("200000.00", "2775.00"),   # 375 + 250 + 250 + 1.900
    ("1000000.00", "6775.00"),  # 2.775 + 0,5 % of 800.000: exactly the maximum
    ("5000000.00", "6775.00"),  # held at the maximum
])
def test_collection_costs_follow_the_scale(principal, costs):
    result = collection_costs(Decimal(principal))
    assert result.costs == Decimal(costs)
    assert result.vat == 0 and result.total == Decimal(costs)  # the practice's care is VAT-exempt: no VAT added


def test_nothing_open_costs_nothing():
    assert collection_costs(Decimal("0")).total == 0
    assert collection_costs(Decimal("-12.50")).total == 0


def test_vat_is_added_only_when_configured_and_rounded_half_up():
    scale = CostScale(DEFAULT_SCALE.brackets, DEFAULT_SCALE.minimum, DEFAULT_SCALE.maximum, vat_rate=Decimal("21"))
    result = collection_costs(Decimal("300.30"), scale)
    assert (result.costs, result.vat, result.total) == (Decimal("45.05"), Decimal("9.46"), Decimal("54.51"))
    assert collection_costs(Decimal("150"), scale).total == Decimal("48.40")  # the minimum carries VAT too


def test_a_practice_may_use_its_own_scale():
    lower = CostScale((Bracket(Decimal("0"), Decimal("10")),), minimum=Decimal("25"), maximum=None)
    assert collection_costs(Decimal("150"), lower).costs == Decimal("25.00")
    assert collection_costs(Decimal("1000"), lower).costs == Decimal("100.00")


@pytest.mark.parametrize(("brackets", "minimum", "maximum"), [
    ((), "40", "6775"),
    ((Bracket(Decimal("10"), Decimal("15")),), "40", "6775"),                                  # not from 0
    ((Bracket(Decimal("0"), Decimal("15")), Bracket(Decimal("0"), Decimal("10"))), "40", None),  # not ascending
    ((Bracket(Decimal("0"), Decimal("150")),), "40", None),                                    # rate above 100 %
    ((Bracket(Decimal("0"), Decimal("15")),), "40", "30"),                                     # maximum < minimum
])
def test_an_unusable_scale_is_refused(brackets, minimum, maximum):
    with pytest.raises(ValueError):
        CostScale(brackets, Decimal(minimum), Decimal(maximum) if maximum else None)


@settings(max_examples=60, deadline=None)
@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("3000000"), places=2),
       st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"), places=2))
def test_costs_never_fall_as_the_principal_grows_and_stay_within_the_bounds(principal, more):
    costs, higher = collection_costs(principal).costs, collection_costs(principal + more).costs
    assert Decimal("40") <= costs <= higher <= Decimal("6775")
    assert costs == costs.quantize(Decimal("0.01"))


# ---- stages by date -----------------------------------------------------------------------------------------

def test_the_friendly_reminder_comes_a_week_after_the_due_date():
    assert due_reminder(DUE, OPEN, [], DUE + timedelta(days=6)) is None
    reminder = due_reminder(DUE, OPEN, [], DUE + timedelta(days=7))
    assert reminder is not None and (reminder.stage, reminder.due_on) == (Stage.FRIENDLY, date(2026, 10, 8))


def test_the_formal_reminder_follows_the_friendly_one_and_then_nothing_more():
    friendly = SentReminder(Stage.FRIENDLY, date(2026, 10, 9))
    assert due_reminder(DUE, OPEN, [friendly], date(2026, 10, 22)) is None
    reminder = due_reminder(DUE, OPEN, [friendly], date(2026, 10, 23))
    assert reminder is not None and reminder.stage is Stage.FORMAL
    formal = SentReminder(Stage.FORMAL, date(2026, 10, 23))
    assert next_reminder(DUE, OPEN, [friendly, formal]) is None
    assert due_reminder(DUE, OPEN, [friendly, formal], date(2027, 3, 1)) is None


def test_after_a_late_start_only_one_stage_goes_out_a_day():
    # The command ran first three months after the due date: the friendly reminder first, the formal one later.
    late = DUE + timedelta(days=90)
    reminder = due_reminder(DUE, OPEN, [], late)
    assert reminder is not None and reminder.stage is Stage.FRIENDLY
    assert due_reminder(DUE, OPEN, [SentReminder(Stage.FRIENDLY, late)], late) is None


@pytest.mark.parametrize("balance", ["0", "0.00", "-20.00"])
def test_paid_credited_or_overpaid_invoices_get_no_reminder(balance):
    assert next_reminder(DUE, Decimal(balance), []) is None
    assert due_reminder(DUE, Decimal(balance), [], DUE + timedelta(days=100)) is None


def test_a_partly_paid_invoice_is_still_reminded():
    assert due_reminder(DUE, Decimal("0.01"), [], DUE + timedelta(days=7)) is not None
    assert next_reminder(None, OPEN, []) is None  # a draft: no due date, no reminder


def test_the_days_are_settings():
    policy = ReminderPolicy(friendly_after_days=3, formal_after_days=10)
    assert due_reminder(DUE, OPEN, [], DUE + timedelta(days=3), policy) is not None
    friendly = SentReminder(Stage.FRIENDLY, date(2026, 10, 5))
    assert next_reminder(DUE, OPEN, [friendly], policy).due_on == date(2026, 10, 15)
    with pytest.raises(ValueError):
        ReminderPolicy(formal_term_days=10)  # the law gives at least 14 days
    with pytest.raises(ValueError):
        ReminderPolicy(friendly_after_days=0)


# ---- the term of the formal reminder ------------------------------------------------------------------------

def test_the_14_days_count_from_the_day_after_receipt():
    # Sent Monday 2 November 2026, assumed received Wednesday the 4th: the 14 days are the 5th to the 18th.
    assert formal_deadline(date(2026, 11, 2)) == date(2026, 11, 18)
    # Received the same day (receipt_days 0, e.g. by hand): still the day after counts as day one.
    assert formal_deadline(date(2026, 11, 2), ReminderPolicy(receipt_days=0)) == date(2026, 11, 16)


def test_a_deadline_on_a_weekend_or_holiday_moves_to_the_next_working_day():
    # Sent Wednesday 4 November: received Friday the 6th, +14 = Friday the 20th (a working day).
    assert formal_deadline(date(2026, 11, 4)) == date(2026, 11, 20)
    # Sent Thursday 5 November: +2 +14 = Saturday the 21st -> Monday the 23rd.
    assert formal_deadline(date(2026, 11, 5)) == date(2026, 11, 23)
    # Sent Wednesday 9 December: +2 +14 = Friday 25 December (Christmas) -> Monday 28 December.
    assert formal_deadline(date(2026, 12, 9)) == date(2026, 12, 28)
    assert friendly_deadline(date(2026, 12, 19)) == date(2026, 12, 28)  # Saturday 26 December + 2 days


def test_holidays_of_the_algemene_termijnenwet():
    assert easter_sunday(2026) == date(2026, 4, 5) and easter_sunday(2027) == date(2027, 3, 28)
    days = atw_holidays(2026)
    for day in (date(2026, 1, 1), date(2026, 4, 3), date(2026, 4, 6), date(2026, 4, 27), date(2026, 5, 5),
                date(2026, 5, 14), date(2026, 5, 25), date(2026, 12, 25), date(2026, 12, 26)):
        assert day in days and not is_working_day(day)
    assert date(2025, 4, 26) in atw_holidays(2025)  # King's Day on Saturday when the 27th is a Sunday
    assert is_working_day(date(2026, 11, 18))


@settings(max_examples=60, deadline=None)
@given(st.dates(min_value=date(2025, 1, 1), max_value=date(2035, 12, 31)), st.integers(min_value=0, max_value=10))
def test_the_deadline_is_never_shorter_than_the_law_and_always_a_working_day(sent_on, receipt_days):
    deadline = formal_deadline(sent_on, ReminderPolicy(receipt_days=receipt_days))
    assert deadline >= sent_on + timedelta(days=receipt_days + 14)
    assert deadline <= sent_on + timedelta(days=receipt_days + 14 + 5)  # at most a long weekend later
    assert is_working_day(deadline)
