"""Intake screening: may this patient be treated on this date, and if not, exactly why?

What is screened is data: the practice keeps its techniques (with a minimum age) and contraindications (each with
its rule and the techniques it applies to) in the database; the service gathers those that apply to the technique
of the treatment into `ScreeningRules` and passes them in. The built-in set below is the clinic's own list
(shared/seed/clinic-fractional-laser-page.txt): it seeds the tables, and `screen` uses it when given no rules.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, timedelta

from .dutch import nl_date as nl  # the one Dutch date format (24-11-2026)
from .indications import BODY_AREA_LABELS, BodyArea, ExtensibleEnum, ExtensibleMap
from .referrals import add_months
from .texts import N_, Text, Words, label, lowered, msg

MEDICATION_WAIT_DAYS = 14         # the seed page: "always wait two weeks ... after stopping certain medications"
MINIMUM_AGE = 18                  # the seed page's minimum age (of the laser techniques)
CANCER_TREATMENT_WAIT_YEARS = 5
DEFAULT_INTAKE_VALIDITY_MONTHS = 12


class Contraindication(ExtensibleEnum):  # the practice adds its own (models/clinical.py)
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

CONTRAINDICATION_LABELS: dict[Contraindication, str] = ExtensibleMap("Contraindication", "label", {
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
})


class Medication(ExtensibleEnum):
    ANTIBIOTICS = "antibiotics"
    PREDNISONE = "prednisone"
    PENICILLIN = "penicillin"
    ISOTRETINOIN = "isotretinoin"        # isotretinoin / roaccutane / vitamin A cream
    ST_JOHNS_WORT = "st_johns_wort"


MEDICATION_LABELS: dict[Medication, str] = ExtensibleMap("Medication", "label", {
    Medication.ANTIBIOTICS: N_("Antibiotics"),
    Medication.PREDNISONE: N_("Prednisone"),
    Medication.PENICILLIN: N_("Penicillin"),
    Medication.ISOTRETINOIN: N_("Isotretinoin / Roaccutane / vitamin A cream"),
    Medication.ST_JOHNS_WORT: N_("St John's wort"),
})


class RuleKind(enum.StrEnum):
    """How a contraindication recorded on an intake blocks a treatment."""

    BLOCKS = "blocks"                   # as long as it is on the intake
    WAIT_AFTER_END = "wait_after_end"   # until a wait after it ended (stopped); unknown end or still going: blocks


class WaitUnit(enum.StrEnum):
    DAYS = "days"
    WEEKS = "weeks"
    MONTHS = "months"
    YEARS = "years"


RULE_KIND_LABELS: dict[RuleKind, str] = {
    RuleKind.BLOCKS: N_("Blocks treatment"),
    RuleKind.WAIT_AFTER_END: N_("Blocks until a wait after it ended"),
}

WAIT_UNIT_LABELS: dict[WaitUnit, str] = {
    WaitUnit.DAYS: N_("days"),
    WaitUnit.WEEKS: N_("weeks"),
    WaitUnit.MONTHS: N_("months"),
    WaitUnit.YEARS: N_("years"),
}

_WAIT_WORDS: dict[WaitUnit, tuple[str, str]] = {  # (one, more)
    WaitUnit.DAYS: (N_("1 day"), N_("%(count)s days")),
    WaitUnit.WEEKS: (N_("1 week"), N_("%(count)s weeks")),
    WaitUnit.MONTHS: (N_("1 month"), N_("%(count)s months")),
    WaitUnit.YEARS: (N_("1 year"), N_("%(count)s years")),
}


@dataclass(frozen=True)
class Wait:
    """A waiting period: 2 weeks, 5 years."""

    amount: int
    unit: WaitUnit

    def after(self, day: date) -> date:
        """The first day after the wait (the 29 February rules of birthdays and months apply)."""
        if self.unit is WaitUnit.DAYS:
            return day + timedelta(days=self.amount)
        if self.unit is WaitUnit.WEEKS:
            return day + timedelta(weeks=self.amount)
        if self.unit is WaitUnit.MONTHS:
            return add_months(day, self.amount)
        return anniversary(day, self.amount)

    def words(self) -> Text:
        one, more = _WAIT_WORDS[self.unit]
        return label(one) if self.amount == 1 else msg(more, count=self.amount)


@dataclass(frozen=True)
class ContraindicationRule:
    """One contraindication as the practice keeps it; `code` is what an intake records ("tattoos")."""

    code: str
    label: str                  # a message id (the built-in ones) or the practice's own words
    medication: bool = False    # recorded under the intake's medications (with a stop date) rather than conditions
    area_bound: bool = False    # blocks only a treatment of the area it is in
    kind: RuleKind = RuleKind.BLOCKS
    wait: Wait | None = None    # for WAIT_AFTER_END

    def __post_init__(self) -> None:
        if (self.kind is RuleKind.WAIT_AFTER_END) != (self.wait is not None):
            raise ValueError("a wait belongs to a wait-after-end rule, and such a rule needs one")


@dataclass(frozen=True)
class ScreeningRules:
    """What applies to the technique of a treatment: its contraindications (in list order) and minimum age."""

    contraindications: tuple[ContraindicationRule, ...] = ()
    minimum_age: int | None = None   # None: no minimum age


@dataclass(frozen=True)
class ContraindicationEntry:
    kind: Contraindication | str     # a ContraindicationRule's code
    # For an area-bound contraindication: the areas it is in; empty means "not specified", which blocks every area.
    areas: frozenset[BodyArea] = frozenset()
    # For a wait-after-end one (CANCER_TREATMENT): when it ended (None: unknown or ongoing, which blocks).
    ended_on: date | None = None


@dataclass(frozen=True)
class MedicationUse:
    medication: Medication | str     # a (medication) ContraindicationRule's code
    stopped_on: date | None = None   # None: still taking it


# The built-in set, in the order of the clinic's list: it seeds the contraindications table (with the techniques of
# indications.SCREENED_TECHNIQUES) and is what `screen` applies when it is given no rules.
BUILT_IN_CONTRAINDICATIONS: tuple[ContraindicationRule, ...] = (
    *(ContraindicationRule(kind.value, CONTRAINDICATION_LABELS[kind], area_bound=kind in AREA_BOUND)
      for kind in Contraindication if kind is not Contraindication.CANCER_TREATMENT),
    ContraindicationRule(Contraindication.CANCER_TREATMENT.value,
                         CONTRAINDICATION_LABELS[Contraindication.CANCER_TREATMENT], kind=RuleKind.WAIT_AFTER_END,
                         wait=Wait(CANCER_TREATMENT_WAIT_YEARS, WaitUnit.YEARS)),
    *(ContraindicationRule(medication.value, MEDICATION_LABELS[medication], medication=True,
                           kind=RuleKind.WAIT_AFTER_END, wait=Wait(MEDICATION_WAIT_DAYS // 7, WaitUnit.WEEKS))
      for medication in Medication),
)

BUILT_IN_RULES = ScreeningRules(contraindications=BUILT_IN_CONTRAINDICATIONS, minimum_age=MINIMUM_AGE)


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
    rules: ScreeningRules = BUILT_IN_RULES,
) -> Screening:
    """Screen a treatment of `area` on `day` against the latest intake dated on or before `day`, under the `rules`
    of the treatment's technique (its contraindications and minimum age; by default the built-in laser set).

    Finding codes (stable): "no_intake", "under_<age>" ("under_18"), "no_consent", "contraindication:<code>",
    "medication:<code>" (blocking) and "intake_outdated" (a warning). A contraindication the rules do not name is
    not screened: it does not apply to this technique.
    """
    findings: list[Finding] = []
    intake = latest_intake(intakes, day)
    if intake is None:
        findings.append(Finding("no_intake", msg("No intake recorded before %(date)s.", date=nl(day)), blocking=True))
    if rules.minimum_age is not None:
        of_age_on = anniversary(date_of_birth, rules.minimum_age)
        if day < of_age_on:
            findings.append(Finding(
                f"under_{rules.minimum_age}",
                msg("The patient is under %(age)s on %(date)s: no treatment before the %(age)sth birthday on "
                    "%(birthday)s.", age=rules.minimum_age, date=nl(day), birthday=nl(of_age_on)),
                blocking=True, until=of_age_on,
            ))
    if intake is None:
        return Screening(day=day, findings=tuple(findings))

    if not intake.consent_given:
        findings.append(Finding(
            "no_consent", msg("No informed consent recorded on the intake of %(date)s.", date=nl(intake.intake_date)),
            blocking=True,
        ))
    findings.extend(_contraindication_findings(intake, day, area, rules))
    findings.extend(_medication_findings(intake, day, rules))
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


def _contraindication_findings(intake: Intake, day: date, area: BodyArea, rules: ScreeningRules) -> list[Finding]:
    """One finding per contraindication (not a medication) the rules name, in the rules' order."""
    by_code: dict[str, list[ContraindicationEntry]] = {}
    for entry in intake.contraindications:
        by_code.setdefault(str(entry.kind), []).append(entry)
    findings = []
    for rule in rules.contraindications:
        entries = by_code.get(rule.code)
        if rule.medication or not entries:
            continue
        name = label(rule.label)
        code = f"contraindication:{rule.code}"
        if rule.area_bound:
            entries = [e for e in entries if not e.areas or area in e.areas]
            if not entries:
                continue
        if rule.wait is not None:
            if any(e.ended_on is None for e in entries):
                findings.append(Finding(
                    code, msg("%(contraindication)s: the end date of the last treatment is unknown or it is ongoing.",
                              contraindication=name), blocking=True,
                ))
                continue
            ended_on = max(e.ended_on for e in entries if e.ended_on is not None)
            until = rule.wait.after(ended_on)
            if day < until:
                findings.append(Finding(
                    code,
                    msg("%(contraindication)s: last treatment ended on %(ended)s: no treatment until %(until)s "
                        "(%(wait)s).", contraindication=name, ended=nl(ended_on), until=nl(until),
                        wait=rule.wait.words()),
                    blocking=True, until=until,
                ))
        elif rule.area_bound:
            findings.append(Finding(code, msg("%(contraindication)s (%(area)s): no treatment of this area.",
                                              contraindication=name, area=lowered(BODY_AREA_LABELS[area])),
                                    blocking=True))
        else:
            findings.append(Finding(code, msg("%(contraindication)s.", contraindication=name), blocking=True))
    return findings


