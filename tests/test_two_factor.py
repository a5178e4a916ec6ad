"""Two-factor sign-in (TOTP, recovery codes, who must, the demo exception) and re-authentication before a full BSN.

These tests run with the real rule (TWO_FACTOR_REQUIRED_ROLES None); the rest of the suite switches it off in
conftest.make_test_app so that it can sign in by password alone."""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import pyotp
import pytest
from conftest import PASSWORD, create_user, csrf_token, login, make_test_app, post_form

from backoffice.auth import twofactor
from backoffice.clock import freeze
from backoffice.extensions import db
from backoffice.models import AccessLog, Patient, Practice, RecoveryCode, User
from backoffice.patients.services import PatientInput, create_patient

BSN = "111222333"


@pytest.fixture
def real_app(backend, request):
    """The app with the production rule for who needs a second factor."""
    schema = request.getfixturevalue("postgres_schema") if backend == "postgresql" else None
    app = make_test_app(backend, schema, TWO_FACTOR_REQUIRED_ROLES=None)
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


class Clock:
    """Moves "now" for the app and for the codes computed here; starts at the real time (cookies stay valid)."""

    def __init__(self):
        self.now = datetime.now(UTC).replace(microsecond=0)

    @contextmanager
    def at(self, seconds_later: float = 0):
        self.now += timedelta(seconds=seconds_later)
        with freeze(self.now):
            yield self.now


@pytest.fixture
def clock():
    return Clock()


def _user(app, email: str) -> User:
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == email))
        db.session.expunge(user)
        return user


def _code(secret: str, moment: datetime) -> str:
    return pyotp.TOTP(secret).at(moment)


def enrol(client, moment: datetime) -> tuple[str, list[str]]:
    """On the enrolment page: read the key, confirm with a code; the key and the recovery codes shown once."""
    page = client.get("/account/two-factor").get_data(as_text=True)
    secret = re.search(r'data-testid="two-factor-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    response = post_form(client, "/account/two-factor", {"code": _code(secret, moment)})
    assert response.status_code == 200
    codes = re.findall(r"<li>([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})</li>", response.get_data(as_text=True))
    return secret, codes


def sign_in_with_code(client, email: str, code: str):
    response = login(client, email)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login/code")
    return post_form(client, "/login/code", {"code": code})


def test_an_admin_must_enrol_before_anything_else(real_app, clock):
    client = real_app.test_client()
    create_user(real_app, "admin@test.nl", "admin")
    with clock.at():
        response = login(client, "admin@test.nl")
        assert response.status_code == 302  # the password is right: signed in, but only to the enrolment page
        response = client.get("/patients/")
        assert response.status_code == 302 and response.headers["Location"] == "/account/two-factor"
        page = client.get("/account/two-factor").get_data(as_text=True)
        assert 'src="data:image/svg+xml' in page and "Your role requires two-factor sign-in" in page
        secret = re.search(r'data-testid="two-factor-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
        # A reload shows the same key: the QR code scanned a moment ago stays valid.
        assert secret in client.get("/account/two-factor").get_data(as_text=True).replace(" ", "")
        wrong = post_form(client, "/account/two-factor", {"code": "000000" if _code(secret, clock.now) != "000000"
                                                          else "111111"})
        assert wrong.status_code == 422 and "This code is not right" in wrong.get_data(as_text=True)
        assert client.get("/patients/").status_code == 302
        response = post_form(client, "/account/two-factor", {"code": _code(secret, clock.now)})
        codes = re.findall(r"<li>([a-z2-7]{4}(?:-[a-z2-7]{4}){3})</li>", response.get_data(as_text=True))
        assert len(set(codes)) == 10
        assert client.get("/patients/").status_code == 200
    with real_app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == "admin@test.nl"))
        assert user.two_factor_enabled and secret not in (user.totp_secret or "")  # stored encrypted
        hashes = db.session.scalars(db.select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)).all()
        assert len(hashes) == 10 and not set(hashes) & {c.replace("-", "") for c in codes}  # only hashes stored
        entry = db.session.scalars(db.select(AccessLog).where(AccessLog.subject == f"user {user.id} two-factor")).one()
        assert entry.detail == "two-factor sign-in turned on"


