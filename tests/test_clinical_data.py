"""Techniques, indications and contraindications as data: seeded with the built-in set, edited by the admin, and
what the intake screening and the treatment form read (issue 12)."""

from __future__ import annotations

import re
from datetime import timedelta

import factories
import pytest
from conftest import post_form
from sqlalchemy import select
from test_treatments import TODAY, form_data, new_url, setup_clinic

from backoffice.clinical import services as clinical
from backoffice.domain.intake import RuleKind, WaitUnit
from backoffice.extensions import db
from backoffice.intakes.services import screening_for
from backoffice.models import (
    AccessLog,
    CatalogueItem,
    ClinicalContraindication,
    ClinicalIndication,
    ClinicalTechnique,
    Patient,
    Treatment,
)


def _row(model, code):
    return db.session.scalar(select(model).where(model.code == code))


def _ids(model, *codes) -> list[int]:
    return [_row(model, code).id for code in codes]


# ---- the seed ----------------------------------------------------------------------------------------------------


def test_the_built_in_set_is_seeded_and_the_list_applies_to_laser_and_ipl_only(app):
    with app.app_context():
        assert len(clinical.techniques()) == 8 and len(clinical.indications()) == 16
        assert len(clinical.contraindications()) == 18  # 13 conditions and 5 medications
        pregnancy = _row(ClinicalContraindication, "pregnancy_breastfeeding")
        applies = {t.code for t in pregnancy.techniques}
        assert {"fractional_laser", "laser_hair_removal", "ipl"} <= applies
        assert not applies & {"camouflage_lesson", "lymph_drainage", "other"}
        antibiotics = _row(ClinicalContraindication, "antibiotics")
        assert (antibiotics.medication, antibiotics.rule, antibiotics.wait_amount, antibiotics.wait_unit) == (
            True, "wait_after_end", 2, "weeks")
        assert _row(ClinicalTechnique, "fractional_laser").minimum_age == 18
        assert _row(ClinicalTechnique, "camouflage_lesson").minimum_age is None
        assert clinical.rules_for(None).contraindications == ()


def test_a_pregnant_patient_or_a_16_year_old_may_have_a_camouflage_lesson_but_no_laser(app):
    with app.app_context():
        pregnant = factories.patient("Jansen")
        factories.intake(pregnant, TODAY - timedelta(days=10),
                         contraindications=[{"kind": "pregnancy_breastfeeding", "areas": [], "ended_on": None}])
        minor = factories.patient("Bakker", date_of_birth=TODAY.replace(year=TODAY.year - 16) - timedelta(days=3))
        factories.intake(minor, TODAY - timedelta(days=10))
        db.session.commit()
        for patient, code in ((pregnant, "contraindication:pregnancy_breastfeeding"), (minor, "under_18")):
            assert screening_for(patient, TODAY, "face", "camouflage_lesson").allowed
            assert screening_for(patient, TODAY, "face", None).allowed  # acne treatment: no technique
            laser = screening_for(patient, TODAY, "face", "fractional_laser")
            assert [f.code for f in laser.blocking] == [code]


# ---- the admin pages ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["therapist", "manager"])
def test_a_therapist_and_a_manager_get_403(app, as_role, role):
    client = as_role(role)
    for url in ("/clinical/", "/clinical/techniques/new", "/clinical/indications/1/edit",
                "/clinical/contraindications/new"):
        assert client.get(url).status_code == 403, url
        assert client.post(url, data={"code": "x", "label": "x"}).status_code in (400, 403, 405), url
    assert "/clinical/" not in client.get("/").get_data(as_text=True)


def test_the_admin_sees_the_lists(app, as_role):
    client = as_role("admin")
    html = client.get("/clinical/").get_data(as_text=True)
    assert "Fractional laser" in html and "Acne scars" in html and "Pregnancy or breastfeeding" in html
    assert "/clinical/" in client.get("/").get_data(as_text=True)  # in the practice menu


