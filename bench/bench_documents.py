"""Printed documents: one invoice from the database, and a month of 200 invoices printed as one batch.

(a) One invoice in a warm process: the whole path from the database to PDF bytes (read the invoice, its lines,
    patient, insurance and practice in a fresh session; build the InvoiceDocument; Jinja; WeasyPrint) against
    WeasyPrint alone rendering the same final HTML with the same cached stylesheet, interleaved in the same run.
    Both sides write the archival variant (PDF/A-3b, tagged, sRGB output intent: pdf.pdf_options()); the run
    checks that with pikepdf before timing.
(b) 200 issued invoices (October, 50 patients) in one batch: the merged PDF and the ZIP, built from the PDFs
    stored at issue, through the same service the web job and the CLI use. Then the 200 declarations of the
    same month, which are rendered on the fly: 1 worker process against 2 (`batch_speedup`).

Uses a temporary database seeded here (issuing renders each invoice once: about half a minute): a SQLite file, or a
PostgreSQL schema of its own (`make bench` runs both; the PostgreSQL figures end in `_pg`, bench/_support.py).
BENCH_INVOICES sets a smaller month while developing (the figures keep their names). Prints `figure <name> <value>
<unit>` lines.
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import _support
import pikepdf
import weasyprint
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from backoffice import create_app
from backoffice.documents import pdf
from backoffice.domain import vat
from backoffice.domain.money import to_cents
from backoffice.extensions import db
from backoffice.invoicing import documents, services
from backoffice.models import (
    CatalogueItem,
    Insurance,
    Insurer,
    Invoice,
    InvoiceLine,
    KpRegistration,
    NvhMembership,
    Package,
    Patient,
    Practice,
    Therapist,
    Treatment,
    User,
)
from backoffice.printing import services as printing

BACKENDS = ("sqlite", "postgresql")
INVOICES = int(os.environ.get("BENCH_INVOICES", "200"))
PATIENTS = min(50, INVOICES)
REPEAT = 15
MONTH = (date(2026, 10, 1), date(2026, 10, 31))
FIRST_NAMES = ["Anna", "Bas", "Carla", "Daan", "Eva", "Fleur", "Gijs", "Hanna", "Iris", "Joris"]
LAST_NAMES = ["de Vries", "Jansen", "van den Berg", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder",
              "de Groot"]


def seed(bsns: list[str]) -> int:
    """A practice, two credentialed therapists, 50 insured patients and 200 issued invoices in October."""
    db.session.add(Practice(name="Huidtherapie Utrecht", street="Oudegracht 1", postcode="3511 AA", city="Utrecht",
                            kvk_number="12345678", vat_id="NL123456789B01", agb_code="90001234",
                            iban="NL91ABNA0417164300", phone="030-1234567"))
    user = User(email="bench@example.nl", name="Bench", role="admin", password_hash="x")
    therapists = [Therapist(name=name, agb_code=agb) for name, agb in (("Eva Jansen", "90012345"),
                                                                        ("Noor Bakker", "90054321"))]
    for number, therapist in enumerate(therapists):
        therapist.nvh_memberships = [NvhMembership(member_number=f"NVH-51{number}", valid_from=date(2019, 9, 1))]
        therapist.kp_registrations = [KpRegistration(kp_number=f"KP-2043{number}", level="kwaliteitsregister",
                                                     period_start=date(2024, 1, 1), period_end=date(2028, 12, 31))]
    insurer = Insurer(name="Zilveren Kruis", uzovi="3311", packages=[Package(name="Aanvullend 3")])
    # Example prestatiecodes (list 075's real codes are not in the repository): every reimbursable item needs one.
    laser = CatalogueItem(code="FRAC-SCAR", name="Fractional laser, acne scars", technique="fractional_laser",
                          prestatiecode_list="075", prestatiecode="9010", price_cents=17_500)
    peel = CatalogueItem(code="PEEL", name="Chemical peel, face", technique="peel", prestatiecode_list="075",
                         prestatiecode="9020", price_cents=6_050)
    patients = []
    for i in range(PATIENTS):
        patient = Patient(first_name=FIRST_NAMES[i % 10], last_name=LAST_NAMES[(i // 10) % 10],
                          date_of_birth=date(1970, 1, 1) + timedelta(days=97 * i), street=f"Laan {i + 1}",
                          postcode="3512 BB", city="Utrecht")
        patient.set_bsn(bsns[i])
        patients.append(patient)
    db.session.add_all([user, *therapists, insurer, laser, peel, *patients])
    db.session.flush()
    for patient in patients:
        db.session.add(Insurance(patient_id=patient.id, insurer_id=insurer.id, package_id=insurer.packages[0].id,
                                 policy_number=f"ZK-{patient.id:05d}", valid_from=date(2026, 1, 1)))
    db.session.commit()

    for n in range(INVOICES):
        patient = patients[n % PATIENTS]
        day = MONTH[0] + timedelta(days=n * 30 // INVOICES)
        ids = []
        for medical, item in ((True, laser), (n % 3 == 0, peel)) if n % 2 else ((True, laser),):
            split = vat.split(Decimal(item.price_cents) / 100, medical)
            treatment = Treatment(
                patient_id=patient.id, therapist_id=therapists[n % 2].id, treatment_date=day,
                catalogue_item_id=item.id, indication="acne_scar" if medical else "fine_lines", body_area="face",
                price_cents=to_cents(split.gross), medical=medical, vat_rate=int(split.rate),
                net_cents=to_cents(split.net), vat_cents=to_cents(split.vat), reimbursable=medical,
                insurer_amount_cents=to_cents(split.gross) if medical else 0,
            )
            db.session.add(treatment)
            db.session.flush()
            ids.append(treatment.id)
        invoice = services.draft_invoice(patient, ids, user=user)
        services.issue_invoice(invoice, user, today=day)  # the real renderer: the PDF is stored at issue
        db.session.commit()
    return db.session.scalar(select(Invoice.id).order_by(Invoice.id).limit(1))


def valid_bsns(count: int) -> list[str]:
    """BSNs that pass the eleven-test."""
    found, candidate = [], 100_000_000
    while len(found) < count:
        candidate += 1
        digits = [int(d) for d in str(candidate)]
        if (sum(d * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True)) - digits[8]) % 11 == 0:
            found.append(str(candidate))
    return found


def database_to_pdf(invoice_id: int) -> tuple[bytes, str]:
    """The whole path of issuing, minus taking a number: read everything afresh, build the document, render."""
    db.session.remove()
    invoice = db.session.scalar(
        select(Invoice).where(Invoice.id == invoice_id)
        .options(selectinload(Invoice.lines).selectinload(InvoiceLine.treatment), selectinload(Invoice.patient)
                 .selectinload(Patient.insurances).selectinload(Insurance.insurer))
    )
    practice = db.session.scalar(select(Practice).limit(1))
    patient = documents.patient_info(invoice.patient, documents.last_treatment_date(invoice.lines))
    doc = documents.invoice_document(invoice, documents.practice_info(practice), patient, invoice.number,
                                     invoice.issue_date, invoice.due_date, 14)
    html = pdf.render_html("invoice", doc)
    return pdf.render_invoice(doc), html


def weasyprint_alone(html: str) -> bytes:
    """WeasyPrint by itself on the final HTML: the folder's cached stylesheet and fonts, and the same archival
    options as every document (pdf.pdf_options(): PDF/A-3b, tagged, the sRGB output intent)."""
    folder = pdf.REPORTS_DIR / "invoice"
    return weasyprint.HTML(string=html, base_url=folder.as_uri() + "/", url_fetcher=pdf._url_fetcher()).write_pdf(
        stylesheets=[pdf._stylesheet(folder)], font_config=pdf._font_config, **pdf.pdf_options())


def archival_variant(data: bytes) -> str:
    """"pdf/a-3b" when the PDF declares PDF/A-3b in its XMP metadata and has an output intent, else what it has."""
    with pikepdf.open(io.BytesIO(data)) as document:
        meta = document.open_metadata()
        part, conformance = meta.get("pdfaid:part", ""), meta.get("pdfaid:conformance", "")
        intent = "/OutputIntents" in document.Root and "/StructTreeRoot" in document.Root
    return f"pdf/a-{part}{conformance.lower()}" if part and intent else f"not archival ({part}{conformance})"


def timed(function, *args) -> tuple[float, object]:
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def main() -> int:
    with tempfile.TemporaryDirectory() as name, _support.database(name) as (uri, engine_options):
        folder = Path(name)
        app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SQLALCHEMY_ENGINE_OPTIONS": engine_options})
        with app.app_context():
            db.create_all()
            pdf.warm_up()
            seconds, first_id = timed(seed, valid_bsns(PATIENTS))
            print(f"seeded {INVOICES} issued invoices (rendered at issue) in {seconds:.1f} s")

            # (a) one invoice, warm: alternate the two measurements so drift hits both alike.
            data, html = database_to_pdf(first_id)
            alone_data = weasyprint_alone(html)
            assert data == alone_data  # the same final HTML, the same options, the same bytes
            variant = archival_variant(alone_data)
            assert variant == "pdf/a-3b", variant
            print(f"both sides write {variant}, tagged, with an sRGB output intent")
            for _ in range(3):
                database_to_pdf(first_id)
                weasyprint_alone(html)
            whole, alone = [], []
            for _ in range(REPEAT):
                whole.append(timed(database_to_pdf, first_id)[0])
                alone.append(timed(weasyprint_alone, html)[0])
            whole_ms, alone_ms = statistics.median(whole) * 1000, statistics.median(alone) * 1000
            print(f"one invoice ({len(data) / 1024:.0f} KiB), median of {REPEAT}: database -> PDF "
                  f"{whole_ms:.1f} ms, WeasyPrint alone on the same HTML {alone_ms:.1f} ms")
            _support.figure("invoice_db_to_pdf_ms", f"{whole_ms:.1f}", "ms")
            _support.figure("invoice_weasyprint_alone_ms", f"{alone_ms:.1f}", "ms")
            _support.figure("invoice_vs_weasyprint_ratio", f"{whole_ms / alone_ms:.3f}", "x")

            # (b) the month's 200 invoices as one batch (stored PDFs: merged PDF + ZIP, access log).
            out = folder / "out"
            seconds, result = timed(printing.print_batch, "invoices", *MONTH, out)
            db.session.commit()
            assert result.count == INVOICES, result.count
            size_mb = result.pdf_path.stat().st_size / 1_000_000
            print(f"{INVOICES} invoices: {result.pages} pages, PDF {size_mb:.2f} MB, "
                  f"ZIP {result.zip_path.stat().st_size / 1_000_000:.2f} MB in {seconds:.2f} s")
            _support.figure("batch_200_s", f"{seconds:.2f}", "s")
            _support.figure("batch_200_pdf_mb", f"{size_mb:.2f}", "MB")

            # The same month's declarations are rendered now: that is where the second core pays.
            runs = {}
            for workers in (1, 2):
                seconds, result = timed(printing.print_batch, "declarations", *MONTH, out / f"w{workers}",
                                        None, None, "", workers)
                db.session.commit()
                assert result.count == INVOICES and not result.skipped, (result.count, result.skipped[:3])
                runs[workers] = seconds
                print(f"{INVOICES} declarations with {workers} worker process(es): {seconds:.2f} s, "
                      f"{result.pages} pages")
            _support.figure("batch_200_declarations_1_process_s", f"{runs[1]:.2f}", "s")
            _support.figure("batch_200_declarations_2_processes_s", f"{runs[2]:.2f}", "s")
            _support.figure("batch_speedup", f"{runs[1] / runs[2]:.2f}", f"x (cores: {os.cpu_count()})")
            db.session.remove()
            db.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
