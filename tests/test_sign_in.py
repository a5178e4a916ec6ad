"""Sign-in that slows guessing down but cannot be turned against a user (auth/services.py, auth/sessions.py).

The clock is frozen (backoffice/clock.py) and moved by hand: every wait is read from it.
"""

from __future__ import annotations

import statistics
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from conftest import PASSWORD, create_user, csrf_token, make_test_app, post_form
from sqlalchemy import select

from backoffice import clock
from backoffice.extensions import db
from backoffice.models import AccessLog, LoginAttempt

ATTACKER = "198.51.100.66"
CLINIC = "203.0.113.10"
HOME = "192.0.2.44"
NEW = "Tulpenbollen in de schuur"


class Clock:
    """A frozen clock that the test moves forward."""

    def __init__(self, monkeypatch):
        self._monkeypatch = monkeypatch
        self.now = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
        monkeypatch.setattr(clock, "_frozen", self.now)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self._monkeypatch.setattr(clock, "_frozen", self.now)


@pytest.fixture
def frozen(monkeypatch):
    return Clock(monkeypatch)


@pytest.fixture
def checks(monkeypatch):
    """Counts password hash checks (real accounts and the dummy hash for unknown e-mails alike)."""
    import backoffice.auth.services as services
    import backoffice.models.users as users

    counter = {"n": 0}
    lock = threading.Lock()

    def counting(check):
        def check_password_hash(pwhash, password):
            with lock:
                counter["n"] += 1
            return check(pwhash, password)
        return check_password_hash

    monkeypatch.setattr(users, "check_password_hash", counting(users.check_password_hash))
    monkeypatch.setattr(services, "check_password_hash", counting(services.check_password_hash))
    return counter


def english(client):
    with client.session_transaction() as session:
        session["language"] = "en"
    return client


def attempt(client, email: str, password: str = PASSWORD, ip: str = CLINIC):
    token = csrf_token(client, "/login")
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": ip})


def stored_failures(app) -> int:
    with app.app_context():
        return len(db.session.scalars(select(LoginAttempt.id)).all())


def test_progressive_delay_checks_no_password_while_too_early(app, users, frozen, checks):
    client = english(app.test_client())
    for _ in range(3):
        assert attempt(client, users["admin"], "wrong password").status_code == 401
    assert checks["n"] == 3
    # The fourth try must wait 2^0 s: refused without a check, and nothing stored that would lengthen the wait.
    for _ in range(20):
        response = attempt(client, users["admin"], PASSWORD)
        assert response.status_code == 429
        assert "Try again in 1 seconds" in response.get_data(as_text=True)
    assert checks["n"] == 3 and stored_failures(app) == 3
    frozen.advance(1)
    assert attempt(client, users["admin"], "wrong again").status_code == 401  # checked: the wait had passed
    assert "Try again in 2 seconds" in attempt(client, users["admin"]).get_data(as_text=True)
    frozen.advance(2)
    assert attempt(client, users["admin"]).status_code == 302  # the right password, once the wait is over


def test_the_delay_is_capped_and_failures_expire(app, users, frozen):
    app.config["LOGIN_PAIR_MAX_FAILURES"] = 1000
    client = english(app.test_client())
    waits = []
    for _ in range(12):
        response = attempt(client, users["manager"], "wrong password", ip=ATTACKER)
        if response.status_code == 429:
            text = response.get_data(as_text=True)
            waits.append(int(text.split("Try again in ")[1].split(" seconds")[0]))
            frozen.advance(waits[-1])
            assert attempt(client, users["manager"], "wrong password", ip=ATTACKER).status_code == 401
    assert waits == [1, 2, 4, 8, 16, 30, 30, 30, 30]  # 2^(n-3) s, at most LOGIN_DELAY_MAX_SECONDS
    frozen.advance(app.config["LOGIN_FAILURE_WINDOW_SECONDS"] + 1)
    assert attempt(client, users["manager"], ip=ATTACKER).status_code == 302  # old failures no longer count


def test_hard_limit_per_account_and_address_pair(app, users, frozen, checks):
    app.config["LOGIN_DELAY_AFTER_FAILURES"] = 1000  # only the pair limit here
    attacker = english(app.test_client())
    for _ in range(10):
        assert attempt(attacker, users["admin"], "wrong password", ip=ATTACKER).status_code == 401
    response = attempt(attacker, users["admin"], PASSWORD, ip=ATTACKER)
    assert response.status_code == 429 and "Try again in 15 minutes" in response.get_data(as_text=True)
    assert checks["n"] == 10
    # The owner, from the clinic, is not held back by the attacker's pair.
    assert attempt(app.test_client(), users["admin"], ip=CLINIC).status_code == 302
    frozen.advance(15 * 60)
    assert attempt(attacker, users["admin"], "wrong password", ip=ATTACKER).status_code == 401