def test_the_admin_changes_a_minimum_age_and_it_is_logged(app, as_role):
    client = as_role("admin")
    with app.app_context():
        row_id = _row(ClinicalTechnique, "ipl").id
    url = f"/clinical/techniques/{row_id}/edit"
    response = post_form(client, url, {"code": "ipl", "label": "IPL", "minimum_age": "16", "active": "y"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(ClinicalTechnique, row_id).minimum_age == 16
        entry = db.session.scalar(select(AccessLog).where(AccessLog.subject == "technique ipl"))
        assert entry.action == "update" and "minimum_age" in entry.detail
    bad = post_form(client, url, {"code": "ipl", "label": "", "minimum_age": "-3", "active": "y"})
    assert bad.status_code == 422
    assert "Enter a name." in bad.get_data(as_text=True)


def test_a_new_code_must_be_unique_and_well_formed(app, as_role):
    client = as_role("admin")
    taken = post_form(client, "/clinical/indications/new", {"code": "acne", "label": "Acne again",
                                                             "category": "acne"})
    assert taken.status_code == 422 and "already used" in taken.get_data(as_text=True)
    bad = post_form(client, "/clinical/indications/new", {"code": "Acne scar!", "label": "X", "category": "acne"})
    assert bad.status_code == 422 and "lower-case" in bad.get_data(as_text=True)


def test_a_contraindication_with_a_two_week_wait_applied_to_laser_only(app, as_role):
    client = as_role("admin")
    with app.app_context():
        laser = _ids(ClinicalTechnique, "fractional_laser")
    data = {"code": "anticoagulants", "label": "Bloedverdunners", "medication": "y", "rule": "wait_after_end",
            "wait_amount": "", "wait_unit": "weeks", "technique_ids": laser, "active": "y"}
    missing = post_form(client, "/clinical/contraindications/new", data)
    assert missing.status_code == 422 and "Enter the wait." in missing.get_data(as_text=True)
    assert post_form(client, "/clinical/contraindications/new", {**data, "wait_amount": "2"}).status_code == 302
    with app.app_context():
        row = _row(ClinicalContraindication, "anticoagulants")
        assert (row.rule, row.wait_amount, row.wait_unit) == (RuleKind.WAIT_AFTER_END, 2, WaitUnit.WEEKS)
        patient = factories.patient("Visser")
        stopped = TODAY - timedelta(days=5)
        factories.intake(patient, TODAY - timedelta(days=3),
                         medications=[{"medication": "anticoagulants", "stopped_on": stopped.isoformat()}])
        db.session.commit()
        [finding] = screening_for(patient, TODAY, "face", "fractional_laser").blocking
        assert finding.code == "medication:anticoagulants"
        assert finding.until == stopped + timedelta(weeks=2)
        assert "Bloedverdunners" in str(finding.message) and "(2 weken)" in str(finding.message)
        assert screening_for(patient, TODAY, "face", "ipl").allowed  # not ticked for IPL
        assert screening_for(patient, stopped + timedelta(weeks=2), "face", "fractional_laser").allowed


def test_unticking_a_technique_stops_screening_it(app, as_role):
    client = as_role("admin")
    with app.app_context():
        row = _row(ClinicalContraindication, "epilepsy")
        row_id, kept = row.id, [t.id for t in row.techniques if t.code != "ipl"]
    response = post_form(client, f"/clinical/contraindications/{row_id}/edit", {
        "code": "epilepsy", "label": "Epilepsy", "rule": "blocks", "wait_unit": "", "technique_ids": kept,
        "active": "y"})
    assert response.status_code == 302
    with app.app_context():
        assert "epilepsy" not in [r.code for r in clinical.rules_for("ipl").contraindications]
        assert "epilepsy" in [r.code for r in clinical.rules_for("fractional_laser").contraindications]


# ---- an indication the admin adds -----------------------------------------------------------------------------


def test_an_added_indication_is_offered_recorded_and_classified_by_its_category(app, as_role):
    ids = setup_clinic(app)
    admin = as_role("admin")
    with app.app_context():
        laser = _ids(ClinicalTechnique, "fractional_laser")
    for code, label, category in (("keloid_scar", "Keloid scar", "scars"), ("glow", "Glow boost", "cosmetic")):
        response = post_form(admin, "/clinical/indications/new", {
            "code": code, "label": label, "category": category, "technique_ids": laser, "active": "y"})
        assert response.status_code == 302
    html = admin.get(new_url(ids)).get_data(as_text=True)
    assert 'value="keloid_scar"' in html and "Keloid scar" in html
    for code, medical in (("keloid_scar", True), ("glow", False)):
        response = post_form(admin, new_url(ids), form_data(ids, indication=code))
        assert response.status_code == 302, response.get_data(as_text=True)
        with app.app_context():
            treatment = db.session.scalar(select(Treatment).where(Treatment.indication == code))
            assert treatment.medical is medical
            assert (treatment.vat_rate == 0) is medical
        detail = admin.get(response.headers["Location"])
        assert detail.status_code == 200
    # Deactivated: no longer offered; what was recorded keeps it.
    with app.app_context():
        row = _row(ClinicalIndication, "glow")
        row_id = row.id
        assert clinical.indication_in_use(row)
    post_form(admin, f"/clinical/indications/{row_id}/edit", {
        "code": "glow", "label": "Glow boost", "category": "cosmetic", "technique_ids": laser})
    assert 'value="glow"' not in admin.get(new_url(ids)).get_data(as_text=True)


def test_an_indication_that_does_not_fit_the_technique_is_refused(app, as_role):
    ids = setup_clinic(app)
    admin = as_role("admin")
    response = post_form(admin, "/clinical/indications/new", {
        "code": "tattoo_removal", "label": "Tattoo removal", "category": "cosmetic", "active": "y"})
    assert response.status_code == 302
    refused = post_form(admin, new_url(ids), form_data(ids, indication="tattoo_removal"))
    assert refused.status_code == 422
    assert "is not treated with this treatment" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Patient, ids["patient"]) is not None
        assert not db.session.scalar(select(Treatment).where(Treatment.indication == "tattoo_removal"))


def test_an_added_technique_can_be_chosen_for_a_catalogue_item(app, as_role):
    client = as_role("admin")
    added = post_form(client, "/clinical/techniques/new", {"code": "microneedling", "label": "Microneedling",
                                                           "minimum_age": "18", "active": "y"})
    assert added.status_code == 302
    form = client.get("/catalogue/new").get_data(as_text=True)
    assert 'value="microneedling"' in form and "Microneedling" in form
    saved = post_form(client, "/catalogue/new", {"code": "MN1", "name": "Microneedling gezicht",
                                                 "technique": "microneedling", "price": "95,00",
                                                 "prestatiecode_list": "075", "prestatiecode": "1234",
                                                 "duration_minutes": "45", "vat_note": ""})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(CatalogueItem.technique).where(CatalogueItem.code == "MN1")) == "microneedling"


