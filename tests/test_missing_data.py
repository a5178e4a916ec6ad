"""What a claim or declaration still lacks, shown before anything is issued or exported: BSN and ID document
where the insurer asks for the BSN, referral where the rule requires one, prestatiecode, an outdated intake; on
the draft invoice and on a draft claim batch, each with a link to where it is fixed."""

from __future__ import annotations

import re
from datetime import date

import factories
import pytest
from conftest import login
from test_claims import DAY as CLAIM_DAY
from test_claims import ClaimClinic

from backoffice.domain.invoicing import ClaimLine, ClaimPatient, Gap, claim_gaps
from backoffice.extensions import db
from backoffice.models import InsurerClaimSettings, Patient, Therapist

BSN = "111222333"
DAY = date(2026, 11, 2)


def _line(**changes) -> ClaimLine:
    values = {"treatment_id": 7, "treatment_date": DAY, "description": "Fractional laser", "catalogue_item_id": 3,
              "prestatiecode": "HD101", "insurer_name": "Zilveren Kruis"}
    return ClaimLine(**{**values, **changes})


COMPLETE = ClaimPatient(bsn_recorded=True, id_document_recorded=True, intake_dates=(date(2026, 6, 1),))


# ---- the rule ---------------------------------------------------------------------------------------------------

def test_nothing_is_missing_for_a_complete_line():
    assert claim_gaps(COMPLETE, [_line(bsn_required=True, referral_required=True, referral_from=date(2026, 9, 1),
                                       referral_until=date(2027, 8, 31))], 12) == []


def test_the_bsn_and_id_document_only_when_the_insurer_asks_for_the_bsn():
    patient = ClaimPatient(bsn_recorded=False, id_document_recorded=False, intake_dates=(date(2026, 6, 1),))
    assert claim_gaps(patient, [_line()], 12) == []
    found = claim_gaps(patient, [_line(bsn_required=True)], 12)
    assert [item.gap for item in found] == [Gap.BSN, Gap.ID_DOCUMENT]
    assert str(found[0]) == "patient BSN (Zilveren Kruis asks for it on declarations and claims)"
    with_bsn = ClaimPatient(bsn_recorded=True, id_document_recorded=False, intake_dates=(date(2026, 6, 1),))
    assert [item.gap for item in claim_gaps(with_bsn, [_line(bsn_required=True)], 12)] == [Gap.ID_DOCUMENT]


def test_a_missing_or_expired_referral_where_the_rule_requires_one():
    assert claim_gaps(COMPLETE, [_line(referral_required=False)], 12) == []
    [missing] = claim_gaps(COMPLETE, [_line(referral_required=True)], 12)
    assert missing.gap is Gap.REFERRAL and missing.ref == 7
    assert str(missing) == ("referral for the treatment of 02-11-2026 (Fractional laser): the insurer's rule "
                            "requires one")
    [expired] = claim_gaps(COMPLETE, [_line(referral_required=True, referral_from=date(2025, 9, 1),
                                            referral_until=date(2026, 8, 31))], 12)
    assert str(expired) == ("valid referral for the treatment of 02-11-2026 (Fractional laser): the referral runs "
                            "from 01-09-2025 to 31-08-2026")


def test_a_missing_prestatiecode_names_the_item_once():
    found = claim_gaps(COMPLETE, [_line(prestatiecode=""), _line(treatment_id=8, prestatiecode=" ")], 12)
    assert [(item.gap, item.ref) for item in found] == [(Gap.PRESTATIECODE, 3)]
    assert "Fractional laser" in str(found[0])


@pytest.mark.parametrize(("intakes", "expected"), [
    ((), "intake before the treatment of 02-11-2026"),
    ((date(2026, 11, 3),), "intake before the treatment of 02-11-2026"),          # only after the treatment
    ((date(2025, 11, 1),), "up-to-date intake: the intake of 01-11-2025 was older than 12 months on 02-11-2026"),
])
def test_no_intake_or_an_outdated_one(intakes, expected):
    patient = ClaimPatient(bsn_recorded=True, id_document_recorded=True, intake_dates=intakes)
    [missing] = claim_gaps(patient, [_line()], 12)
    assert missing.gap is Gap.INTAKE and str(missing) == expected