def test_address_limit_counts_only_unknown_accounts(app, users, frozen):
    app.config["LOGIN_DELAY_AFTER_FAILURES"] = 1000
    client = english(app.test_client())
    # Failures against real accounts do not count towards the address limit (a clinic behind one NAT address).
    for email in (users["admin"], users["manager"]):
        for _ in range(9):
            assert attempt(client, email, "wrong password", ip=CLINIC).status_code == 401
    for number in range(20):
        assert attempt(client, f"nobody{number}@test.nl", "guess", ip=CLINIC).status_code == 401
    # 20 unknown e-mails: the address is refused for every e-mail, real ones too (else the answer tells which exist).
    response = attempt(client, users["therapist"], PASSWORD, ip=CLINIC)
    assert response.status_code == 429 and "Try again in 15 minutes" in response.get_data(as_text=True)
    assert attempt(client, "nobody99@test.nl", "guess", ip=CLINIC).status_code == 429
    # A real account from another address still signs in.
    assert attempt(app.test_client(), users["therapist"], ip=HOME).status_code == 302


def test_correct_password_from_another_address_after_100_failures(app, users, frozen):
    owner = app.test_client()
    assert attempt(owner, users["admin"], ip=CLINIC).status_code == 302  # this browser signed in before
    post_form(owner, "/logout", {}, token_from="/")
    attacker = english(app.test_client())
    refused = 0
    for _ in range(100):
        refused += attempt(attacker, users["admin"], "password guess", ip=ATTACKER).status_code == 429
        frozen.advance(1)
    assert refused >= 90  # the delay and the pair limit let at most 10 guesses through
    assert stored_failures(app) <= 10
    # The owner's browser skips the delay (device cookie): signed in at once, from another address.
    response = attempt(owner, users["admin"], ip=HOME)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    # A browser never used before waits at most the cap, and the attacker cannot push that out.
    post_form(owner, "/logout", {}, token_from="/")
    stranger = english(app.test_client())
    response = attempt(stranger, users["admin"], ip="192.0.2.99")
    if response.status_code == 429:
        wait = int(response.get_data(as_text=True).split("Try again in ")[1].split(" seconds")[0])
        assert wait <= app.config["LOGIN_DELAY_MAX_SECONDS"]
        for _ in range(10):
            attempt(attacker, users["admin"], "password guess", ip=ATTACKER)
        frozen.advance(wait)
        response = attempt(stranger, users["admin"], ip="192.0.2.99")
    assert response.status_code == 302


def test_a_forged_device_cookie_does_not_skip_the_delay(app, users, frozen):
    client = english(app.test_client())
    for _ in range(3):
        attempt(client, users["admin"], "wrong password")
    client.set_cookie("backoffice_device", "1.forged.signature", path="/login")
    assert attempt(client, users["admin"]).status_code == 429


def test_unknown_and_known_e_mails_get_the_same_answer_and_are_logged(app, users, frozen, checks):
    client = english(app.test_client())
    known = attempt(client, users["therapist"], "wrong password")
    unknown = attempt(client, "nobody@test.nl", "typed-into-the-wrong-field")
    assert known.status_code == unknown.status_code == 401
    message = "Unknown e-mail address or wrong password."
    assert message in known.get_data(as_text=True) and message in unknown.get_data(as_text=True)
    assert checks["n"] == 2  # the unknown e-mail cost a hash check too
    for _ in range(2):
        attempt(client, "nobody@test.nl", "x")
    assert attempt(client, "nobody@test.nl", "x").status_code == 429  # the delay follows any e-mail typed
    with app.app_context():
        entries = db.session.scalars(select(AccessLog).where(AccessLog.subject == "failed sign-in")
                                     .order_by(AccessLog.id)).all()
        failed = [(e.subject, e.user_email, e.detail, e.patient_id) for e in entries]
        assert failed[0] == ("failed sign-in", users["therapist"], "", None)
        assert failed[1] == ("failed sign-in", "(system)", "unknown e-mail address", None)
        text = repr([(e.subject, e.detail, e.user_email) for e in entries])
        assert "nobody@test.nl" not in text and "typed-into-the-wrong-field" not in text


