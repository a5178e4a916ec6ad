"""The access log at 10 thousand and at 10 million rows on PostgreSQL: do its pages and its writes stay flat?

Two schemas of their own on BENCH_POSTGRES_URL (dropped at the end), one with 10,000 access-log rows and one with
ACCESS_LOG_BENCH_ROWS (default 10,000,000), built in bulk: the tables from the models (`create_all`, so with the
model's indexes), then users, patients and the log with INSERT ... SELECT over generate_series, the log's other
indexes dropped during the load and built after it, then VACUUM ANALYZE. The rows cover the two years up to now, an
entry every 6 seconds at 10 million; a patient for every 200 rows (so a patient's own log is about 170 entries at
either size) and a user for every 100,000 (at least 10); actions as a practice has them (75 % view, 0.1 % delete).
Their hashes do not form a chain (only the newest row's hash is read by the next insert, which chains onto it).

Measured through the app's own code (backoffice/access_log/services.py, the functions the views call, with the
app's PAGE_SIZE), each in an application context of its own, each reading on one size and straight after on the
other (in turns: ABBA), so that the load of a busy machine falls on both alike; medians of ACCESS_LOG_BENCH_RUNS
(default 150):
- the newest page (the browse page without filters) and one patient's log (its first page; a random patient each
  time, so not always cached);
- filtered searches, each filling at least a page at either size: by user, by action (print), by patient, one week,
  a user in one month; the largest median is the search figure;
- writing a row: `audit.record` + commit (the chain's lock and its read of the newest hash in one round trip, the
  INSERT with its indexes, the commit), as a request's log write, median of ACCESS_LOG_BENCH_INSERTS (default 600);
- besides (not in the goal): a page far down the log (the keyset cursor of a row in the middle), the break-the-glass
  page, the whole pages through the Flask test client as a signed-in admin, the queries each reading runs and the
  index PostgreSQL picks for it, and, at the end, what deleting the oldest month costs (retention).

Prints `figure access_log_page_ms_10k_pg` / `_10m_pg` (the larger of the newest page and a patient's log, both also
printed), `access_log_search_ms_*`, `access_log_insert_us_*`; goal: 10M within 1.2x of 10k. With a smaller
ACCESS_LOG_BENCH_ROWS the big figures are named after it (`_1m_pg`). Without a reachable PostgreSQL it says so and
exits 0 (1 with REQUIRE_POSTGRES=1).
"""

from __future__ import annotations

import os
import random
import re
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import create_engine, event, select, text

from backoffice import audit, create_app
from backoffice.access_log import services
from backoffice.access_log.services import NEWEST_FIRST, LogFilter
from backoffice.care.services import break_glass_entries
from backoffice.clock import utc_now
from backoffice.extensions import db
from backoffice.models import AccessLog, User

POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SMALL = 10_000
BIG = int(os.environ.get("ACCESS_LOG_BENCH_ROWS", "10000000"))
RUNS = int(os.environ.get("ACCESS_LOG_BENCH_RUNS", "150"))
INSERTS = int(os.environ.get("ACCESS_LOG_BENCH_INSERTS", "600"))
HTTP_RUNS = int(os.environ.get("ACCESS_LOG_BENCH_HTTP_RUNS", "15"))
SPAN_DAYS = 730
PASSWORD = "bench-access-log-password"  # noqa: S105 - a throwaway user in a throwaway schema
ADMIN = "admin@bench.nl"


def label(rows: int) -> str:
    """10000 -> 10k, 10000000 -> 10m: the figures' size suffix."""
    for unit, size in (("m", 1_000_000), ("k", 1_000)):
        if rows >= size and rows % size == 0:
            return f"{rows // size}{unit}"
    return str(rows)


def schema_options(schema: str) -> dict[str, Any]:
    return {"connect_args": {"options": f"-c search_path={schema}"}}


def reachable(url: str) -> str | None:
    try:
        engine = create_engine(url)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:  # any failure to connect: no PostgreSQL here
        return error.__class__.__name__
    return None


# ---- building --------------------------------------------------------------------------------------------------

