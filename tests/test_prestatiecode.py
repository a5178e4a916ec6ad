"""Prestatiecodes (Vektis list 075) on catalogue items: the shape, which items need one, the catalogue form and
list, issuing refused for a reimbursable line without one, and the demo's example codes."""

from __future__ import annotations

import re
from datetime import date

import factories
import pytest
from conftest import post_form
from sqlalchemy import func, select

from backoffice.domain import prestatiecodes
from backoffice.domain.indications import TECHNIQUE_INDICATIONS, Indication, Technique
from backoffice.domain.texts import msg
from backoffice.extensions import db
from backoffice.invoicing import services
from backoffice.invoicing.services import MissingData
from backoffice.models import CatalogueItem, Invoice, NumberSeries

DAY = date(2026, 11, 24)
ITEM = {"code": "FRAC-FACE", "name": "Fractional laser, face", "technique": "fractional_laser",
        "prestatiecode_list": "075", "prestatiecode": "HD101", "price": "149,95", "duration_minutes": "60",
        "active": "y"}


@pytest.fixture
def cosmetic_peel(monkeypatch):
    """Make the chemical peel a technique that serves cosmetic indications only (no such technique exists yet)."""
    monkeypatch.setitem(TECHNIQUE_INDICATIONS, Technique.PEEL, frozenset({Indication.FINE_LINES,
                                                                          Indication.SUN_DAMAGE}))


# ---- the shape ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["075", " 075 ", "", None])
def test_a_code_list_is_three_ascii_digits_or_empty(text):
    assert prestatiecodes.code_list_error(text) is None


@pytest.mark.parametrize("text", ["75", "0750", "07a", "０７５", "07 5", "٠٧٥"])
def test_other_code_lists_are_refused(text):
    error = prestatiecodes.code_list_error(text)
    assert error is not None and "3 digits" in str(error)


@pytest.mark.parametrize("text", ["1234", "hd101", " HD101 ", "ABC123", "", None])
def test_a_code_is_four_to_six_ascii_letters_or_digits_or_empty(text):
    assert prestatiecodes.code_error(text) is None


@pytest.mark.parametrize("text", ["123", "1234567", "12-34", "12 34", "１２３４", "HÉ101", "²³⁴⁵"])
def test_other_codes_are_refused(text):
    error = prestatiecodes.code_error(text)
    assert error is not None and "4 to 6 letters or digits" in str(error)


def test_normalise_strips_and_capitalises():
    assert prestatiecodes.normalise("  hd101 ") == "HD101" and prestatiecodes.normalise(None) == ""


# ---- which items need one -------------------------------------------------------------------------------------

@pytest.mark.parametrize("technique", [*Technique, None, ""])
def test_every_technique_of_today_and_no_technique_can_be_reimbursable(technique):
    # Each technique serves at least one medical indication; without a technique an item fits every indication.
    assert prestatiecodes.can_be_reimbursable(technique)
    assert [str(t) for t in prestatiecodes.missing(technique, "", "")] == ["Vektis code list", "prestatiecode"]
    assert prestatiecodes.missing(technique, "075", "1234") == []


def test_a_technique_for_cosmetic_indications_only_needs_no_code(cosmetic_peel):
    assert not prestatiecodes.can_be_reimbursable("peel")
    assert prestatiecodes.missing("peel", "", "") == []
    assert prestatiecodes.can_be_reimbursable("fractional_laser")


# ---- the catalogue --------------------------------------------------------------------------------------------

def _stored(app) -> list[tuple]:
    with app.app_context():
        return [(i.code, i.prestatiecode_list, i.prestatiecode)
                for i in db.session.scalars(select(CatalogueItem).order_by(CatalogueItem.id))]


def test_the_form_stores_the_code_list_and_the_code(app, as_role):
    client = as_role("admin")
    form = client.get("/catalogue/new").get_data(as_text=True)
    assert 'name="prestatiecode_list"' in form and 'value="075"' in form  # skin therapy's list is the default
    assert post_form(client, "/catalogue/new", {**ITEM, "prestatiecode": "hd101"}).status_code == 302
    assert _stored(app) == [("FRAC-FACE", "075", "HD101")]
    html = client.get("/catalogue/").get_data(as_text=True)
    assert "075/HD101" in html and 'data-testid="prestatiecode-missing"' not in html