def test_sign_in_and_sign_out_are_logged(app, users):
    client = app.test_client()
    assert attempt(client, users["manager"], ip=HOME).status_code == 302
    post_form(client, "/logout", {}, token_from="/")
    with app.app_context():
        entries = db.session.scalars(select(AccessLog).where(AccessLog.subject.in_(["sign-in", "sign-out"]))
                                     .order_by(AccessLog.id)).all()
        rows = [(e.action, e.subject, e.user_email, e.ip_address, e.patient_id) for e in entries]
        assert rows == [("create", "sign-in", users["manager"], HOME, None),
                        ("delete", "sign-out", users["manager"], "127.0.0.1", None)]


def test_current_password_check_is_throttled(app, users, frozen, checks):
    client = english(app.test_client())
    assert attempt(client, users["manager"]).status_code == 302
    english(client)
    before = checks["n"]
    for _ in range(3):
        response = post_form(client, "/account/password", {
            "current_password": "guess", "new_password": NEW, "confirm": NEW})
        assert response.status_code == 422
        assert "This is not your current password." in response.get_data(as_text=True)
    response = post_form(client, "/account/password", {
        "current_password": PASSWORD, "new_password": NEW, "confirm": NEW})
    assert response.status_code == 422 and "Try again in 1 seconds" in response.get_data(as_text=True)
    assert checks["n"] - before == 3
    frozen.advance(1)
    response = post_form(client, "/account/password", {
        "current_password": PASSWORD, "new_password": NEW, "confirm": NEW})
    assert response.status_code == 302


# ---- the real client address behind trusted proxies (TRUSTED_PROXIES, werkzeug's ProxyFix) ----------------------


@pytest.mark.parametrize("proxies, expected", [(0, "10.0.0.2"), (1, "203.0.113.7"), (2, "198.51.100.1")])
def test_trusted_proxies_give_the_client_address(proxies, expected, backend, request):
    schema = request.getfixturevalue("postgres_schema") if backend == "postgresql" else None
    app = make_test_app(backend, schema, TRUSTED_PROXIES=proxies)
    with app.app_context():
        db.create_all()
    create_user(app, "admin@test.nl", "admin")
    client = app.test_client()
    # The client forged the first entry; each trusted proxy appended the address it saw.
    # Behind one proxy the request is HTTPS (X-Forwarded-Proto): Flask-WTF then wants a same-site Referer.
    headers = {"X-Forwarded-For": "6.6.6.6, 198.51.100.1, 203.0.113.7", "X-Forwarded-Proto": "https",
               "Referer": "https://localhost/login"}
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"email": "admin@test.nl", "password": "wrong", "csrf_token": token},
                           headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert response.status_code == 401
    with app.app_context():
        assert db.session.scalars(select(LoginAttempt.ip_address)).all() == [expected]
        assert db.session.scalars(select(AccessLog.ip_address)).all() == [expected]
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_trusted_proxies_default_and_config(monkeypatch, tmp_path):
    import config

    monkeypatch.delenv("TRUSTED_PROXIES", raising=False)
    assert config.load(str(tmp_path))["TRUSTED_PROXIES"] == 0
    monkeypatch.setenv("TRUSTED_PROXIES", "2")
    assert config.load(str(tmp_path))["TRUSTED_PROXIES"] == 2
    monkeypatch.setenv("TRUSTED_PROXIES", "two")
    with pytest.raises(config.ConfigError, match="TRUSTED_PROXIES"):
        config.load(str(tmp_path))


# ---- limits that hold under parallel requests ---------------------------------------------------------------------


def _parallel_app(backend: str, tmp_path, request):
    if backend == "postgresql":
        app = make_test_app("postgresql", request.getfixturevalue("postgres_schema"), WTF_CSRF_ENABLED=False)
    else:  # a file: every thread gets its own connection, as with real workers
        app = make_test_app("sqlite", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'parallel.sqlite3'}",
                            WTF_CSRF_ENABLED=False)
    with app.app_context():
        db.create_all()
    return app


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
def test_forty_parallel_wrong_passwords_check_at_most_the_limit(database, tmp_path, request, frozen, checks):
    app = _parallel_app(database, tmp_path, request)
    create_user(app, "admin@test.nl", "admin")
    checks["n"] = 0
    start = threading.Barrier(40)
    statuses: list[int] = []

    def guess(number: int) -> None:
        client = app.test_client()
        start.wait()
        response = client.post("/login", data={"email": "admin@test.nl", "password": f"guess {number}"},
                               environ_base={"REMOTE_ADDR": f"198.51.100.{number + 1}"})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(statuses) == 40
    assert checks["n"] <= app.config["LOGIN_DELAY_AFTER_FAILURES"]
    assert statuses.count(401) == checks["n"] and statuses.count(429) == 40 - checks["n"]
    assert stored_failures(app) == checks["n"]
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# ---- timing does not tell which accounts exist --------------------------------------------------------------------


