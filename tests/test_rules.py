"""Insurer coverage rules as data: add, edit, copy to next year, delete, and who may change them."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import factories
import pytest
from conftest import csrf_token, post_form

from backoffice.domain.coverage import CapPeriod
from backoffice.domain.credentials import KpLevel
from backoffice.domain.indications import BodyArea, Category
from backoffice.extensions import db
from backoffice.models import CoverageRule, Insurer

RULE = {"package_id": "", "year": "2025", "label": "Huidtherapie (acne en ontharing)",
        "categories": ["acne", "hair_removal"], "cap": "300", "cap_period": "year", "cap_group": "",
        "percentage": "100", "max_sessions": "", "waiting_months": "0", "kp_level_required": "kwaliteitsregister",
        "body_areas": ["face", "neck"], "notes": ""}


def _insurer(app) -> tuple[int, int]:
    with app.app_context():
        insurer = factories.insurer("Zilveren Kruis", "3311", packages=["Aanvullend 3"])
        db.session.commit()
        return insurer.id, insurer.packages[0].id


def _rules(app) -> list[CoverageRule]:
    with app.app_context():
        rules = db.session.scalars(db.select(CoverageRule).order_by(CoverageRule.id)).all()
        db.session.expunge_all()
        return rules


def test_rule_is_stored_as_data_and_reads_as_a_policy_rule(app, as_role):
    insurer_id, _ = _insurer(app)
    client = as_role("admin")
    response = post_form(client, f"/insurers/{insurer_id}/rules/new", RULE)
    assert response.status_code == 302, response.get_data(as_text=True)
    [rule] = _rules(app)
    assert rule.categories == ["acne", "hair_removal"] and rule.cap_cents == 30000
    assert rule.cap_group == "zilveren-kruis-acne-hair-removal"  # default: insurer + categories
    policy = rule.to_domain()
    assert policy.categories == frozenset({Category.ACNE, Category.HAIR_REMOVAL})
    assert (policy.cap, policy.cap_period, policy.percentage) == (Decimal("300.00"), CapPeriod.YEAR, Decimal(100))
    assert policy.kp_level_required is KpLevel.KWALITEITSREGISTER and policy.package_id is None
    assert policy.body_areas == frozenset({BodyArea.FACE, BodyArea.NECK})
    assert (policy.max_sessions, policy.referral_required, policy.technique_required) == (None, False, False)

    html = client.get(f"/insurers/{insurer_id}").get_data(as_text=True)
    table = re.search(r'<table[^>]*data-testid="rules-2025".*?</table>', html, re.S).group(0)
    assert "all packages" in table and "Acne, Hair removal" in table and "EUR 300,00 a year" in table
    assert "group zilveren-kruis-acne-hair-removal" in table and "Face, Neck" in table
    assert "never changes treatments already recorded" in html


def test_package_lifetime_cap_sessions_and_conditions(app, as_role):
    insurer_id, package_id = _insurer(app)
    response = post_form(as_role("admin"), f"/insurers/{insurer_id}/rules/new", {
        **RULE, "package_id": str(package_id), "categories": ["hair_removal"], "cap": "500", "cap_period": "lifetime",
        "cap_group": "zk-epilation", "percentage": "80", "max_sessions": "10", "waiting_months": "12",
        "referral_required": "y", "kp_level_required": "", "body_areas": [], "technique_required": "y"})
    assert response.status_code == 302
    policy = _rules(app)[0].to_domain()
    assert (policy.package_id, policy.cap_period, policy.cap_group, policy.percentage) == \
        (package_id, CapPeriod.LIFETIME, "zk-epilation", Decimal(80))
    assert (policy.max_sessions, policy.waiting_months, policy.referral_required, policy.technique_required) == \
        (10, 12, True, True)
    assert policy.kp_level_required is None and policy.body_areas == frozenset() and policy.cap == Decimal("500.00")


@pytest.mark.parametrize(("change", "message"), [
    ({"categories": []}, "Choose at least one category."),
    ({"categories": ["cosmetic"]}, "is not a valid choice"),
    ({"percentage": "0"}, "Enter 1 to 100."),
    ({"percentage": "101"}, "Enter 1 to 100."),
    ({"cap": "-5"}, "Enter 0 or more."),
    ({"waiting_months": "-1"}, "Enter 0 to 120 months."),
    ({"max_sessions": "0"}, "Enter 1 or more, or leave it empty."),
    ({"label": ""}, "Enter the rule's label."),
    ({"year": ""}, "Enter the year."),
    ({"kp_level_required": "diplomaregister"}, "Not a valid choice."),
    ({"package_id": "999"}, "Not a valid choice."),
])
def test_bad_input_rerenders_with_field_errors_and_saves_nothing(app, as_role, change, message):
    insurer_id, _ = _insurer(app)
    response = post_form(as_role("admin"), f"/insurers/{insurer_id}/rules/new", {**RULE, **change})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and "invalid-feedback" in html
    assert _rules(app) == []


def test_another_insurers_package_is_refused(app, as_role):
    insurer_id, _ = _insurer(app)
    with app.app_context():
        other = factories.insurer("CZ", "9664", packages=["Plus"])
        db.session.commit()
        other_package = other.packages[0].id
    response = post_form(as_role("admin"), f"/insurers/{insurer_id}/rules/new",
                         {**RULE, "package_id": str(other_package)})
    assert response.status_code == 422 and _rules(app) == []


def test_editing_a_rule_shows_euros_and_saves_changes(app, as_role):
    insurer_id, _ = _insurer(app)
    client = as_role("admin")
    post_form(client, f"/insurers/{insurer_id}/rules/new", RULE)
    rule_id = _rules(app)[0].id
    html = client.get(f"/insurers/{insurer_id}/rules/{rule_id}/edit").get_data(as_text=True)
    assert 'value="300,00"' in html and 'value="zilveren-kruis-acne-hair-removal"' in html
    response = post_form(client, f"/insurers/{insurer_id}/rules/{rule_id}/edit",
                         {**RULE, "cap": "350", "cap_group": "zilveren-kruis-acne-hair-removal"})
    assert response.status_code == 302
    assert _rules(app)[0].cap_cents == 35000 and len(_rules(app)) == 1


def test_copy_to_next_year_keeps_the_cap_group_and_only_once(app, as_role):
    insurer_id, package_id = _insurer(app)
    client = as_role("admin")
    post_form(client, f"/insurers/{insurer_id}/rules/new",
              {**RULE, "package_id": str(package_id), "cap_period": "lifetime", "cap_group": "zk-lifetime"})
    rule_id = _rules(app)[0].id
    response = post_form(client, f"/insurers/{insurer_id}/rules/{rule_id}/copy", {},
                         token_from=f"/insurers/{insurer_id}")
    assert response.status_code == 302
    original, copy = _rules(app)
    assert copy.year == 2026 and original.year == 2025
    assert response.headers["Location"] == f"/insurers/{insurer_id}/rules/{copy.id}/edit"
    for name in ("package_id", "label", "categories", "cap_cents", "cap_period", "cap_group", "percentage",
                 "kp_level_required", "body_areas"):
        assert getattr(copy, name) == getattr(original, name), name
    again = post_form(client, f"/insurers/{insurer_id}/rules/{rule_id}/copy", {},
                      token_from=f"/insurers/{insurer_id}", follow_redirects=True)
    assert "2026 already has a rule" in again.get_data(as_text=True)
    assert len(_rules(app)) == 2
    html = client.get(f"/insurers/{insurer_id}").get_data(as_text=True)
    assert 'data-testid="rules-2026"' in html and 'data-testid="rules-2025"' in html
    assert html.index('data-testid="rules-2026"') < html.index('data-testid="rules-2025"')


def test_delete_a_rule_unless_a_treatment_was_assessed_with_it(app, as_role):
    insurer_id, _ = _insurer(app)
    client = as_role("admin")
    post_form(client, f"/insurers/{insurer_id}/rules/new", RULE)
    post_form(client, f"/insurers/{insurer_id}/rules/new", {**RULE, "label": "Second"})
    used, unused = (rule.id for rule in _rules(app))
    with app.app_context():
        patient = factories.patient("Jansen", "Eva", date_of_birth=date(1990, 1, 1))
        therapist = factories.therapist("Sanne", "90012345", kp=None, nvh_number=None)
        item = factories.catalogue_item("IPL", "IPL", technique=None, prestatiecode="", price_cents=9000)
        factories.treatment(patient.id, therapist.id, item.id, date(2025, 3, 1), price="90.00", indication="acne",
                            rule=db.session.get_one(CoverageRule, used))
        db.session.commit()
    refused = post_form(client, f"/insurers/{insurer_id}/rules/{used}/delete", {},
                        token_from=f"/insurers/{insurer_id}", follow_redirects=True)
    assert "cannot be deleted" in refused.get_data(as_text=True)
    response = post_form(client, f"/insurers/{insurer_id}/rules/{unused}/delete", {},
                         token_from=f"/insurers/{insurer_id}")
    assert response.status_code == 302
    assert [rule.id for rule in _rules(app)] == [used]


def test_a_rule_of_another_insurer_is_not_found(app, as_role):
    insurer_id, _ = _insurer(app)
    client = as_role("admin")
    post_form(client, f"/insurers/{insurer_id}/rules/new", RULE)
    rule_id = _rules(app)[0].id
    other_id = factories.committed(app, factories.insurer, "CZ", "9664")
    assert client.get(f"/insurers/{other_id}/rules/{rule_id}/edit").status_code == 404


@pytest.mark.parametrize("role", ["therapist", "manager"])
def test_only_insurer_writers_change_rules(app, as_role, role):
    insurer_id, _ = _insurer(app)
    with app.app_context():
        factories.coverage_rule(db.session.get_one(Insurer, insurer_id), 2025, label="Acne", categories=["acne"],
                                cap_cents=None, cap_group="g")
        db.session.commit()
    rule_id = _rules(app)[0].id
    client = as_role(role)
    html = client.get(f"/insurers/{insurer_id}").get_data(as_text=True)
    assert "Acne" in html and "/rules/new" not in html and f"/rules/{rule_id}/copy" not in html
    assert client.get(f"/insurers/{insurer_id}/rules/new").status_code == 403
    assert client.get(f"/insurers/{insurer_id}/rules/{rule_id}/edit").status_code == 403
    for action in ("copy", "delete"):
        token = csrf_token(client, "/")  # a valid token: only the permission can refuse the post
        response = client.post(f"/insurers/{insurer_id}/rules/{rule_id}/{action}", data={"csrf_token": token})
        assert response.status_code == 403
    assert len(_rules(app)) == 1


def test_the_rule_service_takes_a_typed_rule_and_refuses_with_a_service_error(app):
    from backoffice.errors import ServiceError
    from backoffice.insurers.services import RuleError, RuleInput, save_rule

    insurer_id, package_id = _insurer(app)
    with app.app_context():
        insurer = db.session.get(Insurer, insurer_id)
        rule = save_rule(insurer, None, RuleInput(
            2026, "Acne", (Category.ACNE,), percentage=75, package_id=package_id, cap=Decimal("250.50"),
            cap_period=CapPeriod.LIFETIME, kp_level_required=KpLevel.KWALITEITSREGISTER,
            body_areas=(BodyArea.NECK, BodyArea.FACE)))
        assert (rule.categories, rule.cap_cents, rule.cap_period, rule.cap_group, rule.percentage) == (
            ["acne"], 25050, "lifetime", "zilveren-kruis-acne", 75)
        assert (rule.kp_level_required, rule.body_areas, rule.waiting_months) == (
            "kwaliteitsregister", ["face", "neck"], 0)
        for refused, field in [(RuleInput(2026, "Beauty", (Category.COSMETIC,)), "categories"),
                               (RuleInput(2026, "None", ()), "categories"),
                               (RuleInput(2026, "Other", (Category.ACNE,), package_id=package_id + 99), "package_id")]:
            with pytest.raises(RuleError) as error:
                save_rule(insurer, None, refused)
            assert isinstance(error.value, ServiceError) and error.value.field == field
