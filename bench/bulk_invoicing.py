"""Bulk invoicing: 200 patients with treatments not yet invoiced get one invoice each, with their PDFs, in one run.

(a) `bulk_invoice_200_s`: the background job's code path (backoffice/invoice_runs/services.execute, as the print
    queue's worker runs it) on 2 worker processes: plan, draft, check and number each patient's invoice, render the
    PDFs in the print pool while the next are built, store each PDF with its SHA-256, commit per chunk.
(b) `bulk_vs_batch_print_ratio`: that time against the batch printer's pool rendering the same 200 invoice
    documents (printing/rendering.render_all("invoice", ...), 2 workers, pool start included on both sides):
    what bulk invoicing costs on top of rendering. Goal: <= 1.3.

Each round is checked: 200 invoices issued, numbered 1..200 without a gap, each PDF matching its SHA-256, and the
batch printer's PDFs byte-identical to the stored ones (same documents, same bytes). Rounds (BULK_BENCH_ROUNDS,
default 3) alternate (a) and (b) on fresh data; the figures are the medians.

Uses a temporary database per round, seeded in bulk here: a SQLite file, or a PostgreSQL schema of its own (`make bench`
runs both; the PostgreSQL figures end in `_pg`, bench/_support.py). Prints `figure <name> <value> <unit>` lines.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import _support
from sqlalchemy import func, insert, select

from backoffice import create_app
from backoffice.domain import vat
from backoffice.domain.money import to_cents
from backoffice.extensions import db
from backoffice.invoice_runs import services as runs
from backoffice.invoicing import documents
from backoffice.models import (
    CatalogueItem,
    Insurance,
    Insurer,
    Invoice,
    InvoiceRun,
    KpRegistration,
    NvhMembership,
    Package,
    Patient,
    Practice,
    Therapist,
    Treatment,
    User,
)
from backoffice.printing import rendering

BACKENDS = ("sqlite", "postgresql")
PATIENTS = 200
WORKERS = 2
UP_TO = date(2026, 11, 30)
FIRST_NAMES = ["Anna", "Bas", "Carla", "Daan", "Eva", "Fleur", "Gijs", "Hanna", "Iris", "Joris"]
LAST_NAMES = ["de Vries", "Jansen", "van den Berg", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder",
              "de Groot"]


def seed() -> int:
    """A practice, two credentialed therapists, 200 insured patients with one to three treatments each in
    November (none invoiced yet), and the admin who asks for the run. Returns the admin's id."""
    db.session.add(Practice(name="Huidtherapie Utrecht", street="Oudegracht 1", postcode="3511 AA", city="Utrecht",
                            kvk_number="12345678", vat_id="NL123456789B01", agb_code="90001234",
                            iban="NL91ABNA0417164300", phone="030-1234567", email="info@huidtherapie.nl"))
    user = User(email="bench@example.nl", name="Bench", role="admin", password_hash="x")
    therapists = [Therapist(name=name, agb_code=agb) for name, agb in (("Eva Jansen", "90012345"),
                                                                        ("Noor Bakker", "90054321"))]
    for number, therapist in enumerate(therapists):
        therapist.nvh_memberships = [NvhMembership(member_number=f"NVH-51{number}", valid_from=date(2019, 9, 1))]
        therapist.kp_registrations = [KpRegistration(kp_number=f"KP-2043{number}", level="kwaliteitsregister",
                                                     period_start=date(2024, 1, 1), period_end=date(2028, 12, 31))]
    insurer = Insurer(name="Zilveren Kruis", uzovi="3311", packages=[Package(name="Aanvullend 3")])
    laser = CatalogueItem(code="FRAC-SCAR", name="Fractional laser, acne scars", technique="fractional_laser",
                          prestatiecode_list="075", prestatiecode="9010", price_cents=17_500)
    peel = CatalogueItem(code="PEEL", name="Chemical peel, face", technique="peel", prestatiecode_list="075",
                         prestatiecode="9020", price_cents=6_050)
    db.session.add_all([user, *therapists, insurer, laser, peel])
    db.session.flush()
    db.session.execute(insert(Patient), [
        {"first_name": FIRST_NAMES[i % 10], "last_name": f"{LAST_NAMES[(i // 10) % 10]} {i:03d}",
         "date_of_birth": date(1970, 1, 1) + timedelta(days=97 * i), "street": f"Laan {i + 1}",
         "postcode": "3512 BB", "city": "Utrecht"} for i in range(PATIENTS)])
    patient_ids = list(db.session.scalars(select(Patient.id).order_by(Patient.id)))
    db.session.execute(insert(Insurance), [
        {"patient_id": pid, "insurer_id": insurer.id, "package_id": insurer.packages[0].id,
         "policy_number": f"ZK-{pid:05d}", "valid_from": date(2026, 1, 1)} for pid in patient_ids])
    rows = []
    for n, pid in enumerate(patient_ids):
        for visit in range(1 + n % 3):
            medical = visit != 2
            item = laser if medical else peel
            split = vat.split(Decimal(item.price_cents) / 100, medical)
            rows.append({
                "patient_id": pid, "therapist_id": therapists[n % 2].id,
                "treatment_date": date(2026, 11, 2) + timedelta(days=(n + 9 * visit) % 28),
                "catalogue_item_id": item.id, "indication": "acne_scar" if medical else "fine_lines",
                "body_area": "face", "price_cents": to_cents(split.gross), "medical": medical,
                "vat_rate": int(split.rate), "net_cents": to_cents(split.net), "vat_cents": to_cents(split.vat),
                "reimbursable": medical, "insurer_amount_cents": to_cents(split.gross) if medical else 0,
            })
    db.session.execute(insert(Treatment), rows)
    db.session.commit()
    return user.id