def test_an_intake_exactly_at_the_validity_limit_is_still_valid():
    patient = ClaimPatient(bsn_recorded=True, id_document_recorded=True, intake_dates=(date(2025, 11, 2),))
    assert claim_gaps(patient, [_line()], 12) == []


# ---- the draft invoice ------------------------------------------------------------------------------------------

class Scene:
    """An insured patient without BSN, ID document or intake; Zilveren Kruis asks for the BSN; a rule that requires
    a referral; one reimbursable treatment on a draft invoice."""

    def __init__(self, bsn_required: bool = True):
        factories.practice()
        self.user = factories.user(factories.ADMIN_EMAIL, "admin")
        therapist = factories.therapist(agb_code="90012345", kp=None, nvh_number=None)
        insurer = factories.insurer()
        db.session.add(InsurerClaimSettings(insurer_id=insurer.id, direct_billing=False, deadline_months=12,
                                            bsn_required=bsn_required))
        rule = factories.coverage_rule(insurer, referral_required=True)
        self.patient = factories.patient()
        factories.insurance(self.patient, insurer, policy_number="ZK-778")
        item = factories.catalogue_item("FRAC", "Fractional laser, acne scars", prestatiecode="HD101")
        db.session.commit()
        treatment = factories.treatment(self.patient.id, therapist.id, item.id, DAY, insurer_id=insurer.id, rule=rule)
        db.session.commit()
        self.treatment_id = treatment.id
        self.invoice_id = factories.draft_invoice(self.patient.id, [treatment.id], self.user).id
        self.patient_id = self.patient.id
        db.session.commit()


def _panel(html: str) -> str:
    assert 'data-testid="claim-missing"' in html, "no missing-data panel"
    return html.split('data-testid="claim-missing"', 1)[1].split("</div>", 1)[0]


def _gaps(panel: str) -> dict[str, str]:
    return dict(re.findall(r'<li data-gap="(\w+)">(.*?)</li>', panel, re.S))


def test_the_draft_invoice_shows_what_a_claim_lacks_with_links(app, client, users):
    with app.app_context():
        scene = Scene()
    login(client, users["admin"])
    html = client.get(f"/invoices/{scene.invoice_id}").get_data(as_text=True)
    gaps = _gaps(_panel(html))
    assert list(gaps) == ["bsn", "id_document", "referral", "intake"]
    patient = scene.patient_id
    assert f'href="/patients/{patient}/edit"' in gaps["bsn"] and "Zilveren Kruis" in gaps["bsn"]
    assert f'href="/patients/{patient}/edit"' in gaps["id_document"]
    assert f'href="/patients/{patient}/referrals/"' in gaps["referral"] and "02-11-2026" in gaps["referral"]
    assert f'href="/patients/{patient}/intakes/new"' in gaps["intake"]
    # None of these stops issuing (the prestatiecode is there): the issue button stays.
    assert 'data-testid="missing-preview"' not in html and "/issue" in html


def test_the_panel_empties_as_the_data_is_filled_in(app, client, users):
    with app.app_context():
        scene = Scene()
        patient = db.session.get(Patient, scene.patient_id)
        patient.set_bsn(BSN)
        patient.id_document_type, patient.id_document_number = "passport", "NP4K8L2T1"
        factories.intake(patient, date(2026, 10, 1))
        referral = factories.referral(patient)
        from backoffice.models import Treatment

        db.session.get(Treatment, scene.treatment_id).referral_id = referral.id
        db.session.commit()
    login(client, users["admin"])
    html = client.get(f"/invoices/{scene.invoice_id}").get_data(as_text=True)
    assert 'data-testid="claim-missing"' not in html


