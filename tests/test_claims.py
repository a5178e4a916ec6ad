"""Claim batches from the database: building, each validation rule end to end, the one-live-batch constraint,
export, lifecycle, resubmission, patient-submitted claims, outcome statistics and a bounded number of queries.

Runs on SQLite and PostgreSQL. Invoices are issued through the invoicing service with a stub renderer.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import factories
import pytest
from openpyxl import load_workbook
from sqlalchemy import event, select, text
from sqlalchemy.exc import IntegrityError

from backoffice.claims import batches as claim_batches
from backoffice.claims import common as claim_common
from backoffice.claims import export as claim_export
from backoffice.claims import outcomes as claim_outcomes
from backoffice.claims import patient_claims as claim_patient_claims
from backoffice.claims import settings as claim_settings
from backoffice.claims import validation as claim_validation
from backoffice.claims.common import ClaimError
from backoffice.claims.workbook import CLAIM_SHEET, EXCLUDED_SHEET
from backoffice.extensions import db
from backoffice.invoicing import services as invoicing
from backoffice.models import (
    AccessLog,
    CatalogueItem,
    ClaimBatch,
    ClaimLine,
    CoverageRule,
    Insurance,
    Insurer,
    InsurerClaimSettings,
    InvoiceLine,
    KpRegistration,
    Patient,
    Practice,
    Therapist,
    User,
)

DAY = date(2026, 10, 5)
TODAY = date(2026, 11, 20)
OCTOBER = (date(2026, 10, 1), date(2026, 10, 31))
D = Decimal


def stub_renderer(doc) -> bytes:
    return f"%PDF-stub {doc.number}".encode()


class ClaimClinic:
    """A practice, an admin, a fully credentialed therapist, Zilveren Kruis with a yearly EUR 300 cap for acne
    and scars, and helpers to add insured patients and issued invoice lines, built from tests/factories.py. Ids
    only: use in an app context."""

    def __init__(self):
        factories.practice(iban=None)
        user = factories.user(factories.ADMIN_EMAIL, "admin", name="Ada Admin")
        insurer = factories.insurer()
        item = factories.catalogue_item(price_cents=10_000)
        rule = factories.coverage_rule(insurer, 2026, cap_cents=30_000, cap_group="zk-acne")
        db.session.commit()
        self.user_id, self.insurer_id, self.item_id, self.rule_id = user.id, insurer.id, item.id, rule.id
        self.therapist_id = self.therapist("Eva Jansen", "90012345")

    @property
    def user(self) -> User:
        return db.session.get(User, self.user_id)

    @property
    def insurer(self) -> Insurer:
        return db.session.get(Insurer, self.insurer_id)

    def therapist(self, name: str, agb: str, kp_end: date = date(2027, 12, 31)) -> int:
        therapist = factories.therapist(name, agb, nvh_from=date(2020, 1, 1), kp=[(date(2022, 1, 1), kp_end)])
        db.session.commit()
        return therapist.id

    def patient(self, last_name: str = "de Vries", insured: bool = True, bsn: str | None = None, **changes) -> int:
        patient = factories.patient(last_name, bsn=bsn, **changes)
        if insured:
            factories.insurance(patient, self.insurer, policy_number=f"ZK-{patient.id:04d}")
        db.session.commit()
        return patient.id

    def line(self, patient_id: int, day: date = DAY, price: str = "100.00", insurer_amount: str | None = None,
             therapist_id: int | None = None, referral_id: int | None = None, rule: bool = True) -> int:
        """An issued invoice with one reimbursable medical line; returns the invoice line's id."""
        treatment = factories.treatment(
            patient_id, therapist_id or self.therapist_id, self.item_id, day, price=price, indication="acne",
            insurer_amount=insurer_amount, insurer_id=self.insurer_id, referral_id=referral_id,
            rule=db.session.get(CoverageRule, self.rule_id) if rule else None)
        db.session.commit()
        invoice = factories.issued_invoice(patient_id, [treatment.id], self.user, TODAY, stub_renderer)
        db.session.commit()
        return invoice.lines[0].id

    def batch(self, period=OCTOBER, today: date = TODAY) -> ClaimBatch:
        batch = claim_batches.create_batch(self.insurer, *period, user=self.user, today=today)
        db.session.commit()
        return batch