def test_sign_in_asks_for_the_code_and_a_code_is_taken_once(real_app, clock):
    client = real_app.test_client()
    create_user(real_app, "manager@test.nl", "manager")
    with clock.at():
        login(client, "manager@test.nl")
        secret, _codes = enrol(client, clock.now)
        post_form(client, "/logout", {}, token_from="/")
    with clock.at(60):
        response = login(client, "manager@test.nl")
        assert response.headers["Location"].startswith("/login/code")
        # Pending: not signed in; no page but the code page (and its cancel) answers.
        assert client.get("/patients/").headers["Location"].startswith("/login")
        assert client.get("/account/two-factor").headers["Location"].startswith("/login")
        assert "Aanmelden in twee stappen" in client.get("/login/code").get_data(as_text=True)  # Dutch by default
        response = post_form(client, "/login/code", {"code": "12345x"})
        assert response.status_code == 422
        code = _code(secret, clock.now)
        response = post_form(client, "/login/code", {"code": code})
        assert response.status_code == 302
        assert client.get("/patients/").status_code == 200
        post_form(client, "/logout", {}, token_from="/")
        # The same code again, within its window: refused (seen over a shoulder, it is worth nothing).
        response = sign_in_with_code(client, "manager@test.nl", code)
        assert response.status_code == 422 and "al gebruikt" in response.get_data(as_text=True)
    with clock.at(30):  # the next step's code is accepted
        response = post_form(client, "/login/code", {"code": _code(secret, clock.now)})
        assert response.status_code == 302 and client.get("/patients/").status_code == 200


def test_a_recovery_code_signs_in_once(real_app, clock):
    client = real_app.test_client()
    create_user(real_app, "admin@test.nl", "admin")
    with clock.at():
        login(client, "admin@test.nl")
        _secret, codes = enrol(client, clock.now)
        post_form(client, "/logout", {}, token_from="/")
        response = sign_in_with_code(client, "admin@test.nl", codes[3].upper().replace("-", " "))
        assert response.status_code == 302 and client.get("/patients/").status_code == 200
        post_form(client, "/logout", {}, token_from="/")
        response = sign_in_with_code(client, "admin@test.nl", codes[3])
        assert response.status_code == 422
    user = _user(real_app, "admin@test.nl")
    with real_app.app_context():
        assert twofactor.recovery_codes_left(db.session.get(User, user.id)) == 9


def test_wrong_codes_send_back_to_the_password(real_app, clock):
    client = real_app.test_client()
    create_user(real_app, "admin@test.nl", "admin")
    with clock.at():
        login(client, "admin@test.nl")
        secret, _codes = enrol(client, clock.now)
        post_form(client, "/logout", {}, token_from="/")
    with clock.at(60):
        login(client, "admin@test.nl")
        pending_cookie = client.get_cookie("backoffice_session").value
        right = _code(secret, clock.now)
        wrong = "999999" if right != "999999" else "888888"
        for _attempt in range(4):
            assert post_form(client, "/login/code", {"code": wrong}).status_code == 422
        response = post_form(client, "/login/code", {"code": wrong})
        assert response.status_code == 302 and response.headers["Location"] == "/login"
        # The code page now sends to the password, even with the right code...
        assert client.get("/login/code").headers["Location"].startswith("/login")
        # ...and so does a replayed copy of the pending session (the count is not kept in the cookie).
        replay = real_app.test_client()
        replay.set_cookie("backoffice_session", pending_cookie)
        assert replay.get("/login/code").status_code == 302
        # From the password again, the right code works.
        assert sign_in_with_code(client, "admin@test.nl", right).status_code == 302
        assert client.get("/patients/").status_code == 200


def test_therapists_follow_the_practice_setting_managers_always(real_app, clock):
    create_user(real_app, "admin@test.nl", "admin")
    create_user(real_app, "therapist@test.nl", "therapist")
    create_user(real_app, "manager@test.nl", "manager")
    therapist, admin = real_app.test_client(), real_app.test_client()
    with clock.at():
        login(therapist, "therapist@test.nl")
        assert therapist.get("/patients/").headers["Location"] == "/account/two-factor"  # on by default
        login(admin, "admin@test.nl")
        enrol(admin, clock.now)
        page = admin.get("/practice/").get_data(as_text=True)
        assert 'name="therapists_two_factor" value="y" checked' in page
        response = admin.post("/practice/two-factor", data={"csrf_token": csrf_token(admin, "/practice/")})
        assert response.status_code == 302
        assert therapist.get("/patients/").status_code == 200  # switched off: the password alone
        manager = real_app.test_client()
        login(manager, "manager@test.nl")
        assert manager.get("/patients/").headers["Location"] == "/account/two-factor"
    with real_app.app_context():
        assert db.session.scalar(db.select(Practice.therapists_two_factor)) is False
        assert db.session.scalars(db.select(AccessLog.detail).where(AccessLog.subject == "practice two-factor")).one() \
            == "therapists sign in with a second factor: off"
    # Only an admin changes it.
    assert therapist.post("/practice/two-factor", data={"csrf_token": csrf_token(therapist, "/")}).status_code == 403


