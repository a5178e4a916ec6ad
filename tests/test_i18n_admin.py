"""The administration pages in Dutch and English: sign-in, the language choice (header switch, own settings, the
user form), Dutch pages for a Dutch user, confirmations before destructive actions, and small screens."""

from __future__ import annotations

import re
from datetime import date

import pytest
from conftest import PASSWORD, create_user, csrf_token, login, post_form

from backoffice.extensions import db
from backoffice.models import KpRegistration, NvhMembership, Therapist, User


def _html(response) -> str:
    return response.get_data(as_text=True)


def _lang(html: str) -> str:
    return re.search(r'<html lang="(\w+)">', html).group(1)


def _language(app, email: str) -> str | None:
    with app.app_context():
        return db.session.scalar(db.select(User.language).where(User.email == email))


@pytest.fixture
def dutch_admin(app):
    """A signed-in administrator who chose Dutch."""
    create_user(app, "beheer@test.nl", "admin", name="Beheerder Bos", language="nl")
    client = app.test_client()
    assert login(client, "beheer@test.nl").status_code == 302
    return client


def _therapist_with_history(app) -> int:
    with app.app_context():
        therapist = Therapist(name="Sanne de Vries", agb_code="90012345", active=True)
        therapist.nvh_memberships.append(NvhMembership(member_number="NVH-77", valid_from=date(2020, 1, 1)))
        therapist.kp_registrations.append(KpRegistration(kp_number="KP-77", level="kwaliteitsregister",
                                                         period_start=date(2024, 1, 1),
                                                         period_end=date(2028, 12, 31)))
        db.session.add(therapist)
        db.session.commit()
        return therapist.id


# ---- signing in ------------------------------------------------------------------------------------------------


def test_the_sign_in_page_is_dutch_for_a_visitor_and_the_switch_makes_it_english(client):
    html = _html(client.get("/login"))
    assert _lang(html) == "nl"
    assert "Aanmelden" in html and "Wachtwoord" in html and "Sign in" not in html
    response = client.post("/language", data={"language": "en", "next": "/login",
                                              "csrf_token": csrf_token(client, "/login")})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    html = _html(client.get("/login"))
    assert _lang(html) == "en" and "Sign in" in html and "Aanmelden" not in html


def test_a_failed_sign_in_says_so_in_dutch_next_to_the_field(app, users):
    client = app.test_client()
    html = _html(login(client, users["admin"], "wrong password"))
    assert "Onbekend e-mailadres of verkeerd wachtwoord." in html and "invalid-feedback" in html


# ---- the language choice ---------------------------------------------------------------------------------------


def test_the_header_switch_changes_the_language_and_keeps_it_for_the_user(app, as_role, users):
    client = as_role("manager")  # test users start in English
    html = _html(client.get("/"))
    assert _lang(html) == "en" and "Good day" in html
    response = post_form(client, "/language", {"language": "nl", "next": "/"}, token_from="/")
    assert response.status_code == 302
    html = _html(client.get("/"))
    assert _lang(html) == "nl" and "Goedendag" in html and "Good day" not in html
    assert _language(app, users["manager"]) == "nl"
    # Kept with the account: a fresh sign-in elsewhere is Dutch too.
    other = app.test_client()
    login(other, users["manager"])
    assert _lang(_html(other.get("/"))) == "nl"


def test_an_unknown_language_is_refused(app, as_role, users):
    client = as_role("manager")
    post_form(client, "/language", {"language": "fr", "next": "/"}, token_from="/")
    assert _language(app, users["manager"]) == "en"