def _median_times(app, emails: list[str], rounds: int) -> dict[str, float]:
    client = app.test_client()
    times: dict[str, list[float]] = {email: [] for email in emails}
    for _ in range(rounds):
        for email in emails:  # interleaved: drift in the machine's load hits both alike
            began = time.perf_counter()
            response = client.post("/login", data={"email": email, "password": "wrong password"})
            times[email].append(time.perf_counter() - began)
            assert response.status_code == 401
    return {email: statistics.median(values) for email, values in times.items()}


def test_unknown_and_known_e_mails_take_the_same_time():
    # The production hash method (werkzeug's scrypt default): the cost an attacker would measure.
    app = make_test_app("sqlite", PASSWORD_HASH_METHOD="scrypt", WTF_CSRF_ENABLED=False,
                        LOGIN_DELAY_AFTER_FAILURES=1000, LOGIN_PAIR_MAX_FAILURES=1000, LOGIN_ADDRESS_MAX_UNKNOWN=1000)
    with app.app_context():
        db.create_all()
    create_user(app, "known@test.nl", "admin")
    medians = _median_times(app, ["known@test.nl", "unknown@test.nl"], 40)
    ratio = medians["unknown@test.nl"] / medians["known@test.nl"]
    assert 0.8 < ratio < 1.25, medians


# ---- session lifetimes (auth/sessions.py): idle timeout and absolute lifetime -------------------------------------


def test_an_idle_session_is_signed_out(app, users, frozen):
    client = english(app.test_client())
    assert attempt(client, users["therapist"]).status_code == 302
    frozen.advance(29 * 60)
    assert client.get("/patients/").status_code == 200  # 29 minutes idle: still signed in, and seen again now
    frozen.advance(29 * 60)
    assert client.get("/patients/").status_code == 200
    frozen.advance(30 * 60)  # SESSION_IDLE_SECONDS without a request
    response = client.get("/patients/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=/patients/")
    english(client)
    # Signing in starts a new session in the account's language (Dutch by default), whatever the test set before.
    assert "Uw sessie is verlopen" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert client.get("/patients/").status_code == 302  # really signed out, not only redirected once


def test_a_busy_session_ends_after_the_absolute_lifetime(app, users, frozen):
    client = app.test_client()
    assert attempt(client, users["admin"]).status_code == 302
    for _ in range(12 * 3 - 1):  # a request every 20 minutes, for 11 h 40 min
        frozen.advance(20 * 60)
        assert client.get("/").status_code == 200
    token = csrf_token(client, "/")
    frozen.advance(20 * 60)  # 12 h after sign-in
    # A form posted past the lifetime is not carried out: the sign-in page instead.
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    with app.app_context():
        assert not db.session.scalars(select(AccessLog).where(AccessLog.subject == "sign-out")).all()
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert attempt(client, users["admin"]).status_code == 302  # signing in again starts a new lifetime
    assert client.get("/").status_code == 200


def test_session_lifetimes_are_configurable(app, users, frozen, monkeypatch, tmp_path):
    import config

    monkeypatch.setenv("SESSION_IDLE_SECONDS", "600")
    monkeypatch.setenv("SESSION_ABSOLUTE_SECONDS", "3600")
    settings = config.load(str(tmp_path))
    assert (settings["SESSION_IDLE_SECONDS"], settings["SESSION_ABSOLUTE_SECONDS"]) == (600, 3600)
    assert settings["PERMANENT_SESSION_LIFETIME"] == 3600
    app.config["SESSION_IDLE_SECONDS"] = 600
    client = app.test_client()
    assert attempt(client, users["admin"]).status_code == 302
    frozen.advance(601)
    assert client.get("/").status_code == 302


def test_a_session_without_its_sign_in_time_is_signed_out(app, users):
    client = app.test_client()
    assert attempt(client, users["admin"]).status_code == 302
    with client.session_transaction() as session:  # e.g. a cookie from before these checks
        del session["signed_in_at"]
    assert client.get("/").status_code == 302


def test_an_overlong_e_mail_is_an_ordinary_failure(app, users):
    response = attempt(english(app.test_client()), "x" * 5000 + "@test.nl", "wrong")
    assert response.status_code == 401
    assert stored_failures(app) == 1