@pytest.mark.parametrize("technique", ["fractional_laser", "ipl", ""])
def test_the_form_refuses_an_item_that_can_be_reimbursed_without_a_code(app, as_role, technique):
    client = as_role("admin")
    response = post_form(client, "/catalogue/new", {**ITEM, "technique": technique, "prestatiecode": ""})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter the prestatiecode: this treatment can be reimbursed" in html and "invalid-feedback" in html
    response = post_form(client, "/catalogue/new", {**ITEM, "technique": technique, "prestatiecode_list": ""})
    assert response.status_code == 422
    assert "Enter the Vektis code list (075 for skin therapy)" in response.get_data(as_text=True)
    assert _stored(app) == []


def test_an_item_for_cosmetic_indications_only_is_saved_without_a_code(app, as_role, cosmetic_peel):
    client = as_role("admin")
    response = post_form(client, "/catalogue/new", {**ITEM, "code": "PEEL", "technique": "peel",
                                                    "prestatiecode_list": "", "prestatiecode": ""})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert _stored(app) == [("PEEL", "", "")]
    assert 'data-testid="prestatiecode-missing"' not in client.get("/catalogue/").get_data(as_text=True)


def test_the_list_marks_items_that_lack_a_code(app, as_role):
    with app.app_context():
        factories.catalogue_item("OLD", "Old laser item", prestatiecode="")
        factories.catalogue_item("NOLIST", "Code without list", prestatiecode="1234")
        factories.catalogue_item("OK", "Complete", prestatiecode="1234", prestatiecode_list="075")
        db.session.commit()
    client = as_role("therapist")
    html = client.get("/catalogue/").get_data(as_text=True)
    rows = {re.search(r'data-label="Code">(\w+)', row).group(1): row
            for row in html.split("<tr")[2:] if 'data-label="Code"' in row}
    assert 'data-testid="prestatiecode-missing"' in rows["OLD"] and "code missing" in rows["OLD"]
    assert 'data-testid="prestatiecode-missing"' in rows["NOLIST"]
    assert "code missing" not in rows["OK"] and "075/1234" in rows["OK"]
    assert 'data-testid="prestatiecodes-missing"' in html


def test_the_list_speaks_dutch_about_missing_codes(app, client):
    from conftest import create_user, login

    with app.app_context():
        factories.catalogue_item("OLD", "Old laser item", prestatiecode="")
        db.session.commit()
    create_user(app, "beheer@test.nl", "admin", language="nl")
    login(client, "beheer@test.nl")
    html = client.get("/catalogue/").get_data(as_text=True)
    assert "code ontbreekt" in html and "code missing" not in html
    response = post_form(client, "/catalogue/new", {**ITEM, "prestatiecode": "12-34"})
    assert "Vul de prestatiecode in als 4 tot 6 letters of cijfers" in response.get_data(as_text=True)


# ---- issuing --------------------------------------------------------------------------------------------------

class Clinic:
    def __init__(self, prestatiecode: str = ""):
        factories.practice()
        self.user = factories.user()
        self.therapist = factories.therapist(agb_code="90012345", kp=None, nvh_number=None)
        insurer = factories.insurer()
        self.patient = factories.patient()
        factories.insurance(self.patient, insurer, policy_number="ZK-778")
        self.item = factories.catalogue_item("FRAC-SCAR", "Fractional laser, acne scars", prestatiecode=prestatiecode)
        db.session.commit()

    def treatment(self, medical: bool = True, item: CatalogueItem | None = None) -> int:
        treatment = factories.treatment(self.patient.id, self.therapist.id, (item or self.item).id, date(2026, 11, 2),
                                        medical=medical)
        db.session.commit()
        return treatment.id


