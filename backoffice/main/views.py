from __future__ import annotations

from flask import Blueprint, current_app, render_template
from sqlalchemy import func, select

from ..care import services as care
from ..clock import clinic_today, utc_now
from ..domain.credentials import Badge
from ..domain.roles import Permission
from ..extensions import db
from ..models import Insurer, Patient, Therapist
from ..security import can, current_staff, permission_required

bp = Blueprint("main", __name__)


@bp.route("/")
@permission_required(Permission.SIGNED_IN)
def index():
    counts = {
        # A therapist limited to their own patients (backoffice/care/) counts those.
        "patients": db.session.scalar(care.visible_patients(select(func.count(Patient.id)), current_staff())),
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
    # Admins see that records were opened without a care relationship lately (the list: care.break_glass_log).
    break_glass = care.break_glass_count(utc_now() - care.RECENT_BREAK_GLASS) \
        if can(Permission.ACCESS_LOG_READ) else 0
    return render_template("main/index.html", counts=counts, attention=attention, break_glass=break_glass)
