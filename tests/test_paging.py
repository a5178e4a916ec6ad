"""The one keyset pager: cursor tokens survive a round trip, anything else is no cursor (the first page)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models import AccessLog, Insurer, Patient, Treatment
from backoffice.paging import Cursor, Keyset

PATIENTS = Keyset((Patient.last_name, Patient.first_name, Patient.id))
LOG = Keyset((AccessLog.at, AccessLog.id), descending=True)
TREATMENTS = Keyset((Treatment.treatment_date, Treatment.id), descending=True)


def _token(values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def test_the_types_come_from_the_columns():
    assert PATIENTS.types == (str, str, int)
    assert LOG.types == (datetime, int)          # UtcDateTime, a TypeDecorator
    assert TREATMENTS.types == (date, int)


@pytest.mark.parametrize(("keyset", "values"), [
    (PATIENTS, ("van der Berg", "Zoë", 12)),
    (PATIENTS, ("O'Brien \"x\" / ? & #", "", 2**31 - 1)),   # the largest INTEGER, the id's type
    (LOG, (datetime(2026, 3, 5, 23, 30, 0, 123456, tzinfo=UTC), 7)),
    (TREATMENTS, (date(2026, 10, 5), 1)),
])
def test_a_cursor_survives_its_token(keyset, values):
    token = Cursor(values).token()
    assert token.isascii() and "=" not in token and "/" not in token and "+" not in token
    assert keyset.parse(token) == Cursor(values)


@pytest.mark.parametrize("token", [
    None, "", "garbage", "%%%", "x" * 5000,
    _token([1, 2]),                              # the wrong number of values
    _token(["Berg", "Anna", "12"]),              # text where an id belongs
    _token(["Berg", "Anna", True]),
    _token(["Berg", "Anna", 1.5]),
    _token(["Berg", "Anna", 2**63]),             # beyond a 64-bit integer: the driver would fail
    _token(["Berg", "Anna", -(2**63)]),
    _token(["Berg", "Anna", 2**31]),             # beyond an INTEGER: PostgreSQL fails (`:: INTEGER` out of range)
    _token(["Berg", "Anna", -(2**31)]),
    _token(["Berg\x00", "Anna", 1]),             # PostgreSQL refuses NUL in text
    _token(["B" * 501, "Anna", 1]),
    _token({"a": 1}),
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),
])
def test_anything_else_is_no_cursor(token):
    assert PATIENTS.parse(token) is None


def test_dates_and_moments_must_be_real_ones():
    assert TREATMENTS.parse(_token(["2026-13-01", 1])) is None
    assert TREATMENTS.parse(_token([20261001, 1])) is None
    assert LOG.parse(_token(["yesterday", 1])) is None
    # A moment without a zone is taken as UTC, as the database stores it.
    assert LOG.parse(_token(["2026-03-05T23:30:00", 1])) == Cursor((datetime(2026, 3, 5, 23, 30, tzinfo=UTC), 1))


def test_after_wins_over_before():
    after, before = Cursor(("A", "B", 1)).token(), Cursor(("C", "D", 2)).token()
    assert PATIENTS.cursors({"after": after, "before": before}) == (Cursor(("A", "B", 1)), None)
    assert PATIENTS.cursors({"before": before}) == (None, Cursor(("C", "D", 2)))
    assert PATIENTS.cursors({"after": "bad", "before": before}) == (None, Cursor(("C", "D", 2)))


# ---- mixed directions and boolean keys (active desc, name, id) ---------------------------------------------------

INSURERS = Keyset((Insurer.active, Insurer.name, Insurer.id), descending=(True, False, False))


def test_a_boolean_key_and_one_direction_per_column():
    assert INSURERS.types == (bool, str, int)
    assert INSURERS.directions == (True, False, False)
    assert LOG.directions == (True, True)
    assert INSURERS.parse(Cursor((False, "Zorg & Zekerheid", 7)).token()) == Cursor((False, "Zorg & Zekerheid", 7))
    for value in (1, 0, "true", None, 1.0):
        assert INSURERS.parse(_token([value, "A", 1])) is None
    assert PATIENTS.parse(_token([True, "A", 1])) is None   # and no boolean where text belongs
    with pytest.raises(ValueError):
        Keyset((Insurer.active, Insurer.id), descending=(True,))


def _walk(keyset, query, per_page, step):
    """Every page from the first by `step` ("after": onward) or from the last back (`step` "before")."""
    pages = [keyset.page(query, per_page)]
    if step == "before":
        while pages[-1].next is not None:
            pages.append(keyset.page(query, per_page, after=pages[-1].next))
        pages = [pages[-1]]
        while pages[-1].previous is not None:
            pages.append(keyset.page(query, per_page, before=pages[-1].previous))
        pages.reverse()
    else:
        while pages[-1].next is not None:
            pages.append(keyset.page(query, per_page, after=pages[-1].next))
    return pages


@pytest.mark.parametrize("step", ["after", "before"])
def test_pages_of_a_mixed_order_follow_it_both_ways(app, step):
    names = [("Beta", True), ("Alfa", False), ("Alfa", True), ("Gamma", False), ("Beta", False), ("Delta", True),
             ("Alfa", True)]
    with app.app_context():
        for number, (name, active) in enumerate(names):
            db.session.add(Insurer(name=name, uzovi=f"{9000 + number}", active=active))
        db.session.commit()
        everything = db.session.scalars(
            select(Insurer).order_by(Insurer.active.desc(), Insurer.name, Insurer.id)).all()
        assert [i.name for i in everything][:4] == ["Alfa", "Alfa", "Beta", "Delta"]  # the active ones first
        for per_page in (1, 2, 3, 7):
            pages = _walk(INSURERS, select(Insurer), per_page, step)
            assert [i.id for page in pages for i in page.items] == [i.id for i in everything], per_page
            assert pages[0].previous is None and pages[-1].next is None
            assert all(len(page.items) == per_page for page in pages[:-1])


@pytest.mark.parametrize(("keyset", "model", "values"), [
    (PATIENTS, Patient, ("Berg", "Anna", 2**31 - 1)),
    (INSURERS, Insurer, (True, "A", -(2**31 - 1))),
    (LOG, AccessLog, (datetime(2026, 3, 5, 23, 30, tzinfo=UTC), 2**31 - 1)),
])
def test_the_largest_cursor_values_are_queried_on_both_backends(app, keyset, model, values):
    """What parse lets through the database takes: on PostgreSQL a value beyond the column's INTEGER failed."""
    cursor = keyset.parse(Cursor(values).token())
    assert cursor == Cursor(values)
    with app.app_context():
        assert keyset.page(select(model), 5, after=cursor).items == []
        assert keyset.page(select(model), 5, before=cursor).items == []