def test_issuing_a_reimbursable_line_without_a_prestatiecode_is_refused_naming_the_item(app):
    with app.app_context():
        clinic = Clinic()
        invoice = factories.draft_invoice(clinic.patient.id, [clinic.treatment()], clinic.user)
        db.session.commit()
        assert services.missing_for_invoice(invoice) == [
            msg("prestatiecode of treatment %(item)s (enter it in the catalogue)", item="Fractional laser, acne scars")]
        with pytest.raises(MissingData, match="Fractional laser, acne scars"):
            services.issue_invoice(invoice, clinic.user, today=DAY, renderer=factories.stub_renderer)
        db.session.rollback()
        assert db.session.get(Invoice, invoice.id).number is None
        assert db.session.scalar(select(func.count()).select_from(NumberSeries)) == 0  # no number was taken
        # Entered in the catalogue, the code is copied onto the line when issuing: no new draft needed.
        db.session.get(CatalogueItem, clinic.item.id).prestatiecode = "HD101"
        db.session.commit()
        invoice_id, user_id = invoice.id, clinic.user.id
    with app.app_context():  # the next attempt, as a new request
        from backoffice.models import User

        issued = services.issue_invoice(db.session.get(Invoice, invoice_id), db.session.get(User, user_id),
                                        today=DAY, renderer=factories.stub_renderer)
        assert issued.number and issued.lines[0].prestatiecode == "HD101"


def test_a_cosmetic_or_non_reimbursable_line_needs_no_prestatiecode(app):
    with app.app_context():
        clinic = Clinic()
        cosmetic = clinic.treatment(medical=False)
        not_reimbursed = factories.treatment(clinic.patient.id, clinic.therapist.id, clinic.item.id,
                                             date(2026, 11, 3), medical=True, reimbursable=False)
        db.session.commit()
        invoice = factories.issued_invoice(clinic.patient.id, [cosmetic, not_reimbursed.id], clinic.user, DAY)
        db.session.commit()
        assert invoice.number is not None


def test_the_issue_page_names_the_item_and_links_to_it(app, client, users):
    from conftest import login

    with app.app_context():
        clinic = Clinic()
        invoice = factories.draft_invoice(clinic.patient.id, [clinic.treatment()], clinic.user)
        db.session.commit()
        invoice_id, item_id = invoice.id, clinic.item.id
    login(client, users["admin"])
    html = client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert 'data-testid="missing-preview"' in html and "prestatiecode of treatment Fractional laser" in html
    assert f'href="/catalogue/{item_id}/edit"' in html
    response = post_form(client, f"/invoices/{invoice_id}/issue", {}, token_from=f"/invoices/{invoice_id}")
    assert response.status_code == 422
    assert "prestatiecode of treatment Fractional laser, acne scars" in response.get_data(as_text=True)


def test_crediting_an_invoice_is_not_held_up_by_codes(app):
    """A credit note reverses the invoice as it was issued: the code check belongs to issuing."""
    with app.app_context():
        clinic = Clinic(prestatiecode="HD101")
        invoice = factories.issued_invoice(clinic.patient.id, [clinic.treatment()], clinic.user, DAY)
        db.session.get(CatalogueItem, clinic.item.id).prestatiecode = ""  # the code was removed since
        db.session.commit()
        note = factories.credit_note(invoice, None, clinic.user, DAY)
        assert note.number


# ---- the demo -------------------------------------------------------------------------------------------------

def test_the_demo_catalogue_has_example_codes_of_the_right_shape():
    from backoffice.demo.data import CATALOGUE, CATALOGUE_CODE_LIST

    assert CATALOGUE_CODE_LIST == prestatiecodes.HUIDTHERAPIE
    for _code, _name, technique, prestatiecode, _cents, _minutes in CATALOGUE:
        assert prestatiecodes.code_error(prestatiecode) is None
        assert prestatiecode.startswith("VB")  # marked as examples: not the real Vektis list
        assert prestatiecodes.missing(technique, CATALOGUE_CODE_LIST, prestatiecode) == []
    assert len({row[3] for row in CATALOGUE}) == len(CATALOGUE)


def test_the_demo_catalogue_passes_the_catalogue_service(app):
    from backoffice.demo.care import catalogue
    from backoffice.demo.report import SeedReport

    with app.test_request_context():
        items = catalogue(SeedReport())
        db.session.commit()
        assert all(item.prestatiecode_list == "075" and not item.prestatiecode_missing for item in items.values())