@pytest.fixture
def clinic(app, tmp_path):
    app.config["CLAIMS_DIR"] = str(tmp_path / "claims")
    with app.app_context():
        yield ClaimClinic()


def claim_line(batch: ClaimBatch, invoice_line_id: int) -> ClaimLine:
    return db.session.scalar(select(ClaimLine).where(ClaimLine.batch_id == batch.id,
                                                     ClaimLine.invoice_line_id == invoice_line_id))


def codes(batch: ClaimBatch, invoice_line_id: int) -> list[str]:
    return [r["code"] for r in claim_line(batch, invoice_line_id).reasons]


# ---- building -----------------------------------------------------------------------------------------------

def test_a_batch_gathers_issued_reimbursable_uncredited_lines_of_the_insurer_and_period(clinic):
    patient = clinic.patient()
    wanted = clinic.line(patient)
    clinic.line(patient, day=date(2026, 11, 3))                      # another period
    credited = clinic.line(patient, day=date(2026, 10, 12))
    invoicing.credit_invoice(db.session.get(InvoiceLine, credited).invoice, reason="x", user=clinic.user,
                             today=TODAY, renderer=stub_renderer)
    other = factories.insurer("CZ", "9664")
    db.session.commit()
    foreign = clinic.line(patient, day=date(2026, 10, 20))
    db.session.get(InvoiceLine, foreign).treatment.insurer_id = other.id
    db.session.commit()

    batch = clinic.batch()
    assert batch.status == "draft" and batch.number == "3311-2026-001"
    assert [line.invoice_line_id for line in batch.lines] == [wanted]
    line = claim_line(batch, wanted)
    assert (line.included, line.live, line.claimed_cents, line.reasons) == (True, True, 10_000, [])

    with pytest.raises(ClaimError, match="Nothing to claim"):
        claim_batches.create_batch(clinic.insurer, *OCTOBER, user=clinic.user, today=TODAY)


def test_period_and_insurer_lookup(clinic):
    assert claim_common.parse_period("2026-02") == (date(2026, 2, 1), date(2026, 2, 28))
    assert claim_common.period_label(*claim_common.parse_period("2026-10")) == "oktober 2026"
    for wrong in ("2026-13", "oct", "", "1999-01"):
        with pytest.raises(ClaimError):
            claim_common.parse_period(wrong)
    assert claim_settings.find_insurer("3311").id == clinic.insurer_id
    assert claim_settings.find_insurer("zilveren").id == clinic.insurer_id
    with pytest.raises(ClaimError, match="No insurer"):
        claim_settings.find_insurer("Menzis")


# ---- each validation rule, end to end from the database ---------------------------------------------------------

def _insurance(patient_id: int) -> Insurance:
    return db.session.scalar(select(Insurance).where(Insurance.patient_id == patient_id))


def _referral(patient_id: int, referral_date: date, valid_until: date) -> int:
    referral = factories.referral(db.session.get_one(Patient, patient_id), referral_date=referral_date,
                                  valid_until=valid_until, referrer_type="gp", referrer_name="J. Jansen",
                                  referrer_agb="01234567", diagnosis="acne")
    db.session.commit()
    return referral.id


def _require_referral(clinic: ClaimClinic) -> None:
    db.session.get(CoverageRule, clinic.rule_id).referral_required = True
    db.session.commit()


def _no_policy(clinic, patient, line):
    db.session.delete(_insurance(patient))


def _policy_ended(clinic, patient, line):
    _insurance(patient).valid_until = date(2026, 9, 30)


