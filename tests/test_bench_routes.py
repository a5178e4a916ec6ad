"""The load benchmark's bare routes (backoffice/bench_routes.py) and the settings a served app reads.

The bare routes show patient pages without signing in, for bench/load.py only: they must not exist unless asked
for, never in production, never for another machine, and they must render the real pages without logging.
"""

from __future__ import annotations

from datetime import date

import factories
import pytest
from conftest import PASSWORD, create_user, login, make_test_app
from sqlalchemy import func, select

import config
from backoffice import bench_routes, create_app
from backoffice.extensions import db
from backoffice.models import AccessLog

STRONG_SECRET = "kX3vQ9pL2mN8rT5wY7zB1cD4fG6hJ0aS"   # 32 characters, no pattern (not a real key)
STRONG_FIELD_KEY = "Zr8Kp2Lm5Nq9Tv3Wx6Yb1Cd4Fg7Hj0Ae"


@pytest.fixture
def served_env(monkeypatch, tmp_path):
    """The environment of a served app (gunicorn, `flask run`): config.load, not the tests' settings."""
    for name in ("BACKOFFICE_ENV", "DATABASE_URL", "BENCH_BARE_ROUTES", "BENCH_BARE_USER", "MAIL_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BACKOFFICE_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("SECRET_KEY", STRONG_SECRET)
    monkeypatch.setenv("FIELD_ENCRYPTION_KEY", STRONG_FIELD_KEY)
    return monkeypatch


def test_a_served_app_has_every_setting_the_tests_have(served_env, tmp_path):
    # The tests build their app from load_defaults(); a served app from load(). A setting only the former has is
    # a KeyError in production only (PASSWORD_HASH_METHOD was: every sign-in answered 500 under gunicorn).
    for env in ("development", "production"):
        served_env.setenv("BACKOFFICE_ENV", env)
        served_env.setenv("MAIL_BACKEND", "outbox")
        missing = set(config.load_defaults()) - set(config.load(str(tmp_path)))
        assert not missing, f"{env}: config.load() does not set {sorted(missing)}"


def test_bare_routes_exist_only_when_asked_and_never_in_production(served_env):
    assert not any(rule.rule.startswith("/_bench") for rule in create_app().url_map.iter_rules())
    served_env.setenv("BENCH_BARE_ROUTES", "1")
    assert any(rule.rule.startswith("/_bench") for rule in create_app().url_map.iter_rules())
    served_env.setenv("BACKOFFICE_ENV", "production")
    served_env.setenv("MAIL_BACKEND", "outbox")
    with pytest.raises(config.ConfigError, match="BENCH_BARE_ROUTES"):
        create_app()
    # Set by other means than the environment (a test config), the app still refuses.
    with pytest.raises(bench_routes.BareRoutesRefused):
        make_test_app("sqlite", BACKOFFICE_ENV="production", BENCH_BARE_ROUTES=True)


def _log_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(AccessLog.id)))


def test_bare_routes_render_the_real_pages_without_sign_in_or_access_log():
    app = make_test_app("sqlite", BENCH_BARE_ROUTES=True, BENCH_BARE_USER="eva@test.nl")
    with app.app_context():
        db.create_all()
        factories.practice(therapists_two_factor=False)
        db.session.commit()
    create_user(app, "eva@test.nl", "therapist", name="Eva Bench")
    with app.app_context():
        patient = factories.patient("Bakker", "Sanne", date_of_birth=date(1980, 2, 3))
        db.session.commit()
        patient_id = patient.id
    signed_in = app.test_client()
    assert login(signed_in, "eva@test.nl", PASSWORD).status_code == 302
    bare = app.test_client()
    pages = {"/patients/": "/_bench/bare/patients/",
             f"/patients/{patient_id}": f"/_bench/bare/patients/{patient_id}"}
    try:
        for real, copy in pages.items():
            before = _log_count(app)
            shown = signed_in.get(real)
            assert shown.status_code == 200 and _log_count(app) == before + 1
            bare_page = bare.get(copy)
            assert bare_page.status_code == 200 and _log_count(app) == before + 1  # nothing logged
            for html in (shown.get_data(as_text=True), bare_page.get_data(as_text=True)):
                # The same page: the patient, and the navigation as the bench user sees it.
                assert "Bakker" in html and 'data-testid="whoami"' in html and "Eva Bench" in html
            # Only for the machine itself.
            assert bare.get(copy, environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 404
        assert bare.get("/_bench/bare/patients/999999").status_code == 404
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