def _medication_findings(intake: Intake, day: date, rules: ScreeningRules) -> list[Finding]:
    """One finding per medication the rules name, in the rules' order."""
    by_code: dict[str, list[MedicationUse]] = {}
    for use in intake.medications:
        by_code.setdefault(str(use.medication), []).append(use)
    findings = []
    for rule in rules.contraindications:
        uses = by_code.get(rule.code)
        if not rule.medication or not uses:
            continue
        name = label(rule.label)
        code = f"medication:{rule.code}"
        if rule.wait is None:
            findings.append(Finding(code, msg("%(medication)s: no treatment.", medication=name), blocking=True))
            continue
        if any(u.stopped_on is None for u in uses):
            findings.append(Finding(
                code,
                msg("%(medication)s still being taken: no treatment until %(wait)s after stopping.",
                    medication=name, wait=rule.wait.words()),
                blocking=True,
            ))
            continue
        stopped_on = max(u.stopped_on for u in uses if u.stopped_on is not None)
        until = rule.wait.after(stopped_on)
        if day < until:
            findings.append(Finding(
                code,
                msg("%(medication)s stopped on %(stopped)s: no treatment until %(until)s (%(wait)s).",
                    medication=name, stopped=nl(stopped_on), until=nl(until), wait=rule.wait.words()),
                blocking=True, until=until,
            ))
    return findings
