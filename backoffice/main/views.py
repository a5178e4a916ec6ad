"""The home page: the day's work of the signed-in user (worklists.py), in the sections their permissions allow."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from .. import audit
from ..care import services as care
from ..clock import clinic_today, utc_now
from ..domain.roles import Permission, Role
from ..security import can, current_staff, permission_required
from . import worklists
from .manager_work import manager_work

bp = Blueprint("main", __name__)

# Whose sections come first: the user's own role's.
GROUP_ORDER = {Role.ADMIN: ("desk", "chair", "manager"), Role.THERAPIST: ("chair", "desk", "manager"),
               Role.MANAGER: ("manager", "chair", "desk")}


@bp.route("/")
@permission_required(Permission.SIGNED_IN)
def index():
    user, today = current_staff(), clinic_today()
    sections = worklists.allowed_sections(can)
    work = worklists.home_work(user, today, sections)
    if work.patient_ids:  # the page shows patients: one entry naming them, as the list pages do
        audit.record_shown("view", "home page work lists", work.patient_ids)
    manager = manager_work(today) if "manager" in sections else None
    # Admins see that records were opened without a care relationship lately (the list: care.break_glass_log).
    break_glass = care.break_glass_count(utc_now() - care.RECENT_BREAK_GLASS) \
        if can(Permission.ACCESS_LOG_READ) else 0
    attention = worklists.credential_attention(today, current_app.config["CREDENTIAL_WARNING_DAYS"]) \
        if can(Permission.THERAPISTS_READ) and manager is None else []
    return render_template("main/index.html", work=work, manager_work=manager, attention=attention,
                           break_glass=break_glass,
                           groups=GROUP_ORDER.get(Role(user.role), GROUP_ORDER[Role.ADMIN]))
