"""The NEN 7513 access log: written on every touch of a patient, readable by admins only, never changeable."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from urllib.parse import parse_qsl, urlsplit

import factories
import pytest
from conftest import csrf_token, post_form
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from backoffice.extensions import db
from backoffice.models import AccessLog, AppendOnlyError, User

BSN = "111222333"
PATIENT = {
    "first_name": "Fleur", "infix": "van der", "last_name": "Berg", "date_of_birth": "1991-04-12",
    "street": "Keizersgracht 12", "postcode": "1015cs", "city": "Amsterdam", "phone": "020 123 4567",
    "email": "fleur@example.nl", "bsn": BSN, "id_document_type": "id_card", "id_document_number": "IXB12345",
}


def _create_patient(client, **changes) -> int:
    response = post_form(client, "/patients/new", {**PATIENT, **changes})
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def _rows(app, **where) -> list[AccessLog]:
    with app.app_context():
        rows = db.session.scalars(db.select(AccessLog).filter_by(**where).order_by(AccessLog.id)).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def _user_id(app, email: str) -> int:
    with app.app_context():
        return db.session.scalar(db.select(User.id).where(User.email == email))


def _add_entries(app, *entries: dict) -> None:
    """Insert entries with chosen times (inserting is the one thing the log allows)."""
    with app.app_context():
        for entry in entries:
            user = db.session.scalar(db.select(User).where(User.email == entry.pop("email")))
            db.session.add(AccessLog(user_id=user.id, user_email=user.email, user_role=user.role,
                                     ip_address="10.0.0.1", **entry))
        db.session.commit()


def _table(html: str) -> str:
    return html.split('data-testid="access-log-table"')[1].split("</table>")[0]


def _at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _entry(email: str, patient_id: int, action: str, subject: str, at: datetime, **extra) -> dict:
    return {"email": email, "patient_id": patient_id, "action": action, "subject": subject, "at": at, **extra}


# ---- writing --------------------------------------------------------------------------------------

def test_viewing_a_patient_writes_an_entry(app, as_role, users):
    client = as_role("therapist")
    patient_id = _create_patient(client)
    before = len(_rows(app))
    response = client.get(f"/patients/{patient_id}", environ_base={"REMOTE_ADDR": "192.0.2.15"})
    assert response.status_code == 200
    rows = _rows(app)
    assert len(rows) == before + 1
    entry = rows[-1]
    assert entry.user_id == _user_id(app, users["therapist"])
    assert entry.user_email == "therapist@test.nl" and entry.user_role == "therapist"
    assert entry.action == "view" and entry.subject == "patient"
    assert entry.patient_id == patient_id
    assert entry.ip_address == "192.0.2.15"
    assert (datetime.now(UTC) - entry.at).total_seconds() < 60


def test_the_bsn_never_reaches_the_log(app, as_role):
    client = as_role("admin")
    patient_id = _create_patient(client)
    client.get(f"/patients/{patient_id}")
    client.get(f"/patients/{patient_id}/edit")  # the one page that shows the full BSN
    post_form(client, f"/patients/{patient_id}/edit", {**PATIENT, "bsn": "", "id_document_type": "",
                                                       "id_document_number": ""})
    post_form(client, f"/patients/{patient_id}/edit", PATIENT)
    client.get("/patients/", query_string={"q": BSN})
    client.get("/patients/", query_string={"q": "111 222 333"})
    client.get(f"/access-log/patients/{patient_id}")
    csv_text = client.get(f"/access-log/patients/{patient_id}?format=csv").get_data(as_text=True)
    assert BSN not in csv_text
    assert BSN not in client.get("/access-log/").get_data(as_text=True)
    with app.app_context():
        rows = db.session.execute(text("SELECT * FROM access_log")).all()
    assert len(rows) >= 8
    for row in rows:
        for value in row:
            assert BSN not in str(value)
            assert "111 222 333" not in str(value)


# ---- who may read ---------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["therapist", "manager"])
def test_only_admins_read_the_log(app, as_role, role):
    patient_id = factories.committed(app, factories.patient, "Visser", "Sem", date_of_birth=date(1985, 1, 30))
    client = as_role(role)
    assert client.get("/access-log/").status_code == 403
    assert client.get(f"/access-log/patients/{patient_id}").status_code == 403
    assert client.get(f"/access-log/patients/{patient_id}?format=csv").status_code == 403
    assert client.get("/users/").status_code == 403


def test_no_route_can_change_the_log(app):
    rules = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/access-log")]
    # care.break_glass_log: the break-the-glass entries, read only (backoffice/care/).
    assert {rule.endpoint for rule in rules} == {"access_log.browse", "access_log.patient_log", "care.break_glass_log"}
    for rule in rules:
        assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule


def test_posting_to_the_log_is_not_allowed(app, as_role):
    client = as_role("admin")
    patient_id = factories.committed(app, factories.patient, "Visser", "Sem", date_of_birth=date(1985, 1, 30))
    client.get(f"/access-log/patients/{patient_id}")  # a read: one entry
    before = len(_rows(app))
    # With a valid CSRF token, so that only the missing route can refuse: 405, and the log is unchanged.
    token = csrf_token(client, "/")
    assert client.post("/access-log/", data={"csrf_token": token}).status_code == 405
    assert client.delete(f"/access-log/patients/{patient_id}", headers={"X-CSRFToken": token}).status_code == 405
    assert client.put(f"/access-log/patients/{patient_id}", headers={"X-CSRFToken": token}).status_code == 405
    assert len(_rows(app)) == before


# ---- browsing -------------------------------------------------------------------------------------

@pytest.fixture
def sample(app, users):
    """Five entries over two patients, two users and several days; returns the patient ids."""
    fleur, sem = (factories.committed(app, factories.patient, last, first, date_of_birth=date(1985, 1, 30))
                   for last, first in (("Berg", "Fleur"), ("Visser", "Sem")))
    _add_entries(
        app,
        _entry(users["therapist"], fleur, "view", "marker-a", _at(2026, 3, 1, 9)),
        _entry(users["therapist"], sem, "update", "marker-b", _at(2026, 3, 5, 9), detail="changed: phone"),
        # 23:30 UTC on 5 March is already 00:30 on 6 March in Amsterdam
        _entry(users["manager"], fleur, "print", "marker-c", _at(2026, 3, 5, 23, 30),
               on_behalf_of="Dr. Bakker"),
        _entry(users["manager"], sem, "export", "marker-d", _at(2026, 3, 10, 9)),
        _entry(users["therapist"], fleur, "view", "marker-e", _at(2026, 2, 20, 9)),
    )
    return {"fleur": fleur, "sem": sem}


def _markers(client, **query) -> list[str]:
    response = client.get("/access-log/", query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)
    table = _table(response.get_data(as_text=True))
    positions = {m: table.find(f"marker-{m}") for m in "abcde"}
    return [m for m, pos in sorted(positions.items(), key=lambda item: item[1]) if pos >= 0]


def test_browse_shows_newest_first_with_all_columns(as_role, sample):
    client = as_role("admin")
    assert _markers(client) == ["d", "c", "b", "a", "e"]
    table = _table(client.get("/access-log/").get_data(as_text=True))
    assert "06-03-2026 00:30" in table  # shown in Amsterdam time
    assert "manager@test.nl" in table and "Dr. Bakker" in table and "Fleur Berg" in table
    assert "changed: phone" in table and "10.0.0.1" in table and ">print<" in table
    assert f'href="/access-log/patients/{sample["fleur"]}"' in table


def test_browse_filters(app, as_role, users, sample):
    client = as_role("admin")
    therapist_id = _user_id(app, users["therapist"])
    assert _markers(client, user_id=therapist_id) == ["b", "a", "e"]
    assert _markers(client, patient_id=sample["sem"]) == ["d", "b"]
    assert _markers(client, action="view") == ["a", "e"]
    assert _markers(client, date_from="2026-03-01", date_to="2026-03-05") == ["b", "a"]
    assert _markers(client, date_from="2026-03-06") == ["d", "c"]
    assert _markers(client, date_to="2026-02-28") == ["e"]
    assert _markers(client, user_id=therapist_id, patient_id=sample["fleur"], action="view",
                    date_from="2026-03-01") == ["a"]
    assert _markers(client, patient_id=999) == []
    # Empty fields mean "any"
    assert _markers(client, user_id="", patient_id="", action="", date_from="", date_to="") == \
        ["d", "c", "b", "a", "e"]


def test_browse_rejects_nonsense_filters(as_role, sample):
    client = as_role("admin")
    response = client.get("/access-log/", query_string={"date_from": "2026-03-10", "date_to": "2026-03-01"})
    assert response.status_code == 422
    assert "before the start date" in response.get_data(as_text=True)
    response = client.get("/access-log/", query_string={"action": "drop table"})
    assert response.status_code == 422 and "Not a valid choice" in response.get_data(as_text=True)


def test_browse_is_paginated(app, as_role, sample, monkeypatch):
    from backoffice import clock

    # Signed in before every sample entry: the sign-in's own log entry is the oldest, after marker-e.
    monkeypatch.setattr(clock, "_frozen", datetime(2026, 1, 1, 9, tzinfo=UTC))
    app.config["PAGE_SIZE"] = 2
    client = as_role("admin")
    # Paged by key (time, then id; newest first), no count: "Older" to the end, "Newer" back.
    pages, query = [], {}
    while query is not None and len(pages) < 5:
        html = client.get("/access-log/", query_string=query).get_data(as_text=True)
        pages.append(_markers(client, **query))
        older = _link(html, "older")
        query = None if older is None else {"after": older["after"]}
    assert pages == [["d", "c"], ["b", "a"], ["e"]]
    newer = _link(html, "newer")
    assert _markers(client, before=newer["before"]) == ["b", "a"]
    assert _link(client.get("/access-log/").get_data(as_text=True), "newer") is None
    # The pager keeps the filters
    filtered = client.get("/access-log/", query_string={"action": "view"}).get_data(as_text=True)
    assert _link(filtered, "older") is None and "marker-a" in filtered and "marker-e" in filtered
    app.config["PAGE_SIZE"] = 1
    link = _link(client.get("/access-log/", query_string={"action": "view"}).get_data(as_text=True), "older")
    assert link["action"] == "view" and _markers(client, **link) == ["e"]
    # A cursor that is not one (garbage, out of range, another list's) shows the first page, never a 500.
    for bad in ("garbage", "WzFd", "WyJ4IiwxXQ", "WzEsMl0", "WyJ4XHUwMDAwIiwxXQ", "%00"):
        assert _markers(client, after=bad) == ["d"]
        assert _markers(client, before=bad) == ["d"]


def _link(html: str, testid: str) -> dict[str, str] | None:
    """The query of the pager link `testid` ("newer", "older"), None when it is disabled."""
    href = re.search(rf'data-testid="{testid}" href="([^"]*)"', html).group(1).replace("&amp;", "&")
    return None if href == "#" else dict(parse_qsl(urlsplit(href).query))


# ---- one patient's log ----------------------------------------------------------------------------

def test_patient_log_is_chronological_and_logs_itself(app, as_role, users, sample):
    client = as_role("admin")
    response = client.get(f"/access-log/patients/{sample['fleur']}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Access log of Fleur Berg" in html
    table = _table(html)
    assert table.index("marker-e") < table.index("marker-a") < table.index("marker-c")
    assert "marker-b" not in table and "marker-d" not in table  # Sem's entries
    [entry] = _rows(app, patient_id=sample["fleur"], subject="access log")
    assert entry.action == "view" and entry.user_email == users["admin"] and entry.ip_address == "127.0.0.1"
    # The next view shows the previous one, last
    table = _table(client.get(f"/access-log/patients/{sample['fleur']}").get_data(as_text=True))
    assert table.index("marker-c") < table.index("access log")


def test_patient_log_csv_export(app, as_role, users, sample):
    client = as_role("admin")
    html_table = _table(client.get(f"/access-log/patients/{sample['fleur']}").get_data(as_text=True))
    response = client.get(f"/access-log/patients/{sample['fleur']}", query_string={"format": "csv"})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == \
        f"attachment; filename=access-log-patient-{sample['fleur']}.csv"
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0] == ["time", "user e-mail", "user role", "on behalf of", "patient id", "action", "subject",
                       "detail", "ip address"]
    body = rows[1:]
    # The page's rows, plus the entry the page view itself wrote
    assert [row[6] for row in body] == ["marker-e", "marker-a", "marker-c", "access log"]
    assert [row[5] for row in body] == ["view", "view", "print", "view"]
    for row in body[:-1]:
        assert row[6] in html_table
    assert all(row[4] == str(sample["fleur"]) for row in body)
    assert body[2] == ["2026-03-06T00:30:00+01:00", "manager@test.nl", "manager", "Dr. Bakker",
                       str(sample["fleur"]), "print", "marker-c", "", "10.0.0.1"]
    export = _rows(app, patient_id=sample["fleur"], action="export")
    assert [(e.subject, e.detail, e.user_email) for e in export] == [
        ("access log", "CSV, 4 entries", users["admin"])
    ]


def test_csv_cells_cannot_become_formulas(app, as_role, users):
    patient_id = factories.committed(app, factories.patient, "Visser", "Sem", date_of_birth=date(1985, 1, 30))
    _add_entries(app, _entry(users["admin"], patient_id, "update", "insurance 1", _at(2026, 1, 1, 9),
                             detail='=HYPERLINK("http://evil.example","x")'))
    client = as_role("admin")
    data = client.get(f"/access-log/patients/{patient_id}?format=csv").data.decode("utf-8-sig")
    [row] = list(csv.reader(io.StringIO(data)))[1:]
    assert row[7] == "'=HYPERLINK(\"http://evil.example\",\"x\")"


def test_unknown_patient_log_is_404(as_role):
    assert as_role("admin").get("/access-log/patients/9999").status_code == 404


# ---- append-only ----------------------------------------------------------------------------------

@pytest.fixture
def entry_id(app, users):
    patient_id = factories.committed(app, factories.patient, "Visser", "Sem", date_of_birth=date(1985, 1, 30))
    _add_entries(app, _entry(users["admin"], patient_id, "export", "original", _at(2026, 1, 1, 9)))
    return _rows(app)[0].id


def _unchanged(app, entry_id):
    [entry] = _rows(app, id=entry_id)
    assert entry.action == "export" and entry.subject == "original"


def test_orm_update_is_refused(app, entry_id):
    with app.app_context():
        entry = db.session.get(AccessLog, entry_id)
        entry.action = "view"
        with pytest.raises(AppendOnlyError):
            db.session.flush()
        db.session.rollback()
    _unchanged(app, entry_id)


def test_orm_delete_is_refused(app, entry_id):
    with app.app_context():
        db.session.delete(db.session.get(AccessLog, entry_id))
        with pytest.raises(AppendOnlyError):
            db.session.flush()
        db.session.rollback()
    _unchanged(app, entry_id)


@pytest.mark.parametrize("statement", [
    "UPDATE access_log SET action='view'",
    "UPDATE access_log SET subject='forged' WHERE id > 0",
    "DELETE FROM access_log",
])
def test_raw_sql_change_is_refused_by_the_database(app, entry_id, statement):
    # SQLite: the trigger. PostgreSQL: the app's role has no UPDATE or DELETE on the log (the owner meets the
    # trigger: tests/test_migrations.py).
    with app.app_context():
        with pytest.raises(DBAPIError, match="append-only|permission denied for table access_log"), \
                db.engine.begin() as connection:
            connection.execute(text(statement))
        with db.engine.connect() as connection:
            assert connection.execute(text("SELECT COUNT(*) FROM access_log")).scalar() == 1
    _unchanged(app, entry_id)


def test_inserting_still_works_after_a_refused_change(app, as_role, entry_id):
    with app.app_context(), pytest.raises(DBAPIError), db.engine.begin() as connection:
        connection.execute(text("DELETE FROM access_log"))
    client = as_role("admin")
    patient_id = _rows(app)[0].patient_id
    assert client.get(f"/patients/{patient_id}").status_code == 200
    assert len(_rows(app, patient_id=patient_id)) == 2
