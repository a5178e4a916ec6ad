"""Stacked reimbursement rules end to end (issue 12): the chronic list from the 21st treatment, a prior
authorisation, a maximum per treatment and a fallback rule, in the stored assessment, on the treatment page and
on the invoice and declaration; caps charged per rule part; waiting periods over renewals; the rule editor's
preview; the prior authorisations on the patient page."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import factories
from conftest import post_form
from sqlalchemy import func, select

from backoffice.domain.texts import english
from backoffice.extensions import db
from backoffice.models import AccessLog, CoverageRule, Package, PriorAuthorisation, Treatment, TreatmentRulePart
from backoffice.treatments import services

D = Decimal
YEAR = 2026
BSN = "111222333"


def _clinic(app) -> dict[str, int]:
    """Menzis with basic insurance and a supplementary package; its 2026 rules for scars: the chronic list (basic,
    from the 21st treatment), the package (82,5 %, at most EUR 45 per treatment, EUR 500 a year) and a fallback
    (50 %, EUR 200 a year) when the package's cap is used up; facial hair removal under basic insurance with a
    prior authorisation. The patient's package was renewed on 01-01-2026 after a year with the same insurer."""
    with app.app_context():
        factories.practice(phone="030-1234567")
        therapist = factories.therapist("Sanne de Vries", "90123456", kp=[(date(2015, 1, 1), date(2031, 1, 1))],
                                        kp_number="KP-1", nvh_number="NVH-1", nvh_from=date(2015, 1, 1))
        insurer = factories.insurer("Menzis", "3332")
        basic = Package(insurer=insurer, name="Basis", kind="basic")
        extra = Package(insurer=insurer, name="ExtraVerzorgd 2")
        db.session.add_all([basic, extra])
        db.session.flush()
        chronic = factories.coverage_rule(insurer, YEAR, label="Menzis chronische lijst", categories=["scars"],
                                          cap_cents=None, cap_group="mz-chronisch", package_id=basic.id, priority=1,
                                          from_treatment_number=21)
        package = factories.coverage_rule(insurer, YEAR, label="Menzis littekens aanvullend", categories=["scars"],
                                          cap_cents=50_000, cap_group="mz-extra", package_id=extra.id, priority=2,
                                          percentage=D("82.50"), max_per_treatment_cents=4_500, waiting_months=6)
        fallback = factories.coverage_rule(insurer, YEAR, label="Menzis restitutie", categories=["scars"],
                                           cap_cents=20_000, cap_group="mz-rest", package_id=extra.id, priority=3,
                                           percentage=50, applies_after_rule_id=package.id)
        epilation = factories.coverage_rule(insurer, YEAR, label="Menzis epilatie machtiging",
                                            categories=["hair_removal"], cap_cents=None, cap_group="mz-epilatie",
                                            package_id=basic.id, authorisation_required=True)
        patient = factories.patient(bsn=BSN)
        factories.insurance(patient, insurer, package=extra, policy_number="MZ-1", valid_from=date(2025, 1, 1),
                            valid_until=date(2025, 12, 31))
        factories.insurance(patient, insurer, package=extra, policy_number="MZ-2", valid_from=date(2026, 1, 1))
        factories.intake(patient, date(2025, 12, 1))
        item = factories.catalogue_item("FL1", price_cents=12_000)
        hair = factories.catalogue_item("LH1", "Laser hair removal", technique="laser_hair_removal",
                                        price_cents=9_000)
        db.session.commit()
        return {"therapist": therapist.id, "insurer": insurer.id, "patient": patient.id, "item": item.id,
                "hair": hair.id, "chronic": chronic.id, "package": package.id, "fallback": fallback.id,
                "epilation": epilation.id}


def _scars(ids, count: int, first: date = date(YEAR, 1, 5)) -> list[int]:
    made = []
    for n in range(count):
        treatment = factories.recorded_treatment(ids["patient"], ids["therapist"], ids["item"],
                                                 first + timedelta(days=7 * n), indication="burn_scar")
        made.append(treatment.id)
    db.session.commit()
    return made


def _parts(treatment_id: int) -> list[tuple[int, int]]:
    return [tuple(row) for row in db.session.execute(
        select(TreatmentRulePart.coverage_rule_id, TreatmentRulePart.insurer_amount_cents)
        .where(TreatmentRulePart.treatment_id == treatment_id).order_by(TreatmentRulePart.position))]


