"""Insurers and their packages (supplementary policies) through the web UI."""

from __future__ import annotations

import re

import factories
import pytest
from conftest import csrf_token, post_form

from backoffice.extensions import db
from backoffice.models import Insurer, Package

INSURER = {"name": "Zilveren Kruis", "uzovi": "3311", "claim_address": "Postbus 444\n2700 AK Zoetermeer",
           "claim_email": "declaraties@zk.example", "active": "y"}
PACKAGE = {"name": "Aanvullend 3 sterren", "description": "Huidtherapie: EUR 300 a year", "active": "y"}


def _insurers(app) -> list[tuple[str, str]]:
    with app.app_context():
        return [(i.name, i.uzovi) for i in db.session.scalars(db.select(Insurer).order_by(Insurer.id))]


def _link(html: str, testid: str) -> str:
    return html.split(f'data-testid="{testid}" href="')[1].split('"')[0].replace("&amp;", "&")


def _row(html: str, name: str) -> str:
    rows = [row for row in re.findall(r"<tr.*?</tr>", html, re.S) if f">{name}</a>" in row]
    assert len(rows) == 1, f"expected one row for {name}"
    return rows[0]


def test_insurer_is_created_and_listed(app, as_role):
    client = as_role("admin")
    response = post_form(client, "/insurers/new", INSURER)
    assert response.status_code == 302
    with app.app_context():
        insurer = db.session.scalars(db.select(Insurer)).one()
        assert insurer.claim_address == "Postbus 444\n2700 AK Zoetermeer"
        assert insurer.claim_email == "declaraties@zk.example" and insurer.active
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Zilveren Kruis" in detail and "3311" in detail and "Postbus 444<br>2700 AK Zoetermeer" in detail
    row = _row(client.get("/insurers/").get_data(as_text=True), "Zilveren Kruis")
    assert "3311" in row and 'data-packages="0"' in row


@pytest.mark.parametrize(("uzovi", "message"), [
    ("12a4", "A UZOVI code has exactly 4 digits."),
    ("123", "A UZOVI code has exactly 4 digits."),
    ("", "Enter the UZOVI code."),
])
def test_invalid_uzovi_is_refused(app, as_role, uzovi, message):
    response = post_form(as_role("admin"), "/insurers/new", {**INSURER, "uzovi": uzovi})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and "invalid-feedback" in html
    assert 'value="Zilveren Kruis"' in html
    assert _insurers(app) == []


def test_duplicate_uzovi_gives_a_field_error(app, as_role):
    client = as_role("admin")
    factories.committed(app, factories.insurer, "CZ", "9664")
    response = post_form(client, "/insurers/new", {**INSURER, "uzovi": "9664"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Another insurer already has UZOVI code 9664." in html and "invalid-feedback" in html
    assert _insurers(app) == [("CZ", "9664")]


def test_editing_an_insurer_keeps_its_own_uzovi_but_cannot_take_another(app, as_role):
    client = as_role("admin")
    cz = factories.committed(app, factories.insurer, "CZ", "9664")
    factories.committed(app, factories.insurer, "VGZ", "7095")
    edit_url = f"/insurers/{cz}/edit"
    assert 'value="9664"' in client.get(edit_url).get_data(as_text=True)
    saved = post_form(client, edit_url, {**INSURER, "name": "CZ groep", "uzovi": "9664", "active": ""})
    assert saved.status_code == 302
    taken = post_form(client, edit_url, {**INSURER, "name": "CZ groep", "uzovi": "7095"})
    assert taken.status_code == 422
    assert "Another insurer already has UZOVI code 7095." in taken.get_data(as_text=True)
    assert _insurers(app) == [("CZ groep", "9664"), ("VGZ", "7095")]
    with app.app_context():
        assert not db.session.get(Insurer, cz).active


def test_list_searches_by_name_and_uzovi(app, as_role):
    factories.committed(app, factories.insurer, "Menzis", "3332")
    factories.committed(app, factories.insurer, "ONVZ", "3343")
    client = as_role("manager")
    by_name = client.get("/insurers/?q=menz").get_data(as_text=True)
    assert ">Menzis</a>" in by_name and ">ONVZ</a>" not in by_name
    by_uzovi = client.get("/insurers/?q=3343").get_data(as_text=True)
    assert ">ONVZ</a>" in by_uzovi and ">Menzis</a>" not in by_uzovi


def test_list_counts_packages_and_pages(app, as_role):
    app.config["PAGE_SIZE"] = 2
    factories.committed(app, factories.insurer, "A insurer", "1001", packages=("Basis", "Plus", "Top"))
    factories.committed(app, factories.insurer, "B insurer", "1002")
    factories.committed(app, factories.insurer, "C insurer", "1003", packages=("Start",))
    client = as_role("admin")
    first = client.get("/insurers/").get_data(as_text=True)
    assert 'data-packages="3"' in _row(first, "A insurer")
    assert 'data-packages="0"' in _row(first, "B insurer")
    second = client.get(_link(first, "next")).get_data(as_text=True)
    assert 'data-packages="1"' in _row(second, "C insurer") and ">A insurer</a>" not in second
    assert 'data-testid="next" href="#"' in second


def test_list_shows_active_insurers_first_page_by_page(app, as_role):
    app.config["PAGE_SIZE"] = 1
    for name, uzovi, active in (("A old", "1001", False), ("B", "1002", True), ("C", "1003", True)):
        factories.committed(app, factories.insurer, name, uzovi, active=active)
    client = as_role("admin")
    html, shown = client.get("/insurers/?q=").get_data(as_text=True), []
    while True:
        shown += re.findall(r">(A old|B|C)</a>", html)
        if 'data-testid="next" href="#"' in html:
            break
        html = client.get(_link(html, "next")).get_data(as_text=True)
    assert shown == ["B", "C", "A old"]
    back = client.get(_link(html, "previous")).get_data(as_text=True)
    assert re.findall(r">(A old|B|C)</a>", back) == ["C"]


def test_package_is_added_shown_and_edited(app, as_role):
    insurer_id = factories.committed(app, factories.insurer, "Zilveren Kruis", "3311")
    client = as_role("admin")
    response = post_form(client, f"/insurers/{insurer_id}/packages/new", PACKAGE)
    assert response.status_code == 302
    detail = client.get(f"/insurers/{insurer_id}").get_data(as_text=True)
    packages = detail[detail.index('data-testid="packages"'):]
    assert "Aanvullend 3 sterren" in packages and "Huidtherapie: EUR 300 a year" in packages
    assert 'data-packages="1"' in _row(client.get("/insurers/").get_data(as_text=True), "Zilveren Kruis")

    with app.app_context():
        package_id = db.session.scalars(db.select(Package.id)).one()
    edited = post_form(client, f"/insurers/{insurer_id}/packages/{package_id}/edit",
                       {**PACKAGE, "name": "Aanvullend 4 sterren", "active": ""})
    assert edited.status_code == 302
    with app.app_context():
        package = db.session.get(Package, package_id)
        assert (package.name, package.active) == ("Aanvullend 4 sterren", False)


def test_package_name_is_unique_per_insurer(app, as_role):
    zk = factories.committed(app, factories.insurer, "Zilveren Kruis", "3311", packages=("Aanvullend 3 sterren",))
    fbto = factories.committed(app, factories.insurer, "FBTO", "3358")
    client = as_role("admin")
    duplicate = post_form(client, f"/insurers/{zk}/packages/new", {**PACKAGE, "name": "aanvullend 3 STERREN"})
    assert duplicate.status_code == 422
    message = "Zilveren Kruis already has a package named aanvullend 3 STERREN."
    assert message in duplicate.get_data(as_text=True)
    # The same name at another insurer is fine.
    assert post_form(client, f"/insurers/{fbto}/packages/new", PACKAGE).status_code == 302
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Package.id))) == 2


