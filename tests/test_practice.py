"""Practice settings: validation of the Dutch identifiers, normalisation, and the logo upload."""

from __future__ import annotations

import io

import pytest
from conftest import login, post_form

from backoffice.extensions import db
from backoffice.models import Practice
from backoffice.practice.services import LogoError, logo_mimetype

VALID = {
    "name": "Huidtherapie Grachtengordel", "street": "Prinsengracht 100", "postcode": "1015ea",
    "city": "Amsterdam", "kvk_number": "12345678", "vat_id": "nl111222333b01", "agb_code": "90012345",
    "iban": "nl91abna0417164300",
    "phone": "020 765 4321", "email": "info@grachtengordel.nl", "website": "www.grachtengordel.nl",
}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
SVG = (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
       b'<script>alert(1)</script><rect width="10" height="10"/></svg>')


def _practices(app) -> list[Practice]:
    with app.app_context():
        rows = db.session.scalars(db.select(Practice)).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def _save(client, data=None, **files):
    payload = {**VALID, **(data or {})}
    for name, (content, filename) in files.items():
        payload[name] = (io.BytesIO(content), filename)
    return post_form(client, "/practice/edit", payload, content_type="multipart/form-data")


def test_show_without_details_invites_filling_them_in(as_role):
    client = as_role("admin")
    html = client.get("/practice/").get_data(as_text=True)
    assert "not filled in yet" in html
    assert 'href="/practice/edit"' in html
    assert client.get("/practice/logo").status_code == 404


def test_first_save_creates_the_practice_with_normalised_values(app, as_role):
    client = as_role("admin")
    response = _save(client)
    assert response.status_code == 302 and response.headers["Location"] == "/practice/"
    [practice] = _practices(app)
    assert practice.postcode == "1015 EA"
    assert practice.vat_id == "NL111222333B01"
    assert practice.iban == "NL91 ABNA 0417 1643 00"
    assert practice.agb_code == "90012345"
    assert practice.website == "https://www.grachtengordel.nl"
    html = client.get("/practice/").get_data(as_text=True)
    for text in ("Huidtherapie Grachtengordel", "1015 EA Amsterdam", "12345678", "NL111222333B01", "90012345",
                 "NL91 ABNA 0417 1643 00"):
        assert text in html
    # A second save updates the same row instead of adding one
    assert _save(client, {"city": "Haarlem", "postcode": "2011 AB"}).status_code == 302
    [again] = _practices(app)
    assert again.id == practice.id and again.city == "Haarlem"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("kvk_number", "1234567", "KvK number has exactly 8 digits"),
    ("vat_id", "NL123456789", "Dutch VAT id is NL, nine digits, B and two digits"),
    ("vat_id", "NL123456789B01", "check digits are wrong"),
    ("iban", "NL91 0417 1643 00", "Dutch IBAN has 18 characters"),
    ("agb_code", "9001234", "AGB code has exactly 8 digits"),
    ("iban", "NL91 ABNA 0417 1643 01", "check digits are wrong"),
    ("iban", "NL91 ABNA 0417 16", "Dutch IBAN has 18 characters"),
    ("postcode", "0123 AB", "four digits"),
    ("postcode", "1234 SS", "never end in SS"),
    ("postcode", "", "Enter the postcode with the address"),
    ("name", "", "Enter the practice name."),
    ("email", "nope", "Enter a valid e-mail address."),
    ("website", "javascript:alert(1)", "web address"),
])
def test_invalid_practice_details_are_refused(app, as_role, field, value, message):
    client = as_role("admin")
    response = _save(client, {field: value})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and "invalid-feedback" in html
    assert 'value="Prinsengracht 100"' in html  # what was typed is kept
    assert _practices(app) == []


