"""A patient's data export (inzage) and deleting a patient after the retention periods: admin only."""

from __future__ import annotations

import io

from flask import Blueprint, flash, redirect, render_template, send_file, url_for
from flask_babel import gettext as _

from ..domain.roles import Permission
from ..extensions import db
from ..models import Patient
from ..security import current_staff, permission_required
from . import inzage, retention
from .forms import DeletePatientForm, ExportPatientForm

bp = Blueprint("patient_records", __name__, url_prefix="/patients")



def _hold_label(kind: str, reference: str) -> str:
    if kind == "invoice":
        return _("Invoice %(number)s", number=reference)
    if kind == "credit note":
        return _("Credit note %(number)s", number=reference)
    return _("Patient record")


def _rule_label(rule: str) -> str:
    return _("7 years (tax law)") if rule == "tax" else _("20 years after the last change (WGBO)")


@bp.route("/<int:patient_id>/export", methods=["POST"])
@permission_required(Permission.PATIENT_DATA_EXPORT)
def export_patient(patient_id: int):
    """POST (with CSRF), so that a link or an image elsewhere cannot start an export that is logged in the
    administrator's name; the URL carries the patient's number only."""
    patient = db.get_or_404(Patient, patient_id)
    if not ExportPatientForm().validate_on_submit():
        flash(_("The export was not started: reload the page and try again."), "danger")
        return redirect(url_for("patients.detail", patient_id=patient.id))
    data, name = inzage.export_patient(patient, current_staff())
    response = send_file(io.BytesIO(data), mimetype="application/zip", as_attachment=True, download_name=name)
    response.headers["Cache-Control"] = "no-store"  # the patient's whole record: never in a cache
    return response


@bp.route("/<int:patient_id>/delete", methods=["GET", "POST"])
@permission_required(Permission.PATIENT_DELETE)
def delete_patient(patient_id: int):
    patient = db.get_or_404(Patient, patient_id)
    holds = retention.retention_holds(patient)
    form = DeletePatientForm()
    status = 200
    if form.validate_on_submit():
        if holds:
            retention.refuse_deletion(patient, current_staff(), holds)
            flash(_("This patient cannot be deleted: the records below must be kept until the dates shown."),
                  "danger")
            status = 409
        else:
            retention.erase_patient(patient, current_staff())
            flash(_("The patient's personal data were erased."), "success")
            return redirect(url_for("patients.detail", patient_id=patient_id))
    elif form.errors:
        status = 422
    rows = [(_hold_label(hold.kind, hold.reference), _rule_label(hold.rule), hold) for hold in holds]
    return render_template("patient_records/delete.html", patient=patient, holds=rows, form=form), status
