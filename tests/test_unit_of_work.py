"""One unit of work per request (backoffice/unit_of_work.py, BackofficeFlask.dispatch_request) and per CLI command,
and the one set of error handlers (backoffice/errors.py).

The views under test are registered on a throw-away blueprint: they flush, raise, refuse or register an
`after_commit` callback, and the tests look at what the database kept afterwards. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import logging
import re

import click
import pytest
from conftest import csrf_token
from flask import Blueprint, abort
from sqlalchemy import event, func, select

from backoffice import unit_of_work
from backoffice.errors import ServiceError
from backoffice.extensions import db
from backoffice.models import CatalogueItem
from backoffice.security import public


class NotThere(ServiceError):
    status = 404


def _add(code: str) -> None:
    db.session.add(CatalogueItem(code=code, name=f"Item {code}", price_cents=1000))
    db.session.flush()  # the row is in the database's transaction: only the commit may keep it


@pytest.fixture
def events() -> list[str]:
    return []


@pytest.fixture
def uow_app(app, events):
    """The app with a blueprint of views that exercise the unit of work; `events` records commits and callbacks
    in the order they happened."""
    bp = Blueprint("uow_test", __name__)

    @bp.route("/uow/store", methods=["GET", "POST"])
    @public
    def store():
        _add("STORED")
        unit_of_work.after_commit(lambda: events.append("after_commit"))
        return "stored"

    @bp.route("/uow/flush-then-fail", methods=["GET", "POST"])
    @public
    def flush_then_fail():
        _add("LOST")
        unit_of_work.after_commit(lambda: events.append("after_commit"))
        raise RuntimeError("secret detail: the disk is on fire")

    @bp.route("/uow/refuse", methods=["GET", "POST"])
    @public
    def refuse():
        _add("REFUSED")
        unit_of_work.after_commit(lambda: events.append("after_commit"))
        raise ServiceError("This invoice has already been issued.")

    @bp.route("/uow/missing")
    @public
    def missing():
        raise NotThere("No such claim batch.")

    @bp.route("/uow/abort")
    @public
    def aborts():
        _add("ABORTED")
        abort(404)

    app.register_blueprint(bp)

    def on_commit(connection):
        events.append("commit")

    with app.app_context():
        event.listen(db.engine, "commit", on_commit)
    yield app
    with app.app_context():
        event.remove(db.engine, "commit", on_commit)


def _codes(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(CatalogueItem.code).order_by(CatalogueItem.code)))


def test_a_successful_request_commits_once_and_then_runs_after_commit(uow_app, events):
    client = uow_app.test_client()
    assert client.get("/uow/store").status_code == 200
    assert events == ["commit", "after_commit"]
    assert _codes(uow_app) == ["STORED"]


def test_a_view_that_raises_after_flushing_stores_nothing_and_skips_after_commit(uow_app, events):
    client = uow_app.test_client()
    # TESTING propagates the exception to the test: the bug is not hidden behind a 500 page here.
    with pytest.raises(RuntimeError, match="disk is on fire"):
        client.get("/uow/flush-then-fail")
    assert "after_commit" not in events
    assert "commit" not in events
    assert _codes(uow_app) == []
    # The next request starts clean: nothing of the failed one is committed with it.
    assert client.get("/uow/store").status_code == 200
    assert _codes(uow_app) == ["STORED"]


def test_an_http_abort_rolls_back_what_the_view_flushed(uow_app, events):
    response = uow_app.test_client().get("/uow/abort")
    assert response.status_code == 404
    assert "Op dit adres staat niets." in response.get_data(as_text=True)  # a visitor gets the Dutch page
    assert _codes(uow_app) == []
    assert events == []


def test_the_friendly_500_page_shows_an_error_id_that_is_in_the_log_and_no_traceback(uow_app, events, caplog):
    uow_app.config["PROPAGATE_EXCEPTIONS"] = False
    with caplog.at_level(logging.ERROR, logger="backoffice.errors"):
        response = uow_app.test_client().get("/uow/flush-then-fail")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    found = re.search(r"referentie ([0-9a-f]{16})", html)  # the request id, also in the response header
    assert found, html
    error_id = found.group(1)
    assert response.headers["X-Request-ID"] == error_id
    logged = [r for r in caplog.records if error_id in r.getMessage()]
    assert len(logged) == 1
    assert logged[0].exc_info and logged[0].exc_info[0] is RuntimeError  # the traceback goes to the log...
    assert "Traceback" not in html and "disk is on fire" not in html and "RuntimeError" not in html  # ...not here
    assert "Er is niets opgeslagen" in html
    assert _codes(uow_app) == []
    assert "after_commit" not in events
    # A second failure gets its own id.
    again = re.search(r"referentie ([0-9a-f]{16})", uow_app.test_client().get("/uow/flush-then-fail").get_data(True))
    assert again and again.group(1) != error_id


def test_a_service_error_on_a_post_redirects_back_with_the_message(uow_app, events):
    client = uow_app.test_client()
    token = csrf_token(client, "/login")
    response = client.post("/uow/refuse", data={"csrf_token": token},
                           headers={"Referer": "http://localhost/login?next=/patients/"})
    assert response.status_code == 302
    assert response.headers["Location"] in ("http://localhost/login?next=/patients/", "/login?next=/patients/")
    assert "This invoice has already been issued." in client.get("/login").get_data(as_text=True)  # flashed
    assert _codes(uow_app) == []
    assert "after_commit" not in events


@pytest.mark.parametrize("referrer", [None, "http://evil.example/phish", "//evil.example/phish",
                                      "http://localhost.evil.example/", "javascript:alert(1)",
                                      "http://localhost\\@evil.example/"])
def test_a_refused_post_never_redirects_off_site(uow_app, referrer):
    client = uow_app.test_client()
    headers = {"Referer": referrer} if referrer else {}
    response = client.post("/uow/refuse", data={"csrf_token": csrf_token(client, "/login")}, headers=headers)
    assert response.status_code == 302
    assert response.headers["Location"] in ("/", "http://localhost/")


def test_a_service_error_on_a_get_gives_its_4xx_page(uow_app, events):
    client = uow_app.test_client()
    response = client.get("/uow/refuse")
    assert response.status_code == 409
    assert "This invoice has already been issued." in response.get_data(as_text=True)
    assert _codes(uow_app) == []
    response = client.get("/uow/missing")
    assert response.status_code == 404
    assert "No such claim batch." in response.get_data(as_text=True)


def test_a_cli_command_is_one_unit_of_work(uow_app, events):
    @click.command("uow-fail")
    @unit_of_work.transactional
    def fail():
        _add("CLI-LOST")
        raise click.ClickException("refused")

    @click.command("uow-store")
    @unit_of_work.transactional
    def store():
        _add("CLI-STORED")
        unit_of_work.after_commit(lambda: events.append("after_commit"))

    runner = uow_app.test_cli_runner()
    with uow_app.app_context():
        assert runner.invoke(fail).exit_code == 1
        assert events == []
        assert runner.invoke(store).exit_code == 0
    assert events == ["commit", "after_commit"]
    assert _codes(uow_app) == ["CLI-STORED"]


def test_discard_drops_the_refused_use_case_but_keeps_what_follows(uow_app):
    with uow_app.test_request_context():
        def work():
            _add("REFUSED")
            unit_of_work.discard()
            _add("KEPT")

        unit_of_work.run(work)
        assert db.session.scalar(select(func.count()).select_from(CatalogueItem)) == 1
    assert _codes(uow_app) == ["KEPT"]
