from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional

from ..domain.coverage import CapPeriod
from ..domain.credentials import KpLevel
from ..domain.indications import BodyArea, Category
from ..domain.validators import uzovi_error
from ..formtools import Check, strip
from ..treatments.forms import CommaDecimalField
from .services import InsurerInput, PackageInput, RuleInput


class InsurerForm(FlaskForm):
    name = StringField("Name", filters=[strip], validators=[DataRequired(), Length(max=200)])
    uzovi = StringField(
        "UZOVI code",
        filters=[strip],
        validators=[DataRequired(), Check(uzovi_error)],
        description="4 digits, from Vektis' UZOVI register.",
        render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": 4},
    )
    claim_address = TextAreaField("Claim address", filters=[strip], render_kw={"rows": 4},
                                  description="Postal address for claims and declarations.")
    claim_email = EmailField("Claim e-mail", filters=[strip],
                             validators=[Optional(), Email(check_deliverability=False), Length(max=200)])
    active = BooleanField("Active", default=True)
    submit = SubmitField("Save")

    def to_input(self) -> InsurerInput:
        """The validated form as the service's input."""
        return InsurerInput(name=self.name.data or "", uzovi=self.uzovi.data or "",
                            claim_address=self.claim_address.data or "", claim_email=self.claim_email.data or "",
                            active=bool(self.active.data))


class PackageForm(FlaskForm):
    name = StringField("Package name", filters=[strip], validators=[DataRequired(), Length(max=200)],
                       description="The supplementary policy (aanvullende verzekering), e.g. Aanvullend 3.")
    description = TextAreaField("Description", filters=[strip], render_kw={"rows": 3})
    active = BooleanField("Active", default=True)
    submit = SubmitField("Save")

    def to_input(self) -> PackageInput:
        return PackageInput(name=self.name.data or "", description=self.description.data or "",
                            active=bool(self.active.data))


CATEGORY_CHOICES = [(c.value, c.value.replace("_", " ").capitalize()) for c in Category if c is not Category.COSMETIC]
AREA_CHOICES = [(a.value, a.value.replace("_", " ").capitalize()) for a in BodyArea]


def _optional_int(value):
    return int(value) if value not in (None, "") else None


class CoverageRuleForm(FlaskForm):
    package_id = SelectField("Package", coerce=_optional_int, description="Empty: every package of this insurer.")
    year = IntegerField("Year", validators=[InputRequired(), NumberRange(min=2000, max=2100)])
    label = StringField("Label", filters=[strip], validators=[DataRequired(), Length(max=200)],
                        description="As the insurer names it, e.g. Huidtherapie (acne en ontharing).")
    categories = SelectMultipleField(
        "Categories", choices=CATEGORY_CHOICES, validate_choice=True,
        validators=[DataRequired(message="Choose at least one category.")],
        description="Cosmetic treatment is never covered, so it is not offered here.",
    )
    cap = CommaDecimalField("Cap (EUR)", places=2, validators=[Optional(), NumberRange(min=0)],
                       description="Empty: no cap.", render_kw={"inputmode": "decimal"})
    cap_period = SelectField("Cap period", choices=[(CapPeriod.YEAR.value, "Calendar year"),
                                                    (CapPeriod.LIFETIME.value, "Policy lifetime")])
    cap_group = StringField(
        "Cap group", filters=[strip], validators=[Length(max=100)],
        description="Rules with the same cap group share one cap; use the same group on each year's rule to carry "
                    "a lifetime cap across years. Empty: named after the insurer and the categories.",
    )
    percentage = IntegerField("Percentage reimbursed", default=100,
                              validators=[InputRequired(), NumberRange(min=1, max=100)])
    max_sessions = IntegerField("Maximum sessions", validators=[Optional(), NumberRange(min=1)],
                                description="Per cap period; empty: no maximum.")
    waiting_months = IntegerField("Waiting period (months)", default=0,
                                  validators=[InputRequired(), NumberRange(min=0, max=120)],
                                  description="Counted from the start of the policy.")
    referral_required = BooleanField("Referral required")
    kp_level_required = SelectField("KP registration required",
                                    choices=[("", "None"), (KpLevel.KWALITEITSREGISTER.value, "Kwaliteitsregister")])
    body_areas = SelectMultipleField("Body areas", choices=AREA_CHOICES, validate_choice=True,
                                     description="Empty: any body area.", render_kw={"size": 6})
    technique_required = BooleanField("Technique must be named on the invoice")
    notes = TextAreaField("Notes", filters=[strip], render_kw={"rows": 2})
    submit = SubmitField("Save")

    def to_input(self) -> RuleInput:
        """The validated form as the service's input."""
        return RuleInput(
            year=self.year.data, label=self.label.data or "",
            categories=tuple(Category(c) for c in self.categories.data or ()),
            percentage=self.percentage.data, package_id=self.package_id.data, cap=self.cap.data,
            cap_period=CapPeriod(self.cap_period.data or CapPeriod.YEAR), cap_group=self.cap_group.data or "",
            max_sessions=self.max_sessions.data, waiting_months=self.waiting_months.data or 0,
            referral_required=bool(self.referral_required.data),
            kp_level_required=KpLevel(self.kp_level_required.data) if self.kp_level_required.data else None,
            body_areas=tuple(BodyArea(a) for a in self.body_areas.data or ()),
            technique_required=bool(self.technique_required.data), notes=self.notes.data or "",
        )
