"""Issue 13, parts 5 and 12: a BSN never travels in a URL or a log, and list pages log which patients they show.

A GET search puts its words in the address, and every web server and proxy keeps the address in its access log:
a nine-digit number (perhaps a BSN) in a query argument is refused before any view runs, and the POST form
"Search by BSN" finds the patient by the keyed hash instead. Outside development, SQL errors are logged without
their parameters (typed search words).
"""

from __future__ import annotations

import re
from datetime import date

import factories
import pytest
from conftest import post_form
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import StatementError

import config
from backoffice.domain.validators import holds_nine_digit_number
from backoffice.extensions import db
from backoffice.models import AccessLog

BSN = "111222333"
SPELLINGS = [BSN, "111 222 333", "1112.22.333", "111-222-333", "１１１２２２３３３", "bsn111222333", "Berg 111222333"]


@pytest.mark.parametrize("typed", [*SPELLINGS, "123456789", "٣٦٣١٤٠١٢٨", "24-11-1990 123456782"])
def test_a_nine_digit_number_however_written_is_recognised(typed):
    assert holds_nine_digit_number(typed)


@pytest.mark.parametrize("typed", ["", "Berg", "24-11-1990", "1990-11-24", "24-11-90", "3511 AA", "ZK-778899",
                                   "0612345678", "06 1234 5678", "020 123 4567", "12345678", "1234567890",
                                   "NL91ABNA0417164300", "24-11-1990 1012", "2026-00012", "C2026-00012",
                                   "factuur 2026-00012"])
def test_dates_postcodes_phone_and_long_numbers_are_not_taken_for_a_bsn(typed):
    assert not holds_nine_digit_number(typed)


def _log(app, since: int = 0) -> list[AccessLog]:
    with app.app_context():
        return list(db.session.scalars(select(AccessLog).where(AccessLog.id > since).order_by(AccessLog.id)))


def _last_id(app) -> int:
    with app.app_context():
        return db.session.scalar(select(db.func.max(AccessLog.id))) or 0


def _no_bsn_in(rows: list[AccessLog]) -> None:
    for row in rows:
        for value in (row.subject, row.detail, row.on_behalf_of):
            assert BSN not in re.sub(r"[\s.\-]", "", value), value


@pytest.fixture
def fleur(app) -> int:
    with app.app_context():
        patient = factories.patient("Berg", "Fleur", bsn=BSN, date_of_birth=date(1991, 4, 12))
        factories.patient("Visser", "Sem")
        db.session.commit()
        return patient.id


@pytest.mark.parametrize("typed", SPELLINGS)
def test_a_get_search_with_a_bsn_is_refused_and_not_echoed(app, as_role, fleur, typed):
    client = as_role("therapist")
    before = _last_id(app)
    response = client.get("/patients/", query_string={"q": typed})
    assert response.status_code == 303
    assert response.headers["Location"] == "/patients/"  # the number is not carried on
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Search by BSN" in page and "Nothing was searched" in page
    for shown in (BSN, typed, "111 222 333", "１１１"):
        assert shown not in page
    rows = _log(app, before)
    assert [row.subject for row in rows if row.action == "search"] == []  # no search ran
    _no_bsn_in(rows)


@pytest.mark.parametrize("url", ["/invoices/?status=paid&q=111222333", "/treatments/?kind=medical&q=111+222+333",
                                 "/users/?q=111222333", "/insurers/?q=111222333", "/therapists/?q=111222333",
                                 "/catalogue/?q=111222333", "/access-log/?patient_id=111222333"])
def test_every_get_form_refuses_it_and_keeps_the_other_filters(app, as_role, url):
    response = as_role("admin").get(url)
    assert response.status_code == 303
    location = response.headers["Location"]
    assert "111" not in location and location.split("?")[0] == url.split("?")[0]
    assert ("status=paid" in location) == ("status=paid" in url)
    assert ("kind=medical" in location) == ("kind=medical" in url)


def test_a_bsn_in_the_query_of_a_post_is_refused(app, as_role, fleur):
    client = as_role("therapist")
    response = post_form(client, "/patients/find-by-bsn?q=111222333", {"bsn": BSN}, token_from="/patients/")
    assert response.status_code == 400


def test_the_refusal_never_redirects_off_the_site(app, as_role):
    response = as_role("therapist").get("//evil.example/?q=111222333")
    assert response.status_code == 303 and response.headers["Location"] == "/"


def test_signed_out_the_number_does_not_reach_the_sign_in_link(app, client):
    response = client.get("/patients/?q=111222333")
    assert response.status_code == 303 and "111" not in response.headers["Location"]
    login_redirect = client.get(response.headers["Location"])
    assert "111" not in login_redirect.headers.get("Location", "")


def test_the_patient_list_offers_the_post_form_and_no_longer_invites_a_bsn(app, as_role):
    client = as_role("therapist")
    html = client.get("/patients/").get_data(as_text=True)
    form = re.search(r'<form method="post" action="/patients/find-by-bsn"[^>]*data-testid="bsn-search".*?</form>',
                     html, re.S)
    assert form and 'name="csrf_token"' in form.group(0) and 'name="bsn"' in form.group(0)
    for search in re.findall(r'<form[^>]*method="get".*?</form>', html, re.S):
        assert "BSN" not in search  # no GET search field asks for a BSN
    for url in ("/invoices/", "/treatments/"):
        filters = client.get(url).get_data(as_text=True).split('data-testid="filters"')[1]
        assert "BSN" not in filters.split("</form>")[0]


