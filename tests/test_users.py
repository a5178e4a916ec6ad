"""User administration: accounts, roles, deactivation, password resets and what they do to sessions."""

from __future__ import annotations

import pytest
from conftest import PASSWORD, login, post_form

from backoffice.extensions import db
from backoffice.models import AccessLog, User
from backoffice.users.services import UserError, create_user, reset_password, update_user

NEW = {"email": "Nadia@Clinic.NL", "name": "Nadia de Vries", "role": "therapist",
       "password": "a long enough secret", "confirm": "a long enough secret"}


def _user(app, email: str) -> User | None:
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == email))
        if user is not None:
            db.session.expunge(user)
        return user


def _signed_out(client) -> bool:
    response = client.get("/")
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def _edit(client, user_id: int, **data):
    return post_form(client, f"/users/{user_id}/edit", data)


# ---- creating -------------------------------------------------------------------------------------

def test_admin_creates_a_user_through_the_form(app, as_role):
    client = as_role("admin")
    response = post_form(client, "/users/new", NEW)
    assert response.status_code == 302
    assert response.headers["Location"] == "/users/"
    user = _user(app, "nadia@clinic.nl")
    assert user is not None and user.role == "therapist" and user.active and user.name == "Nadia de Vries"
    assert "nadia@clinic.nl" in client.get("/users/").get_data(as_text=True)
    # The new account can sign in (with the e-mail typed in any case)
    other = app.test_client()
    assert login(other, "NADIA@clinic.nl", "a long enough secret").status_code == 302
    # A new user works in Dutch unless the administrator chose English for them.
    assert user.language == "nl"
    home = other.get("/").get_data(as_text=True)
    assert '<html lang="nl">' in home and "Nadia de Vries (Huidtherapeut)" in home


def test_create_user_service_normalises_and_validates(app):
    with app.app_context():
        user = create_user("  Lotte@Clinic.NL ", "Lotte", "manager", "twelve chars!")
        db.session.commit()
        assert user.email == "lotte@clinic.nl"
        assert user.check_password("twelve chars!")
        # Outside a request (CLI, scripts) the messages are Dutch.
        with pytest.raises(UserError, match="bestaat al een gebruiker"):
            create_user("LOTTE@clinic.nl", "Other", "admin", "long enough password")
        with pytest.raises(UserError, match="minstens 12"):
            create_user("short@clinic.nl", "Short", "admin", "nine char")
        with pytest.raises(UserError, match="Onbekende rol"):
            create_user("boss@clinic.nl", "Boss", "owner", "long enough password")
        with pytest.raises(UserError, match="Onbekende taal"):
            create_user("fr@clinic.nl", "Fr", "admin", "long enough password", language="fr")
        db.session.rollback()
        assert db.session.scalar(db.select(db.func.count(User.id))) == 1


@pytest.mark.parametrize(("changes", "message"), [
    ({"email": "admin@test.nl"}, "already exists"),
    ({"email": "ADMIN@TEST.NL"}, "already exists"),
    ({"password": "too short", "confirm": "too short"}, "at least 12 characters"),
    ({"confirm": "something else entirely"}, "The passwords differ"),
    ({"email": "not-an-address"}, "Enter a valid e-mail address."),
    ({"role": "owner"}, "Not a valid choice"),
    ({"language": "fr"}, "Not a valid choice"),
    ({"name": ""}, "Enter the user"),
])
def test_invalid_new_user_is_refused(app, as_role, changes, message):
    client = as_role("admin")
    response = post_form(client, "/users/new", {**NEW, **changes})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and "invalid-feedback" in html
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(User.id))) == 3  # only the fixture users


def test_create_user_cli_uses_the_service(app):
    runner = app.test_cli_runner()

    def run(email, password):
        return runner.invoke(args=["create-user", "--email", email, "--name", "Cli", "--role", "admin",
                                   "--password", password])

    result = run("Cli@Clinic.nl", "long enough password")
    assert result.exit_code == 0, result.output
    assert _user(app, "cli@clinic.nl").role == "admin"
    result = run("cli@clinic.nl", "long enough password")
    assert result.exit_code != 0 and "bestaat al" in result.output  # the command line speaks Dutch
    result = run("x@clinic.nl", "short")
    assert result.exit_code != 0 and "minstens 12" in result.output