def test_chronic_list_maximum_per_treatment_and_fallback_stack_in_the_stored_assessment(app, as_role):
    ids = _clinic(app)
    with app.app_context():
        made = _scars(ids, 21)
        treatments = [db.session.get(Treatment, t) for t in made]
        amounts = [t.insurer_amount_cents for t in treatments]
        # 1-11: the package, 82,5 % of EUR 120 limited to EUR 45 (the renewal does not restart the 6-month wait).
        assert amounts[:11] == [4_500] * 11
        # 12: EUR 5 left of the package's cap, the fallback pays 50 % of the price from what is unpaid.
        assert _parts(made[11]) == [(ids["package"], 500), (ids["fallback"], 6_000)]
        twelfth = treatments[11].stored_assessment()
        assert twelfth.stacked and twelfth.insurer_amount == D("65.00") and twelfth.patient_amount == D("55.00")
        # 13-15: the fallback alone until its EUR 200 are used up; 16-20: nothing left.
        assert amounts[12:15] == [6_000, 6_000, 2_000] and amounts[15:20] == [0] * 5
        # 21: the chronic list, basic insurance, with the own risk noted.
        last = treatments[20].stored_assessment()
        assert last.rule is not None and last.rule.id == ids["chronic"] and last.insurer_amount == D("120.00")
        assert last.parts[0].own_risk and any("eigen risico" in english(r) for r in last.reasons)
        # Caps hold per rule part.
        per_group = dict(db.session.execute(select(TreatmentRulePart.cap_group,
                                                   func.sum(TreatmentRulePart.insurer_amount_cents))
                                            .group_by(TreatmentRulePart.cap_group)).all())
        assert per_group["mz-extra"] == 50_000 and per_group["mz-rest"] == 20_000
    page = as_role("admin").get(f"/treatments/{made[11]}").get_data(as_text=True)
    assert 'data-testid="rule-parts"' in page and "Menzis restitutie" in page and "Menzis littekens aanvullend" in page


def test_the_invoice_and_the_declaration_show_each_rule_part(app, users):
    ids = _clinic(app)
    with app.app_context():
        made = _scars(ids, 21)
        user = factories.existing_user(users["admin"])
        invoice = factories.issued_invoice(ids["patient"], [made[11], made[20]], user, date(YEAR, 12, 5))
        from backoffice.invoicing import declarations, services

        doc = services.invoice_document(invoice)  # as printed: from the snapshot taken at issue
        parts = [line.rule_parts for line in doc.lines]
        assert ("Menzis littekens aanvullend: EUR 5,00", "Menzis restitutie: EUR 60,00") in parts
        assert ("Menzis chronische lijst: EUR 120,00 (basisverzekering, eigen risico van toepassing)",) in parts
        declaration = declarations.declaration_document(invoice)
        assert {line.rule_parts for line in declaration.lines} == set(parts)
        from backoffice.documents.pdf import render_html

        html = render_html("invoice", doc)
        assert "Vergoeding per regeling" in html and "Menzis restitutie: EUR 60,00" in html


def test_a_prior_authorisation_recorded_on_the_patient_page_lets_basic_insurance_pay(app, as_role):
    ids = _clinic(app)
    client = as_role("admin")
    url = f"/patients/{ids['patient']}/authorisations/new"
    response = post_form(client, url, {"insurer_id": str(ids["insurer"]), "number": "MZ-M-77",
                                       "valid_from": "01-01-2026", "valid_until": "31-12-2026",
                                       "indications": ["hirsutism"], "max_treatments": "2", "notes": ""})
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get(f"/patients/{ids['patient']}").get_data(as_text=True)
    assert 'data-testid="authorisations"' in page and "MZ-M-77" in page
    with app.app_context():
        made = [factories.recorded_treatment(ids["patient"], ids["therapist"], ids["hair"], date(YEAR, 3, d),
                                             indication="hirsutism") for d in (2, 9, 16)]
        db.session.commit()
        assert [_parts(t.id) for t in made] == [[(ids["epilation"], 12_000)], [(ids["epilation"], 12_000)], []]
        assert made[0].stored_assessment().parts[0].authorisation == "MZ-M-77"
        assert any("all are used" in english(r) for r in made[2].stored_assessment().reasons)
        authorisation_id = db.session.scalar(select(PriorAuthorisation.id))
        logged = db.session.scalars(select(AccessLog.subject).where(AccessLog.patient_id == ids["patient"])).all()
        assert f"prior authorisation {authorisation_id}" in logged
    withdraw = f"/patients/{ids['patient']}/authorisations/{authorisation_id}/withdraw"
    assert post_form(client, withdraw, {"reason": "Verkeerd nummer"}).status_code == 302
    with app.app_context():
        authorisation = db.session.get(PriorAuthorisation, authorisation_id)
        assert authorisation.withdrawn and authorisation.withdrawn_reason == "Verkeerd nummer"
        later = factories.recorded_treatment(ids["patient"], ids["therapist"], ids["hair"], date(YEAR, 4, 1),
                                             indication="hirsutism")
        assert not later.reimbursable
    assert client.post(withdraw, data={"reason": "x"}).status_code == 400  # no CSRF token


