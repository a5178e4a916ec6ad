"""Deny-by-default routing, the role matrix, CSRF, session revocation, cookies, headers and sign-in throttling."""

from __future__ import annotations

from datetime import date

import pytest
from conftest import PASSWORD, csrf_token, login, make_test_app, post_form
from flask import Blueprint

from backoffice.domain.roles import PUBLIC, ROLE_PERMISSIONS, Permission, Role
from backoffice.extensions import db
from backoffice.models import Patient
from backoffice.security import required_permission

# The language switch is public too: a visitor chooses the language of the sign-in page (backoffice/i18n.py).
# So is the health check a monitor polls (backoffice/health: no patient data).
# And the second step of signing in (its code page and its cancel): nobody is signed in there yet.
PUBLIC_ENDPOINTS = {"auth.login", "i18n.set_language", "static", "bootstrap.static", "health.healthz",
                    "auth.two_factor_code", "auth.two_factor_cancel"}


def _example_url(rule) -> str:
    """A concrete URL for a rule: 1 for every argument, a real file for static routes."""
    values = dict.fromkeys(rule.arguments, 1)
    if "filename" in values:
        values["filename"] = "css/bootstrap.min.css"
    return rule.build(values, append_unknown=False)[1]


def test_every_route_names_its_permission():
    app = make_test_app("sqlite")
    unlabeled = [rule.endpoint for rule in app.url_map.iter_rules()
                 if required_permission(app, rule.endpoint) is None]
    assert unlabeled == [], f"routes without an explicit permission: {unlabeled}"
    public = {rule.endpoint for rule in app.url_map.iter_rules() if required_permission(app, rule.endpoint) == PUBLIC}
    assert public == PUBLIC_ENDPOINTS
    known = {str(p) for p in Permission} | {PUBLIC}
    for rule in app.url_map.iter_rules():
        assert required_permission(app, rule.endpoint) in known, rule.endpoint


def test_an_unlabeled_route_is_refused(client, users):
    app = client.application
    bp = Blueprint("forgotten", __name__)
    bp.add_url_rule("/forgotten", "forgotten", lambda: "secret data")
    app.register_blueprint(bp)
    login(client, users["admin"])
    response = client.get("/forgotten")
    assert response.status_code == 403
    assert b"secret data" not in response.data


def test_every_protected_get_route_redirects_anonymous_users_to_login(client):
    for rule in client.application.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS or "GET" not in rule.methods:
            continue
        response = client.get(_example_url(rule))
        assert response.status_code == 302, rule.rule
        assert response.headers["Location"].startswith("/login"), rule.rule


def _role_can_reach(client, url: str) -> int:
    return client.get(url).status_code


@pytest.mark.parametrize("role", ["admin", "therapist", "manager"])
def test_role_matrix_on_every_get_route(client, users, role):
    """Walk every GET route as each role: 403 exactly where the role lacks the route's permission."""
    login(client, users[role])
    app = client.application
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        permission = required_permission(app, rule.endpoint)
        status = client.get(_example_url(rule)).status_code
        if Permission(permission) in ROLE_PERMISSIONS[Role(role)]:
            assert status != 403, f"{role} refused on {rule.rule}"
        else:
            assert status == 403, f"{role} reached {rule.rule} ({status}) without {permission}"


def test_role_matrix_as_written():
    admin, therapist, manager = (ROLE_PERMISSIONS[r] for r in (Role.ADMIN, Role.THERAPIST, Role.MANAGER))
    assert admin == frozenset(Permission)
    assert Permission.PATIENTS_WRITE in therapist and Permission.USERS_MANAGE not in therapist
    assert not any(p.value.endswith(".write") for p in manager)
    assert Permission.REPORTS_READ in manager and Permission.PATIENTS_READ in manager


def test_manager_cannot_create_patients(app, client, users):
    """A complete, valid form with a valid CSRF token: only the permission can refuse it (the admin's same post
    is stored, which proves the form and token would pass)."""
    data = {"first_name": "Fleur", "last_name": "Berg", "date_of_birth": "1991-04-12", "street": "Keizersgracht 12",
            "postcode": "1015cs", "city": "Amsterdam", "bsn": "111222333", "id_document_type": "id_card",
            "id_document_number": "IXB12345"}
    login(client, users["manager"])
    assert client.get("/patients/new").status_code == 403
    token = csrf_token(client, "/")  # from the sign-out form on every page
    assert client.post("/patients/new", data={**data, "csrf_token": token}).status_code == 403
    assert _patient_count(app) == 0
    admin = app.test_client()
    login(admin, users["admin"])
    assert admin.post("/patients/new", data={**data, "csrf_token": csrf_token(admin, "/")}).status_code == 302
    assert _patient_count(app) == 1


