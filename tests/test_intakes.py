"""Intake and consent per patient: the form, the stored JSON shape, corrections, screening and the access log."""

from __future__ import annotations

import re
from datetime import date, timedelta

import factories
from conftest import post_form

from backoffice.clock import clinic_today
from backoffice.domain.indications import BodyArea
from backoffice.domain.intake import Contraindication, ContraindicationEntry, Medication, MedicationUse
from backoffice.extensions import db
from backoffice.intakes import services
from backoffice.models import AccessLog, Intake, Patient

TODAY = clinic_today()


def _form(**extra) -> dict:
    return {"intake_date": TODAY.isoformat(), "consent_given": "y", "consent_by": "Eva Jansen",
            "consent_on": TODAY.isoformat(), "notes": "", **extra}


def _intakes(app, patient_id: int) -> list[Intake]:
    with app.app_context():
        rows = db.session.scalars(db.select(Intake).where(Intake.patient_id == patient_id)).all()
        db.session.expunge_all()
        return rows


def _log(app, patient_id: int) -> list[tuple[str, str, str]]:
    with app.app_context():
        rows = db.session.scalars(db.select(AccessLog).where(AccessLog.patient_id == patient_id)
                                  .order_by(AccessLog.id))
        return [(r.action, r.subject, r.detail) for r in rows]


def test_new_intake_form_defaults_to_today_and_the_patient_name(app, as_role):
    patient_id = factories.committed(app, factories.patient, "Jansen", "Eva")
    html = as_role("therapist").get(f"/patients/{patient_id}/intakes/new").get_data(as_text=True)
    assert f'value="{TODAY:%d-%m-%Y}"' in html  # refilled the Dutch way
    assert 'value="Eva Jansen"' in html
    assert "Pregnancy or breastfeeding" in html and "Tattoos in the area" in html
    assert "Medication: uses or used" in html and "Isotretinoin / Roaccutane / vitamin A cream" in html
    assert "blocks treatment of every area" in html


def test_intake_is_stored_in_the_shape_to_domain_reads(app, as_role):
    patient_id = factories.committed(app, factories.patient, "Jansen", "Eva")
    stopped = TODAY - timedelta(days=3)
    response = post_form(as_role("therapist"), f"/patients/{patient_id}/intakes/new", _form(**{
        "ci_pregnancy_breastfeeding": "y",
        "ci_tattoos": "y", "ci_tattoos_areas": ["neck", "face"],
        "ci_raised_lesions": "y",  # no areas: not specified
        "ci_cancer_treatment": "y", "ci_cancer_treatment_ended_on": "2019-03-01",
        "med_antibiotics": "y", "med_antibiotics_stopped_on": stopped.isoformat(),
        "med_st_johns_wort": "y",
    }))
    assert response.status_code == 302, response.get_data(as_text=True)
    [intake] = _intakes(app, patient_id)
    assert intake.contraindications == [
        {"kind": "pregnancy_breastfeeding", "areas": [], "ended_on": None},
        {"kind": "raised_lesions", "areas": [], "ended_on": None},
        {"kind": "tattoos", "areas": ["face", "neck"], "ended_on": None},
        {"kind": "cancer_treatment", "areas": [], "ended_on": "2019-03-01"},
    ]
    assert intake.medications == [
        {"medication": "antibiotics", "stopped_on": stopped.isoformat()},
        {"medication": "st_johns_wort", "stopped_on": None},
    ]
    domain = intake.to_domain()
    assert domain.contraindications == (
        ContraindicationEntry(Contraindication.PREGNANCY_BREASTFEEDING),
        ContraindicationEntry(Contraindication.RAISED_LESIONS),
        ContraindicationEntry(Contraindication.TATTOOS, frozenset({BodyArea.FACE, BodyArea.NECK})),
        ContraindicationEntry(Contraindication.CANCER_TREATMENT, ended_on=date(2019, 3, 1)),
    )
    assert domain.medications == (MedicationUse(Medication.ANTIBIOTICS, stopped),
                                  MedicationUse(Medication.ST_JOHNS_WORT, None))
    assert (domain.consent_given, domain.consent_by, domain.consent_on) == (True, "Eva Jansen", TODAY)
    assert response.headers["Location"] == f"/patients/{patient_id}/intakes/{intake.id}"


