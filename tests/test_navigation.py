"""The main menu (backoffice/navigation.py, templates/base.html): each role sees the sections it may open, in its
language, with the current section marked; the menu is built once per role and language, not on every page."""

from __future__ import annotations

import re

from conftest import login, post_form

from backoffice import navigation
from backoffice.domain.roles import allows

_LINK = re.compile(r'<a class="(nav-link text-nowrap[^"]*|dropdown-item[^"]*)"[^>]*\s+href="([^"]+)">([^<]+)</a>')


def _menu(html: str) -> dict[str, tuple[str, bool]]:
    """href -> (label, active) of the menu's links."""
    return {href: (label.strip(), " active" in classes) for classes, href, label in _LINK.findall(html)}


def test_each_role_sees_the_sections_it_may_open_and_no_other(app, as_role, users):
    for role in ("admin", "therapist", "manager"):
        client = app.test_client()
        assert login(client, users[role]).status_code == 302
        html = client.get("/").get_data(as_text=True)
        shown = _menu(html)
        with app.test_request_context():
            from flask import url_for

            expected = {url_for(endpoint) for endpoint, _label, permission in navigation.MAIN + navigation.PRACTICE
                        if allows(role, permission)}
        assert set(shown) == expected, role
        assert ("Practice" in html) == any(allows(role, p) for _e, _l, p in navigation.PRACTICE)
    assert _menu(as_role("admin").get("/patients/").get_data(as_text=True))["/patients/"] == ("Patients", True)


def test_the_current_section_is_marked_and_the_menu_follows_the_language(app, as_role, users):
    client = as_role("admin")
    page = client.get("/treatments/").get_data(as_text=True)
    menu = _menu(page)
    assert menu["/treatments/"] == ("Treatments", True) and menu["/patients/"] == ("Patients", False)
    assert menu["/printing/"] == ("Batch print", False)
    settings = client.get("/users/").get_data(as_text=True)
    assert _menu(settings)["/users/"] == ("Users", True)
    assert re.search(r'dropdown-toggle text-nowrap active"[^>]*>Practice<', settings)  # the drop-down marked too
    post_form(client, "/language", {"language": "nl", "next": "/"}, token_from="/")
    dutch = _menu(client.get("/treatments/").get_data(as_text=True))
    assert dutch["/treatments/"] == ("Behandelingen", True) and dutch["/invoices/"][0] == "Facturen"
    assert "Praktijk" in client.get("/").get_data(as_text=True)


def test_the_menu_is_built_once_per_role_and_language(app, as_role, users, monkeypatch):
    built: list[str] = []
    links = navigation._links

    def counting(entries, role):
        built.append(role)
        return links(entries, role)

    monkeypatch.setattr(navigation, "_links", counting)
    client = as_role("admin")
    for url in ("/", "/patients/", "/treatments/", "/invoices/"):
        assert client.get(url).status_code == 200
    assert built == ["admin", "admin"]  # the bar and the drop-down, once
    post_form(client, "/language", {"language": "nl", "next": "/"}, token_from="/")
    client.get("/patients/")
    assert built == ["admin"] * 4  # and once more in Dutch