def _kp_lapsed(clinic, patient, line):
    registration = db.session.scalar(select(KpRegistration).where(KpRegistration.therapist_id == clinic.therapist_id))
    registration.period_end = date(2026, 10, 4)


def _no_personal_agb(clinic, patient, line):
    db.session.get(Therapist, clinic.therapist_id).agb_code = ""


def _no_practice_agb(clinic, patient, line):
    db.session.scalar(select(Practice)).agb_code = ""


def _bsn_required(clinic, patient, line):
    db.session.add(InsurerClaimSettings(insurer_id=clinic.insurer_id, bsn_required=True))


def _referral_missing(clinic, patient, line):
    _require_referral(clinic)


def _referral_expired(clinic, patient, line):
    _require_referral(clinic)
    treatment = db.session.get(InvoiceLine, line).treatment
    treatment.referral_id = _referral(patient, date(2025, 9, 1), date(2026, 9, 30))


def _referral_after(clinic, patient, line):
    _require_referral(clinic)
    treatment = db.session.get(InvoiceLine, line).treatment
    treatment.referral_id = _referral(patient, date(2026, 10, 6), date(2027, 10, 5))


RULES = [
    ("no policy", _no_policy, "no_policy"),
    ("policy ended before the treatment", _policy_ended, "policy_not_valid"),
    ("KP registration lapsed the day before", _kp_lapsed, "therapist_not_eligible"),
    ("no personal AGB", _no_personal_agb, "missing_agb"),
    ("no practice AGB", _no_practice_agb, "missing_agb"),
    ("BSN required, none recorded", _bsn_required, "missing_bsn"),
    ("referral required, none", _referral_missing, "referral_missing"),
    ("referral expired", _referral_expired, "referral_expired"),
    ("referral dated after the treatment", _referral_after, "referral_after_treatment"),
]


@pytest.mark.parametrize(("change", "code"), [(c, code) for _, c, code in RULES], ids=[r[0] for r in RULES])
def test_each_rule_excludes_a_line_with_its_reason(clinic, change, code):
    """A line with everything in order (its own therapist, a BSN, a valid referral) stays included beside the
    line the change is about, so each reason is shown to be that line's only."""
    good_patient = clinic.patient("Bakker", bsn="111222333")
    good = clinic.line(good_patient, therapist_id=clinic.therapist("Bas Bakker", "90054321"),
                       referral_id=_referral(good_patient, date(2026, 9, 1), date(2027, 8, 31)))
    patient = clinic.patient()
    line = clinic.line(patient)
    change(clinic, patient, line)
    db.session.commit()
    batch = clinic.batch()
    assert codes(batch, line) == [code]
    excluded = claim_line(batch, line)
    assert (excluded.included, excluded.live, excluded.claimed_cents) == (False, None, 0)
    assert all(r["nl"] and r["en"] for r in excluded.reasons)
    # The practice AGB concerns every line of the practice.
    assert codes(batch, good) == (["missing_agb"] if change is _no_practice_agb else [])


def test_a_line_invoiced_without_prestatiecode_is_excluded_before_the_insurer_rejects_it(clinic, monkeypatch):
    """Invoices issued before the catalogue required a prestatiecode carry none; the insurer rejects such a line
    (GDS PM), so the claim check excludes it and says where the code is entered."""
    good = clinic.line(clinic.patient("Bakker"))
    checks_codes = invoicing._line_facts
    monkeypatch.setattr(invoicing, "_line_facts", lambda lines, codes=False: checks_codes(lines, codes=False))
    db.session.get(CatalogueItem, clinic.item_id).prestatiecode = ""
    db.session.commit()
    old = clinic.line(clinic.patient())
    assert db.session.get(InvoiceLine, old).prestatiecode == ""
    batch = clinic.batch()
    assert (codes(batch, old), codes(batch, good)) == (["missing_prestatiecode"], [])
    [reason] = claim_line(batch, old).reasons
    assert "prestatiecode" in reason["nl"] and "catalogus" in reason["nl"]


