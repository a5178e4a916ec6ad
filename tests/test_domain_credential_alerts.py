"""The stages of a credential's expiry and which one is due for the managers' e-mail (no app needed)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from backoffice.domain.credential_alerts import STAGE_ORDER, AlertStage, horizon_of, stage_due, stage_on

TODAY = date(2026, 12, 6)


def days(n: int) -> date:
    return TODAY + timedelta(days=n)


def test_stage_on_each_boundary():
    assert stage_on(days(91), TODAY) is None
    assert stage_on(days(90), TODAY) is AlertStage.DAYS_90
    assert stage_on(days(31), TODAY) is AlertStage.DAYS_90
    assert stage_on(days(30), TODAY) is AlertStage.DAYS_30
    assert stage_on(days(8), TODAY) is AlertStage.DAYS_30
    assert stage_on(days(7), TODAY) is AlertStage.DAYS_7
    assert stage_on(TODAY, TODAY) is AlertStage.DAYS_7  # valid through its end date
    assert stage_on(days(-1), TODAY) is AlertStage.LAPSED
    assert stage_on(date(2010, 1, 1), TODAY) is AlertStage.LAPSED


def test_horizon_of_takes_the_tightest_window_and_other_horizons():
    assert horizon_of(days(5), TODAY) == 7
    assert horizon_of(days(5), TODAY, (90, 14)) == 14  # order given does not matter
    assert horizon_of(days(100), TODAY) is None
    assert horizon_of(days(-1), TODAY) is None  # lapsed is not a window


def test_each_stage_is_due_once_for_its_end_date():
    end = days(60)
    assert stage_due(end, TODAY, {}) is AlertStage.DAYS_90
    assert stage_due(end, TODAY, {AlertStage.DAYS_90: end}) is None
    # Later, the next window is due even though the 90-day one was sent.
    assert stage_due(end, end - timedelta(days=20), {AlertStage.DAYS_90: end}) is AlertStage.DAYS_30
    assert stage_due(end, end + timedelta(days=1), {AlertStage.DAYS_90: end, AlertStage.DAYS_30: end,
                                                    AlertStage.DAYS_7: end}) is AlertStage.LAPSED
    assert stage_due(end, end + timedelta(days=400), {AlertStage.LAPSED: end}) is None  # lapsed: once


def test_skipped_windows_are_not_sent_late():
    # Recorded (or first checked) three days before its end: only the 7-day stage, never the 90 and 30.
    assert stage_due(days(3), TODAY, {}) is AlertStage.DAYS_7


def test_a_moved_end_date_makes_the_stage_due_again():
    # A membership extended by moving its end date a year on: next year's 90-day window is told again.
    old_end, new_end = days(20), days(385)
    sent = {AlertStage.DAYS_90: old_end, AlertStage.DAYS_30: old_end}
    assert stage_due(new_end, TODAY, sent) is None  # more than 90 days away
    assert stage_due(new_end, new_end - timedelta(days=80), sent) is AlertStage.DAYS_90


def test_nothing_due_beyond_90_days():
    assert stage_due(days(91), TODAY, {}) is None


@settings(max_examples=60)
@given(st.integers(min_value=-800, max_value=800), st.integers(min_value=0, max_value=120))
def test_stages_only_tighten_as_the_days_pass(offset, later):
    """Walking forward in time, a credential's stage never goes back to a looser one."""
    end = days(offset)
    first, second = stage_on(end, TODAY), stage_on(end, TODAY + timedelta(days=later))
    if first is not None:
        assert second is not None
        assert STAGE_ORDER.index(second) <= STAGE_ORDER.index(first)