@pytest.mark.parametrize("typed", [BSN, "111 222 333", "1112.22.333"])
def test_the_post_search_finds_the_patient_by_the_keyed_hash(app, as_role, fleur, typed):
    client = as_role("therapist")
    before = _last_id(app)
    response = post_form(client, "/patients/find-by-bsn", {"bsn": typed}, token_from="/patients/")
    assert response.status_code == 302 and response.headers["Location"] == f"/patients/{fleur}"
    assert "111" not in response.headers["Location"]
    rows = _log(app, before)
    search = [row for row in rows if row.action == "search"]
    assert [(r.patient_id, r.subject, r.detail) for r in search] == [
        (fleur, "patient search by BSN", f"1 shown: #{fleur}")]
    _no_bsn_in(rows)


def test_the_post_search_says_when_nobody_or_nothing_valid_was_found(app, as_role, fleur):
    client = as_role("therapist")
    nobody = post_form(client, "/patients/find-by-bsn", {"bsn": "123456782"})
    assert nobody.status_code == 200 and 'data-testid="nothing-found"' in nobody.get_data(as_text=True)
    slip = post_form(client, "/patients/find-by-bsn", {"bsn": "111222334"})
    assert slip.status_code == 422 and "eleven-test" in slip.get_data(as_text=True)
    for typed, message in (("１１１２２２３３３", "digits 0-9"), ("12345", "9 digits"), ("", "required")):
        response = post_form(client, "/patients/find-by-bsn", {"bsn": typed})
        assert response.status_code == 422 and message in response.get_data(as_text=True), typed
    searches = [row for row in _log(app) if row.action == "search"]
    assert [(r.patient_id, r.detail) for r in searches] == [(None, "0 shown"), (None, "0 shown")]


def test_the_post_search_needs_its_csrf_token_and_a_reader(app, as_role, client, fleur):
    assert client.post("/patients/find-by-bsn", data={"bsn": BSN}).status_code in (302, 400)  # signed out
    signed_in = as_role("therapist")
    assert signed_in.post("/patients/find-by-bsn", data={"bsn": BSN}).status_code == 400  # no CSRF token


def test_the_post_search_also_finds_a_nine_digit_policy_number(app, as_role):
    with app.app_context():
        insurer = factories.insurer()
        kees = factories.patient("Smit", "Kees")
        factories.insurance(kees, insurer, policy_number="123456789")  # fails the eleven-test: no BSN
        db.session.commit()
        kees_id = kees.id
    response = post_form(as_role("therapist"), "/patients/find-by-bsn", {"bsn": "123 456 789"})
    assert response.status_code == 302 and response.headers["Location"] == f"/patients/{kees_id}"


# ---- list pages log the patients they show ----------------------------------------------------------------

def test_the_patient_list_logs_one_row_naming_the_patients_shown(app, as_role):
    with app.app_context():
        ids = [factories.patient(f"Patient{n}", "Test").id for n in range(3)]
        db.session.commit()
    client = as_role("therapist")
    before = _last_id(app)
    assert client.get("/patients/").status_code == 200
    rows = _log(app, before)
    assert [(r.action, r.patient_id, r.subject, r.detail) for r in rows] == [
        ("view", None, "patient list", "3 shown: " + " ".join(f"#{i}" for i in ids))]
    before = _last_id(app)
    client.get("/patients/", query_string={"q": "patient1"})
    assert [(r.action, r.patient_id, r.detail) for r in _log(app, before)] == [
        ("search", ids[1], f"patient search, 1 shown: #{ids[1]}")]


def test_a_list_showing_nobody_logs_nothing(app, as_role):
    client = as_role("therapist")
    before = _last_id(app)
    client.get("/patients/")
    client.get("/invoices/")
    client.get("/treatments/")
    assert _log(app, before) == []


# ---- SQL parameters are not logged outside development ---------------------------------------------------

def _load(monkeypatch, tmp_path, env: str) -> dict:
    for name in ("DATABASE_URL", "SESSION_COOKIE_SECURE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BACKOFFICE_ENV", env)
    monkeypatch.setenv("MAIL_SERVER", "smtp.example.nl")  # production sends e-mail by SMTP (tests/test_mail.py)
    monkeypatch.setenv("MAIL_FROM", "info@example.nl")
    monkeypatch.setenv("SECRET_KEY", "k3Y-" + "a1B2c3D4e5F6g7H8" * 4)
    monkeypatch.setenv("FIELD_ENCRYPTION_KEY", "f1E-" + "z9Y8x7W6v5U4t3S2" * 4)
    return config.load(str(tmp_path))


def test_production_engine_hides_sql_parameters(monkeypatch, tmp_path):
    options = _load(monkeypatch, tmp_path, "production")["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options["hide_parameters"] is True
    assert _load(monkeypatch, tmp_path, "development")["SQLALCHEMY_ENGINE_OPTIONS"]["hide_parameters"] is False
    # What that means for an error message (the one the error log records).
    engine = create_engine("sqlite://", **{k: v for k, v in options.items() if k != "pool_pre_ping"})
    with engine.connect() as connection, pytest.raises(StatementError) as error:
        connection.execute(text("SELECT * FROM no_such_table WHERE q = :q"), {"q": "Berg 111222333"})
    assert "111222333" not in str(error.value) and "hidden due to hide_parameters" in str(error.value)
