"""What the claim use cases share: the refusal they raise, periods, claim line bulk updates and batch states.

The use cases are split by what the desk does: settings.py (insurers and their claim settings), batches.py (build,
submit, cancel, resubmit, read), validation.py (gather the facts, apply the rules), export.py (freeze and write the
workbook), outcomes.py (what the insurer paid, and the statistics), patient_claims.py (claims the patient sends)
and remittance.py (the insurer's reply file). Services add and flush; the unit of work commits (unit_of_work.py).
"""

from __future__ import annotations

from datetime import date, datetime

from flask import has_request_context
from flask_babel import LazyString, gettext
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from ..clock import utc_now
from ..domain.claim_lifecycle import BATCH_STATUS_LABELS
from ..domain.claims import BatchStatus, Reason
from ..domain.dutch import nl_period
from ..domain.months import Month
from ..errors import ServiceError
from ..extensions import db
from ..models import ClaimBatch, ClaimLine


def _l(message: str, **params: object) -> LazyString:
    """A message for people, worded when shown: during a request in the reader's language; outside one (the CLI,
    a script, a test calling a use case directly) as the English message id, so no sign-in is needed to word it."""

    def word() -> str:
        if has_request_context():
            return gettext(message, **params)
        return message % params if params else message

    return LazyString(word)


def _label(msgid: str) -> LazyString:
    """A fixed label (marked with N_ where it is defined), worded like `_l`."""
    return LazyString(lambda: gettext(msgid) if has_request_context() else msgid)


class ClaimError(ServiceError):
    """A use case cannot go ahead; the message says why, for the user."""


def user_id(user) -> int | None:
    return getattr(user, "id", None) if getattr(user, "is_authenticated", True) else None


def now() -> datetime:
    return utc_now()


def parse_period(text: str) -> tuple[date, date]:
    """"2026-10" -> (1 Oct 2026, 31 Oct 2026): domain.months.Month.parse, then claim_period."""
    month = Month.parse_or_none(text)
    if month is None:
        raise ClaimError(_l("Type the month such as oktober 2026, 10-2026 or 2026-10."))
    return claim_period(month)


def claim_period(month: Month) -> tuple[date, date]:
    """The first and last day of a claim batch's month; none before 2000."""
    if month.year < 2000:
        raise ClaimError(_l("Choose a month from 2000 on."))
    return month.first, month.last


def period_label(start: date, end: date) -> str:
    """oktober 2026; or 01-10-2026 t/m 15-11-2026 for anything but one whole month."""
    return nl_period(start, end)


def reasons_of(line: ClaimLine) -> list[Reason]:
    return [Reason(r["code"], r.get("nl", ""), r.get("en", "")) for r in line.reasons or ()]


def expire_lines() -> None:
    # Bulk UPDATEs by primary key bypass the identity map: reload any claim line already loaded.
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, ClaimLine):
            db.session.expire(obj)


def bulk_update_lines(rows: list[dict]) -> None:
    if not rows:
        return
    try:
        db.session.execute(update(ClaimLine), rows)
    except IntegrityError as error:  # the unit of work rolls back
        raise ClaimError(_l("Another batch claimed one of these lines at the same moment. Reload and validate "
                            "the batch again.")) from error
    expire_lines()


def require_status(batch: ClaimBatch, *allowed: BatchStatus) -> BatchStatus:
    status = BatchStatus(batch.status)
    if status not in allowed:
        wanted = LazyString(lambda: " / ".join(str(_label(BATCH_STATUS_LABELS[s])) for s in allowed))
        raise ClaimError(_l("Batch %(number)s is %(status)s; this needs a batch that is %(wanted)s.",
                            number=batch.number, status=_label(BATCH_STATUS_LABELS[status]), wanted=wanted))
    return status
