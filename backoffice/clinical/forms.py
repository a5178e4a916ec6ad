"""The admin's forms for techniques, indications and contraindications (choices of techniques set by the view)."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, SelectMultipleField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from ..domain.intake import RuleKind, WaitUnit
from ..formtools import strip
from ..labels import choices

CODE_PATTERN = r"^[a-z][a-z0-9_]*$"
CODE_MESSAGE = _l("Use lower-case letters, digits and _ only, starting with a letter (e.g. keloid_scar).")


def _lower(value):
    return value.lower() if isinstance(value, str) else value


def _code(max_length: int) -> StringField:
    return StringField(_l("Code"), filters=[strip, _lower], validators=[
        DataRequired(message=_l("Enter a code.")), Length(max=max_length, message=_l("Too long.")),
        Regexp(CODE_PATTERN, message=CODE_MESSAGE)],
        description=_l("Stored with each treatment or intake; it cannot change once the entry is saved."))


def _label() -> StringField:
    return StringField(_l("Name"), filters=[strip], validators=[
        DataRequired(message=_l("Enter a name.")), Length(max=200, message=_l("At most 200 characters."))])


def _int_list(values):
    return [int(v) for v in values or () if str(v).isdigit()]


class TechniqueForm(FlaskForm):
    code = _code(30)
    label = _label()
    minimum_age = IntegerField(_l("Minimum age"), validators=[
        Optional(), NumberRange(min=0, max=120, message=_l("Enter an age from 0 to 120."))],
        description=_l("Patients younger than this are not treated with this technique. Empty: no minimum age."))
    active = BooleanField(_l("Active (offered in the catalogue)"), default=True)
    submit = SubmitField(_l("Save"))


class IndicationForm(FlaskForm):
    code = _code(30)
    label = _label()
    category = SelectField(_l("Category"), choices=choices("category"),
                           description=_l("Insurers write their rules per category; every category but "
                                          "\"Cosmetic\" is medical (VAT-exempt, possibly reimbursable)."))
    technique_ids = SelectMultipleField(_l("Techniques"), coerce=int, choices=[],
                                        description=_l("The techniques that treat it: the treatment form offers "
                                                       "it for catalogue items with one of these."))
    active = BooleanField(_l("Active (offered in the treatment form)"), default=True)
    submit = SubmitField(_l("Save"))


class ContraindicationForm(FlaskForm):
    code = _code(40)
    label = _label()
    medication = BooleanField(_l("A medication (recorded with its stop date)"))
    area_bound = BooleanField(_l("Blocks only a treatment of the area it is in"))
    rule = SelectField(_l("Rule"), choices=choices("rule_kind"))
    wait_amount = IntegerField(_l("Wait"), validators=[
        Optional(), NumberRange(min=1, max=1000, message=_l("Enter a number from 1 to 1000."))],
        description=_l("For \"blocks until a wait after it ended\": e.g. 2 weeks after stopping the medication."))
    wait_unit = SelectField(_l("Unit"), choices=[("", "—"), *choices("wait_unit")])
    technique_ids = SelectMultipleField(_l("Applies to the techniques"), coerce=int, choices=[],
                                        description=_l("Screened at intake only for treatments with these "
                                                       "techniques."))
    active = BooleanField(_l("Active (screened and on the intake form)"), default=True)
    submit = SubmitField(_l("Save"))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.rule.data != RuleKind.WAIT_AFTER_END:
            return valid
        # (Optional() ends the wait's own validation when it is empty: a wait rule asks for it here.)
        if self.wait_amount.data is None and not self.wait_amount.errors:
            self.wait_amount.errors = [*self.wait_amount.errors, _("Enter the wait.")]
            valid = False
        if self.wait_unit.data not in set(WaitUnit):
            self.wait_unit.errors = [*self.wait_unit.errors, _("Choose the unit of the wait.")]
            valid = False
        return valid

    def wait(self) -> tuple[int | None, WaitUnit | None]:
        if self.rule.data != RuleKind.WAIT_AFTER_END:
            return None, None
        return self.wait_amount.data, WaitUnit(self.wait_unit.data)
