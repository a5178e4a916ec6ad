"""Bad input never gives a 500 (issue 9, part 11): the test walks the URL map as an admin and sends hostile values
for every route parameter and for every query argument the pages read; each answer must be below 500.

TESTING is on, so an exception in a view is raised here with its traceback instead of hiding behind the error
page. Runs on SQLite and PostgreSQL (they fail differently: SQLite cannot bind integers beyond 64 bits,
PostgreSQL refuses NUL bytes in text).
"""

from __future__ import annotations

import re
from datetime import date

import factories
import pytest
from conftest import csrf_token, login
from werkzeug.datastructures import ImmutableMultiDict

from backoffice.extensions import db

# Every query argument a page reads (grep request.args, the list filters and the cursors).
QUERY_ARGS = ("q", "page", "per_page", "month", "fresh", "status", "kind", "reimbursable", "therapist_id",
              "insurer_id", "patient_id", "user_id", "action", "date_from", "date_to", "after", "before", "format",
              "on", "next", "treatment_id", "indication")
BIG = "99999999999999999999"
HOSTILE = (
    "abc\x00def",                 # NUL byte: PostgreSQL refuses it in text
    "abc\\",                      # trailing backslash: a LIKE escape character with nothing to escape
    BIG,                          # beyond a 64-bit integer
    str(2**63),                   # one beyond the largest BIGINT
    str(2**31),                   # one beyond the largest INTEGER (every id column)
    "-1",
    "-" + BIG,
    "2026-13",                    # a month that does not exist
    "２０２６-１０",               # full-width digits: str.isdigit() says yes, int() may not
    "2026-10-01_" + BIG,          # a keyset cursor with an overflowing id
    "99999-01-01.0." + BIG,
    "%_%",
    "/\r\nSet-Cookie: x=1",
)
PATH_VALUES = (BIG, str(2**63), str(2**31), "0")
SKIP = {"static", "bootstrap.static", "auth.login"}


@pytest.fixture
def admin(app, users):
    """Signed in as the admin, over a small practice (so that id 1 exists for most records)."""
    with app.app_context():
        factories.practice()
        therapist = factories.therapist()
        insurer = factories.insurer(packages=["Basis"])
        patient = factories.patient(bsn="111222333")
        factories.insurance(patient, insurer, package=insurer.packages[0])
        factories.referral(patient)
        item = factories.catalogue_item()
        factories.coverage_rule(insurer)
        treatment = factories.recorded_treatment(patient.id, therapist.id, item.id, date(2026, 10, 2))
        by = factories.existing_user(users["admin"])
        factories.issued_invoice(patient.id, [treatment.id], by, date(2026, 10, 5))
        db.session.commit()
    client = app.test_client()
    assert login(client, users["admin"]).status_code == 302
    return client


def _rules(app, method: str):
    return [rule for rule in app.url_map.iter_rules() if method in rule.methods and rule.endpoint not in SKIP]


def _url(rule, **values) -> str:
    arguments = dict.fromkeys(rule.arguments, 1) | values
    return rule.build(arguments, append_unknown=False)[1]


def _assert_no_server_error(client, method: str, url: str, **kwargs) -> None:
    response = client.open(url, method=method, **kwargs)
    assert response.status_code < 500, f"{method} {url!r} {kwargs.get('query_string', '')!r}: {response.status_code}"


def test_hostile_route_parameters_give_404_not_500(app, admin):
    token = csrf_token(admin, "/")
    marker = 987_654_321
    for method in ("GET", "POST"):
        for rule in _rules(app, method):
            for argument in rule.arguments:
                for value in PATH_VALUES:
                    url = _url(rule, **{argument: marker}).replace(str(marker), value)
                    kwargs = {"data": {"csrf_token": token}} if method == "POST" else {}
                    response = admin.open(url, method=method, **kwargs)
                    assert response.status_code < 500, f"{method} {url}: {response.status_code}"
                    if value != "0":
                        assert response.status_code == 404, f"{method} {url}: {response.status_code}"


class _RecordingArgs(ImmutableMultiDict):
    """Query arguments that note which names a view reads, so that each page is sent only what it reads."""

    read: set[str] = set()

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def getlist(self, key, type=None):
        self.read.add(key)
        return super().getlist(key, type)

    def __contains__(self, key):
        self.read.add(key)
        return super().__contains__(key)