def test_no_bsn_asked_when_the_insurer_does_not_require_it(app, client, users):
    with app.app_context():
        scene = Scene(bsn_required=False)
    login(client, users["admin"])
    gaps = _gaps(_panel(client.get(f"/invoices/{scene.invoice_id}").get_data(as_text=True)))
    assert "bsn" not in gaps and "id_document" not in gaps and list(gaps) == ["referral", "intake"]


def test_the_panel_is_dutch_for_a_dutch_user(app, client):
    from conftest import create_user

    create_user(app, "beheer@test.nl", "admin", language="nl")
    with app.app_context():
        scene = Scene()
    login(client, "beheer@test.nl")
    panel = _panel(client.get(f"/invoices/{scene.invoice_id}").get_data(as_text=True))
    assert "BSN van de cliënt (Zilveren Kruis vraagt het op declaraties)" in panel
    assert "Cliënt bewerken" in panel and "intake vóór de behandeling van 02-11-2026" in panel
    assert "Edit the patient" not in panel and "asks for it" not in panel


# ---- the claim batch --------------------------------------------------------------------------------------------

@pytest.fixture
def claim_clinic(app, users, tmp_path):
    app.config["CLAIMS_DIR"] = str(tmp_path / "claims")
    with app.app_context():
        return ClaimClinic()


def test_a_draft_batch_shows_what_each_line_lacks_with_links(app, client, users, claim_clinic):
    with app.app_context():
        clinic = claim_clinic
        db.session.add(InsurerClaimSettings(insurer_id=clinic.insurer_id, direct_billing=True, deadline_months=12,
                                            bsn_required=True))
        db.session.commit()
        fine = clinic.patient("Bakker", bsn=BSN, id_document_type="passport", id_document_number="NP4K8L2T1")
        factories.intake(db.session.get(Patient, fine), date(2026, 9, 1))
        no_bsn = clinic.patient("Visser")
        db.session.commit()
        other = clinic.therapist("Bas Visser", "90054321")
        clinic.line(fine)
        excluded = clinic.line(no_bsn, therapist_id=other)
        db.session.get(Therapist, other).agb_code = ""
        db.session.commit()
        batch = clinic.batch()
        batch_id = batch.id
        from test_claims import claim_line

        excluded_line = claim_line(batch, excluded).id
    login(client, users["admin"])
    html = client.get(f"/claims/{batch_id}").get_data(as_text=True)
    assert 'data-testid="batch-missing"' in html
    panel = html.split('data-testid="batch-missing"', 1)[1].split("</section>", 1)[0]
    rows = {int(line_id): row for line_id, row in re.findall(r'<tr data-line-id="(\d+)">(.*?)</tr>', panel, re.S)}
    assert list(rows) == [excluded_line]  # the complete line lacks nothing
    gaps = _gaps(rows[excluded_line])
    assert set(gaps) >= {"therapist", "bsn", "id_document", "intake"}
    assert f'href="/therapists/{other}"' in gaps["therapist"]
    assert "No valid personal AGB code for Bas Visser" in gaps["therapist"]
    assert f'href="/patients/{no_bsn}/edit"' in gaps["bsn"] and "requires the BSN" in gaps["bsn"]
    assert f'href="/patients/{no_bsn}/intakes/new"' in gaps["intake"]


def test_the_panel_is_gone_once_the_batch_is_exported(app, client, users, claim_clinic):
    from backoffice.claims import export as claim_export

    with app.app_context():
        clinic = claim_clinic
        patient = clinic.patient("Bakker")  # no intake: an item on the panel while the batch is a draft
        clinic.line(patient, day=CLAIM_DAY)
        batch = clinic.batch()
        batch_id = batch.id
    login(client, users["admin"])
    assert 'data-testid="batch-missing"' in client.get(f"/claims/{batch_id}").get_data(as_text=True)
    with app.app_context():
        from backoffice.models import ClaimBatch

        claim_export.export_batch(db.session.get(ClaimBatch, batch_id), user=clinic.user)
        db.session.commit()
    assert 'data-testid="batch-missing"' not in client.get(f"/claims/{batch_id}").get_data(as_text=True)
