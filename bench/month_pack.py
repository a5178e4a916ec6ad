"""The month-end pack of a 10-location chain, built as the background job builds it (reporting/jobs.run_job):
memory stays flat from a quarter of the month to the whole month.

The chain is bench_monthly_report.py's (build_chain: treatments, invoices, lines, payments, credit notes and claim
batches from January to October 2026, in bulk), at MONTH_PACK_SCALE (default 0.4: about 6,000 invoices and credit
notes issued in October, 70,000 treatments in the year), every October invoice and credit note with a stored PDF:
one real small PDF (WeasyPrint, rendered once) stored for every document in the same bulk load. The quarter is the
same chain with the same history (January to September) and a quarter of October's treatments, so a quarter of
the month's documents: what grows with the month is measured, not the chain's size (the report's grouped facts
grow with the chain's therapists, treatments and months until every group exists, whatever the month holds).

Figures (on PostgreSQL with `_pg`):
- month_pack_peak_mib_quarter, month_pack_peak_mib: the peak of Python's own allocations (tracemalloc) while the
  job runs, from a queued job to done with the ZIP written and the access log committed; the database drivers'
  and zlib's C buffers are not counted (they do not grow with the month: pages of rows, one PDF at a time);
- month_pack_peak_ratio: whole / quarter (goal <= 1.2);
- month_pack_s: the whole month's job without tracemalloc (which slows Python down), the run after a first one
  (imports and caches warm); month_pack_documents and month_pack_zip_mib say what it wrote.

The bench's claim batches were never exported (no frozen lines), so the pack notes them as left out: the claims
step costs nothing here. Run: `.venv/bin/python bench/month_pack.py [scale]` (BENCH_BACKEND=postgresql for PG).
The machine is shared (2 cores): times are under load; compare SQLite and PostgreSQL of the same run.
"""

from __future__ import annotations

import gc
import hashlib
import os
import sys
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path

from sqlalchemy import text

from backoffice import create_app
from backoffice.domain.reporting import Month
from backoffice.extensions import db
from backoffice.models import User
from backoffice.models.printing import PackJob
from backoffice.reporting import jobs

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _support  # noqa: E402 - next to this file
import bench_monthly_report as chain  # noqa: E402 - the chain's builder

BACKENDS = ("sqlite", "postgresql")
OCTOBER = Month(2026, 10)
DEFAULT_SCALE = 0.4


def small_pdf() -> bytes:
    """One real invoice-sized PDF, rendered once (a page of text with an embedded font)."""
    import weasyprint

    html = ("<html><body style='font-family: sans-serif'><h1>Factuur B1</h1><p>Huidtherapie Keten, Oudegracht 1, "
            "Utrecht</p><table><tr><td>Behandeling</td><td>EUR 95,00</td></tr></table></body></html>")
    return weasyprint.HTML(string=html).write_pdf()


def with_pdfs(pdf: bytes) -> None:
    """build_chain issues its invoices in one UPDATE (the database refuses changes to issued ones after): store
    the PDF and its SHA-256 on October's in that same statement; the credit notes get them at insert."""
    digest = hashlib.sha256(pdf).hexdigest()
    first, last = OCTOBER.first.isoformat(), OCTOBER.last.isoformat()
    insert_invoicing, credit_notes, bulk = chain._insert_invoicing, chain._credit_notes, chain._bulk

    def insert_with_pdfs(connection, invoiced) -> None:
        def issue(sql: str, *args) -> None:
            if sql.startswith("UPDATE invoices SET status = 'issued'"):
                connection.execute(text(
                    "UPDATE invoices SET status = 'issued', number = 'B' || id, series_year = 2026, sequence = id, "
                    "pdf = CASE WHEN issue_date BETWEEN :first AND :last THEN :pdf END, "
                    "pdf_sha256 = CASE WHEN issue_date BETWEEN :first AND :last THEN :sha ELSE 'bench' END"),
                    {"first": first, "last": last, "pdf": pdf, "sha": digest})
            else:
                raw(sql, *args)

        raw = connection.exec_driver_sql
        connection.exec_driver_sql = issue
        try:
            insert_invoicing(connection, invoiced)
        finally:
            del connection.exec_driver_sql

    def notes_with_pdfs(connection, rng, invoiced) -> int:
        def bulk_notes(connection, table, columns, rows):
            if table == "credit_notes":
                rows = [(*row[:10], pdf, digest, *row[12:]) for row in rows]
            bulk(connection, table, columns, rows)

        chain._bulk = bulk_notes
        try:
            return credit_notes(connection, rng, invoiced)
        finally:
            chain._bulk = bulk

    chain._insert_invoicing = insert_with_pdfs
    chain._credit_notes = notes_with_pdfs


