"""Load from outside: gunicorn (backoffice/gunicorn_conf.py) on PostgreSQL, a bounded number of signed-in clients for
a bounded time, a realistic mix of pages and writes; then a check that nothing was lost.

Setup (in a schema of its own on BENCH_POSTGRES_URL, dropped afterwards):
- `flask db upgrade` as the owner, then `flask db grant-app-role --create` for the role the server connects as
  (APP_ROLE): the server runs with production's database rights.
- Data in bulk (INSERT ... SELECT over generate_series; catalogue, insurers and coverage rules from bench/assess.py's
  builders): LOAD_PATIENTS patients with an intake, six in seven insured; LOAD_TREATMENTS treatments over the past
  year, copied from a few recorded through the real service (so their stored assessments are real); LOAD_INVOICES of
  them on issued invoices (copied from one issued through the real service, with its stored PDF), most paid.
- One therapist user (and therapist) per client. The server runs with BACKOFFICE_ENV=development because the bare
  routes of part 2 are refused in production, but with production's other choices set explicitly (gunicorn_conf.py,
  the app's limited role, strong keys, secure cookies, scrypt passwords). The practice's two-factor setting for
  therapists is off, so the clients sign in by password as therapists of such a practice do; no demo exemption.

Phases:
1. Load: LOAD_CLIENTS processes (own http.client client, keep-alive, cookies, CSRF tokens from the pages) for
   LOAD_SECONDS: patient page, patient list (first page or the next), treatment list (idem), invoice list, stored
   invoice PDF, recording a treatment (form, POST, the treatment's page) and issuing an invoice (choose treatments,
   POST the draft, its page, POST issue, its page). Each client works on its own share of the patients, as
   therapists do, so two never draft the same patient's treatments. The server queues each issue on the print
   queue (PostgreSQL, a schema of its own) and a print worker (huey_consumer, as in production) numbers the invoice
   and renders its PDF right after the request: the request checks the draft and answers (issue 15).
2. The framework's own cost: LOAD_OVERHEAD_CLIENTS clients (default 2, fewer than the workers: the times are the
   pages' own, not a queue's) for LOAD_OVERHEAD_SECONDS ask the patient list and a patient page, each once as the
   app serves it and once from the bare route (backoffice/bench_routes.py: same queries and template, no sign-in,
   permission or access log), in random order. Ratio of the medians.
3. Checks, once the worker has issued every invoice it was asked to: access-log rows written since the start = the
   rows the requests made must write (each kind of request writes a known number, listed in LOGGED; an issue's two
   rows are written by the worker, in the user's name); treatments and invoices the server said it stored are there;
   the invoice numbers of the year have no gap; no issue request is left; the access log's hash chain is intact.
   Any failure: exit status 1.

Environment: BENCH_POSTGRES_URL (default: the test server), LOAD_CLIENTS (20), LOAD_SECONDS (40), WEB_CONCURRENCY
(4), LOAD_PATIENTS (5000), LOAD_TREATMENTS (50000), LOAD_INVOICES (2000), LOAD_OVERHEAD_CLIENTS (2),
LOAD_OVERHEAD_SECONDS (20). Without a reachable PostgreSQL it says so and exits 0 (1 with REQUIRE_POSTGRES=1).
Prints `figure <name> <value> <unit>` lines.
"""

from __future__ import annotations

import http.client
import multiprocessing
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from html import unescape
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

from sqlalchemy import create_engine, insert, make_url, select, text
from werkzeug.security import generate_password_hash

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CLIENTS = int(os.environ.get("LOAD_CLIENTS", "20"))
SECONDS = float(os.environ.get("LOAD_SECONDS", "40"))
WORKERS = int(os.environ.get("WEB_CONCURRENCY", "4"))
PATIENTS = int(os.environ.get("LOAD_PATIENTS", "5000"))
TREATMENTS = int(os.environ.get("LOAD_TREATMENTS", "50000"))
INVOICES = int(os.environ.get("LOAD_INVOICES", "2000"))
OVERHEAD_CLIENTS = int(os.environ.get("LOAD_OVERHEAD_CLIENTS", "2"))
OVERHEAD_SECONDS = float(os.environ.get("LOAD_OVERHEAD_SECONDS", "20"))
APP_ROLE = "backoffice_app_bench"
APP_ROLE_PASSWORD = "backoffice-app-bench"  # noqa: S105 - a throwaway role on the bench's own server
PASSWORD = "bench-load-password"  # noqa: S105
EMAIL = "therapeut{:02d}@load.example.nl"

# What each kind of request does, how often (weights), and how many access-log rows each must write.
MIX = {"patient_page": 30, "patient_list": 14, "treatment_list": 14, "invoice_list": 10, "invoice_pdf": 12,
       "record_treatment": 12, "issue_invoice": 8}
LOGGED = {
    "patient_page": 1, "patient_list": 1, "treatment_list": 1, "invoice_list": 1, "invoice_pdf": 1,
    "treatment_form": 0, "treatment_post": 1, "treatment_page": 1,
    "invoice_choose": 1, "draft_post": 1, "invoice_page": 1, "issue_post": 2,
    "bare_patient_list": 0, "bare_patient_page": 0, "sign_in_form": 0, "sign_in": 1,
}
SIGN_IN = ("sign_in_form", "sign_in")  # before the clock starts: in the log check, not in the timings


