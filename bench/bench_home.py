"""The admin's home page (the day's work lists, issue 14) on the chain of bench_monthly_report.py.

The chain (180,000 treatments January-October 2026, every one invoiced, most paid, the reimbursable ones claimed)
is built in bulk in SQLite, and in PostgreSQL (`make bench` runs both; the PostgreSQL figures end in `_pg`,
bench/_support.py), and given what a practice of that size has on its desk on Monday 2 November 2026:
- the invoices' treatments marked as invoiced (the chain writes invoice lines only; the page reads
  invoiced_treatments, as the invoicing service keeps it);
- UNINVOICED treatments of the last week not invoiced yet, some of them reimbursable;
- UNCLAIMED issued reimbursable lines of late October not yet in a batch (no intake recorded: every one blocks);
- September's batches submitted on 1 October and still waiting for their outcomes;
- the unpaid 15 % of the chain's invoices: thousands overdue.

Then GET / as an admin through the Flask test client (the chair's and the billing desk's lists), median of RUNS,
and prints `figure home_admin_ms <value> ms` with the statements one view runs, and for context the time of the
manager's overview (main/manager_work.py) on the same data.
Run with `.venv/bin/python bench/bench_home.py [scale]` (scale 1.0 by default: the whole chain).
"""

from __future__ import annotations

import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import event, text

from backoffice import clock, create_app
from backoffice.extensions import db
from backoffice.main.manager_work import manager_work
from backoffice.models import User

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _support  # noqa: E402 - next to this file
import bench_monthly_report as chain  # noqa: E402 - the chain's builder, next to this file

SCALE = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
# A second argument keeps the built database in that file, or reuses it when it exists (to look into a slow list);
# the default is a temporary one.
KEEP = Path(sys.argv[2]) if len(sys.argv) > 2 else None
TODAY = date(2026, 11, 2)
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
BACKENDS = ("sqlite", "postgresql")
UNINVOICED = 600
UNCLAIMED = 1500
RUNS = 10
STAMP = chain.STAMP


def add_the_days_work(uri: str, engine_options: dict) -> dict[str, int]:
    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
                      "TWO_FACTOR_REQUIRED_ROLES": ()})
    rng = random.Random(14)
    with app.app_context():
        admin = User(email="admin@bench.nl", name="Bench Admin", role="admin")
        admin.set_password("bench-password")
        db.session.add(admin)
        db.session.commit()
        with db.engine.begin() as connection:
            return _the_days_work(connection, rng)


