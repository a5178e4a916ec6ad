"""Credentials on a date (NVH membership + KP registration) and the badge shown next to a therapist."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from backoffice.domain.credentials import (
    Badge,
    KpLevel,
    KpRegistration,
    NvhMembership,
    badge_on,
    check_on,
)

KWALITEIT = KpLevel.KWALITEITSREGISTER
DIPLOMA = KpLevel.DIPLOMAREGISTER

NVH = NvhMembership("NVH-1", date(2020, 1, 1), date(2030, 12, 31))
KP = KpRegistration("KP-1", KWALITEIT, date(2022, 1, 1), date(2026, 12, 31))


# ---- check_on ------------------------------------------------------------------------------------


def test_member_with_kwaliteitsregister_on_the_date_is_eligible():
    check = check_on(date(2024, 6, 1), [NVH], [KP])
    assert check.eligible
    assert check.nvh == NVH and check.kp == KP
    assert check.reasons == ["NVH member (no. NVH-1) on 01-06-2024.",
                             "KP kwaliteitsregister (no. KP-1) on 01-06-2024."]


@pytest.mark.parametrize("day", [date(2022, 1, 1), date(2026, 12, 31)])
def test_period_boundaries_are_inclusive(day):
    assert check_on(day, [NVH], [KP]).eligible


def test_day_before_the_kp_period_starts_is_not_eligible():
    check = check_on(date(2021, 12, 31), [NVH], [KP])
    assert not check.eligible
    assert check.kp is None
    assert "No KP registration on 31-12-2021." in check.reasons


def test_day_after_the_kp_period_ends_is_not_eligible():
    check = check_on(date(2027, 1, 1), [NVH], [KP])
    assert not check.eligible
    assert check.nvh_member and not check.kp_kwaliteitsregister


def test_day_after_the_nvh_membership_ends_is_not_eligible():
    nvh = NvhMembership("NVH-1", date(2020, 1, 1), date(2024, 12, 31))
    assert check_on(date(2024, 12, 31), [nvh], [KP]).eligible
    check = check_on(date(2025, 1, 1), [nvh], [KP])
    assert not check.eligible
    assert "No NVH membership on 01-01-2025." in check.reasons


def test_diplomaregister_only_is_not_eligible_and_says_why():
    diploma = KpRegistration("KP-9", DIPLOMA, date(2022, 1, 1), date(2026, 12, 31))
    check = check_on(date(2024, 6, 1), [NVH], [diploma])
    assert not check.eligible
    assert check.kp == diploma
    assert any("diplomaregister" in reason and "kwaliteitsregister" in reason for reason in check.reasons)


def test_without_nvh_membership_kwaliteitsregister_alone_is_not_eligible():
    check = check_on(date(2024, 6, 1), [], [KP])
    assert not check.eligible
    assert check.kp_kwaliteitsregister and not check.nvh_member
    assert "No NVH membership on 01-06-2024." in check.reasons


def test_nothing_recorded_is_not_eligible():
    check = check_on(date(2024, 6, 1), [], [])
    assert not check.eligible
    assert check.reasons == ["No NVH membership on 01-06-2024.", "No KP registration on 01-06-2024."]


def test_open_ended_nvh_membership_covers_any_later_date():
    nvh = NvhMembership("NVH-2", date(2015, 3, 1))
    kp = KpRegistration("KP-2", KWALITEIT, date(2040, 1, 1), date(2044, 12, 31))
    assert check_on(date(2042, 5, 5), [nvh], [kp]).eligible
    assert not check_on(date(2015, 2, 28), [nvh], [kp]).nvh_member


def test_two_consecutive_kp_periods_leave_no_gap():
    first = KpRegistration("KP-3", KWALITEIT, date(2017, 1, 1), date(2021, 12, 31))
    second = KpRegistration("KP-3", KWALITEIT, date(2022, 1, 1), date(2026, 12, 31))
    assert check_on(date(2021, 12, 31), [NVH], [first, second]).kp == first
    assert check_on(date(2022, 1, 1), [NVH], [first, second]).kp == second
    assert not check_on(date(2027, 1, 1), [NVH], [first, second]).eligible


def test_overlapping_periods_prefer_the_kwaliteitsregister():
    diploma = KpRegistration("KP-4", DIPLOMA, date(2020, 1, 1), date(2029, 12, 31))  # runs longer
    kwaliteit = KpRegistration("KP-4", KWALITEIT, date(2023, 1, 1), date(2024, 12, 31))
    for order in ([diploma, kwaliteit], [kwaliteit, diploma]):
        check = check_on(date(2024, 1, 1), [NVH], order)
        assert check.eligible
        assert check.kp == kwaliteit
    # Outside the kwaliteitsregister period only the diplomaregister entry is left.
    assert check_on(date(2025, 1, 1), [NVH], [diploma, kwaliteit]).kp == diploma


def test_overlapping_nvh_memberships_prefer_the_open_ended_one():
    old = NvhMembership("NVH-old", date(2018, 1, 1), date(2025, 12, 31))
    open_ended = NvhMembership("NVH-new", date(2024, 1, 1))
    assert check_on(date(2024, 6, 1), [old, open_ended], [KP]).nvh == open_ended


# ---- badge_on ------------------------------------------------------------------------------------

TODAY = date(2026, 3, 1)
OPEN_NVH = NvhMembership("NVH-5", date(2015, 1, 1))


def _kp(end: date, level: KpLevel = KWALITEIT, start: date = date(2022, 1, 1)) -> KpRegistration:
    return KpRegistration("KP-5", level, start, end)


def test_badge_valid_when_both_run_beyond_the_warning_window():
    status = badge_on(TODAY, [OPEN_NVH], [_kp(date(2028, 12, 31))])
    assert status.badge is Badge.VALID
    assert status.ends_on == date(2028, 12, 31)
    assert status.text == "valid until 31-12-2028"


def test_badge_expiring_within_90_days():
    status = badge_on(TODAY, [OPEN_NVH], [_kp(TODAY + timedelta(days=20))])
    assert status.badge is Badge.EXPIRING
    assert status.text == "expires in 20 days (21-03-2026)"


def test_badge_warning_window_boundary_is_90_days_inclusive():
    assert badge_on(TODAY, [OPEN_NVH], [_kp(TODAY + timedelta(days=90))]).badge is Badge.EXPIRING
    assert badge_on(TODAY, [OPEN_NVH], [_kp(TODAY + timedelta(days=91))]).badge is Badge.VALID


def test_badge_expiring_on_the_last_day():
    status = badge_on(TODAY, [OPEN_NVH], [_kp(TODAY)])
    assert status.badge is Badge.EXPIRING
    assert status.text.startswith("expires in 0 days")


def test_badge_warning_window_is_configurable():
    kp = _kp(TODAY + timedelta(days=45))
    assert badge_on(TODAY, [OPEN_NVH], [kp], warn_days=30).badge is Badge.VALID
    assert badge_on(TODAY, [OPEN_NVH], [kp], warn_days=60).badge is Badge.EXPIRING


def test_badge_takes_the_earlier_of_nvh_and_kp_end():
    nvh = NvhMembership("NVH-6", date(2015, 1, 1), TODAY + timedelta(days=10))
    status = badge_on(TODAY, [nvh], [_kp(date(2030, 1, 1))])
    assert status.badge is Badge.EXPIRING
    assert status.ends_on == TODAY + timedelta(days=10)


def test_badge_expired_when_the_kp_period_has_ended():
    status = badge_on(TODAY, [OPEN_NVH], [_kp(TODAY - timedelta(days=1))])
    assert status.badge is Badge.EXPIRED
    assert status.ends_on == date(2026, 2, 28)
    assert status.text == "expired 28-02-2026"


def test_badge_diploma_only():
    status = badge_on(TODAY, [OPEN_NVH], [_kp(date(2030, 6, 30), DIPLOMA)])
    assert status.badge is Badge.DIPLOMA_ONLY
    assert "diplomaregister" in status.text


def test_badge_none_without_any_credentials():
    status = badge_on(TODAY, [], [])
    assert status.badge is Badge.NONE
    assert status.ends_on is None


# ---- ineligible_periods: the dates a lapse makes unclaimable ---------------------------------------------

def _d(text):
    return date.fromisoformat(text)


_NVH_OPEN = [NvhMembership("N1", _d("2020-01-01"), None)]
_KP_TWO = [
    KpRegistration("K1", KpLevel.KWALITEITSREGISTER, _d("2021-01-01"), _d("2025-12-31")),
    KpRegistration("K1", KpLevel.KWALITEITSREGISTER, _d("2026-02-01"), _d("2030-01-31")),
]


@pytest.mark.parametrize(("start", "end", "memberships", "registrations", "expected"), [
    ("2026-03-01", "2026-12-31", _NVH_OPEN, _KP_TWO, []),
    ("2025-06-01", "2026-06-30", _NVH_OPEN, _KP_TWO, [("2026-01-01", "2026-01-31")]),
    ("2020-06-01", "2020-12-31", _NVH_OPEN, _KP_TWO, [("2020-06-01", "2020-12-31")]),
    ("2029-12-01", "2030-03-31", _NVH_OPEN, _KP_TWO, [("2030-02-01", "2030-03-31")]),
    ("2026-01-01", "2026-12-31", [], _KP_TWO, [("2026-01-01", "2026-12-31")]),
    ("2026-01-01", "2026-12-31", _NVH_OPEN,
     [KpRegistration("K2", KpLevel.DIPLOMAREGISTER, _d("2020-01-01"), _d("2030-01-01"))],
     [("2026-01-01", "2026-12-31")]),
    ("2026-01-01", "2026-12-31", [NvhMembership("N1", _d("2020-01-01"), _d("2026-06-30"))], _KP_TWO,
     [("2026-01-01", "2026-01-31"), ("2026-07-01", "2026-12-31")]),
])
def test_ineligible_periods(start, end, memberships, registrations, expected):
    from backoffice.domain.credentials import ineligible_periods

    got = ineligible_periods(_d(start), _d(end), memberships, registrations)
    assert got == [(_d(a), _d(b)) for a, b in expected]