def _patient_count(app) -> int:
    with app.app_context():
        return len(db.session.scalars(db.select(Patient.id)).all())


def test_forms_without_csrf_token_are_refused(client, users):
    # The login form itself
    response = client.post("/login", data={"email": users["admin"], "password": PASSWORD})
    assert response.status_code == 400
    assert "Formulier verlopen" in response.get_data(as_text=True)  # not signed in: Dutch
    login(client, users["admin"])
    response = client.post("/patients/new", data={"first_name": "A", "last_name": "B", "date_of_birth": "1990-01-01"})
    assert response.status_code == 400
    response = client.post("/logout")
    assert response.status_code == 400
    assert client.get("/patients/").status_code == 200  # still signed in: the forged logout did nothing


def test_csrf_token_from_another_session_is_refused(app, users):
    first, second = app.test_client(), app.test_client()
    login(first, users["admin"])
    login(second, users["admin"])
    stolen = csrf_token(first, "/patients/new")
    response = second.post("/patients/new", data={"first_name": "A", "last_name": "B",
                                                 "date_of_birth": "1990-01-01", "csrf_token": stolen})
    assert response.status_code == 400


def test_logout_ends_the_session_even_when_the_cookie_is_replayed(app, users):
    client = app.test_client()
    login(client, users["therapist"])
    cookie = client.get_cookie("backoffice_session").value
    assert client.get("/patients/").status_code == 200
    assert post_form(client, "/logout", {}, token_from="/patients/").status_code == 302
    thief = app.test_client()
    thief.set_cookie("backoffice_session", cookie)
    response = thief.get("/patients/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_logout_ends_sessions_in_other_browsers(app, users):
    laptop, desk = app.test_client(), app.test_client()
    login(laptop, users["admin"])
    login(desk, users["admin"])
    post_form(laptop, "/logout", {}, token_from="/")
    assert desk.get("/patients/").status_code == 302


def test_password_change_ends_other_sessions_but_keeps_this_one(app, users):
    mine, other = app.test_client(), app.test_client()
    login(mine, users["manager"])
    login(other, users["manager"])
    response = post_form(mine, "/account/password", {
        "current_password": PASSWORD, "new_password": "a much longer one", "confirm": "a much longer one"})
    assert response.status_code == 302
    assert mine.get("/patients/").status_code == 200
    assert other.get("/patients/").status_code == 302
    fresh = app.test_client()
    assert login(fresh, users["manager"]).status_code == 401
    assert login(fresh, users["manager"], "a much longer one").status_code == 302


def test_wrong_password_and_throttling(app, users):
    client = app.test_client()
    for _ in range(app.config["LOGIN_DELAY_AFTER_FAILURES"]):
        response = login(client, users["admin"], "wrong password")
        assert response.status_code == 401
        assert "verkeerd wachtwoord" in response.get_data(as_text=True)
    # Now even the right password waits (a progressive delay, not a lock: tests/test_sign_in.py has the details).
    response = login(client, users["admin"])
    assert response.status_code == 429
    assert "Te veel" in response.get_data(as_text=True) or "Too many failed attempts" in response.get_data(as_text=True)
    # Another account from another address is not affected.
    other = app.test_client()
    response = other.post("/login", environ_base={"REMOTE_ADDR": "10.1.2.3"},
                          data={"email": users["manager"], "password": PASSWORD,
                                "csrf_token": csrf_token(other, "/login")})
    assert response.status_code == 302


def test_login_redirects_only_to_local_pages(client, users):
    token = csrf_token(client, "/login")
    response = client.post("/login?next=https://evil.example/steal",
                           data={"email": users["admin"], "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/"
    post_form(client, "/logout", {}, token_from="/")
    token = csrf_token(client, "/login")
    response = client.post("/login?next=/patients/",
                           data={"email": users["admin"], "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/patients/"


def test_inactive_user_cannot_sign_in(app, users):
    from backoffice.extensions import db
    from backoffice.models import User

    with app.app_context():
        user = db.session.scalar(db.select(User).filter_by(email=users["therapist"]))
        user.active = False
        db.session.commit()
    assert login(app.test_client(), users["therapist"]).status_code == 401


def test_security_headers_and_cookie_flags(client, users):
    response = login(client, users["admin"])
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/patients/")
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"


def test_production_sets_secure_cookies(monkeypatch, tmp_path):
    import config

    monkeypatch.setenv("BACKOFFICE_ENV", "production")
    monkeypatch.setenv("MAIL_SERVER", "smtp.example.nl")  # production sends e-mail by SMTP (tests/test_mail.py)
    monkeypatch.setenv("MAIL_FROM", "info@example.nl")
    monkeypatch.setenv("SECRET_KEY", "kX3vQ9pL2mN8rT5wY7zB1cD4fG6hJ0aS")   # production refuses weak keys
    monkeypatch.setenv("FIELD_ENCRYPTION_KEY", "Zr8Kp2Lm5Nq9Tv3Wx6Yb1Cd4Fg7Hj0Ae")
    settings = config.load(str(tmp_path))
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["REMEMBER_COOKIE_SECURE"] is True


def test_on_behalf_of_is_recorded_in_the_access_log(app, as_role):
    from backoffice.extensions import db
    from backoffice.models import AccessLog, Patient, Therapist

    with app.app_context():
        db.session.add(Therapist(name="Sanne de Vries", agb_code="90012345"))
        patient = Patient(first_name="A", last_name="B", date_of_birth=date(1990, 1, 1))
        db.session.add(patient)
        db.session.commit()
        patient_id = patient.id
    client = as_role("therapist")
    response = post_form(client, "/account/on-behalf", {"on_behalf_of": "Nobody Known"})
    assert response.status_code == 422
    response = post_form(client, "/account/on-behalf", {"on_behalf_of": "Sanne de Vries"})
    assert response.status_code == 302
    assert "for Sanne de Vries" in client.get("/").get_data(as_text=True)
    client.get(f"/patients/{patient_id}")
    with app.app_context():
        row = db.session.scalars(db.select(AccessLog).order_by(AccessLog.id.desc())).first()
        assert (row.action, row.patient_id, row.on_behalf_of) == ("view", patient_id, "Sanne de Vries")


# ---- can() for templates and the typed current user (security.py) --------------------------------------


def _render_as(app, email: str | None, source: str) -> tuple[str, list[str]]:
    """Render `source` in a request signed in as `email` (None: anonymous); returns the text and the SQL run
    while rendering."""
    from flask import render_template_string
    from flask_login import login_user
    from sqlalchemy import event

    from backoffice.models import User

    statements: list[str] = []
    with app.test_request_context("/"):
        if email is not None:
            login_user(db.session.scalar(db.select(User).filter_by(email=email)))

        def remember(conn, cursor, statement, *args):
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", remember)
        try:
            text = render_template_string(source)
        finally:
            event.remove(db.engine, "before_cursor_execute", remember)
    return text, statements


def test_can_in_a_template_answers_per_role_without_a_query(app, users):
    source = "{{ can('patients.write') }}|{{ can('users.manage') }}|{{ can('no.such.permission') }}"
    assert _render_as(app, users["therapist"], source) == ("True|False|False", [])
    assert _render_as(app, users["admin"], source) == ("True|True|False", [])
    assert _render_as(app, users["manager"], source)[0] == "False|False|False"
    assert _render_as(app, None, source) == ("False|False|False", [])


def test_can_is_the_one_app_wide_context_processor_of_security(app):
    from backoffice import security

    assert security._template_helpers in app.template_context_processors[None]
    assert security._template_helpers()["can"] is security.can


def test_current_staff_is_the_typed_user_and_refuses_anonymous(app, users):
    from flask_login import login_user
    from werkzeug.exceptions import Unauthorized

    from backoffice.models import User
    from backoffice.security import current_staff

    with app.test_request_context("/"):
        with pytest.raises(Unauthorized):
            current_staff()
        user = db.session.scalar(db.select(User).filter_by(email=users["manager"]))
        login_user(user)
        staff = current_staff()
        assert type(staff) is User  # the model itself, not the current_user proxy
        assert staff is user and staff.role == "manager"


def test_a_refused_sign_in_still_stores_its_failure(app, users):
    from backoffice.models import LoginAttempt

    assert login(app.test_client(), users["admin"], "wrong password").status_code == 401
    with app.app_context():
        attempts = db.session.scalars(db.select(LoginAttempt)).all()
        assert [a.email for a in attempts] == [users["admin"]]