@dataclass
class Size:
    rows: int
    schema: str
    app: Any = None
    patients: int = 0
    users: int = 0
    build_s: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    times: dict[str, list[float]] = field(default_factory=dict)
    statements: dict[str, int] = field(default_factory=dict)
    plans: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return label(self.rows)


_LOG_ROWS = """
INSERT INTO access_log (at, user_id, user_email, user_role, on_behalf_of, patient_id, action, subject, detail,
                        ip_address, prev_hash, row_hash)
SELECT :start + CAST(:step AS bigint) * n * interval '1 microsecond', u, 'user' || u || '@bench.nl',
       (ARRAY['admin', 'therapist', 'manager'])[1 + u % 3], '',
       CASE WHEN a = 'search' OR mod(abs(hashint8extended(n, 2)), 100) < 10 THEN NULL
            ELSE 1 + mod(abs(hashint8extended(n, 3)), :patients) END,
       a, CASE a WHEN 'view' THEN 'patient' WHEN 'search' THEN 'patient list' ELSE 'treatment ' || mod(n, 9973) END,
       CASE a WHEN 'update' THEN 'changed: phone, email' WHEN 'search' THEN '25 shown: #1 #2 #3' ELSE '' END,
       '10.1.' || mod(n, 250) || '.' || mod(n, 199), lpad(to_hex(n - 1), 64, '0'), lpad(to_hex(n), 64, '0')
FROM (SELECT n, 1 + mod(abs(hashint8extended(n, 1)), :users) AS u,
             CASE WHEN r < 750 THEN 'view' WHEN r < 830 THEN 'update' WHEN r < 890 THEN 'create'
                  WHEN r < 930 THEN 'print' WHEN r < 970 THEN 'search' WHEN r < 999 THEN 'export'
                  ELSE 'delete' END AS a
      FROM (SELECT n, mod(abs(hashint8extended(n, 4)), 1000) AS r FROM generate_series(1, :rows) n) numbers) picked
"""


def build(size: Size, keys: dict[str, str]) -> None:
    """The schema's tables and rows, as the owner (the bench's URL); the app object that reads them."""
    started = time.perf_counter()
    size.app = create_app({**keys, "SQLALCHEMY_DATABASE_URI": POSTGRES_URL, "BACKOFFICE_ENV": "development",
                           "SQLALCHEMY_ENGINE_OPTIONS": schema_options(size.schema), "TWO_FACTOR_REQUIRED_ROLES": (),
                           "PASSWORD_HASH_METHOD": "scrypt:4096:8:1", "WTF_CSRF_ENABLED": False})
    size.patients = max(50, size.rows // 200)
    size.users = max(10, size.rows // 100_000)
    with size.app.app_context():
        db.create_all()
        admin = User(email=ADMIN, name="Bench Admin", role="admin")
        admin.set_password(PASSWORD)
        db.session.add(admin)
        db.session.commit()
        with db.engine.begin() as connection:
            superuser = connection.scalar(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))
            if superuser:  # skip the foreign keys' per-row checks: the generated ids are in range
                connection.execute(text("SET LOCAL session_replication_role = replica"))
            connection.execute(text(
                "INSERT INTO users (email, name, password_hash, role, active, session_version, created_at, "
                "two_factor_failures, demo) SELECT 'user' || n || '@bench.nl', 'User ' || n, 'x', "
                "(ARRAY['admin', 'therapist', 'manager'])[1 + n % 3], true, 0, now(), 0, false "
                "FROM generate_series(2, :users + 1) n"), {"users": size.users})
            connection.execute(text(
                "INSERT INTO patients (first_name, infix, last_name, date_of_birth, street, postcode, city, phone, "
                "email, created_at, updated_at) SELECT 'Voornaam' || n, '', 'Achternaam' || n, "
                "date '1950-01-01' + n % 20000, 'Straat ' || n, '3511 AA', 'Utrecht', '', '', now(), now() "
                "FROM generate_series(1, :patients) n"), {"patients": size.patients})
            indexes = list(connection.execute(text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                "AND tablename = 'access_log' AND indexname <> 'pk_access_log'")))
            for name, _definition in indexes:
                connection.execute(text(f'DROP INDEX "{name}"'))
            start = utc_now() - timedelta(days=SPAN_DAYS)
            step = SPAN_DAYS * 86_400 * 1_000_000 // size.rows  # microseconds between entries
            phase = time.perf_counter()
            connection.execute(text(_LOG_ROWS), {"start": start, "step": step, "rows": size.rows,
                                                 "patients": size.patients, "users": size.users + 1})
            size.phases["rows"] = time.perf_counter() - phase
            phase = time.perf_counter()
            connection.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))  # each index sorted in memory
            for _name, definition in indexes:
                connection.execute(text(definition))
            size.phases["indexes"] = time.perf_counter() - phase
        phase = time.perf_counter()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE access_log"))
            connection.execute(text("VACUUM ANALYZE patients"))
            connection.execute(text("VACUUM ANALYZE users"))
        size.phases["vacuum"] = time.perf_counter() - phase
        db.session.remove()
    size.build_s = time.perf_counter() - started