def test_my_settings_page_chooses_the_language(app, as_role, users):
    client = as_role("therapist")
    html = _html(client.get("/account/password"))
    assert "My settings" in html and 'name="account-language"' in html
    assert '<option selected value="en">English</option>' in html
    token = csrf_token(client, "/account/password")
    response = client.post("/account/language", data={"account-language": "nl", "account-csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/account/password"
    html = _html(client.get("/account/password"))
    assert _lang(html) == "nl" and "Mijn instellingen" in html and "Uw taal is opgeslagen." in html
    assert _language(app, users["therapist"]) == "nl"
    response = client.post("/account/language", data={"account-language": "xx", "account-csrf_token": token})
    assert response.status_code == 422 and _language(app, users["therapist"]) == "nl"


def test_the_administrator_sets_a_users_language_on_the_user_form(app, as_role, users):
    admin = as_role("admin")
    response = post_form(admin, "/users/new", {
        "email": "eng@clinic.nl", "name": "Emma English", "role": "manager", "language": "en",
        "password": "a long enough secret", "confirm": "a long enough secret"})
    assert response.status_code == 302 and _language(app, "eng@clinic.nl") == "en"
    emma = app.test_client()
    login(emma, "eng@clinic.nl", "a long enough secret")
    assert _lang(_html(emma.get("/"))) == "en"
    with app.app_context():
        therapist_id = db.session.scalar(db.select(User.id).where(User.email == users["therapist"]))
    form = _html(admin.get(f"/users/{therapist_id}/edit"))
    assert 'name="language"' in form and "Nederlands" in form
    response = post_form(admin, f"/users/{therapist_id}/edit",
                         {"name": "Therapist", "role": "therapist", "active": "y", "language": "nl"})
    assert response.status_code == 302 and _language(app, users["therapist"]) == "nl"


# ---- Dutch pages for a Dutch user ------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "dutch", "english"), [
    ("/", "Goedendag", "Good day"),
    ("/users/", "Nieuwe gebruiker", "New user"),
    ("/users/new", "Eerste wachtwoord", "Initial password"),
    ("/therapists/", "Nieuwe huidtherapeut", "New therapist"),
    ("/therapists/new", "Persoonlijke AGB-code", "Personal AGB code"),
    ("/credentials/", "Verlopen, geen opvolger vastgelegd", "Expired, no successor"),
    ("/practice/", "praktijkgegevens zijn nog niet ingevuld", "not filled in yet"),
    ("/practice/edit", "AGB-code van de praktijk", "Practice AGB code"),
    ("/account/password", "Uw wachtwoord wijzigen", "Change your password"),
    ("/account/on-behalf", "Werkzaam namens", "Working on behalf of"),
    ("/reports/?month=2026-10", "Omzet incl. btw", "Revenue incl. VAT"),
    ("/no/such/page", "Niet gevonden", "Not Found"),
])
def test_admin_pages_are_dutch_for_a_dutch_user(dutch_admin, url, dutch, english):
    html = _html(dutch_admin.get(url))
    assert _lang(html) == "nl"
    assert dutch in html and english not in html


def test_the_dashboard_names_months_in_the_users_language(app, dutch_admin, as_role):
    html = _html(dutch_admin.get("/reports/?month=2026-10"))
    title = re.search(r'data-testid="dashboard-title">([^<]+)<', html).group(1)
    assert title.endswith(" · oktober 2026") and 'value="oktober 2026"' in html and 'data-picker="month"' in html
    assert 'type="month"' not in html
    assert "October 2026" in _html(as_role("manager").get("/reports/?month=2026-10"))
    # The month as the page shows it is accepted back.
    assert dutch_admin.get("/reports/?month=oktober+2026").status_code == 200


def test_form_errors_are_dutch_and_next_to_their_field(app, dutch_admin):
    response = post_form(dutch_admin, "/users/new", {"email": "nope", "name": "", "role": "therapist",
                                                      "language": "nl", "password": "kort", "confirm": "anders"})
    html = _html(response)
    assert response.status_code == 422
    assert "Verbeter de" in html
    for message in ("Vul een geldig e-mailadres in.", "Vul de naam van de gebruiker in.",
                    "Gebruik minstens 12 tekens.", "De wachtwoorden zijn niet gelijk."):
        assert message in html
    # bootstrap-flask puts each message right after its own input
    assert re.search(r'id="email"[^>]*>\s*<div class="invalid-feedback[^"]*">\s*Vul een geldig', html)


def test_credential_badges_and_reasons_are_dutch(app, dutch_admin):
    therapist_id = _therapist_with_history(app)
    html = _html(dutch_admin.get(f"/therapists/{therapist_id}?on=15-03-2025"))
    assert "KP-kwaliteitsregister (nr. KP-77) op 15-03-2025." in html
    assert "geldig tot en met 31-12-2028" in html
    assert "valid until" not in html and "KP kwaliteitsregister (no." not in html


# ---- confirmations and developer words -------------------------------------------------------------------------