def test_an_added_medication_is_asked_on_the_intake_form_and_a_deactivated_one_only_where_recorded(app, as_role):
    admin = as_role("admin")
    with app.app_context():
        laser = _ids(ClinicalTechnique, "fractional_laser")
        patient_id = factories.patient("Visser").id
        db.session.commit()
    data = {"code": "anticoagulants", "label": "Bloedverdunners", "medication": "y", "rule": "wait_after_end",
            "wait_amount": "2", "wait_unit": "weeks", "technique_ids": laser, "active": "y"}
    assert post_form(admin, "/clinical/contraindications/new", data).status_code == 302
    form = admin.get(f"/patients/{patient_id}/intakes/new").get_data(as_text=True)
    assert "Bloedverdunners" in form and 'name="med_anticoagulants_stopped_on"' in form
    stopped = TODAY - timedelta(days=3)
    saved = post_form(admin, f"/patients/{patient_id}/intakes/new", {
        "intake_date": TODAY.isoformat(), "consent_given": "y", "consent_by": "Anna Visser",
        "consent_on": TODAY.isoformat(), "notes": "", "med_anticoagulants": "y",
        "med_anticoagulants_stopped_on": stopped.isoformat()})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    with app.app_context():
        patient = db.session.get(Patient, patient_id)
        [finding] = screening_for(patient, TODAY, "face", "fractional_laser").blocking
        assert finding.code == "medication:anticoagulants"
        row = _row(ClinicalContraindication, "anticoagulants")
        row_id, intake_url = row.id, saved.headers["Location"]
    switched_off = post_form(admin, f"/clinical/contraindications/{row_id}/edit", {**data, "active": ""})
    assert switched_off.status_code == 302
    assert 'name="med_anticoagulants"' not in admin.get(f"/patients/{patient_id}/intakes/new").get_data(as_text=True)
    # The intake that records it keeps it when edited: nothing is dropped silently.
    edit = admin.get(f"{intake_url}/edit").get_data(as_text=True)
    [checkbox] = re.findall(r'<input[^>]*name="med_anticoagulants"[^>]*>', edit)
    assert "Bloedverdunners" in edit and "checked" in checkbox
