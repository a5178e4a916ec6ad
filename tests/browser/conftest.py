"""Browser tests: Debian's Chromium driven by pytest-playwright against a live server in a thread.

Chromium comes from Debian (/usr/bin/chromium, installed by `make test`), not from `playwright install`.
Without it these tests skip, loudly; with REQUIRE_BROWSER=1 (as in CI) they fail instead.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import factories
import pytest
from conftest import create_user, make_test_app
from werkzeug.serving import make_server

from backoffice.clock import clinic_today
from backoffice.extensions import db

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))  # Debian's chromium by default
REQUIRE_BROWSER = os.environ.get("REQUIRE_BROWSER") == "1"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

ADMIN_EMAIL = "admin@browser.test"


@pytest.fixture(scope="session")
def base_url(pytestconfig):
    """Same value as pytest-playwright's own fallback fixture, which pytest 9 warns about.

    pytest-playwright 0.10 defines `base_url` as a method on a plugin object; pytest 9 raises
    PytestRemovedIn10Warning ("Session-scoped fixtures defined as instance methods are deprecated") when
    it runs, and warnings are errors here. Defining the fixture ourselves keeps that one from running.
    """
    return pytestconfig.getoption("--base-url") or pytestconfig.getini("base_url") or None


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright's launch options (--headed, --slowmo...) plus Debian's Chromium."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} not found: install Debian's chromium (make test does) to run the browser tests"
        if REQUIRE_BROWSER:
            pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """Every page is opened as a Dutch clinic's browser would: locale nl-NL (number and date pickers, Accept-Language),
    Amsterdam time."""
    return {**browser_context_args, "locale": "nl-NL", "timezone_id": "Europe/Amsterdam"}


@pytest.fixture(autouse=True)
def _short_timeouts(request):
    """A missing element fails within 10 s instead of Playwright's 30 s, which keeps a failing run short."""
    if "page" in request.fixturenames:
        request.getfixturevalue("page").set_default_timeout(10_000)


@pytest.fixture
def live_app(tmp_path):
    app = make_test_app("sqlite", None, SQLALCHEMY_DATABASE_URI="sqlite:///" + str(tmp_path / "live.db"))
    with app.app_context():
        db.create_all()
    create_user(app, ADMIN_EMAIL, "admin", name="Anna Admin")
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@contextmanager
def serve(app) -> Iterator[str]:
    """Serves `app` on a free local port in a daemon thread; yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def live_server(live_app):
    """Serves the app on a free local port in a daemon thread; yields the base URL."""
    with serve(live_app) as url:
        yield url


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory):
    """One app per test module with the demo practice (`flask seed-demo`: 32 patients, their intakes, referrals,
    treatments, invoices, payments, claim batches), for the tests that look at every page but change little.
    The demo logins (backoffice.demo.DEMO_LOGINS) have no language set, so they see the Dutch interface."""
    from backoffice.demo import seed_demo

    folder = tmp_path_factory.mktemp("demo")
    app = make_test_app("sqlite", None, SQLALCHEMY_DATABASE_URI="sqlite:///" + str(folder / "demo.db"),
                        CLAIMS_DIR=str(folder / "claims"), PRINT_OUTPUT_DIR=str(folder / "print_jobs"))
    app.instance_path = str(folder / "instance")
    Path(app.instance_path).mkdir()
    with app.app_context():
        db.create_all()
        seed_demo()
        db.session.commit()
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def demo_server(demo_app):
    """The demo practice served for the whole module; yields the base URL."""
    with serve(demo_app) as url:
        yield url


THERAPIST_EMAIL = "therapist@browser.test"


@pytest.fixture
def treatment_practice(live_app) -> dict[str, int]:
    """The live app's data for the treatment journey, built with the shared factories: a therapist login whose
    credentials are valid today, the demo catalogue, FBTO with an acne and acne-scar rule that needs a referral,
    a referred patient insured there, and a patient whose latest intake records a pregnancy. Returns the ids the
    tests need."""
    from backoffice.demo.data import CATALOGUE, CATALOGUE_CODE_LIST

    today = clinic_today()
    intake_day = today - timedelta(days=30)
    user_id = create_user(live_app, THERAPIST_EMAIL, "therapist", name="Tess Terpstra")
    with live_app.app_context():
        therapist = factories.therapist(
            "Tess Terpstra", "90087654", email=THERAPIST_EMAIL, user_id=user_id,
            nvh_number="NVH-5120", nvh_from=date(2019, 9, 1),
            kp_number="KP-20431", kp=[(today - timedelta(days=700), today + timedelta(days=1000))])
        for code, name, technique, prestatiecode, cents, minutes in CATALOGUE:
            factories.catalogue_item(code, name, technique=technique, prestatiecode=prestatiecode,
                                     prestatiecode_list=CATALOGUE_CODE_LIST, price_cents=cents,
                                     duration_minutes=minutes)
        fbto = factories.insurer("FBTO", "3343", packages=["Aanvullend Tand/Fysio"])
        factories.coverage_rule(fbto, today.year, categories=["acne", "scars"], cap_cents=25000,
                                cap_group="fbto-acne", label="Acne en acnelittekens (verwijzing)",
                                referral_required=True)
        referred = factories.patient("Smit", "Sara", date_of_birth=date(2001, 4, 17), street="Biltstraat 5",
                                     postcode="3572 BC", city="Utrecht")
        pregnant = factories.patient("Graaf", "Lisa", infix="de", date_of_birth=date(1994, 8, 2),
                                     postcode="3511 AB", city="Utrecht")
        factories.insurance(referred, fbto, package=fbto.packages[0], policy_number="204518337",
                            valid_from=date(2020, 1, 1))
        factories.referral(referred, referral_date=intake_day, valid_until=today + timedelta(days=300),
                           diagnosis="Atrofische acnelittekens")
        factories.intake(referred, intake_day, consent_by="Sara Smit")
        factories.intake(pregnant, intake_day, consent_by="Lisa de Graaf",
                         contraindications=[{"kind": "pregnancy_breastfeeding", "areas": [], "ended_on": None}])
        db.session.commit()
        return {"referred": referred.id, "pregnant": pregnant.id, "therapist": therapist.id}
