"""The treatment catalogue: codes, prices in cents, techniques and who may change it."""

from __future__ import annotations

import pytest
from conftest import csrf_token, post_form

from backoffice.domain.roles import Permission, Role, allows
from backoffice.extensions import db
from backoffice.models import CatalogueItem

ITEM = {"code": "FRAC-FACE", "name": "Fractional laser, face", "technique": "fractional_laser",
        "prestatiecode_list": "075", "prestatiecode": "HD101", "price": "149.95", "duration_minutes": "60",
        "active": "y"}


def _items(app) -> list[tuple]:
    with app.app_context():
        return [(i.code, i.name, i.technique, i.prestatiecode, i.price_cents, i.duration_minutes, i.active)
                for i in db.session.scalars(db.select(CatalogueItem).order_by(CatalogueItem.id))]


def test_catalogue_permissions():
    assert allows(Role.ADMIN, Permission.CATALOGUE_WRITE)
    assert allows(Role.THERAPIST, Permission.CATALOGUE_READ) and allows(Role.MANAGER, Permission.CATALOGUE_READ)
    assert not allows(Role.THERAPIST, Permission.CATALOGUE_WRITE)
    assert not allows(Role.MANAGER, Permission.CATALOGUE_WRITE)


def test_item_is_created_with_its_price_in_cents_and_listed(app, as_role):
    client = as_role("admin")
    response = post_form(client, "/catalogue/new", {**ITEM, "prestatiecode": "hd101"})
    assert response.status_code == 302
    assert _items(app) == [("FRAC-FACE", "Fractional laser, face", "fractional_laser", "HD101", 14995, 60, True)]
    html = client.get("/catalogue/").get_data(as_text=True)
    assert "EUR 149,95" in html and 'data-cents="14995"' in html and "Fractional laser</td>" in html
    assert 'href="/catalogue/new"' in html


@pytest.mark.parametrize(("typed", "cents"), [
    ("199,50", 19950), ("1.234,56", 123456), ("1234,56", 123456), ("EUR 1.234,56", 123456), ("€ 12,5", 1250),
    ("199.50", 19950),
])
def test_prices_typed_the_dutch_way_are_stored_in_cents(app, as_role, typed, cents):
    client = as_role("admin")
    response = post_form(client, "/catalogue/new", {**ITEM, "price": typed, "technique": ""})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert [(item[2], item[4]) for item in _items(app)] == [(None, cents)]  # the technique is optional


@pytest.mark.parametrize(("price", "message"), [
    ("12.345", "is ambiguous"), ("1,234", "is ambiguous"), ("0", "Enter a price above EUR 0,00."),
    ("0,00", "Enter a price above EUR 0,00."), ("-1", "Enter a price above EUR 0,00."),
    ("12,345", "is ambiguous"),
])
def test_ambiguous_zero_and_negative_prices_are_refused(app, as_role, price, message):
    response = post_form(as_role("admin"), "/catalogue/new", {**ITEM, "price": price})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _items(app) == []


@pytest.mark.parametrize(("change", "message"), [
    ({"price": "-1"}, "Enter a price above EUR 0,00."),
    ({"price": ""}, "Enter a price, e.g. 149,95."),
    ({"price": "abc"}, "Type an amount in euros such as 199,50 or 1.234,56 (at most 2 decimals)."),
    ({"code": ""}, "Enter a code."),
    ({"prestatiecode": "12-34"}, "Enter the prestatiecode as 4 to 6 letters or digits, e.g. 1234."),
    ({"prestatiecode": "12345678901"}, "Enter the prestatiecode as 4 to 6 letters or digits, e.g. 1234."),
    ({"prestatiecode": "123"}, "Enter the prestatiecode as 4 to 6 letters or digits, e.g. 1234."),
    ({"prestatiecode": "\uff11\uff12\uff13\uff14"}, "Enter the prestatiecode as 4 to 6 letters or digits"),
    ({"prestatiecode": ""}, "Enter the prestatiecode: this treatment can be reimbursed"),
    ({"prestatiecode": "", "technique": ""}, "Enter the prestatiecode: this treatment can be reimbursed"),
    ({"prestatiecode_list": "75"}, "Enter the code list as 3 digits, e.g. 075."),
    ({"prestatiecode_list": "0750"}, "Enter the code list as 3 digits, e.g. 075."),
    ({"prestatiecode_list": ""}, "Enter the Vektis code list (075 for skin therapy)"),
    ({"technique": "microneedling"}, "Not a valid choice."),
    ({"duration_minutes": "0"}, "Enter 1 to 600 minutes."),
])
def test_bad_input_rerenders_with_field_errors_and_saves_nothing(app, as_role, change, message):
    response = post_form(as_role("admin"), "/catalogue/new", {**ITEM, **change})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and "invalid-feedback" in html
    assert _items(app) == []


