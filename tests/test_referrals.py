"""Referrals per patient: validation, the default validity, withdrawing, validity status and the access log."""

from __future__ import annotations

from datetime import date, timedelta

import factories
from conftest import login, post_form

from backoffice.clock import clinic_today
from backoffice.extensions import db
from backoffice.models import AccessLog, Patient, Referral

TODAY = clinic_today()
REFERRAL = {"referrer_type": "gp", "referrer_name": "Dr. A. de Wit", "referrer_agb": "0101 2345",
            "referral_date": "2026-01-31", "diagnosis": "Acne vulgaris, scarring", "valid_until": ""}


def _referrals(app, patient_id: int) -> list[tuple]:
    with app.app_context():
        rows = db.session.scalars(db.select(Referral).where(Referral.patient_id == patient_id).order_by(Referral.id))
        return [(r.referrer_type, r.referrer_name, r.referrer_agb, r.referral_date, r.diagnosis, r.valid_until)
                for r in rows]


def _log(app, patient_id: int) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.scalars(db.select(AccessLog).where(AccessLog.patient_id == patient_id)
                                  .order_by(AccessLog.id))
        return [(r.action, r.subject) for r in rows]


def test_referral_without_end_date_is_valid_twelve_months(app, as_role):
    patient_id = factories.committed(app, factories.patient, "Jansen", "Eva")
    response = post_form(as_role("therapist"), f"/patients/{patient_id}/referrals/new", REFERRAL)
    assert response.status_code == 302
    # 31 January + 12 months = 31 January next year; valid through the day before.
    assert _referrals(app, patient_id) == [
        ("gp", "Dr. A. de Wit", "01012345", date(2026, 1, 31), "Acne vulgaris, scarring", date(2027, 1, 30))]


def test_an_explicit_end_date_is_kept(app, as_role):
    patient_id = factories.committed(app, factories.patient, "Jansen", "Eva")
    post_form(as_role("admin"), f"/patients/{patient_id}/referrals/new",
              {**REFERRAL, "referrer_agb": "", "referrer_type": "dermatologist", "valid_until": "2026-06-30"})
    assert _referrals(app, patient_id) == [
        ("dermatologist", "Dr. A. de Wit", "", date(2026, 1, 31), "Acne vulgaris, scarring", date(2026, 6, 30))]