# ---- listing --------------------------------------------------------------------------------------

def _link(html: str, testid: str) -> str:
    return html.split(f'data-testid="{testid}" href="')[1].split('"')[0].replace("&amp;", "&")


def test_user_list_search_and_pagination(app, as_role):
    app.config["PAGE_SIZE"] = 2
    client = as_role("admin")
    html = client.get("/users/").get_data(as_text=True)
    assert "admin@test.nl" in html and "manager@test.nl" in html
    assert "therapist@test.nl" not in html and 'data-testid="previous" href="#"' in html
    second = client.get(_link(html, "next")).get_data(as_text=True)
    assert "therapist@test.nl" in second and "admin@test.nl" not in second
    assert 'data-testid="next" href="#"' in second
    assert "admin@test.nl" in client.get(_link(second, "previous")).get_data(as_text=True)
    # A cursor that does not parse shows the first page.
    assert "admin@test.nl" in client.get("/users/?after=bm9uc2Vuc2U").get_data(as_text=True)
    found = client.get("/users/?q=thera").get_data(as_text=True)
    table = found.split('data-testid="user-table"')[1]
    assert "therapist@test.nl" in table and "admin@test.nl" not in table


@pytest.mark.parametrize("role", ["therapist", "manager"])
@pytest.mark.parametrize("url", ["/users/", "/users/new", "/users/1/edit", "/users/1/password"])
def test_only_admins_manage_users(as_role, role, url):
    client = as_role(role)
    assert client.get(url).status_code == 403


def test_non_admin_cannot_post_user_changes(app, as_role, users):
    client = as_role("therapist")
    therapist_id = _user(app, users["therapist"]).id
    token_page = client.get("/account/password").get_data(as_text=True)
    token = token_page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = client.post(f"/users/{therapist_id}/edit",
                           data={"name": "T", "role": "admin", "active": "y", "csrf_token": token})
    assert response.status_code == 403
    assert _user(app, users["therapist"]).role == "therapist"


# ---- changing, deactivating, sessions -------------------------------------------------------------

def test_deactivating_a_user_ends_their_session(app, as_role, users):
    therapist_client = app.test_client()
    assert login(therapist_client, users["therapist"]).status_code == 302
    assert therapist_client.get("/patients/").status_code == 200
    admin = as_role("admin")
    therapist = _user(app, users["therapist"])
    response = _edit(admin, therapist.id, name=therapist.name, role="therapist")  # "active" unticked
    assert response.status_code == 302
    assert _user(app, users["therapist"]).active is False
    assert _signed_out(therapist_client)
    # ...and cannot sign in again
    assert login(therapist_client, users["therapist"]).status_code == 401
    assert "inactive" in admin.get("/users/").get_data(as_text=True)
    # Reactivating lets them back in
    assert _edit(admin, therapist.id, name=therapist.name, role="therapist", active="y").status_code == 302
    assert login(therapist_client, users["therapist"]).status_code == 302


def test_role_change_ends_sessions(app, as_role, users):
    therapist_client = app.test_client()
    login(therapist_client, users["therapist"])
    assert therapist_client.get("/patients/").status_code == 200
    admin = as_role("admin")
    therapist = _user(app, users["therapist"])
    assert _edit(admin, therapist.id, name=therapist.name, role="manager", active="y").status_code == 302
    assert _signed_out(therapist_client)
    login(therapist_client, users["therapist"])
    assert "(Manager)" in therapist_client.get("/").get_data(as_text=True)
    assert therapist_client.get("/patients/new").status_code == 403


def test_renaming_keeps_the_session(app, as_role, users):
    therapist_client = app.test_client()
    login(therapist_client, users["therapist"])
    admin = as_role("admin")
    therapist = _user(app, users["therapist"])
    assert _edit(admin, therapist.id, name="Sanne Jansen", role="therapist", active="y").status_code == 302
    assert "Sanne Jansen (Therapist)" in therapist_client.get("/").get_data(as_text=True)