def test_all_identifier_errors_are_shown_together(app, as_role):
    client = as_role("admin")
    response = _save(client, {"kvk_number": "abc", "vat_id": "123", "agb_code": "1", "iban": "NL00",
                              "postcode": "99"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    for message in ("KvK number", "Dutch VAT id", "AGB code", "IBAN starts with", "Dutch postcode"):
        assert message in html
    assert html.count("invalid-feedback") >= 5
    assert _practices(app) == []


def test_invalid_edit_leaves_existing_details_untouched(app, as_role):
    client = as_role("admin")
    _save(client)
    assert _save(client, {"name": "Renamed", "kvk_number": "1"}).status_code == 422
    [practice] = _practices(app)
    assert practice.name == "Huidtherapie Grachtengordel" and practice.kvk_number == "12345678"


@pytest.mark.parametrize("role", ["therapist", "manager"])
def test_only_admins_edit_but_everyone_reads(app, as_role, role):
    admin = as_role("admin")
    _save(admin, logo=(PNG, "logo.png"))
    client = app.test_client()
    assert login(client, f"{role}@test.nl").status_code == 302
    assert client.get("/practice/edit").status_code == 403
    html = client.get("/practice/").get_data(as_text=True)
    assert "Huidtherapie Grachtengordel" in html and 'href="/practice/edit"' not in html
    assert client.get("/practice/logo").data == PNG


def test_png_logo_roundtrip(app, as_role):
    client = as_role("admin")
    assert _save(client, logo=(PNG, "logo.png")).status_code == 302
    response = client.get("/practice/logo")
    assert response.status_code == 200
    assert response.data == PNG
    assert response.mimetype == "image/png"
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")  # site-wide policy
    assert 'src="/practice/logo"' in client.get("/practice/").get_data(as_text=True)
    # Saving without a new file keeps the logo
    assert _save(client, {"phone": "06 1234 5678"}).status_code == 302
    assert client.get("/practice/logo").data == PNG
    # Removing it
    assert _save(client, {"remove_logo": "y"}).status_code == 302
    assert client.get("/practice/logo").status_code == 404


def test_jpeg_logo_is_served_as_jpeg(as_role):
    client = as_role("admin")
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(100)
    assert _save(client, logo=(jpeg, "logo.JPG")).status_code == 302
    response = client.get("/practice/logo")
    assert response.data == jpeg and response.mimetype == "image/jpeg"


def test_svg_logo_is_served_without_script_execution(as_role):
    client = as_role("admin")
    assert _save(client, logo=(SVG, "logo.svg")).status_code == 302
    response = client.get("/practice/logo")
    assert response.data == SVG
    assert response.mimetype == "image/svg+xml"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; style-src 'unsafe-inline'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(("content", "filename", "message"), [
    (b"<html><script>alert(1)</script></html>", "logo.png", "PNG, JPEG or SVG image"),
    (PNG, "logo.gif", "PNG, JPEG or SVG file"),
    (b"MZ\x90\x00", "logo.svg", "PNG, JPEG or SVG image"),
    (b"", "logo.png", "empty"),
])
def test_bad_logo_is_refused(app, as_role, content, filename, message):
    client = as_role("admin")
    response = _save(client, logo=(content, filename))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _practices(app) == []


def test_logo_size_is_limited(app, as_role):
    app.config["LOGO_MAX_BYTES"] = 1024
    client = as_role("admin")
    response = _save(client, logo=(PNG + bytes(1024), "logo.png"))
    assert response.status_code == 422
    assert "at most 1 KB" in response.get_data(as_text=True)
    assert _save(client, logo=(PNG, "logo.png")).status_code == 302


def test_logo_type_comes_from_the_bytes():
    assert logo_mimetype(PNG) == "image/png"
    assert logo_mimetype(b"\xef\xbb\xbf  <svg xmlns='http://www.w3.org/2000/svg'/>") == "image/svg+xml"
    with pytest.raises(LogoError):
        logo_mimetype(b"<?xml version='1.0'?><html/>")
    with pytest.raises(LogoError):
        logo_mimetype(b"GIF89a")


def test_update_practice_takes_typed_details_and_normalises_them(app):
    from backoffice.practice.services import PracticeDetails, update_practice

    with app.app_context():
        changed = update_practice(PracticeDetails(name=" Kliniek ", postcode="1015ea", iban="nl91abna0417164300",
                                                  kvk_number="1234 5678", vat_id="nl123456789b01"))
        assert {"name", "postcode", "kvk_number", "vat_id", "iban"} <= set(changed)
        db.session.commit()
        assert update_practice(PracticeDetails(name="Kliniek", postcode="1015 EA", iban="NL91ABNA0417164300",
                                               kvk_number="12345678", vat_id="NL123456789B01")) == []
    [practice] = _practices(app)
    assert (practice.name, practice.postcode, practice.iban, practice.kvk_number, practice.vat_id) == (
        "Kliniek", "1015 EA", "NL91 ABNA 0417 1643 00", "12345678", "NL123456789B01")
