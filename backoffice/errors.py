from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

MESSAGES = {
    400: "The request could not be understood.",
    401: "Please sign in first.",
    403: "Your role does not allow this page.",
    404: "There is nothing at this address.",
    405: "This page cannot be used that way.",
    413: "The uploaded file is too large.",
}


def _render(error: HTTPException):
    code = error.code or 500
    message = MESSAGES.get(code, error.description)
    return render_template("errors/error.html", code=code, title=error.name, message=message), code


def _csrf(error: CSRFError):
    message = "The form had expired or did not come from this site. Please reload the page and try again."
    return render_template("errors/error.html", code=400, title="Form expired", message=message), 400


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, _csrf)
    for code in MESSAGES:
        app.register_error_handler(code, _render)