def test_past_the_claim_deadline(clinic):
    patient = clinic.patient()
    line = clinic.line(patient)
    batch = claim_batches.create_batch(clinic.insurer, *OCTOBER, user=clinic.user, today=date(2027, 10, 6))
    assert codes(batch, line) == ["past_deadline"]
    db.session.rollback()
    db.session.add(InsurerClaimSettings(insurer_id=clinic.insurer_id, deadline_months=24))
    db.session.commit()
    batch = claim_batches.create_batch(clinic.insurer, *OCTOBER, user=clinic.user, today=date(2027, 10, 6))
    assert codes(batch, line) == []


def test_nothing_to_reimburse(clinic):
    patient = clinic.patient()
    line = clinic.line(patient, insurer_amount="0.00")
    assert codes(clinic.batch(), line) == ["not_reimbursable"]


def test_the_cap_is_recomputed_at_batch_time_across_batches(clinic):
    patient = clinic.patient()
    september = clinic.line(patient, day=date(2026, 9, 10), price="250.00")
    first = clinic.line(patient, day=date(2026, 10, 2), price="40.00")
    second = clinic.line(patient, day=date(2026, 10, 9), price="40.00")
    earlier = clinic.batch((date(2026, 9, 1), date(2026, 9, 30)))
    assert claim_line(earlier, september).claimed_cents == 25_000
    batch = clinic.batch()
    # EUR 300 a year: 250 claimed in September leaves 50; the first October line takes 40, the second gets 10.
    assert [claim_line(batch, i).claimed_cents for i in (first, second)] == [4_000, 1_000]
    claim_batches.cancel_batch(batch, clinic.user)
    fourth = clinic.line(patient, day=date(2026, 10, 20), price="60.00")
    db.session.commit()
    earlier_line = claim_line(earlier, september)
    earlier_line.claimed_cents = 30_000  # as if the whole cap had gone in September
    db.session.commit()
    batch = clinic.batch()
    assert codes(batch, first) == ["cap_used_up"]
    assert codes(batch, fourth) == ["cap_used_up"]


def test_a_line_already_in_a_live_batch_is_excluded_after_a_fix_elsewhere(clinic):
    patient = clinic.patient()
    line = clinic.line(patient)
    _insurance(patient).valid_until = date(2026, 9, 30)
    db.session.commit()
    first = clinic.batch()
    assert codes(first, line) == ["policy_not_valid"]
    _insurance(patient).valid_until = None
    db.session.commit()
    second = clinic.batch()   # the excluded line is free, so a new batch takes it
    assert codes(second, line) == []
    claim_validation.validate(first, today=TODAY)
    db.session.commit()
    assert codes(first, line) == ["already_claimed"]
    assert "3311-2026-002" in claim_line(first, line).reasons[0]["en"]


def test_revalidation_after_a_data_fix_includes_the_line(clinic):
    patient = clinic.patient()
    line = clinic.line(patient)
    db.session.get(Therapist, clinic.therapist_id).agb_code = ""
    db.session.commit()
    batch = clinic.batch()
    assert codes(batch, line) == ["missing_agb"]
    db.session.get(Therapist, clinic.therapist_id).agb_code = "90012345"
    db.session.commit()
    claim_validation.validate(batch, today=TODAY)
    db.session.commit()
    assert claim_line(batch, line).included and claim_line(batch, line).live


# ---- the database keeps a line in at most one live batch ------------------------------------------------------

def _raw_line(batch_id: int, invoice_line_id: int, live) -> None:
    db.session.execute(text(
        "INSERT INTO claim_lines (batch_id, invoice_line_id, included, live, status, amount_cents, expected_cents, "
        "claimed_cents, paid_cents, reasons, rejection_code, rejection_text) "
        "VALUES (:batch, :line, true, :live, 'pending', 0, 0, 0, 0, '[]', '', '')"
    ), {"batch": batch_id, "line": invoice_line_id, "live": live})


