"""Intake screening: may this patient be treated on this date, and if not, exactly why and until when?"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from backoffice.domain.indications import BodyArea
from backoffice.domain.intake import (
    AREA_BOUND,
    CONTRAINDICATION_LABELS,
    MEDICATION_LABELS,
    Contraindication,
    ContraindicationEntry,
    Intake,
    Medication,
    MedicationUse,
    age_on,
    anniversary,
    latest_intake,
    screen,
)

ADULT = date(1990, 5, 17)
DAY = date(2026, 3, 10)
FACE = BodyArea.FACE
LEGS = BodyArea.LEGS


def clean_intake(on: date = date(2026, 1, 5), **kw) -> Intake:
    kw.setdefault("consent_given", True)
    kw.setdefault("consent_by", "the patient")
    kw.setdefault("consent_on", on)
    return Intake(intake_date=on, **kw)


def codes(screening) -> list[str]:
    return [f.code for f in screening.findings]


def only(screening, code):
    hits = [f for f in screening.findings if f.code == code]
    assert len(hits) == 1, codes(screening)
    return hits[0]


# ---- baseline ------------------------------------------------------------------------------------


def test_clean_intake_allows_treatment():
    s = screen(ADULT, [clean_intake()], DAY, FACE)
    assert s.allowed
    assert s.findings == ()
    assert s.day == DAY


def test_no_intake_at_all_blocks():
    s = screen(ADULT, [], DAY, FACE)
    assert not s.allowed
    f = only(s, "no_intake")
    assert f.blocking
    assert str(f.message) == "No intake recorded before 10-03-2026."


def test_an_intake_dated_after_the_treatment_does_not_count():
    s = screen(ADULT, [clean_intake(on=DAY + timedelta(days=1))], DAY, FACE)
    assert codes(s) == ["no_intake"]


def test_an_intake_on_the_treatment_day_counts():
    assert screen(ADULT, [clean_intake(on=DAY)], DAY, FACE).allowed


def test_the_latest_intake_on_or_before_the_day_is_used():
    old = clean_intake(on=date(2025, 6, 1), contraindications=(ContraindicationEntry(Contraindication.EPILEPSY),))
    new = clean_intake(on=date(2026, 2, 1))
    future = clean_intake(on=date(2026, 4, 1), contraindications=(ContraindicationEntry(Contraindication.FEVER),))
    # Order of the list does not matter.
    assert screen(ADULT, [new, future, old], DAY, FACE).allowed
    # Before the new intake, the old one (with epilepsy) applies.
    s = screen(ADULT, [new, future, old], date(2026, 1, 15), FACE)
    assert codes(s) == ["contraindication:epilepsy"]
    assert latest_intake([old, new, future], DAY) is new
    assert latest_intake([old, new], date(2025, 5, 31)) is None


def test_missing_consent_blocks():
    s = screen(ADULT, [clean_intake(consent_given=False, consent_by="", consent_on=None)], DAY, FACE)
    f = only(s, "no_consent")
    assert f.blocking
    assert "05-01-2026" in str(f.message) and "consent" in str(f.message)


# ---- age -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("born", "day", "allowed"),
    [
        (date(2008, 3, 10), date(2026, 3, 9), False),   # day before the 18th birthday
        (date(2008, 3, 10), date(2026, 3, 10), True),   # the 18th birthday itself
        (date(2008, 3, 10), date(2026, 3, 11), True),
        (date(2008, 2, 29), date(2026, 2, 28), False),  # leap-day birth: 18 on 1 March in a common year
        (date(2008, 2, 29), date(2026, 3, 1), True),
        (date(2010, 2, 28), date(2028, 2, 27), False),
        (date(2010, 2, 28), date(2028, 2, 28), True),
        (date(2012, 2, 29), date(2030, 3, 1), True),
        (date(2012, 2, 29), date(2030, 2, 28), False),
        (date(1950, 1, 1), date(2026, 1, 1), True),
    ],
)
def test_age_18_on_the_treatment_date(born, day, allowed):
    s = screen(born, [clean_intake(on=day)], day, FACE)
    assert s.allowed is allowed
    assert ("under_18" in codes(s)) is (not allowed)


def test_under_18_names_the_birthday_and_sets_until():
    s = screen(date(2008, 2, 29), [clean_intake(on=date(2026, 1, 1))], date(2026, 2, 28), FACE)
    f = only(s, "under_18")
    assert f.blocking
    assert f.until == date(2026, 3, 1)
    assert "01-03-2026" in str(f.message)


def test_under_18_is_reported_even_without_an_intake():
    s = screen(date(2010, 1, 1), [], DAY, FACE)
    assert codes(s) == ["no_intake", "under_18"]


@pytest.mark.parametrize(
    ("born", "years", "expected"),
    [
        (date(2000, 2, 29), 18, date(2018, 3, 1)),
        (date(2000, 2, 29), 4, date(2004, 2, 29)),
        (date(2001, 12, 31), 5, date(2006, 12, 31)),
    ],
)
def test_anniversary(born, years, expected):
    assert anniversary(born, years) == expected


@pytest.mark.parametrize(
    ("born", "day", "age"),
    [
        (date(2008, 3, 10), date(2026, 3, 9), 17),
        (date(2008, 3, 10), date(2026, 3, 10), 18),
        (date(2008, 2, 29), date(2026, 2, 28), 17),
        (date(2008, 2, 29), date(2026, 3, 1), 18),
    ],
)
def test_age_on(born, day, age):
    assert age_on(born, day) == age


# ---- contraindications ---------------------------------------------------------------------------

NOT_AREA_BOUND = [k for k in Contraindication if k not in AREA_BOUND and k is not Contraindication.CANCER_TREATMENT]


def test_there_are_thirteen_contraindications_and_four_are_area_bound():
    assert len(Contraindication) == 13
    assert len(AREA_BOUND) == 4
    assert len(NOT_AREA_BOUND) == 8


@pytest.mark.parametrize("kind", NOT_AREA_BOUND)
@pytest.mark.parametrize("area", [FACE, LEGS])
def test_general_contraindications_block_every_area(kind, area):
    intake = clean_intake(contraindications=(ContraindicationEntry(kind),))
    s = screen(ADULT, [intake], DAY, area)
    assert not s.allowed
    f = only(s, f"contraindication:{kind.value}")
    assert f.blocking
    assert CONTRAINDICATION_LABELS[kind] in str(f.message)
    assert f.until is None


@pytest.mark.parametrize("kind", sorted(AREA_BOUND))
@pytest.mark.parametrize(
    ("areas", "area", "blocks"),
    [
        (frozenset({FACE}), FACE, True),                 # in the treated area
        (frozenset({FACE, BodyArea.NECK}), BodyArea.NECK, True),
        (frozenset({LEGS}), FACE, False),                # elsewhere: treat the face
        (frozenset({BodyArea.ARMS, LEGS}), FACE, False),
        (frozenset(), FACE, True),                       # area not specified: blocks everywhere
        (frozenset(), LEGS, True),
    ],
)
def test_area_bound_contraindications_block_only_their_area(kind, areas, area, blocks):
    intake = clean_intake(contraindications=(ContraindicationEntry(kind, areas=areas),))
    s = screen(ADULT, [intake], DAY, area)
    assert s.allowed is (not blocks)
    if blocks:
        f = only(s, f"contraindication:{kind.value}")
        assert CONTRAINDICATION_LABELS[kind] in str(f.message)
        assert area.value in str(f.message)


def test_area_bound_with_two_entries_blocks_if_either_is_in_the_area():
    intake = clean_intake(contraindications=(
        ContraindicationEntry(Contraindication.TATTOOS, areas=frozenset({LEGS})),
        ContraindicationEntry(Contraindication.TATTOOS, areas=frozenset({FACE})),
    ))
    assert codes(screen(ADULT, [intake], DAY, FACE)) == ["contraindication:tattoos"]
    assert screen(ADULT, [intake], DAY, BodyArea.BACK).allowed


CANCER = Contraindication.CANCER_TREATMENT


@pytest.mark.parametrize(
    ("ended_on", "day", "until"),
    [
        (date(2021, 3, 10), date(2026, 3, 9), date(2026, 3, 10)),   # day before five years: blocked
        (date(2021, 3, 11), date(2026, 3, 10), date(2026, 3, 11)),
        (date(2020, 2, 29), date(2025, 2, 28), date(2025, 3, 1)),   # leap day: five years end on 1 March
    ],
)
def test_cancer_treatment_blocks_for_five_years(ended_on, day, until):
    intake = clean_intake(on=day, contraindications=(ContraindicationEntry(CANCER, ended_on=ended_on),))
    s = screen(ADULT, [intake], day, FACE)
    f = only(s, "contraindication:cancer_treatment")
    assert f.blocking
    assert f.until == until
    assert until.strftime("%d-%m-%Y") in str(f.message)
    assert ended_on.strftime("%d-%m-%Y") in str(f.message)


@pytest.mark.parametrize(
    ("ended_on", "day"),
    [
        (date(2021, 3, 10), date(2026, 3, 10)),  # exactly five years later
        (date(2020, 1, 1), date(2026, 3, 10)),
        (date(2020, 2, 29), date(2025, 3, 1)),
    ],
)
def test_cancer_treatment_five_years_ago_no_longer_blocks(ended_on, day):
    intake = clean_intake(on=day, contraindications=(ContraindicationEntry(CANCER, ended_on=ended_on),))
    s = screen(ADULT, [intake], day, FACE)
    assert s.allowed
    assert s.findings == ()


def test_cancer_treatment_without_end_date_blocks_without_until():
    intake = clean_intake(contraindications=(ContraindicationEntry(CANCER),))
    f = only(screen(ADULT, [intake], DAY, LEGS), "contraindication:cancer_treatment")
    assert f.blocking
    assert f.until is None


def test_every_contraindication_at_once_gives_one_finding_each_in_a_stable_order():
    entries = tuple(ContraindicationEntry(k, ended_on=date(2024, 1, 1) if k is CANCER else None)
                    for k in reversed(Contraindication))
    s = screen(ADULT, [clean_intake(contraindications=entries)], DAY, FACE)
    assert codes(s) == [f"contraindication:{k.value}" for k in Contraindication]
    assert all(f.blocking for f in s.findings)


# ---- medication ----------------------------------------------------------------------------------


@pytest.mark.parametrize("medication", list(Medication))
@pytest.mark.parametrize(
    ("days_since_stop", "blocks"),
    [(0, True), (1, True), (13, True), (14, False), (15, False), (400, False)],
)
def test_fourteen_day_wait_after_stopping_medication(medication, days_since_stop, blocks):
    stopped = DAY - timedelta(days=days_since_stop)
    intake = clean_intake(medications=(MedicationUse(medication, stopped_on=stopped),))
    s = screen(ADULT, [intake], DAY, FACE)
    assert s.allowed is (not blocks)
    if blocks:
        f = only(s, f"medication:{medication.value}")
        assert f.until == stopped + timedelta(days=14)
        assert MEDICATION_LABELS[medication] in str(f.message)


def test_medication_message_names_both_dates():
    intake = clean_intake(medications=(MedicationUse(Medication.ISOTRETINOIN, stopped_on=date(2026, 3, 1)),))
    f = only(screen(ADULT, [intake], DAY, FACE), "medication:isotretinoin")
    assert str(f.message) == ("Isotretinoin / Roaccutane / vitamin A cream stopped on 01-03-2026: "
                         "no treatment until 15-03-2026 (2 weeks).")
    assert f.until == date(2026, 3, 15)
    assert screen(ADULT, [intake], date(2026, 3, 14), FACE).blocking
    assert screen(ADULT, [intake], date(2026, 3, 15), FACE).allowed


@pytest.mark.parametrize("medication", list(Medication))
def test_medication_still_taken_blocks_without_until(medication):
    intake = clean_intake(medications=(MedicationUse(medication),))
    f = only(screen(ADULT, [intake], DAY, FACE), f"medication:{medication.value}")
    assert f.blocking
    assert f.until is None
    assert "still" in str(f.message)


def test_a_still_taken_entry_wins_over_an_old_stop():
    intake = clean_intake(medications=(MedicationUse(Medication.ANTIBIOTICS, stopped_on=date(2025, 1, 1)),
                                       MedicationUse(Medication.ANTIBIOTICS)))
    f = only(screen(ADULT, [intake], DAY, FACE), "medication:antibiotics")
    assert f.until is None


# ---- intake validity -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("intake_on", "day", "outdated"),
    [
        (date(2025, 3, 10), date(2026, 3, 10), False),  # exactly twelve months: still valid
        (date(2025, 3, 10), date(2026, 3, 11), True),
        (date(2024, 2, 29), date(2025, 2, 28), False),  # month-end clamp
        (date(2024, 2, 29), date(2025, 3, 1), True),
    ],
)
def test_old_intake_is_a_warning_not_a_block(intake_on, day, outdated):
    s = screen(ADULT, [clean_intake(on=intake_on)], day, FACE)
    assert s.allowed
    assert ("intake_outdated" in codes(s)) is outdated
    if outdated:
        f = only(s, "intake_outdated")
        assert not f.blocking
        assert s.warnings == (f,)
        assert str(f.message) == f"Intake of {intake_on:%d-%m-%Y} is older than 12 months: repeat the intake."


def test_intake_validity_is_configurable():
    s = screen(ADULT, [clean_intake(on=date(2025, 9, 1))], DAY, FACE, validity_months=6)
    assert "older than 6 months" in str(only(s, "intake_outdated").message)


def test_blocking_and_warning_together():
    intake = clean_intake(on=date(2024, 1, 1), contraindications=(ContraindicationEntry(Contraindication.FEVER),))
    s = screen(ADULT, [intake], DAY, FACE)
    assert [f.code for f in s.blocking] == ["contraindication:fever"]
    assert [f.code for f in s.warnings] == ["intake_outdated"]
    assert not s.allowed


def test_screening_is_deterministic():
    intake = clean_intake(
        consent_given=False,
        contraindications=(ContraindicationEntry(Contraindication.TATTOOS),),
        medications=(MedicationUse(Medication.PREDNISONE, stopped_on=DAY - timedelta(days=3)),),
    )
    assert screen(ADULT, [intake], DAY, FACE) == screen(ADULT, (intake,), DAY, FACE)
