"""Production serving (issue 13, part 9): /healthz, request ids, gunicorn with the repo's config, and a print
worker that takes its render processes with it when it is killed."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import date
from pathlib import Path

import pytest
from conftest import make_test_app
from flask.logging import default_handler
from test_declarations import InvoiceClinic

from backoffice import create_app, request_ids
from backoffice.extensions import db
from backoffice.models import PrintJob
from backoffice.printing import services
from backoffice.security import public

PROJECT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
BSN = "363140128"
HEX_ID = re.compile(r"[0-9a-f]{16}")


# ---- /healthz ------------------------------------------------------------------------------------------------

def test_healthz_answers_ok_without_a_session_or_cache(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"database": "ok", "queue": "ok"}
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers
    assert HEX_ID.fullmatch(response.headers["X-Request-ID"])


@pytest.mark.parametrize("unreachable", [
    "postgresql+psycopg://postgres@127.0.0.1:1/test",  # nothing listens on port 1
])
def test_healthz_answers_503_naming_the_database_when_it_is_unreachable(unreachable, caplog):
    app = make_test_app("sqlite", SQLALCHEMY_DATABASE_URI=unreachable)
    with caplog.at_level(logging.WARNING, logger="backoffice.health"):
        response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"database": "failed", "queue": "ok"}
    assert "Set-Cookie" not in response.headers
    assert [r.getMessage() for r in caplog.records if r.name == "backoffice.health"] \
        and all("database unreachable" in r.getMessage() for r in caplog.records if r.name == "backoffice.health")


def test_healthz_answers_503_naming_the_queue_when_jobs_cannot_be_queued(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("")  # the queue file would have to be inside a file: cannot be created
    app = make_test_app("sqlite", PRINT_QUEUE_URL=f"sqlite:///{blocked}/print_queue.sqlite3")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"database": "ok", "queue": "failed"}


def test_healthz_checks_a_real_sqlite_queue_file(tmp_path):
    app = make_test_app("sqlite", PRINT_QUEUE_URL=f"sqlite:///{tmp_path}/queue/print_queue.sqlite3")
    assert app.test_client().get("/healthz").get_json() == {"database": "ok", "queue": "ok"}
    assert (tmp_path / "queue" / "print_queue.sqlite3").is_file()
    (tmp_path / "queue" / "print_queue.sqlite3").chmod(0o400)
    if os.geteuid() != 0:  # root writes to read-only files, so only an ordinary user sees the refusal
        assert app.test_client().get("/healthz").status_code == 503


# ---- request ids ---------------------------------------------------------------------------------------------

def _logging_app(**overrides):
    app = make_test_app("sqlite", **overrides)

    def noisy():
        logging.getLogger("backoffice.noisy").warning("looked something up")
        return "done"

    app.add_url_rule("/noisy", "noisy", public(noisy))
    return app


@pytest.fixture
def flask_log_handler():
    """Flask's own handler on the app's logger, as when nothing else configured logging (pytest does)."""
    logger = logging.getLogger("backoffice")
    added = default_handler not in logger.handlers
    if added:
        logger.addHandler(default_handler)
    yield
    if added:
        logger.removeHandler(default_handler)


def test_every_response_has_its_own_request_id_and_a_client_cannot_choose_it():
    client = _logging_app().test_client()
    first, second = client.get("/noisy"), client.get("/nothing-here")
    ids = [first.headers["X-Request-ID"], second.headers["X-Request-ID"]]
    assert all(HEX_ID.fullmatch(i) for i in ids) and ids[0] != ids[1]
    # Without a trusted proxy, the header is the client's word: ignored.
    forged = client.get("/noisy", headers={"X-Request-ID": "forged-by-the-client-123"})
    assert HEX_ID.fullmatch(forged.headers["X-Request-ID"])
    assert forged.headers.getlist("X-Request-ID") == [forged.headers["X-Request-ID"]]


@pytest.mark.parametrize(("sent", "kept"), [
    ("0f8e4b1e2b7c4f0e9d2a1b3c4d5e6f70", True),  # nginx's $request_id
    ("3f2c8a4e-1b2d-4c5e-9f00-123456789abc", True),  # a UUID
    ("short", False),
    ("x" * 65, False),
    ("bad id with spaces", False),
    (f"patient-{BSN}\r\nInjected: yes", False),
])
def test_a_trusted_proxy_may_pass_a_well_formed_request_id(sent, kept):
    client = _logging_app(TRUSTED_PROXIES=1).test_client()
    try:
        returned = client.get("/noisy", headers={"X-Request-ID": sent}).headers["X-Request-ID"]
    except ValueError:  # Werkzeug itself refuses a header value with a line break before the app sees it
        assert not kept
        return
    assert (returned == sent) is kept
    if not kept:
        assert HEX_ID.fullmatch(returned)


def test_log_lines_written_during_a_request_carry_its_id(flask_log_handler):
    client = _logging_app().test_client()
    errors = io.StringIO()
    response = client.get("/noisy", errors_stream=errors)
    line = next(line for line in errors.getvalue().splitlines() if "looked something up" in line)
    assert f"[{response.headers['X-Request-ID']}]" in line
    # Outside a request the id is "-".
    record = logging.LogRecord("backoffice", logging.INFO, __file__, 1, "no request", None, None)
    assert request_ids.FILTER.filter(record) and record.request_id == "-"


def test_the_error_page_shows_the_request_id_as_reference():
    app = _logging_app()
    response = app.test_client().get("/nothing-here")
    assert response.status_code == 404
    assert f"Referentie {response.headers['X-Request-ID']}" in response.get_data(as_text=True)


# ---- gunicorn with the repo's configuration -----------------------------------------------------------------

def test_workers_follow_the_core_count_capped_and_web_concurrency_wins(monkeypatch):
    from backoffice import gunicorn_conf

    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    assert [gunicorn_conf.default_workers(cores) for cores in (1, 2, 3, 64)] == [3, 5, 7, gunicorn_conf.MAX_WORKERS]
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    assert gunicorn_conf.default_workers(64) == 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the redirect itself is the answer under test


def _get(url: str, headers: dict | None = None):
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - a local http URL
    try:
        with urllib.request.build_opener(_NoRedirects).open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _gunicorn(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "--config", "backoffice/gunicorn_conf.py", "backoffice.wsgi:app"],
        cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _serving_env(tmp_path: Path, **extra: str) -> dict:
    database = tmp_path / "clinic.sqlite3"
    return {**os.environ, "BACKOFFICE_INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": f"sqlite:///{database}", "SECRET_KEY": "k" * 40, "HOST": "127.0.0.1",
            "PORT": str(_free_port()), "WEB_CONCURRENCY": "1", "PRINT_QUEUE_URL": "", **extra}


def test_gunicorn_serves_healthz_with_the_repo_config_and_logs_no_query_strings(tmp_path):
    env = _serving_env(tmp_path)
    app = create_app({"SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"]})  # the instance folder does not matter here
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    base = f"http://127.0.0.1:{env['PORT']}"
    server = _gunicorn(env)
    try:
        status, headers, body = _first_answer(server, f"{base}/healthz")
        assert status == 200
        assert json.loads(body) == {"database": "ok", "queue": "ok"}
        assert headers["Cache-Control"] == "no-store" and "Set-Cookie" not in headers
        # A search word and a referrer with a BSN: neither reaches the access log.
        status, headers, _ = _get(f"{base}/login?q={BSN}", {"Referer": f"{base}/patients/?q={BSN}"})
        login_id = headers["X-Request-ID"]
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=60)
    assert server.returncode == 0, err
    access = out.splitlines()
    line = next(line for line in access if "GET /login " in line)
    assert BSN not in out and BSN not in err
    assert f"rid={login_id}" in line and f'"{base}/patients/"' in line
    assert not [line for line in access if "/healthz" in line]  # polls are left out
    assert re.search(r"\[INFO\] \[-\] Booting worker", err)  # the error log has the id column


def test_under_gunicorn_the_app_log_lines_carry_the_request_id(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    env = _serving_env(tmp_path, PRINT_QUEUE_URL=f"sqlite:///{blocked}/print_queue.sqlite3")
    server = _gunicorn(env)
    try:
        status, headers, body = _first_answer(server, f"http://127.0.0.1:{env['PORT']}/healthz")
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=60)
    assert status == 503 and json.loads(body)["queue"] == "failed"
    warning = next(line for line in err.splitlines() if "print queue unreachable" in line)
    assert f"[{headers['X-Request-ID']}]" in warning
    assert "/healthz" not in out  # a failing check is not in the access log either: the error log has it


def _first_answer(server: subprocess.Popen, url: str):
    """The first answer of a server that is starting (it has a minute)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            return _get(url)
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"no answer from {url}; exit status {server.poll()}")