# ---- the database ------------------------------------------------------------------------------------------------

def schema_url(url: str, schema: str, user: str | None = None, password: str | None = None) -> str:
    """`url` whose connections use `schema` (libpq's options), as `user` when given."""
    parsed = make_url(url)
    if user is not None:
        parsed = parsed.set(username=user, password=password)
    return parsed.update_query_dict({"options": f"-c search_path={schema}"}).render_as_string(hide_password=False)


def reachable(url: str) -> str | None:
    try:
        engine = create_engine(url)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:  # any failure to connect: no PostgreSQL here
        return f"{error.__class__.__name__}"
    return None


def flask(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([str(VENV_BIN / "flask"), "--app", "backoffice", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


@dataclass
class Built:
    therapists: list[int]          # per client, in client order
    templates: list[dict]          # the profiles recorded through the service: item, indication, area
    issued_invoices: list[int]
    first_invoice_sequence: int
    year: int
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    steps: dict[str, float] = field(default_factory=dict)


def build(app, today: date) -> Built:
    """The bench's data, as the tables' owner; committed."""
    import assess  # bench/assess.py: its catalogue, insurer and coverage-rule builders

    from backoffice.domain.intake import Screening
    from backoffice.extensions import db
    from backoffice.invoicing import services as invoicing
    from backoffice.models import KpRegistration, NvhMembership, Patient, Practice, Therapist, User
    from backoffice.treatments.services import TreatmentInput, record_treatment

    start = time.perf_counter()
    steps: dict[str, float] = {}

    def step(name: str) -> None:
        steps[name] = time.perf_counter() - start - sum(steps.values())

    with app.app_context():
        db.session.add(Practice(name="Huidtherapie Belasting", street="Oudegracht 1", postcode="3511 AA",
                                city="Utrecht", kvk_number="12345678", vat_id="NL123456789B01", agb_code="90001234",
                                iban="NL91ABNA0417164300", therapists_two_factor=False))
        # One production-strength hash (PASSWORD_HASH_METHOD, scrypt) for every bench user: hashing is not measured.
        password_hash = generate_password_hash(PASSWORD, method=app.config["PASSWORD_HASH_METHOD"])
        db.session.execute(insert(User), [
            {"email": EMAIL.format(n), "name": f"Therapeut {n:02d}", "role": "therapist",
             "password_hash": password_hash} for n in range(CLIENTS)])
        users = dict(db.session.execute(select(User.email, User.id)).all())
        db.session.execute(insert(Therapist), [
            {"user_id": users[EMAIL.format(n)], "name": f"Therapeut {n:02d}", "agb_code": f"9000{n:04d}",
             "email": EMAIL.format(n), "active": True} for n in range(CLIENTS)])
        therapists = [db.session.scalar(select(Therapist.id).where(Therapist.user_id == users[EMAIL.format(n)]))
                      for n in range(CLIENTS)]
        db.session.execute(insert(NvhMembership), [
            {"therapist_id": t, "member_number": f"NVH-{t:04d}", "valid_from": date(2015, 1, 1)} for t in therapists])
        db.session.execute(insert(KpRegistration), [
            {"therapist_id": t, "kp_number": f"KP-{t:05d}", "level": "kwaliteitsregister",
             "period_start": date(2022, 1, 1), "period_end": date(today.year + 3, 12, 31)} for t in therapists])
        items = assess._catalogue()
        insurers, packages = assess._insurers_and_packages()
        assess._coverage_rules(insurers, packages)
        step("users, therapists, catalogue, insurers, rules")
        _patients_intakes_insurances(db, today)
        step("patients, intakes, insurances")

        # The templates: one treatment per complaint profile, recorded through the service for an uninsured patient.
        template_patient = Patient(first_name="Sjabloon", infix="", last_name="Belasting",
                                   date_of_birth=date(1985, 3, 14), street="Laan 2", postcode="3512 BB",
                                   city="Utrecht")
        db.session.add(template_patient)
        db.session.flush()
        day = today - timedelta(days=30)
        templates, seen = [], set()
        for indication, code, areas, *_rest in assess.PROFILES.values():
            if (code, indication) in seen:
                continue
            seen.add((code, indication))
            item = items[code]
            treatment = record_treatment(template_patient, TreatmentInput(
                therapist_id=therapists[0], treatment_date=day, catalogue_item_id=item.id, indication=indication,
                body_area=areas[0], price_cents=item.price_cents), Screening(day=day))
            templates.append({"id": treatment.id, "item": item.id, "indication": indication, "area": areas[0]})
        db.session.flush()
        step("template treatments")
        _copy_treatments(db, today, therapists, [t["id"] for t in templates])
        step("treatments")
        admin_user = db.session.get(User, users[EMAIL.format(0)])
        template_invoice = invoicing.issue_invoice(
            invoicing.draft_invoice(template_patient, [t["id"] for t in templates], admin_user), admin_user,
            today=today)
        db.session.flush()
        step("template invoice (rendered)")
        issued = [template_invoice.id, *_copy_invoices(db, today, template_invoice, admin_user.id)]
        first_sequence = template_invoice.sequence
        db.session.commit()
        step("invoices, commit")
        counts = {name: db.session.scalar(text(f"SELECT count(*) FROM {name}"))  # noqa: S608 - fixed names
                  for name in ("patients", "treatments", "invoices", "payments", "access_log")}
        # As autovacuum would have by now on a database in use (only the tables filled here: a bare ANALYZE would
        # visit every schema of the database).
        db.session.execute(text("ANALYZE patients, intakes, insurances, treatments, invoices, invoice_lines, "
                                "invoiced_treatments, payments"))
        db.session.commit()
        step("analyze")
    return Built(therapists, templates, issued, first_sequence, today.year, time.perf_counter() - start, counts,
                 steps)


def _patients_intakes_insurances(db, today: date) -> None:
    from backoffice.demo.data import FIRST_NAMES, LAST_NAMES

    db.session.execute(text("""
        INSERT INTO patients (first_name, infix, last_name, date_of_birth, street, postcode, city, phone, email,
                              created_at, updated_at)
        SELECT (CAST(:first AS text[]))[1 + n % :nf], (CAST(:infix AS text[]))[1 + (n / :nf) % :nl],
               (CAST(:last AS text[]))[1 + (n / :nf) % :nl], DATE '1950-01-01' + (n * 7919) % 20000,
               'Biltstraat ' || (1 + n % 300), (3500 + n % 90)::text || ' ' || (CAST(:letters AS text[]))[1 + n % 4],
               'Utrecht', '06' || lpad((n % 100000000)::text, 8, '0'), '', now(), now()
        FROM generate_series(0, :count - 1) AS n"""),
        {"first": FIRST_NAMES, "infix": [i for i, _ in LAST_NAMES], "last": [name for _, name in LAST_NAMES],
         "nf": len(FIRST_NAMES), "nl": len(LAST_NAMES), "letters": ["AB", "CD", "EG", "HJ"], "count": PATIENTS})
    db.session.execute(text("""
        INSERT INTO intakes (patient_id, intake_date, contraindications, medications, consent_given, consent_by,
                             consent_on, notes, created_at)
        SELECT id, CAST(:today AS date) - 1 - id % 300, CAST('[]' AS json), CAST('[]' AS json), true, 'patient',
               CAST(:today AS date) - 1 - id % 300, '', now()
        FROM patients"""), {"today": today})
    db.session.execute(text("""
        INSERT INTO insurances (patient_id, insurer_id, package_id, policy_number, valid_from)
        SELECT p.id, k.insurer_id, k.id, 'P' || lpad(p.id::text, 9, '0'), DATE '2020-01-01'
        FROM patients p
        JOIN (SELECT id, insurer_id, row_number() OVER (ORDER BY id) - 1 AS k FROM packages) k
          ON k.k = p.id % (SELECT count(*) FROM packages)
        WHERE p.id % 7 <> 6"""))


def _copy_treatments(db, today: date, therapists: list[int], templates: list[int]) -> None:
    """LOAD_TREATMENTS copies of the template treatments over the past year, the patients in turn."""
    columns = ("catalogue_item_id, indication, body_area, session_number, series_total, device, wavelength_nm, "
               "fluence_j_cm2, pulse_width_ms, spot_size_mm, passes, fitzpatrick, notes, price_cents, "
               "price_change_reason, medical, vat_rate, net_cents, vat_cents, reimbursable, insurer_id, "
               "coverage_rule_id, cap_group, insurer_amount_cents, patient_amount_cents, assessment")
    copied = ", ".join(f"t.{c.strip()}" for c in columns.split(","))
    db.session.execute(text(f"""
        WITH p AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM patients WHERE last_name <> 'Belasting')
        INSERT INTO treatments (patient_id, therapist_id, treatment_date, recorded_by_id, created_at, assessed_at,
                                {columns})
        SELECT p.id, (CAST(:therapists AS int[]))[1 + n % :nt], CAST(:today AS date) - 1 - (n * 7) % 365, NULL,
               now(), now(), {copied}
        FROM generate_series(0, :count - 1) AS n
        JOIN p ON p.k = n % :patients
        JOIN treatments t ON t.id = (CAST(:templates AS int[]))[1 + (n / :patients) % :ntemplates]"""),  # noqa: S608
        {"therapists": therapists, "nt": len(therapists), "today": today, "count": TREATMENTS, "patients": PATIENTS,
         "templates": templates, "ntemplates": len(templates)})


def _copy_invoices(db, today: date, template, user_id: int) -> list[int]:
    """LOAD_INVOICES issued invoices of one treatment each (this year's oldest treatments), copied from the template
    invoice: its line for the same kind of treatment, its snapshot and its stored PDF; numbered on from the template
    in date order, the counter row set to match; four in five paid."""
    from backoffice.domain import invoicing as rules

    db.session.execute(text("""
        CREATE TEMP TABLE bench_chosen ON COMMIT DROP AS
        SELECT row_number() OVER (ORDER BY t.treatment_date, t.id) AS k, t.id AS treatment_id, t.patient_id,
               t.treatment_date + 1 AS issue_date, t.price_cents, t.net_cents, t.vat_cents, t.therapist_id,
               l.id AS template_line_id,
               nextval(pg_get_serial_sequence('invoices', 'id')) AS invoice_id,
               nextval(pg_get_serial_sequence('invoice_lines', 'id')) AS line_id
        FROM treatments t
        JOIN invoice_lines l ON l.invoice_id = :template
        JOIN treatments lt ON lt.id = l.treatment_id AND lt.catalogue_item_id = t.catalogue_item_id
             AND lt.indication = t.indication AND lt.body_area = t.body_area
        WHERE t.patient_id <> :template_patient AND t.treatment_date >= date_trunc('year', CAST(:today AS date))
          AND t.treatment_date < CAST(:today AS date) - 15
        ORDER BY t.treatment_date, t.id
        LIMIT :count"""), {"template": template.id, "template_patient": template.patient_id, "today": today,
                           "count": INVOICES})
    db.session.execute(text("""
        INSERT INTO invoices (id, patient_id, status, total_gross_cents, total_net_cents, total_vat_cents,
                              created_by_id, created_at)
        SELECT invoice_id, patient_id, 'draft', price_cents, net_cents, vat_cents, :user, now() FROM bench_chosen"""),
        {"user": user_id})
    db.session.execute(text("""
        INSERT INTO invoice_lines (id, invoice_id, treatment_id, treatment_date, description, prestatiecode,
            indication, medical, reimbursable, quantity, gross_cents, net_cents, vat_cents, vat_rate, vat_exemption,
            therapist_name, therapist_agb, technique, body_area, referral, insurer_amount_cents, insurer_part_cents)
        SELECT c.line_id, c.invoice_id, c.treatment_id, c.issue_date - 1, l.description, l.prestatiecode,
               l.indication, l.medical, false, l.quantity, c.price_cents, c.net_cents, c.vat_cents, l.vat_rate,
               l.vat_exemption, th.name, th.agb_code, l.technique, l.body_area, '', 0, 0
        FROM bench_chosen c JOIN invoice_lines l ON l.id = c.template_line_id
        JOIN therapists th ON th.id = c.therapist_id"""))
    db.session.execute(text("INSERT INTO invoiced_treatments (treatment_id, invoice_line_id) "
                            "SELECT treatment_id, line_id FROM bench_chosen"))
    chosen = db.session.execute(text("SELECT k, invoice_id, issue_date FROM bench_chosen ORDER BY k")).all()
    first = template.sequence + 1
    numbers = [rules.format_number(rules.INVOICE_SERIES, today.year, first + k - 1) for k, _, _ in chosen]
    db.session.execute(text("""
        UPDATE invoices i SET status = 'issued', number = x.number, series_year = :year, sequence = x.sequence,
            issue_date = x.issue_date, due_date = x.issue_date + 14, snapshot = t.snapshot, pdf = t.pdf,
            pdf_sha256 = t.pdf_sha256, issued_by_id = :user, issued_at = now()
        FROM unnest(CAST(:ids AS int[]), CAST(:numbers AS text[]), CAST(:sequences AS int[]),
                    CAST(:dates AS date[])) AS x(id, number, sequence, issue_date),
             invoices t
        WHERE i.id = x.id AND t.id = :template"""),
        {"year": today.year, "user": user_id, "template": template.id, "ids": [c.invoice_id for c in chosen],
         "numbers": numbers, "sequences": [first + c.k - 1 for c in chosen], "dates": [c.issue_date for c in chosen]})
    db.session.execute(text("""
        INSERT INTO payments (invoice_id, paid_on, method, amount_cents, note, created_at)
        SELECT invoice_id, LEAST(issue_date + 10, CAST(:today AS date)), 'bank_transfer', price_cents, '', now()
        FROM bench_chosen WHERE k % 5 <> 0"""), {"today": today})
    db.session.execute(text("UPDATE number_series SET next_value = :next WHERE name = :name"),
                       {"next": first + len(chosen), "name": rules.series_name(rules.INVOICE_SERIES, today.year)})
    return [c.invoice_id for c in chosen]


# ---- the server --------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    server_env = env | {"HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": str(WORKERS),
                        "GUNICORN_LOGLEVEL": "warning"}
    handle = log.open("w")
    process = subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "--config", "backoffice/gunicorn_conf.py", "backoffice.wsgi:app"],
        env=server_env, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn stopped (exit {process.returncode}); see {log}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                connection.close()
                return process
        except OSError:
            pass
        time.sleep(0.5)
    stop(process)
    raise RuntimeError(f"gunicorn did not answer /healthz within 120 s; see {log}")


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    """The print worker beside the server, as in production: it issues the invoices the server was asked to issue.
    At nice 10 (LOAD_WORKER_NICE), as the README's systemd unit runs it: its rendering gives way to the requests."""
    handle = log.open("w")
    command = ["nice", "-n", os.environ.get("LOAD_WORKER_NICE", "10"), str(VENV_BIN / "huey_consumer"),
               "backoffice.printing.tasks.huey", "-w", "1", "-d", "0.1", "-m", "1"]
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT,
                            start_new_session=True)