def _refused(app, client, patient_id: int, data: dict, message: str):
    response = post_form(client, f"/patients/{patient_id}/referrals/new", data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and "invalid-feedback" in html
    assert 'value="Dr. A. de Wit"' in html or not data.get("referrer_name")
    assert _referrals(app, patient_id) == []


def test_bad_input_rerenders_with_field_errors_and_saves_nothing(app, as_role):
    patient_id = factories.committed(app, factories.patient, "Jansen", "Eva")
    client = as_role("therapist")
    _refused(app, client, patient_id, {**REFERRAL, "referrer_agb": "1234"}, "8 digits")
    _refused(app, client, patient_id, {**REFERRAL, "referral_date": (TODAY + timedelta(days=1)).isoformat()},
             "The referral date lies in the future.")
    _refused(app, client, patient_id, {**REFERRAL, "valid_until": "2026-01-30"},
             "A referral cannot end before its date.")
    _refused(app, client, patient_id, {**REFERRAL, "referrer_type": "pharmacist"}, "Not a valid choice")
    _refused(app, client, patient_id, {**REFERRAL, "referrer_name": ""}, "This field is required.")


def test_editing_a_referral_is_logged_with_the_changed_fields(app, as_role):
    patient_id = factories.committed(app, factories.patient, "Jansen", "Eva")
    client = as_role("therapist")
    post_form(client, f"/patients/{patient_id}/referrals/new", REFERRAL)
    with app.app_context():
        referral_id = db.session.scalar(db.select(Referral.id))
    edit_url = f"/patients/{patient_id}/referrals/{referral_id}/edit"
    assert 'value="Dr. A. de Wit"' in client.get(edit_url).get_data(as_text=True)
    response = post_form(client, edit_url, {**REFERRAL, "diagnosis": "Acne scars", "valid_until": "2026-12-31"})
    assert response.status_code == 302
    assert _referrals(app, patient_id)[0][4:] == ("Acne scars", date(2026, 12, 31))
    log = _log(app, patient_id)
    assert log[0] == ("create", f"referral {referral_id}") and log[-1] == ("update", f"referral {referral_id}")
    assert set(log[1:-1]) == {("view", f"referral {referral_id} edit form")}
    with app.app_context():
        detail = db.session.scalars(db.select(AccessLog.detail).order_by(AccessLog.id.desc())).first()
        assert detail == "changed: diagnosis, valid_until"


def _treatment_using(app, patient_id: int, referral_id: int) -> None:
    with app.app_context():
        therapist = factories.therapist("Sanne de Vries", "90012345", kp=None, nvh_number=None)
        item = factories.catalogue_item("FRAC", technique=None, price_cents=14_995)
        factories.treatment(patient_id, therapist.id, item.id, TODAY, price="149.95", referral_id=referral_id)
        db.session.commit()


def _withdrawn(app, referral_id: int) -> tuple:
    with app.app_context():
        referral = db.session.get(Referral, referral_id)
        return (referral.withdrawn_at is not None, referral.withdrawn_by.email if referral.withdrawn_by else None,
                referral.withdrawn_reason)


def test_a_referral_used_by_a_treatment_is_withdrawn_not_deleted(app, as_role):
    patient_id = factories.committed(app, factories.patient, "Jansen", "Eva")
    client = as_role("therapist")
    post_form(client, f"/patients/{patient_id}/referrals/new", REFERRAL)
    with app.app_context():
        referral_id = db.session.scalar(db.select(Referral.id))
    _treatment_using(app, patient_id, referral_id)
    # There is no delete any more.
    assert client.post(f"/patients/{patient_id}/referrals/{referral_id}/delete").status_code in (404, 405)
    url = f"/patients/{patient_id}/referrals/{referral_id}/withdraw"
    page = client.get(url).get_data(as_text=True)
    # The page says what will happen and asks for confirmation before posting.
    assert 'data-confirm="Withdraw the referral of 31-01-2026 by Dr. A. de Wit?' in page
    assert "Treatments already recorded with it keep it in their history." in page
    response = post_form(client, url, {"reason": "Wrong patient"}, follow_redirects=True)
    assert response.status_code == 200
    assert _withdrawn(app, referral_id) == (True, "therapist@test.nl", "Wrong patient")
    assert len(_referrals(app, patient_id)) == 1  # kept for the history
    assert ("update", f"referral {referral_id}") in _log(app, patient_id)
    html = client.get(f"/patients/{patient_id}/referrals/").get_data(as_text=True)
    row = html.split(f'data-referral-id="{referral_id}"')[1].split("</tr>")[0]
    assert 'data-status="withdrawn"' in html and "<del>" in row and "Wrong patient" in row and "Therapist" in row
    assert f"/referrals/{referral_id}/edit" not in html and f"/referrals/{referral_id}/withdraw" not in html
    # Withdrawn once is withdrawn for good; it can no longer be changed either.
    response = client.get(f"/patients/{patient_id}/referrals/{referral_id}/edit", follow_redirects=True)
    assert "withdrawn and can no longer be changed" in response.get_data(as_text=True)
    response = client.get(url, follow_redirects=True)
    assert "already withdrawn" in response.get_data(as_text=True)


def test_withdrawing_needs_a_reason(app, as_role, users):
    patient_id = factories.committed(app, factories.patient, "Jansen", "Eva")
    client = as_role("therapist")
    post_form(client, f"/patients/{patient_id}/referrals/new", REFERRAL)
    with app.app_context():
        referral_id = db.session.scalar(db.select(Referral.id))
    url = f"/patients/{patient_id}/referrals/{referral_id}/withdraw"
    response = post_form(client, url, {"reason": "  "})
    assert response.status_code == 422 and "Say why it is withdrawn." in response.get_data(as_text=True)
    assert _withdrawn(app, referral_id) == (False, None, None)
    manager = app.test_client()
    assert login(manager, users["manager"]).status_code == 302
    assert manager.get(url).status_code == 403


def test_a_withdrawn_referral_is_offered_for_no_new_treatment(app, as_role):
    patient_id = factories.committed(app, factories.patient, "Jansen", "Eva")
    client = as_role("therapist")
    post_form(client, f"/patients/{patient_id}/referrals/new", REFERRAL)
    post_form(client, f"/patients/{patient_id}/referrals/new", {**REFERRAL, "referrer_name": "Dr. B. Kok"})
    with app.app_context():
        first, second = db.session.scalars(db.select(Referral.id).order_by(Referral.id)).all()
    post_form(client, f"/patients/{patient_id}/referrals/{first}/withdraw", {"reason": "Entered twice"})
    form = client.get(f"/treatments/new?patient_id={patient_id}").get_data(as_text=True)
    select = form.split('name="referral_id"')[1].split("</select>")[0]
    assert f'value="{second}"' in select and f'value="{first}"' not in select
    with app.app_context():
        # A treatment recorded with it before is re-assessed as if it had no referral.
        from backoffice.treatments.services import treatment_facts

        therapist = factories.therapist("Sanne de Vries", "90012345", kp=None, nvh_number=None)
        item = factories.catalogue_item("FRAC", technique=None, price_cents=14_995)
        treatment = factories.treatment(patient_id, therapist.id, item.id, TODAY, price="149.95", referral_id=first)
        assert treatment_facts(treatment).referral is None
        treatment.referral_id = second
        assert treatment_facts(treatment).referral is not None


def test_list_and_patient_page_show_validity(app, as_role):
    patient_id = factories.committed(app, factories.patient, "Jansen", "Eva")
    with app.app_context():
        db.session.add_all([
            Referral(patient_id=patient_id, referrer_type="gp", referrer_name="Old GP",
                     referral_date=TODAY - timedelta(days=500), valid_until=TODAY - timedelta(days=135)),
            Referral(patient_id=patient_id, referrer_type="dermatologist", referrer_name="Dr. Huid",
                     referral_date=TODAY - timedelta(days=10), valid_until=TODAY + timedelta(days=355)),
        ])
        db.session.commit()
    client = as_role("manager")
    for url in (f"/patients/{patient_id}/referrals/", f"/patients/{patient_id}"):
        html = client.get(url).get_data(as_text=True)
        assert html.count('data-status="valid"') == 1 and html.count('data-status="expired"') == 1
        assert "Dermatologist: Dr. Huid" in html and "GP (huisarts): Old GP" in html
        assert "Add referral" not in html  # the manager writes nothing
    assert ("view", "referrals") in _log(app, patient_id)
    assert client.get(f"/patients/{patient_id}/referrals/new").status_code == 403


def test_another_patients_referral_is_not_found(app, as_role):
    first, second = (factories.committed(app, factories.patient, "Jansen", "Eva") for _ in range(2))
    with app.app_context():
        referral = Referral(patient_id=first, referrer_type="gp", referrer_name="GP", referral_date=TODAY,
                            valid_until=TODAY)
        db.session.add(referral)
        db.session.commit()
        referral_id = referral.id
    assert as_role("therapist").get(f"/patients/{second}/referrals/{referral_id}/edit").status_code == 404


def test_the_services_take_a_typed_referral_and_the_user_who_records_it(app, users):
    from backoffice.domain.referrals import ReferrerType
    from backoffice.models import User
    from backoffice.referrals import services

    patient_id = factories.committed(app, factories.patient, "Jansen", "Eva")
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == users["therapist"]))
        patient = db.session.get(Patient, patient_id)
        old = services.create_referral(patient, services.ReferralInput(
            ReferrerType.DERMATOLOGIST, "Dr. K. Smit", date(2024, 3, 1), referrer_agb="03012345"), user)
        new = services.create_referral(patient, services.ReferralInput(
            ReferrerType.GP, "Dr. A. de Wit", date(2026, 1, 31), valid_until=date(2026, 6, 30)), user)
        assert old.valid_until == date(2025, 2, 28)  # the default: twelve months
        assert services.update_referral(new, services.ReferralInput(
            ReferrerType.GP, "Dr. A. de Wit", date(2026, 1, 31), diagnosis="Acne"), user) == [
            "diagnosis", "valid_until"]
        db.session.commit()
        new_id, old_id = new.id, old.id
    # What the referrals table shows, built by the view (templates run no queries), in the reader's language.
    with app.test_request_context():
        rows = services.rows(db.session.get(Patient, patient_id), today=date(2026, 3, 1))
        assert [(row.referral.id, row.status, row.referrer_label, row.status_label) for row in rows] == [
            (new_id, "valid", "Huisarts", "geldig"), (old_id, "expired", "Dermatoloog", "verlopen")]
    assert [(r.user_email, r.action) for r in _log_rows(app, patient_id)] == [
        (users["therapist"], "create"), (users["therapist"], "create"), (users["therapist"], "update")]


def _log_rows(app, patient_id: int) -> list[AccessLog]:
    with app.app_context():
        rows = db.session.scalars(db.select(AccessLog).where(AccessLog.patient_id == patient_id)
                                  .order_by(AccessLog.id)).all()
        db.session.expunge_all()
        return rows
