"""Recording treatments: screening, the stored assessment, re-assessment, the list and the query budget."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import factories
import pytest
from conftest import post_form
from sqlalchemy import event, func, select

from backoffice.clock import clinic_today
from backoffice.domain.texts import english
from backoffice.extensions import db
from backoffice.models import (
    AccessLog,
    CoverageRule,
    Insurer,
    Patient,
    Therapist,
    Treatment,
)
from backoffice.treatments import services

TODAY = clinic_today()
YEAR = TODAY.year


# ---- test data (tests/factories.py) ---------------------------------------------------------------


def _therapist(name: str = "Sanne de Vries") -> Therapist:
    return factories.therapist(name, "90123456", kp=[(date(2015, 1, 1), TODAY + timedelta(days=1500))],
                               kp_number=f"KP-{name}", nvh_number=f"NVH-{name}", nvh_from=date(2015, 1, 1))


def _insurer(name: str = "Zilveren Kruis", uzovi: str = "3311") -> Insurer:
    """An insurer with one package and a rule for all its packages this year, capped at EUR 300 (own cap group)."""
    insurer = factories.insurer(name, uzovi, packages=["Aanvullend 3"])
    factories.coverage_rule(insurer, YEAR, label=f"{name} skin therapy", categories=["scars", "acne", "hair_removal"],
                            cap_cents=30_000, cap_group="")
    return insurer


def _patient(insurer: Insurer | None = None, last_name: str = "Jansen", contraindications=(),
             medications=()) -> Patient:
    """Anna <last_name>, insured since last year when an insurer is given, with a consented intake 40 days ago."""
    patient = factories.patient(last_name)
    if insurer is not None:
        factories.insurance(patient, insurer, package=insurer.packages[0], valid_from=date(YEAR - 1, 1, 1))
    factories.intake(patient, TODAY - timedelta(days=40), contraindications=contraindications,
                     medications=medications)
    return patient


def setup_clinic(app, **intake) -> dict[str, int]:
    """Ids of a credentialed therapist, an insurer with a rule, a laser at EUR 120 and an insured patient."""
    with app.app_context():
        therapist = _therapist()
        insurer = _insurer()
        item = factories.catalogue_item("FL1", price_cents=12_000)
        patient = _patient(insurer, **intake)
        db.session.commit()
        return {"therapist": therapist.id, "insurer": insurer.id, "item": item.id, "patient": patient.id}


def form_data(ids, **overrides) -> dict:
    data = {"therapist_id": ids["therapist"], "treatment_date": TODAY.isoformat(), "catalogue_item_id": ids["item"],
            "indication": "acne_scar", "body_area": "face", "session_number": "1", "series_total": "3",
            "device": "Fraxel", "wavelength_nm": "1550", "fluence_j_cm2": "20,5", "pulse_width_ms": "",
            "spot_size_mm": "", "passes": "2", "fitzpatrick": "2", "notes": "", "price": "",
            "price_change_reason": "", "referral_id": ""}
    data.update(overrides)
    return data


def new_url(ids) -> str:
    return f"/treatments/new?patient_id={ids['patient']}"


def record(app, ids, day=TODAY, indication="acne_scar", therapist=None, patient=None, price_cents=12000) -> int:
    """Record through the service with a passing screening (the web path is tested separately)."""
    with app.app_context():
        treatment = factories.recorded_treatment(patient or ids["patient"], therapist or ids["therapist"], ids["item"],
                                                 day, indication=indication, price_cents=price_cents)
        db.session.commit()
        return treatment.id


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def ids_on_page(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-treatment-id="(\d+)"', html)]


# ---- recording -------------------------------------------------------------------------------------


def test_recording_a_medical_treatment_stores_the_assessment(app, as_role):
    ids = setup_clinic(app)
    client = as_role("therapist")
    assert client.get(new_url(ids)).status_code == 200
    response = post_form(client, new_url(ids), form_data(ids))
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        treatment = db.session.scalars(select(Treatment)).one()
        assert treatment.medical and treatment.reimbursable
        assert (treatment.vat_rate, treatment.net_cents, treatment.vat_cents) == (0, 12000, 0)
        assert treatment.price_cents == 12000
        assert treatment.insurer_id == ids["insurer"] and treatment.coverage_rule_id is not None
        assert (treatment.insurer_amount_cents, treatment.patient_amount_cents) == (12000, 0)
        assert str(treatment.fluence_j_cm2) == "20.50"
        stored = treatment.stored_assessment()
        assert stored.reimbursable and stored.cap_remaining_after == stored.cap - stored.insurer_amount
        assert treatment.assessment["insurer_amount"] == "120.00"
        assert any("Zilveren Kruis pays EUR 120,00" in english(r) for r in stored.reasons)
        assert all("msgid" in r for r in treatment.assessment["reasons"])  # stored as Texts: shown in any language
        assert db.session.scalar(select(func.count()).select_from(AccessLog).where(
            AccessLog.action == "create", AccessLog.subject == f"treatment {treatment.id}")) == 1
        location = response.headers["Location"]
    page = client.get(location).get_data(as_text=True)
    assert "Medical — reimbursable: Zilveren Kruis pays EUR 120,00, patient pays EUR 0,00" in page
    assert "Vrijgesteld van btw, art. 11 lid 1 onderdeel g Wet OB 1968" in page
    assert "Assessed at" in page


def test_a_cosmetic_treatment_carries_21_percent_vat(app, as_role):
    ids = setup_clinic(app)
    client = as_role("therapist")
    response = post_form(client, new_url(ids), form_data(
        ids, indication="fine_lines", price="121,00", price_change_reason="Package deal"))
    assert response.status_code == 302
    with app.app_context():
        treatment = db.session.scalars(select(Treatment)).one()
        assert not treatment.medical and not treatment.reimbursable
        assert (treatment.vat_rate, treatment.net_cents, treatment.vat_cents) == (21, 10000, 2100)
        assert treatment.insurer_amount_cents == 0 and treatment.patient_amount_cents == 12100
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Cosmetic, 21 % VAT" in page
    assert "EUR 100,00" in page and "EUR 21,00" in page and "EUR 121,00" in page


def test_viewing_a_treatment_is_logged(app, as_role):
    ids = setup_clinic(app)
    treatment_id = record(app, ids)
    client = as_role("manager")
    assert client.get(f"/treatments/{treatment_id}").status_code == 200
    with app.app_context():
        entry = db.session.scalars(select(AccessLog).where(AccessLog.action == "view")).one()
        assert entry.patient_id == ids["patient"] and entry.subject == f"treatment {treatment_id}"


def test_pregnancy_blocks_the_treatment_and_nothing_is_saved(app, as_role):
    ids = setup_clinic(app, contraindications=[{"kind": "pregnancy_breastfeeding", "areas": [], "ended_on": None}])
    client = as_role("therapist")
    response = post_form(client, new_url(ids), form_data(ids))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    blocked = re.search(r'data-testid="screening-blocked">(.*?)</div>', html, re.S).group(1)
    assert re.findall(r"<li[^>]*>(.*?)</li>", blocked) == ["Pregnancy or breastfeeding."]
    assert count(app, Treatment) == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AccessLog).where(
            AccessLog.action == "create", AccessLog.subject != "sign-in")) == 0


def test_medication_stopped_five_days_ago_blocks_naming_the_dates(app, as_role):
    stopped = TODAY - timedelta(days=5)
    ids = setup_clinic(app, medications=[{"medication": "antibiotics", "stopped_on": stopped.isoformat()}])
    client = as_role("therapist")
    response = post_form(client, new_url(ids), form_data(ids))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    until = stopped + timedelta(days=14)
    assert f"Antibiotics stopped on {stopped:%d-%m-%Y}: no treatment until {until:%d-%m-%Y}" in html
    assert count(app, Treatment) == 0


def test_a_changed_price_needs_a_reason(app, as_role):
    ids = setup_clinic(app)
    client = as_role("therapist")
    response = post_form(client, new_url(ids), form_data(ids, price="100,00"))
    assert response.status_code == 422
    assert "differs from the catalogue price (EUR 120,00): give the reason" in response.get_data(as_text=True)
    assert count(app, Treatment) == 0
    # The catalogue price typed in needs no reason; a different one with a reason is accepted.
    assert post_form(client, new_url(ids), form_data(ids, price="120,00")).status_code == 302
    response = post_form(client, new_url(ids), form_data(ids, price="100,00", price_change_reason="Loyalty"))
    assert response.status_code == 302
    with app.app_context():
        prices = db.session.execute(select(Treatment.price_cents, Treatment.price_change_reason)
                                    .order_by(Treatment.id)).all()
        assert [tuple(p) for p in prices] == [(12000, ""), (10000, "Loyalty")]


@pytest.mark.parametrize("field, value", [
    ("treatment_date", (TODAY + timedelta(days=1)).isoformat()), ("wavelength_nm", "150"),
    ("wavelength_nm", "12000"), ("fluence_j_cm2", "0"), ("passes", "0"), ("session_number", "0"),
    ("series_total", "0"), ("fitzpatrick", "7"),
])
def test_invalid_fields_are_refused(app, as_role, field, value):
    ids = setup_clinic(app)
    client = as_role("therapist")
    data = form_data(ids, **{field: value})
    if field == "series_total":
        data["session_number"] = "2"
        data["series_total"] = "1"
    response = post_form(client, new_url(ids), data)
    assert response.status_code == 422
    assert count(app, Treatment) == 0


def test_manager_may_not_record(app, as_role):
    ids = setup_clinic(app)
    client = as_role("manager")
    assert client.get(new_url(ids)).status_code == 403


# ---- stored assessment vs re-assessment ------------------------------------------------------------


def test_rule_change_keeps_history_until_reassessed(app, as_role):
    ids = setup_clinic(app)
    treatment_id = record(app, ids)
    with app.app_context():
        rule = db.session.scalars(select(CoverageRule)).one()
        rule.percentage = 50
        db.session.commit()
    client = as_role("therapist")
    page = client.get(f"/treatments/{treatment_id}").get_data(as_text=True)
    assert "Zilveren Kruis pays EUR 120,00" in page  # the stored answer, not today's rules
    with app.app_context():
        assert db.session.get(Treatment, treatment_id).insurer_amount_cents == 12000

    response = post_form(client, f"/treatments/{treatment_id}/reassess", {},
                         token_from=f"/treatments/{treatment_id}", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "insurer pays EUR 120,00 -&gt; EUR 60,00" in html
    assert "Zilveren Kruis pays EUR 60,00, patient pays EUR 60,00" in html
    with app.app_context():
        treatment = db.session.get(Treatment, treatment_id)
        assert (treatment.insurer_amount_cents, treatment.patient_amount_cents) == (6000, 6000)
        assert treatment.assessment["insurer_amount"] == "60.00"
        entry = db.session.scalars(select(AccessLog).where(AccessLog.action == "update")).one()
        assert entry.subject == f"treatment {treatment_id}" and "re-assessed" in entry.detail


def test_manager_may_not_reassess(app, as_role):
    ids = setup_clinic(app)
    treatment_id = record(app, ids)
    client = as_role("manager")
    response = post_form(client, f"/treatments/{treatment_id}/reassess", {}, token_from=f"/treatments/{treatment_id}")
    assert response.status_code == 403


# ---- the list --------------------------------------------------------------------------------------


def test_list_filters(app, as_role):
    ids = setup_clinic(app)
    with app.app_context():
        other_therapist = _therapist("Other Therapist")
        insurer2 = _insurer("CZ", "9664")
        patient2 = _patient(insurer2, last_name="Bakker")
        uninsured = _patient(last_name="Visser")
        db.session.commit()
        other_ids = (other_therapist.id, insurer2.id, patient2.id, uninsured.id)
    other_therapist_id, insurer2_id, patient2_id, uninsured_id = other_ids
    last_month = (TODAY.replace(day=1) - timedelta(days=1)).replace(day=10)
    medical = record(app, ids)
    cosmetic = record(app, ids, indication="fine_lines")
    other = record(app, ids, therapist=other_therapist_id, patient=patient2_id, day=last_month)
    no_insurance = record(app, ids, patient=uninsured_id)

    client = as_role("manager")

    def shown(query: str) -> set[int]:
        response = client.get(f"/treatments/?{query}")
        assert response.status_code == 200
        return set(ids_on_page(response.get_data(as_text=True)))

    assert shown("") == {medical, cosmetic, other, no_insurance}
    assert shown("kind=medical") == {medical, other, no_insurance}
    assert shown("kind=cosmetic") == {cosmetic}
    assert shown("reimbursable=yes") == ({medical, other} if last_month.year == YEAR else {medical})
    assert no_insurance in shown("reimbursable=no") and cosmetic in shown("reimbursable=no")
    assert shown(f"therapist_id={other_therapist_id}") == {other}
    assert shown(f"insurer_id={insurer2_id}") == {other}
    assert shown(f"month={last_month:%Y-%m}") == {other}
    assert shown(f"month={TODAY:%Y-%m}") == {medical, cosmetic, no_insurance}
    assert shown("kind=medical&month=" + f"{TODAY:%Y-%m}" + f"&therapist_id={ids['therapist']}") == {
        medical, no_insurance}
    assert shown("month=garbage") == {medical, cosmetic, other, no_insurance}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AccessLog)
                                 .where(AccessLog.action == "search")) == 0
    assert shown("q=Bakker") == {other}
    assert shown(f"patient_id={ids['patient']}") == {medical, cosmetic}
    with app.app_context():
        searches = db.session.scalars(select(AccessLog).where(AccessLog.action == "search")).all()
        assert len(searches) == 2 and "Bakker" not in " ".join(s.detail for s in searches)


def test_list_pages_by_key_newest_first(app, as_role):
    ids = setup_clinic(app)
    app.config["PAGE_SIZE"] = 3
    with app.app_context():
        rows = []
        for n in range(8):
            # Two rows per date, so the id breaks ties within a date.
            rows.append(Treatment(patient_id=ids["patient"], therapist_id=ids["therapist"],
                                  treatment_date=TODAY - timedelta(days=n // 2), catalogue_item_id=ids["item"],
                                  indication="acne", body_area="face", price_cents=1000))
        db.session.add_all(rows)
        db.session.commit()
        expected = [t.id for t in sorted(rows, key=lambda t: (t.treatment_date, t.id), reverse=True)]
    client = as_role("admin")
    seen, url, pages = [], "/treatments/", []
    while url:
        html = client.get(url).get_data(as_text=True)
        page_ids = ids_on_page(html)
        pages.append(page_ids)
        seen += page_ids
        older = re.search(r'href="([^"]+)">Older', html)
        url = older.group(1).replace("&amp;", "&") if older and older.group(1) != "#" else None
    assert seen == expected
    assert [len(p) for p in pages] == [3, 3, 2]
    # From the last page, "Newer" leads back to the page before it.
    newer = re.search(r'href="([^"]+)">Newer', html).group(1).replace("&amp;", "&")
    assert ids_on_page(client.get(newer).get_data(as_text=True)) == pages[1]
    first = client.get("/treatments/").get_data(as_text=True)
    assert 'data-testid="newer" href="#"' in first


def test_the_list_logs_once_its_page_is_built_in_the_same_transaction(app, as_role):
    """The access-log entry is written after the page's queries (its INSERT takes the chain's lock until the
    commit: nothing else runs under it), and committed with the request: it names the patients shown."""
    ids = setup_clinic(app)
    record(app, ids)
    client = as_role("admin")
    seen: list[str] = []
    with app.app_context():
        engine = db.engine
        before = db.session.scalar(select(func.count()).select_from(AccessLog))

    def remember(conn, cursor, statement, parameters, context, executemany):
        seen.append(" ".join(statement.lower().split()))

    event.listen(engine, "before_cursor_execute", remember)
    try:
        response = client.get("/treatments/")
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    assert response.status_code == 200 and 'data-treatment-id="' in response.get_data(as_text=True)
    insert = next(n for n, s in enumerate(seen) if s.startswith("insert into access_log"))
    reads = [n for n, s in enumerate(seen) if s.startswith("select") and ("from treatments" in s
                                                                          or "from insurers" in s
                                                                          or "from therapists" in s)]
    assert len(reads) >= 3 and max(reads) < insert
    with app.app_context():
        entry = db.session.scalars(select(AccessLog).order_by(AccessLog.id.desc())).first()
        assert db.session.scalar(select(func.count()).select_from(AccessLog)) == before + 1
        assert (entry.action, entry.subject, entry.patient_id) == ("view", "treatment list", ids["patient"])
        assert entry.detail == f"1 shown: #{ids['patient']}"


# ---- patient page ----------------------------------------------------------------------------------


def test_patient_page_shows_treatments_and_reimbursement_this_year(app, as_role):
    ids = setup_clinic(app)
    record(app, ids)
    record(app, ids, price_cents=5000)
    client = as_role("therapist")
    html = client.get(f"/patients/{ids['patient']}").get_data(as_text=True)
    section = re.search(r'data-testid="patient-treatments">(.*?)</table>', html, re.S).group(1)
    assert section.count("Fractional laser") == 2
    table = re.search(r'data-testid="reimbursement-this-year">(.*?)</table>', html, re.S).group(1)
    assert "Zilveren Kruis skin therapy" in table
    assert "EUR 300,00 a year" in table and "EUR 170,00" in table and "EUR 130,00" in table
    assert f"/treatments/new?patient_id={ids['patient']}" in html


def test_the_treatments_section_is_data_from_the_service_not_a_template_global(app):
    ids = setup_clinic(app)
    first = record(app, ids, day=TODAY - timedelta(days=1))
    second = record(app, ids)
    assert not {"patient_treatments", "patient_reimbursement"} & set(app.jinja_env.globals)
    with app.app_context():
        section = services.patient_treatments(ids["patient"])
        assert [t.id for t in section.recent] == [second, first]
        assert [(line.label, line.used) for line in section.reimbursement] == [
            (line.label, line.used) for line in services.reimbursement_overview(ids["patient"])]
        assert section.reimbursement and section.reimbursement[0].sessions_used == 2


# ---- query budget ----------------------------------------------------------------------------------


def _earlier_treatments(patient_id: int, ids: dict, n: int) -> None:
    """`n` reimbursed EUR 1 treatments on the days before today, counted against the rule's cap."""
    rule = db.session.scalars(select(CoverageRule)).one()
    for k in range(n):
        factories.treatment(patient_id, ids["therapist"], ids["item"], TODAY - timedelta(days=k + 1), price="1.00",
                            insurer_id=ids["insurer"], rule=rule)


