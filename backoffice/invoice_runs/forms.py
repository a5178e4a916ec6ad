"""The bulk invoicing form: everything not yet invoiced up to a day, or the ticked treatments; and whether to
e-mail the invoices afterwards. Texts are English message ids, translated lazily."""

from __future__ import annotations

import re
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, Field, SubmitField
from wtforms.validators import Optional

from ..fields import DutchDateField
from ..paging import INTEGER_LIMIT

_ID = re.compile(r"[0-9]{1,10}", re.ASCII)
MAX_TICKED = 2000  # more than any page shows; beyond it the post was not made by the page


class TreatmentIds(Field):
    """The ticked treatment checkboxes (drawn by the template, one per treatment): ids, ASCII digits only and
    within an INTEGER (a larger one would be a 500 on PostgreSQL). Whether each may still be invoiced is for the
    run to say, per treatment, with the reason."""

    data: Any

    def process_formdata(self, valuelist: list[Any]) -> None:
        if len(valuelist) > MAX_TICKED:
            self.data = []
            raise ValueError(_("Tick at most %(count)s treatments at a time.", count=MAX_TICKED))
        ids = []
        for value in valuelist:
            text = str(value)
            if not _ID.fullmatch(text) or int(text) > INTEGER_LIMIT:
                self.data = []
                raise ValueError(_("The list of treatments was changed; reload the page and tick them again."))
            ids.append(int(text))
        self.data = sorted(set(ids))

    def _value(self) -> str:
        return ""


class BulkInvoiceForm(FlaskForm):
    up_to = DutchDateField(_l("Not yet invoiced up to"), validators=[Optional()],
                           description=_l("Every treatment up to and including this day that is on no invoice yet."))
    treatment_ids = TreatmentIds(_l("Treatments"), default=list)
    send_email = BooleanField(_l("Send the invoices by e-mail afterwards"))
    everything = SubmitField(_l("Invoice everything up to this date"))
    ticked = SubmitField(_l("Invoice the ticked treatments"))
