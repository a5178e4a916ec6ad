"""The demo's care: the catalogue, the insurers' rules, and per patient the intakes (with consent), referrals and
about 80 treatments, recorded through the intake, referral and treatment services.

Each candidate treatment is screened against the intakes first, as at the desk; the ones the screening refuses
(a minor, a pregnancy, antibiotics stopped too recently, no intake, no consent) are not recorded and are listed
in `report.blocked`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from ..catalogue.services import CatalogueItemInput, save_item
from ..domain.coverage import CapPeriod
from ..domain.credentials import KpLevel
from ..domain.dutch import nl_date
from ..domain.indications import BodyArea, Category
from ..domain.intake import Contraindication, ContraindicationEntry, Medication, MedicationUse
from ..domain.money import from_cents
from ..domain.referrals import ReferrerType
from ..extensions import db
from ..insurers.services import RuleInput, save_rule
from ..intakes.services import IntakeInput, create_intake, screening_for
from ..models import CatalogueItem, CoverageRule, Insurer, Package, Patient, Referral, Therapist, Treatment
from ..referrals.services import ReferralInput, create_referral
from ..treatments.services import TreatmentBlocked, TreatmentInput, record_treatment
from .data import (
    ASSUMED,
    CATALOGUE,
    CATALOGUE_CODE_LIST,
    COSMETIC_PROFILES,
    COVERAGE_RULES,
    DERMATOLOGISTS,
    DIAGNOSES,
    FEMALE_NAMES,
    GPS,
    HISTORY_DAYS,
    LASER_SETTINGS,
    PROFILES,
    PROFILES_BY_UZOVI,
    STORED_PATIENTS,
)
from .people import Added
from .report import SeedReport

# ---- catalogue and insurer rules -------------------------------------------------------------------------


def catalogue(report: SeedReport) -> dict[str, CatalogueItem]:
    """The catalogue through the catalogue service; an item already stored (same code) is kept as it is."""
    items = {}
    for code, name, technique, prestatiecode, cents, minutes in CATALOGUE:
        item = db.session.scalar(select(CatalogueItem).where(CatalogueItem.code == code))
        if item is None:
            item = save_item(None, CatalogueItemInput(code=code, name=name, price=from_cents(cents),
                                                      duration_minutes=minutes, technique=technique,
                                                      prestatiecode=prestatiecode,
                                                      prestatiecode_list=CATALOGUE_CODE_LIST))
            report.catalogue_items += 1
        items[code] = item
    return items


def _rule_stored(insurer: Insurer, year: int, label: str, package_id: int | None) -> bool:
    return db.session.scalar(select(CoverageRule.id).where(
        CoverageRule.insurer_id == insurer.id, CoverageRule.year == year, CoverageRule.label == label,
        CoverageRule.package_id.is_(None) if package_id is None else CoverageRule.package_id == package_id,
    )) is not None


def _add_rule(insurer: Insurer, packages: dict[str, Package], year: int, published: tuple[int, ...],
              spec: dict[str, Any]) -> bool:
    """Add one rule for `year` unless it is there already; True when added."""
    package = packages[spec["package"]] if spec["package"] else None
    package_id = package.id if package else None
    if _rule_stored(insurer, year, spec["label"], package_id):
        return False
    save_rule(insurer, None, _rule_input(spec, year, package_id, published))
    return True


def _rule_input(spec: dict[str, Any], year: int, package_id: int | None, published: tuple[int, ...]) -> RuleInput:
    """A rule of data.COVERAGE_RULES as the rule form would give it: enums, and the cap in euros."""
    values = {k: v for k, v in spec.items() if k != "package"}
    notes = values.pop("notes", "")
    if year not in published:
        notes += f" Voor {year} ongewijzigd ingevoerd: {ASSUMED}."
    cap_cents = values.pop("cap_cents")
    level = values.pop("kp_level_required", None)
    return RuleInput(
        year=year, package_id=package_id, notes=notes,
        label=values.pop("label"),
        categories=tuple(Category(c) for c in values.pop("categories")),
        body_areas=tuple(BodyArea(a) for a in values.pop("body_areas", ())),
        cap=from_cents(cap_cents) if cap_cents is not None else None,
        cap_period=CapPeriod(values.pop("cap_period", CapPeriod.YEAR.value)),
        kp_level_required=KpLevel(level) if level else None,
        **values,  # cap_group, percentage, max_sessions, waiting_months, referral_required, technique_required
    )


def coverage_rules(today: date, insurers: dict[str, Insurer], report: SeedReport) -> None:
    for uzovi, (published, rules) in COVERAGE_RULES.items():
        insurer = insurers[uzovi]
        packages = {p.name: p for p in insurer.packages}
        # The published years, and every year the demo treatments fall in.
        for year in sorted({*published, (today - timedelta(days=HISTORY_DAYS)).year, today.year}):
            report.coverage_rules += sum(_add_rule(insurer, packages, year, published, spec) for spec in rules)


# ---- who comes for what --------------------------------------------------------------------------------


@dataclass
class _Session:
    patient: Patient
    day: date
    profile: str
    area: str
    session: int  # 0: an extra session the screening is meant to refuse
    series: int


@dataclass(frozen=True)
class _Plan:
    index: int
    patient: Patient
    profile: str
    start_days: int | None


@dataclass(frozen=True)
class _Cast:
    """The patients the intake screening is shown refusing."""

    pregnant: Patient
    on_antibiotics: Patient
    no_intake: Patient
    no_consent: Patient


def _profile_for(index: int, patient: Patient, today: date, rng: random.Random) -> str:
    insurance = patient.insurance_on(today)
    age = patient.age_on(today)
    if insurance is None or index % 3 == 2:
        return rng.choice(COSMETIC_PROFILES)
    choices = PROFILES_BY_UZOVI[insurance.insurer.uzovi]
    if age <= 25 and "acne" in choices:
        return rng.choice(["acne", "acne_scars"])
    return choices[(index // 3) % len(choices)]


def _series(patient: Patient, profile: str, today: date, rng: random.Random,
            start_days: int | None = None) -> list[_Session]:
    _indication, _code, areas, (low, high), (gap_low, gap_high), _referrer = PROFILES[profile]
    area = rng.choice(areas)
    total = rng.randint(low, high)
    day = today - timedelta(days=start_days or rng.randint(40, HISTORY_DAYS))
    sessions = []
    for number in range(1, total + 1):
        if day > today:
            break
        sessions.append(_Session(patient, day, profile, area, number, total))
        day += timedelta(days=rng.randint(gap_low, gap_high))
    return sessions


def _cast(plans: list[_Plan], today: date) -> _Cast:
    """Chosen among the adult random patients: the first woman of 42 or younger is pregnant, the first other
    one not picked as a cosmetic client is on antibiotics, and the last two of the rest have no intake and no
    consent."""
    adults = [plan for plan in plans if plan.index < STORED_PATIENTS and plan.patient.age_on(today) >= 18]
    pregnant = next(plan.patient for plan in adults if _may_be_pregnant(plan.patient, today))
    on_antibiotics = next(plan.patient for plan in adults if plan.patient is not pregnant and plan.index % 3 != 2)
    others = [plan.patient for plan in adults if plan.patient is not pregnant and plan.patient is not on_antibiotics]
    return _Cast(pregnant, on_antibiotics, no_intake=others[-1], no_consent=others[-2])


def _may_be_pregnant(patient: Patient, today: date) -> bool:
    return patient.first_name in FEMALE_NAMES and patient.age_on(today) <= 42


# ---- intakes and referrals -----------------------------------------------------------------------------


def _screening_intakes(patient: Patient, cast: _Cast, today: date) -> list[IntakeInput]:
    """The later intakes that make the screening refuse: a pregnancy, a course of antibiotics."""
    if patient is cast.pregnant:
        return [IntakeInput(
            intake_date=today - timedelta(days=50), consent_given=True, consent_by=patient.full_name,
            consent_on=today - timedelta(days=50),
            contraindications=(ContraindicationEntry(Contraindication.PREGNANCY_BREASTFEEDING),),
            notes="Pregnant (12 weeks): treatment paused until after breastfeeding.",
        )]
    if patient is cast.on_antibiotics:
        return [IntakeInput(
            intake_date=today - timedelta(days=3), consent_given=True, consent_by=patient.full_name,
            consent_on=today - timedelta(days=3),
            medications=(MedicationUse(Medication.ANTIBIOTICS, today - timedelta(days=5)),),
            notes="Antibioticakuur voor een keelontsteking, 5 dagen geleden gestopt.",
        )]
    return []


def _record_intakes(patient: Patient, first_day: date, cast: _Cast, today: date, rng: random.Random,
                    report: SeedReport) -> date:
    """The intake before the first session (with consent, but for one patient), then any later ones; returns
    the first intake's day."""
    intake_day = first_day - timedelta(days=rng.randint(7, 21))
    consent = patient is not cast.no_consent
    first = IntakeInput(
        intake_date=intake_day, consent_given=consent, consent_by=patient.full_name if consent else "",
        consent_on=intake_day if consent else None,
        notes="" if consent else "Wil eerst over de risico's nadenken; toestemming volgt.",
    )
    for data in [first, *_screening_intakes(patient, cast, today)]:
        create_intake(patient, data)
        report.intakes += 1
    return intake_day


