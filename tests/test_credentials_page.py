"""The credentials page and `flask credentials check`: expiring and expired credentials, unclaimable treatments."""

from __future__ import annotations

import re
from datetime import date, timedelta

from backoffice.extensions import db
from backoffice.models import (
    CatalogueItem,
    Insurer,
    KpRegistration,
    NvhMembership,
    Patient,
    Therapist,
    Treatment,
)

TODAY = date.today()
LONG_AGO = date(2015, 1, 1)


def therapist(name: str, kp: list[tuple[str, date, date]] | None = None, nvh_until: date | None = None,
              active: bool = True) -> Therapist:
    t = Therapist(name=name, agb_code="90123456", active=active)
    t.nvh_memberships.append(NvhMembership(member_number=f"NVH-{name}", valid_from=LONG_AGO, valid_until=nvh_until))
    for n, (level, start, end) in enumerate(kp or [("kwaliteitsregister", LONG_AGO, TODAY + timedelta(days=1000))]):
        t.kp_registrations.append(KpRegistration(kp_number=f"KP-{name}-{n}", level=level, period_start=start,
                                                 period_end=end))
    db.session.add(t)
    return t


def all_valid(app) -> None:
    with app.app_context():
        therapist("Always Valid")
        # Expired long ago, but renewed without a gap: nothing to report.
        therapist("Renewed", kp=[("kwaliteitsregister", LONG_AGO, TODAY - timedelta(days=100)),
                                 ("kwaliteitsregister", TODAY - timedelta(days=99), TODAY + timedelta(days=900))])
        # An inactive therapist's expiry is no longer watched.
        therapist("Left", kp=[("kwaliteitsregister", LONG_AGO, TODAY - timedelta(days=3))], active=False)
        db.session.commit()


def expiring(app) -> None:
    with app.app_context():
        therapist("Kp Seven", kp=[("kwaliteitsregister", LONG_AGO, TODAY + timedelta(days=5))])
        therapist("Kp Thirty", kp=[("kwaliteitsregister", LONG_AGO, TODAY + timedelta(days=20))])
        therapist("Nvh Ninety", nvh_until=TODAY + timedelta(days=60))
        db.session.commit()


def lapsed_with_claim(app) -> int:
    """A therapist whose KP registration ended 10 days ago, with a reimbursable treatment 5 days ago."""
    with app.app_context():
        t = therapist("Lapsed", kp=[("kwaliteitsregister", LONG_AGO, TODAY - timedelta(days=10))])
        insurer = Insurer(name="Zilveren Kruis", uzovi="3311")
        item = CatalogueItem(code="FL1", name="Fractional laser", price_cents=12000)
        patient = Patient(first_name="Anna", last_name="Jansen", date_of_birth=date(1990, 1, 1))
        db.session.add_all([insurer, item, patient])
        db.session.flush()
        common = {"patient_id": patient.id, "therapist_id": t.id, "catalogue_item_id": item.id,
                  "indication": "acne_scar", "body_area": "face", "price_cents": 12000, "medical": True,
                  "insurer_id": insurer.id}
        claim = Treatment(treatment_date=TODAY - timedelta(days=5), reimbursable=True, insurer_amount_cents=12000,
                          **common)
        # Before the lapse, or not reimbursable: not listed.
        before = Treatment(treatment_date=TODAY - timedelta(days=20), reimbursable=True,
                           insurer_amount_cents=12000, **common)
        unpaid = Treatment(treatment_date=TODAY - timedelta(days=4), reimbursable=False, **common)
        db.session.add_all([claim, before, unpaid])
        db.session.commit()
        return claim.id


def section(html: str, testid: str) -> str:
    return re.search(rf'data-testid="{testid}">(.*?)</table>', html, re.S).group(1)


def test_page_groups_expiring_and_expired(app, as_role):
    all_valid(app)
    expiring(app)
    claim_id = lapsed_with_claim(app)
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
    assert len(re.findall(r"<tr>", unclaimable)) == 2  # header + the one claim
    assert f"/treatments/{claim_id}" in unclaimable
    assert "Anna Jansen" in unclaimable and "EUR 120,00" in unclaimable
    assert "No KP registration on" in unclaimable
    assert 'href="/credentials/"' in html  # in the nav


def test_therapist_may_see_the_page(app, as_role):
    client = as_role("therapist")
    assert client.get("/credentials/").status_code == 200


def test_diplomaregister_successor_does_not_renew_a_kwaliteitsregister_entry(app):
    from backoffice.credentials.services import credential_report

    with app.app_context():
        therapist("Dropped", kp=[("kwaliteitsregister", LONG_AGO, TODAY - timedelta(days=2)),
                                 ("diplomaregister", TODAY - timedelta(days=1), TODAY + timedelta(days=900))])
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
    claim_id = lapsed_with_claim(app)
    result = app.test_cli_runner().invoke(args=["credentials", "check"])
    assert result.exit_code == 1, result.output
    assert "Expired, no successor recorded: 1" in result.output
    assert f"treatment {claim_id}" in result.output
    assert "Anna" not in result.output  # patients by id only in terminal output