@pytest.mark.parametrize("environment", ["development", "production"])
def test_demo_accounts_skip_the_second_factor_only_in_development(backend, request, environment):
    schema = request.getfixturevalue("postgres_schema") if backend == "postgresql" else None
    app = make_test_app(backend, schema, TWO_FACTOR_REQUIRED_ROLES=None, BACKOFFICE_ENV=environment)
    with app.app_context():
        db.create_all()
    try:
        uid = create_user(app, "demo-admin@test.nl", "admin")
        with app.app_context():
            db.session.get(User, uid).demo = True
            db.session.commit()
        client = app.test_client()
        note = "de tweede stap staat uit voor de demo-accounts" in client.get("/login").get_data(as_text=True)
        login(client, "demo-admin@test.nl")
        status = client.get("/patients/").status_code
        if environment == "development":
            assert note and status == 200
        else:
            assert not note and status == 302  # production: to the enrolment page like any admin
            assert client.get("/patients/").headers["Location"] == "/account/two-factor"
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_seed_demo_marks_its_accounts(real_app):
    from backoffice.demo import DEMO_LOGINS
    from backoffice.demo.people import users

    create_user(real_app, "real@test.nl", "admin")
    with real_app.app_context():
        users()
        db.session.commit()
        demo = dict(db.session.execute(db.select(User.email, User.demo)).all())
    assert all(demo[email] for _role, email, _password in DEMO_LOGINS)
    assert demo["real@test.nl"] is False


def test_an_admin_resets_a_users_second_factor(real_app, clock):
    create_user(real_app, "admin@test.nl", "admin")
    create_user(real_app, "manager@test.nl", "manager")
    admin, manager = real_app.test_client(), real_app.test_client()
    with clock.at():
        login(manager, "manager@test.nl")
        enrol(manager, clock.now)
        assert manager.get("/patients/").status_code == 200
    with clock.at(60):
        login(admin, "admin@test.nl")
        enrol(admin, clock.now)
    target = _user(real_app, "manager@test.nl")
    with clock.at(60):
        page = admin.get(f"/users/{target.id}/edit").get_data(as_text=True)
        assert "Reset two-factor sign-in" in page
        response = admin.post(f"/users/{target.id}/two-factor/reset",
                              data={"csrf_token": csrf_token(admin, f"/users/{target.id}/edit")})
        assert response.status_code == 302
        assert manager.get("/patients/").status_code == 302  # their sessions ended
        login(manager, "manager@test.nl")  # the password alone, then straight to enrolling again
        assert manager.get("/patients/").headers["Location"] == "/account/two-factor"
        # Not for a therapist: users.manage only.
        create_user(real_app, "therapist@test.nl", "therapist")
        with real_app.app_context():
            db.session.execute(db.update(Practice).values(therapists_two_factor=False))
            db.session.add(Practice(name="P", therapists_two_factor=False))
            db.session.commit()
        therapist = real_app.test_client()
        login(therapist, "therapist@test.nl")
        assert therapist.post(f"/users/{target.id}/two-factor/reset",
                              data={"csrf_token": csrf_token(therapist, "/")}).status_code == 403
    with real_app.app_context():
        user = db.session.get(User, target.id)
        assert not user.two_factor_enabled and user.totp_secret is None
        assert db.session.scalars(db.select(RecoveryCode).where(RecoveryCode.user_id == user.id)).all() == []
        entry = db.session.scalars(db.select(AccessLog).where(
            AccessLog.subject == f"user {user.id} two-factor", AccessLog.detail.like("%reset%"))).one()
        assert entry.user_email == "admin@test.nl"


def test_parallel_use_of_one_code_is_accepted_once(real_app, clock):
    """The check-and-set of the last step is one conditional UPDATE, not a check of the row as read: a request that
    read the user before another spent the code still loses."""
    from sqlalchemy.orm.attributes import set_committed_value

    uid = create_user(real_app, "admin@test.nl", "admin")
    with clock.at(), real_app.app_context():
        user = db.session.get(User, uid)
        secret = twofactor.pending_secret(user)
        db.session.commit()
        code = _code(secret, clock.now)
        assert twofactor.verify_totp(user, code) is True
        db.session.commit()
        set_committed_value(user, "totp_last_step", None)  # as read by a parallel request before the first spent it
        assert twofactor.verify_totp(user, code) is False