def _record_referral(plan: _Plan, intake_day: date, rng: random.Random, report: SeedReport) -> None:
    """A GP's or dermatologist's referral before the intake, for the complaints that take one (not always)."""
    indication, referrer = PROFILES[plan.profile][0], PROFILES[plan.profile][5]
    if referrer is None or (plan.index % 4 == 1 and plan.profile != "acne_scars"):
        return
    name, agb = rng.choice(DERMATOLOGISTS if referrer == "dermatologist" else GPS)
    referral_day = intake_day - timedelta(days=rng.randint(3, 30))
    create_referral(plan.patient, ReferralInput(
        referrer_type=ReferrerType(referrer), referrer_name=name, referrer_agb=agb, referral_date=referral_day,
        diagnosis=DIAGNOSES.get(indication, ""),
    ))
    report.referrals += 1


def _plan_sessions(plan: _Plan, cast: _Cast, today: date, rng: random.Random, report: SeedReport) -> list[_Session]:
    """The patient's series of sessions (plus one the screening will refuse, for two of them); records the
    intakes and referral that come before."""
    series = _series(plan.patient, plan.profile, today, rng, plan.start_days)
    first_day = series[0].day if series else today - timedelta(days=30)
    if plan.patient is cast.pregnant:
        # Pregnant since the summer: treatments after the new intake are refused.
        series.append(_Session(plan.patient, today - timedelta(days=20), plan.profile, series[0].area, 0, 0))
    if plan.patient is cast.on_antibiotics:
        series.append(_Session(plan.patient, today, plan.profile, series[0].area, 0, 0))
    if plan.patient is not cast.no_intake:
        intake_day = _record_intakes(plan.patient, first_day, cast, today, rng, report)
        _record_referral(plan, intake_day, rng, report)
    return series