def test_a_line_cannot_be_live_in_two_batches(clinic):
    patient = clinic.patient()
    line = clinic.line(patient)
    first = clinic.batch()
    second = claim_batches.new_batch(clinic.insurer, *OCTOBER, clinic.user, TODAY)
    db.session.commit()
    second_id = second.id
    with pytest.raises(IntegrityError, match="(?i)unique|duplicate"):
        _raw_line(second_id, line, True)
        db.session.flush()
    db.session.rollback()
    # A dead line (NULL) never collides: history may hold many.
    _raw_line(second_id, line, None)
    db.session.commit()
    claim_line(first, line).live = None
    db.session.commit()
    _raw_line(claim_batches.new_batch(clinic.insurer, *OCTOBER, clinic.user, TODAY).id, line, None)
    db.session.commit()
    other = clinic.line(patient, day=date(2026, 10, 6))
    with pytest.raises(IntegrityError, match="(?i)check|live_true_or_null"):  # live is TRUE or NULL, nothing else
        _raw_line(second_id, other, False)
        db.session.flush()
    db.session.rollback()


# ---- export and lifecycle -------------------------------------------------------------------------------------

def test_export_freezes_the_batch_and_exports_again_byte_identically(clinic, app):
    patient = clinic.patient(first_name="=HYPERLINK(\"x\")")
    included = clinic.line(patient)
    excluded_patient = clinic.patient("Visser", insured=False)
    clinic.line(excluded_patient)
    batch = clinic.batch()
    result = claim_export.export_batch(batch, clinic.user, today=TODAY)
    db.session.commit()
    assert result.first_export and (result.claimed, result.excluded) == (1, 1)
    assert batch.status == "exported" and batch.file_sha256 == result.sha256
    first_bytes = result.path.read_bytes()
    line = claim_line(batch, included)
    assert line.claim_reference == "3311-2026-001-00001" and line.sequence == 1

    workbook = load_workbook(result.path)
    claims = list(workbook[CLAIM_SHEET].iter_rows(values_only=True))
    assert claims[0][0] == "Naam patiënt" and claims[1][0] == '=HYPERLINK("x") de Vries'
    assert workbook[CLAIM_SHEET]["A2"].data_type == "s"
    assert "no_policy" in list(workbook[EXCLUDED_SHEET].iter_rows(values_only=True))[1][6]

    # A later change of the patient's record does not change the exported claim.
    db.session.get(Patient, patient).last_name = "Changed"
    db.session.commit()
    again = claim_export.export_batch(batch, clinic.user)
    db.session.commit()
    assert not again.first_export and again.path.read_bytes() == first_bytes
    with pytest.raises(ClaimError, match="draft"):
        claim_validation.validate(batch)
    exports = db.session.scalars(select(AccessLog).where(AccessLog.action == "export")).all()
    assert sorted(e.patient_id for e in exports) == sorted([patient, excluded_patient] * 2)
    assert all(e.subject == f"claim batch {batch.number}" for e in exports)