def test_the_catalogue_speaks_dutch_to_a_dutch_user(app, client):
    from conftest import create_user, login

    create_user(app, "beheer@test.nl", "admin", language="nl")
    login(client, "beheer@test.nl")
    assert post_form(client, "/catalogue/new", ITEM).status_code == 302
    html = client.get("/catalogue/").get_data(as_text=True)
    assert 'lang="nl"' in html
    assert "Behandelcatalogus" in html and "Fractionele laser</td>" in html and "EUR 149,95" in html
    assert 'data-label="Prijs"' in html and "table-responsive-cards" in html
    form = client.get("/catalogue/new").get_data(as_text=True)
    assert "Prijs incl. btw (EUR)" in form and "Opslaan" in form and "Laserontharing" in form
    response = post_form(client, "/catalogue/new", {**ITEM, "code": "X", "price": "0"})
    assert "Vul een prijs boven EUR 0,00 in." in response.get_data(as_text=True)
    for english in ("Treatment catalogue", "Price incl. VAT", "Laser hair removal", "Save"):
        assert english not in form


def test_duplicate_code_is_refused_case_insensitively(app, as_role):
    client = as_role("admin")
    post_form(client, "/catalogue/new", ITEM)
    response = post_form(client, "/catalogue/new", {**ITEM, "code": "frac-face", "name": "Other"})
    assert response.status_code == 422
    assert "Another treatment already has code frac-face." in response.get_data(as_text=True)
    assert len(_items(app)) == 1


def test_editing_shows_euros_and_keeps_the_own_code(app, as_role):
    client = as_role("admin")
    post_form(client, "/catalogue/new", ITEM)
    with app.app_context():
        item_id = db.session.scalar(db.select(CatalogueItem.id))
    html = client.get(f"/catalogue/{item_id}/edit").get_data(as_text=True)
    assert 'value="149,95"' in html  # refilled the Dutch way
    response = post_form(client, f"/catalogue/{item_id}/edit", {**ITEM, "price": "155", "active": ""})
    assert response.status_code == 302
    assert _items(app) == [("FRAC-FACE", "Fractional laser, face", "fractional_laser", "HD101", 15500, 60, False)]


@pytest.mark.parametrize("role", ["therapist", "manager"])
def test_only_the_admin_changes_the_catalogue(app, as_role, role):
    with app.app_context():
        db.session.add(CatalogueItem(code="IPL", name="IPL", price_cents=9000))
        db.session.commit()
        item_id = db.session.scalar(db.select(CatalogueItem.id))
    client = as_role(role)
    html = client.get("/catalogue/").get_data(as_text=True)
    assert "EUR 90,00" in html and "/catalogue/new" not in html and f"/catalogue/{item_id}/edit" not in html
    assert client.get("/catalogue/new").status_code == 403
    token = csrf_token(client, "/")  # a valid token: only the permission can refuse the post
    assert client.post("/catalogue/new", data={**ITEM, "csrf_token": token}).status_code == 403
    assert client.get(f"/catalogue/{item_id}/edit").status_code == 403
    assert _items(app) == [("IPL", "IPL", None, "", 9000, 30, True)]
    assert 'href="/catalogue/"' in html  # in the navigation for every role that reads it


