"""The one check where a patient's record is opened: a `before_request` hook that finds the patient a request is
about and, when the practice limits therapists to their own patients, answers a therapist without a care
relationship with the break-the-glass page instead of the record.

The patient is found from the route's arguments, so every route is covered without a call in each view: a
`patient_id` (in the path or the query string: /treatments/?patient_id=, /invoices/new?patient_id=) or a record
that belongs to one patient (a treatment, an invoice, a credit note). A route added later with one of these
arguments is covered at once; tests/test_care.py walks the URL map to prove it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Flask, current_app, render_template, request, session, url_for
from flask_login import current_user
from sqlalchemy import select

from ..domain.roles import PUBLIC, Role
from ..extensions import db
from ..models import CreditNote, Invoice, Treatment, User
from ..request_guards import MAX_ID, local_path
from ..security import required_permission
from . import services
from .forms import BreakGlassForm

# Session key: {patient id: the time (epoch seconds) until which break-the-glass access holds}.
GRANTS = "care_break_glass"
# The break-the-glass page itself is reached without a relationship, of course.
EXEMPT_ENDPOINTS = {"care.break_glass"}


def _patient_of(model, column) -> Callable[[int], int | None]:
    def find(record_id: int) -> int | None:
        return db.session.scalar(select(column).where(model.id == record_id))

    return find


# Route arguments naming a record of one patient, and how to find that patient.
PATIENT_OF_ARGUMENT: dict[str, Callable[[int], int | None]] = {
    "patient_id": lambda patient_id: patient_id,
    "treatment_id": _patient_of(Treatment, Treatment.patient_id),
    "invoice_id": _patient_of(Invoice, Invoice.patient_id),
    "credit_note_id": lambda note_id: db.session.scalar(
        select(Invoice.patient_id).join(CreditNote, CreditNote.invoice_id == Invoice.id)
        .where(CreditNote.id == note_id)),
}


def _requested_patient() -> int | None:
    """The patient whose data the request is about, if any (None too when the record does not exist: the view
    answers 404 then)."""
    arguments = dict(request.view_args or {})
    query_patient = request.args.get("patient_id", type=int)
    if query_patient is not None and "patient_id" not in arguments:
        arguments["patient_id"] = query_patient
    for name, find in PATIENT_OF_ARGUMENT.items():
        value = arguments.get(name)
        if isinstance(value, int) and 0 < value <= MAX_ID:
            return find(value)
    return None


def granted(patient_id: int) -> bool:
    until = (session.get(GRANTS) or {}).get(str(patient_id))
    return isinstance(until, int | float) and until > time.time()


def grant(patient_id: int) -> None:
    """Break-the-glass access to one patient for BREAK_GLASS_MINUTES, in this session only."""
    now = time.time()
    grants = {key: until for key, until in (session.get(GRANTS) or {}).items() if until > now}
    grants[str(patient_id)] = int(now + 60 * int(current_app.config["BREAK_GLASS_MINUTES"]))
    session[GRANTS] = grants


def may_open(user: User, patient_id: int) -> bool:
    return not services.limited(user) or granted(patient_id) or services.has_relationship(user, patient_id)


def refusal(patient_id: int, form: BreakGlassForm | None = None, status: int = 403):
    """The break-the-glass page in place of the record (403: the record was not shown)."""
    if form is None:
        form = BreakGlassForm()
        form.next.data = request.full_path.rstrip("?") if request.method == "GET" else \
            url_for("patients.detail", patient_id=patient_id)
    return render_template("care/break_glass.html", form=form, patient_id=patient_id,
                           minutes=current_app.config["BREAK_GLASS_MINUTES"]), 422 if form.errors else status


def safe_next(target: str | None, patient_id: int) -> str:
    return target if target and local_path(target) else url_for("patients.detail", patient_id=patient_id)


def enforce():
    """before_request: refuse a limited therapist a patient they have no care relationship with."""
    endpoint = request.endpoint
    if endpoint is None or endpoint in EXEMPT_ENDPOINTS or not current_user.is_authenticated:
        return None
    if current_user.role != Role.THERAPIST:
        return None  # admins and managers are never limited: no query
    permission = required_permission(current_app, endpoint)
    if permission in (None, PUBLIC) or not current_user.can(permission):
        return None  # security.py refuses (or lets through a public page) before any patient is looked at
    patient_id = _requested_patient()
    if patient_id is None or may_open(current_user._get_current_object(), patient_id):
        return None
    return refusal(patient_id)


def init_app(app: Flask) -> None:
    app.before_request(enforce)
