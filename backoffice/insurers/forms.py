from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
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

from ..domain.coverage import CapPeriod, PackageKind, ReferrerKind, SessionPeriod
from ..domain.credentials import KpLevel
from ..domain.indications import BodyArea, Category, Technique
from ..domain.validators import uzovi_error
from ..fields import DecimalNLField, DutchDateField, MoneyField
from ..formtools import Check, strip
from ..labels import choices
from .services import InsurerInput, PackageInput, RuleInput


class InsurerForm(FlaskForm):
    name = StringField(_l("Name"), filters=[strip],
                       validators=[DataRequired(message=_l("Enter the insurer's name.")), Length(max=200)])
    uzovi = StringField(
        _l("UZOVI code"),
        filters=[strip],
        validators=[DataRequired(message=_l("Enter the UZOVI code.")), Check(uzovi_error)],
        description=_l("4 digits, from Vektis' UZOVI register."),
        render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": 4},
    )
    claim_address = TextAreaField(_l("Claim address"), filters=[strip], render_kw={"rows": 4},
                                  description=_l("Postal address for claims and declarations."))
    claim_email = EmailField(_l("Claim e-mail"), filters=[strip],
                             validators=[Optional(), Email(message=_l("Enter a valid e-mail address."),
                                                           check_deliverability=False), Length(max=200)])
    active = BooleanField(_l("Active"), default=True)
    submit = SubmitField(_l("Save"))

    def to_input(self) -> InsurerInput:
        """The validated form as the service's input."""
        return InsurerInput(name=self.name.data or "", uzovi=self.uzovi.data or "",
                            claim_address=self.claim_address.data or "", claim_email=self.claim_email.data or "",
                            active=bool(self.active.data))


class PackageForm(FlaskForm):
    name = StringField(_l("Package name"), filters=[strip],
                       validators=[DataRequired(message=_l("Enter the package's name.")), Length(max=200)],
                       description=_l("The supplementary policy (aanvullende verzekering), e.g. Aanvullend 3."))
    kind = SelectField(_l("Kind"), default=PackageKind.SUPPLEMENTARY.value,
                       choices=[(PackageKind.SUPPLEMENTARY.value, _l("Supplementary insurance")),
                                (PackageKind.BASIC.value, _l("Basic insurance"))],
                       description=_l("Basic insurance: everyone insured with this insurer has it, so its rules "
                                      "apply to every patient of the insurer (e.g. the chronic list)."))
    description = TextAreaField(_l("Description"), filters=[strip], render_kw={"rows": 3})
    active = BooleanField(_l("Active"), default=True)
    submit = SubmitField(_l("Save"))

    def to_input(self) -> PackageInput:
        return PackageInput(name=self.name.data or "", description=self.description.data or "",
                            active=bool(self.active.data),
                            kind=PackageKind(self.kind.data or PackageKind.SUPPLEMENTARY.value))


COVERED_CATEGORIES = [c for c in Category if c is not Category.COSMETIC]


def _optional_int(value):
    return int(value) if value not in (None, "") else None


def _optional_str(value):
    return value or ""


class BlankableSelectField(SelectField):
    """A select whose stored value may be NULL: shown (and kept when not posted) as the empty choice."""

    def process_data(self, value):
        super().process_data("" if value is None else value)