def test_deactivating_a_user_asks_first_and_signs_them_out(app, as_role, users):
    admin = as_role("admin")
    html = _html(admin.get("/users/"))
    with app.app_context():
        therapist_id = db.session.scalar(db.select(User.id).where(User.email == users["therapist"]))
        admin_id = db.session.scalar(db.select(User.id).where(User.email == users["admin"]))
    form = re.search(rf'<form method="post" action="/users/{therapist_id}/active"[^>]*>', html).group(0)
    assert 'data-confirm="Therapist can no longer sign in and is signed out everywhere at once."' in form
    assert f'action="/users/{admin_id}/active"' not in html  # no button to lock oneself out
    therapist_client = app.test_client()
    login(therapist_client, users["therapist"])
    response = post_form(admin, f"/users/{therapist_id}/active", {"active": "0"}, token_from="/users/")
    assert response.status_code == 302
    assert therapist_client.get("/").status_code == 302  # signed out
    html = _html(admin.get("/users/"))
    assert "is deactivated and signed out everywhere" in html and "Reactivate" in html
    post_form(admin, f"/users/{therapist_id}/active", {"active": "1"}, token_from="/users/")
    assert login(app.test_client(), users["therapist"], PASSWORD).status_code == 302


def test_the_last_administrator_cannot_be_deactivated_from_the_list(app, as_role, users):
    admin = as_role("admin")
    with app.app_context():
        admin_id = db.session.scalar(db.select(User.id).where(User.email == users["admin"]))
    response = post_form(admin, f"/users/{admin_id}/active", {"active": "0"}, token_from="/users/")
    assert response.status_code == 302
    assert "cannot deactivate your own account" in _html(admin.get("/users/"))
    with app.app_context():
        assert db.session.get(User, admin_id).active


def test_removing_a_credential_asks_first_and_says_what_happens(app, as_role):
    therapist_id = _therapist_with_history(app)
    html = _html(as_role("admin").get(f"/therapists/{therapist_id}"))
    confirms = re.findall(r'<form method="post" action="(/therapists/\d+/(?:nvh|kp)/\d+/delete)" class="d-inline" '
                          r'data-confirm="([^"]+)"', html)
    assert len(confirms) == 2
    assert "NVH membership NVH-77 is removed from the history of Sanne de Vries" in confirms[0][1]
    assert "KP registration KP-77 and its evidence are removed" in confirms[1][1]


def test_no_developer_words_on_the_admin_pages(app, as_role):
    therapist_id = _therapist_with_history(app)
    admin = as_role("admin")
    for url in ("/", "/users/", "/users/new", "/therapists/", f"/therapists/{therapist_id}", "/credentials/",
                "/practice/", "/practice/edit", "/account/password", "/reports/?month=2026-10"):
        text = re.sub(r"<[^>]+>", " ", _html(admin.get(url)))  # what is on the screen, not attributes
        for word in ("SHA-256", "_DAYS", "YYYY-MM", "diploma_only", "acne_scar", "therapist_not_eligible"):
            assert word not in text, (url, word)
        assert not re.search(r">\s*None\s*<", _html(admin.get(url))), url  # a Python None shown as is


# ---- small screens --------------------------------------------------------------------------------------------


def test_admin_tables_collapse_to_cards_with_labels(app, as_role):
    therapist_id = _therapist_with_history(app)
    admin = as_role("admin")
    for url, testid in (("/users/", "user-table"), ("/therapists/", "therapist-table"),
                        (f"/therapists/{therapist_id}", "nvh-history"), (f"/therapists/{therapist_id}", "kp-history"),
                        ("/credentials/", "unclaimable")):
        html = _html(admin.get(url))
        table = re.search(rf'<table class="([^"]+)" data-testid="{testid}">(.*?)</table>', html, re.S)
        assert "table-responsive-cards" in table.group(1), url
        body = table.group(2).split("<tbody>")[1]
        cells = re.findall(r"<td([^>]*)>", body)
        assert cells and all("data-label=" in cell or "text-end" in cell or "colspan" in cell for cell in cells), url
    html = _html(admin.get("/reports/?month=2026-10"))
    for testid in ("trend", "therapists", "insurers", "credentials", "vat", "receivables"):
        assert re.search(rf'<div class="table-responsive[^"]*">\s*<table class="[^"]*" data-testid="{testid}"',
                         html), testid
