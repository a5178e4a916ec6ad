"""Two app servers, one database, one queue (README, "Production": scaling out).

Two gunicorn instances (backoffice/gunicorn_conf.py, production settings, the app's limited role) on different
ports, each with an instance folder of its own as on two hosts, share one PostgreSQL schema, one SECRET_KEY and one
print queue (the PostgreSQL-backed one, in a schema the app's role owns: Huey creates its tables at start). A print
worker (huey_consumer) runs beside the second, with an instance folder of its own too; only the print output folder
(PRINT_OUTPUT_DIR) is shared, as the README requires. The test signs in on the first server and goes on on the
second, queues a print job on the first that the worker finishes, downloads the file from the first, issues a draft
invoice on the first that the worker numbers and renders (the second shows it issued), and signs out on the second,
which ends the session on the first as well.

PostgreSQL only: it starts processes against a real server. Skipped only when PostgreSQL is absent and not
required (conftest: REQUIRE_POSTGRES=1 in CI fails instead).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

import factories
import pytest
from conftest import (
    APP_ROLE,
    PASSWORD,
    POSTGRES_URL,
    app_role_url,
    create_tables_for_app_role,
    create_user,
    make_test_app,
)
from sqlalchemy import create_engine, make_url, text

from backoffice.clock import clinic_today
from backoffice.documents.pdf import render_invoice
from backoffice.domain.dutch import nl_date
from backoffice.extensions import db
from backoffice.invoicing import services as invoicing
from backoffice.models import User

pytestmark = pytest.mark.servers

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
EMAIL = "therapeut@twee.example.nl"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Browser:
    """One browser's cookies, sent to whichever server it talks to."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}

    def request(self, port: int, method: str, path: str, form: dict | None = None) -> tuple[int, dict, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, value = header.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value.strip()
        return response.status, dict(response.headers), data

    def page(self, port: int, path: str) -> str:
        status, headers, data = self.request(port, "GET", path)
        assert status == 200, (port, path, status, headers.get("Location"))
        return data.decode()


def _token(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


def _started(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    # A process group of its own: gunicorn's workers and the consumer's are stopped with it.
    with log.open("w") as handle:
        return subprocess.Popen(command, env=env, cwd=PROJECT, stdout=handle, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _healthy(port: int, process: subprocess.Popen, log: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        assert process.poll() is None, f"server on {port} stopped:\n{log.read_text()[-3000:]}"
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.3)
    pytest.fail(f"server on {port} did not become healthy:\n{log.read_text()[-3000:]}")


@pytest.fixture
def clinic(postgres_schema):
    """The schema's tables (as the owner; the app's role gets its rights), a practice whose therapists sign in by
    password, a therapist, and one invoice issued last week with its real PDF: something to print."""
    create_tables_for_app_role(postgres_schema)
    app = make_test_app("postgresql", postgres_schema)
    today = clinic_today()
    try:
        with app.app_context():
            factories.practice(therapists_two_factor=False)
            db.session.commit()
        create_user(app, EMAIL, "therapist", name="Twee Servers")
        with app.app_context():
            user = db.session.scalar(db.select(User).where(User.email == EMAIL))
            therapist = factories.therapist(user_id=user.id)
            item = factories.catalogue_item("PEEL", "Chemische peeling", technique="peel", prestatiecode="",
                                            price_cents=6_050)
            patient = factories.patient()
            treatment = factories.treatment(patient.id, therapist.id, item.id, today - timedelta(days=8),
                                            medical=False)
            factories.issued_invoice(patient.id, [treatment.id], user, today - timedelta(days=7),
                                     renderer=render_invoice)
            later = factories.treatment(patient.id, therapist.id, item.id, today - timedelta(days=1), medical=False)
            draft = invoicing.draft_invoice(patient, [later.id], user)
            db.session.commit()
            draft_id = draft.id
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    return today - timedelta(days=7), draft_id


@pytest.fixture
def queue_schema(postgres_schema, clinic):
    """The print queue's own schema, owned by the app's role: Huey creates its tables when it starts (the role
    may not create anything in the app's schema)."""
    name = f"{postgres_schema}_queue"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{name}" AUTHORIZATION "{APP_ROLE}"'))
    try:
        yield name
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


@pytest.fixture
def servers(clinic, postgres_schema, queue_schema, tmp_path):
    """Server A, server B and a print worker beside B; yields (port A, port B, folders, issue day)."""
    role = make_url(app_role_url())
    database = role.update_query_dict({"options": f"-c search_path={postgres_schema}"})
    queue = (f"postgresql://{quote(role.username or '')}:{quote(role.password or '')}@{role.host}:{role.port or 5432}"
             f"/{role.database}?options={quote(f'-c search_path={queue_schema}')}")
    folders = {name: tmp_path / name for name in ("a", "b", "worker", "shared")}
    common = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "PRINT_", "BENCH_"))} | {
        "BACKOFFICE_ENV": "production", "SECRET_KEY": secrets.token_urlsafe(32),
        "FIELD_ENCRYPTION_KEY": secrets.token_urlsafe(32), "DATABASE_URL": database.render_as_string(False),
        "PRINT_QUEUE_URL": queue, "PRINT_OUTPUT_DIR": str(folders["shared"]), "PRINT_WORKERS": "0",
        "MAIL_BACKEND": "outbox", "WEB_CONCURRENCY": "1", "GUNICORN_LOGLEVEL": "warning"}
    ports = {"a": _free_port(), "b": _free_port()}
    processes: list[tuple[subprocess.Popen, Path]] = []
    try:
        for name in ("a", "b"):
            env = common | {"BACKOFFICE_INSTANCE_PATH": str(folders[name]), "PORT": str(ports[name])}
            log = tmp_path / f"{name}.log"
            processes.append((_started([str(BIN / "gunicorn"), "--config", "backoffice/gunicorn_conf.py",
                                        "backoffice.wsgi:app"], env, log), log))
        worker_env = common | {"BACKOFFICE_INSTANCE_PATH": str(folders["worker"])}
        log = tmp_path / "worker.log"
        processes.append((_started([str(BIN / "huey_consumer"), "backoffice.printing.tasks.huey", "-w", "1",
                                    "-m", "1"], worker_env, log), log))
        deadline = time.monotonic() + 90
        for (process, log), name in zip(processes, ("a", "b"), strict=False):
            _healthy(ports[name], process, log, deadline)
        yield ports["a"], ports["b"], folders, clinic, processes
    finally:
        for process, _log in processes:
            _stop(process)


def test_two_servers_share_sessions_the_queue_and_the_print_output(servers):
    a, b, folders, (issued_on, draft_id), processes = servers
    browser = Browser()
    # Sign in on A ...
    status, headers, _ = browser.request(a, "POST", "/login", {
        "email": EMAIL, "password": PASSWORD, "csrf_token": _token(browser.page(a, "/login"))})
    assert status == 302 and "login" not in headers["Location"], headers.get("Location")
    # ... and go on on B: the session cookie (signed with the shared SECRET_KEY) is B's as well.
    printing = browser.page(b, "/printing/")
    assert 'data-testid="whoami"' in printing and "Twee Servers" in printing

    # A print job queued on A (with the form token B handed out), run by the worker beside B.
    status, headers, _ = browser.request(a, "POST", "/printing/", {
        "kind": "invoices", "date_from": nl_date(issued_on), "date_to": nl_date(issued_on),
        "csrf_token": _token(printing)})
    assert status == 302, status
    job_path = urlsplit(headers["Location"]).path
    job_id = int(job_path.rsplit("/", 1)[1])
    deadline = time.monotonic() + 60
    while True:
        job = json.loads(browser.page(b, f"{job_path}/status"))
        if job["status"] not in ("queued", "running") or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    logs = "\n".join(log.read_text()[-2000:] for _process, log in processes)
    assert job["status"] == "done", (job, logs)

    # The file is in the shared output folder, written by the worker, and A serves it.
    status, headers, pdf = browser.request(a, "GET", f"/printing/jobs/{job_id}/download.pdf")
    assert status == 200 and headers["Content-Type"] == "application/pdf" and pdf.startswith(b"%PDF"), status
    assert [p.name for p in folders["shared"].glob("*.pdf")] and not any(
        folders[name].joinpath("print_jobs").exists() for name in ("a", "b", "worker"))

    # A draft issued on A: A checks it and answers, the worker beside B numbers it and stores its PDF, and B shows
    # it issued (invoicing/services.py: request_issue, issue_requested).
    draft_page = browser.page(a, f"/invoices/{draft_id}")
    status, headers, _ = browser.request(a, "POST", f"/invoices/{draft_id}/issue", {"csrf_token": _token(draft_page)})
    assert status == 302 and urlsplit(headers["Location"]).path == f"/invoices/{draft_id}", status
    deadline = time.monotonic() + 60
    while f'href="/invoices/{draft_id}/pdf"' not in (page := browser.page(b, f"/invoices/{draft_id}")):
        assert 'data-testid="issue-pending"' in page, page[-2000:]
        if time.monotonic() > deadline:
            raise AssertionError("the worker did not issue the invoice:\n" + "\n".join(
                log.read_text()[-2000:] for _process, log in processes))
        time.sleep(0.3)
    status, headers, pdf = browser.request(a, "GET", f"/invoices/{draft_id}/pdf")
    assert status == 200 and pdf.startswith(b"%PDF"), status

    # Signing out on B ends the session on A too, even for a copy of the cookie kept from before (the session
    # version lives in the database).
    kept = Browser()
    kept.cookies = dict(browser.cookies)
    assert kept.request(a, "GET", "/patients/")[0] == 200
    status, headers, _ = browser.request(b, "POST", "/logout", {"csrf_token": _token(browser.page(b, "/"))})
    assert status == 302
    status, headers, _ = kept.request(a, "GET", "/patients/")
    assert status == 302 and "/login" in headers["Location"]