def _statements_to_record(app, patient_id: int, ids: dict) -> int:
    from backoffice.intakes.services import screening_for

    statements = []
    with app.app_context():
        def count_statement(conn, cursor, statement, parameters, context, executemany):
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", count_statement)
        try:
            patient = db.session.get(Patient, patient_id)
            screening = screening_for(patient, TODAY, "face")
            services.record_treatment(patient, services.TreatmentInput(
                therapist_id=ids["therapist"], treatment_date=TODAY, catalogue_item_id=ids["item"],
                indication="acne_scar", body_area="face", price_cents=12000), screening)
            db.session.commit()
        finally:
            event.remove(db.engine, "before_cursor_execute", count_statement)
    return len(statements)


def test_recording_costs_the_same_queries_whatever_the_history(app):
    ids = setup_clinic(app)
    with app.app_context():
        insurer = db.session.get(Insurer, ids["insurer"])
        many = _patient(insurer, last_name="Many")
        _earlier_treatments(ids["patient"], ids, 1)
        _earlier_treatments(many.id, ids, 40)
        db.session.commit()
        many_id = many.id
    few = _statements_to_record(app, ids["patient"], ids)
    lots = _statements_to_record(app, many_id, ids)
    assert few == lots
    assert few <= 17  # 2 of them: the access log chain's lock and its newest hash (audit_chain.py)
    with app.app_context():
        amounts = db.session.execute(select(Treatment.patient_id, Treatment.insurer_amount_cents)
                                     .where(Treatment.price_cents == 12000).order_by(Treatment.id)).all()
        assert [tuple(a) for a in amounts] == [(ids["patient"], 12000), (many_id, 12000)]


def test_decimal_fields_are_text_inputs_that_keep_the_dutch_comma(app):
    """A browser number field drops the comma (199,50 arrived as 19950): money and decimals are text inputs."""
    from werkzeug.datastructures import MultiDict

    from backoffice.insurers.forms import CoverageRuleForm
    from backoffice.treatments.forms import TreatmentForm

    with app.test_request_context():
        form = TreatmentForm(formdata=MultiDict({"price": "199,50", "fluence_j_cm2": "12,5"}), meta={"csrf": False})
        for field in (form.price, form.fluence_j_cm2, CoverageRuleForm(meta={"csrf": False}).cap):
            html = str(field())
            assert 'type="text"' in html and 'inputmode="decimal"' in html, html
        assert form.price.data == Decimal("199.50")
        assert form.fluence_j_cm2.data == Decimal("12.5")