def check(run: InvoiceRun) -> list[Invoice]:
    assert run.status == "done" and not run.left_out, (run.status, run.error, run.left_out[:3])
    invoices = list(db.session.scalars(select(Invoice).where(Invoice.id.in_(run.invoice_ids))
                                       .order_by(Invoice.sequence)))
    assert len(invoices) == PATIENTS == len({invoice.patient_id for invoice in invoices})
    assert [invoice.sequence for invoice in invoices] == list(range(1, PATIENTS + 1))  # no gaps, no repeats
    for invoice in invoices:
        assert invoice.pdf.startswith(b"%PDF-") and hashlib.sha256(invoice.pdf).hexdigest() == invoice.pdf_sha256
    assert db.session.scalar(select(func.count()).select_from(Invoice).where(Invoice.status == "draft")) == 0
    return invoices


def one_round(folder: Path) -> tuple[float, float]:
    """Seed a fresh database, run the bulk job, then the batch printer on the same documents: (bulk s, batch s)."""
    with _support.database(folder) as (uri, engine_options):
        return _one_round(uri, engine_options)


def _one_round(uri: str, engine_options: dict) -> tuple[float, float]:
    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SQLALCHEMY_ENGINE_OPTIONS": engine_options})
    with app.app_context():
        db.create_all()
        user_id = seed()
        # (a) the background job: a queued run, executed as the worker executes it (commits per chunk).
        run_id = runs.request_run(runs.Selection(up_to=UP_TO), user=db.session.get(User, user_id)).id
        db.session.commit()
        start = time.perf_counter()
        runs.execute(run_id, workers=WORKERS, today=date(2026, 12, 1))
        bulk = time.perf_counter() - start
        db.session.remove()
        invoices = check(db.session.get_one(InvoiceRun, run_id))
        lines = sum(len(invoice.lines) for invoice in invoices)

        # (b) the batch printer's pool on the same 200 documents.
        docs = [documents.document_from_snapshot(invoice.snapshot) for invoice in invoices]
        stored = [invoice.pdf for invoice in invoices]
        db.session.remove()
        start = time.perf_counter()
        pdfs = list(rendering.render_all("invoice", docs, workers=WORKERS))
        batch = time.perf_counter() - start
        assert pdfs == stored  # the same documents render the same bytes
        db.engine.dispose()
    print(f"  {PATIENTS} invoices ({lines} lines) by the background job in {bulk:.2f} s; the batch printer renders "
          f"them in {batch:.2f} s ({bulk / batch:.2f} x)")
    return bulk, batch


def main() -> int:
    # Rounds alternate the two measurements on fresh data, so a machine that slows down or speeds up meanwhile
    # hits both alike; the figures are the medians.
    rounds = int(os.environ.get("BULK_BENCH_ROUNDS", "3"))
    print(f"{rounds} round(s) of {PATIENTS} patients ({_support.label()}), {WORKERS} worker processes "
          f"(cores: {os.cpu_count()})")
    results = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as folder:
            results.append(one_round(Path(folder)))
    bulk = statistics.median(b for b, _ in results)
    ratio = statistics.median(b / p for b, p in results)
    _support.figure("bulk_invoice_200_s", f"{bulk:.2f}", "s")
    _support.figure("bulk_vs_batch_print_ratio", f"{ratio:.2f}", "x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
