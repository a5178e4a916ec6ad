"""The practice's own details (name, address, KvK, VAT id, AGB, IBAN, logo) as printed on invoices."""

from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _

from ..domain.roles import Permission
from ..security import permission_required
from . import services
from .forms import PracticeForm, logo_max_bytes

bp = Blueprint("practice", __name__, url_prefix="/practice")

# An SVG can carry scripts: opened directly, it must not run any, nor load anything.
SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'"


@bp.route("/")
@permission_required(Permission.PRACTICE_READ)
def show():
    return render_template("practice/show.html", practice=services.get_practice())


@bp.route("/edit", methods=["GET", "POST"])
@permission_required(Permission.PRACTICE_WRITE)
def edit():
    practice = services.get_practice()
    form = PracticeForm(obj=practice)
    if form.validate_on_submit():
        changed = services.update_practice(_details(form), logo=getattr(form, "logo_bytes", None),
                                           remove_logo=form.remove_logo.data)
        flash(_("Practice details saved.") if changed else _("Nothing changed."), "success")
        return redirect(url_for("practice.show"))
    return render_template("practice/form.html", form=form, practice=practice,
                           logo_max_kb=logo_max_bytes() // 1024), 422 if form.errors else 200


def _details(form: PracticeForm) -> services.PracticeDetails:
    return services.PracticeDetails(**{name: form[name].data or "" for name in services.PRACTICE_FIELDS})


@bp.route("/logo")
@permission_required(Permission.PRACTICE_READ)
def logo():
    practice = services.get_practice()
    if practice is None or not practice.logo:
        abort(404)
    mimetype = practice.logo_mimetype or "application/octet-stream"
    response = make_response(practice.logo)
    response.mimetype = mimetype
    extension = {"image/png": "png", "image/jpeg": "jpg", services.SVG_MIMETYPE: "svg"}.get(mimetype, "bin")
    response.headers["Content-Disposition"] = f"inline; filename=logo.{extension}"
    if mimetype == services.SVG_MIMETYPE:
        response.headers["Content-Security-Policy"] = SVG_POLICY
    return response
