"""Issue 10 for patients: Dutch screens, the header search, packages filtered by insurer, insurances that are
ended or withdrawn (never deleted) and left out of every new assessment, and pages that fit a phone."""

from __future__ import annotations

import re
from datetime import date

import factories
import pytest
from conftest import create_user, login, post_form

from backoffice.extensions import db
from backoffice.models import AccessLog, Insurance, Insurer, Patient
from backoffice.patients.services import birth_date

TODAY_2026 = date(2026, 11, 24)


def _patient_with_insurance(app, **insurance) -> tuple[int, int, int]:
    """(patient id, insurer id, insurance id): Eva Jansen, born 24-11-1990, insured with Zilveren Kruis."""
    with app.app_context():
        insurer = factories.insurer(packages=["Aanvullend 3 sterren"])
        factories.coverage_rule(insurer, 2026)
        patient = factories.patient("Jansen", "Eva", date_of_birth=date(1990, 11, 24))
        policy = factories.insurance(patient, insurer, policy_number="ZK-778899", **insurance)
        db.session.commit()
        return patient.id, insurer.id, policy.id


def _dutch_client(app, client, email="nl@test.nl", role="therapist"):
    create_user(app, email, role, name="Sanne", language="nl")
    assert login(client, email).status_code == 302
    return client


# ---- Dutch -------------------------------------------------------------------------------------------

def test_a_dutch_user_sees_the_patient_pages_in_dutch(app, client):
    patient_id, _insurer, _policy = _patient_with_insurance(app)
    with app.app_context():
        factories.referral(db.session.get(Patient, patient_id))
        db.session.commit()
    client = _dutch_client(app, client, role="admin")
    listing = client.get("/patients/").get_data(as_text=True)
    assert '<html lang="nl"' in listing
    assert "Geboortedatum" in listing and "Nieuwe cliënt" in listing and "Date of birth" not in listing
    detail = client.get(f"/patients/{patient_id}").get_data(as_text=True)
    assert '<html lang="nl"' in detail
    for dutch in ("Verzekeringen", "Polisnummer", "Verwijzingen", "Intrekken", "Beëindigen", "Dermatoloog"):
        assert dutch in detail, dutch
    for english in ("Insurances", "Policy number", "Referrals", "Withdraw", "Dermatologist", "Add insurance"):
        assert english not in detail, english
    intake_form = client.get(f"/patients/{patient_id}/intakes/new").get_data(as_text=True)
    assert "Contra-indicaties" in intake_form and "Tattoos in the area" not in intake_form
    log = client.get(f"/access-log/patients/{patient_id}").get_data(as_text=True)
    assert '<html lang="nl"' in log and "Tijdstip" in log and "inzage" in log


def test_an_english_user_keeps_english(app, as_role):
    patient_id, _insurer, _policy = _patient_with_insurance(app)
    html = as_role("therapist").get(f"/patients/{patient_id}").get_data(as_text=True)
    assert '<html lang="en"' in html and "Insurances" in html and "Policy number" in html


def test_service_refusals_are_in_the_readers_language(app, client):
    client = _dutch_client(app, client, role="admin")
    base = {"first_name": "Fleur", "last_name": "Berg", "date_of_birth": "12-04-1991", "bsn": "111222333",
            "id_document_type": "id_card", "id_document_number": "IXB12345"}
    assert post_form(client, "/patients/new", base).status_code == 302
    response = post_form(client, "/patients/new", {**base, "first_name": "Ander"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Another patient already has this BSN." not in html and "BSN" in html


# ---- search ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("typed", ["24-11-1990", "24-11-90", "1990-11-24", "24/11/1990", "ZK-778899", "zk-778899",
                                   "Eva Jansen", "jansen"])
def test_the_header_search_finds_a_patient_by_birth_date_policy_number_or_name(app, as_role, typed):
    _patient_with_insurance(app)
    with app.app_context():
        factories.patient("Visser", "Sem", date_of_birth=date(1985, 1, 30))
        db.session.commit()
    html = as_role("therapist").get("/patients/", query_string={"q": typed}).get_data(as_text=True)
    table = html.split('data-testid="patient-table"')[1].split("</table>")[0]
    assert "Jansen" in table and "Visser" not in table


def test_a_withdrawn_policy_number_finds_nobody(app, as_role):
    _patient_with_insurance(app, withdrawn_at=factories_now())
    html = as_role("therapist").get("/patients/", query_string={"q": "ZK-778899"}).get_data(as_text=True)
    assert "Jansen" not in html.split('data-testid="patient-table"')[1].split("</table>")[0]


def factories_now():
    from backoffice.models import utcnow

    return utcnow()


