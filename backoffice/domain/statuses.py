"""The life cycles stored in status columns, one enum per kind of row. Pure: no Flask, no database.

They are `StrEnum`s, so a member is the very string stored in the database (`InvoiceStatus.ISSUED == "issued"`):
rows read back compare equal, queries bind them unchanged and the CHECK constraints list exactly their values.
The claim batch and claim line statuses live beside their rules in `domain/claim_lifecycle.py` (`BatchStatus`,
`LineStatus`; re-exported by `domain/claims.py`).
"""

from __future__ import annotations

import enum

from .texts import N_


class InvoiceStatus(enum.StrEnum):
    DRAFT = "draft"    # lines can still change; no number, date or PDF yet
    ISSUED = "issued"  # numbered, printed and immutable: a correction is a credit note


class PrintJobStatus(enum.StrEnum):
    QUEUED = "queued"    # waiting for the print worker
    RUNNING = "running"  # the worker is producing the files
    DONE = "done"        # the files are ready for download
    FAILED = "failed"    # stopped with an error (kept in the job's `error`)


class InvoiceRunStatus(enum.StrEnum):
    """A bulk invoicing run (backoffice/invoice_runs/): the print job's life cycle."""

    QUEUED = "queued"    # waiting for the worker (more than 20 patients) or about to run in the request
    RUNNING = "running"  # issuing invoices (and sending them, when asked)
    DONE = "done"        # finished; what was left out and why is on the run
    FAILED = "failed"    # stopped with an error (kept in the run's `error`); invoices already stored stay issued


class RemittanceStatus(enum.StrEnum):
    PREVIEWED = "previewed"  # read and matched, shown to the user; nothing recorded yet
    APPLIED = "applied"      # the outcomes were recorded on the claim lines (once)


# The statuses as people read them (translated where shown: labels.py registers the Jinja filters).
INVOICE_STATUS_LABELS: dict[InvoiceStatus, str] = {
    InvoiceStatus.DRAFT: N_("Draft"),
    InvoiceStatus.ISSUED: N_("Issued"),
}

PRINT_JOB_STATUS_LABELS: dict[PrintJobStatus, str] = {
    PrintJobStatus.QUEUED: N_("Queued"),
    PrintJobStatus.RUNNING: N_("Running"),
    PrintJobStatus.DONE: N_("Done"),
    PrintJobStatus.FAILED: N_("Failed"),
}

REMITTANCE_STATUS_LABELS: dict[RemittanceStatus, str] = {
    RemittanceStatus.PREVIEWED: N_("Previewed"),
    RemittanceStatus.APPLIED: N_("Applied"),
}
