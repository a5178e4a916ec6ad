"""The access log at scale (issue 15): its pages are keyset pages of a bounded number of queries that give every
entry once across page boundaries, also where many entries share one moment; one patient's export streams in
chunks; the indexes the pages use are the model's, the migration's, on both backends. The timings themselves are
bench/access_log.py's (10 thousand against 10 million rows on PostgreSQL), not a test's."""

from __future__ import annotations

import csv
import importlib.util
import io
import re
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import factories
from sqlalchemy import event, select, text

from backoffice.access_log import services
from backoffice.care.services import BREAK_GLASS_SUBJECT
from backoffice.extensions import db
from backoffice.models import AccessLog, User
from backoffice.models import access_log as access_log_model
from backoffice.paging import Cursor

MOMENT = datetime(2026, 3, 5, 9, tzinfo=UTC)  # the moment most entries share
MIGRATION = Path(__file__).resolve().parent.parent / "migrations/versions/20261206_0028_access_log_scale.py"
INDEXES = {"ix_access_log_at_id", "ix_access_log_patient_id_at_id", "ix_access_log_user_id_at_id",
           "ix_access_log_action_at_id", "ix_access_log_break_glass_at_id"}


@contextmanager
def statements(app):
    """The SQL statements run meanwhile, lower-cased. SQLite's are written `LIMIT ? OFFSET ?` whatever the query:
    an OFFSET of 0 is dropped from them here, so that "offset" in a statement is a real one."""
    seen: list[str] = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        statement = " ".join(statement.lower().split())
        if statement.endswith(" offset ?") and parameters[-1] == 0:
            statement = statement.removesuffix(" offset ?")
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", remember)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", remember)


def _log_reads(seen: list[str]) -> list[str]:
    return [s for s in seen if s.startswith("select") and "from access_log" in s]


def _entries(app, patient_id: int, other_id: int) -> None:
    """Nine entries of the patient at one moment, interleaved by id with three of another patient at the same
    moment and two of the patient's earlier and later: ties everywhere a page can end."""
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.role == "admin"))

        def add(patient: int, at: datetime, subject: str) -> None:
            db.session.add(AccessLog(user_id=admin.id, user_email=admin.email, user_role=admin.role,
                                     patient_id=patient, action="view", subject=subject, at=at))

        add(patient_id, datetime(2026, 3, 1, 9, tzinfo=UTC), "earlier")
        for n in range(12):
            add(other_id if n % 4 == 3 else patient_id, MOMENT, f"tie {n}")
        add(patient_id, datetime(2026, 3, 9, 9, tzinfo=UTC), "later")
        db.session.commit()


def _expected(app, newest_first: bool, **where) -> list[int]:
    with app.app_context():
        rows = db.session.execute(select(AccessLog.at, AccessLog.id).filter_by(**where)).all()
    return [row.id for row in sorted(rows, reverse=newest_first)]


def _link(html: str, testid: str) -> dict[str, str] | None:
    href = re.search(rf'data-testid="{testid}" href="([^"]*)"', html).group(1).replace("&amp;", "&")
    return None if href == "#" else dict(parse_qsl(urlsplit(href).query))


def _ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-entry-id="(\d+)"', html)]