# ---- treatments ----------------------------------------------------------------------------------------


def _price(session: _Session, item: CatalogueItem, rng: random.Random) -> tuple[int, str]:
    """The catalogue price, or half the time 10 % off the last session of a series of four or more."""
    if session.session == session.series and session.series >= 4 and rng.random() < 0.5:
        return item.price_cents * 9 // 10, "Series discount, last session"
    return item.price_cents, ""


def _session_number(session: _Session, indication: str) -> int:
    if session.session:
        return session.session
    return max((t.session_number for t in db.session.scalars(select(Treatment).where(
        Treatment.patient_id == session.patient.id, Treatment.indication == indication))), default=0) + 1


def _referral_on(patient: Patient, day: date) -> Referral | None:
    return next((r for r in patient.referrals if r.referral_date <= day <= r.valid_until), None)


def _with_laser_settings(data: TreatmentInput, technique: str | None, rng: random.Random) -> TreatmentInput:
    """The device settings written in the record of a laser or IPL session (and the skin type they fit)."""
    settings = LASER_SETTINGS.get(technique or "")
    if not settings:
        return data
    device, wavelength, fluence, pulse_width, spot_size, passes = settings
    return replace(data, device=device, wavelength_nm=wavelength, fluence_j_cm2=Decimal(fluence),
                   pulse_width_ms=Decimal(pulse_width) if pulse_width else None, spot_size_mm=Decimal(spot_size),
                   passes=passes, fitzpatrick=rng.choice([2, 2, 3, 3, 4]))


def _record_session(session: _Session, items: dict[str, CatalogueItem], therapists: list[Therapist],
                    rng: random.Random, report: SeedReport) -> None:
    indication, code = PROFILES[session.profile][:2]
    item, patient = items[code], session.patient
    referral = _referral_on(patient, session.day)
    price_cents, reason = _price(session, item, rng)
    number = _session_number(session, indication)
    data = TreatmentInput(
        therapist_id=rng.choices(therapists, weights=[5, 3, 2][:len(therapists)])[0].id,
        treatment_date=session.day, catalogue_item_id=item.id, indication=indication, body_area=session.area,
        price_cents=price_cents, price_change_reason=reason, session_number=number,
        series_total=max(session.series, number) if session.series else None,
        referral_id=referral.id if referral else None,
    )
    data = _with_laser_settings(data, item.technique, rng)
    screening = screening_for(patient, session.day, BodyArea(session.area), item.technique)
    try:
        record_treatment(patient, data, screening)
    except TreatmentBlocked as blocked:
        report.blocked.append(f"{patient.full_name}, {nl_date(session.day)}: {blocked}")
        return
    report.treatments += 1


def patient_histories(today: date, rng: random.Random, added: list[Added], items: dict[str, CatalogueItem],
                      report: SeedReport) -> None:
    """Intakes, referrals and treatments of the patients added now (see the module docstring)."""
    if not added:
        return
    therapists = list(db.session.scalars(select(Therapist).order_by(Therapist.agb_code)))
    plans = [_Plan(a.index, a.patient, a.profile or _profile_for(a.index, a.patient, today, rng), a.start_days)
             for a in added]
    cast = _cast(plans, today)
    sessions = [session for plan in plans for session in _plan_sessions(plan, cast, today, rng, report)]
    db.session.flush()
    sessions.sort(key=lambda s: (s.day, s.patient.id, s.session))
    for session in sessions:
        _record_session(session, items, therapists, rng, report)
    for plan in plans:
        if plan.patient.age_on(today) < 18:
            _ask_for_a_laser_treatment(plan.patient, items, today, report)


def _ask_for_a_laser_treatment(patient: Patient, items: dict[str, CatalogueItem], today: date,
                               report: SeedReport) -> None:
    """The minor may have lymph drainage (no minimum age) but asks for a fractional laser treatment today, which
    the screening refuses below its minimum age of 18: listed, not recorded (and no random draws, so the rest of
    the demo stays as it was)."""
    screening = screening_for(patient, today, BodyArea.FACE, items["FRAC-SCAR-F"].technique)
    if not screening.allowed:
        report.blocked.append(f"{patient.full_name}, {nl_date(today)}: {TreatmentBlocked(screening)}")
