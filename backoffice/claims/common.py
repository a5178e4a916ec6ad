"""What the claim use cases share: the refusal they raise, periods, claim line bulk updates and batch states.

The use cases are split by what the desk does: settings.py (insurers and their claim settings), batches.py (build,
submit, cancel, resubmit, read), validation.py (gather the facts, apply the rules), export.py (freeze and write the
workbook), outcomes.py (what the insurer paid, and the statistics), patient_claims.py (claims the patient sends)
and remittance.py (the insurer's reply file). Services add and flush; the unit of work commits (unit_of_work.py).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from ..clock import utc_now
from ..domain.claims import BatchStatus, Reason
from ..domain.dutch import nl_period
from ..domain.months import Month
from ..errors import ServiceError
from ..extensions import db
from ..models import ClaimBatch, ClaimLine


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
        raise ClaimError(f"Period {text!r} is not a month like 2026-10.")
    return claim_period(month)


def claim_period(month: Month) -> tuple[date, date]:
    """The first and last day of a claim batch's month; none before 2000."""
    if month.year < 2000:
        raise ClaimError(f"Period {month.iso} is not a month like 2026-10.")
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
        raise ClaimError("Another batch claimed one of these lines at the same moment. Reload and validate the "
                         "batch again.") from error
    expire_lines()


def require_status(batch: ClaimBatch, *allowed: BatchStatus) -> BatchStatus:
    status = BatchStatus(batch.status)
    if status not in allowed:
        wanted = " or ".join(s.value for s in allowed)
        raise ClaimError(f"Batch {batch.number} is {status.value}; this needs a {wanted} batch.")
    return status