def test_nine_digits_find_a_bsn_and_a_policy_number_of_that_form(app, as_role):
    client = as_role("admin")
    with app.app_context():
        insurer = factories.insurer()
        with_bsn = factories.patient("Berg", "Fleur", bsn="111222333")
        with_policy = factories.patient("Smit", "Kees")
        factories.insurance(with_policy, insurer, policy_number="111222333")
        factories.patient("Visser", "Sem")
        db.session.commit()
        assert with_bsn.id and with_policy.id
    # Nine digits go by the POST form "Search by BSN" (a GET search with them is refused).
    html = post_form(client, "/patients/find-by-bsn", {"bsn": "111 222 333"}).get_data(as_text=True)
    table = html.split('data-testid="patient-table"')[1].split("</table>")[0]
    assert "Berg" in table and "Smit" in table and "Visser" not in table


def test_birth_date_reads_two_digit_years_as_the_last_century():
    today = date(2026, 11, 24)
    assert birth_date("24-11-90", today) == date(1990, 11, 24)
    assert birth_date("01-02-05", today) == date(2005, 2, 1)
    assert birth_date("01-02-27", today) == date(1927, 2, 1)
    assert birth_date("31-02-90", today) is None
    assert birth_date("jansen", today) is None


def test_the_header_search_box_leads_to_the_patient_list(app, as_role):
    html = as_role("therapist").get("/").get_data(as_text=True)
    form = re.search(r'<form[^>]*role="search"[^>]*action="([^"]+)"', html)
    assert form and form.group(1) == "/patients/" and 'name="q"' in html


# ---- insurance form: packages of the chosen insurer ----------------------------------------------------

def _option(html: str, value: int) -> str:
    """The package select's option of this value."""
    packages = html.split('name="package_id"')[1].split("</select>")[0]
    return re.search(rf'<option[^>]*\bvalue="{value}"[^>]*>', packages).group(0)


def test_packages_carry_their_insurer_and_another_insurers_package_is_refused(app, as_role):
    patient_id, zk_id, _policy = _patient_with_insurance(app)
    with app.app_context():
        onvz = factories.insurer("ONVZ", "3358", packages=["Optifit"])
        db.session.commit()
        onvz_id, optifit = onvz.id, onvz.packages[0].id
        zk_package = db.session.get(Insurer, zk_id).packages[0].id
    client = as_role("therapist")
    url = f"/patients/{patient_id}/insurances/new"
    html = client.get(url).get_data(as_text=True)
    select = re.search(r'<select[^>]*name="package_id"[^>]*>', html).group(0)
    assert 'data-depends-on="insurer_id"' in select and 'id="insurer_id"' in html
    assert f'data-for="{onvz_id}"' in _option(html, optifit)
    assert f'data-for="{zk_id}"' in _option(html, zk_package)
    response = post_form(client, url, {"insurer_id": zk_id, "package_id": optifit, "policy_number": "P-2",
                                       "valid_from": "01-01-2026", "valid_until": ""})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "This package belongs to another insurer." in html and "invalid-feedback" in html
    response = post_form(client, url, {"insurer_id": onvz_id, "package_id": optifit, "policy_number": "P-2",
                                       "valid_from": "01-01-2026", "valid_until": ""})
    assert response.status_code == 302


# ---- end and withdraw ----------------------------------------------------------------------------------

def test_the_patient_page_offers_end_and_withdraw_which_ask_for_confirmation(app, as_role):
    patient_id, _insurer, policy_id = _patient_with_insurance(app)
    client = as_role("therapist")
    detail = client.get(f"/patients/{patient_id}").get_data(as_text=True)
    assert f"/insurances/{policy_id}/end" in detail and f"/insurances/{policy_id}/withdraw" in detail
    assert f"/insurances/{policy_id}/delete" not in detail and "Remove" not in detail
    end = client.get(f"/patients/{patient_id}/insurances/{policy_id}/end").get_data(as_text=True)
    assert re.search(r'<form method="post"[^>]*data-confirm="End insurance ZK-778899 of Zilveren Kruis\?', end)
    withdraw = client.get(f"/patients/{patient_id}/insurances/{policy_id}/withdraw").get_data(as_text=True)
    assert re.search(r'<form method="post"[^>]*data-confirm="Withdraw insurance ZK-778899 of Zilveren Kruis\? '
                     r'It stays in the history but is never used again', withdraw)


def test_ending_an_insurance_keeps_it_up_to_the_last_day(app, as_role):
    patient_id, _insurer, policy_id = _patient_with_insurance(app)
    client = as_role("therapist")
    url = f"/patients/{patient_id}/insurances/{policy_id}/end"
    response = post_form(client, url, {"valid_until": "31-12-2025"})
    assert response.status_code == 422 and "before the start date" in response.get_data(as_text=True)
    assert post_form(client, url, {"valid_until": "30-06-2026"}).status_code == 302
    with app.app_context():
        patient = db.session.get(Patient, patient_id)
        assert patient.insurance_on(date(2026, 6, 30)).id == policy_id
        assert patient.insurance_on(date(2026, 7, 1)) is None
        entry = db.session.scalars(db.select(AccessLog).where(AccessLog.subject == f"insurance {policy_id}")).all()
        assert [(e.action, e.detail) for e in entry] == [("update", "ended: valid until 30-06-2026")]


