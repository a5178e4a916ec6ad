"""The monthly report of a 10-location chain: 15,000 treatments in October 2026, 180,000 from January, every one
invoiced, most paid, the reimbursable ones claimed (batches per insurer and month, outcomes recorded).

Runs on SQLite and on PostgreSQL (`make bench`; BENCH_BACKEND=postgresql alone: figures end in `_pg`). Builds a
temporary database (a SQLite file, or a PostgreSQL schema of its own, dropped afterwards) in bulk (executemany on
SQLite, COPY on PostgreSQL: bench/_support.py; no ORM objects; see build_chain for the triggers; seconds on
either), then measures:
- monthly_report_s: the report's figures (SQL, everything read afresh) and the workbook written to disk (its six
  sheets of figures, as downloaded by default), median of 3 runs; monthly_report_figures_s: the figures alone (the
  part that depends on the database); monthly_report_with_books_s: the same with the month's invoice register and
  payments as two more sheets (the download with books, the month-end pack's report);
- dashboard_ms: GET /reports/?month=2026-10 through the Flask test client, signed in as a manager, each view right
  after a committed change to October in every kind of fact the dashboard keeps (an invoiced October treatment
  moved to another therapist: October's treatments, revenue and claims; a claim outcome of October; a payment
  dated 31 October on an October invoice: the receivables of October's invoices). The triggers empty what those
  writes touched, so the view reads October afresh from the raw rows and January..September from the summary
  table; nothing is kept in the process. The view only reads; what it read afresh is kept by a background job
  after the response (timed apart: the bench waits for it before the next change). Median of 10;
- dashboard_unchanged_ms: the same page when nothing changed since the last view (every figure kept), median of 10;
- dashboard_rebuild_ms: the same page with the summary table empty (the first view after the upgrade, or after a
  change back in January): every month and the receivables read afresh, median of 3;
- the peak Python memory (tracemalloc) of the report, and again for the same chain with a quarter of the
  treatments: about the same, because what comes back from the database are grouped sums, not treatments.

Prints `figure <name> <value> <unit>` lines. Run with `make bench` (or `.venv/bin/python
bench/bench_monthly_report.py [scale]`). `build_chain` is the chain's builder for the other benchmarks too
(bench_dashboard_wait.py builds it straight into PostgreSQL).
"""

from __future__ import annotations

import gc
import random
import re
import statistics
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import text

from backoffice import create_app
from backoffice.demo import CATALOGUE
from backoffice.domain import vat
from backoffice.domain.indications import INDICATIONS, Indication
from backoffice.domain.money import to_cents
from backoffice.domain.months import Month
from backoffice.extensions import db
from backoffice.models import User
from backoffice.reporting import cache, queries, workbook
from backoffice.reporting.books import MonthBooks

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _support  # noqa: E402 - next to this file

BACKENDS = ("sqlite", "postgresql")
LOCATIONS = 10
THERAPISTS_PER_LOCATION = 5
THERAPISTS = LOCATIONS * THERAPISTS_PER_LOCATION
INSURERS = ["Zilveren Kruis", "CZ", "VGZ", "Menzis", "ONVZ"]
PATIENTS = 45_000
OCTOBER = Month(2026, 10)
MONTH_TREATMENTS = 15_000
YTD_TREATMENTS = 180_000
REPORT_RUNS = 3
DASHBOARD_RUNS = 10
REBUILD_RUNS = 3
STAMP = "2026-11-01 08:00:00.000000"
# The tables filled with explicit or generated ids, whose PostgreSQL sequences move past them after the load.
BULK_TABLES = ("practices", "therapists", "nvh_memberships", "kp_registrations", "insurers", "catalogue_items",
               "patients", "treatments", "invoices", "invoice_lines", "payments", "credit_notes", "credit_note_lines",
               "claim_batches", "claim_lines")

# (catalogue index, indication, medical): what a treatment of the chain can be.
KINDS = [(0, "acne_scar"), (1, "fine_lines"), (2, "hirsutism"), (3, "cosmetic_hair_removal"), (4, "pcos"),
         (5, "sun_damage"), (6, "hypertrichosis"), (7, "acne"), (8, "camouflage"), (9, "oedema")]
REASONS = [("V12", "Niet aanvullend verzekerd"), ("V40", "Verwijzing ontbreekt"), ("V07", "Maximum bereikt")]


