"""The patient timeline page: a thin view over services.timeline_page."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from .. import audit
from ..domain.roles import Permission
from ..domain.timeline import visible_kinds
from ..extensions import db
from ..models import Patient
from ..security import can, permission_required
from . import services
from .forms import TimelineFilterForm

bp = Blueprint("timeline", __name__, url_prefix="/patients")


@bp.route("/<int:patient_id>/timeline")
@permission_required(Permission.PATIENTS_READ)
def patient_timeline(patient_id: int):
    """Everything in one patient's record, newest first. The care relationship (backoffice/care/access.py) is
    checked before this runs, as for every route with a patient_id."""
    patient = db.get_or_404(Patient, patient_id)
    form = TimelineFilterForm(formdata=request.args)
    kinds = visible_kinds(can)
    form.offer(kinds, services.treatment_choices(patient.id, can))
    if request.args:
        form.validate()
    filters = form.filters()
    form.kind.data = [kind.value for kind in filters.kinds]  # the boxes say what is shown (all when none is ticked)
    page = services.timeline_page(patient.id, filters, current_app.config["PAGE_SIZE"], can,
                                  after=request.args.get("after"), before=request.args.get("before"))
    audit.record("view", patient, "timeline", filters.describe(kinds))
    args = {name: request.args.getlist(name) for name in request.args if name not in ("after", "before")}
    return render_template("timeline/patient.html", patient=patient, form=form, page=page, args=args,
                           filtered=bool(args)), 422 if form.errors else 200
