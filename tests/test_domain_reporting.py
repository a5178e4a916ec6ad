"""The pure parts of the monthly report: months and year to date, receivable ages, shares and credentials."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backoffice.domain.credentials import Badge, KpLevel, KpRegistration, NvhMembership
from backoffice.domain.reporting import (
    AGE_BUCKETS,
    Amounts,
    Month,
    Overview,
    Pair,
    Period,
    VatLine,
    age_in_days,
    amounts_from_cents,
    bucket_for,
    credential_figures,
    default_month,
    month_period,
    months_to_date,
    pair_sum,
    reference_date,
    share,
    year_to_date,
)

# ---- months --------------------------------------------------------------------------------------------------


def test_parse_a_month_as_the_month_picker_sends_it():
    assert Month.parse("2026-10") == Month(2026, 10)
    assert Month.parse(" 2026-3 ") == Month(2026, 3)
    assert Month(2026, 3).iso == "2026-03"
    assert str(Month(2026, 3)) == "2026-03"
    assert Month(2026, 10).label == "October 2026"
    assert Month(2026, 10).short_label == "Oct"


@pytest.mark.parametrize("text", ["", "2026", "2026-13", "2026-00", "26-10", "2026/10", "oktober", "2026-10-01"])
def test_anything_else_is_not_a_month(text):
    with pytest.raises(ValueError):
        Month.parse(text)


def test_first_and_last_day_including_leap_years_and_december():
    assert (Month(2026, 10).first, Month(2026, 10).last) == (date(2026, 10, 1), date(2026, 10, 31))
    assert Month(2028, 2).last == date(2028, 2, 29)
    assert Month(2026, 2).last == date(2026, 2, 28)
    assert Month(2026, 12).last == date(2026, 12, 31)
    assert Month(2026, 12).next() == Month(2027, 1)
    assert Month(2027, 1).previous() == Month(2026, 12)
    assert Month(2026, 6).next().previous() == Month(2026, 6)


@given(st.dates(min_value=date(1901, 1, 1), max_value=date(9998, 12, 31)))
def test_every_day_lies_in_its_month_and_months_tile_the_calendar(day):
    month = Month.of(day)
    assert day in month_period(month)
    assert month.next().first == month.last + timedelta(days=1)
    assert month.previous().last == month.first - timedelta(days=1)


def test_year_to_date_runs_from_january_to_the_months_last_day():
    assert year_to_date(Month(2026, 10)) == Period(date(2026, 1, 1), date(2026, 10, 31))
    assert year_to_date(Month(2026, 1)) == month_period(Month(2026, 1))
    assert months_to_date(Month(2026, 3)) == [Month(2026, 1), Month(2026, 2), Month(2026, 3)]
    assert len(months_to_date(Month(2026, 12))) == 12


def test_the_default_month_is_the_one_just_closed():
    assert default_month(date(2026, 11, 2)) == Month(2026, 10)
    assert default_month(date(2027, 1, 1)) == Month(2026, 12)


def test_receivables_are_measured_on_the_months_last_day_or_today_while_it_runs():
    assert reference_date(Month(2026, 10), date(2026, 11, 2)) == date(2026, 10, 31)
    assert reference_date(Month(2026, 11), date(2026, 11, 20)) == date(2026, 11, 20)


def test_a_period_cannot_run_backwards():
    with pytest.raises(ValueError):
        Period(date(2026, 2, 1), date(2026, 1, 31))


# ---- receivable ages -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("days", "label"), [(0, "0-30"), (30, "0-30"), (31, "31-60"), (60, "31-60"),
                                             (61, "61-90"), (90, "61-90"), (91, ">90"), (4000, ">90")])
def test_buckets_at_their_edges(days, label):
    assert bucket_for(days).label == label


def test_age_counts_from_the_issue_date_and_never_goes_negative():
    assert age_in_days(date(2026, 9, 30), date(2026, 10, 31)) == 31
    assert age_in_days(date(2026, 11, 5), date(2026, 10, 31)) == 0


@given(st.integers(min_value=0, max_value=10_000))
def test_each_age_falls_in_exactly_one_bucket(days):
    assert sum(bucket.holds(days) for bucket in AGE_BUCKETS) == 1


@given(st.integers(min_value=0, max_value=400))
def test_issue_date_bounds_agree_with_the_buckets(days):
    """The SQL selects a bucket by issue date; those bounds must give the same bucket as counting days."""
    as_of = date(2026, 10, 31)
    issued = as_of - timedelta(days=days)
    matches = []
    for bucket in AGE_BUCKETS:
        earliest, latest = bucket.issue_dates(as_of)
        if (earliest is None or issued >= earliest) and issued <= latest:
            matches.append(bucket)
    assert matches == [bucket_for(age_in_days(issued, as_of))]


# ---- figures -------------------------------------------------------------------------------------------------


def test_share_is_a_percentage_to_one_decimal_half_up_and_none_without_a_whole():
    assert share(1, 3) == Decimal("33.3")
    assert share(2, 3) == Decimal("66.7")
    assert share(1, 8) == Decimal("12.5")
    assert share(Decimal("0.00"), Decimal("10.00")) == Decimal("0.0")
    assert share(5, 0) is None


def test_amounts_add_up_and_come_from_cents_without_rounding():
    assert amounts_from_cents(12100, 10000, 2100) == Amounts(Decimal("121.00"), Decimal("100.00"), Decimal("21.00"))
    total = Amounts(Decimal("1.00"), Decimal("1.00"), Decimal("0")) + Amounts(Decimal("-0.50"), Decimal("-0.50"))
    assert total == Amounts(Decimal("0.50"), Decimal("0.50"), Decimal("0"))


def test_overview_revenue_is_invoiced_plus_credited_and_vat_per_rate():
    overview = Overview(
        invoiced=Amounts(Decimal("400.00"), Decimal("379.00"), Decimal("21.00")),
        credited=Amounts(Decimal("-121.00"), Decimal("-100.00"), Decimal("-21.00")),
        medical=Amounts(Decimal("279.00"), Decimal("279.00"), Decimal("0.00")),
        cosmetic=Amounts(Decimal("0.00"), Decimal("0.00"), Decimal("0.00")),
        vat_by_rate=(VatLine(0, Amounts(Decimal("279.00"), Decimal("279.00"), Decimal("0.00"))),),
    )
    assert overview.revenue == Amounts(Decimal("279.00"), Decimal("279.00"), Decimal("0.00"))
    assert overview.medical_share == Decimal("100.0")
    assert overview.vat(0).net == Decimal("279.00")
    assert overview.vat(21) == Amounts()
    assert overview.vat_by_rate[0].exempt and "art. 11" in overview.vat_by_rate[0].label
    assert VatLine(21, Amounts()).label == "21 % VAT"
    assert Overview().medical_share is None


def test_pairs_sum_month_and_year_separately():
    assert pair_sum([Pair(1, 10), Pair(2, 20)]) == Pair(3, 30)
    assert pair_sum([], Decimal(0)) == Pair(Decimal(0), Decimal(0))


# ---- credentials ---------------------------------------------------------------------------------------------

AS_OF = date(2026, 10, 31)


def test_credentials_show_current_entries_and_highlight_an_end_within_the_window():
    figures = credential_figures(
        7, "Eva", True, AS_OF,
        [NvhMembership("NVH-1", date(2019, 1, 1))],
        [KpRegistration("KP-1", KpLevel.KWALITEITSREGISTER, date(2021, 12, 1), date(2026, 11, 30)),
         KpRegistration("KP-0", KpLevel.KWALITEITSREGISTER, date(2016, 12, 1), date(2021, 11, 30))],
        warn_days=90)
    assert (figures.nvh_number, figures.nvh_until, figures.nvh_current) == ("NVH-1", None, True)
    assert (figures.kp_number, figures.kp_until, figures.kp_level) == ("KP-1", date(2026, 11, 30),
                                                                        "kwaliteitsregister")
    assert figures.badge is Badge.EXPIRING and figures.ending_soon
    assert "30 days" in str(figures.status)  # a Text: English without a translator


def test_an_end_beyond_the_window_is_not_highlighted():
    figures = credential_figures(
        7, "Eva", True, AS_OF, [NvhMembership("NVH-1", date(2019, 1, 1), date(2030, 1, 1))],
        [KpRegistration("KP-1", KpLevel.KWALITEITSREGISTER, date(2021, 1, 1), date(2027, 3, 1))], warn_days=90)
    assert figures.badge is Badge.VALID and not figures.ending_soon
    assert figures.nvh_until == date(2030, 1, 1)


def test_an_expired_registration_shows_its_last_end_date_without_highlight_as_ending():
    figures = credential_figures(
        7, "Eva", True, AS_OF, [NvhMembership("NVH-1", date(2019, 1, 1))],
        [KpRegistration("KP-1", KpLevel.KWALITEITSREGISTER, date(2021, 1, 1), date(2026, 9, 30))])
    assert figures.badge is Badge.EXPIRED
    assert (figures.kp_until, figures.kp_current, figures.ending_soon) == (date(2026, 9, 30), False, False)


def test_no_credentials_at_all():
    figures = credential_figures(7, "Eva", False, AS_OF, [], [])
    assert figures.badge is Badge.NONE
    assert (figures.nvh_number, figures.kp_number, figures.nvh_until, figures.kp_until) == ("", "", None, None)
