"""Numbering under concurrency, on PostgreSQL (SELECT ... FOR UPDATE on the counter and the invoice row).

Eight processes, each with its own app and connection on the same schema, issue 400 drafts; every draft is
handed to two processes at once (a double-click from two desks), so 800 attempts must give exactly the numbers
1..400, each draft one number. A second test kills a process after it took a number and before it committed.

The renderer is a stub here (the `renderer` parameter of issue_invoice): these tests are about numbering; the
real PDF renderer is tested in tests/test_invoicing.py and tests of backoffice/documents.
"""

from __future__ import annotations

import multiprocessing
import os
import random
from datetime import date

from conftest import make_test_app
from sqlalchemy import select
from test_invoicing import DAY, Clinic

from backoffice.extensions import db
from backoffice.invoicing import services
from backoffice.models import Invoice, InvoicedTreatment, InvoiceLine, NumberSeries, Treatment

PROCESSES = 8
INVOICES = 400
SPAWN = multiprocessing.get_context("spawn")


def stub_renderer(doc) -> bytes:
    return f"%PDF-stub {doc.number}".encode()


def die_after_taking_a_number(doc) -> bytes:
    # Called by issue_invoice right after the counter row was incremented and before anything commits.
    os._exit(17)


def issue_all(schema: str, invoice_ids: list[int], barrier, results) -> None:
    app = make_test_app("postgresql", schema)
    issued = []
    with app.app_context():
        barrier.wait(timeout=60)
        for invoice_id in invoice_ids:
            invoice = services.issue_invoice(db.session.get(Invoice, invoice_id), today=DAY,
                                             renderer=stub_renderer)
            issued.append((invoice_id, invoice.number))
            db.session.commit()
        db.engine.dispose()
    results.put(issued)


def issue_and_die(schema: str, invoice_id: int) -> None:
    app = make_test_app("postgresql", schema)
    with app.app_context():
        services.issue_invoice(db.session.get(Invoice, invoice_id), today=DAY, renderer=die_after_taking_a_number)


def _drafts(clinic: Clinic, count: int) -> list[int]:
    """`count` one-line drafts, inserted in bulk (the services are exercised by the issuing, not here)."""
    treatment = db.session.get(Treatment, clinic.treatment())
    ids = []
    for _ in range(count):
        copy = Treatment(**{c.key: getattr(treatment, c.key) for c in Treatment.__table__.columns if c.key != "id"})
        db.session.add(copy)
        db.session.flush()
        invoice = Invoice(patient_id=clinic.patient_id, status="draft", total_gross_cents=treatment.price_cents,
                          total_net_cents=treatment.net_cents, total_vat_cents=treatment.vat_cents)
        line = InvoiceLine(treatment_id=copy.id, treatment_date=copy.treatment_date, description="Fractional laser",
                           gross_cents=copy.price_cents, net_cents=copy.net_cents, vat_cents=copy.vat_cents,
                           medical=copy.medical, therapist_name="Eva Jansen", therapist_agb="90012345")
        line.claim = InvoicedTreatment(treatment_id=copy.id)
        invoice.lines.append(line)
        db.session.add(invoice)
        db.session.flush()
        ids.append(invoice.id)
    db.session.delete(treatment)
    db.session.commit()
    return ids


def test_eight_processes_issue_400_invoices_without_gaps_or_repeats(postgres_schema):
    app = make_test_app("postgresql", postgres_schema)
    with app.app_context():
        db.create_all()
        ids = _drafts(Clinic(), INVOICES)
        db.engine.dispose()

    rng = random.Random(4)
    shares: list[list[int]] = [[] for _ in range(PROCESSES)]
    for position, invoice_id in enumerate(ids):
        shares[position % PROCESSES].append(invoice_id)
        shares[(position + 1) % PROCESSES].append(invoice_id)  # every draft is issued by two processes
    for share in shares:
        rng.shuffle(share)

    barrier, results = SPAWN.Barrier(PROCESSES), SPAWN.Queue()
    workers = [SPAWN.Process(target=issue_all, args=(postgres_schema, share, barrier, results)) for share in shares]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0

    seen: dict[int, str] = {}
    for invoice_id, number in (pair for outcome in outcomes for pair in outcome):
        assert seen.setdefault(invoice_id, number) == number  # both processes got the same number back
    assert len(seen) == INVOICES

    with app.app_context():
        stored = db.session.execute(select(Invoice.id, Invoice.number, Invoice.sequence, Invoice.status)).all()
        assert {row.status for row in stored} == {"issued"}
        assert sorted(row.sequence for row in stored) == list(range(1, INVOICES + 1))
        assert {row.id: row.number for row in stored} == seen
        assert db.session.get(NumberSeries, "invoice-2026").next_value == INVOICES + 1
        db.session.remove()
        db.engine.dispose()


def test_a_process_killed_after_taking_a_number_leaves_no_gap(postgres_schema):
    app = make_test_app("postgresql", postgres_schema)
    with app.app_context():
        db.create_all()
        clinic = Clinic()
        first, second = _drafts(clinic, 2)
        db.engine.dispose()

    victim = SPAWN.Process(target=issue_and_die, args=(postgres_schema, first))
    victim.start()
    victim.join(timeout=60)
    assert victim.exitcode == 17  # it died holding number 1, uncommitted

    with app.app_context():
        assert db.session.get(Invoice, first).status == "draft"
        issued = services.issue_invoice(db.session.get(Invoice, second), today=DAY, renderer=stub_renderer)
        db.session.commit()
        assert issued.number == "2026-00001"
        again = services.issue_invoice(db.session.get(Invoice, first), today=date(2026, 11, 25),
                                       renderer=stub_renderer)
        db.session.commit()
        assert again.number == "2026-00002"
        db.session.remove()
        db.engine.dispose()
