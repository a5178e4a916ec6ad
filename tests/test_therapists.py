"""Therapists and their credential history (NVH, KP) through the web UI."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from io import BytesIO

import factories
import pytest
from conftest import create_user, csrf_token, post_form

from backoffice.clock import clinic_today
from backoffice.domain.credentials import KpLevel
from backoffice.extensions import db
from backoffice.models import KpRegistration, NvhMembership, Therapist, User

TODAY = clinic_today()
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def _therapist(app, name: str, nvh=None, kp=None, agb: str = "90000001") -> int:
    """nvh: (from, until) or None; kp: (level, start, end) or None. tests/factories.py, committed; returns the id."""
    membership = {"nvh_number": f"N-{name}", "nvh_from": nvh[0], "nvh_until": nvh[1]} if nvh else {"nvh_number": None}
    return factories.committed(app, factories.therapist, name, agb, kp=[(kp[1], kp[2], kp[0])] if kp else None,
                               kp_number=f"KP-{name}", **membership)


def _row(html: str, name: str) -> str:
    rows = [row for row in re.findall(r"<tr.*?</tr>", html, re.S) if f">{name}</a>" in row]
    assert len(rows) == 1, f"expected one row for {name}"
    return rows[0]


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(model))


def _post_multipart(client, url, data):
    return post_form(client, url, data, content_type="multipart/form-data")


THERAPIST = {"name": "Sanne de Vries", "agb_code": "90123456", "email": "sanne@kliniek.nl", "active": "y",
             "user_id": ""}
KP = {"kp_number": "KP 4711", "level": "kwaliteitsregister", "period_start": "2024-01-01",
      "period_end": "2028-12-31"}


def test_list_shows_a_credential_badge_per_therapist(app, as_role):
    year = timedelta(days=365)
    open_nvh = (TODAY - 5 * year, None)
    _therapist(app, "Valid", open_nvh, ("kwaliteitsregister", TODAY - year, TODAY + 3 * year))
    _therapist(app, "Expiring", open_nvh, ("kwaliteitsregister", TODAY - year, TODAY + timedelta(days=30)))
    _therapist(app, "Expired", (TODAY - 5 * year, TODAY - timedelta(days=10)),
               ("kwaliteitsregister", TODAY - 5 * year, TODAY - timedelta(days=10)))
    _therapist(app, "Diploma", open_nvh, ("diplomaregister", TODAY - year, TODAY + 3 * year))
    _therapist(app, "Nothing")

    html = as_role("manager").get("/therapists/").get_data(as_text=True)

    assert 'data-badge="valid"' in _row(html, "Valid")
    expiring = _row(html, "Expiring")
    assert 'data-badge="expiring"' in expiring and "expires in 30 days" in expiring
    expired = _row(html, "Expired")
    assert 'data-badge="expired"' in expired
    assert (TODAY - timedelta(days=10)).strftime("%d-%m-%Y") in expired
    assert 'data-badge="diploma only"' in _row(html, "Diploma")
    assert 'data-badge="none"' in _row(html, "Nothing")


def test_list_searches_by_name_and_agb(app, as_role):
    _therapist(app, "Anna Jansen", agb="90111111")
    _therapist(app, "Bram Bakker", agb="90222222")
    client = as_role("therapist")
    by_name = client.get("/therapists/?q=jans").get_data(as_text=True)
    assert "Anna Jansen" in by_name and "Bram Bakker" not in by_name
    by_agb = client.get("/therapists/?q=90222222").get_data(as_text=True)
    assert "Bram Bakker" in by_agb and "Anna Jansen" not in by_agb


def test_list_is_paginated(app, as_role):
    app.config["PAGE_SIZE"] = 2
    for name in ("A1", "A2", "A3"):
        _therapist(app, name)
    client = as_role("admin")
    first = client.get("/therapists/").get_data(as_text=True)
    link = first.split('data-testid="next" href="')[1].split('"')[0].replace("&amp;", "&")
    second = client.get(link).get_data(as_text=True)
    assert ">A1</a>" in first and ">A2</a>" in first and ">A3</a>" not in first
    assert ">A3</a>" in second and ">A1</a>" not in second and 'data-testid="next" href="#"' in second


@pytest.mark.parametrize("agb", ["1234567", "123456789", "9012345x"])
def test_invalid_agb_is_refused_and_nothing_saved(app, as_role, agb):
    response = post_form(as_role("admin"), "/therapists/new", {**THERAPIST, "agb_code": agb})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "An AGB code has exactly 8 digits" in html and "invalid-feedback" in html
    assert 'value="Sanne de Vries"' in html  # what was typed is kept
    assert _count(app, Therapist) == 0


def test_valid_therapist_is_saved_and_linked_to_a_free_therapist_account(app, as_role):
    client = as_role("admin")
    free_id = create_user(app, "eva@kliniek.nl", "therapist", name="Eva")
    form = client.get("/therapists/new").get_data(as_text=True)
    assert "eva@kliniek.nl" in form
    assert "manager@test.nl" not in form  # only therapist-role accounts can be linked

    response = post_form(client, "/therapists/new",
                         {**THERAPIST, "agb_code": "9012 3456", "user_id": free_id})
    assert response.status_code == 302
    with app.app_context():
        therapist = db.session.scalars(db.select(Therapist)).one()
        assert (therapist.name, therapist.agb_code, therapist.email) == ("Sanne de Vries", "90123456",
                                                                         "sanne@kliniek.nl")
        assert therapist.active and therapist.user_id == free_id
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Sanne de Vries" in detail and "eva@kliniek.nl" in detail

    # The account is taken now: it is not offered again, and posting it anyway is refused.
    assert "eva@kliniek.nl" not in client.get("/therapists/new").get_data(as_text=True)
    again = post_form(client, "/therapists/new", {**THERAPIST, "name": "Other", "user_id": free_id})
    assert again.status_code == 422
    assert _count(app, Therapist) == 1


def test_edit_therapist(app, as_role):
    therapist_id = _therapist(app, "Old Name")
    client = as_role("admin")
    edit_url = f"/therapists/{therapist_id}/edit"
    assert 'value="Old Name"' in client.get(edit_url).get_data(as_text=True)
    response = post_form(client, edit_url, {**THERAPIST, "name": "New Name", "active": ""})
    assert response.status_code == 302
    with app.app_context():
        therapist = db.session.get(Therapist, therapist_id)
        assert therapist.name == "New Name" and not therapist.active


def test_kp_registration_with_end_before_start_is_refused(app, as_role):
    therapist_id = _therapist(app, "Sanne")
    response = _post_multipart(as_role("admin"), f"/therapists/{therapist_id}/kp/new",
                               {**KP, "period_start": "2025-06-01", "period_end": "2025-05-31"})
    assert response.status_code == 422
    assert "The end date lies before the start date." in response.get_data(as_text=True)
    assert _count(app, KpRegistration) == 0


def test_evidence_upload_and_download_roundtrip(app, as_role, users):
    therapist_id = _therapist(app, "Sanne")
    client = as_role("admin")
    before = datetime.now(UTC)
    response = _post_multipart(client, f"/therapists/{therapist_id}/kp/new",
                               {**KP, "evidence_file": (BytesIO(PNG), "KP extract 2024.png")})
    assert response.status_code == 302
    with app.app_context():
        registration = db.session.scalars(db.select(KpRegistration)).one()
        admin = db.session.scalars(db.select(User).where(User.email == users["admin"])).one()
        assert registration.kp_number == "KP 4711"
        assert registration.period_start == date(2024, 1, 1) and registration.period_end == date(2028, 12, 31)
        assert registration.verified_by_id == admin.id
        assert before <= registration.verified_at <= datetime.now(UTC)
        assert registration.evidence_mimetype == "image/png"
        assert registration.evidence_filename == "KP_extract_2024.png"
        registration_id = registration.id

    detail = client.get(f"/therapists/{therapist_id}").get_data(as_text=True)
    kp_table = detail[detail.index('data-testid="kp-history"'):]
    assert "KP 4711" in kp_table and "01-01-2024" in kp_table and "31-12-2028" in kp_table
    assert "Admin" in kp_table and "KP_extract_2024.png" in kp_table

    # A therapist (read-only here) can download it.
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    reader = as_role("therapist")
    download = reader.get(f"/therapists/{therapist_id}/kp/{registration_id}/evidence")
    assert download.status_code == 200
    assert download.data == PNG
    assert download.mimetype == "image/png"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert "no-store" in download.headers["Cache-Control"]


def test_editing_a_registration_keeps_or_replaces_its_evidence(app, as_role):
    therapist_id = _therapist(app, "Sanne")
    client = as_role("admin")
    _post_multipart(client, f"/therapists/{therapist_id}/kp/new",
                    {**KP, "evidence_file": (BytesIO(PNG), "a.png")})
    with app.app_context():
        registration_id = db.session.scalars(db.select(KpRegistration.id)).one()
    url = f"/therapists/{therapist_id}/kp/{registration_id}/edit"
    assert "a.png" in client.get(url).get_data(as_text=True)

    response = _post_multipart(client, url, {**KP, "level": "diplomaregister"})
    assert response.status_code == 302
    download_url = f"/therapists/{therapist_id}/kp/{registration_id}/evidence"
    assert client.get(download_url).data == PNG

    response = _post_multipart(client, url, {**KP, "evidence_file": (BytesIO(PDF), "new.pdf")})
    assert response.status_code == 302
    download = client.get(download_url)
    assert download.data == PDF and download.mimetype == "application/pdf"
    with app.app_context():
        assert db.session.get(KpRegistration, registration_id).level == "kwaliteitsregister"


@pytest.mark.parametrize(("filename", "content", "message"), [
    ("evidence.exe", PDF, "Upload a PDF, PNG or JPG file."),
    ("evidence.pdf", b"MZ\x90\x00 not a pdf", "not a readable PDF, PNG or JPG"),
    ("evidence.pdf", b"", "empty"),
])
def test_evidence_of_the_wrong_kind_is_refused(app, as_role, filename, content, message):
    therapist_id = _therapist(app, "Sanne")
    response = _post_multipart(as_role("admin"), f"/therapists/{therapist_id}/kp/new",
                               {**KP, "evidence_file": (BytesIO(content), filename)})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _count(app, KpRegistration) == 0


def test_evidence_larger_than_the_upload_limit_is_refused(app, as_role):
    therapist_id = _therapist(app, "Sanne")
    client = as_role("admin")
    app.config["MAX_CONTENT_LENGTH"] = 4096
    response = _post_multipart(client, f"/therapists/{therapist_id}/kp/new",
                               {**KP, "evidence_file": (BytesIO(PDF + b"0" * 5000), "big.pdf")})
    assert response.status_code == 413
    assert _count(app, KpRegistration) == 0


def test_nvh_membership_add_edit_delete(app, as_role):
    therapist_id = _therapist(app, "Sanne")
    client = as_role("admin")
    refused = post_form(client, f"/therapists/{therapist_id}/nvh/new",
                        {"member_number": "123", "valid_from": "2025-01-01", "valid_until": "2024-12-31"})
    assert refused.status_code == 422
    assert "The end date lies before the start date." in refused.get_data(as_text=True)
    assert _count(app, NvhMembership) == 0

    added = post_form(client, f"/therapists/{therapist_id}/nvh/new",
                      {"member_number": "123", "valid_from": "2025-01-01", "valid_until": ""})
    assert added.status_code == 302
    with app.app_context():
        membership = db.session.scalars(db.select(NvhMembership)).one()
        assert membership.valid_until is None
        membership_id = membership.id
    detail = client.get(f"/therapists/{therapist_id}").get_data(as_text=True)
    nvh_table = detail[detail.index('data-testid="nvh-history"'):detail.index('data-testid="kp-history"')]
    assert "123" in nvh_table and "01-01-2025" in nvh_table and "open" in nvh_table

    edited = post_form(client, f"/therapists/{therapist_id}/nvh/{membership_id}/edit",
                       {"member_number": "124", "valid_from": "2025-01-01", "valid_until": "2025-12-31"})
    assert edited.status_code == 302
    with app.app_context():
        membership = db.session.get(NvhMembership, membership_id)
        assert (membership.member_number, membership.valid_until) == ("124", date(2025, 12, 31))

    delete_url = f"/therapists/{therapist_id}/nvh/{membership_id}/delete"
    assert client.get(delete_url).status_code == 405  # deletes are POST-only
    assert client.post(delete_url).status_code == 400  # and need the CSRF token
    assert _count(app, NvhMembership) == 1
    deleted = post_form(client, delete_url, {}, token_from=f"/therapists/{therapist_id}")
    assert deleted.status_code == 302
    assert _count(app, NvhMembership) == 0


def test_kp_registration_delete(app, as_role):
    therapist_id = _therapist(app, "Sanne", kp=("kwaliteitsregister", date(2024, 1, 1), date(2028, 12, 31)))
    with app.app_context():
        registration_id = db.session.scalars(db.select(KpRegistration.id)).one()
    client = as_role("admin")
    response = post_form(client, f"/therapists/{therapist_id}/kp/{registration_id}/delete", {},
                         token_from=f"/therapists/{therapist_id}")
    assert response.status_code == 302
    assert _count(app, KpRegistration) == 0


def test_records_of_another_therapist_are_not_reachable(app, as_role):
    owner = _therapist(app, "Owner", nvh=(date(2020, 1, 1), None),
                       kp=("kwaliteitsregister", date(2024, 1, 1), date(2028, 12, 31)))
    other = _therapist(app, "Other")
    with app.app_context():
        membership_id = db.session.scalars(db.select(NvhMembership.id)).one()
        registration_id = db.session.scalars(db.select(KpRegistration.id)).one()
    client = as_role("admin")
    assert client.get(f"/therapists/{other}/nvh/{membership_id}/edit").status_code == 404
    assert client.get(f"/therapists/{other}/kp/{registration_id}/evidence").status_code == 404
    assert client.get(f"/therapists/{owner}/kp/{registration_id}/evidence").status_code == 404  # no file
    assert client.get("/therapists/999").status_code == 404


def test_check_on_date_shows_eligibility_and_reasons(app, as_role):
    therapist_id = _therapist(app, "Sanne", nvh=(date(2020, 1, 1), None),
                              kp=("kwaliteitsregister", date(2024, 1, 1), date(2028, 12, 31)))
    client = as_role("manager")

    html = client.get(f"/therapists/{therapist_id}?on=2025-03-15").get_data(as_text=True)
    assert 'data-eligible="yes"' in html
    assert "KP kwaliteitsregister (no. KP-Sanne) on 15-03-2025." in html

    html = client.get(f"/therapists/{therapist_id}?on=2023-06-01").get_data(as_text=True)
    assert 'data-eligible="no"' in html
    # The claim check's words: what is missing and since when.
    assert "KP registration only from 01-01-2024" in html

    html = client.get(f"/therapists/{therapist_id}?on=01-01-2029").get_data(as_text=True)
    assert 'data-eligible="no"' in html and "KP registration ended on 31-12-2028" in html
    assert "NVH member" in html  # what was in order is said too

    html = client.get(f"/therapists/{therapist_id}?on=15-03-2025x").get_data(as_text=True)
    assert "data-eligible" not in html and "Enter a valid date." in html

    html = client.get(f"/therapists/{therapist_id}").get_data(as_text=True)
    # The day is shown and typed the Dutch way (dd-mm-jjjj), with a calendar picker.
    assert "data-eligible" not in html and f'value="{TODAY:%d-%m-%Y}"' in html and 'data-picker="date"' in html


WRITE_ROUTES = [
    ("GET", "/therapists/new"),
    ("POST", "/therapists/new"),
    ("GET", "/therapists/{t}/edit"),
    ("POST", "/therapists/{t}/edit"),
    ("GET", "/therapists/{t}/nvh/new"),
    ("POST", "/therapists/{t}/nvh/{m}/edit"),
    ("POST", "/therapists/{t}/nvh/{m}/delete"),
    ("GET", "/therapists/{t}/kp/new"),
    ("POST", "/therapists/{t}/kp/{r}/edit"),
    ("POST", "/therapists/{t}/kp/{r}/delete"),
]


@pytest.mark.parametrize("role", ["therapist", "manager"])
def test_read_only_roles_can_read_but_not_write(app, as_role, role):
    therapist_id = _therapist(app, "Sanne", nvh=(date(2020, 1, 1), None),
                              kp=("kwaliteitsregister", date(2024, 1, 1), date(2028, 12, 31)))
    with app.app_context():
        ids = {"t": therapist_id, "m": db.session.scalars(db.select(NvhMembership.id)).one(),
               "r": db.session.scalars(db.select(KpRegistration.id)).one()}
    client = as_role(role)
    listing = client.get("/therapists/")
    assert listing.status_code == 200 and "Sanne" in listing.get_data(as_text=True)
    detail = client.get(f"/therapists/{therapist_id}")
    assert detail.status_code == 200
    html = detail.get_data(as_text=True)
    assert "/nvh/new" not in html and "/delete" not in html
    assert "New therapist" not in listing.get_data(as_text=True)

    token = csrf_token(client, "/therapists/")
    for method, template in WRITE_ROUTES:
        url = template.format(**ids)
        data = {**THERAPIST, **KP, "member_number": "9", "valid_from": "2020-01-01", "csrf_token": token}
        response = client.get(url) if method == "GET" else client.post(url, data=data)
        assert response.status_code == 403, (method, url)
    assert _count(app, NvhMembership) == 1 and _count(app, KpRegistration) == 1
    with app.app_context():
        assert db.session.get(Therapist, therapist_id).name == "Sanne"


def test_signed_out_visitor_is_sent_to_login(client, app):
    response = client.get("/therapists/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_services_take_typed_inputs_and_refuse_evidence_that_is_not_a_document(app, users):
    from backoffice.errors import ServiceError
    from backoffice.therapists import services

    with app.app_context():
        verifier = db.session.scalar(db.select(User).where(User.email == users["admin"]))
        therapist = services.save_therapist(None, services.TherapistInput("Sanne de Vries", agb_code="90123456"))
        services.save_membership(therapist, None, services.MembershipInput("N-1", date(2020, 1, 1)))
        registration = services.save_registration(therapist, None, services.CredentialInput(
            "KP 4711", KpLevel.KWALITEITSREGISTER, date(2024, 1, 1), date(2028, 12, 31),
            evidence=services.Evidence("../../register extract.png", PNG)), verifier)
        assert (registration.level, registration.verified_by_id) == ("kwaliteitsregister", verifier.id)
        assert (registration.evidence_mimetype, registration.evidence_filename) == ("image/png",
                                                                                    "register_extract.png")
        # Saved again without a file: the stored evidence is kept.
        services.save_registration(therapist, registration, services.CredentialInput(
            "KP 4711", KpLevel.KWALITEITSREGISTER, date(2024, 1, 1), date(2029, 12, 31)), verifier)
        assert registration.evidence == PNG and registration.period_end == date(2029, 12, 31)
        with pytest.raises(services.EvidenceRefused) as refused:
            services.save_registration(therapist, registration, services.CredentialInput(
                "KP 4711", KpLevel.KWALITEITSREGISTER, date(2024, 1, 1), date(2029, 12, 31),
                evidence=services.Evidence("extract.pdf", b"MZ not a pdf")), verifier)
        assert isinstance(refused.value, ServiceError)
        assert [m.valid_until for m in therapist.nvh_memberships] == [None] and therapist.active
