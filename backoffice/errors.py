"""One set of error handlers: service refusals, HTTP errors and the friendly 500 page.

A `ServiceError` that a view does not catch is rolled back by the unit of work and answered here: a form post goes
back where it came from with the message flashed; anything else gets a 4xx page with the message. An unexpected
error gets a page with an error id that is also in the log, never a stack trace.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Flask, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from . import request_ids, unit_of_work

log = logging.getLogger("backoffice.errors")

MESSAGES = {
    400: _l("The request could not be understood."),
    401: _l("Please sign in first."),
    403: _l("Your role does not allow this page."),
    404: _l("There is nothing at this address."),
    405: _l("This page cannot be used that way."),
    409: _l("This cannot be done in the record's current state."),
    413: _l("The uploaded file is too large."),
    422: _l("The request could not be processed."),
}
# The page titles, in words people use (Werkzeug's names are English: "Not Found").
TITLES = {
    400: _l("Bad request"),
    401: _l("Not signed in"),
    403: _l("Not allowed"),
    404: _l("Not found"),
    405: _l("Not possible this way"),
    409: _l("Not possible now"),
    413: _l("File too large"),
    422: _l("Not possible"),
    429: _l("Too many attempts"),
    500: _l("Error"),
}


class ServiceError(Exception):
    """A use case refused: the message is written for the user. Services raise it (or a subclass); it never
    becomes a 500. `status` is the HTTP status of the page shown when no form can take the message."""

    status = 409


def _render(error: HTTPException) -> ResponseReturnValue:
    unit_of_work.rollback()
    code = error.code or 500
    message = MESSAGES.get(code, error.description)
    return render_template("errors/error.html", code=code, title=TITLES.get(code, error.name),
                           message=message), code


def _csrf(error: CSRFError) -> ResponseReturnValue:
    unit_of_work.rollback()
    message = _("The form had expired or did not come from this site. Please reload the page and try again.")
    return render_template("errors/error.html", code=400, title=_("Form expired"), message=message), 400


def safe_back() -> str:
    """Where a refused form post returns to: the page it came from when that is on this site, else the start."""
    referrer = request.referrer or ""
    parts = urlsplit(referrer)
    if referrer and parts.netloc == request.host and parts.scheme in ("http", "https") \
            and not any(c in referrer for c in "\r\n\\"):
        return referrer
    return url_for("main.index")


def _service_error(error: ServiceError) -> ResponseReturnValue:
    unit_of_work.rollback()
    if request.method == "POST":
        flash(str(error), "danger")
        return redirect(safe_back())
    return render_template("errors/error.html", code=error.status, title=_("Not possible"), message=str(error)), \
        error.status


def _internal_error(error: InternalServerError) -> ResponseReturnValue:
    unit_of_work.rollback()
    # The request id is the reference: the same id is in every log line of this request and in the access log.
    error_id = request_ids.current()
    original = error.original_exception or error
    log.error("error %s on %s %s", error_id, request.method, request.path, exc_info=original)
    message = _("Something went wrong on our side. Nothing was saved. Give the administrator reference "
                "%(reference)s.", reference=error_id)
    return render_template("errors/error.html", code=500, title=_("Error"), message=message, error_id=error_id), 500


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, _csrf)
    app.register_error_handler(ServiceError, _service_error)
    app.register_error_handler(InternalServerError, _internal_error)
    for code in MESSAGES:
        app.register_error_handler(code, _render)
