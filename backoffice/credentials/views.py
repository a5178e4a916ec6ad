from __future__ import annotations

from flask import Blueprint, render_template

from .. import audit
from ..domain.roles import Permission
from ..security import permission_required
from . import services

bp = Blueprint("credentials", __name__, url_prefix="/credentials")


@bp.route("/")
@permission_required(Permission.THERAPISTS_READ)
def overview():
    report = services.credential_report()
    if report.unclaimable:
        # The list names patients: each one shown is a view of that patient's treatment.
        for item in report.unclaimable:
            audit.record("view", item.patient_id, f"treatment {item.treatment_id}", "credentials page: unclaimable")
    return render_template("credentials/overview.html", report=report)
