"""Intake screening: may this patient be treated on this date, and if not, exactly why?

The contraindications are the clinic's own list (shared/seed/clinic-fractional-laser-page.txt).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, timedelta

from .dutch import nl_date as nl  # the one Dutch date format (24-11-2026)
from .indications import BODY_AREA_LABELS, BodyArea
from .referrals import add_months
from .texts import N_, Words, label, lowered, msg

MEDICATION_WAIT_DAYS = 14
MINIMUM_AGE = 18
CANCER_TREATMENT_WAIT_YEARS = 5
DEFAULT_INTAKE_VALIDITY_MONTHS = 12


class Contraindication(enum.StrEnum):
    PREGNANCY_BREASTFEEDING = "pregnancy_breastfeeding"
    EPILEPSY = "epilepsy"
    ACTIVE_INFECTION = "active_infection"          # in the area: herpes simplex / cold sore
    FEVER = "fever"
    PACEMAKER = "pacemaker"
    ECZEMA_PSORIASIS = "eczema_psoriasis"
    SCLERODERMA = "scleroderma"
    KELOID_TENDENCY = "keloid_tendency"
    RAISED_LESIONS = "raised_lesions"              # in the area: birthmarks
    TATTOOS = "tattoos"                            # in the area
    SUNBURN_TAN = "sunburn_tan"
    RECENT_PEEL_DERMAPEN = "recent_peel_dermapen"  # in the area
    CANCER_TREATMENT = "cancer_treatment"          # skin cancer, radiotherapy or chemotherapy in the past 5 years


# Contraindications that only block a treatment of the area they are in.
AREA_BOUND: frozenset[Contraindication] = frozenset({
    Contraindication.ACTIVE_INFECTION, Contraindication.RAISED_LESIONS, Contraindication.TATTOOS,
    Contraindication.RECENT_PEEL_DERMAPEN,
})

CONTRAINDICATION_LABELS: dict[Contraindication, str] = {
    Contraindication.PREGNANCY_BREASTFEEDING: N_("Pregnancy or breastfeeding"),
    Contraindication.EPILEPSY: N_("Epilepsy"),
    Contraindication.ACTIVE_INFECTION: N_("Active infection (herpes simplex / cold sore) in the area"),
    Contraindication.FEVER: N_("Fever"),
    Contraindication.PACEMAKER: N_("Pacemaker"),
    Contraindication.ECZEMA_PSORIASIS: N_("Eczema or psoriasis"),
    Contraindication.SCLERODERMA: N_("Scleroderma"),
    Contraindication.KELOID_TENDENCY: N_("Tendency to keloid scarring"),
    Contraindication.RAISED_LESIONS: N_("Raised lesions (birthmarks) in the area"),
    Contraindication.TATTOOS: N_("Tattoos in the area"),
    Contraindication.SUNBURN_TAN: N_("Sunburned or tanned skin"),
    Contraindication.RECENT_PEEL_DERMAPEN: N_("Recent chemical peel or dermapen in the area"),
    Contraindication.CANCER_TREATMENT: N_("Skin cancer, radiotherapy or chemotherapy in the past five years"),
}


class Medication(enum.StrEnum):
    ANTIBIOTICS = "antibiotics"
    PREDNISONE = "prednisone"
    PENICILLIN = "penicillin"
    ISOTRETINOIN = "isotretinoin"        # isotretinoin / roaccutane / vitamin A cream
    ST_JOHNS_WORT = "st_johns_wort"


MEDICATION_LABELS: dict[Medication, str] = {
    Medication.ANTIBIOTICS: N_("Antibiotics"),
    Medication.PREDNISONE: N_("Prednisone"),
    Medication.PENICILLIN: N_("Penicillin"),
    Medication.ISOTRETINOIN: N_("Isotretinoin / Roaccutane / vitamin A cream"),
    Medication.ST_JOHNS_WORT: N_("St John's wort"),
}


@dataclass(frozen=True)
class ContraindicationEntry:
    kind: Contraindication
    # For AREA_BOUND kinds: the areas it is in; empty means "not specified", which blocks every area.
    areas: frozenset[BodyArea] = frozenset()
    # For CANCER_TREATMENT: when the last treatment ended (None: unknown or ongoing, which blocks).
    ended_on: date | None = None


@dataclass(frozen=True)
class MedicationUse:
    medication: Medication
    stopped_on: date | None = None   # None: still taking it


@dataclass(frozen=True)
class Intake:
    intake_date: date
    contraindications: tuple[ContraindicationEntry, ...] = ()
    medications: tuple[MedicationUse, ...] = ()
    consent_given: bool = False
    consent_by: str = ""             # the patient, or the legal representative's name
    consent_on: date | None = None


@dataclass(frozen=True)
class Finding:
    code: str              # stable key, e.g. "under_18", "contraindication:epilepsy", "medication:antibiotics"
    message: Words         # what the therapist reads (a Text, in their language), naming dates where a wait applies
    blocking: bool
    until: date | None = None   # first date on which this finding no longer applies, when known


@dataclass(frozen=True)
class Screening:
    day: date
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    @property
    def blocking(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.blocking)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if not f.blocking)

    @property
    def allowed(self) -> bool:
        return not self.blocking


def screen(
    date_of_birth: date,
    intakes: tuple[Intake, ...] | list[Intake],
    day: date,
    area: BodyArea,
    validity_months: int = DEFAULT_INTAKE_VALIDITY_MONTHS,
) -> Screening:
    """Screen a treatment of `area` on `day` against the latest intake dated on or before `day`.

    Finding codes (stable): "no_intake", "under_18", "no_consent", "contraindication:<kind>",
    "medication:<medication>" (blocking) and "intake_outdated" (a warning).
    """
    findings: list[Finding] = []
    adult_on = anniversary(date_of_birth, MINIMUM_AGE)
    intake = latest_intake(intakes, day)
    if intake is None:
        findings.append(Finding("no_intake", msg("No intake recorded before %(date)s.", date=nl(day)), blocking=True))
    if day < adult_on:
        findings.append(Finding(
            "under_18",
            msg("The patient is under %(age)s on %(date)s: no treatment before the %(age)sth birthday on "
                "%(birthday)s.", age=MINIMUM_AGE, date=nl(day), birthday=nl(adult_on)),
            blocking=True, until=adult_on,
        ))
    if intake is None:
        return Screening(day=day, findings=tuple(findings))

    if not intake.consent_given:
        findings.append(Finding(
            "no_consent", msg("No informed consent recorded on the intake of %(date)s.", date=nl(intake.intake_date)),
            blocking=True,
        ))
    findings.extend(_contraindication_findings(intake, day, area))
    findings.extend(_medication_findings(intake, day))
    if day > add_months(intake.intake_date, validity_months):
        findings.append(Finding(
            "intake_outdated",
            msg("Intake of %(date)s is older than %(months)s months: repeat the intake.",
                date=nl(intake.intake_date), months=validity_months),
            blocking=False,
        ))
    return Screening(day=day, findings=tuple(findings))


def anniversary(day: date, years: int) -> date:
    """The same date `years` later; 29 February falls on 1 March in a year without one (birthday math)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February into a common year
        return date(day.year + years, 3, 1)