def run_pack(app, traced: bool) -> tuple[float, float, PackJob]:
    """One pack job from queued to done: (seconds, peak MiB of Python allocations or 0, the job)."""
    with app.app_context():
        job = jobs.request_job(OCTOBER, user=db.session.get(User, 1))
        db.session.commit()
        job_id = job.id
        db.session.remove()
    gc.collect()
    if traced:
        tracemalloc.start()
    start = time.perf_counter()
    with app.app_context():
        jobs.run_job(job_id)
        db.session.remove()
    elapsed = time.perf_counter() - start
    peak = 0.0
    if traced:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    with app.app_context():
        job = db.session.get_one(PackJob, job_id)
        if job.status != "done":
            raise SystemExit(f"pack job {job_id} ended {job.status}: {job.error}")
        db.session.expunge(job)
        db.session.remove()
    return elapsed, peak, job


def measure(folder: Path, scale: float, name: str, pdf: bytes, month_share: float = 1.0) -> dict[str, float]:
    with _support.database(folder, f"{name}.db") as (uri, options):
        start = time.perf_counter()
        built = chain.build_chain(uri, options, scale, month_share)
        print(f"# {name}: chain built in {time.perf_counter() - start:.1f} s on {_support.label()}: {built}",
              flush=True)
        app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SQLALCHEMY_ENGINE_OPTIONS": options,
                          "PRINT_QUEUE_URL": "immediate", "TWO_FACTOR_REQUIRED_ROLES": ()})
        app.instance_path = str(folder / f"instance-{name}")
        Path(app.instance_path).mkdir()
        try:
            run_pack(app, traced=False)                    # warm: imports, caches
            seconds, _none, job = run_pack(app, traced=False)
            _seconds, peak, _job = run_pack(app, traced=True)
            path = Path(app.instance_path) / jobs.FOLDER / (job.zip_path or "")
            with zipfile.ZipFile(path) as archive:
                entries = len(archive.namelist())
            print(f"# {name}: {job.document_count} documents, {entries} entries, {seconds:.1f} s, peak {peak:.1f} MiB",
                  flush=True)
            return {"seconds": seconds, "peak": peak, "documents": job.document_count,
                    "zip_mib": path.stat().st_size / 2**20}
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def main() -> int:
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else float(os.environ.get("MONTH_PACK_SCALE", DEFAULT_SCALE))
    pdf = small_pdf()
    with_pdfs(pdf)
    print(f"# one stored PDF of {len(pdf)} bytes for every October document; scale {scale}", flush=True)
    with tempfile.TemporaryDirectory(prefix="month-pack-bench-") as scratch:
        folder = Path(scratch)
        quarter = measure(folder, scale, "quarter", pdf, month_share=0.25)
        whole = measure(folder, scale, "whole", pdf)
    _support.figure("month_pack_documents", whole["documents"], "documents")
    _support.figure("month_pack_documents_quarter", quarter["documents"], "documents")
    _support.figure("month_pack_zip_mib", f"{whole['zip_mib']:.1f}", "MiB")
    _support.figure("month_pack_peak_mib_quarter", f"{quarter['peak']:.1f}", "MiB (tracemalloc peak of the job)")
    _support.figure("month_pack_peak_mib", f"{whole['peak']:.1f}", "MiB (tracemalloc peak of the job)")
    _support.figure("month_pack_peak_ratio", f"{whole['peak'] / quarter['peak']:.2f}", "(whole / quarter; goal <= 1.2)")
    _support.figure("month_pack_s", f"{whole['seconds']:.1f}", "s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
