"""The credentials page and `flask credentials check`: expiring and expired credentials, unclaimable treatments."""

from __future__ import annotations

import re
from datetime import date, timedelta

import factories

from backoffice.clock import clinic_today
from backoffice.extensions import db
from backoffice.models import Therapist

TODAY = clinic_today()
LONG_AGO = date(2015, 1, 1)
KW = "kwaliteitsregister"


def therapist(name: str, kp: list[tuple[date, date, str]] | None = None, nvh_until: date | None = None,
              active: bool = True) -> Therapist:
    """A member of the NVH since 2015 (until `nvh_until`), on the KP register over `kp` (default: since 2015 for
    another 1000 days); tests/factories.py with this page's names."""
    return factories.therapist(name, "90123456", kp=kp or [(LONG_AGO, TODAY + timedelta(days=1000), KW)],
                               kp_number=f"KP-{name}", nvh_number=f"NVH-{name}", nvh_from=LONG_AGO,
                               nvh_until=nvh_until, active=active)


def all_valid(app) -> None:
    with app.app_context():
        therapist("Always Valid")
        # Expired long ago, but renewed without a gap: nothing to report.
        therapist("Renewed", kp=[(LONG_AGO, TODAY - timedelta(days=100), KW),
                                 (TODAY - timedelta(days=99), TODAY + timedelta(days=900), KW)])
        # An inactive therapist's expiry is no longer watched.
        therapist("Left", kp=[(LONG_AGO, TODAY - timedelta(days=3), KW)], active=False)
        db.session.commit()


def expiring(app) -> None:
    with app.app_context():
        therapist("Kp Seven", kp=[(LONG_AGO, TODAY + timedelta(days=5), KW)])
        therapist("Kp Thirty", kp=[(LONG_AGO, TODAY + timedelta(days=20), KW)])
        therapist("Nvh Ninety", nvh_until=TODAY + timedelta(days=60))
        db.session.commit()


def lapsed_with_claim(app) -> int:
    """A therapist whose KP registration ended 10 days ago, with a reimbursable treatment 5 days ago, and one
    recorded after the lapse was known (assessed under the insurer's rule as not reimbursable) 3 days ago."""
    with app.app_context():
        t = therapist("Lapsed", kp=[(LONG_AGO, TODAY - timedelta(days=10), KW)])
        insurer = factories.insurer("Zilveren Kruis", "3311")
        item = factories.catalogue_item("FL1", price_cents=12_000)
        patient = factories.patient("Jansen", "Anna", date_of_birth=date(1990, 1, 1))
        common = {"price": "120.00", "insurer_id": insurer.id}
        claim = factories.treatment(patient.id, t.id, item.id, TODAY - timedelta(days=5), **common)
        # Before the lapse, or not reimbursable: not listed.
        factories.treatment(patient.id, t.id, item.id, TODAY - timedelta(days=20), **common)
        factories.treatment(patient.id, t.id, item.id, TODAY - timedelta(days=4), reimbursable=False, **common)
        factories.treatment(patient.id, t.id, item.id, TODAY - timedelta(days=4), medical=False, **common)
        rule = factories.coverage_rule(insurer, (TODAY - timedelta(days=3)).year)
        recorded_after = factories.treatment(patient.id, t.id, item.id, TODAY - timedelta(days=3), reimbursable=False,
                                             rule=rule, **common)
        db.session.commit()
        return claim.id, recorded_after.id


def section(html: str, testid: str) -> str:
    return re.search(rf'data-testid="{testid}">(.*?)</table>', html, re.S).group(1)


def test_page_groups_expiring_and_expired(app, as_role):
    all_valid(app)
    expiring(app)
    claim_id, recorded_after_id = lapsed_with_claim(app)
    client = as_role("manager")
    response = client.get("/credentials/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Kp Seven" in section(html, "expiring-7") and "Kp Thirty" not in section(html, "expiring-7")
    assert "Kp Thirty" in section(html, "expiring-30") and "Kp Seven" not in section(html, "expiring-30")
    assert "Nvh Ninety" in section(html, "expiring-90") and "NVH" in section(html, "expiring-90")
    expired = section(html, "expired")
    assert "Lapsed" in expired and "expired 10 days ago" in expired
    for name in ("Always Valid", "Renewed", "Left"):
        assert name not in html
    unclaimable = section(html, "unclaimable")
    # Header, the claim recorded as reimbursable, and the one recorded after the lapse (whatever its flag).
    assert len(re.findall(r"<tr>", unclaimable)) == 3
    assert f"/treatments/{claim_id}" in unclaimable and f"/treatments/{recorded_after_id}" in unclaimable
    assert "Anna Jansen" in unclaimable and "EUR 120,00" in unclaimable and "not reimbursable" in unclaimable
    ended = (TODAY - timedelta(days=10)).strftime("%d-%m-%Y")
    assert unclaimable.count(f"KP registration ended on {ended}") == 2  # what is missing, and since when
    assert "NVH" not in unclaimable  # the membership was valid: only the KP is named
    assert 'href="/credentials/"' in html  # in the nav


def test_therapist_may_see_the_page(app, as_role):
    client = as_role("therapist")
    assert client.get("/credentials/").status_code == 200


def test_diplomaregister_successor_does_not_renew_a_kwaliteitsregister_entry(app):
    from backoffice.credentials.services import credential_report

    with app.app_context():
        therapist("Dropped", kp=[(LONG_AGO, TODAY - timedelta(days=2), KW),
                                 (TODAY - timedelta(days=1), TODAY + timedelta(days=900), "diplomaregister")])
        db.session.commit()
        report = credential_report()
        assert [(line.therapist, line.level) for line in report.expired] == [("Dropped", "kwaliteitsregister")]
        assert report.lapsed


def test_cli_exit_code_zero_when_all_valid(app):
    all_valid(app)
    expiring(app)  # expiring soon is a warning, not a lapse
    result = app.test_cli_runner().invoke(args=["credentials", "check"])
    assert result.exit_code == 0, result.output
    assert "Expiring within 7 days: 1" in result.output
    assert "Kp Seven: KP" in result.output
    assert "Expired, no successor recorded: 0" in result.output
    assert "unclaimable" in result.output and result.output.rstrip().endswith(": 0")


def test_cli_exit_code_one_with_a_lapse(app):
    all_valid(app)
    claim_id, recorded_after_id = lapsed_with_claim(app)
    result = app.test_cli_runner().invoke(args=["credentials", "check"])
    assert result.exit_code == 1, result.output
    assert "Expired, no successor recorded: 1" in result.output
    assert f"treatment {claim_id}" in result.output
    assert f"treatment {recorded_after_id}" in result.output and "(recorded as not reimbursable)" in result.output
    assert "Anna" not in result.output  # patients by id only in terminal output
