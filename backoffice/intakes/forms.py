"""The intake form: one checkbox per contraindication and medication on the clinic's list, plus consent.

The fields are generated per request from the practice's list (`intake_form_class`: the contraindications and
medications an administrator keeps under Praktijk > Technieken en indicaties), so one added there appears here
without a release; `IntakeForm` itself asks the built-in set. The form hands the service domain objects; the
service decides how they are stored. The template groups the checkboxes in fieldsets; a contraindication's body
areas (checkboxes too) and a medication's stop date unfold under their checkbox once it is ticked, so an intake
with nothing to report is short to tab through.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectMultipleField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..clock import clinic_today
from ..domain.indications import BodyArea
from ..domain.intake import (
    AREA_BOUND,
    CONTRAINDICATION_LABELS,
    MEDICATION_LABELS,
    Contraindication,
    ContraindicationEntry,
    ContraindicationRule,
    Medication,
    MedicationUse,
    RuleKind,
)
from ..fields import DutchDateField
from ..formtools import strip
from ..labels import choices
from .services import IntakeInput

DATE_MESSAGE = _l("Enter a valid date.")


class IntakeForm(FlaskForm):
    intake_date = DutchDateField(_l("Intake date"), default=clinic_today,
                                 validators=[DataRequired(message=DATE_MESSAGE)])
    consent_given = BooleanField(_l("Informed consent given"))
    consent_by = StringField(_l("Consent given by"), filters=[strip], validators=[Length(max=200)],
                             description=_l("The patient, or the name of the legal representative."))
    consent_on = DutchDateField(_l("Consent date"), validators=[Optional()])
    notes = TextAreaField(_l("Notes"), filters=[strip], render_kw={"rows": 2})
    submit = SubmitField(_l("Save"))

    # What the form asks, in list order: the built-in set here; `intake_form_class` makes a form for the
    # practice's own list (Praktijk > Technieken en indicaties).
    conditions: tuple[Contraindication, ...] = tuple(Contraindication)
    medication_kinds: tuple[Medication, ...] = tuple(Medication)
    area_bound: frozenset[Contraindication] = AREA_BOUND
    with_end_date: frozenset[Contraindication] = frozenset({Contraindication.CANCER_TREATMENT})

    # ---- names of the generated fields -------------------------------------------------------------
    @staticmethod
    def kind_field(kind: Contraindication) -> str:
        return f"ci_{kind.value}"

    @staticmethod
    def areas_field(kind: Contraindication) -> str:
        return f"ci_{kind.value}_areas"

    @staticmethod
    def ended_field(kind: Contraindication) -> str:
        return f"ci_{kind.value}_ended_on"

    @staticmethod
    def medication_field(medication: Medication) -> str:
        return f"med_{medication.value}"

    @staticmethod
    def stopped_field(medication: Medication) -> str:
        return f"med_{medication.value}_stopped_on"

    # ---- for the template -----------------------------------------------------------------------------
    def contraindication_rows(self):
        """(checkbox, areas multi-select or None, ended-on date or None) per contraindication, in list order."""
        for kind in self.conditions:
            yield (self[self.kind_field(kind)],
                   self[self.areas_field(kind)] if kind in self.area_bound else None,
                   self[self.ended_field(kind)] if kind in self.with_end_date else None)

    def medication_rows(self):
        for medication in self.medication_kinds:
            yield self[self.medication_field(medication)], self[self.stopped_field(medication)]

    # ---- between the form and the domain --------------------------------------------------------------
    def contraindications(self) -> list[ContraindicationEntry]:
        entries = []
        for kind in self.conditions:
            if not self[self.kind_field(kind)].data:
                continue
            areas = frozenset(BodyArea(a) for a in self[self.areas_field(kind)].data or ()) \
                if kind in self.area_bound else frozenset()
            ended_on = self[self.ended_field(kind)].data if kind in self.with_end_date else None
            entries.append(ContraindicationEntry(kind=kind, areas=areas, ended_on=ended_on))
        return entries

    def medications(self) -> list[MedicationUse]:
        return [MedicationUse(medication=m, stopped_on=self[self.stopped_field(m)].data)
                for m in self.medication_kinds if self[self.medication_field(m)].data]

    def to_input(self) -> IntakeInput:
        """The validated form as the service's input."""
        return IntakeInput(
            intake_date=self.intake_date.data, contraindications=tuple(self.contraindications()),
            medications=tuple(self.medications()), consent_given=bool(self.consent_given.data),
            consent_by=self.consent_by.data or "", consent_on=self.consent_on.data, notes=self.notes.data or "",
        )

    def fill_from(self, intake) -> None:
        """Put a stored intake (its domain form) into the generated fields, for editing."""
        for entry in intake.contraindications:
            if entry.kind not in self.conditions:
                continue  # not on this form's list (a form for another list)
            self[self.kind_field(entry.kind)].data = True
            if entry.kind in self.area_bound:
                self[self.areas_field(entry.kind)].data = sorted(a.value for a in entry.areas)
            if entry.kind in self.with_end_date:
                self[self.ended_field(entry.kind)].data = entry.ended_on
        for use in intake.medications:
            if use.medication not in self.medication_kinds:
                continue
            self[self.medication_field(use.medication)].data = True
            self[self.stopped_field(use.medication)].data = use.stopped_on

    # ---- validation -------------------------------------------------------------------------------------
    def validate_intake_date(self, field):
        if field.data and field.data > clinic_today():
            raise ValidationError(_("The intake date lies in the future."))

    def validate_consent_on(self, field):
        # (An empty date stops at Optional(); validate() below asks for it when consent is ticked.)
        if field.data and field.data > clinic_today():
            raise ValidationError(_("The consent date lies in the future."))

    def validate_consent_by(self, field):
        if self.consent_given.data and not field.data:
            raise ValidationError(_("Enter who gave consent."))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.consent_given.data and not self.consent_on.data and not self.consent_on.errors:
            self.consent_on.errors.append(_("Enter the date consent was given."))
            valid = False
        # A detail entered for a box left unticked would be lost silently: say so instead.
        problems = [*self._contraindication_problems(), *self._medication_problems()]
        for field, message in problems:
            field.errors.append(message)
        return valid and not problems

    def _contraindication_problems(self):
        """(field, message) for each contraindication detail that does not fit its checkbox."""
        for kind in self.conditions:
            ticked = self[self.kind_field(kind)].data
            if kind in self.area_bound and self[self.areas_field(kind)].data and not ticked:
                yield self[self.areas_field(kind)], _("Tick the contraindication or clear its areas.")
            if kind in self.with_end_date:
                ended = self[self.ended_field(kind)]
                if ended.data and not ticked:
                    yield ended, _("Tick the contraindication or clear this date.")
                elif ended.data and self.intake_date.data and ended.data > self.intake_date.data:
                    yield ended, _("The last treatment cannot have ended after the intake date.")

    def _medication_problems(self):
        for medication in self.medication_kinds:
            stopped = self[self.stopped_field(medication)]
            if stopped.data and not self[self.medication_field(medication)].data:
                yield stopped, _("Tick the medication or clear this date.")