# --- re-authentication before a full BSN -----------------------------------------------------------------------

def _patient_with_bsn(app, user_email: str) -> int:
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == user_email))
        patient = create_patient(PatientInput("Fleur", "Berg", date(1991, 4, 12), bsn=BSN, id_document_type="id_card",
                                              id_document_number="IXB12345"), user)
        db.session.commit()
        return patient.id


def test_the_full_bsn_needs_a_recent_password(app, clock):
    """Signing in counts; minutes later the BSN is masked until the password is typed again."""
    create_user(app, "therapist@test.nl", "therapist")
    client = app.test_client()
    pid = _patient_with_bsn(app, "therapist@test.nl")
    with clock.at():
        login(client, "therapist@test.nl")
        assert f'value="{BSN}"' in client.get(f"/patients/{pid}/edit").get_data(as_text=True)
        detail = client.get(f"/patients/{pid}").get_data(as_text=True)
        assert BSN not in detail and "******333" in detail and 'data-testid="bsn-show"' in detail
    with clock.at(6 * 60):
        edit = client.get(f"/patients/{pid}/edit").get_data(as_text=True)
        assert BSN not in edit and 'placeholder="******333"' in edit and "Show the full BSN" in edit
        response = client.get(f"/patients/{pid}?bsn=full")
        assert response.status_code == 302
        target = response.headers["Location"]
        assert target.startswith("/account/confirm") and BSN not in target
        wrong = post_form(client, target, {"secret": "not my password"})
        assert wrong.status_code == 422 and BSN not in wrong.get_data(as_text=True)
        response = post_form(client, target, {"secret": PASSWORD})
        assert response.status_code == 302 and response.headers["Location"] == f"/patients/{pid}?bsn=full"
        shown = client.get(f"/patients/{pid}?bsn=full").get_data(as_text=True)
        assert f'data-testid="bsn-full">{BSN}<' in shown
    with app.app_context():
        details = db.session.scalars(db.select(AccessLog.detail).where(
            AccessLog.patient_id == pid, AccessLog.subject == "patient")).all()
        assert "full BSN shown" in details


def test_a_masked_edit_form_keeps_the_bsn(app, clock):
    create_user(app, "therapist@test.nl", "therapist")
    client = app.test_client()
    pid = _patient_with_bsn(app, "therapist@test.nl")
    form = {"first_name": "Fleur", "last_name": "Berg", "date_of_birth": "12-04-1991", "bsn": "",
            "id_document_type": "id_card", "id_document_number": "IXB12345", "bsn_kept": "1", "phone": "0612345678"}
    with clock.at():
        login(client, "therapist@test.nl")
    with clock.at(10 * 60):
        response = post_form(client, f"/patients/{pid}/edit", form)
        assert response.status_code == 302
        # A refused save shows the form again: still masked, never the number it kept.
        refused = post_form(client, f"/patients/{pid}/edit", {**form, "first_name": ""})
        assert refused.status_code == 422 and BSN not in refused.get_data(as_text=True)
    with app.app_context():
        patient = db.session.get(Patient, pid)
        assert patient.get_bsn() == BSN and patient.phone == "0612345678"


def test_a_code_from_the_app_also_confirms(real_app, clock):
    create_user(real_app, "admin@test.nl", "admin")
    client = real_app.test_client()
    pid = _patient_with_bsn(real_app, "admin@test.nl")
    with clock.at():
        login(client, "admin@test.nl")
        secret, _codes = enrol(client, clock.now)
    with clock.at(10 * 60):
        assert BSN not in client.get(f"/patients/{pid}/edit").get_data(as_text=True)
        target = f"/account/confirm?next=/patients/{pid}/edit"
        assert post_form(client, target, {"secret": _code(secret, clock.now)}).status_code == 302
        assert f'value="{BSN}"' in client.get(f"/patients/{pid}/edit").get_data(as_text=True)


def test_wrong_re_authentications_sign_out(app, clock):
    create_user(app, "therapist@test.nl", "therapist")
    client = app.test_client()
    with clock.at():
        login(client, "therapist@test.nl")
        for _attempt in range(4):
            assert post_form(client, "/account/confirm", {"secret": "guess"}).status_code == 422
        response = post_form(client, "/account/confirm", {"secret": "guess"})
        assert response.headers["Location"] == "/login"
        assert client.get("/patients/").status_code == 302