def age_on(date_of_birth: date, day: date) -> int:
    """Completed years on `day` (a 29 February birthday counts from 1 March in common years)."""
    years = day.year - date_of_birth.year
    return years if day >= anniversary(date_of_birth, years) else years - 1


def latest_intake(intakes: tuple[Intake, ...] | list[Intake], day: date) -> Intake | None:
    """The intake dated latest on or before `day` (of two on the same date, the one listed last)."""
    candidates = [(intake.intake_date, index, intake) for index, intake in enumerate(intakes)
                  if intake.intake_date <= day]
    return max(candidates, key=lambda c: (c[0], c[1]))[2] if candidates else None


def _contraindication_findings(intake: Intake, day: date, area: BodyArea) -> list[Finding]:
    """One finding per contraindication kind, in the order of the Contraindication enum."""
    by_kind: dict[Contraindication, list[ContraindicationEntry]] = {}
    for entry in intake.contraindications:
        by_kind.setdefault(entry.kind, []).append(entry)
    findings = []
    for kind in Contraindication:
        entries = by_kind.get(kind)
        if not entries:
            continue
        name = label(CONTRAINDICATION_LABELS[kind])
        code = f"contraindication:{kind.value}"
        if kind in AREA_BOUND:
            hits = [e for e in entries if not e.areas or area in e.areas]
            if not hits:
                continue
            findings.append(Finding(code, msg("%(contraindication)s (%(area)s): no treatment of this area.",
                                              contraindication=name, area=lowered(BODY_AREA_LABELS[area])),
                                    blocking=True))
        elif kind is Contraindication.CANCER_TREATMENT:
            if any(e.ended_on is None for e in entries):
                findings.append(Finding(
                    code, msg("%(contraindication)s: the end date of the last treatment is unknown or it is ongoing.",
                              contraindication=name), blocking=True,
                ))
                continue
            ended_on = max(e.ended_on for e in entries if e.ended_on is not None)
            until = anniversary(ended_on, CANCER_TREATMENT_WAIT_YEARS)
            if day < until:
                findings.append(Finding(
                    code,
                    msg("%(contraindication)s: last treatment ended on %(ended)s: no treatment until %(until)s "
                        "(%(years)s years).", contraindication=name, ended=nl(ended_on), until=nl(until),
                        years=CANCER_TREATMENT_WAIT_YEARS),
                    blocking=True, until=until,
                ))
        else:
            findings.append(Finding(code, msg("%(contraindication)s.", contraindication=name), blocking=True))
    return findings


def _medication_findings(intake: Intake, day: date) -> list[Finding]:
    """One finding per medication, in the order of the Medication enum."""
    by_medication: dict[Medication, list[MedicationUse]] = {}
    for use in intake.medications:
        by_medication.setdefault(use.medication, []).append(use)
    findings = []
    for medication in Medication:
        uses = by_medication.get(medication)
        if not uses:
            continue
        name = label(MEDICATION_LABELS[medication])
        code = f"medication:{medication.value}"
        if any(u.stopped_on is None for u in uses):
            findings.append(Finding(
                code,
                msg("%(medication)s still being taken: no treatment until %(days)s days after stopping.",
                    medication=name, days=MEDICATION_WAIT_DAYS),
                blocking=True,
            ))
            continue
        stopped_on = max(u.stopped_on for u in uses if u.stopped_on is not None)
        until = stopped_on + timedelta(days=MEDICATION_WAIT_DAYS)
        if day < until:
            findings.append(Finding(
                code,
                msg("%(medication)s stopped on %(stopped)s: no treatment until %(until)s (%(days)s days).",
                    medication=name, stopped=nl(stopped_on), until=nl(until), days=MEDICATION_WAIT_DAYS),
                blocking=True, until=until,
            ))
    return findings