def test_withdrawing_an_insurance_keeps_who_when_why_and_leaves_it_out_of_new_assessments(app, as_role):
    from backoffice.treatments import services as treatments

    patient_id, _insurer, policy_id = _patient_with_insurance(app)
    with app.app_context():
        therapist = factories.therapist()
        item = factories.catalogue_item()
        treatment = factories.treatment(patient_id, therapist.id, item.id, date(2026, 11, 2))
        db.session.commit()
        treatment_id = treatment.id
        assert treatments.assess_treatment(treatment).insurance is not None
        assert treatments.reimbursement_overview(patient_id, date(2026, 11, 24))
    client = as_role("therapist")
    url = f"/patients/{patient_id}/insurances/{policy_id}/withdraw"
    response = post_form(client, url, {"reason": ""})
    assert response.status_code == 422 and "Say why it is withdrawn." in response.get_data(as_text=True)
    response = post_form(client, url, {"reason": "Entered for the wrong patient"})
    assert response.status_code == 302
    with app.app_context():
        policy = db.session.get(Insurance, policy_id)
        assert policy is not None  # kept
        assert policy.withdrawn_at is not None and policy.withdrawn_by.email == "therapist@test.nl"
        assert policy.withdrawn_reason == "Entered for the wrong patient"
        patient = db.session.get(Patient, patient_id)
        assert patient.insurance_on(date(2026, 11, 2)) is None and patient.active_insurances == []
        treatment = db.session.get(treatments.Treatment, treatment_id)
        assert treatments.assess_treatment(treatment).insurance is None
        assert treatments.reimbursement_overview(patient_id, date(2026, 11, 24)) == []
        log = db.session.scalars(db.select(AccessLog).where(AccessLog.subject == f"insurance {policy_id}")).all()
        assert [(e.action, e.detail) for e in log] == [("update", "withdrawn: policy ZK-778899")]
    detail = client.get(f"/patients/{patient_id}").get_data(as_text=True)
    row = detail.split(f'data-insurance-id="{policy_id}"')[1].split("</tr>")[0]
    assert 'data-withdrawn="1"' in detail and "<del>ZK-778899</del>" in row
    assert "Entered for the wrong patient" in row and "Therapist" in row
    assert f"/insurances/{policy_id}/edit" not in detail
    # Withdrawn is final: no edit, no end, no second withdrawal.
    for path in ("edit", "end", "withdraw"):
        response = client.get(f"/patients/{patient_id}/insurances/{policy_id}/{path}")
        assert response.status_code == 302
    assert post_form(client, f"/patients/{patient_id}/insurances/{policy_id}/end", {"valid_until": "30-06-2026"},
                     token_from=f"/patients/{patient_id}").status_code == 302
    with app.app_context():
        assert db.session.get(Insurance, policy_id).valid_until is None


def test_the_services_refuse_to_change_a_withdrawn_insurance(app, users):
    from backoffice.patients import services

    _patient_id, _insurer, policy_id = _patient_with_insurance(app)
    with app.test_request_context():
        policy = db.session.get(Insurance, policy_id)
        services.withdraw_insurance(policy, "Dubbel", None)
        for change in (lambda: services.withdraw_insurance(policy, "again", None),
                       lambda: services.end_insurance(policy, date(2026, 6, 30), None)):
            with pytest.raises(services.InsuranceRefused):
                change()


# ---- small screens -------------------------------------------------------------------------------------

def test_patient_tables_collapse_to_labelled_cards_on_a_phone(app, as_role):
    patient_id, _insurer, _policy = _patient_with_insurance(app)
    client = as_role("admin")
    for url, testids in (("/patients/", ["patient-table"]),
                         (f"/patients/{patient_id}", ["insurances", "referrals", "patient-treatments",
                                                       "reimbursement-this-year"]),
                         (f"/access-log/patients/{patient_id}", ["access-log-table"])):
        html = client.get(url).get_data(as_text=True)
        for testid in testids:
            table = re.search(rf'<table class="([^"]*)" data-testid="{testid}">(.*?)</table>', html, re.S)
            assert table, (url, testid)
            assert "table-responsive-cards" in table.group(1), (url, testid)
            cells = re.findall(r"<td([^>]*)>", table.group(2))
            data_cells = [c for c in cells if "colspan" not in c]
            assert all("data-label=" in c or 'class="text-end"' in c for c in data_cells), (url, testid)
