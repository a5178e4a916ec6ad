"""Huey tasks. The consumer imports this module: `huey_consumer backoffice.printing.tasks.huey -w 1`.

A task runs inside the Flask app that queued it when there is one (immediate mode: tests, PRINT_QUEUE_URL=
immediate) and otherwise inside an app the worker process builds once from the environment.
"""

from __future__ import annotations

import contextlib
import threading

from flask import Flask, has_app_context

from .queue import make_huey

huey = make_huey()

_app: Flask | None = None
_app_lock = threading.Lock()


def _worker_app() -> Flask:
    global _app
    with _app_lock:
        if _app is None:
            from .. import create_app

            _app = create_app()
        return _app


def _app_context():
    return contextlib.nullcontext() if has_app_context() else _worker_app().app_context()


@huey.task()
def run_print_job(job_id: int) -> None:
    from . import services

    with _app_context():
        services.run_job(job_id)


@huey.on_startup()
def fail_stale_jobs() -> None:
    """When the consumer starts: fail the jobs a stopped worker left running without progress. Queued jobs are
    left alone: this consumer is about to run them (the job pages fail those whose task was lost)."""
    from ..extensions import db
    from . import services

    with _app_context():
        if services.fail_stale_jobs(include_queued=False):
            db.session.commit()


def enqueue(job_id: int) -> None:
    """Hand a committed job to the queue (in immediate mode it runs before this returns)."""
    run_print_job(job_id)
