"""The intake form: one checkbox per contraindication and medication on the clinic's list, plus consent.

The fields are generated from the domain enums, so a contraindication added there appears here without a
form change. The form hands the service domain objects; the service decides how they are stored. The template
groups the checkboxes in fieldsets; a contraindication's body areas (checkboxes too) and a medication's stop date
unfold under their checkbox once it is ticked, so an intake with nothing to report is short to tab through.
"""

from __future__ import annotations

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
    Medication,
    MedicationUse,
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
        for kind in Contraindication:
            yield (self[self.kind_field(kind)],
                   self[self.areas_field(kind)] if kind in AREA_BOUND else None,
                   self[self.ended_field(kind)] if kind is Contraindication.CANCER_TREATMENT else None)

    def medication_rows(self):
        for medication in Medication:
            yield self[self.medication_field(medication)], self[self.stopped_field(medication)]

    # ---- between the form and the domain --------------------------------------------------------------
    def contraindications(self) -> list[ContraindicationEntry]:
        entries = []
        for kind in Contraindication:
            if not self[self.kind_field(kind)].data:
                continue
            areas = frozenset(BodyArea(a) for a in self[self.areas_field(kind)].data or ()) \
                if kind in AREA_BOUND else frozenset()
            ended_on = self[self.ended_field(kind)].data if kind is Contraindication.CANCER_TREATMENT else None
            entries.append(ContraindicationEntry(kind=kind, areas=areas, ended_on=ended_on))
        return entries

    def medications(self) -> list[MedicationUse]:
        return [MedicationUse(medication=m, stopped_on=self[self.stopped_field(m)].data)
                for m in Medication if self[self.medication_field(m)].data]

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
            self[self.kind_field(entry.kind)].data = True
            if entry.kind in AREA_BOUND:
                self[self.areas_field(entry.kind)].data = sorted(a.value for a in entry.areas)
            if entry.kind is Contraindication.CANCER_TREATMENT:
                self[self.ended_field(entry.kind)].data = entry.ended_on
        for use in intake.medications:
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
        for kind in Contraindication:
            ticked = self[self.kind_field(kind)].data
            if kind in AREA_BOUND and self[self.areas_field(kind)].data and not ticked:
                yield self[self.areas_field(kind)], _("Tick the contraindication or clear its areas.")
            if kind is Contraindication.CANCER_TREATMENT:
                ended = self[self.ended_field(kind)]
                if ended.data and not ticked:
                    yield ended, _("Tick the contraindication or clear this date.")
                elif ended.data and self.intake_date.data and ended.data > self.intake_date.data:
                    yield ended, _("The last treatment cannot have ended after the intake date.")

    def _medication_problems(self):
        for medication in Medication:
            stopped = self[self.stopped_field(medication)]
            if stopped.data and not self[self.medication_field(medication)].data:
                yield stopped, _("Tick the medication or clear this date.")


def _add_generated_fields() -> None:
    for kind in Contraindication:
        setattr(IntakeForm, IntakeForm.kind_field(kind), BooleanField(_l(CONTRAINDICATION_LABELS[kind])))
        if kind in AREA_BOUND:
            # Posted like the multi-select it replaces (one value per ticked area), shown as checkboxes.
            setattr(IntakeForm, IntakeForm.areas_field(kind), SelectMultipleField(
                _l("Body areas"), choices=choices("body_area"), validate_choice=True,
                description=_l("Leave empty when not specified: that blocks treatment of every area."),
            ))
        if kind is Contraindication.CANCER_TREATMENT:
            setattr(IntakeForm, IntakeForm.ended_field(kind), DutchDateField(
                _l("Last treatment ended on"), validators=[Optional()],
                description=_l("Empty: unknown or still ongoing, which blocks treatment."),
            ))
    for medication in Medication:
        setattr(IntakeForm, IntakeForm.medication_field(medication),
                BooleanField(_l(MEDICATION_LABELS[medication])))
        setattr(IntakeForm, IntakeForm.stopped_field(medication), DutchDateField(
            _l("Stopped on"), validators=[Optional()],
            description=_l("Empty: still taking it. A planned stop date may lie ahead."),
        ))


_add_generated_fields()