def test_a_code_taken_between_check_and_flush_is_refused_and_nothing_is_stored(app, as_role, monkeypatch):
    """The refusal comes after the service flushed (the unique constraint, as when a concurrent request took the
    code): the view discards the unit of work, so neither the code nor the other changes of the form are stored."""
    from backoffice.catalogue import services

    with app.app_context():
        db.session.add_all([CatalogueItem(code="FRAC-FACE", name="Fractional laser", price_cents=14995),
                            CatalogueItem(code="IPL", name="IPL", price_cents=9000)])
        db.session.commit()
        ipl_id = db.session.scalar(db.select(CatalogueItem.id).filter_by(code="IPL"))
    before = _items(app)
    monkeypatch.setattr(services, "code_taken", lambda code, item: False)  # the check sees no other item yet
    client = as_role("admin")
    response = post_form(client, f"/catalogue/{ipl_id}/edit", {**ITEM, "name": "Renamed"})
    assert response.status_code == 422
    assert "Another treatment already has this code." in response.get_data(as_text=True)
    assert _items(app) == before
    response = post_form(client, "/catalogue/new", {**ITEM, "code": "FRAC-FACE"})
    assert response.status_code == 422
    assert _items(app) == before


def test_save_item_takes_a_typed_input(app):
    from decimal import Decimal

    from backoffice.catalogue.services import (
        CatalogueItemInput,
        DuplicateCode,
        PrestatiecodeInvalid,
        PriceNotPositive,
        save_item,
    )
    from backoffice.errors import ServiceError

    codes = {"prestatiecode_list": "075", "prestatiecode": "1234"}
    with app.test_request_context():  # the refusals are worded in the request's language
        save_item(None, CatalogueItemInput(code="IPL", name="IPL", price=Decimal("90.005"), technique="ipl",
                                           prestatiecode_list=" 075 ", prestatiecode=" 1234 "))
        db.session.commit()
        with pytest.raises(DuplicateCode, match="code ipl") as refused:
            save_item(None, CatalogueItemInput(code="ipl", name="Other", price=Decimal("1"), **codes))
        assert isinstance(refused.value, ServiceError)
        for free in ("0", "0.004", "-5"):
            with pytest.raises(PriceNotPositive):
                save_item(None, CatalogueItemInput(code="FREE", name="Free", price=Decimal(free), **codes))
        # An item that can be reimbursed is refused without its code list or code, whoever calls the service.
        with pytest.raises(PrestatiecodeInvalid) as refused_code:
            save_item(None, CatalogueItemInput(code="NEW", name="New", price=Decimal("5"), technique="peel",
                                               prestatiecode_list="075"))
        assert refused_code.value.field == "prestatiecode"
        with pytest.raises(PrestatiecodeInvalid) as refused_list:
            save_item(None, CatalogueItemInput(code="NEW", name="New", price=Decimal("5"), prestatiecode="1234"))
        assert refused_list.value.field == "prestatiecode_list"
    assert _items(app) == [("IPL", "IPL", "ipl", "1234", 9001, 30, True)]


def test_the_list_pages_by_key_active_items_first_and_keeps_the_search(app, as_role):
    import re

    app.config["PAGE_SIZE"] = 2
    with app.app_context():
        for code, active in (("LAS-A", False), ("LAS-B", True), ("LAS-C", True), ("PEEL", True), ("LAS-D", True)):
            db.session.add(CatalogueItem(code=code, name=f"Treatment {code}", price_cents=1000,
                                         duration_minutes=30, active=active))
        db.session.commit()
    client = as_role("admin")
    html, shown = client.get("/catalogue/?q=las").get_data(as_text=True), []
    for _ in range(5):
        shown += re.findall(r'<td data-label="Code">(LAS-\w|PEEL)', html)
        link = html.split('data-testid="next" href="')[1].split('"')[0].replace("&amp;", "&")
        if link == "#":
            break
        assert "q=las" in link  # the search stays on the link
        html = client.get(link).get_data(as_text=True)
    assert shown == ["LAS-B", "LAS-C", "LAS-D", "LAS-A"]
    # Not a token; an id beyond 64 bits; 1 where the boolean `active` belongs.
    for bad in ("x", "W3RydWUsIkEiLDk5OTk5OTk5OTk5OTk5OTk5OTk5OTld", "WzEsIkxBUy1CIiwxXQ"):
        response = client.get(f"/catalogue/?q=las&after={bad}&before={bad}")
        assert response.status_code == 200 and re.findall(
            r'<td data-label="Code">(LAS-\w)', response.get_data(as_text=True)) == [
            "LAS-B", "LAS-C"]