def _insert(cursor, table: str, columns: tuple[str, ...], rows) -> None:
    """executemany on a SQLite DB-API cursor (bench_home.py adds its rows this way)."""
    marks = ", ".join("?" for _ in columns)
    cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


def _bulk(connection, table: str, columns: tuple[str, ...], rows) -> None:
    _support.bulk_insert(connection, table, columns, rows)


def _days_in_months(scale: float, month_share: float = 1.0) -> list[tuple[date, int]]:
    """(day, treatments that day) from 1 January to 31 October: 15,000 in October (times `month_share`), the rest
    spread evenly (all times `scale`)."""
    days = []
    earlier = [Month(2026, m) for m in range(1, 10)]
    in_month = int(MONTH_TREATMENTS * scale * month_share)
    rest = int((YTD_TREATMENTS - MONTH_TREATMENTS) * scale)
    per_month = [rest // 9 + (1 if i < rest % 9 else 0) for i in range(9)]
    for month, count in [*zip(earlier, per_month, strict=True), (OCTOBER, in_month)]:
        length = month.last.day
        for d in range(length):
            days.append((month.first + timedelta(days=d), count // length + (1 if d < count % length else 0)))
    return days


@dataclass
class Invoiced:
    """The rows of the invoiced treatments, as the bulk inserts take them."""

    treatments: list[tuple] = field(default_factory=list)
    invoices: list[tuple] = field(default_factory=list)
    lines: list[tuple] = field(default_factory=list)
    payments: list[tuple] = field(default_factory=list)
    claimable: list[tuple[int, int, date, int]] = field(default_factory=list)  # (line id, insurer, date, cents)


def build(database: Path, scale: float = 1.0) -> dict[str, int]:
    """The chain in the SQLite file `database` (what bench_home.py builds on)."""
    return build_chain(f"sqlite:///{database}", {}, scale)


def build_chain(uri: str, engine_options: dict | None = None, scale: float = 1.0,
                month_share: float = 1.0) -> dict[str, int]:
    """The chain in the database at `uri` (SQLite, or a PostgreSQL schema reached through `engine_options`), in
    bulk: executemany on SQLite, with the tables' triggers firing as for any write; COPY on PostgreSQL
    (_support.bulk_insert), with the tables' own triggers off during the load (the summary table is empty, so they
    would empty nothing, and the load changes no issued document; per row in PL/pgSQL they cost a minute) and on
    again after it, in the same transaction. On PostgreSQL the id sequences are then moved past the rows and the
    tables analysed, as autovacuum would after a load. `month_share`: October's share of its usual treatments
    (the same chain and history with a quarter of the month, for month_pack.py)."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SQLALCHEMY_ENGINE_OPTIONS": engine_options or {},
                      "TWO_FACTOR_REQUIRED_ROLES": ()})  # the pages are measured, not the second factor
    rng = random.Random(2026)
    with app.app_context():
        db.create_all()
        _manager()
        with db.engine.begin() as connection:
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql("PRAGMA synchronous=OFF")
            else:
                _triggers_off(connection)
            _practice_and_therapists(connection)
            _insurers_and_catalogue(connection)
            _patients(connection)
            invoiced = _invoiced_treatments(rng, scale, month_share)
            _insert_invoicing(connection, invoiced)
            credit_notes = _credit_notes(connection, rng, invoiced)
            claim_lines = _claims(connection, rng, invoiced.claimable)
            _support.reset_sequences(connection, BULK_TABLES)
            if connection.dialect.name == "postgresql":
                _triggers_on(connection)
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM (ANALYZE)"))  # the visibility map set, as autovacuum would
        db.engine.dispose()
    return {"treatments": len(invoiced.treatments), "invoices": len(invoiced.invoices),
            "payments": len(invoiced.payments), "credit_notes": credit_notes, "claim_lines": claim_lines}


def _triggers_off(connection) -> None:
    """PostgreSQL, for the load: the tables' own triggers off (the summary table is empty, so they would empty
    nothing, and the load changes no issued document), and as superuser the foreign-key checks too (the load's ids
    are consistent by construction). Per row, they cost most of a minute."""
    if connection.exec_driver_sql("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").scalar():
        connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
    for table in BULK_TABLES:
        connection.exec_driver_sql(f'ALTER TABLE "{table}" DISABLE TRIGGER USER')


def _triggers_on(connection) -> None:
    for table in BULK_TABLES:
        connection.exec_driver_sql(f'ALTER TABLE "{table}" ENABLE TRIGGER USER')
    connection.exec_driver_sql("SET LOCAL session_replication_role = DEFAULT")


def _manager() -> None:
    manager = User(email="manager@bench.nl", name="Bench Manager", role="manager")
    manager.set_password("bench-password")
    db.session.add(manager)
    db.session.commit()


def _practice_and_therapists(connection) -> None:
    """The practice, and five therapists per location, each an NVH member in the kwaliteitsregister."""
    _bulk(connection, "practices", ("name", "street", "postcode", "city", "kvk_number", "vat_id", "agb_code", "iban",
                                  "phone", "email", "website", "updated_at"),
            [("Huidtherapie Keten", "Oudegracht 1", "3511 AA", "Utrecht", "12345678", "NL123456789B01",
              "90001234", "", "", "", "", STAMP)])
    _bulk(connection, "therapists", ("name", "agb_code", "email", "active"),
            [(f"Therapeut {i:02d} (vestiging {i % LOCATIONS + 1})", f"9000{i:04d}", "", 1)
             for i in range(1, THERAPISTS + 1)])
    _bulk(connection, "nvh_memberships", ("therapist_id", "member_number", "valid_from", "valid_until"),
            [(i, f"NVH-{i}", "2019-01-01", None) for i in range(1, THERAPISTS + 1)])
    _bulk(connection, "kp_registrations", ("therapist_id", "kp_number", "level", "period_start", "period_end"),
            [(i, f"KP-{i}", "kwaliteitsregister", "2022-01-01", f"202{6 + i % 4}-12-{10 + i % 18}")
             for i in range(1, THERAPISTS + 1)])


def _insurers_and_catalogue(connection) -> None:
    _bulk(connection, "insurers", ("name", "uzovi", "claim_address", "claim_email", "active"),
            [(name, f"33{i:02d}", "", "", 1) for i, name in enumerate(INSURERS, 1)])
    _bulk(connection, "catalogue_items", ("code", "name", "technique", "prestatiecode_list", "prestatiecode",
                                        "price_cents", "duration_minutes", "active"),
            [(code, name, technique, "075" if prestatiecode else "", prestatiecode, cents, minutes, 1)
             for code, name, technique, prestatiecode, cents, minutes in CATALOGUE])


def _patients(connection) -> None:
    _bulk(connection, "patients", ("first_name", "infix", "last_name", "date_of_birth", "street", "postcode", "city",
                                 "phone", "email", "created_at", "updated_at"),
            [(f"Voornaam{i}", "", f"Achternaam{i:05d}", "1985-03-09", "Laan 1", "3511 AA", "Utrecht", "", "",
              STAMP, STAMP) for i in range(1, PATIENTS + 1)])


def _invoiced_treatments(rng: random.Random, scale: float, month_share: float = 1.0) -> Invoiced:
    """Every treatment of the year to date, each on an invoice of its own, most of them paid."""
    invoiced = Invoiced()
    tid = 0
    for day, count in _days_in_months(scale, month_share):
        for _ in range(count):
            tid += 1
            _invoiced_treatment(rng, invoiced, tid, day)
    return invoiced


def _invoiced_treatment(rng: random.Random, invoiced: Invoiced, tid: int, day: date) -> None:
    """Treatment, invoice and line number `tid` on `day`; a payment for 85 %; claimable if reimbursable."""
    item, indication = KINDS[rng.randrange(len(KINDS))]
    medical = INDICATIONS[Indication(indication)].medical
    _code, name, technique, _prestatiecode, price, _minutes = CATALOGUE[item]
    split = vat.split(Decimal(price) / 100, medical)
    gross, net, tax = to_cents(split.gross), to_cents(split.net), to_cents(split.vat)
    patient = rng.randrange(1, PATIENTS + 1)
    therapist = rng.randrange(1, THERAPISTS + 1)
    insurer = patient % len(INSURERS) + 1
    reimbursable = medical and rng.random() < 0.8
    insurer_cents = gross if reimbursable else 0
    invoiced.treatments.append((patient, therapist, day.isoformat(), item + 1, indication, "face", 1, "", "", gross,
                                "", int(medical), int(split.rate), net, tax, int(reimbursable),
                                insurer if reimbursable else None, insurer_cents, gross - insurer_cents, "{}",
                                STAMP, STAMP))
    issued = day + timedelta(days=rng.randrange(0, 4))
    invoiced.invoices.append((patient, "draft", issued.isoformat(), (issued + timedelta(days=14)).isoformat(),
                              gross, net, tax, STAMP))
    invoiced.lines.append((tid, tid, day.isoformat(), name, "", indication, int(medical), int(reimbursable), 1,
                           gross, net, tax, int(split.rate), "" if not medical else "vrijgesteld", "Therapeut",
                           f"9000{therapist:04d}", technique or "", "face", "", insurer_cents))
    roll = rng.random()
    if roll < 0.85:
        invoiced.payments.append((tid, (issued + timedelta(days=rng.randrange(1, 30))).isoformat(),
                                  "bank_transfer", gross, "", STAMP))
    if reimbursable:
        invoiced.claimable.append((tid, insurer, day, insurer_cents))


def _insert_invoicing(connection, invoiced: Invoiced) -> None:
    _bulk(connection, "treatments", (
        "patient_id", "therapist_id", "treatment_date", "catalogue_item_id", "indication", "body_area",
        "session_number", "device", "notes", "price_cents", "price_change_reason", "medical", "vat_rate",
        "net_cents", "vat_cents", "reimbursable", "insurer_id", "insurer_amount_cents", "patient_amount_cents",
        "assessment", "assessed_at", "created_at"), invoiced.treatments)
    _bulk(connection, "invoices", ("patient_id", "status", "issue_date", "due_date", "total_gross_cents",
                                 "total_net_cents", "total_vat_cents", "created_at"), invoiced.invoices)
    _bulk(connection, "invoice_lines", (
        "invoice_id", "treatment_id", "treatment_date", "description", "prestatiecode", "indication", "medical",
        "reimbursable", "quantity", "gross_cents", "net_cents", "vat_cents", "vat_rate", "vat_exemption",
        "therapist_name", "therapist_agb", "technique", "body_area", "referral", "insurer_amount_cents"),
        invoiced.lines)
    # Issued only now: the database refuses lines added to an issued invoice.
    connection.exec_driver_sql("UPDATE invoices SET status = 'issued', number = 'B' || id, series_year = 2026, "
                               "sequence = id, pdf_sha256 = 'bench'")
    _bulk(connection, "payments", ("invoice_id", "paid_on", "method", "amount_cents", "note", "created_at",
                                 "overpayment"), [(*payment, 0) for payment in invoiced.payments])


def _credit_notes(connection, rng: random.Random, invoiced: Invoiced) -> int:
    """About 1 % of the invoices credited in full, a week after issue; returns how many."""
    count = len(invoiced.invoices)
    credited = rng.sample(range(1, count + 1), count // 100)
    notes, note_lines = [], []
    for sequence, invoice_id in enumerate(sorted(credited), 1):
        _patient, _status, issued, _due, gross, net, tax, _stamp = invoiced.invoices[invoice_id - 1]
        on = date.fromisoformat(issued) + timedelta(days=7)
        notes.append((f"C{sequence}", 2026, sequence, invoice_id, on.isoformat(), "", -gross, -net, -tax, "{}", b"",
                      "bench", STAMP))
        note_lines.append((sequence, invoice_id, -gross, -net, -tax, invoiced.lines[invoice_id - 1][12]))
    _bulk(connection, "credit_notes", ("number", "series_year", "sequence", "invoice_id", "issue_date", "reason",
                                     "total_gross_cents", "total_net_cents", "total_vat_cents", "snapshot", "pdf",
                                     "pdf_sha256", "created_at"), notes)
    _bulk(connection, "credit_note_lines", ("credit_note_id", "invoice_line_id", "gross_cents", "net_cents",
                                          "vat_cents", "vat_rate"), note_lines)
    return len(notes)


def _claims(connection, rng: random.Random, claimable: list[tuple[int, int, date, int]]) -> int:
    """One closed batch per insurer and month; most lines paid, some rejected, some still pending. Returns the
    number of claim lines."""
    batches: dict[tuple[int, int], int] = {}
    claim_lines = []
    for line_id, insurer, day, cents in claimable:
        batch = batches.setdefault((insurer, day.month), len(batches) + 1)
        claim_lines.append(_claim_line(rng, batch, line_id, day, cents))
    _bulk(connection, "claim_batches", ("insurer_id", "number", "period_start", "period_end", "status",
                                      "claim_date", "created_at", "submitted_at"),
            [(insurer, f"{insurer}-{month:02d}", Month(2026, month).first.isoformat(),
              Month(2026, month).last.isoformat(), "closed", Month(2026, month).last.isoformat(), STAMP,
              f"{Month(2026, month).next().first.isoformat()} 09:00:00.000000")
             for (insurer, month), _batch in sorted(batches.items(), key=lambda item: item[1])])
    _bulk(connection, "claim_lines", ("batch_id", "invoice_line_id", "included", "live", "status", "amount_cents",
                                    "expected_cents", "claimed_cents", "paid_cents", "reasons", "rejection_code",
                                    "rejection_text", "outcome_at"), claim_lines)
    return len(claim_lines)


def _claim_line(rng: random.Random, batch: int, line_id: int, day: date, cents: int) -> tuple:
    roll = rng.random()
    status = "paid" if roll < 0.65 else "rejected" if roll < 0.8 else "pending"
    code, reason = REASONS[rng.randrange(len(REASONS))] if status == "rejected" else ("", "")
    outcome = f"2026-{min(day.month + 1, 12):02d}-{rng.randrange(1, 28):02d} 10:00:00.000000"
    return (batch, line_id, 1, None if status == "rejected" else 1, status, cents, cents, cents,
            cents if status == "paid" else 0, "[]", code, reason, outcome if status != "pending" else None)


def report_once(app, folder: Path, month: Month, figures: list[float] | None = None, with_books: bool = False) -> float:
    """Seconds for the report's figures and its workbook (`with_books`: and the month's invoice register and
    payments, as the download with books and the month-end pack write them); the figures' own seconds appended to
    `figures`."""
    with app.app_context():
        start = time.perf_counter()
        report = queries.build_report(month, today=date(2026, 11, 2), side_by_side=True)  # as the download does
        if figures is not None:
            figures.append(time.perf_counter() - start)
        books = MonthBooks.of(month, report.as_of) if with_books else None
        workbook.write_report(report, folder / f"report-{month.iso}.xlsx", books)
        elapsed = time.perf_counter() - start
        db.session.remove()
    return elapsed


def peak_mib(app, folder: Path, month: Month) -> float:
    gc.collect()
    tracemalloc.start()
    report_once(app, folder, month)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def signed_in_client(app):
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    client.post("/login", data={"email": "manager@bench.nl", "password": "bench-password", "csrf_token": token})
    return client


def timed_get(client, url: str) -> float:
    start = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, (url, response.status_code)
    cache.keeper.wait()  # the summary is kept in the background after the view: done before the next change
    return elapsed * 1000


def change_october(app, run: int) -> None:
    """Committed changes to October in every kind of fact the dashboard keeps, different rows on each run."""
    with app.app_context():
        # An invoiced treatment of October moved to another therapist: its treatments, revenue and claims.
        db.session.execute(text(
            "UPDATE treatments SET therapist_id = therapist_id % :therapists + 1 WHERE id = (SELECT min(t.id) + :run "
            "FROM treatments t WHERE t.treatment_date >= '2026-10-01')"),
            {"therapists": LOCATIONS * THERAPISTS_PER_LOCATION, "run": run})
        # A pending claim of an October treatment paid.
        db.session.execute(text(
            "UPDATE claim_lines SET status = 'paid', paid_cents = claimed_cents, outcome_at = :stamp WHERE id = ("
            "SELECT min(c.id) FROM claim_lines c JOIN invoice_lines l ON l.id = c.invoice_line_id "
            "WHERE c.status = 'pending' AND l.treatment_date >= '2026-10-01')"), {"stamp": STAMP})
        # A payment of one cent on 31 October on an invoice issued in October.
        db.session.execute(text(
            "INSERT INTO payments (invoice_id, paid_on, method, amount_cents, note, created_at, overpayment) SELECT "
            "id, '2026-10-31', 'bank_transfer', 1, '', :stamp, :no FROM invoices WHERE status = 'issued' AND "
            "issue_date BETWEEN '2026-10-01' AND '2026-10-31' ORDER BY id LIMIT 1 OFFSET :run"),
            {"stamp": STAMP, "run": run, "no": False})
        db.session.commit()
        emptied = db.session.execute(text("SELECT family, month FROM report_facts WHERE facts IS NULL")).all()
        assert {(family, str(month)) for family, month in emptied} >= {
            ("treatments", "2026-10-01"), ("revenue", "2026-10-01"), ("claims", "2026-10-01"),
            ("receivables", "2026-10-01")}, emptied


def empty_summary(app) -> None:
    with app.app_context():
        db.session.execute(text("DELETE FROM report_facts"))
        db.session.commit()


def main() -> int:
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0  # smaller while developing; the figures are at 1
    with tempfile.TemporaryDirectory() as folder:
        folder_path = Path(folder)
        with _support.database(folder_path, "bench.db") as (uri, options):
            started = time.perf_counter()
            counts = build_chain(uri, options, scale)
            built = time.perf_counter() - started
            app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SQLALCHEMY_ENGINE_OPTIONS": options,
                              "TWO_FACTOR_REQUIRED_ROLES": ()})
            report_once(app, folder_path, OCTOBER)  # warm: imports, the page cache
            figures: list[float] = []
            report_s = statistics.median(report_once(app, folder_path, OCTOBER, figures) for _ in range(REPORT_RUNS))
            figures_s = statistics.median(figures)
            books_s = statistics.median(report_once(app, folder_path, OCTOBER, with_books=True)
                                        for _ in range(REPORT_RUNS))
            october_mib = peak_mib(app, folder_path, OCTOBER)

            client = signed_in_client(app)
            url = "/reports/?month=2026-10"
            rebuild = []
            for _ in range(REBUILD_RUNS):
                empty_summary(app)
                rebuild.append(timed_get(client, url))
            changed = []
            for run in range(DASHBOARD_RUNS):
                change_october(app, run)
                changed.append(timed_get(client, url))
            unchanged = [timed_get(client, url) for _ in range(DASHBOARD_RUNS)]
            dashboard_ms = statistics.median(changed)
            unchanged_ms, rebuild_ms = statistics.median(unchanged), statistics.median(rebuild)
            _dispose(app)

        # The same chain with a quarter of the treatments: the report's memory should not follow.
        with _support.database(folder_path, "small.db") as (uri, options):
            small = build_chain(uri, options, scale=scale / 4)
            small_app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SQLALCHEMY_ENGINE_OPTIONS": options,
                              "TWO_FACTOR_REQUIRED_ROLES": ()})
            report_once(small_app, folder_path, OCTOBER)
            small_mib = peak_mib(small_app, folder_path, OCTOBER)
            _dispose(small_app)

    print(f"{LOCATIONS} locations, {LOCATIONS * THERAPISTS_PER_LOCATION} therapists, {PATIENTS} patients in "
          f"{_support.label()}: {counts['treatments']} treatments January-October 2026 ({MONTH_TREATMENTS} in "
          f"October), {counts['invoices']} invoices, {counts['payments']} payments, {counts['credit_notes']} credit "
          f"notes, {counts['claim_lines']} claim lines; built in {built:.1f} s")
    _support.figure("monthly_report_s", f"{report_s:.2f}",
                    f"s (goal < 2; figures + workbook of six sheets, as downloaded; median of {REPORT_RUNS})")
    _support.figure("monthly_report_figures_s", f"{figures_s:.2f}",
                    f"s (the figures alone, read by SQL: queries.build_report; the rest of monthly_report_s is the "
                    f"workbook, the same on either backend; median of {REPORT_RUNS})")
    _support.figure("monthly_report_with_books_s", f"{books_s:.2f}",
                    "s (the same with the month's invoice register and payments as two more sheets, read page by "
                    f"page: the download with books and the month-end pack's report; median of {REPORT_RUNS})")
    _support.figure("dashboard_ms", f"{dashboard_ms:.0f}",
                    f"ms (goal < 300; median of {DASHBOARD_RUNS} views of October, each right after a committed "
                    "change to October's treatments, revenue, claims and receivables: October read afresh, "
                    "January-September from the summary table, nothing kept in the process)")
    _support.figure("dashboard_unchanged_ms", f"{unchanged_ms:.0f}",
                    f"ms (nothing changed since the last view; median of {DASHBOARD_RUNS})")
    _support.figure("dashboard_rebuild_ms", f"{rebuild_ms:.0f}",
                    "ms (summary table empty: every month and the receivables read afresh, as on the first view "
                    f"after the upgrade; median of {REBUILD_RUNS})")
    _support.figure("monthly_report_peak_mib", f"{october_mib:.1f}",
                    f"MiB (peak Python memory; {counts['treatments']} treatments to date)")
    _support.figure("monthly_report_peak_mib_quarter", f"{small_mib:.1f}",
                    f"MiB (the same chain with {small['treatments']} treatments to date)")
    return 0


def _dispose(app) -> None:
    """Close the app's connections (PostgreSQL: before its schema is dropped)."""
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