def test_the_waiting_period_restarts_only_after_a_gap_in_cover(app):
    ids = _clinic(app)
    with app.app_context():
        from backoffice.models import Insurance

        first = db.session.scalars(select(Insurance).where(Insurance.policy_number == "MZ-1")).one()
        first.valid_until = date(2025, 11, 30)  # a month without cover: the 2026 policy starts anew
        db.session.commit()
        treatment = factories.recorded_treatment(ids["patient"], ids["therapist"], ids["item"], date(YEAR, 2, 2),
                                                 indication="burn_scar")
        assert not treatment.reimbursable, [str(r) for r in treatment.stored_assessment().reasons]
        reasons = [english(r) for r in treatment.stored_assessment().reasons]
        assert any("Waiting period until 01-07-2026" in r for r in reasons), reasons


def test_the_rule_editor_previews_a_change_without_saving_it(app, as_role):
    ids = _clinic(app)
    with app.app_context():
        made = _scars(ids, 2)
    client = as_role("admin")
    url = f"/insurers/{ids['insurer']}/rules/{ids['package']}/edit"
    page = client.get(url).get_data(as_text=True)
    assert 'value="82,5"' in page and 'value="45,00"' in page
    with app.app_context():
        package_id = db.session.get(CoverageRule, ids["package"]).package_id
    form = {"package_id": str(package_id), "year": "2026", "label": "Menzis littekens aanvullend",
            "categories": ["scars"], "cap": "500,00", "cap_period": "year", "cap_group": "mz-extra",
            "percentage": "82,5", "max_per_treatment": "60,00", "max_sessions": "", "session_period": "",
            "waiting_months": "6", "priority": "2", "applies_after_rule_id": "", "from_treatment_number": "",
            "min_age": "", "max_age": "", "referrer_kind": "any", "referral_valid_months": "",
            "kp_level_required": "", "notes": "", "preview": "Preview"}
    response = post_form(client, url, form)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'data-testid="rule-preview"' in html
    for treatment_id in made:
        assert f'data-treatment-id="{treatment_id}"' in html
    assert "EUR 45,00" in html and "EUR 60,00" in html  # before -> after
    with app.app_context():
        assert db.session.get(CoverageRule, ids["package"]).max_per_treatment_cents == 4_500  # nothing saved
        assert db.session.get(Treatment, made[0]).insurer_amount_cents == 4_500
    form.pop("preview")
    assert post_form(client, url, form).status_code == 302
    with app.app_context():
        rule = db.session.get(CoverageRule, ids["package"])
        assert rule.max_per_treatment_cents == 6_000 and rule.percentage == D("82.50")


def test_a_referral_must_match_the_indication_where_the_rule_says_so(app):
    ids = _clinic(app)
    with app.app_context():
        rule = db.session.get(CoverageRule, ids["package"])
        rule.referral_required, rule.referral_indication_must_match, rule.referrer_kind = True, True, "gp"
        patient = db.session.get(factories.Patient, ids["patient"])
        wrong = factories.referral(patient, referral_date=date(YEAR, 1, 2), referrer_type="gp",
                                   indication="acne_scar")
        right = factories.referral(patient, referral_date=date(YEAR, 1, 2), referrer_type="gp",
                                   indication="burn_scar")
        db.session.commit()
        a = factories.recorded_treatment(ids["patient"], ids["therapist"], ids["item"], date(YEAR, 8, 3),
                                         indication="burn_scar", referral_id=wrong.id)
        b = factories.recorded_treatment(ids["patient"], ids["therapist"], ids["item"], date(YEAR, 8, 4),
                                         indication="burn_scar", referral_id=right.id)
        assert not a.reimbursable and b.reimbursable


def test_assessing_with_stacked_rules_costs_a_bounded_number_of_queries(app):
    from sqlalchemy import event

    ids = _clinic(app)
    with app.app_context():
        _scars(ids, 12)
        treatment = db.session.scalars(select(Treatment).order_by(Treatment.id.desc())).first()
        statements = []

        def count(*_args):
            statements.append(1)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            assessment = services.assess_treatment(treatment)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert assessment.stacked
        assert len(statements) <= 9
