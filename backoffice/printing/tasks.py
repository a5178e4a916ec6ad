"""The print queue, part of the app: `init_app` (called by create_app) builds the Huey queue from
app.config["PRINT_QUEUE_URL"] (queue.py) and registers its task and start-up hook on it.

The web process queues a committed job with `enqueue(job_id)` (views register it with unit_of_work.after_commit, so
the worker never looks for a row that is not stored yet). A task runs inside the app that queued it when it runs
in that process (immediate mode: tests, PRINT_QUEUE_URL=immediate), else inside the app that owns the queue.

The consumer needs a module-level Huey: `huey_consumer backoffice.printing.tasks.huey -w 1` (what `make run`
starts). Reading `huey` builds the worker's app once with create_app() from the environment, exactly as the web
server builds its own, and returns that app's queue: nothing is configured at import.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app, has_app_context
from huey import Huey

from .. import unit_of_work
from .queue import make_huey

EXTENSION = "print_queue"


@dataclass(frozen=True)
class PrintQueue:
    huey: Huey
    run_print_job: Any                       # the Huey task: calling it queues the job
    fail_stale_jobs: Callable[[], None]      # the consumer's start-up hook
    run_invoice_run: Any = None              # bulk invoicing (backoffice/invoice_runs/): issue, then send
    send_invoice_run: Any = None             # bulk invoicing: (re)send a run's invoices by e-mail
    fail_stale_invoice_runs: Callable[[], None] | None = None
    run_pack_job: Any = None                 # the month-end pack (backoffice/reporting/jobs.py)
    fail_stale_pack_jobs: Callable[[], None] | None = None
    issue_invoice: Any = None                # one draft issued after the request (invoicing/services.py)


def init_app(app: Flask) -> None:
    huey = make_huey(app.config.get("PRINT_QUEUE_URL", ""),
                     default_file=Path(app.instance_path) / "print_queue.sqlite3")

    def app_context():
        return contextlib.nullcontext() if has_app_context() else app.app_context()

    @huey.task()
    def run_print_job(job_id: int) -> None:
        from . import services

        with app_context():
            services.run_job(job_id)

    @huey.on_startup()
    def fail_stale_jobs() -> None:
        """When the consumer starts: fail the jobs a stopped worker left running without progress. Queued jobs are
        left alone: this consumer is about to run them (the job pages fail those whose task was lost)."""
        from . import services

        with app_context():
            unit_of_work.run(lambda: services.fail_stale_jobs(include_queued=False))

    # Bulk invoicing runs on the same queue and consumer: it renders in the same pool of processes.
    @huey.task()
    def run_invoice_run(run_id: int) -> None:
        from ..invoice_runs import services as runs

        with app_context():
            runs.execute(run_id)

    @huey.task()
    def send_invoice_run(run_id: int, retry_failed: bool = False) -> None:
        from ..invoice_runs import services as runs

        with app_context():
            runs.send_pending(run_id, retry_failed=retry_failed)

    @huey.on_startup()
    def fail_stale_invoice_runs() -> None:
        """As fail_stale_jobs, for bulk invoicing runs a stopped worker left running."""
        from ..invoice_runs import services as runs

        with app_context():
            unit_of_work.run(lambda: runs.fail_stale_runs(include_queued=False))

    # The month-end pack: copying the month's stored PDFs into one ZIP, beside the print jobs.
    @huey.task()
    def run_pack_job(job_id: int) -> None:
        from ..reporting import jobs

        with app_context():
            jobs.run_job(job_id)

    @huey.on_startup()
    def fail_stale_pack_jobs() -> None:
        """As fail_stale_jobs, for month-end packs a stopped worker left running."""
        from ..reporting import jobs

        with app_context():
            unit_of_work.run(lambda: jobs.fail_stale_jobs(include_queued=False))

    # One invoice issued after the request that asked for it: its number and PDF (invoicing/services.py).
    @huey.task()
    def issue_invoice(invoice_id: int) -> None:
        from ..invoicing import services as invoicing

        with app_context():
            invoicing.issue_requested(invoice_id)

    app.extensions[EXTENSION] = PrintQueue(huey, run_print_job, fail_stale_jobs, run_invoice_run, send_invoice_run,
                                           fail_stale_invoice_runs, run_pack_job, fail_stale_pack_jobs,
                                           issue_invoice)


def print_queue(app: Flask | None = None) -> PrintQueue:
    return (app or current_app).extensions[EXTENSION]


def enqueue(job_id: int) -> None:
    """Hand a committed job to the current app's queue (in immediate mode it runs before this returns)."""
    print_queue().run_print_job(job_id)


def enqueue_invoice_run(run_id: int) -> None:
    """Hand a committed bulk invoicing run to the queue (backoffice/invoice_runs/)."""
    print_queue().run_invoice_run(run_id)


def enqueue_invoice_sending(run_id: int, retry_failed: bool = False) -> None:
    """Queue the e-mailing of a run's invoices (after a run issued in the request, or to retry failed sendings)."""
    print_queue().send_invoice_run(run_id, retry_failed)


def enqueue_pack(job_id: int) -> None:
    """Hand a committed month-end pack job to the queue (backoffice/reporting/jobs.py)."""
    print_queue().run_pack_job(job_id)


def enqueue_issue(invoice_id: int) -> None:
    """Hand a committed issue request to the queue (invoicing/services.py: request_issue)."""
    print_queue().issue_invoice(invoice_id)


def in_background() -> bool:
    """Whether queued work runs in a worker process (PRINT_QUEUE_URL names a queue) rather than at once, in the
    process that queues it (PRINT_QUEUE_URL=immediate: tests, a clinic without a worker)."""
    return not print_queue().huey.immediate


_worker: Flask | None = None
_worker_lock = threading.Lock()


def worker_app() -> Flask:
    """The app of the consumer process, built once from the environment."""
    global _worker
    with _worker_lock:
        if _worker is None:
            from .. import create_app

            _worker = create_app()
        return _worker


def __getattr__(name: str) -> Huey:
    if name == "huey":  # for huey_consumer (see the module docstring)
        return print_queue(worker_app()).huey
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
