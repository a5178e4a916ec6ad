"""Patients and their insurances through the web UI: validation, BSN handling, search, access logging."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from conftest import post_form

from backoffice.clock import clinic_today
from backoffice.errors import ServiceError
from backoffice.extensions import db
from backoffice.models import AccessLog, Insurance, Insurer, Package, Patient

VALID = {
    "first_name": "Fleur", "infix": "van der", "last_name": "Berg", "date_of_birth": "1991-04-12",
    "street": "Keizersgracht 12", "postcode": "1015cs", "city": "Amsterdam", "phone": "020 123 4567",
    "email": "fleur@example.nl", "bsn": "111222333", "id_document_type": "id_card", "id_document_number": "IXB12345",
}


def _create(client, **changes):
    return post_form(client, "/patients/new", {**VALID, **changes})


def _patients(app):
    with app.app_context():
        return db.session.scalars(db.select(Patient)).all()


@pytest.mark.parametrize(("field", "value", "message"), [
    ("bsn", "123456789", "eleven-test"),
    ("bsn", "12345", "9 digits"),
    ("postcode", "0123 AB", "four digits"),
    ("postcode", "1234 SA", "never end in SA"),
    ("date_of_birth", (clinic_today() + timedelta(days=1)).isoformat(), "future"),
    ("date_of_birth", "12-04-1991x", "valid date"),
    ("last_name", "", "This field is required"),
    ("email", "not-an-address", "Invalid email"),
    ("id_document_number", "", "ID document"),
])
def test_invalid_patient_is_refused_with_a_field_error(app, as_role, field, value, message):
    client = as_role("therapist")
    response = _create(client, **{field: value})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert "invalid-feedback" in html
    # The other values are kept so nothing typed is lost
    assert 'value="Fleur"' in html
    assert _patients(app) == []


def test_patient_is_created_with_encrypted_bsn(app, as_role):
    client = as_role("therapist")
    response = _create(client)
    assert response.status_code == 302
    assert "111222333" not in response.headers["Location"]
    [patient] = _patients(app)
    with app.app_context():
        patient = db.session.get(Patient, patient.id)
        assert patient.postcode == "1015 CS"
        assert "111222333" not in (patient.bsn_encrypted or "")
        assert patient.get_bsn() == "111222333"
        assert patient.bsn_masked == "******333"
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Fleur van der Berg" in detail and "******333" in detail and "111222333" not in detail
    listing = client.get("/patients/").get_data(as_text=True)
    assert "111222333" not in listing
    # Only the edit form shows the full number
    edit = client.get(f"/patients/{patient.id}/edit").get_data(as_text=True)
    assert 'value="111222333"' in edit


def test_duplicate_bsn_is_refused(app, as_role):
    client = as_role("admin")
    assert _create(client).status_code == 302
    response = _create(client, first_name="Other")
    assert response.status_code == 422
    assert "already has this BSN" in response.get_data(as_text=True)
    assert len(_patients(app)) == 1


def test_a_refused_edit_stores_nothing_the_service_flushed_before_refusing(app, as_role):
    client = as_role("admin")
    assert _create(client).status_code == 302  # Fleur, BSN 111222333
    response = _create(client, first_name="Eva", infix="", last_name="Jansen", bsn="", id_document_type="",
                        id_document_number="")
    eva_id = int(response.headers["Location"].rsplit("/", 1)[1])
    # The new name is flushed when the service looks the BSN up, and then the BSN is refused: the request's
    # unit of work must not store the name either.
    response = post_form(client, f"/patients/{eva_id}/edit",
                         {**VALID, "first_name": "Eva", "infix": "", "last_name": "Bakker"})
    assert response.status_code == 422
    assert "Another patient already has this BSN." in response.get_data(as_text=True)
    with app.app_context():
        eva = db.session.get(Patient, eva_id)
        assert (eva.first_name, eva.last_name, eva.bsn_index, eva.email) == ("Eva", "Jansen", None, VALID["email"])
        updates = db.session.scalars(db.select(AccessLog).where(AccessLog.patient_id == eva_id,
                                                                AccessLog.action == "update")).all()
        assert updates == []


def test_the_services_take_typed_inputs_and_the_user_who_acts(app, users):
    from backoffice.models import User
    from backoffice.patients.services import (
        DuplicateBsn,
        InsuranceInput,
        PatientInput,
        create_patient,
        save_insurance,
        update_patient,
    )

    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == users["therapist"]))
        insurer = Insurer(name="CZ", uzovi="9664")
        db.session.add(insurer)
        db.session.flush()
        patient = create_patient(PatientInput("Sem", "Visser", date(1988, 2, 29), bsn="111.222.333",
                                              id_document_type="passport", id_document_number="NX1"), user)
        save_insurance(patient, None, InsuranceInput(insurer.id, "CZ-1", date(2025, 1, 1)), user)
        # Empty ID document fields are stored as NULL, not as "".
        assert update_patient(patient, PatientInput("Sem", "Visser", date(1988, 2, 29)), user) == [
            "id_document_type", "id_document_number", "bsn"]
        assert (patient.id_document_type, patient.id_document_number, patient.bsn_index) == (None, None, None)
        db.session.commit()
        other = create_patient(PatientInput("Ada", "Visser", date(1990, 1, 1), bsn="111222333"), user)
        with pytest.raises(DuplicateBsn) as refused:
            update_patient(patient, PatientInput("Sem", "Visser", date(1988, 2, 29), bsn="111222333"), user)
        assert isinstance(refused.value, ServiceError) and other.id
        db.session.rollback()
        log = db.session.scalars(db.select(AccessLog).order_by(AccessLog.id)).all()
        assert [(row.action, row.subject.split()[0], row.user_email) for row in log] == [
            ("create", "patient", users["therapist"]), ("create", "insurance", users["therapist"]),
            ("update", "patient", users["therapist"])]


def test_bsn_is_optional_and_can_be_removed(app, as_role):
    client = as_role("admin")
    response = _create(client, bsn="", id_document_type="", id_document_number="")
    assert response.status_code == 302
    [patient] = _patients(app)
    assert patient.bsn_encrypted is None
    response = post_form(client, f"/patients/{patient.id}/edit", {**VALID, "bsn": "111222333"})
    assert response.status_code == 302
    response = post_form(client, f"/patients/{patient.id}/edit", {**VALID, "bsn": ""})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Patient, patient.id).bsn_index is None


def test_search_by_name_postcode_birth_date_bsn_and_policy(app, as_role):
    client = as_role("admin")
    _create(client)
    _create(client, first_name="Sem", infix="", last_name="Visser", bsn="", id_document_type="",
            id_document_number="", postcode="3511 AA", date_of_birth="1985-01-30")
    with app.app_context():
        insurer = Insurer(name="Zilveren Kruis", uzovi="3311")
        db.session.add(insurer)
        sem = db.session.scalar(db.select(Patient).filter_by(last_name="Visser"))
        db.session.add(Insurance(patient=sem, insurer=insurer, policy_number="ZK-778899", valid_from=date(2025, 1, 1)))
        db.session.commit()

    def found(q):
        html = client.get("/patients/", query_string={"q": q}).get_data(as_text=True)
        html = html.split('data-testid="patient-table"')[1].split("</table>")[0]
        return {name for name in ("Berg", "Visser") if name in html}

    assert found("berg") == {"Berg"}
    assert found("fleur van der") == {"Berg"}
    assert found("3511aa") == {"Visser"}
    assert found("30-01-1985") == {"Visser"}
    # A BSN is searched by POST only (see tests/test_bsn_privacy.py): the GET search is refused, nothing found.
    refused = client.get("/patients/", query_string={"q": "111 222 333"})
    assert refused.status_code == 303 and "111" not in refused.headers["Location"]
    berg = post_form(client, "/patients/find-by-bsn", {"bsn": "111 222 333"})
    assert berg.status_code == 302 and "/patients/" in berg.headers["Location"]
    assert found("ZK-778899") == {"Visser"}
    assert found("nobody") == set()
    assert found("") == {"Berg", "Visser"}


def test_list_is_paginated(app, as_role):
    app.config["PAGE_SIZE"] = 2
    client = as_role("admin")
    for index in range(5):
        _create(client, last_name=f"Patient{index}", bsn="", id_document_type="", id_document_number="")
    # Paged by key (name, then id), no count: follow "Next" to the end and "Previous" back.
    url, pages = "/patients/", []
    while url and len(pages) < 5:
        html = client.get(url).get_data(as_text=True)
        names = re.findall(r"Patient([0-9])", html.split('data-testid="patient-table"')[1].split("</table>")[0])
        pages.append(names)
        link = re.search(r'data-testid="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
        url = None if link == "#" else link
    assert pages == [["0", "1"], ["2", "3"], ["4"]]
    back = re.search(r'data-testid="previous" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert "Patient2" in client.get(back).get_data(as_text=True)
    first = client.get("/patients/").get_data(as_text=True)
    assert 'data-testid="previous" href="#"' in first and "Page 1 of" not in first
    # The search stays on the links; a bad cursor shows the first page, never an error.
    searched = client.get("/patients/?q=patient").get_data(as_text=True)
    assert "q=patient" in re.search(r'data-testid="next" href="([^"]+)"', searched).group(1)
    for bad in ("garbage", "W10", "WzEsMiwzXQ", "WyJhIiwiYiIsOTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5XQ", "%00", "x" * 5000):
        response = client.get("/patients/", query_string={"after": bad, "before": bad})
        assert response.status_code == 200 and "Patient0" in response.get_data(as_text=True)


def test_insurance_lifecycle(app, as_role):
    client = as_role("therapist")
    _create(client)
    with app.app_context():
        zk = Insurer(name="Zilveren Kruis", uzovi="3311", packages=[Package(name="Aanvullend 3 sterren")])
        onvz = Insurer(name="ONVZ", uzovi="3358", packages=[Package(name="Optifit")])
        db.session.add_all([zk, onvz])
        db.session.commit()
        zk_id, zk_pkg, onvz_pkg = zk.id, zk.packages[0].id, onvz.packages[0].id
        patient_id = db.session.scalar(db.select(Patient.id))
    url = f"/patients/{patient_id}/insurances/new"
    base = {"insurer_id": zk_id, "policy_number": "P-1", "valid_from": "2026-01-01", "valid_until": ""}
    response = post_form(client, url, {**base, "package_id": onvz_pkg})
    assert response.status_code == 422 and "another insurer" in response.get_data(as_text=True)
    response = post_form(client, url, {**base, "package_id": zk_pkg, "valid_until": "2025-12-31"})
    assert response.status_code == 422 and "before the start date" in response.get_data(as_text=True)
    response = post_form(client, url, {**base, "package_id": zk_pkg})
    assert response.status_code == 302
    detail = client.get(f"/patients/{patient_id}").get_data(as_text=True)
    assert "Aanvullend 3 sterren" in detail and "P-1" in detail and "01-01-2026" in detail
    with app.app_context():
        patient = db.session.get(Patient, patient_id)
        assert patient.insurance_on(date(2026, 6, 1)).policy_number == "P-1"
        assert patient.insurance_on(date(2025, 6, 1)) is None
        insurance_id = patient.insurances[0].id
    # Insurances are ended or withdrawn, never deleted (tests/test_patients_records.py).
    assert client.post(f"/patients/{patient_id}/insurances/{insurance_id}/delete").status_code in (404, 405)
    with app.app_context():
        assert db.session.get(Insurance, insurance_id) is not None


def test_every_touch_of_a_patient_is_logged(app, as_role):
    client = as_role("therapist")
    response = _create(client)
    patient_url = response.headers["Location"]
    client.get(patient_url)
    client.get(patient_url + "/edit")
    post_form(client, patient_url + "/edit", {**VALID, "phone": "06 12345678"})
    post_form(client, "/patients/find-by-bsn", {"bsn": "111222333"})  # by POST: a BSN never goes in a URL
    with app.app_context():
        rows = db.session.scalars(db.select(AccessLog).order_by(AccessLog.id)).all()
        rows = [row for row in rows if row.subject != "sign-in"]  # the sign-in has its own tests
        actions = [(row.action, row.subject) for row in rows]
        assert actions == [
            ("create", "patient"),
            ("view", "patient"),
            ("view", "patient edit form"),   # the GET of the edit form
            ("view", "patient edit form"),   # the GET that fetched the CSRF token for the POST
            ("update", "patient"),
            ("search", "patient search by BSN"),
        ]
        update = rows[4]
        assert update.detail == "changed: phone"
        assert all(row.user_email == "therapist@test.nl" and row.ip_address == "127.0.0.1" for row in rows)
        for row in rows:
            for value in (row.detail, row.subject, row.on_behalf_of):
                assert "111222333" not in value


def test_unknown_patient_is_404(as_role):
    client = as_role("admin")
    assert client.get("/patients/9999").status_code == 404
