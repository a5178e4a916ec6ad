"""The clinic's clock: "today" is the day in CLINIC_TIMEZONE (default Europe/Amsterdam), not the server's day.

The clock is moved with `backoffice.clock.freeze`; every reading of the wall clock goes through `utc_now`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import factories
import pytest
from conftest import make_test_app, post_form
from sqlalchemy import select

import config
from backoffice import clock
from backoffice.extensions import db
from backoffice.invoicing import services
from backoffice.models import Invoice, User

# 23:30 UTC on New Year's Eve is 00:30 on 1 January in Amsterdam (CET, UTC+1).
NEW_YEARS_EVE_LATE = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)


# ---- the clock itself (no database) ---------------------------------------------------------------------

@pytest.mark.parametrize(("moment", "day"), [
    (datetime(2026, 12, 31, 22, 59, 59, tzinfo=UTC), date(2026, 12, 31)),  # 23:59:59 CET
    (datetime(2026, 12, 31, 23, 0, tzinfo=UTC), date(2027, 1, 1)),  # midnight CET
    (NEW_YEARS_EVE_LATE, date(2027, 1, 1)),
    (datetime(2026, 6, 30, 21, 59, tzinfo=UTC), date(2026, 6, 30)),  # 23:59 CEST (UTC+2)
    (datetime(2026, 6, 30, 22, 0, tzinfo=UTC), date(2026, 7, 1)),  # midnight CEST
])
def test_clinic_today_turns_at_midnight_in_amsterdam(moment, day):
    with clock.freeze(moment):
        assert clock.clinic_today() == day
        assert clock.clinic_now().date() == day
        assert clock.clinic_now() == moment  # the same instant, only shown in the clinic's zone
        assert clock.clinic_now().tzinfo.key == "Europe/Amsterdam"


def test_utc_now_is_aware_and_freeze_restores_the_real_clock():
    with clock.freeze(datetime(2027, 1, 1, 0, 30, tzinfo=clock.clinic_timezone())) as frozen:
        assert frozen == NEW_YEARS_EVE_LATE and frozen.tzinfo is UTC
        assert clock.utc_now() == NEW_YEARS_EVE_LATE and clock.utc_now().tzinfo is UTC
    real = clock.utc_now()
    assert real.tzinfo is UTC and abs(real - datetime.now(UTC)) < timedelta(minutes=1)


def test_freeze_refuses_a_naive_moment():
    with pytest.raises(ValueError, match="aware"), clock.freeze(datetime(2026, 12, 31, 23, 30)):
        pass


def test_the_clinic_zone_comes_from_the_app_config():
    app = make_test_app("sqlite", CLINIC_TIMEZONE="America/New_York")
    with clock.freeze(NEW_YEARS_EVE_LATE):
        assert clock.clinic_today() == date(2027, 1, 1)  # no app: Amsterdam
        with app.app_context():
            assert clock.clinic_today() == date(2026, 12, 31)  # 18:30 in New York
            assert clock.clinic_now().hour == 18


# ---- CLINIC_TIMEZONE in config.py ----------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    (None, "Europe/Amsterdam"), ("", "Europe/Amsterdam"), ("  ", "Europe/Amsterdam"),
    ("Europe/Brussels", "Europe/Brussels"), (" UTC ", "UTC"),
])
def test_clinic_timezone_setting(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("CLINIC_TIMEZONE", raising=False)
    else:
        monkeypatch.setenv("CLINIC_TIMEZONE", value)
    assert config.clinic_timezone_name() == expected


@pytest.mark.parametrize("value", ["Europe/Amsterdamm", "CET+1", "../../etc/passwd", "Europe/"])
def test_an_unknown_clinic_timezone_stops_the_app(monkeypatch, tmp_path, value):
    monkeypatch.setenv("CLINIC_TIMEZONE", value)
    monkeypatch.setenv("BACKOFFICE_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("BACKOFFICE_ENV", raising=False)
    with pytest.raises(config.ConfigError, match="CLINIC_TIMEZONE must be an IANA time zone"):
        config.clinic_timezone_name()
    from backoffice import create_app
    with pytest.raises(config.ConfigError, match="CLINIC_TIMEZONE"):
        create_app()


def test_the_app_reads_clinic_timezone_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CLINIC_TIMEZONE", "Europe/Brussels")
    monkeypatch.setenv("BACKOFFICE_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("BACKOFFICE_ENV", raising=False)
    from backoffice import create_app
    app = create_app()
    with app.app_context():
        assert clock.clinic_timezone().key == "Europe/Brussels"


# ---- an invoice issued at 00:30 on 1 January, clinic time, on a server running on UTC --------------------

def _new_years_eve_treatments(count: int) -> tuple[User, int, list[int]]:
    """A practice, a user and a patient with `count` treatments on 31 December 2026; returns their ids."""
    factories.practice()
    by = factories.user()
    therapist, item, patient = factories.therapist(), factories.catalogue_item(), factories.patient()
    factories.insurance(patient, factories.insurer())
    ids = [factories.treatment(patient.id, therapist.id, item.id, day=date(2026, 12, 31)).id for _ in range(count)]
    db.session.commit()
    return by, patient.id, ids


def _issue_now(patient_id: int, treatment_id: int, by: User) -> Invoice:
    """Issued without a `today`: the service reads the clinic's clock."""
    invoice = factories.draft_invoice(patient_id, [treatment_id], by)
    return services.issue_invoice(invoice, by, renderer=factories.stub_renderer)