# ---- measuring -------------------------------------------------------------------------------------------------

@contextmanager
def statements_run(engine, into: list[tuple[str, Any]]):
    def remember(conn, cursor, statement, parameters, context, executemany):
        into.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", remember)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", remember)


def timed(size: Size, kind: str, work: Callable[[], Any], explain: bool = False) -> None:
    """Run `work` once in an application context of its own; note its time (and once its statements and plan)."""
    with size.app.app_context():
        seen: list[tuple[str, Any]] = []
        with statements_run(db.engine, seen):
            started = time.perf_counter()
            work()
            elapsed = time.perf_counter() - started
        size.times.setdefault(kind, []).append(elapsed)
        if kind not in size.statements:
            size.statements[kind] = len(seen)
            if explain and seen:
                size.plans[kind] = plan_of(*seen[0])
        db.session.remove()


def plan_of(statement: str, parameters: Any) -> str:
    """The plan's shape in a line: the nodes and the index each scans."""
    with db.engine.connect() as connection:
        lines = [row[0] for row in connection.exec_driver_sql("EXPLAIN " + statement, parameters)]
    nodes = []
    for line in lines:
        match = re.search(r"(?:->\s*)?([A-Z][A-Za-z ]+?)(?: using (\w+))?(?: on \w+)?\s+\(cost", line)
        if match:
            nodes.append(match.group(1) + (f" {match.group(2)}" if match.group(2) else ""))
    return " > ".join(nodes)


