"""Care relationship (issue 13, part 11): with the practice setting on, a therapist opens only the records of
patients they treated or are assigned to; for the rest they break the glass (a reason, logged, shown to admins).
With the setting off nothing changes; admins and managers are never limited."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import factories
import pytest
from conftest import create_user, csrf_token, login, post_form
from sqlalchemy import select

from backoffice import clock
from backoffice.care.access import GRANTS, PATIENT_OF_ARGUMENT
from backoffice.care.services import BREAK_GLASS_SUBJECT
from backoffice.clock import utc_now
from backoffice.domain.roles import PUBLIC, ROLE_PERMISSIONS, Permission, Role
from backoffice.extensions import db
from backoffice.models import AccessLog, CareAssignment, Patient, Practice
from backoffice.security import required_permission

REASON = "Covering for Eva, the patient is at the desk"
ISSUE_DAY = date(2026, 11, 5)


@pytest.fixture
def clinic(app, users):
    """Therapist Tom (the signed-in therapist) treated Anna and is assigned to Bram; Carla was treated by Eva only
    (treatment, issued invoice and credit note): Tom has no care relationship with her."""
    with app.app_context():
        factories.practice(therapists_two_factor=False)
        tom_user = factories.existing_user(users["therapist"])
        tom = factories.therapist("Tom Bakker", "90011111", user_id=tom_user.id)
        eva = factories.therapist("Eva Jansen", "90022222")
        item = factories.catalogue_item()
        anna = factories.patient("Aalders", "Anna")
        bram = factories.patient("Brink", "Bram")
        carla = factories.patient("Claassen", "Carla")
        factories.recorded_treatment(anna.id, tom.id, item.id, date(2026, 11, 2))
        db.session.add(CareAssignment(patient_id=bram.id, therapist_id=tom.id))
        treatment = factories.recorded_treatment(carla.id, eva.id, item.id, date(2026, 11, 2))
        admin = factories.existing_user(users["admin"])
        invoice = factories.issued_invoice(carla.id, [treatment.id], admin, ISSUE_DAY)
        note = factories.credit_note(invoice, None, admin, ISSUE_DAY)
        db.session.commit()
        return {"anna": anna.id, "bram": bram.id, "carla": carla.id, "tom": tom.id, "eva": eva.id,
                "carla_treatment": treatment.id, "carla_invoice": invoice.id, "carla_note": note.id}


def _scoping(app, on: bool) -> None:
    with app.app_context():
        db.session.scalar(select(Practice)).therapists_own_patients_only = on
        db.session.commit()


def _signed_in(app, email: str):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def _break_glass_entries(app) -> list[tuple[int | None, str, str]]:
    with app.app_context():
        return [(row.patient_id, row.user_email, row.detail) for row in db.session.scalars(
            select(AccessLog).where(AccessLog.subject == BREAK_GLASS_SUBJECT).order_by(AccessLog.id))]


def _is_break_glass_page(response) -> bool:
    return response.status_code == 403 and b'data-testid="break-glass-form"' in response.data


def _listed(client) -> str:
    return client.get("/patients/").get_data(as_text=True)


# ---- the setting off (the default) -------------------------------------------------------------------------

def test_setting_is_off_by_default_and_then_nothing_changes(app, users, clinic):
    with app.app_context():
        assert db.session.scalar(select(Practice.therapists_own_patients_only)) is False
    client = _signed_in(app, users["therapist"])
    html = _listed(client)
    assert all(name in html for name in ("Aalders", "Brink", "Claassen"))
    assert client.get(f"/patients/{clinic['carla']}").status_code == 200
    assert client.get(f"/treatments/{clinic['carla_treatment']}").status_code == 200
    assert client.get(f"/invoices/{clinic['carla_invoice']}").status_code == 200


# ---- the setting on ----------------------------------------------------------------------------------------

def test_therapist_lists_and_opens_only_related_patients(app, users, clinic):
    _scoping(app, True)
    client = _signed_in(app, users["therapist"])
    html = _listed(client)
    assert "Aalders" in html and "Brink" in html and "Claassen" not in html
    found = client.get("/patients/?q=Claassen").get_data(as_text=True)
    assert f'href="/patients/{clinic["carla"]}"' not in found and "Carla" not in found
    assert client.get(f"/patients/{clinic['anna']}").status_code == 200  # treated
    assert client.get(f"/patients/{clinic['bram']}").status_code == 200  # assigned
    refused = client.get(f"/patients/{clinic['carla']}")
    assert _is_break_glass_page(refused)
    assert b"Claassen" not in refused.data  # the refusal shows nothing of the record, not even the name


def test_the_home_page_lists_only_related_patients(app, users, clinic):
    """Tom's home page lists his own treatments of the day; an account linked to no therapist lists all of them,
    until the practice limits therapists to their own patients: then none (it has no care relationship)."""
    create_user(app, "locum@test.nl", "therapist")
    tom, locum = _signed_in(app, users["therapist"]), _signed_in(app, "locum@test.nl")
    with clock.freeze(datetime(2026, 11, 2, 9, 0, tzinfo=UTC)):  # the day of Anna's and Carla's treatments
        html = locum.get("/").get_data(as_text=True)
        assert "Aalders" in html and "Claassen" in html
        _scoping(app, True)
        html = locum.get("/").get_data(as_text=True)
        assert 'data-testid="work-treatments"' in html and "Aalders" not in html and "Claassen" not in html
        html = tom.get("/").get_data(as_text=True)
        assert "Aalders" in html and "Claassen" not in html


def _patient_rules(app):
    """Every route naming a record of one patient (a patient, treatment, invoice or credit note)."""
    return [rule for rule in app.url_map.iter_rules()
            if set(rule.arguments) & set(PATIENT_OF_ARGUMENT) and rule.endpoint != "care.break_glass"]


def _url(rule, clinic, patient: str) -> str:
    values = dict.fromkeys(rule.arguments, 1) | {
        "patient_id": clinic[patient], "treatment_id": clinic["carla_treatment"],
        "invoice_id": clinic["carla_invoice"], "credit_note_id": clinic["carla_note"]}
    return rule.build(values, append_unknown=False)[1]


def test_every_patient_route_refuses_an_unrelated_therapist(app, users, clinic):
    """Walk the URL map: each route about one patient that a therapist may use answers Carla's data with the
    break-the-glass page (GET and POST alike); a route the role lacks stays a plain 403 (security.py)."""
    _scoping(app, True)
    client = _signed_in(app, users["therapist"])
    token = csrf_token(client, "/")
    therapist = ROLE_PERMISSIONS[Role.THERAPIST]
    walked = set()
    for rule in _patient_rules(app):
        url = _url(rule, clinic, "carla")
        allowed = Permission(required_permission(app, rule.endpoint)) in therapist
        for method in sorted(rule.methods & {"GET", "POST"}):
            response = client.get(url) if method == "GET" else client.post(url, data={"csrf_token": token})
            if allowed:
                assert _is_break_glass_page(response), f"{method} {rule.rule}: {response.status_code}"
                walked.add(rule.endpoint)
            else:
                assert response.status_code == 403 and not _is_break_glass_page(response), rule.rule
    # The kinds of patient routes: the record, insurances, intakes, referrals, authorisations, treatments,
    # invoices with their PDFs, payments and credit notes, aftercare and declarations.
    for endpoint in ("patients.detail", "patients.edit", "patients.add_insurance", "intakes.list_intakes",
                     "intakes.create", "referrals.list_referrals", "authorisations.list_authorisations",
                     "treatments.detail", "treatments.correct", "invoices.detail", "invoices.pdf",
                     "invoices.declaration_pdf", "invoices.aftercare_pdf", "invoices.credit_note_pdf",
                     "invoices.add_payment", "care.take_on"):
        assert endpoint in walked, endpoint
    # A patient in the query string: the treatment list of one patient, new treatment, new invoice.
    for url in ("/treatments/?patient_id={}", "/treatments/new?patient_id={}", "/invoices/new?patient_id={}"):
        assert _is_break_glass_page(client.get(url.format(clinic["carla"]))), url


def test_related_patients_routes_are_not_refused(app, users, clinic):
    _scoping(app, True)
    client = _signed_in(app, users["therapist"])
    for rule in _patient_rules(app):
        if "GET" in rule.methods and "patient_id" in rule.arguments and \
                not {"treatment_id", "invoice_id", "credit_note_id"} & set(rule.arguments):
            for patient in ("anna", "bram"):
                response = client.get(_url(rule, clinic, patient))
                assert not _is_break_glass_page(response), rule.rule


def test_a_withdrawn_treatment_is_no_care_relationship(app, users, clinic):
    _scoping(app, True)
    # A treatment recorded in error (the wrong patient) is withdrawn: written directly here.
    with app.app_context():
        treatment = db.session.scalar(select(factories.Treatment).where(
            factories.Treatment.patient_id == clinic["anna"]))
        treatment.withdrawn_at = utc_now()
        db.session.commit()
    client = _signed_in(app, users["therapist"])
    assert _is_break_glass_page(client.get(f"/patients/{clinic['anna']}"))
    assert "Aalders" not in _listed(client)


def test_admins_and_managers_are_not_limited(app, users, clinic):
    _scoping(app, True)
    for role in ("admin", "manager"):
        client = _signed_in(app, users[role])
        assert "Claassen" in _listed(client), role
        assert client.get(f"/patients/{clinic['carla']}").status_code == 200, role
        assert client.get(f"/invoices/{clinic['carla_invoice']}").status_code == 200, role


def test_a_therapist_without_a_therapist_record_is_limited_too(app, users, clinic):
    _scoping(app, True)
    create_user(app, "assistent@test.nl", "therapist")
    client = _signed_in(app, "assistent@test.nl")
    assert all(name not in _listed(client) for name in ("Aalders", "Brink", "Claassen"))
    assert _is_break_glass_page(client.get(f"/patients/{clinic['anna']}"))


# ---- break the glass ---------------------------------------------------------------------------------------

def test_break_the_glass_needs_a_reason(app, users, clinic):
    _scoping(app, True)
    client = _signed_in(app, users["therapist"])
    url = f"/patients/{clinic['carla']}/break-the-glass"
    for reason in ("", "   ", "just looking", "BSN 111222333 checked at the desk"):
        response = post_form(client, url, {"reason": reason, "next": f"/patients/{clinic['carla']}"},
                             token_from="/")
        assert response.status_code == 422, reason
    assert _break_glass_entries(app) == []
    assert _is_break_glass_page(client.get(f"/patients/{clinic['carla']}"))


def test_break_the_glass_grants_access_and_logs_the_reason(app, users, clinic):
    _scoping(app, True)
    client = _signed_in(app, users["therapist"])
    refused = client.get(f"/invoices/{clinic['carla_invoice']}")
    assert _is_break_glass_page(refused)
    assert f'value="/invoices/{clinic["carla_invoice"]}"'.encode() in refused.data  # back to what was asked
    response = post_form(client, f"/patients/{clinic['carla']}/break-the-glass",
                         {"reason": REASON, "next": f"/invoices/{clinic['carla_invoice']}"}, token_from="/")
    assert response.status_code == 302 and response.headers["Location"] == f"/invoices/{clinic['carla_invoice']}"
    assert _break_glass_entries(app) == [(clinic["carla"], users["therapist"], REASON)]
    with app.app_context():
        entry = db.session.scalar(select(AccessLog).where(AccessLog.subject == BREAK_GLASS_SUBJECT))
        assert (entry.action, entry.user_role) == ("view", "therapist")
    assert client.get(f"/patients/{clinic['carla']}").status_code == 200
    assert client.get(f"/treatments/{clinic['carla_treatment']}").status_code == 200
    assert client.get(f"/invoices/{clinic['carla_invoice']}").status_code == 200
    # For that patient only, and not in the lists.
    assert "Claassen" not in _listed(client)
    other = factories.committed(app, factories.patient, "Dekker", "Dirk")
    assert _is_break_glass_page(client.get(f"/patients/{other}"))


def test_break_the_glass_access_ends(app, users, clinic):
    _scoping(app, True)
    client = _signed_in(app, users["therapist"])
    post_form(client, f"/patients/{clinic['carla']}/break-the-glass", {"reason": REASON}, token_from="/")
    assert client.get(f"/patients/{clinic['carla']}").status_code == 200
    with client.session_transaction() as session:
        grants = session[GRANTS]
        session[GRANTS] = {key: until - app.config["BREAK_GLASS_MINUTES"] * 60 - 1 for key, until in grants.items()}
    assert _is_break_glass_page(client.get(f"/patients/{clinic['carla']}"))
    # Another session (another browser) never had it.
    assert _is_break_glass_page(_signed_in(app, users["therapist"]).get(f"/patients/{clinic['carla']}"))


def test_break_the_glass_redirects_only_to_local_pages(app, users, clinic):
    _scoping(app, True)
    client = _signed_in(app, users["therapist"])
    response = post_form(client, f"/patients/{clinic['carla']}/break-the-glass",
                         {"reason": REASON, "next": "//evil.example/x"}, token_from="/")
    assert response.headers["Location"] == f"/patients/{clinic['carla']}"


def test_break_the_glass_page_is_not_needed_with_a_relationship(app, users, clinic):
    _scoping(app, True)
    client = _signed_in(app, users["therapist"])
    response = post_form(client, f"/patients/{clinic['anna']}/break-the-glass", {"reason": REASON}, token_from="/")
    assert response.status_code == 302 and _break_glass_entries(app) == []
    assert client.get(f"/patients/{clinic['anna']}/break-the-glass").status_code == 302
    assert client.get("/patients/999999/break-the-glass").status_code == 404


def test_admins_see_the_break_glass_entries(app, users, clinic):
    _scoping(app, True)
    therapist = _signed_in(app, users["therapist"])
    post_form(therapist, f"/patients/{clinic['carla']}/break-the-glass", {"reason": REASON}, token_from="/")
    admin = _signed_in(app, users["admin"])
    page = admin.get("/access-log/break-the-glass").get_data(as_text=True)
    assert REASON in page and users["therapist"] in page and "Claassen" in page
    home = admin.get("/").get_data(as_text=True)
    assert 'data-testid="break-glass-notice"' in home and "/access-log/break-the-glass" in home
    assert "/access-log/break-the-glass" in admin.get("/access-log/").get_data(as_text=True)
    # Only admins: the page needs the access log permission, and a therapist's home page has no notice.
    assert therapist.get("/access-log/break-the-glass").status_code == 403
    assert _signed_in(app, users["manager"]).get("/access-log/break-the-glass").status_code == 403
    assert 'data-testid="break-glass-notice"' not in therapist.get("/").get_data(as_text=True)


def test_no_notice_without_recent_entries(app, users, clinic):
    _scoping(app, True)
    admin = _signed_in(app, users["admin"])
    assert 'data-testid="break-glass-notice"' not in admin.get("/").get_data(as_text=True)


# ---- the care team ------------------------------------------------------------------------------------------

def test_admin_assigns_and_removes_a_therapist(app, users, clinic):
    _scoping(app, True)
    therapist = _signed_in(app, users["therapist"])
    admin = _signed_in(app, users["admin"])
    detail = f"/patients/{clinic['carla']}"
    assert 'data-testid="care-team"' in admin.get(detail).get_data(as_text=True)
    response = post_form(admin, f"{detail}/care-team", {"therapist_id": clinic["tom"]}, token_from=detail)
    assert response.status_code == 302
    assert therapist.get(detail).status_code == 200
    assert "Claassen" in _listed(therapist)
    response = post_form(admin, f"{detail}/care-team/{clinic['tom']}/remove", {}, token_from=detail)
    assert response.status_code == 302
    assert _is_break_glass_page(therapist.get(detail))
    with app.app_context():
        subjects = db.session.scalars(select(AccessLog.detail).where(AccessLog.subject == "care team",
                                                                     AccessLog.patient_id == clinic["carla"])).all()
    assert subjects == [f"therapist {clinic['tom']} assigned", f"therapist {clinic['tom']} no longer assigned"]


def test_assigning_refuses_bad_input(app, users, clinic):
    admin = _signed_in(app, users["admin"])
    detail = f"/patients/{clinic['carla']}"
    for value in ("", "abc", "999999", str(clinic["tom"] + 1000)):
        response = post_form(admin, f"{detail}/care-team", {"therapist_id": value}, token_from=detail)
        assert response.status_code == 302, value
    with app.app_context():
        assert db.session.scalar(select(CareAssignment).where(CareAssignment.patient_id == clinic["carla"])) is None
    assert post_form(admin, f"{detail}/care-team/{clinic['eva']}/remove", {}, token_from=detail).status_code == 404


def test_only_admins_manage_the_care_team(app, users, clinic):
    detail = f"/patients/{clinic['anna']}"
    for role in ("therapist", "manager"):
        client = _signed_in(app, users[role])
        token = csrf_token(client, "/")
        assert client.post(f"{detail}/care-team", data={"therapist_id": clinic["eva"], "csrf_token": token}
                           ).status_code == 403
        assert client.post(f"/patients/{clinic['bram']}/care-team/{clinic['tom']}/remove",
                           data={"csrf_token": token}).status_code == 403


def test_a_therapist_takes_on_a_patient_after_breaking_the_glass(app, users, clinic):
    _scoping(app, True)
    client = _signed_in(app, users["therapist"])
    detail = f"/patients/{clinic['carla']}"
    post_form(client, f"{detail}/break-the-glass", {"reason": REASON}, token_from="/")
    assert "Take on this patient" in client.get(detail).get_data(as_text=True)
    assert post_form(client, f"{detail}/care-team/take-on", {}, token_from=detail).status_code == 302
    with client.session_transaction() as session:
        session.pop(GRANTS)
    assert client.get(detail).status_code == 200  # now assigned: no glass to break
    assert "Take on this patient" not in client.get(detail).get_data(as_text=True)


def test_a_therapist_who_adds_a_patient_takes_them_on(app, users, clinic):
    _scoping(app, True)
    client = _signed_in(app, users["therapist"])
    response = post_form(client, "/patients/new", {"first_name": "Els", "last_name": "Evers",
                                                   "date_of_birth": "1990-02-01", "id_document_type": "id_card"})
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        patient = db.session.scalar(select(Patient).where(Patient.last_name == "Evers"))
        assert [a.therapist_id for a in db.session.scalars(
            select(CareAssignment).where(CareAssignment.patient_id == patient.id))] == [clinic["tom"]]
    assert client.get(response.headers["Location"]).status_code == 200


# ---- the practice setting ----------------------------------------------------------------------------------

def test_admin_turns_the_setting_on_and_off(app, users, clinic):
    admin = _signed_in(app, users["admin"])
    assert "Therapists see only their own patients" in admin.get("/practice/").get_data(as_text=True)
    response = post_form(admin, "/practice/patient-access", {"therapists_own_patients_only": "y"})
    assert response.status_code == 302
    therapist = _signed_in(app, users["therapist"])
    assert _is_break_glass_page(therapist.get(f"/patients/{clinic['carla']}"))
    assert post_form(admin, "/practice/patient-access", {}).status_code == 302
    assert therapist.get(f"/patients/{clinic['carla']}").status_code == 200
    with app.app_context():
        details = db.session.scalars(select(AccessLog.detail).where(AccessLog.subject == "practice setting")).all()
    assert details == ["therapists see only their own patients: on", "therapists see only their own patients: off"]


def test_only_admins_change_the_setting(app, users, clinic):
    for role in ("therapist", "manager"):
        client = _signed_in(app, users[role])
        assert client.get("/practice/patient-access").status_code == 403
        token = csrf_token(client, "/")
        response = client.post("/practice/patient-access",
                               data={"therapists_own_patients_only": "y", "csrf_token": token})
        assert response.status_code == 403
    with app.app_context():
        assert db.session.scalar(select(Practice.therapists_own_patients_only)) is False


def test_every_care_route_has_a_permission_and_break_glass_is_not_public(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("care."):
            assert required_permission(app, rule.endpoint) not in (None, PUBLIC), rule.endpoint


def test_grant_length_is_configurable(app):
    assert app.config["BREAK_GLASS_MINUTES"] == 240
    assert timedelta(minutes=app.config["BREAK_GLASS_MINUTES"]) == timedelta(hours=4)


def test_treatment_and_invoice_lists_show_only_related_patients(app, users, clinic):
    with app.app_context():
        item = db.session.scalar(select(factories.CatalogueItem))
        treatment = factories.recorded_treatment(clinic["carla"], clinic["eva"], item.id, date(2026, 11, 3))
        admin = factories.existing_user(users["admin"])
        factories.issued_invoice(clinic["carla"], [treatment.id], admin, ISSUE_DAY)  # unpaid: overdue
        db.session.commit()
    pages = ("/treatments/", "/invoices/", "/invoices/?status=credit_notes", "/invoices/overdue",
             "/treatments/?q=Claassen", "/invoices/?q=Claassen")
    manager = _signed_in(app, users["manager"])
    assert all("Carla" in manager.get(url).get_data(as_text=True) for url in pages)
    therapist = _signed_in(app, users["therapist"])
    assert all("Carla" in therapist.get(url).get_data(as_text=True) for url in pages)  # the setting is off
    _scoping(app, True)
    for url in pages:
        html = therapist.get(url).get_data(as_text=True)
        assert "Carla" not in html, url
    assert "Aalders" in therapist.get("/treatments/").get_data(as_text=True)
    assert all("Carla" in manager.get(url).get_data(as_text=True) for url in pages)
