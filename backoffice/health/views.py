"""GET /healthz: can this web process serve? It checks the database (SELECT 1) and the print queue (can a job be
queued), and answers JSON: 200 {"database": "ok", "queue": "ok"}, or 503 naming what failed.

Public (a monitor has no account), and without anything a visitor may not see: no patient data, no error text (the
reason goes to the log), no session cookie, never cached. Gunicorn leaves it out of its access log
(backoffice/gunicorn_conf.py), so a poll every few seconds does not bury the requests that matter.
"""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from ..extensions import db
from ..printing import queue, tasks
from ..security import public

bp = Blueprint("health", __name__)
log = logging.getLogger("backoffice.health")

OK, FAILED = "ok", "failed"


def _database() -> str:
    try:
        # A connection of its own: the request's session (and its unit of work) is not involved.
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # whatever the driver raises, the answer is the same: not serving
        log.warning("health check: database unreachable (%s)", error.__class__.__name__)
        return FAILED
    return OK


def _queue() -> str:
    try:
        queue.check_reachable(tasks.print_queue().huey)
    except Exception as error:  # Redis, PostgreSQL or SQLite: each raises its own errors
        log.warning("health check: print queue unreachable (%s)", error.__class__.__name__)
        return FAILED
    return OK


@bp.get("/healthz")
@public
def healthz() -> ResponseReturnValue:
    checks = {"database": _database(), "queue": _queue()}
    response = jsonify(checks)
    response.status_code = 200 if all(state == OK for state in checks.values()) else 503
    response.headers["Cache-Control"] = "no-store"
    return response
