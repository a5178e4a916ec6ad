from __future__ import annotations

from flask import Blueprint, current_app, render_template
from sqlalchemy import func, select

from ..clock import clinic_today
from ..domain.credentials import Badge
from ..domain.roles import Permission
from ..extensions import db
from ..models import Insurer, Patient, Therapist
from ..security import can, permission_required

bp = Blueprint("main", __name__)


@bp.route("/")
@permission_required(Permission.SIGNED_IN)
def index():
    counts = {
        "patients": db.session.scalar(select(func.count(Patient.id))),
        "therapists": db.session.scalar(select(func.count(Therapist.id)).where(Therapist.active)),
        "insurers": db.session.scalar(select(func.count(Insurer.id)).where(Insurer.active)),
    }
    attention = []
    if can(Permission.THERAPISTS_READ):
        warn_days = current_app.config["CREDENTIAL_WARNING_DAYS"]
        for therapist in db.session.scalars(select(Therapist).where(Therapist.active).order_by(Therapist.name)):
            status = therapist.badge(clinic_today(), warn_days)
            if status.badge is not Badge.VALID:
                attention.append((therapist, status))
    return render_template("main/index.html", counts=counts, attention=attention)
