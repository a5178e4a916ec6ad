"""How long a writer waits while the dashboard rebuilds its summary, on PostgreSQL.

The chain of bench_monthly_report.py (a quarter of it by default: 45,000 treatments January-October 2026, every
one invoiced, most paid, claimed) is built straight into a schema of its own on PostgreSQL by COPY
(bench_monthly_report.build_chain; the server of bench/_support.py: BENCH_POSTGRES_URL, else TEST_POSTGRES_URL,
else the local test database; the schema is dropped at the end).
Then a second process records treatments one at a time (INSERT of an October treatment, COMMIT; the summary
table's triggers fire as for any write), every few milliseconds, and times each insert with its commit, while
this process:
- views the dashboard with the summary table empty (every month and the receivables read afresh) and waits for
  the background job that keeps what the view read (claim, wait for writes in flight, read, store), REBUILD_RUNS
  times;
- views it again right after each of the writer's inserts changed October, DASHBOARD_RUNS times.

Prints `figure dashboard_write_wait_ms <value> ms`: the longest the writer waited for a lock (PostgreSQL's
pg_stat_activity shows wait_event_type 'Lock', sampled every millisecond by a thread of the writer's process)
while the views and their keeping jobs ran (goal <= 20); and, for context, the inserts' own times with and
without the dashboard (on a shared machine their longest is mostly scheduling noise).
Run with `.venv/bin/python bench/bench_dashboard_wait.py [scale]`.
"""

from __future__ import annotations

import multiprocessing
import statistics
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from backoffice import create_app
from backoffice.extensions import db
from backoffice.reporting import cache

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _support  # noqa: E402 - next to this file
import bench_monthly_report as chain  # noqa: E402 - the chain's builder, next to this file

POSTGRES_URL = _support.postgres_url()  # BENCH_POSTGRES_URL, else TEST_POSTGRES_URL, else the local test database
SCALE = float(sys.argv[1]) if len(sys.argv) > 1 else 0.25
REBUILD_RUNS = 3
DASHBOARD_RUNS = 10
BASELINE_SECONDS = 2.0
PAUSE_SECONDS = 0.003
WATCH_SECONDS = 0.001  # how often the watcher looks at the writer (each look costs PostgreSQL a little CPU)
URL = "/reports/?month=2026-10"


def writer(url: str, schema: str, template_id: int, stop, started, results) -> None:
    """Record October treatments one by one (each its own transaction) until `stop`. Reports (start, seconds) of
    each insert with its commit, and the lock waits a watcher thread saw: PostgreSQL's pg_stat_activity shows
    wait_event_type 'Lock' while the writer waits for a lock another transaction holds (sampled each WATCH_SECONDS)."""
    import threading

    import psycopg

    timings: list[tuple[float, float]] = []
    waits: list[tuple[float, float]] = []
    columns = ("patient_id, therapist_id, treatment_date, catalogue_item_id, indication, body_area, session_number, "
               "device, notes, price_cents, price_change_reason, medical, vat_rate, net_cents, vat_cents, "
               "reimbursable, insurer_id, insurer_amount_cents, patient_amount_cents, assessment, assessed_at, "
               "created_at")
    statement = f"INSERT INTO treatments ({columns}) SELECT {columns} FROM treatments WHERE id = %s"  # noqa: S608
    with psycopg.connect(url, options=f"-c search_path={schema}") as connection, \
            psycopg.connect(url, autocommit=True) as watcher_connection:
        pid = connection.info.backend_pid

        def watch() -> None:
            since = None
            while not stop.is_set():
                row = watcher_connection.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s",
                                                 (pid,)).fetchone()
                now = time.monotonic()
                if row and row[0] == "Lock":
                    since = now if since is None else since
                elif since is not None:
                    waits.append((since, now - since))
                    since = None
                time.sleep(WATCH_SECONDS)

        watcher = threading.Thread(target=watch)
        watcher.start()
        started.set()
        while not stop.is_set():
            start = time.monotonic()
            connection.execute(statement, (template_id,))
            connection.commit()
            timings.append((start, time.monotonic() - start))
            time.sleep(PAUSE_SECONDS)
        watcher.join()
    results.put((timings, waits))