def _add_fields(form: type[IntakeForm]) -> None:
    for kind in form.conditions:
        setattr(form, form.kind_field(kind), BooleanField(_l(CONTRAINDICATION_LABELS[kind])))
        if kind in form.area_bound:
            # Posted like the multi-select it replaces (one value per ticked area), shown as checkboxes.
            setattr(form, form.areas_field(kind), SelectMultipleField(
                _l("Body areas"), choices=choices("body_area"), validate_choice=True,
                description=_l("Leave empty when not specified: that blocks treatment of every area."),
            ))
        if kind in form.with_end_date:
            setattr(form, form.ended_field(kind), DutchDateField(
                _l("Last treatment ended on"), validators=[Optional()],
                description=_l("Empty: unknown or still ongoing, which blocks treatment."),
            ))
    for medication in form.medication_kinds:
        setattr(form, form.medication_field(medication), BooleanField(_l(MEDICATION_LABELS[medication])))
        setattr(form, form.stopped_field(medication), DutchDateField(
            _l("Stopped on"), validators=[Optional()],
            description=_l("Empty: still taking it. A planned stop date may lie ahead."),
        ))


_add_fields(IntakeForm)


def intake_form_class(rules: Sequence[ContraindicationRule]) -> type[IntakeForm]:
    """An intake form asking the practice's own list (the active contraindications and medications, plus those an
    edited intake records): a condition that ends (a wait after it ended) asks when it ended."""
    conditions = tuple(Contraindication(rule.code) for rule in rules if not rule.medication)
    ends = frozenset(Contraindication(rule.code) for rule in rules
                     if not rule.medication and rule.kind is RuleKind.WAIT_AFTER_END)

    class PracticeIntakeForm(IntakeForm):
        pass

    PracticeIntakeForm.conditions = conditions
    PracticeIntakeForm.medication_kinds = tuple(Medication(rule.code) for rule in rules if rule.medication)
    PracticeIntakeForm.area_bound = frozenset(Contraindication(rule.code) for rule in rules
                                              if not rule.medication and rule.area_bound)
    PracticeIntakeForm.with_end_date = ends
    _add_fields(PracticeIntakeForm)
    return PracticeIntakeForm