def middle_cursor(size: Size):
    with size.app.app_context():
        row = db.session.execute(select(AccessLog.at, AccessLog.id).where(AccessLog.id == size.rows // 2)).one()
        db.session.remove()
    return NEWEST_FIRST.cursor_of(row)


def readings(size: Size, rng: random.Random, since, until) -> dict[str, Callable[[], Any]]:
    per_page = size.app.config["PAGE_SIZE"]
    patient = rng.randrange(1, size.patients + 1)
    user = rng.randrange(2, size.users + 2)
    return {
        "newest_page": lambda: services.browse_page(LogFilter(), per_page),
        "patient_page": lambda: services.patient_page(patient, per_page),
        "search_user": lambda: services.browse_page(LogFilter(user_id=user), per_page),
        "search_action": lambda: services.browse_page(LogFilter(action="print"), per_page),
        "search_patient": lambda: services.browse_page(LogFilter(patient_id=patient), per_page),
        "search_week": lambda: services.browse_page(LogFilter(since=since, until=since + timedelta(days=7)),
                                                    per_page),
        "search_user_month": lambda: services.browse_page(
            LogFilter(user_id=user, since=until - timedelta(days=30), until=until), per_page),
        "break_glass_page": lambda: NEWEST_FIRST.page(break_glass_entries(), per_page),
    }


# The hash chain's read of the newest entry's hash (audit_chain._lock_and_read_last_hash), for its plan.
CHAIN_HEAD = "SELECT row_hash FROM access_log ORDER BY id DESC LIMIT 1"
SEARCHES = ("search_user", "search_action", "search_patient", "search_week", "search_user_month")


def write_one(size: Size, rng: random.Random) -> None:
    """One request's log write: the signed-in user is loaded (not timed), then record + commit."""
    with size.app.app_context():
        user = db.session.scalar(select(User).where(User.email == ADMIN))
        patient = rng.randrange(1, size.patients + 1)
        started = time.perf_counter()
        audit.record("view", patient, "patient", user=user)
        db.session.commit()
        elapsed = time.perf_counter() - started
        size.times.setdefault("insert", []).append(elapsed)
        db.session.remove()


def http_pages(size: Size, rng: random.Random, runs: int) -> None:
    client = size.app.test_client()
    response = client.post("/login", data={"email": ADMIN, "password": PASSWORD})
    assert response.status_code == 302, response.status_code
    for _ in range(runs):
        for kind, url in (("http_newest_page", "/access-log/"),
                          ("http_patient_page", f"/access-log/patients/{rng.randrange(1, size.patients + 1)}")):
            started = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, (url, response.status_code)
            size.times.setdefault(kind, []).append(elapsed)


def measure(sizes: list[Size]) -> None:
    rng = random.Random(15)
    now = utc_now()
    since, until = now - timedelta(days=SPAN_DAYS // 2), now - timedelta(days=1)
    cursors = {size.name: middle_cursor(size) for size in sizes}
    per_page = sizes[0].app.config["PAGE_SIZE"]

    def work_of(size: Size) -> dict[str, Callable[[], Any]]:
        return readings(size, rng, since, until) | {
            "deep_page": lambda: services.browse_page(LogFilter(), per_page, cursors[size.name])}

    # Warm-up: a first round for each, not counted (the plans, the connection pool, the ORM's compiled SQL).
    for size in sizes:
        for kind, work in work_of(size).items():
            timed(size, kind, work, explain=True)
        write_one(size, rng)
        size.times.clear()
        with size.app.app_context():
            size.plans["insert"] = "chain head: " + plan_of(CHAIN_HEAD, {})
            db.session.remove()
    # Each reading on one size and straight after on the other, the order turned every round (ABBA): a burst of
    # the machine's other load falls on both sizes alike.
    inserts_per_round = max(1, INSERTS // RUNS)
    for round_ in range(RUNS):
        order = sizes if round_ % 2 == 0 else sizes[::-1]
        works = {size.name: work_of(size) for size in sizes}
        for kind in works[sizes[0].name]:
            for size in order:
                timed(size, kind, works[size.name][kind])
        for _ in range(inserts_per_round):
            for size in order:
                write_one(size, rng)
    for round_ in range(HTTP_RUNS):
        for size in sizes if round_ % 2 == 0 else sizes[::-1]:
            http_pages(size, rng, 1)


def purge_oldest_month(size: Size) -> tuple[float, int]:
    """Retention: delete the entries of the log's first month as the owner would (the app's role cannot delete,
    and the append-only trigger is lifted for it), by the range of ix_access_log_at_id."""
    with size.app.app_context(), db.engine.begin() as connection:
        first = connection.scalar(text("SELECT min(at) FROM access_log"))
        connection.execute(text("ALTER TABLE access_log DISABLE TRIGGER access_log_no_change"))
        started = time.perf_counter()
        deleted = connection.execute(text("DELETE FROM access_log WHERE at < :cut"),
                                     {"cut": first + timedelta(days=30)}).rowcount
        elapsed = time.perf_counter() - started
        connection.execute(text("ALTER TABLE access_log ENABLE TRIGGER access_log_no_change"))
    return elapsed, deleted


# ---- reporting -------------------------------------------------------------------------------------------------

def median_ms(size: Size, kind: str) -> float:
    return statistics.median(size.times[kind]) * 1000


def report(small: Size, big: Size, purge: tuple[float, int]) -> None:
    print(f"PostgreSQL; built {small.rows:,} rows in {small.build_s:.1f} s and {big.rows:,} rows in "
          f"{big.build_s:.1f} s ({big.patients:,} patients, {big.users} users); {RUNS} runs of each reading and "
          f"{len(big.times['insert'])} writes per size, alternating between the sizes; medians. PAGE_SIZE "
          f"{big.app.config['PAGE_SIZE']}.")
    kinds = [kind for kind in small.times if kind != "insert"]
    print(f"  {'reading':20s} {'queries':>7s} {small.name:>9s} {big.name:>9s}  ratio  plan at {big.name}")
    for kind in kinds:
        a, b = median_ms(small, kind), median_ms(big, kind)
        print(f"  {kind:20s} {big.statements.get(kind, '-'):>7} {a:7.2f}ms {b:7.2f}ms  {b / a:5.2f}  "
              f"{big.plans.get(kind, '')}")
    # The write's round trips on PostgreSQL: the chain's lock with its read of the newest hash (one simple query,
    # audit_chain._postgres_lock_and_read_last_hash), the INSERT; then the commit.
    a, b = median_ms(small, "insert") * 1000, median_ms(big, "insert") * 1000
    print(f"  {'insert+commit':20s} {2:7d} {a:7.0f}us {b:7.0f}us  {b / a:5.2f}  {big.plans['insert']}")
    for size in (small, big):
        newest, patient = median_ms(size, "newest_page"), median_ms(size, "patient_page")
        print(f"figure access_log_newest_page_ms_{size.name}_pg {newest:.2f} ms")
        print(f"figure access_log_patient_page_ms_{size.name}_pg {patient:.2f} ms")
        print(f"figure access_log_page_ms_{size.name}_pg {max(newest, patient):.2f} ms")
    for size in (small, big):
        worst = max(SEARCHES, key=lambda kind: median_ms(size, kind))
        print(f"figure access_log_search_ms_{size.name}_pg {median_ms(size, worst):.2f} ms ({worst})")
    for size in (small, big):
        print(f"figure access_log_insert_us_{size.name}_pg {median_ms(size, 'insert') * 1000:.0f} us")
    for kind in ("page", "search"):
        worst_small = max(median_ms(small, k) for k in (("newest_page", "patient_page") if kind == "page"
                                                        else SEARCHES))
        worst_big = max(median_ms(big, k) for k in (("newest_page", "patient_page") if kind == "page"
                                                    else SEARCHES))
        print(f"ratio {kind} {big.name}/{small.name}: {worst_big / worst_small:.2f} (goal <= 1.2)")
    print(f"ratio insert {big.name}/{small.name}: {median_ms(big, 'insert') / median_ms(small, 'insert'):.2f} "
          "(goal <= 1.2)")
    seconds, deleted = purge
    print(f"figure access_log_purge_month_s_{big.name}_pg {seconds:.1f} s ({deleted:,} rows of the oldest month, "
          "by the range of ix_access_log_at_id)")


def main() -> int:
    reason = reachable(POSTGRES_URL)
    if reason:
        print(f"PostgreSQL not reachable at {POSTGRES_URL} ({reason}): the access-log benchmark needs it; skipped.")
        return 1 if os.environ.get("REQUIRE_POSTGRES") == "1" else 0
    keys = {"SECRET_KEY": secrets.token_hex(32), "FIELD_ENCRYPTION_KEY": secrets.token_hex(32),
            "ACCESS_LOG_KEY": secrets.token_hex(32)}
    tag = uuid.uuid4().hex[:8]
    sizes = [Size(SMALL, f"bench_access_log_{tag}_small"), Size(BIG, f"bench_access_log_{tag}_big")]
    owner = create_engine(POSTGRES_URL)
    try:
        for size in sizes:
            with owner.begin() as connection:
                connection.execute(text(f'CREATE SCHEMA "{size.schema}"'))
            build(size, keys)
            print(f"built {size.rows:,} rows in {size.build_s:.1f} s ("
                  + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in size.phases.items()) + ")", flush=True)
        measure(sizes)
        purge = purge_oldest_month(sizes[1])
        report(*sizes, purge)
    finally:
        for size in sizes:
            if size.app is not None:
                with size.app.app_context():
                    db.session.remove()
                    db.engine.dispose()
        with owner.begin() as connection:
            for size in sizes:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{size.schema}" CASCADE'))
        owner.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