@pytest.mark.parametrize(("changes", "message"), [
    ({"role": "admin"}, "cannot deactivate your own account"),
    ({"role": "manager", "active": "y"}, "cannot change your own role"),
])
def test_admin_cannot_lock_themselves_out(app, as_role, users, changes, message):
    client = as_role("admin")
    admin = _user(app, users["admin"])
    response = _edit(client, admin.id, name=admin.name, **changes)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    after = _user(app, users["admin"])
    assert after.role == "admin" and after.active and after.session_version == admin.session_version
    assert client.get("/users/").status_code == 200


def test_last_active_admin_cannot_be_removed_by_the_service(app, users):
    with app.app_context():
        admin = db.session.scalar(db.select(User).where(User.email == users["admin"]))
        with pytest.raises(UserError, match="laatste actieve beheerder"):
            update_user(admin, admin.name, "manager", True)
        second = create_user("second@test.nl", "Second", "admin", "long enough password")
        changed = update_user(admin, admin.name, "manager", True, acting=second)
        assert changed == ["role"] and admin.role == "manager"


def test_update_user_service_ends_sessions_only_when_access_shrinks(app, users):
    with app.app_context():
        therapist = db.session.scalar(db.select(User).where(User.email == users["therapist"]))
        version = therapist.session_version
        update_user(therapist, "New Name", "therapist", True)
        assert therapist.session_version == version
        update_user(therapist, "New Name", "manager", True)
        assert therapist.session_version == version + 1
        update_user(therapist, "New Name", "manager", False)
        assert therapist.session_version == version + 2
        with pytest.raises(UserError, match="naam"):
            update_user(therapist, "  ", "manager", False)


def test_password_reset_ends_sessions(app, as_role, users):
    therapist_client = app.test_client()
    login(therapist_client, users["therapist"])
    admin = as_role("admin")
    therapist = _user(app, users["therapist"])
    url = f"/users/{therapist.id}/password"
    response = post_form(admin, url, {"password": "short", "confirm": "short"})
    assert response.status_code == 422 and "at least 12 characters" in response.get_data(as_text=True)
    assert not _signed_out(therapist_client)
    response = post_form(admin, url, {"password": "brand new password", "confirm": "brand new password"})
    assert response.status_code == 302
    assert _signed_out(therapist_client)
    assert login(therapist_client, users["therapist"], PASSWORD).status_code == 401
    assert login(therapist_client, users["therapist"], "brand new password").status_code == 302


def test_admin_resetting_own_password_stays_signed_in(app, as_role, users):
    client = as_role("admin")
    admin = _user(app, users["admin"])
    url = f"/users/{admin.id}/password"
    assert post_form(client, url, {"password": "brand new password", "confirm": "brand new password"}
                     ).status_code == 302
    assert client.get("/users/").status_code == 200
    with app.app_context():
        user = db.session.get(User, admin.id)
        with pytest.raises(UserError):
            reset_password(user, "short")


def test_user_changes_are_traceable_in_the_access_log(app, as_role, users):
    admin = as_role("admin")
    post_form(admin, "/users/new", NEW)
    therapist = _user(app, users["therapist"])
    _edit(admin, therapist.id, name=therapist.name, role="manager", active="y")
    post_form(admin, f"/users/{therapist.id}/password", {"password": "brand new password",
                                                         "confirm": "brand new password"})
    with app.app_context():
        rows = db.session.scalars(db.select(AccessLog).where(AccessLog.subject.startswith("user "))
                                  .order_by(AccessLog.id)).all()  # not the admin's own sign-in
        assert [(r.action, r.subject, r.detail) for r in rows] == [
            ("create", "user nadia@clinic.nl", "role therapist"),
            ("update", "user therapist@test.nl", "role therapist -> manager"),
            ("update", "user therapist@test.nl", "password reset by administrator"),
        ]
        assert all(r.user_email == "admin@test.nl" and r.patient_id is None for r in rows)
        for row in rows:
            assert "brand new password" not in row.detail and "a long enough secret" not in row.detail


def test_unknown_user_is_404(as_role):
    client = as_role("admin")
    assert client.get("/users/9999/edit").status_code == 404
    assert client.get("/users/9999/password").status_code == 404