class CoverageRuleForm(FlaskForm):
    package_id = SelectField(_l("Package"), coerce=_optional_int,
                             description=_l("Empty: every package of this insurer."))
    year = IntegerField(_l("Year"), validators=[
        InputRequired(message=_l("Enter the year.")),
        NumberRange(min=2000, max=2100, message=_l("Enter a year from 2000 to 2100."))])
    label = StringField(_l("Label"), filters=[strip],
                        validators=[DataRequired(message=_l("Enter the rule's label.")), Length(max=200)],
                        description=_l("As the insurer names it, e.g. Huidtherapie (acne en ontharing)."))
    categories = SelectMultipleField(
        _l("Categories"), choices=choices("category", COVERED_CATEGORIES), validate_choice=True,
        validators=[DataRequired(message=_l("Choose at least one category."))],
        description=_l("Cosmetic treatment is never covered, so it is not offered here."),
    )
    cap = MoneyField(_l("Cap (EUR)"), validators=[Optional(), NumberRange(min=0, message=_l("Enter 0 or more."))],
                     description=_l("Empty: no cap."))
    cap_period = SelectField(_l("Cap period"), choices=[(CapPeriod.YEAR.value, _l("Calendar year")),
                                                        (CapPeriod.LIFETIME.value, _l("Policy lifetime"))])
    cap_group = StringField(
        _l("Cap group"), filters=[strip], validators=[Length(max=100)],
        description=_l("Rules with the same cap group share one cap; use the same group on each year's rule to "
                       "carry a lifetime cap across years. Empty: named after the insurer and the categories."),
    )
    percentage = DecimalNLField(_l("Percentage reimbursed"), default=Decimal("100"), places=2, validators=[
        InputRequired(message=_l("Enter the percentage.")),
        NumberRange(min=1, max=100, message=_l("Enter 1 to 100."))],
        description=_l("With decimals where the insurer has them, e.g. 82,5."))
    max_per_treatment = MoneyField(_l("Maximum per treatment (EUR)"), validators=[
        Optional(), NumberRange(min=0, message=_l("Enter 0 or more."))], description=_l("Empty: no maximum."))
    max_sessions = IntegerField(_l("Maximum sessions"), validators=[
        Optional(), NumberRange(min=1, message=_l("Enter 1 or more, or leave it empty."))],
        description=_l("Per session period; empty: no maximum."))
    session_period = BlankableSelectField(_l("Session period"), default="", coerce=_optional_str, choices=[
        ("", _l("As the cap period")), (SessionPeriod.CALENDAR_YEAR.value, _l("Calendar year")),
        (SessionPeriod.POLICY_YEAR.value, _l("Policy year")), (SessionPeriod.LIFETIME.value, _l("Policy lifetime")),
        (SessionPeriod.PER_REFERRAL.value, _l("Per referral"))])
    waiting_months = IntegerField(_l("Waiting period (months)"), default=0, validators=[
        InputRequired(message=_l("Enter the number of months (0 for none).")),
        NumberRange(min=0, max=120, message=_l("Enter 0 to 120 months."))],
        description=_l("Counted from the first day of uninterrupted cover with this insurer (and package kind): a "
                       "renewal does not restart it."))
    priority = IntegerField(_l("Order"), default=0, validators=[
        Optional(), NumberRange(min=0, max=99, message=_l("Enter 0 to 99."))],
        description=_l("Rules for one treatment are tried in this order (lowest first); the first that applies "
                       "pays."))
    applies_after_rule_id = SelectField(_l("Fallback after rule"), coerce=_optional_int,
                                        description=_l("Applies only when that rule's cap or sessions are used up, "
                                                       "and pays what it left unpaid. Empty: not a fallback."))
    from_treatment_number = IntegerField(_l("From treatment number"), validators=[
        Optional(), NumberRange(min=1, max=999, message=_l("Enter 1 or more, or leave it empty."))],
        description=_l("Applies from the n-th treatment of the patient in the same category (chronic list: 21)."))
    authorisation_required = BooleanField(_l("Prior authorisation (machtiging) required"))
    min_age = IntegerField(_l("Minimum age"), validators=[
        Optional(), NumberRange(min=0, max=120, message=_l("Enter 0 to 120."))],
        description=_l("On the treatment date; empty: none."))
    max_age = IntegerField(_l("Maximum age"), validators=[
        Optional(), NumberRange(min=0, max=120, message=_l("Enter 0 to 120."))],
        description=_l("On the treatment date; empty: none."))
    referral_required = BooleanField(_l("Referral required"))
    referrer_kind = SelectField(_l("Referral by"), default=ReferrerKind.ANY.value, choices=[
        (ReferrerKind.ANY.value, _l("GP or medical specialist")), (ReferrerKind.GP.value, _l("GP (huisarts)")),
        (ReferrerKind.SPECIALIST.value, _l("Medical specialist"))])
    referral_valid_months = IntegerField(_l("Referral valid (months)"), validators=[
        Optional(), NumberRange(min=1, max=60, message=_l("Enter 1 to 60 months, or leave it empty."))],
        description=_l("As the insurer sets it, from the referral date; empty: the referral's own validity."))
    referral_indication_must_match = BooleanField(_l("The referral must name the treatment's indication"))
    kp_level_required = SelectField(_l("KP registration required"),
                                    choices=[("", _l("None")), (KpLevel.KWALITEITSREGISTER.value,
                                                                 "Kwaliteitsregister")])
    nvh_optional = BooleanField(_l("NVH membership not required (the KP registration alone suffices)"))
    body_areas = SelectMultipleField(_l("Body areas"), choices=choices("body_area"), validate_choice=True,
                                     description=_l("Empty: any body area."))
    techniques = SelectMultipleField(_l("Techniques"), choices=choices("technique", [
        t for t in Technique if t is not Technique.OTHER]), validate_choice=True,
        description=_l("Empty: any technique."))
    technique_required = BooleanField(_l("Technique must be named on the invoice"))
    notes = TextAreaField(_l("Notes"), filters=[strip], render_kw={"rows": 2})
    preview = SubmitField(_l("Preview"))
    submit = SubmitField(_l("Save"))

    def to_input(self) -> RuleInput:
        """The validated form as the service's input."""
        return RuleInput(
            year=self.year.data, label=self.label.data or "",
            categories=tuple(Category(c) for c in self.categories.data or ()),
            percentage=Decimal(self.percentage.data), package_id=self.package_id.data, cap=self.cap.data,
            cap_period=CapPeriod(self.cap_period.data or CapPeriod.YEAR), cap_group=self.cap_group.data or "",
            max_sessions=self.max_sessions.data, waiting_months=self.waiting_months.data or 0,
            referral_required=bool(self.referral_required.data),
            kp_level_required=KpLevel(self.kp_level_required.data) if self.kp_level_required.data else None,
            body_areas=tuple(BodyArea(a) for a in self.body_areas.data or ()),
            technique_required=bool(self.technique_required.data), notes=self.notes.data or "",
            priority=self.priority.data or 0, applies_after_rule_id=self.applies_after_rule_id.data,
            from_treatment_number=self.from_treatment_number.data,
            authorisation_required=bool(self.authorisation_required.data),
            max_per_treatment=self.max_per_treatment.data,
            session_period=SessionPeriod(self.session_period.data) if self.session_period.data else None,
            min_age=self.min_age.data, max_age=self.max_age.data,
            referrer_kind=ReferrerKind(self.referrer_kind.data or ReferrerKind.ANY.value),
            referral_valid_months=self.referral_valid_months.data,
            referral_indication_must_match=bool(self.referral_indication_must_match.data),
            nvh_required=not self.nvh_optional.data,
            techniques=tuple(Technique(t) for t in self.techniques.data or ()),
        )


class RuleEndForm(FlaskForm):
    """End a rule: it no longer applies to treatments after that day; treatments recorded keep their assessment."""

    ends_on = DutchDateField(_l("Last day the rule applies"), validators=[Optional()],
                             description=_l("Treatments after this day are assessed without this rule. Empty: the "
                                            "rule applies all year again."))
    submit = SubmitField(_l("Save end date"))


class RuleWithdrawForm(FlaskForm):
    """Withdraw a rule entered by mistake: no new assessment uses it; it stays visible for history."""

    reason = TextAreaField(_l("Why is the rule withdrawn?"), filters=[strip], render_kw={"rows": 2},
                           validators=[DataRequired(message=_l("Say why the rule is withdrawn.")),
                                       Length(max=500)])
    submit = SubmitField(_l("Withdraw rule"))