def test_gunicorn_refuses_to_start_in_production_without_real_keys(tmp_path):
    env = _serving_env(tmp_path, BACKOFFICE_ENV="production", SECRET_KEY="changeme")
    server = _gunicorn(env)
    try:
        out, err = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode != 0
    assert "SECRET_KEY" in err


# ---- the print worker ----------------------------------------------------------------------------------------

def _descendants(pid: int) -> set[int]:
    """Every living process below `pid` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its exit status waits to be read


def test_a_killed_print_worker_leaves_no_render_processes_behind(tmp_path, monkeypatch):
    database = tmp_path / "clinic.sqlite3"
    monkeypatch.setenv("BACKOFFICE_INSTANCE_PATH", str(tmp_path / "instance"))  # the queue file is in there
    env = {**os.environ, "BACKOFFICE_INSTANCE_PATH": str(tmp_path / "instance"),
           "DATABASE_URL": f"sqlite:///{database}", "PRINT_QUEUE_URL": "", "PRINT_WORKERS": "2",
           "SECRET_KEY": "x" * 40}
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}", "SECRET_KEY": "x" * 40,
                      "PRINT_QUEUE_URL": ""})
    with app.app_context():
        db.create_all()
        clinic = InvoiceClinic()
        for day in range(2, 12):  # ten declarations: more than POOL_THRESHOLD, so the pool renders them
            clinic.issued(clinic.treatment(day=date(2026, 10, day)), today=date(2026, 10, day))
        job_id = services.request_job("declarations", date(2026, 10, 1), date(2026, 10, 31)).id
        db.session.commit()
        from backoffice.printing import tasks

        tasks.enqueue(job_id)
        db.session.remove()
        db.engine.dispose()

    log = tmp_path / "consumer.log"
    with log.open("wb") as output:  # a file, not a pipe: a lingering child would hold a pipe open
        consumer = subprocess.Popen(
            [sys.executable, "-m", "huey.bin.huey_consumer", "backoffice.printing.tasks.huey", "-w", "1"],
            cwd=PROJECT, env=env, stdout=output, stderr=subprocess.STDOUT)
    renderers: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(renderers) < 2 and consumer.poll() is None:
            time.sleep(0.2)
            renderers = {pid for pid in _descendants(consumer.pid) if b"multiprocessing" in _cmdline(pid)}
        assert len(renderers) >= 2, f"the job started no render processes: {log.read_text()}"
        time.sleep(1.5)  # let them start rendering (each warms up WeasyPrint first)
        renderers |= _descendants(consumer.pid)
        consumer.kill()
        consumer.wait(timeout=10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_alive(pid) for pid in renderers):
            time.sleep(0.1)
        assert not [pid for pid in renderers if _alive(pid)]
    finally:
        consumer.kill()
        consumer.wait(timeout=10)
        for pid in renderers:  # when the test fails: leave no orphans on the machine
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    with app.app_context():
        assert db.session.get(PrintJob, job_id).status == "running"  # killed mid-job: stale handling fails it later
        db.session.remove()
        db.engine.dispose()