def test_pages_are_keyset_pages_of_bounded_queries_across_equal_moments(app, as_role):
    patient_id = factories.committed(app, factories.patient, "Berg", "Fleur")
    other_id = factories.committed(app, factories.patient, "Visser", "Sem")
    client = as_role("admin")  # its sign-in is an entry too
    _entries(app, patient_id, other_id)
    app.config["PAGE_SIZE"] = 4

    # The browse page, newest first: "Older" to the end, every entry once, then "Newer" back to the start.
    expected = _expected(app, newest_first=True)
    pages, query, reads = [], {}, []
    while query is not None:
        with statements(app) as seen:
            html = client.get("/access-log/", query_string=query).get_data(as_text=True)
        pages.append(_ids(html))
        reads.append(_log_reads(seen))
        older = _link(html, "older")
        query = None if older is None else {"after": older["after"]}
    assert [i for page in pages for i in page] == expected
    assert [len(page) for page in pages] == [4, 4, 4, 3]
    back = []
    newer = _link(html, "newer")
    while newer is not None:
        html = client.get("/access-log/", query_string={"before": newer["before"]}).get_data(as_text=True)
        back.append(_ids(html))
        newer = _link(html, "newer")
    assert back == pages[-2::-1]
    # Each page: one read of the log with LIMIT page size + 1, never OFFSET or COUNT, the same on every page.
    for page_reads in reads:
        assert len(page_reads) == 1, page_reads
        assert re.search(r"limit (5|%\(param_\d+\)s|\?)", page_reads[0]) and "offset" not in page_reads[0]
        assert "count(" not in page_reads[0]
    # Past the first page, the cursor's first column bounds the range on its own (an index range, not a filter
    # over the log from its start): at <= :v AND (at < :v OR (at = :v AND id < :id)).
    assert all(re.search(r"access_log\.at <= .* and \(access_log\.at < ", r[0]) for r in reads[1:])

    # Filtered (patient and action): the same walk within the filter.
    expected = _expected(app, newest_first=True, patient_id=patient_id)
    walked, query = [], {"patient_id": patient_id, "action": "view"}
    while query is not None:
        html = client.get("/access-log/", query_string=query).get_data(as_text=True)
        walked += _ids(html)
        query = _link(html, "older")
    assert walked == expected and len(walked) == 11

    # One patient's log, oldest first, through the service the page calls (the page itself logs each view).
    with app.app_context():
        walked, after, counts = [], None, []
        while True:
            with statements(app) as seen:
                page = services.patient_page(patient_id, 4, after)
            counts.append(len(_log_reads(seen)))
            walked += [entry.id for entry in page.items]
            if page.next is None:
                break
            after = page.next
        assert walked == _expected(app, newest_first=False, patient_id=patient_id)
        assert counts == [1, 1, 1]
        # From the last page's start backwards gives the pages before it.
        before = services.patient_page(patient_id, 4, before=Cursor((MOMENT, walked[8])))
        assert [entry.id for entry in before.items] == walked[4:8]
    # The page as the admin sees it: the first four, then its "Later" link to the next four.
    html = client.get(f"/access-log/patients/{patient_id}").get_data(as_text=True)
    assert _ids(html) == walked[:4]
    html = client.get(f"/access-log/patients/{patient_id}", query_string=_link(html, "later")).get_data(as_text=True)
    assert _ids(html) == walked[4:8]


def test_a_patients_export_streams_in_chunks_and_is_logged(app, as_role, users, monkeypatch):
    patient_id = factories.committed(app, factories.patient, "Berg", "Fleur")
    other_id = factories.committed(app, factories.patient, "Visser", "Sem")
    _entries(app, patient_id, other_id)
    client = as_role("admin")
    expected = _expected(app, newest_first=False, patient_id=patient_id)
    monkeypatch.setattr(services, "EXPORT_CHUNK", 4)
    with statements(app) as seen:
        response = client.get(f"/access-log/patients/{patient_id}", query_string={"format": "csv"})
        assert response.is_streamed
        body = response.get_data().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:2] == ["time", "user e-mail"]
    with app.app_context():
        subjects = dict(db.session.execute(select(AccessLog.id, AccessLog.subject)).all())
    assert [row[6] for row in rows[1:]] == [subjects[i] for i in expected]  # every entry once, in order
    # Read four at a time (LIMIT 5: a chunk and one to see whether more follow), each past the chunk before.
    chunks = [s for s in _log_reads(seen) if "limit" in s and "access_log.id <=" in s]
    assert len(chunks) == 3
    # Logged, with the count of what it holds; the export's own entry is not in it.
    with app.app_context():
        [export] = db.session.scalars(select(AccessLog).where(AccessLog.action == "export")).all()
        assert (export.patient_id, export.subject, export.detail) == (patient_id, "access log", "CSV, 11 entries")
        assert export.user_email == users["admin"] and export.id not in expected


def test_the_logs_indexes_are_the_models_on_both_backends(app):
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            found = dict(db.session.execute(text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                "AND tablename = 'access_log'")).all())
        else:
            found = dict(db.session.execute(text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'access_log' "
                "AND sql IS NOT NULL")).all())
    assert set(found) - {"pk_access_log"} == INDEXES  # and no other: each index costs on every insert
    assert "(at, id)" in found["ix_access_log_at_id"].replace('"', "")
    partial = found["ix_access_log_break_glass_at_id"].replace("::text", "").replace("(", "").replace(")", "")
    assert partial.endswith(f"WHERE subject = '{BREAK_GLASS_SUBJECT}'")


def test_the_migration_and_the_model_agree_on_the_partial_index():
    # tests/test_migrations.py compares the indexes' names and columns; the partial index's condition is checked
    # here: the model's, the migration's and the subject care/services.py writes.
    spec = importlib.util.spec_from_file_location("migration_0028", MIGRATION)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert access_log_model.BREAK_GLASS_SUBJECT == BREAK_GLASS_SUBJECT
    [index] = [i for i in AccessLog.__table__.indexes if i.name == "ix_access_log_break_glass_at_id"]
    for dialect in ("sqlite", "postgresql"):
        assert str(index.dialect_options[dialect]["where"]) == str(migration.BREAK_GLASS) \
            == f"subject = '{BREAK_GLASS_SUBJECT}'"
    assert {i.name for i in AccessLog.__table__.indexes} == INDEXES