def _the_days_work(connection, rng: random.Random) -> dict[str, int]:
    """Bulk inserts (executemany on SQLite, COPY on PostgreSQL: bench/_support.py) in one transaction."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA synchronous=OFF")
    connection.execute(text("INSERT INTO invoiced_treatments (treatment_id, invoice_line_id) "
                            "SELECT treatment_id, id FROM invoice_lines"))
    treatments = connection.scalar(text("SELECT max(id) FROM treatments"))
    item = 0  # the catalogue's first item: fractional laser for acne scars (medical)
    _code, name, technique, prestatiecode, price, _minutes = chain.CATALOGUE[item]

    def treatment(patient: int, day: date, reimbursable: bool) -> tuple:
        insurer = patient % len(chain.INSURERS) + 1
        return (patient, rng.randrange(1, chain.THERAPISTS + 1), day.isoformat(), item + 1, "acne_scar", "face",
                1, "", "", price, "", 1, 0, price, 0, int(reimbursable), insurer if reimbursable else None,
                price if reimbursable else 0, 0 if reimbursable else price, "{}", STAMP, STAMP)

    columns = ("patient_id", "therapist_id", "treatment_date", "catalogue_item_id", "indication", "body_area",
               "session_number", "device", "notes", "price_cents", "price_change_reason", "medical", "vat_rate",
               "net_cents", "vat_cents", "reimbursable", "insurer_id", "insurer_amount_cents",
               "patient_amount_cents", "assessment", "assessed_at", "created_at")
    recent = [treatment(rng.randrange(1, chain.PATIENTS + 1), TODAY - timedelta(days=rng.randrange(0, 8)),
                        rng.random() < 0.5) for _ in range(UNINVOICED)]
    _support.bulk_insert(connection, "treatments", columns, recent)
    # Issued late in October, reimbursable, not claimed: one invoice and line each (ids follow the treatments).
    unclaimed = [treatment(rng.randrange(1, chain.PATIENTS + 1), date(2026, 10, 20 + rng.randrange(0, 12)),
                           True) for _ in range(UNCLAIMED)]
    _support.bulk_insert(connection, "treatments", columns, unclaimed)
    first = treatments + UNINVOICED + 1
    invoices = connection.scalar(text("SELECT max(id) FROM invoices"))
    _support.bulk_insert(connection, "invoices", ("patient_id", "status", "issue_date", "due_date",
                                                  "total_gross_cents", "total_net_cents", "total_vat_cents",
                                                  "created_at"),
                         [(row[0], "draft", row[2], (date.fromisoformat(row[2]) + timedelta(days=14)).isoformat(),
                           price, price, 0, STAMP) for row in unclaimed])
    _support.bulk_insert(connection, "invoice_lines", (
        "invoice_id", "treatment_id", "treatment_date", "description", "prestatiecode", "indication", "medical",
        "reimbursable", "quantity", "gross_cents", "net_cents", "vat_cents", "vat_rate", "vat_exemption",
        "therapist_name", "therapist_agb", "technique", "body_area", "referral", "insurer_amount_cents"),
        [(invoices + 1 + n, first + n, row[2], name, prestatiecode, "acne_scar", 1, 1, 1, price, price, 0, 0,
          "vrijgesteld", "Therapeut", "90000001", technique or "", "face", "", price)
         for n, row in enumerate(unclaimed)])
    connection.execute(text("INSERT INTO invoiced_treatments (treatment_id, invoice_line_id) "
                            "SELECT treatment_id, id FROM invoice_lines WHERE invoice_id > :last"),
                       {"last": invoices})
    connection.execute(text("UPDATE invoices SET status = 'issued', number = 'B' || CAST(id AS VARCHAR), "
                            "series_year = 2026, sequence = id, pdf_sha256 = 'bench' WHERE id > :last"),
                       {"last": invoices})
    waiting = connection.execute(text(
        "UPDATE claim_batches SET status = 'submitted', submitted_at = '2026-10-01 09:00:00.000000' "
        "WHERE period_start = '2026-09-01'")).rowcount
    return {"uninvoiced": UNINVOICED, "unclaimed": UNCLAIMED, "waiting_batches": waiting}


def signed_in_admin(app):
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    client.post("/login", data={"email": "admin@bench.nl", "password": "bench-password", "csrf_token": token})
    return client


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        if KEEP is not None and not _support.on_postgres():
            return measure(f"sqlite:///{KEEP}", {}, built_before=KEEP.exists())
        with _support.database(folder) as (uri, engine_options):
            return measure(uri, engine_options)


def measure(uri: str, engine_options: dict, built_before: bool = False) -> int:
    started = time.perf_counter()
    if built_before:
        counts = {"treatments": 0, "invoices": 0, "uninvoiced": UNINVOICED, "unclaimed": UNCLAIMED,
                  "waiting_batches": 0}  # built before: not counted again
    else:
        counts = chain.build_chain(uri, engine_options, scale=SCALE)
        counts |= add_the_days_work(uri, engine_options)
    built = time.perf_counter() - started
    print(f"built in {built:.1f} s", flush=True)
    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
                      "TWO_FACTOR_REQUIRED_ROLES": ()})
    client = signed_in_admin(app)
    samples, statements = [], []
    seen: list[str] = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    with clock.freeze(NOW):
        for run in range(RUNS + 1):
            seen.clear()
            start = time.perf_counter()
            response = client.get("/")
            elapsed = time.perf_counter() - start
            assert response.status_code == 200, response.status_code
            html = response.get_data(as_text=True)
            assert 'data-testid="work-overdue"' in html and 'data-testid="blockers-intake"' in html, html
            if run:  # the first view warms the caches (templates, imports)
                samples.append(elapsed * 1000)
                statements.append(len(seen))
    with app.app_context(), clock.freeze(NOW):
        manager = []
        for _ in range(3):
            start = time.perf_counter()
            manager_work(TODAY)
            manager.append((time.perf_counter() - start) * 1000)
            db.session.rollback()
        db.session.remove()
        db.engine.dispose()  # before the PostgreSQL schema is dropped
    print(f"{counts['treatments']} treatments, {counts['invoices']} invoices ({_support.label()}); the day's work: "
          f"{counts['uninvoiced']} treatments not invoiced, {counts['unclaimed']} unclaimed lines, "
          f"{counts['waiting_batches']} batches waiting; built in {built:.1f} s")
    _support.figure("home_admin_ms", f"{statistics.median(samples):.0f}",
                    f"ms (median of {RUNS} views of / as an admin: the chair's and the billing desk's lists, "
                    f"{statistics.median(statements):.0f} statements; the manager's overview, main/manager_work.py, "
                    f"not shown there, takes {statistics.median(manager):.0f} ms on its own)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