def test_an_invoice_issued_at_half_past_midnight_on_new_year_belongs_to_the_new_year(app):
    with app.app_context():
        by, patient_id, (evening, night) = _new_years_eve_treatments(2)
        with clock.freeze(datetime(2026, 12, 31, 22, 45, tzinfo=UTC)):  # 23:45 in Amsterdam: still 2026
            old = _issue_now(patient_id, evening, by)
        with clock.freeze(NEW_YEARS_EVE_LATE):  # 00:30 on 1 January in Amsterdam
            new = _issue_now(patient_id, night, by)
        db.session.commit()
        assert (old.issue_date, old.number, old.series_year) == (date(2026, 12, 31), "2026-00001", 2026)
        assert (new.issue_date, new.number, new.series_year, new.sequence) == \
            (date(2027, 1, 1), "2027-00001", 2027, 1)
        assert new.due_date == date(2027, 1, 15)  # 14 days' term from the clinic's date
        assert db.session.get(Invoice, new.id).issued_at == NEW_YEARS_EVE_LATE  # stored as the UTC instant


def test_the_issue_page_dates_the_invoice_by_the_clinics_day(app, as_role, client):
    with app.app_context():
        by, patient_id, (treatment_id,) = _new_years_eve_treatments(1)
        invoice_id = factories.draft_invoice(patient_id, [treatment_id], by).id
        db.session.commit()
    with clock.freeze(NEW_YEARS_EVE_LATE):
        as_role("admin")  # signed in at the frozen moment: a session idle for weeks would be signed out
        response = post_form(client, f"/invoices/{invoice_id}/issue", {}, token_from=f"/invoices/{invoice_id}")
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        invoice = db.session.scalars(select(Invoice).where(Invoice.id == invoice_id)).one()
        assert (invoice.status, invoice.issue_date, invoice.number) == ("issued", date(2027, 1, 1), "2027-00001")


def test_form_default_dates_are_read_per_request(app):
    from backoffice.intakes.forms import IntakeForm

    with app.test_request_context("/"):
        with clock.freeze(datetime(2026, 3, 1, 9, 0, tzinfo=UTC)):
            assert IntakeForm().intake_date.data == date(2026, 3, 1)
        with clock.freeze(NEW_YEARS_EVE_LATE):
            assert IntakeForm().intake_date.data == date(2027, 1, 1)
