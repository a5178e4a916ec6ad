"""A request id for every request: in the response header, in every log line written while the request runs (the
app's and gunicorn's), in the access log and on error pages ("referentie ..."), so that a complaint, a log line and
an access-log line can be matched without anything about the patient.

The id comes from the `X-Request-ID` header only when a trusted proxy set it (TRUSTED_PROXIES > 0: nginx's
`proxy_set_header X-Request-ID $request_id;`) and it is well formed; otherwise it is generated here. A client cannot
choose the id (a forged one would let it pollute or confuse the logs).

A WSGI middleware rather than a before_request hook: the id is set before Flask (and every other hook) runs and is
added to every response, also to the ones that never reach a view (a 404, a 400 from request_guards).
"""

from __future__ import annotations

import contextvars
import logging
import re
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, has_request_context, request
from flask.logging import default_handler

HEADER = "X-Request-ID"
ENVIRON_KEY = "backoffice.request_id"
NO_REQUEST = "-"
# Letters, digits, '.', '_' and '-' (a UUID, nginx's 32 hex digits); nothing a log line or a page could misread.
_WELL_FORMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{7,63}", re.ASCII)
# The app's log lines, with the id after the level (Flask's default format plus the id).
LOG_FORMAT = "[%(asctime)s] %(levelname)s [%(request_id)s] %(name)s: %(message)s"

_current: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default=NO_REQUEST)


def new_id() -> str:
    return secrets.token_hex(8)


def well_formed(value: str | None) -> bool:
    return bool(value) and bool(_WELL_FORMED.fullmatch(value or ""))


def current() -> str:
    """The id of the request being handled, or "-" outside a request."""
    if has_request_context():
        return str(request.environ.get(ENVIRON_KEY, _current.get()))
    return _current.get()


class RequestIdFilter(logging.Filter):
    """Gives every record a `request_id` attribute (formatters use `%(request_id)s`); never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current()
        return True


FILTER = RequestIdFilter()


def attach(handler: logging.Handler, formatter: logging.Formatter | None = None) -> None:
    """Add the filter to `handler` once (handlers are shared between the apps a process creates)."""
    if FILTER not in handler.filters:
        handler.addFilter(FILTER)
    if formatter is not None:
        handler.setFormatter(formatter)


class RequestIdMiddleware:
    """Sets the id for the duration of the WSGI call and adds it to the response headers."""

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]], trust_header: Callable[[], bool]) -> None:
        self.wsgi_app = wsgi_app
        self.trust_header = trust_header

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        incoming = environ.get("HTTP_X_REQUEST_ID")
        trusted = isinstance(incoming, str) and well_formed(incoming) and self.trust_header()
        request_id: str = incoming if trusted and isinstance(incoming, str) else new_id()
        environ[ENVIRON_KEY] = request_id

        def start_with_id(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers = [(name, value) for name, value in headers if name.lower() != HEADER.lower()]
            headers.append((HEADER, request_id))
            return start_response(status, headers, exc_info)

        token = _current.set(request_id)
        try:
            return self.wsgi_app(environ, start_with_id)
        finally:
            _current.reset(token)


def init_app(app: Flask) -> None:
    def trust_header() -> bool:
        # Only a proxy we trust may name the id (TRUSTED_PROXIES: how many proxies stand before the app).
        try:
            return int(app.config.get("TRUSTED_PROXIES") or 0) > 0
        except (TypeError, ValueError):
            return False

    app.wsgi_app = RequestIdMiddleware(app.wsgi_app, trust_header)  # type: ignore[method-assign]
    # Flask's own handler (stderr, or gunicorn's error stream during a request) writes the id in every line. Flask
    # adds it to the app's logger ("backoffice") when that logger is first used and nothing else configured logging
    # (gunicorn does not); used here, so the app's INFO lines are never left to Python's bare last-resort handler.
    attach(default_handler, logging.Formatter(LOG_FORMAT))
    app.logger  # noqa: B018 - creating the logger is what attaches the handler

    @app.context_processor
    def _request_id() -> dict[str, str]:
        return {"request_id": current()}