def drain(app, seconds: float = 180) -> tuple[float, int]:
    """Wait until the worker has issued every invoice it was asked to (or given up on one); (seconds, left)."""
    from backoffice.extensions import db

    started = time.perf_counter()
    with app.app_context():
        while True:
            left = db.session.scalar(text("SELECT count(*) FROM invoice_issue_requests WHERE failed_at IS NULL"))
            db.session.rollback()
            if not left or time.perf_counter() - started > seconds:
                return time.perf_counter() - started, left
            time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# ---- the clients -------------------------------------------------------------------------------------------------

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')
NEXT_PAGE = re.compile(r'href="([^"]*[?&]after=[^"]+)"')
TREATMENT_CHOICE = re.compile(r'<input[^>]*name="treatment_ids"[^>]*>')
VALUE = re.compile(r'value="([0-9]+)"')


class Failed(Exception):
    pass


class Client:
    """One browser: a keep-alive connection, its cookies, and the time and status of every request."""

    def __init__(self, port: int):
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}
        self.samples: list[tuple[str, float, float, int]] = []  # kind, start (epoch), ms, status

    def request(self, kind: str, method: str, path: str, form: dict | list | None = None,
                expect: tuple[int, ...] = (200,)) -> tuple[int, str, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        body = None
        if form is not None:
            body = urlencode(form, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started, clock = time.time(), time.perf_counter()
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.samples.append((kind, started, (time.perf_counter() - clock) * 1000, 0))
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            raise Failed(f"{kind} {path}: {error}") from error
        self.samples.append((kind, started, (time.perf_counter() - clock) * 1000, response.status))
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, value = header.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value.strip()
        if response.status not in expect:
            raise Failed(f"{kind} {method} {path}: {response.status}")
        return response.status, response.headers.get("Location", ""), data.decode("utf-8", "replace")

    def sign_in(self, email: str) -> None:
        _status, _location, page = self.request("sign_in_form", "GET", "/login")
        _status, location, _page = self.request("sign_in", "POST", "/login", {
            "email": email, "password": PASSWORD, "csrf_token": token(page)}, expect=(302,))
        if "login" in location or "two-factor" in location:
            raise Failed(f"sign-in of {email} went to {location}")


def token(page: str) -> str:
    match = CSRF.search(page)
    if not match:
        raise Failed("no CSRF token on the page")
    return match.group(1) or match.group(2)


def local(location: str) -> str:
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass
class Plan:
    """What one client works with: its user and therapist, its share of the patients, the issued invoices."""

    index: int
    email: str
    therapist: int
    patients: list[int]
    invoices: list[int]
    templates: list[dict]
    today: str  # dd-mm-yyyy, as the form shows it


def run_mix(plan: Plan, port: int, start_at: float, seconds: float, out) -> None:
    rng = random.Random(plan.index)
    client = Client(port)
    errors: list[str] = []
    try:
        client.sign_in(plan.email)
    except Failed as error:
        out.put((plan.index, client.samples, [f"sign-in: {error}"], {}))
        return
    time.sleep(max(0.0, start_at - time.time()))
    deadline = start_at + seconds
    next_pages: dict[str, str] = {}
    done: Counter = Counter()
    kinds, weights = list(MIX), list(MIX.values())
    while time.time() < deadline:
        kind = rng.choices(kinds, weights)[0]
        try:
            ACTIONS[kind](client, plan, rng, next_pages)
            done[kind] += 1
        except Failed as error:
            errors.append(str(error))
    out.put((plan.index, client.samples, errors, dict(done)))


def _patient_page(client: Client, plan: Plan, rng: random.Random, pages: dict) -> None:
    client.request("patient_page", "GET", f"/patients/{rng.choice(plan.patients)}")


def _list(kind: str, first: str):
    def visit(client: Client, plan: Plan, rng: random.Random, pages: dict) -> None:
        path = pages.get(kind) if kind in pages and rng.random() < 0.4 else first
        _status, _location, page = client.request(kind, "GET", path)
        found = NEXT_PAGE.search(page)
        if found:
            pages[kind] = local(unescape(found.group(1)))
        else:
            pages.pop(kind, None)
    return visit


def _invoice_pdf(client: Client, plan: Plan, rng: random.Random, pages: dict) -> None:
    client.request("invoice_pdf", "GET", f"/invoices/{rng.choice(plan.invoices)}/pdf")


def _record_treatment(client: Client, plan: Plan, rng: random.Random, pages: dict) -> None:
    patient = rng.choice(plan.patients)
    template = rng.choice(plan.templates)
    path = f"/treatments/new?patient_id={patient}"
    _status, _location, page = client.request("treatment_form", "GET", path)
    _status, location, _page = client.request("treatment_post", "POST", path, {
        "therapist_id": plan.therapist, "treatment_date": plan.today, "catalogue_item_id": template["item"],
        "indication": template["indication"], "body_area": template["area"], "session_number": "1",
        "series_total": "", "device": "", "wavelength_nm": "", "fluence_j_cm2": "", "pulse_width_ms": "",
        "spot_size_mm": "", "passes": "", "fitzpatrick": "", "notes": "", "price": "", "price_change_reason": "",
        "referral_id": "", "csrf_token": token(page)}, expect=(302,))
    client.request("treatment_page", "GET", local(location))


def _issue_invoice(client: Client, plan: Plan, rng: random.Random, pages: dict) -> None:
    patient = rng.choice(plan.patients)
    path = f"/invoices/new?patient_id={patient}"
    _status, _location, page = client.request("invoice_choose", "GET", path)
    chosen = [VALUE.search(tag).group(1) for tag in TREATMENT_CHOICE.findall(page) if VALUE.search(tag)]
    if not chosen:
        return  # everything of this patient is invoiced already (by this client: the patients are its own)
    _status, location, _page = client.request("draft_post", "POST", path,
                                              {"treatment_ids": chosen, "csrf_token": token(page)}, expect=(302,))
    invoice_path = local(location)
    _status, _location, page = client.request("invoice_page", "GET", invoice_path)
    _status, location, _page = client.request("issue_post", "POST", f"{invoice_path}/issue",
                                              {"csrf_token": token(page)}, expect=(302,))
    _status, _location, page = client.request("invoice_page", "GET", local(location))
    if f'href="{invoice_path}/pdf"' in page:  # issued already (else the print worker issues it in a moment)
        plan.invoices.append(int(invoice_path.rsplit("/", 1)[1]))


ACTIONS = {
    "patient_page": _patient_page, "patient_list": _list("patient_list", "/patients/"),
    "treatment_list": _list("treatment_list", "/treatments/"), "invoice_list": _list("invoice_list", "/invoices/"),
    "invoice_pdf": _invoice_pdf, "record_treatment": _record_treatment, "issue_invoice": _issue_invoice,
}


def run_overhead(plan: Plan, port: int, start_at: float, seconds: float, out) -> None:
    """App page and bare route, the patient list and a patient page, in random order, one at a time."""
    rng = random.Random(1000 + plan.index)
    client, bare = Client(port), Client(port)
    errors: list[str] = []
    try:
        client.sign_in(plan.email)
    except Failed as error:
        out.put((plan.index, client.samples, [f"sign-in: {error}"], {}))
        return
    time.sleep(max(0.0, start_at - time.time()))
    deadline = start_at + seconds
    while time.time() < deadline:
        patient = rng.choice(plan.patients)
        pairs = [(client, "patient_list", "/patients/"), (bare, "bare_patient_list", "/_bench/bare/patients/"),
                 (client, "patient_page", f"/patients/{patient}"),
                 (bare, "bare_patient_page", f"/_bench/bare/patients/{patient}")]
        rng.shuffle(pairs)
        for who, kind, path in pairs:
            try:
                who.request(kind, "GET", path)
            except Failed as error:
                errors.append(str(error))
    samples = client.samples + bare.samples
    out.put((plan.index, samples, errors, dict(Counter(kind for kind, *_ in samples if kind not in SIGN_IN))))


def run_clients(target, plans: list[Plan], port: int, seconds: float) -> tuple[list, list[str], Counter, float]:
    """Each plan in a process of its own; all start at the same moment, after signing in."""
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    start_at = time.time() + 3.0 + 0.15 * len(plans)  # time to sign in first
    processes = [context.Process(target=target, args=(plan, port, start_at, seconds, out)) for plan in plans]
    for process in processes:
        process.start()
    samples, errors, done = [], [], Counter()
    for _ in processes:
        _index, got, failed, counts = out.get(timeout=seconds + 300)
        samples += got
        errors += failed
        done.update(counts)
    for process in processes:
        process.join()
    return samples, errors, done, start_at


# ---- the run -----------------------------------------------------------------------------------------------------

def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def expected_log_rows(samples: list) -> int:
    """The access-log rows the successful requests must have written (failed ones wrote nothing: rolled back)."""
    return sum(LOGGED.get(kind, 0) for kind, _start, _ms, status in samples if 200 <= status < 400)


def checks(app, built: Built, log_start_id: int, treatments_before: int, invoices_before: int,
           samples: list) -> dict[str, int]:
    from backoffice.audit_chain import chain_key, verify_chain
    from backoffice.domain import invoicing as rules
    from backoffice.extensions import db

    ok = Counter(kind for kind, _start, _ms, status in samples if 200 <= status < 400)
    with app.app_context():
        written = db.session.scalar(text("SELECT count(*) FROM access_log WHERE id > :id"), {"id": log_start_id})
        by_subject = db.session.execute(text(
            "SELECT action, regexp_replace(subject, '[0-9][0-9-]*', 'N') AS what, count(*) FROM access_log "
            "WHERE id > :id GROUP BY 1, 2 ORDER BY 1, 2"), {"id": log_start_id}).all()
        treatments = db.session.scalar(text("SELECT count(*) FROM treatments")) - treatments_before
        invoices = db.session.scalar(text("SELECT count(*) FROM invoices WHERE status = 'issued'")) - invoices_before
        sequences = list(db.session.scalars(text(
            "SELECT sequence FROM invoices WHERE status = 'issued' AND series_year = :year ORDER BY sequence"),
            {"year": built.year}))
        next_value = db.session.scalar(text("SELECT next_value FROM number_series WHERE name = :name"),
                                       {"name": rules.series_name(rules.INVOICE_SERIES, built.year)})
        requests_left = db.session.scalar(text("SELECT count(*) FROM invoice_issue_requests"))
        with db.engine.connect() as connection:
            chain = verify_chain(connection, chain_key(app.config))
    gaps = sum(1 for a, b in zip(sequences, sequences[1:], strict=False) if b != a + 1)
    gaps += (sequences[0] != 1 if sequences else 0) + (next_value != (sequences[-1] + 1 if sequences else 1))
    return {
        "log_rows_expected": expected_log_rows(samples), "log_rows_written": written,
        "lost_log_rows": expected_log_rows(samples) - written,
        "lost_treatments": ok["treatment_post"] - treatments, "lost_invoices": ok["issue_post"] - invoices,
        "invoice_number_gaps": gaps, "chain_findings": len(chain.findings), "invoices_issued": invoices,
        "treatments_recorded": treatments, "by_subject": by_subject, "requests": ok,
        "issue_requests_left": requests_left,
    }


def main() -> int:
    reason = reachable(POSTGRES_URL)
    if reason:
        print(f"PostgreSQL not reachable at {POSTGRES_URL} ({reason}): the load benchmark needs it; skipped.")
        return 1 if os.environ.get("REQUIRE_POSTGRES") == "1" else 0
    schema = f"bench_load_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    folder = Path(tempfile.mkdtemp(prefix="bench-load-"))
    try:
        return run(schema, folder)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
        shutil.rmtree(folder, ignore_errors=True)


def run(schema: str, folder: Path) -> int:
    from backoffice import create_app
    from backoffice.clock import clinic_today
    from backoffice.domain.dutch import nl_date

    keys = {"SECRET_KEY": secrets.token_hex(32), "FIELD_ENCRYPTION_KEY": secrets.token_hex(32),
            "ACCESS_LOG_KEY": secrets.token_hex(32)}
    owner_url = schema_url(POSTGRES_URL, schema)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("BENCH_BARE", "DATABASE_URL"))}
    env = base_env | keys | {"BACKOFFICE_ENV": "development", "BACKOFFICE_INSTANCE_PATH": str(folder / "instance"),
                             "MAIL_BACKEND": "outbox", "SESSION_COOKIE_SECURE": "1"}
    started = time.perf_counter()
    flask(env | {"DATABASE_URL": owner_url}, "db", "upgrade")
    flask(env | {"DATABASE_URL": owner_url, "APP_ROLE_PASSWORD": APP_ROLE_PASSWORD},
          "db", "grant-app-role", "--role", APP_ROLE, "--create")
    migrate_s = time.perf_counter() - started

    app = create_app({**keys, "SQLALCHEMY_DATABASE_URI": POSTGRES_URL, "BACKOFFICE_ENV": "development",
                      "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"options": f"-c search_path={schema}"}}})
    today = clinic_today()
    built = build(app, today)
    print(f"setup: migrations and the app's role {migrate_s:.1f} s; data {built.seconds:.1f} s: "
          + ", ".join(f"{n} {name}" for name, n in built.counts.items())
          + " (" + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in built.steps.items()) + ")")

    # The print queue in a schema of its own, owned by the app's role (Huey creates its tables there), as the
    # README's production section sets up two app servers: the server queues, the worker beside it issues.
    server = make_url(POSTGRES_URL)  # libpq's own URL for Huey: a space in options is %20, not +
    queue_url = (f"postgresql://{APP_ROLE}:{APP_ROLE_PASSWORD}@{server.host}:{server.port or 5432}/{server.database}"
                 f"?options={quote(f'-c search_path={schema}_queue')}")
    with create_engine(POSTGRES_URL).begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}_queue" AUTHORIZATION "{APP_ROLE}"'))
    server_env = env | {"DATABASE_URL": schema_url(POSTGRES_URL, schema, APP_ROLE, APP_ROLE_PASSWORD),
                        "BENCH_BARE_ROUTES": "1", "BENCH_BARE_USER": EMAIL.format(0), "PRINT_QUEUE_URL": queue_url,
                        "PRINT_WORKERS": "0"}
    port = free_port()
    worker = start_worker(server_env | {"BACKOFFICE_INSTANCE_PATH": str(folder / "worker")}, folder / "worker.log")
    server = start_server(server_env, port, folder / "gunicorn.log")
    try:
        with app.app_context():
            from backoffice.extensions import db

            log_start = db.session.scalar(text("SELECT coalesce(max(id), 0) FROM access_log"))
            treatments_before = db.session.scalar(text("SELECT count(*) FROM treatments"))
            invoices_before = db.session.scalar(text("SELECT count(*) FROM invoices WHERE status = 'issued'"))
            patient_ids = list(db.session.scalars(text("SELECT id FROM patients ORDER BY id")))
            db.session.remove()
            db.engine.dispose()  # the client processes are forked: no connection may be shared with them
        plans = [Plan(n, EMAIL.format(n), built.therapists[n], patient_ids[n::CLIENTS], list(built.issued_invoices),
                      built.templates, nl_date(today)) for n in range(CLIENTS)]
        samples, errors, done, _start = run_clients(run_mix, plans, port, SECONDS)
        mix_log_end = (folder / "gunicorn.log").stat().st_size
        overhead, overhead_errors, _done, _start = run_clients(run_overhead, plans[:OVERHEAD_CLIENTS], port,
                                                               OVERHEAD_SECONDS)
        drained_s, left = drain(app)
        print(f"print worker: every invoice asked for was issued {drained_s:.1f} s after the overhead phase ended "
              f"({left} still waiting)")
    finally:
        stop(server)
        stop(worker)
        with create_engine(POSTGRES_URL).begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}_queue" CASCADE'))
    result = checks(app, built, log_start, treatments_before, invoices_before, samples + overhead)
    with app.app_context():
        from backoffice.extensions import db

        db.engine.dispose()
    code = report(samples, errors, done, overhead, overhead_errors, result, folder / "gunicorn.log")
    server_times(folder / "gunicorn.log", mix_log_end)
    return code