def _arguments_read(app, client, url: str) -> set[str]:
    """The names of QUERY_ARGS the page at `url` reads (get, [], getlist, `in`), found with harmless values."""
    _RecordingArgs.read = set()
    original = app.request_class
    app.request_class = type("RecordingRequest", (original,), {"parameter_storage_class": _RecordingArgs})
    try:
        client.get(url, query_string=dict.fromkeys(QUERY_ARGS, "1"))
    finally:
        app.request_class = original
    return _RecordingArgs.read & set(QUERY_ARGS)


def test_hostile_query_arguments_give_no_server_error(app, admin):
    pages = {}
    for rule in _rules(app, "GET"):
        url = _url(rule)
        pages[url] = _arguments_read(app, admin, url)
    read = set().union(*pages.values())
    # The walk must find the lists' filters, cursors and paging, or it proves nothing.
    assert {"q", "month", "patient_id", "after", "before", "status", "therapist_id"} <= read, read
    for url, names in pages.items():
        for value in HOSTILE:
            # Each argument alone (one refusal cannot hide another argument's crash), then all at once.
            for name in sorted(names):
                _assert_no_server_error(admin, "GET", url, query_string={name: value})
            if names:
                _assert_no_server_error(admin, "GET", url, query_string=dict.fromkeys(QUERY_ARGS, value))


@pytest.mark.parametrize("value", ["abc\x00def", "abc\\", BIG, str(2**31), "-1"])
def test_hostile_form_fields_give_a_4xx_or_a_form_message(app, admin, value):
    """Every POST form, each field it renders, filled with a hostile value: never a 500."""
    token = csrf_token(admin, "/")
    for rule in _rules(app, "POST"):
        url = _url(rule)
        page = admin.get(url) if "GET" in rule.methods else None
        names = set()
        if page is not None and page.status_code == 200:
            names = set(re.findall(r'name="([^"]+)"', page.get_data(as_text=True))) - {"csrf_token"}
        data = dict.fromkeys(names | {"q", "name"}, value) | {"csrf_token": token}
        _assert_no_server_error(admin, "POST", url, data=data)


def test_nul_bytes_are_refused_with_400(admin):
    assert admin.get("/patients/", query_string={"q": "Berg\x00"}).status_code == 400
    data = {"csrf_token": csrf_token(admin, "/patients/new"), "first_name": "Fleur\x00", "last_name": "Berg",
            "date_of_birth": "1991-04-12"}
    assert admin.post("/patients/new", data=data).status_code == 400


def test_ids_beyond_64_bits_are_not_found(admin):
    for url in ("/patients/" + BIG, "/patients/" + str(2**63), "/invoices/" + BIG + "/pdf"):
        assert admin.get(url).status_code == 404, url
    assert admin.get("/patients/" + str(2**31)).status_code == 404  # ids are INTEGER columns
    assert admin.get("/patients/" + str(2**31 - 1)).status_code == 404  # the largest id still reaches the view
    assert admin.get("/treatments/", query_string={"patient_id": str(2**31)}).status_code == 400
    assert admin.get("/treatments/", query_string={"patient_id": "-1"}).status_code == 404
    assert admin.get("/patients/", query_string={"q": BIG}).status_code == 200  # a search may hold any number


def test_thousands_of_digits_are_refused_not_crashed(admin):
    """int() refuses more than 4,300 digits with a ValueError: the guard must not call it on such a number."""
    many = "9" * 5000
    assert admin.get("/invoices/", query_string={"after": many}).status_code == 400
    assert admin.get("/invoices/", query_string={"after": "0" * 5000 + "7"}).status_code == 200  # just 7
    data = {"csrf_token": csrf_token(admin, "/patients/new"), "first_name": "Fleur", "last_name": "Berg",
            "date_of_birth": "1991-04-12", "phone": many}
    assert admin.post("/patients/new", data=data).status_code == 400


@pytest.mark.parametrize("target", ["/\r\nSet-Cookie: x=1", "/\\evil.example", "//evil.example", "https://evil.example/",
                                    "/\x00"])
def test_login_next_never_leaves_the_site_nor_breaks(client, users, target):
    token = csrf_token(client, "/login")
    response = client.post("/login", query_string={"next": target},
                           data={"email": users["admin"], "password": "correct horse battery", "csrf_token": token})
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        assert response.headers["Location"] in ("/", "http://localhost/"), response.headers["Location"]


def test_a_local_next_is_followed(client, users):
    token = csrf_token(client, "/login")
    response = client.post("/login", query_string={"next": "/patients/?q=Berg"},
                           data={"email": users["admin"], "password": "correct horse battery", "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/patients/?q=Berg")
