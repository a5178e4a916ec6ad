"""The timeline's filters, read from the query string (a GET form changes nothing: no CSRF token). No BSN can be
typed here: the filters are kinds, dates, a treatment and an indication."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, SubmitField, ValidationError
from wtforms.validators import Optional

from ..domain.dutch import nl_date
from ..domain.texts import translate
from ..domain.timeline import KIND_LABELS, Kind, chosen_kinds
from ..fields import DutchDateField
from ..labels import indication_label
from .services import Filters, TreatmentChoice


def _optional_int(value: Any) -> int | None:
    if value in (None, ""):
        return None
    return int(value)


class TimelineFilterForm(FlaskForm):
    class Meta:
        csrf = False

    # Unknown kinds are dropped rather than refused: a stale bookmark still shows the timeline.
    kind = SelectMultipleField(_l("Show"), choices=[], validate_choice=False)
    date_from = DutchDateField(_l("From"), validators=[Optional()])
    date_to = DutchDateField(_l("Until"), validators=[Optional()])
    treatment_id = SelectField(_l("Treatment"), coerce=_optional_int, validate_choice=False)
    indication = SelectField(_l("Indication"), validate_choice=False)
    submit = SubmitField(_l("Filter"))

    def offer(self, kinds: list[Kind], treatments: list[TreatmentChoice]) -> None:
        """The choices this reader has for this patient: the kinds they may see, the patient's treatments and
        their indications."""
        self.kind.choices = [(kind.value, translate(KIND_LABELS[kind])) for kind in kinds]
        self.treatment_id.choices = [("", _("all"))] + [
            (t.id, f"{nl_date(t.treatment_date)} {t.name}") for t in treatments]
        indications = sorted({t.indication for t in treatments}, key=indication_label)
        self.indication.choices = [("", _("all"))] + [(code, indication_label(code)) for code in indications]
        self._kinds = kinds
        self._treatments = {t.id for t in treatments}
        self._indications = set(indications)

    def validate_date_to(self, field: Any) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_("The end date lies before the start date."))

    def filters(self) -> Filters:
        """What to show; a field with an error filters nothing (its message is shown)."""
        def valid(field: Any) -> Any:
            return None if field.errors else field.data

        treatment = valid(self.treatment_id)
        indication = valid(self.indication)
        return Filters(
            kinds=tuple(chosen_kinds(self.kind.data or (), self._kinds)),
            date_from=valid(self.date_from),
            date_to=valid(self.date_to),
            treatment_id=treatment if treatment in self._treatments else None,
            indication=indication if indication in self._indications else None,
        )