def test_package_of_another_insurer_is_not_reachable(app, as_role):
    zk = factories.committed(app, factories.insurer, "Zilveren Kruis", "3311", packages=("Basis",))
    fbto = factories.committed(app, factories.insurer, "FBTO", "3358")
    with app.app_context():
        package_id = db.session.scalars(db.select(Package.id)).one()
    assert as_role("admin").get(f"/insurers/{fbto}/packages/{package_id}/edit").status_code == 404
    assert zk != fbto


@pytest.mark.parametrize("role", ["therapist", "manager"])
def test_read_only_roles_can_read_but_not_write(app, as_role, role):
    insurer_id = factories.committed(app, factories.insurer, "CZ", "9664", packages=("Basis",))
    with app.app_context():
        package_id = db.session.scalars(db.select(Package.id)).one()
    client = as_role(role)
    listing = client.get("/insurers/")
    assert listing.status_code == 200 and ">CZ</a>" in listing.get_data(as_text=True)
    assert "New insurer" not in listing.get_data(as_text=True)
    detail = client.get(f"/insurers/{insurer_id}")
    assert detail.status_code == 200 and "Add package" not in detail.get_data(as_text=True)

    token = csrf_token(client, "/insurers/")
    for url in ("/insurers/new", f"/insurers/{insurer_id}/edit", f"/insurers/{insurer_id}/packages/new",
                f"/insurers/{insurer_id}/packages/{package_id}/edit"):
        assert client.get(url).status_code == 403, url
        posted = client.post(url, data={**INSURER, **PACKAGE, "uzovi": "1234", "csrf_token": token})
        assert posted.status_code == 403, url
    assert _insurers(app) == [("CZ", "9664")]
    with app.app_context():
        assert db.session.get(Package, package_id).name == "Basis"


@pytest.mark.parametrize("form", ["insurer", "package"])
def test_a_duplicate_stored_by_a_concurrent_request_is_a_field_error_and_stores_nothing(app, as_role, monkeypatch,
                                                                                        form):
    from backoffice.insurers import services

    insurer_id = factories.committed(app, factories.insurer, "CZ", "9664", packages=("Plus",))
    client = as_role("admin")
    # Another request stores the same value between the service's check and its flush: the unique index refuses
    # the flush, the service turns that into its refusal and the view discards the unit of work.
    monkeypatch.setattr(services, "_taken", lambda query: False)
    if form == "insurer":
        response = post_form(client, "/insurers/new", {**INSURER, "uzovi": "9664"})
        message = "Another insurer already has UZOVI code 9664."
    else:
        response = post_form(client, f"/insurers/{insurer_id}/packages/new", {**PACKAGE, "name": "Plus"})
        message = "CZ already has a package named Plus."
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _insurers(app) == [("CZ", "9664")]
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Package.id))) == 1


def test_the_services_take_typed_inputs(app):
    from backoffice.errors import ServiceError
    from backoffice.insurers.services import (
        DuplicatePackage,
        InsurerInput,
        PackageInput,
        save_insurer,
        save_package,
    )

    with app.app_context():
        insurer = save_insurer(None, InsurerInput("Menzis", " 3332 ", active=False))
        save_package(insurer, None, PackageInput("Extra"))
        with pytest.raises(DuplicatePackage) as refused:
            save_package(insurer, None, PackageInput("EXTRA"))  # case-insensitive
        assert isinstance(refused.value, ServiceError)
        assert (insurer.name, insurer.uzovi, insurer.active, insurer.claim_email) == ("Menzis", "3332", False, "")
        assert [(p.name, p.active) for p in insurer.packages] == [("Extra", True)]