ACCESS_LINE = re.compile(r'"(GET|POST) (\S+) HTTP/[0-9.]+" (\d{3}) \S+ (\d+)ms ')


def server_times(log: Path, mix_end: int) -> None:
    """The server's own time per request (gunicorn's access log): without the wait for a free worker."""
    data = log.read_bytes()
    for label, part in (("load", data[:mix_end]), ("overhead phase", data[mix_end:])):
        by_page: dict[str, list[int]] = {}
        for method, path, _status, ms in ACCESS_LINE.findall(part.decode(errors="replace")):
            page = re.sub(r"[0-9]+", "N", path.split("?")[0])
            by_page.setdefault(f"{method} {page}", []).append(int(ms))
        every = [ms for times in by_page.values() for ms in times]
        if not every:
            continue
        print(f"server time ({label}, gunicorn's access log, no queueing): p50 {statistics.median(every):.0f} ms, "
              f"p99 {percentile(every, 0.99):.0f} ms; " + ", ".join(
                  f"{page} {statistics.median(times):.0f}" for page, times in sorted(by_page.items())
                  if len(times) >= 5))


def report(samples, errors, done, overhead, overhead_errors, result, log: Path) -> int:
    samples = [s for s in samples if s[0] not in SIGN_IN]
    times = [ms for _kind, _start, ms, _status in samples]
    if not times:
        print("no request succeeded: " + "; ".join(errors[:5]) + "\nthe server's log ends with:")
        print("\n".join(log.read_text(errors="replace").splitlines()[-40:]))
        return 1
    failed = [s for s in samples if not 200 <= s[3] < 400]
    print(f"load: {CLIENTS} clients for {SECONDS:.0f} s against gunicorn with {WORKERS} workers on PostgreSQL "
          f"(client and server on the same {os.cpu_count()} cores); {len(samples)} requests; "
          "actions: " + ", ".join(f"{kind} {n}" for kind, n in sorted(done.items())))
    for kind in sorted({s[0] for s in samples}):
        kind_times = [ms for k, _start, ms, _status in samples if k == kind]
        print(f"  {kind:16s} {len(kind_times):6d} requests  p50 {statistics.median(kind_times):7.1f} ms  "
              f"p99 {percentile(kind_times, 0.99):7.1f} ms")
    for message in (errors + overhead_errors)[:10]:
        print(f"  error: {message}")
    # From the first request to the last answer: a client finishes the action it began before the time was up.
    window = max(start + ms / 1000 for _kind, start, ms, _status in samples) - min(s[1] for s in samples)
    print(f"figure load_rps_pg {len(samples) / window:.1f} requests/s ({len(samples)} in {window:.1f} s)")
    print(f"figure load_p50_ms_pg {statistics.median(times):.1f} ms")
    print(f"figure load_p99_ms_pg {percentile(times, 0.99):.1f} ms")
    print(f"figure load_errors_pg {len(errors)} errors ({len(failed)} answered with an unexpected status)")
    ratios = {}
    for page in ("patient_list", "patient_page"):
        app_ms = [ms for kind, _start, ms, status in overhead if kind == page and status == 200]
        bare_ms = [ms for kind, _start, ms, status in overhead if kind == f"bare_{page}" and status == 200]
        if not app_ms or not bare_ms:
            print(f"no successful {page} requests in the overhead phase")
            return 1
        ratios[page] = statistics.median(app_ms) / statistics.median(bare_ms)
        print(f"{page}: app p50 {statistics.median(app_ms):.1f} ms, bare route p50 {statistics.median(bare_ms):.1f} ms "
              f"({len(app_ms)} and {len(bare_ms)} requests, {OVERHEAD_CLIENTS} clients)")
        print(f"figure page_overhead_ratio_{page}_pg {ratios[page]:.2f} x")
    print(f"figure page_overhead_ratio_pg {max(ratios.values()):.2f} x")
    print(f"checks: {result['log_rows_written']} access-log rows written, {result['log_rows_expected']} expected; "
          f"{result['treatments_recorded']} treatments recorded, {result['invoices_issued']} invoices issued")
    if result["lost_log_rows"]:
        print("  written by action and subject: " + ", ".join(f"{a} {w}: {n}" for a, w, n in result["by_subject"]))
        print("  successful requests: " + ", ".join(f"{k} {n}" for k, n in sorted(result["requests"].items())))
    kept = ("lost_log_rows", "lost_treatments", "lost_invoices", "invoice_number_gaps", "chain_findings",
            "issue_requests_left")
    for name in kept:
        print(f"figure load_{name}_pg {result[name]}")
    lost = any(result[name] for name in kept)
    if lost or overhead_errors:
        print("something was lost or failed (above); the server's log ends with:")
        print("\n".join(log.read_text(errors="replace").splitlines()[-30:]))
        worker_log = log.with_name("worker.log")
        if worker_log.exists():
            print("the print worker's log ends with:")
            print("\n".join(worker_log.read_text(errors="replace").splitlines()[-30:]))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