def test_a_planned_stop_date_may_lie_ahead(app, as_role):
    patient_id = factories.committed(app, factories.patient, "Jansen", "Eva")
    ahead = TODAY + timedelta(days=10)
    response = post_form(as_role("therapist"), f"/patients/{patient_id}/intakes/new",
                         _form(med_prednisone="y", med_prednisone_stopped_on=ahead.isoformat()))
    assert response.status_code == 302
    [intake] = _intakes(app, patient_id)
    assert intake.medications == [{"medication": "prednisone", "stopped_on": ahead.isoformat()}]


def _checked(html: str, name: str) -> bool:
    tag = re.search(rf'<input[^>]*\bid="{name}"[^>]*>', html)
    assert tag, name
    return " checked" in tag.group(0)


def _refused(app, client, patient_id: int, data: dict, message: str) -> str:
    response = post_form(client, f"/patients/{patient_id}/intakes/new", data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and "invalid-feedback" in html
    assert _intakes(app, patient_id) == []
    return html


def test_bad_input_rerenders_with_field_errors_and_saves_nothing(app, as_role):
    patient_id = factories.committed(app, factories.patient, "Jansen", "Eva")
    client = as_role("therapist")
    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    _refused(app, client, patient_id, _form(intake_date=tomorrow), "The intake date lies in the future.")
    _refused(app, client, patient_id, _form(intake_date="31-02-2026"), "Enter a valid date.")
    _refused(app, client, patient_id, _form(consent_on=""), "Enter the date consent was given.")
    _refused(app, client, patient_id, _form(consent_by=""), "Enter who gave consent.")
    html = _refused(app, client, patient_id, _form(med_penicillin="y", med_penicillin_stopped_on="not a date",
                                                   ci_epilepsy="y"),
                    "Type a date as dd-mm-yyyy")
    assert _checked(html, "ci_epilepsy")  # what was ticked stays ticked
    _refused(app, client, patient_id, _form(med_penicillin_stopped_on=TODAY.isoformat()),
             "Tick the medication or clear this date.")
    _refused(app, client, patient_id, _form(ci_tattoos_areas=["face"]), "Tick the contraindication or clear its areas.")
    _refused(app, client, patient_id, _form(ci_tattoos="y", ci_tattoos_areas=["elbow"]), "is not a valid choice")
    _refused(app, client, patient_id,
             _form(ci_cancer_treatment="y", ci_cancer_treatment_ended_on=tomorrow),
             "The last treatment cannot have ended after the intake date.")


def test_without_consent_the_consent_fields_are_not_kept(app, as_role):
    patient_id = factories.committed(app, factories.patient, "Jansen", "Eva")
    response = post_form(as_role("therapist"), f"/patients/{patient_id}/intakes/new",
                         {"intake_date": TODAY.isoformat(), "consent_by": "Eva Jansen", "consent_on": ""})
    assert response.status_code == 302
    [intake] = _intakes(app, patient_id)
    assert (intake.consent_given, intake.consent_by, intake.consent_on) == (False, "", None)


def test_an_intake_can_be_corrected_and_the_correction_is_logged(app, as_role):
    patient_id = factories.committed(app, factories.patient, "Jansen", "Eva")
    client = as_role("therapist")
    post_form(client, f"/patients/{patient_id}/intakes/new", _form(ci_fever="y"))
    [intake] = _intakes(app, patient_id)
    edit_url = f"/patients/{patient_id}/intakes/{intake.id}/edit"
    html = client.get(edit_url).get_data(as_text=True)
    assert _checked(html, "ci_fever") and not _checked(html, "ci_epilepsy")
    response = post_form(client, edit_url, _form(ci_tattoos="y", ci_tattoos_areas=["face"]))
    assert response.status_code == 302
    [intake] = _intakes(app, patient_id)
    assert intake.contraindications == [{"kind": "tattoos", "areas": ["face"], "ended_on": None}]
    log = _log(app, patient_id)
    assert ("create", f"intake {intake.id}", f"intake of {TODAY:%d-%m-%Y}") in log
    assert ("view", f"intake {intake.id} edit form", "") in log
    assert ("update", f"intake {intake.id}", "corrected: contraindications") in log


def test_detail_and_history_show_the_intake_and_are_logged(app, as_role):
    patient_id = factories.committed(app, factories.patient, "Jansen", "Eva")
    client = as_role("manager")
    with app.app_context():
        intake = Intake(patient_id=patient_id, intake_date=date(2025, 1, 10), consent_given=True,
                        consent_by="Eva Jansen", consent_on=date(2025, 1, 10),
                        contraindications=[{"kind": "tattoos", "areas": [], "ended_on": None}],
                        medications=[{"medication": "antibiotics", "stopped_on": "2025-01-02"}])
        db.session.add(intake)
        db.session.commit()
        intake_id = intake.id
    detail = client.get(f"/patients/{patient_id}/intakes/{intake_id}").get_data(as_text=True)
    assert "Tattoos in the area (area not specified: blocks every area)" in detail
    assert "Antibiotics, stopped 02-01-2025" in detail
    history = client.get(f"/patients/{patient_id}/intakes/").get_data(as_text=True)
    assert "10-01-2025" in history
    assert client.get(f"/patients/{patient_id}/intakes/new").status_code == 403  # manager writes nothing
    log = _log(app, patient_id)
    assert ("view", f"intake {intake_id}", "") in log and ("view", "intake history", "") in log


def test_patient_page_summarises_the_latest_intake(app, as_role):
    patient_id = factories.committed(app, factories.patient, "Jansen", "Eva")
    client = as_role("therapist")
    page = client.get(f"/patients/{patient_id}").get_data(as_text=True)
    assert 'data-testid="no-intake"' in page
    with app.app_context():
        db.session.add_all([
            Intake(patient_id=patient_id, intake_date=TODAY - timedelta(days=800), consent_given=True,
                   consent_by="Eva", consent_on=TODAY - timedelta(days=800)),
            Intake(patient_id=patient_id, intake_date=TODAY - timedelta(days=400), consent_given=False,
                   contraindications=[{"kind": "epilepsy", "areas": [], "ended_on": None}]),
        ])
        db.session.commit()
    page = client.get(f"/patients/{patient_id}").get_data(as_text=True)
    assert f"{TODAY - timedelta(days=400):%d-%m-%Y}" in page
    assert 'data-testid="no-consent"' in page and 'data-testid="intake-outdated"' in page
    assert "<li>Epilepsy</li>" in page


def test_patient_page_flags_a_minor(app, as_role):
    born = TODAY.replace(year=TODAY.year - 16) - timedelta(days=3)
    patient_id = factories.committed(app, factories.patient, "Jansen", "Eva", date_of_birth=born)
    page = as_role("therapist").get(f"/patients/{patient_id}").get_data(as_text=True)
    assert "Age 16" in page and 'data-testid="under-age"' in page


def test_another_patients_intake_is_not_found(app, as_role):
    first, second = (factories.committed(app, factories.patient, "Jansen", "Eva") for _ in range(2))
    with app.app_context():
        intake = Intake(patient_id=first, intake_date=TODAY)
        db.session.add(intake)
        db.session.commit()
        intake_id = intake.id
    assert as_role("therapist").get(f"/patients/{second}/intakes/{intake_id}").status_code == 404


def test_screening_for_blocks_pregnancy_and_uses_the_configured_validity(app):
    patient_id = factories.committed(app, factories.patient, "Jansen", "Eva")
    with app.app_context():
        patient = db.session.get(Patient, patient_id)
        db.session.add(Intake(patient=patient, intake_date=date(2025, 1, 10), consent_given=True,
                              consent_by="Eva Jansen", consent_on=date(2025, 1, 10),
                              contraindications=[{"kind": "pregnancy_breastfeeding", "areas": [], "ended_on": None}]))
        db.session.commit()
        screening = services.screening_for(patient, date(2025, 2, 1), BodyArea.FACE, "fractional_laser")
        assert not screening.allowed
        assert [f.code for f in screening.blocking] == ["contraindication:pregnancy_breastfeeding"]
        # A camouflage lesson, lymph drainage or a treatment without a technique: pregnancy does not block them.
        for technique in ("camouflage_lesson", "lymph_drainage", None):
            assert services.screening_for(patient, date(2025, 2, 1), BodyArea.FACE, technique).allowed

        app.config["INTAKE_VALIDITY_MONTHS"] = 1
        later = services.screening_for(patient, date(2025, 3, 1), BodyArea.FACE, "fractional_laser")
        assert "intake_outdated" in [f.code for f in later.warnings]
        app.config["INTAKE_VALIDITY_MONTHS"] = 12
        assert "intake_outdated" not in [f.code for f in services.screening_for(
            patient, date(2025, 3, 1), BodyArea.FACE).findings]


def test_screening_for_an_area_bound_contraindication_elsewhere_allows(app):
    patient_id = factories.committed(app, factories.patient, "Jansen", "Eva")
    with app.app_context():
        patient = db.session.get(Patient, patient_id)
        db.session.add(Intake(patient=patient, intake_date=date(2025, 1, 10), consent_given=True,
                              consent_by="Eva Jansen", consent_on=date(2025, 1, 10),
                              contraindications=[{"kind": "tattoos", "areas": ["legs"], "ended_on": None}]))
        db.session.commit()
        assert services.screening_for(patient, date(2025, 2, 1), BodyArea.FACE, "ipl").allowed
        assert not services.screening_for(patient, date(2025, 2, 1), BodyArea.LEGS, "ipl").allowed


def test_intake_validity_months_comes_from_the_environment(monkeypatch, tmp_path):
    import config

    monkeypatch.setenv("INTAKE_VALIDITY_MONTHS", "6")
    assert config.load(str(tmp_path))["INTAKE_VALIDITY_MONTHS"] == 6
    assert config.load_defaults()["INTAKE_VALIDITY_MONTHS"] == 12


def test_the_services_take_a_typed_intake_and_record_who_took_it(app, users):
    from backoffice.models import User

    patient_id = factories.committed(app, factories.patient, "Jansen", "Eva")
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == users["therapist"]))
        patient = db.session.get(Patient, patient_id)
        intake = services.create_intake(patient, services.IntakeInput(
            date(2025, 1, 10),
            contraindications=(ContraindicationEntry(Contraindication.TATTOOS, frozenset({BodyArea.FACE})),),
            medications=(MedicationUse(Medication.ANTIBIOTICS, date(2025, 1, 2)),),
            consent_given=False, consent_by="Eva Jansen", consent_on=date(2025, 1, 10)), user)
        # Without consent, who gave it and when are not kept.
        assert (intake.recorded_by_id, intake.consent_by, intake.consent_on) == (user.id, "", None)
        assert intake.contraindications == [{"kind": "tattoos", "areas": ["face"], "ended_on": None}]
        assert intake.medications == [{"medication": "antibiotics", "stopped_on": "2025-01-02"}]
        assert services.update_intake(intake, services.IntakeInput(
            date(2025, 1, 10), consent_given=True, consent_by="Eva Jansen", consent_on=date(2025, 1, 10)),
            user) == ["contraindications", "medications", "consent_given", "consent_by", "consent_on"]
        intake_id = intake.id
        db.session.commit()
    assert [(action, subject) for action, subject, _ in _log(app, patient_id)] == [
        ("create", f"intake {intake_id}"), ("update", f"intake {intake_id}")]
