"""Writing the NEN 7513 access log. Every view, change, print or export of a patient's data calls `record`."""

from __future__ import annotations

from collections.abc import Iterable

from flask import has_request_context, request, session
from flask_login import current_user

from . import audit_chain  # noqa: F401 - installs the hash chain's hook: every entry is chained at its INSERT
from .extensions import db
from .models import AccessLog, Patient, User


def _acting(user: User | None) -> User | None:
    """The given user, else the signed-in one; None for system work (CLI, background jobs) and anonymous."""
    if user is None and has_request_context():
        user = current_user
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def record(action: str, patient: Patient | int | None, subject: str, detail: str = "",
           on_behalf_of: str = "", user: User | None = None) -> AccessLog:
    """Add an access log entry to the session; the request's single commit stores it with the change.

    `detail` must never hold a BSN: say which fields changed, not their values.
    """
    user = _acting(user)
    patient_id = patient.id if isinstance(patient, Patient) else patient
    entry = AccessLog(
        user_id=user.id if user else None,
        user_email=user.email if user else "(system)",
        user_role=user.role if user else "system",
        on_behalf_of=on_behalf_of or (session.get("on_behalf_of", "") if has_request_context() else ""),
        patient_id=patient_id,
        action=action,
        subject=subject,
        detail=detail,
        ip_address=(request.remote_addr or "") if has_request_context() else "",
    )
    db.session.add(entry)
    return entry


def record_shown(action: str, subject: str, patient_ids: Iterable[int], note: str = "",
                 verb: str = "shown") -> AccessLog:
    """One entry for a page that shows several patients (a list, a search's results), naming who was on it:
    "2 shown: #17 #42" (`note` goes in front, e.g. "patient search"; never the words searched for; `verb` says
    what happened to them: "exported" for a list's export). One patient shown: the entry is filed under that
    patient too, so the patient's own log lists it."""
    ids = list(dict.fromkeys(patient_ids))
    detail = f"{len(ids)} {verb}" + (": " + " ".join(f"#{i}" for i in ids) if ids else "")
    return record(action, ids[0] if len(ids) == 1 else None, subject, f"{note}, {detail}" if note else detail)
