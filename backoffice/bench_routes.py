"""Bare copies of the patient list and the patient page, for the load benchmark (bench/load.py) only.

They run the real pages' queries (`patients.views.list_page` and `detail_page`) and render the same templates, but
without what every real page pays on top: the user loaded from the session cookie, the session's lifetime check
and its re-signed cookie, the permission and care-relationship checks, and the access-log entry with its hash chain
and the commit that stores it. bench/load.py times both side by side; their ratio is the framework's own cost.

They show patient data without signing in, so they exist only when BENCH_BARE_ROUTES is set: config.py refuses
that setting with BACKOFFICE_ENV=production, `init_app` refuses it again, and the routes answer only requests from
the machine itself (loopback; 404 for any other address). The pages render as the user named by BENCH_BARE_USER
(an e-mail) would see them: that user is read once per process, not per request (that read is part of what the
real pages pay for signing in).
"""

from __future__ import annotations

import ipaddress

from flask import Blueprint, Flask, abort, current_app, g, render_template, request
from sqlalchemy import select

from .extensions import db
from .models import Patient, User
from .patients.views import detail_page, list_page
from .security import public

bp = Blueprint("bench_bare", __name__, url_prefix="/_bench/bare")

_USER = "bench_bare_user"


class BareRoutesRefused(RuntimeError):
    """The bare routes were asked for where they must not exist."""


@bp.before_request
def _only_from_this_machine():
    try:
        loopback = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        abort(404)


def _render_as() -> User:
    """The user the bare pages render for, read once per process and kept detached from any session (its columns
    are loaded; the pages read only those, and its role for the permission-dependent parts)."""
    cached = current_app.extensions.get(_USER)
    if cached is None:
        email = current_app.config.get("BENCH_BARE_USER", "")
        cached = db.session.scalar(select(User).where(User.email == email, User.active))
        if cached is None:
            abort(404)
        db.session.expunge(cached)
        current_app.extensions[_USER] = cached
    # What flask_login's own login_user sets for the request (g._login_user), without the session: the templates'
    # navigation and `can()` see this user, nothing is written to the cookie.
    g._login_user = cached
    return cached


@bp.route("/patients/")
@public
def patient_list():
    return render_template("patients/list.html", **list_page(request.args, _render_as()))


@bp.route("/patients/<int:patient_id>")
@public
def patient_page(patient_id: int):
    patient = db.get_or_404(Patient, patient_id)
    return render_template("patients/detail.html", **detail_page(patient, _render_as()))


def init_app(app: Flask) -> None:
    if app.config.get("BACKOFFICE_ENV") == "production":
        raise BareRoutesRefused("BENCH_BARE_ROUTES serves patient pages without signing in: never in production.")
    app.register_blueprint(bp)