def test_lifecycle_outcomes_and_closing(clinic):
    patient = clinic.patient()
    lines = [clinic.line(patient, day=date(2026, 10, d), price="50.00") for d in (2, 9, 16)]
    batch = clinic.batch()
    with pytest.raises(ClaimError, match="exported"):
        claim_batches.mark_submitted(batch, clinic.user)
    claim_export.export_batch(batch, clinic.user, today=TODAY)
    with pytest.raises(ClaimError, match="submitted"):
        claim_outcomes.record_line_outcome(claim_line(batch, lines[0]), D("50.00"), user=clinic.user)
    claim_batches.mark_submitted(batch, clinic.user)
    db.session.commit()
    claim_outcomes.record_line_outcome(claim_line(batch, lines[0]), D("50.00"), user=clinic.user)
    claim_outcomes.record_line_outcome(claim_line(batch, lines[1]), D("20.00"), "P1", "Deels vergoed", user=clinic.user)
    with pytest.raises(ClaimError, match="reason"):
        claim_outcomes.record_line_outcome(claim_line(batch, lines[2]), D("0"), user=clinic.user)
    with pytest.raises(ClaimError, match="between 0"):
        claim_outcomes.record_line_outcome(claim_line(batch, lines[2]), D("60.00"), user=clinic.user)
    assert batch.status == "submitted"
    claim_outcomes.record_line_outcome(claim_line(batch, lines[2]), D("0"), "V12",
                                       "Verzekerde niet aanvullend verzekerd", user=clinic.user)
    db.session.commit()
    assert batch.status == "closed" and batch.closed_by_id == clinic.user_id
    statuses = [(claim_line(batch, i).status, claim_line(batch, i).live) for i in lines]
    assert statuses == [("paid", True), ("partly_paid", True), ("rejected", None)]
    totals = claim_batches.batch_totals(batch.id)
    assert (totals.included, totals.claimed_cents, totals.paid_cents, totals.rejected) == (3, 15_000, 7_000, 1)


def _submitted(clinic, count=1, price="50.00"):
    patient = clinic.patient()
    lines = [clinic.line(patient, day=date(2026, 10, 2 + i), price=price) for i in range(count)]
    batch = clinic.batch()
    claim_export.export_batch(batch, clinic.user, today=TODAY)
    claim_batches.mark_submitted(batch, clinic.user)
    db.session.commit()
    return batch, lines


def test_a_rejected_line_is_resubmitted_in_a_new_batch_keeping_its_history(clinic):
    batch, (first, second) = _submitted(clinic, 2)
    claim_outcomes.record_line_outcome(claim_line(batch, first), D("0"), "V40", "Verwijzing ontbreekt",
                                       user=clinic.user)
    claim_outcomes.record_line_outcome(claim_line(batch, second), D("50.00"), user=clinic.user)
    db.session.commit()
    rejected = claim_line(batch, first)
    # Building again does not pick the rejected line up by itself: it goes back only when resubmitted.
    with pytest.raises(ClaimError, match="Nothing to claim"):
        claim_batches.create_batch(clinic.insurer, *OCTOBER, user=clinic.user, today=TODAY)
    db.session.rollback()
    with pytest.raises(ClaimError, match="not rejected"):
        claim_batches.resubmit([claim_line(batch, second)], clinic.user, today=TODAY)
    again = claim_batches.resubmit([rejected], clinic.user, today=TODAY)
    db.session.commit()
    assert again.id != batch.id and again.status == "draft" and again.number == "3311-2026-002"
    new = claim_line(again, first)
    assert new.resubmission_of_id == rejected.id and new.included and new.live
    assert [h.id for h in claim_outcomes.history(first)] == [rejected.id, new.id]
    assert claim_line(batch, first).status == "rejected"
    with pytest.raises(ClaimError, match="already claimed again"):
        claim_batches.resubmit([claim_line(batch, first)], clinic.user, today=TODAY)


def test_cancelling_frees_the_lines(clinic):
    patient = clinic.patient()
    line = clinic.line(patient)
    batch = clinic.batch()
    claim_batches.cancel_batch(batch, clinic.user)
    db.session.commit()
    assert batch.status == "cancelled" and claim_line(batch, line).live is None
    assert codes(clinic.batch(), line) == []