def main() -> int:
    schema = f"bench_wait_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        options = {"connect_args": {"options": f"-c search_path={schema}"}}
        started = time.perf_counter()
        counts = chain.build_chain(POSTGRES_URL, options, scale=SCALE)  # COPY straight into the schema
        built = time.perf_counter() - started
        app = create_app({"SQLALCHEMY_DATABASE_URI": POSTGRES_URL, "SQLALCHEMY_ENGINE_OPTIONS": options,
                          "TWO_FACTOR_REQUIRED_ROLES": ()})  # the pages are measured, not the second factor
        return measure(app, schema, counts, built)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _run_writer(app, schema: str, template_id: int, work) -> tuple[list, list]:
    context = multiprocessing.get_context("spawn")
    stop, ready, results = context.Event(), context.Event(), context.Queue()
    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    process = context.Process(target=writer, args=(url, schema, template_id, stop, ready, results))
    process.start()
    ready.wait(30)
    try:
        work()
    finally:
        stop.set()
        timings, waits = results.get(timeout=60)
        process.join(30)
    return timings, waits


def measure(app, schema: str, counts: dict[str, int], built: float) -> int:
    assert not app.testing and cache.in_background(app)  # the production path: keeping in the background
    with app.app_context():
        template_id = db.session.scalar(text("SELECT min(id) FROM treatments WHERE treatment_date >= '2026-10-01'"))
        client = chain.signed_in_client(app)
        chain.timed_get(client, URL)  # warm: imports, templates, the connection pool
        cache.keeper.wait()
        baseline, _waits = _run_writer(app, schema, template_id, lambda: time.sleep(BASELINE_SECONDS))

        windows: list[tuple[float, float]] = []
        views: dict[str, list[float]] = {"rebuild": [], "changed": []}

        def dashboard() -> None:
            time.sleep(0.2)
            for run in range(REBUILD_RUNS + DASHBOARD_RUNS):
                kind = "rebuild" if run < REBUILD_RUNS else "changed"
                if kind == "rebuild":
                    chain.empty_summary(app)
                else:
                    time.sleep(0.05)  # the writer has changed October since the last view
                start = time.monotonic()
                views[kind].append(chain.timed_get(client, URL))
                cache.keeper.wait()
                windows.append((start, time.monotonic()))

        during, waits = _run_writer(app, schema, template_id, dashboard)
        kept = db.session.scalar(text("SELECT count(*) FROM report_facts WHERE facts IS NOT NULL"))

    usual = statistics.median(seconds for _start, seconds in baseline) * 1000
    overlapping = [seconds * 1000 for start, seconds in during
                   if any(start < end and start + seconds > begin for begin, end in windows)]
    waits = [(start, seconds) for start, seconds in waits if any(begin <= start < end for begin, end in windows)]
    waited = max((seconds * 1000 for _start, seconds in waits), default=0.0)
    print(f"PostgreSQL, the chain at scale {SCALE}: {counts['treatments']} treatments, {counts['invoices']} invoices, "
          f"{counts['payments']} payments, {counts['claim_lines']} claim lines; built in {built:.1f} s")
    print(f"inserts alone: {len(baseline)}, median {usual:.1f} ms, longest "
          f"{max(seconds for _start, seconds in baseline) * 1000:.1f} ms (the machine's own noise)")
    print(f"inserts during the dashboard: {len(overlapping)}, median {statistics.median(overlapping):.1f} ms, "
          f"longest {max(overlapping):.1f} ms; {len(waits)} lock waits seen; dashboard views: rebuild median "
          f"{statistics.median(views['rebuild']):.0f} ms, after a change median "
          f"{statistics.median(views['changed']):.0f} ms; {kept} summary rows kept at the end")
    print(f"figure dashboard_write_wait_ms {waited:.1f} ms (goal <= 20; the longest a treatment insert waited for a "
          f"lock while the dashboard rebuilt or re-read October and its background job kept the summary: "
          f"{REBUILD_RUNS} rebuilds, {DASHBOARD_RUNS} views after a change)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
