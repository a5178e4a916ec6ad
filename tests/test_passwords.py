"""The password rule (auth/passwords.py): 12 characters, not the current one, and not easy to guess (zxcvbn)."""

from __future__ import annotations

import pytest
from conftest import PASSWORD, login, make_test_app, post_form
from flask_babel import force_locale
from sqlalchemy import select

from backoffice.auth.passwords import MIN_PASSWORD_LENGTH, password_problem
from backoffice.demo.data import DEMO_LOGINS, DEMO_USER_NAMES
from backoffice.extensions import db
from backoffice.models import User

WEAK = ["aaaaaaaaaaaa", "1234567890ab", "password1234", "qwertyuiop12", "welkom123456"]


def _problem(password: str, email: str = "lotte@clinic.nl", name: str = "Lotte Jansen",
             current: str | None = None) -> str | None:
    with make_test_app("sqlite").test_request_context("/"), force_locale("en"):
        return password_problem(password, email, name, current)


@pytest.mark.parametrize("password", WEAK)
def test_long_but_guessable_passwords_are_refused(password):
    assert len(password) >= MIN_PASSWORD_LENGTH
    assert "too easy to guess" in _problem(password)


def test_short_passwords_and_the_current_one_are_refused():
    assert "at least 12 characters" in _problem("Kx9!vQ2#mL")
    assert "differ from the current" in _problem("Tulpenbollen in de schuur", current="Tulpenbollen in de schuur")
    assert _problem("Tulpenbollen in de schuur", current="something else") is None


def test_the_account_s_own_e_mail_and_name_count_as_known_words():
    assert _problem("Wybrich Tjoelker", "someone@else.nl", "Someone") is None
    assert "too easy to guess" in _problem("Wybrich Tjoelker", "wybrich.tjoelker@clinic.nl", "Wybrich Tjoelker")


def test_the_test_and_demo_passwords_pass_the_rule():
    assert _problem(PASSWORD, "admin@test.nl", "Admin") is None
    for role, email, password in DEMO_LOGINS:
        assert _problem(password, email, DEMO_USER_NAMES[role]) is None, email


def test_change_password_page_refuses_weak_and_unchanged_passwords(app, users):
    client = app.test_client()
    login(client, users["manager"])
    with client.session_transaction() as session:
        session["language"] = "en"
    for new, message in ((PASSWORD, "differ from the current"), ("password1234", "too easy to guess"),
                         ("short one", "at least 12 characters")):
        response = post_form(client, "/account/password",
                             {"current_password": PASSWORD, "new_password": new, "confirm": new})
        assert response.status_code == 422 and message in response.get_data(as_text=True), new
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == users["manager"]))
        assert user.check_password(PASSWORD)


def test_administrators_cannot_set_a_weak_password(app, as_role):
    client = as_role("admin")
    with client.session_transaction() as session:
        session["language"] = "en"
    response = post_form(client, "/users/new", {"email": "new@test.nl", "name": "New", "role": "therapist",
                                                "language": "en", "password": "welkom123456",
                                                "confirm": "welkom123456"})
    assert response.status_code == 422 and "too easy to guess" in response.get_data(as_text=True)
    with app.app_context():
        therapist = db.session.scalar(select(User).where(User.role == "therapist"))
    response = post_form(client, f"/users/{therapist.id}/password",
                         {"password": "qwertyuiop12", "confirm": "qwertyuiop12"})
    assert response.status_code == 422 and "too easy to guess" in response.get_data(as_text=True)


def test_create_user_command_refuses_a_weak_password(app):
    result = app.test_cli_runner().invoke(args=["create-user", "--email", "nina@example.nl", "--name", "Nina",
                                                "--role", "admin", "--password", "password1234"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "te raden" in result.output or "too easy to guess" in result.output
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "nina@example.nl")) is None