def test_an_insurer_billed_through_the_patient_gets_no_batch(clinic):
    patient = clinic.patient()
    line = clinic.line(patient)
    db.session.add(InsurerClaimSettings(insurer_id=clinic.insurer_id, direct_billing=False))
    db.session.commit()
    with pytest.raises(ClaimError, match="not billed directly"):
        clinic.batch()
    db.session.rollback()
    claim = claim_patient_claims.record_patient_claim(db.session.get(InvoiceLine, line), clinic.insurer_id,
                                                      date(2026, 10, 10), user=clinic.user)
    db.session.commit()
    assert (claim.status, claim.claimed_cents) == ("pending", 10_000)
    claim_patient_claims.record_patient_claim(claim.invoice_line, clinic.insurer_id, date(2026, 10, 10), paid=D("0"),
                                              reason_code="", reason_text="Geen aanvullende verzekering",
                                              user=clinic.user, claim=claim)
    db.session.commit()
    assert (claim.status, claim.rejection_text) == ("rejected", "Geen aanvullende verzekering")
    with pytest.raises(ClaimError, match="already has"):
        claim_patient_claims.record_patient_claim(claim.invoice_line, clinic.insurer_id, date(2026, 10, 10),
                                                  user=clinic.user)


def test_outcome_statistics_cover_both_routes(clinic):
    batch, lines = _submitted(clinic, 3)
    claim_outcomes.record_line_outcome(claim_line(batch, lines[0]), D("50.00"), user=clinic.user)
    claim_outcomes.record_line_outcome(claim_line(batch, lines[1]), D("0"), "V12", "Niet verzekerd", user=clinic.user)
    claim_outcomes.record_line_outcome(claim_line(batch, lines[2]), D("0"), "V12", "Niet verzekerd", user=clinic.user)
    patient = clinic.patient("Smit")
    restitution = clinic.line(patient, day=date(2026, 11, 2), price="80.00")
    claim_patient_claims.record_patient_claim(db.session.get(InvoiceLine, restitution), clinic.insurer_id,
                                              date(2026, 11, 5), paid=D("60.00"), user=clinic.user)
    db.session.commit()
    (stats,) = claim_outcomes.outcome_statistics()
    assert (stats.insurer, stats.indication) == ("Zilveren Kruis", "acne")  # the code; the page shows its label
    assert (stats.lines, stats.claimed, stats.paid) == (4, D("230.00"), D("110.00"))
    assert (stats.paid_lines, stats.partly_paid_lines, stats.rejected_lines) == (1, 1, 2)
    assert stats.by_route == {"batch": 3, "patient": 1}
    assert [(r.code, r.lines) for r in stats.top_reasons] == [("V12", 2)]


# ---- validation costs a fixed number of queries ---------------------------------------------------------------

class StatementCounter:
    def __init__(self, engine):
        self.engine, self.count = engine, 0

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, *args, **kwargs):
        self.count += 1


def _validation_statements(clinic, lines: int, month: int) -> int:
    """Statements sent while validating a batch of `lines` lines, each of another patient with a referral, half
    of them by their own therapist, all sharing the yearly cap group."""
    for i in range(lines):
        patient = clinic.patient(f"Patient{month}-{i}", bsn=None)
        therapist = clinic.therapist(f"Therapist {month}-{i}", f"9{month:02d}2{i:04d}") if i % 2 else None
        referral = _referral(patient, date(2026, 1, 1), date(2027, 8, 31))
        clinic.line(patient, day=date(2026, month, 1 + i % 19), therapist_id=therapist, referral_id=referral)
    _require_referral(clinic)
    batch = clinic.batch((date(2026, month, 1), date(2026, month, 19)))
    db.session.expire_all()
    with StatementCounter(db.engine) as counter:
        validation = claim_validation.validate(batch, today=TODAY)
        db.session.flush()
    assert len(validation.included) == lines
    db.session.commit()
    return counter.count


def test_validation_takes_a_fixed_number_of_queries_whatever_the_batch_size(clinic):
    few = _validation_statements(clinic, 3, 10)
    many = _validation_statements(clinic, 12, 11)
    print(f"validation statements: {few} for 3 lines, {many} for 12")
    assert few == many
    assert many <= 20
