"""The command-line tools: `flask create-user` and `flask seed-demo`, on SQLite and PostgreSQL."""

from __future__ import annotations

import ast
import hashlib
import random
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from conftest import login, make_test_app
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

import backoffice.demo as demo_package
from backoffice import clock
from backoffice.clock import clinic_today
from backoffice.demo import DEMO_LOGINS, seed_demo
from backoffice.demo.data import SEED
from backoffice.demo.people import entry_errors, patient_candidates, refused_candidates
from backoffice.domain.credentials import Badge
from backoffice.domain.indications import BodyArea
from backoffice.domain.money import from_cents
from backoffice.domain.texts import Text, english
from backoffice.domain.validators import (
    agb_error,
    bsn_error,
    iban_error,
    kvk_error,
    postcode_error,
    vat_id_error,
)
from backoffice.extensions import db
from backoffice.invoicing import services as invoicing
from backoffice.models import (
    AccessLog,
    CatalogueItem,
    ClaimBatch,
    ClaimLine,
    CoverageRule,
    CreditNote,
    Insurance,
    Insurer,
    Intake,
    Invoice,
    InvoicedTreatment,
    InvoiceLine,
    Patient,
    Payment,
    Practice,
    Referral,
    RemittanceImport,
    Therapist,
    Treatment,
    User,
)
from backoffice.patients.forms import PatientForm

COUNTED = {"users": User, "therapists": Therapist, "patients": Patient, "insurers": Insurer,
           "insurances": Insurance, "practices": Practice, "catalogue": CatalogueItem, "rules": CoverageRule,
           "intakes": Intake, "referrals": Referral, "treatments": Treatment, "invoices": Invoice,
           "payments": Payment, "credit_notes": CreditNote, "claim_batches": ClaimBatch, "claim_lines": ClaimLine}


def _stub_pdf(doc) -> bytes:
    return f"stub {doc.kind} {doc.number}".encode()  # no %PDF- header: only the real renderer passes for a PDF


@pytest.fixture
def real_pdfs():
    """Ask for this to have the demo's invoices rendered by WeasyPrint (some 50 PDFs: seconds, not 0.1 s)."""


@pytest.fixture(autouse=True)
def _demo_output(request, tmp_path, monkeypatch):
    """Claim workbooks go to a temporary CLAIMS_DIR; the demo's invoice PDFs are a stub (the PDF test itself
    asks for `real_pdfs`), so the many tests that seed the demo for other reasons stay quick."""
    if "app" in request.fixturenames:
        request.getfixturevalue("app").config["CLAIMS_DIR"] = str(tmp_path / "claims")
    if "real_pdfs" not in request.fixturenames:
        monkeypatch.setattr(invoicing, "_default_renderer", _stub_pdf)


def _counts(app) -> dict[str, int]:
    with app.app_context():
        return {name: db.session.scalar(select(func.count()).select_from(model))
                for name, model in COUNTED.items()}


NEW_PASSWORD = "a-long-password"


def _invoke(app, *args: str):
    # The commands push their own app context (with_appcontext), as under `flask <command>`.
    return app.test_cli_runner().invoke(args=list(args))


def _create_user(app, email="nina@example.nl", password=NEW_PASSWORD, role="therapist"):
    return _invoke(app, "create-user", "--email", email, "--name", "Nina Hofman", "--role", role,
                   "--password", password)


# ---- create-user ---------------------------------------------------------------------------------


def test_create_user_makes_an_account_that_can_sign_in(app):
    result = _create_user(app, email=" Nina@Example.nl ")
    assert result.exit_code == 0, result.output
    assert "Created therapist nina@example.nl." in result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "nina@example.nl"))
        assert user.role == "therapist" and user.name == "Nina Hofman" and user.active
        assert user.password_hash != "a-long-password"
    client = app.test_client()
    assert login(client, "nina@example.nl", "wrong-password-1").status_code == 401
    response = login(client, "nina@example.nl", "a-long-password")
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_create_user_refuses_a_duplicate_email_with_a_clear_message(app):
    assert _create_user(app).exit_code == 0
    result = _create_user(app, email="NINA@example.nl", role="admin")
    assert result.exit_code != 0
    assert "Er bestaat al een gebruiker met e-mailadres" in result.output  # the CLI speaks Dutch
    assert "Traceback" not in result.output
    with app.app_context():
        [user] = db.session.scalars(select(User)).all()
        assert user.role == "therapist"  # the first account is untouched


def test_create_user_refuses_a_short_password(app):
    result = _create_user(app, password="short")
    assert result.exit_code != 0
    assert "minstens 12 tekens" in result.output
    assert _counts(app)["users"] == 0


def test_create_user_refuses_an_unknown_role(app):
    result = _create_user(app, role="root")
    assert result.exit_code != 0
    assert "root" in result.output
    assert _counts(app)["users"] == 0


# ---- seed-demo -----------------------------------------------------------------------------------


def test_seed_demo_creates_the_practice_and_prints_logins_and_refusals(app):
    result = _invoke(app, "seed-demo")
    assert result.exit_code == 0, result.output
    counts = _counts(app)
    assert counts["users"] == 3
    assert counts["therapists"] == 3
    assert counts["insurers"] == 5
    assert counts["practices"] == 1
    assert 25 <= counts["patients"] <= 35
    assert counts["insurances"] >= counts["patients"] * 2 // 3
    assert f"{counts['patients']} patients in the database." in result.output
    billing = re.search(r"Billing: (\d+) invoices \((\d+) paid, (\d+) open of which (\d+) overdue, (\d+) credited\), "
                        r"(\d+) credit note\(s\), (\d+) payments, (\d+) recent treatments left to invoice; "
                        r"(\d+) claim batches \((\d+) lines, (\d+) excluded\)\.", result.output)
    assert billing, result.output
    invoices, paid, open_, overdue, credited, notes, payments, _recent, batches, lines, excluded = map(
        int, billing.groups())
    assert (invoices, notes, payments, batches, lines) == (
        counts["invoices"], counts["credit_notes"], counts["payments"], counts["claim_batches"], counts["claim_lines"])
    assert paid + open_ + credited == invoices and 0 < overdue <= open_ and paid > invoices // 2
    assert credited == notes == 1 and batches == 2 and excluded >= 1
    for role, email, password in DEMO_LOGINS:
        assert re.search(rf"{role}\s+{re.escape(email)}\s+{re.escape(password)}", result.output)
    refused = [line for line in result.output.splitlines() if line.strip().startswith("refused:")]
    assert len(refused) >= 4
    output = "\n".join(refused)
    assert "elfproef" in output
    assert "vier cijfers (niet beginnend met 0)" in output  # 0123 AB
    assert "nooit op SA" in output
    assert "in de toekomst" in output


def test_seed_demo_stores_none_of_the_refused_records(app):
    with app.app_context():
        report = seed_demo()
        db.session.commit()
        names = {p.full_name for p in db.session.scalars(select(Patient))}
    assert report.refused
    for line in report.refused:
        name, _, reason = line.partition(": ")
        assert reason
        assert name not in names


def test_demo_entry_rules_agree_with_the_patient_form(app):
    """The demo checks its patients without WTForms: the patient form refuses exactly the same records, with
    the same messages."""
    today = date(2026, 3, 1)
    candidates = patient_candidates(today, random.Random(SEED)) + refused_candidates(today)
    refused = 0
    with app.test_request_context("/"), clock.freeze(datetime(2026, 3, 1, 12, 0, tzinfo=UTC)):
        for candidate in candidates:
            values = {**vars(candidate.details), "date_of_birth": candidate.details.date_of_birth.isoformat()}
            form = PatientForm(formdata=MultiDict(values), meta={"csrf": False})
            form.validate()
            expected = [f"{form[name].label.text}: {message}" for name, messages in form.errors.items()
                        for message in messages]
            assert entry_errors(candidate.details, today) == expected, candidate.details
            refused += bool(expected)
    assert refused == len(refused_candidates(today)) == 5


def test_the_demo_imports_no_web_forms():
    for path in Path(demo_package.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom | ast.Import):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                assert not any("wtforms" in n or "flask_wtf" in n or n.endswith("forms") for n in names), path


def test_seed_demo_if_empty_adds_nothing_the_second_time(app):
    assert _invoke(app, "seed-demo", "--if-empty").exit_code == 0
    before = _counts(app)
    assert before["patients"] > 0
    result = _invoke(app, "seed-demo", "--if-empty")
    assert result.exit_code == 0, result.output
    assert "already has data" in result.output
    assert "demo-admin-2026" in result.output  # the logins are still shown
    assert _counts(app) == before


def test_seed_demo_without_if_empty_does_not_duplicate(app):
    assert _invoke(app, "seed-demo").exit_code == 0
    before = _counts(app)
    result = _invoke(app, "seed-demo")
    assert result.exit_code == 0, result.output
    assert _counts(app) == before


def test_seed_demo_if_empty_keeps_out_of_a_database_in_use(app):
    assert _create_user(app).exit_code == 0
    result = _invoke(app, "seed-demo", "--if-empty")
    assert result.exit_code == 0
    assert _counts(app)["patients"] == 0


def test_demo_therapists_show_valid_expiring_and_diploma_only_badges(app):
    today = clinic_today()
    assert _invoke(app, "seed-demo").exit_code == 0
    with app.app_context():
        therapists = db.session.scalars(select(Therapist).order_by(Therapist.id)).all()
        badges = sorted(t.badge(today).badge for t in therapists)
        assert badges == sorted([Badge.VALID, Badge.EXPIRING, Badge.DIPLOMA_ONLY])
        expiring = next(t for t in therapists if t.badge(today).badge is Badge.EXPIRING)
        assert (expiring.badge(today).ends_on - today).days == 20
        valid = next(t for t in therapists if t.badge(today).badge is Badge.VALID)
        assert valid.badge(today).ends_on.year >= today.year + 2
        # History: the valid therapist has an earlier, expired KP period too.
        assert any(r.period_end < today for r in valid.kp_registrations)
        for therapist in therapists:
            assert agb_error(therapist.agb_code) is None and therapist.agb_code.startswith("90")
            for registration in therapist.kp_registrations:
                assert registration.verified_by.role == "admin"
                assert registration.verified_at is not None
        # The therapist demo login is that therapist's account.
        demo_therapist = db.session.scalar(select(User).where(User.role == "therapist"))
        assert demo_therapist.therapist is not None


def test_seeded_patients_have_valid_data_and_only_eleven_test_bsns(app):
    today = clinic_today()
    assert _invoke(app, "seed-demo").exit_code == 0
    with app.app_context():
        patients = db.session.scalars(select(Patient)).all()
        bsns = [p.get_bsn() for p in patients if p.bsn_encrypted]
        assert len(patients) // 3 <= len(bsns) <= len(patients) * 2 // 3  # about half
        assert len(set(bsns)) == len(bsns)
        for bsn in bsns:
            assert bsn_error(bsn) is None
        for patient in patients:
            assert postcode_error(patient.postcode) is None
            assert patient.date_of_birth < today
            if patient.bsn_encrypted:
                assert patient.id_document_type and patient.id_document_number
        ages = sorted(p.age_on(today) for p in patients)
        assert ages[0] >= 17 and ages[1] >= 18  # at most one minor
        assert any(p.infix for p in patients)
        assert any(i.valid_until is not None for p in patients for i in p.insurances)
        # Created as the system, and the access log never holds a BSN.
        entries = db.session.scalars(select(AccessLog)).all()
        assert {e.user_email for e in entries} == {"(system)"}
        assert {e.patient_id for e in entries if e.action == "create" and e.subject == "patient"} == {
            p.id for p in patients}
        logged = " ".join(f"{e.subject} {e.detail}" for e in entries)
        assert not any(bsn in logged for bsn in bsns)


def test_seeded_practice_passes_the_identifier_checks(app):
    assert _invoke(app, "seed-demo").exit_code == 0
    with app.app_context():
        practice = db.session.scalar(select(Practice))
        assert kvk_error(practice.kvk_number) is None
        assert vat_id_error(practice.vat_id) is None
        assert agb_error(practice.agb_code) is None and practice.agb_code.startswith("90")
        assert iban_error(practice.iban) is None
        assert postcode_error(practice.postcode) is None
        insurers = db.session.scalars(select(Insurer)).all()
        assert all(re.fullmatch(r"\d{4}", i.uzovi) and i.packages for i in insurers)


def test_demo_logins_work(app):
    assert _invoke(app, "seed-demo").exit_code == 0
    for _role, email, password in DEMO_LOGINS:
        client = app.test_client()
        assert login(client, email, password).status_code == 302, email


def _snapshot(app, day: date):
    with app.app_context():
        seed_demo(day)
        db.session.commit()
        patients = db.session.scalars(select(Patient).order_by(Patient.id)).all()
        treatments = db.session.scalars(select(Treatment).order_by(Treatment.id)).all()
        invoices = db.session.scalars(select(Invoice).order_by(Invoice.id)).all()
        claim_lines = db.session.scalars(select(ClaimLine).order_by(ClaimLine.id)).all()
        return [
            (i.number, i.issue_date, i.due_date, i.patient.full_name, i.total_gross_cents,
             [(line.treatment_date, line.gross_cents, line.insurer_amount_cents) for line in i.lines],
             [(p.paid_on, p.method, p.amount_cents) for p in i.payments],
             [(n.number, n.issue_date, n.reason, n.total_gross_cents) for n in i.credit_notes])
            for i in invoices
        ] + [
            (c.batch.number, c.batch.status, c.batch.claim_date, c.claim_reference, c.included, c.status,
             c.claimed_cents, c.paid_cents, c.rejection_code, c.reasons)
            for c in claim_lines
        ] + [
            (p.full_name, p.date_of_birth, p.postcode, p.phone, p.email, p.get_bsn(), p.id_document_number,
             sorted((i.insurer.uzovi, i.policy_number, i.valid_from) for i in p.insurances))
            for p in patients
        ] + [
            (t.patient.full_name, t.treatment_date, t.catalogue_item.code, t.indication, t.body_area,
             t.therapist.agb_code, t.price_cents, t.reimbursable, t.insurer_amount_cents, t.assessment["reasons"])
            for t in treatments
        ]


def test_seed_demo_is_deterministic(app, tmp_path):
    day = date(2026, 3, 1)
    other = make_test_app("sqlite", CLAIMS_DIR=str(tmp_path / "other-claims"))
    with other.app_context():
        db.create_all()
    try:
        assert _snapshot(app, day) == _snapshot(other, day)
    finally:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


# ---- seed-demo: catalogue, insurer rules, intakes, referrals, treatments (issue 3) ---------------------------


def _rules(uzovi: str, year: int) -> list[CoverageRule]:
    return db.session.scalars(
        select(CoverageRule).join(Insurer).where(Insurer.uzovi == uzovi, CoverageRule.year == year)
        .order_by(CoverageRule.id)
    ).all()


def test_demo_catalogue_has_the_clinics_prices(app):
    assert _invoke(app, "seed-demo").exit_code == 0
    with app.app_context():
        items = {i.code: i for i in db.session.scalars(select(CatalogueItem))}
        assert {code: items[code].price_cents for code in
                ("FRAC-SCAR-F", "FRAC-REJ-F", "LHR-F", "LHR-L", "CAMO-LES", "MLD-45")} == {
            "FRAC-SCAR-F": 22500, "FRAC-REJ-F": 24900, "LHR-F": 9500, "LHR-L": 18900, "CAMO-LES": 8500,
            "MLD-45": 6500}
        assert items["FRAC-SCAR-F"].technique == items["FRAC-REJ-F"].technique == "fractional_laser"
        assert items["LHR-F"].technique == "laser_hair_removal" and items["IPL-F"].technique == "ipl"
        assert all(i.active and i.duration_minutes > 0 for i in items.values())


def test_demo_rules_carry_the_published_insurer_conditions(app):
    assert _invoke(app, "seed-demo").exit_code == 0
    with app.app_context():
        for year in (2025, 2026):
            zk = _rules("3311", year)
            assert {frozenset(r.categories) for r in zk} == {frozenset({"acne"}), frozenset({"hair_removal"})}
            # One EUR 300 cap a year shared by acne and hair removal; KP kwaliteitsregister; hair: face/neck.
            assert {(r.cap_cents, r.cap_period, r.cap_group, r.kp_level_required) for r in zk} == {
                (30000, "year", "zk-acne-hair", "kwaliteitsregister")}
            hair = next(r for r in zk if r.categories == ["hair_removal"])
            assert sorted(hair.body_areas) == ["face", "neck"]
        onvz = _rules("3358", 2026)
        camouflage = {r.package.name: r for r in onvz if r.categories == ["camouflage"]}
        assert {name: (r.cap_cents, r.max_sessions, r.cap_period) for name, r in camouflage.items()} == {
            "Optifit": (7000, 2, "year"), "Topfit": (12000, 2, "year")}
        epilation = [r for r in onvz if r.categories == ["hair_removal"]]
        assert epilation and all(r.cap_period == "lifetime" and r.waiting_months == 12
                                 and sorted(r.body_areas) == ["face", "neck"] for r in epilation)
        assert all("niet geverifieerd" in r.notes for r in epilation)  # the amounts are demo figures, and say so
        [anderzorg] = _rules("3313", 2026)
        assert (anderzorg.percentage, anderzorg.cap_cents, anderzorg.cap_period) == (80, 50000, "lifetime")
        assert sorted(anderzorg.body_areas) == ["face", "neck"]
        [fbto] = _rules("3343", 2026)
        assert fbto.referral_required and "acne" in fbto.categories and fbto.cap_cents == 25000
        [cz] = _rules("9664", 2026)
        assert cz.technique_required and cz.categories == ["hair_removal"]


def test_demo_treatments_carry_real_assessments(app):
    from backoffice.intakes.services import screening_for
    from backoffice.treatments.services import assess_treatment

    today = date(2026, 11, 24)  # fixed: which caps run out depends on where the calendar years fall
    with app.app_context():
        report = seed_demo(today)
        db.session.commit()
        treatments = db.session.scalars(select(Treatment).order_by(Treatment.id)).all()
        assert report.treatments == len(treatments)
        assert 60 <= len(treatments) <= 110
        assert all(t.treatment_date <= today for t in treatments)
        medical = [t for t in treatments if t.medical]
        cosmetic = [t for t in treatments if not t.medical]
        assert len(medical) >= 20 and len(cosmetic) >= 15
        assert all(t.vat_rate == 0 and t.vat_cents == 0 for t in medical)
        assert all(t.vat_rate == 21 and t.vat_cents > 0 and not t.reimbursable for t in cosmetic)
        assert all(t.net_cents + t.vat_cents == t.price_cents for t in treatments)
        assert all(t.insurer_amount_cents + t.patient_amount_cents == t.price_cents for t in treatments)
        reimbursed = [t for t in medical if t.reimbursable]
        assert len(reimbursed) >= 10 and len(medical) - len(reimbursed) >= 5
        # Every insurer's rules were used, and refusals name their reason.
        assert {t.insurer.uzovi for t in reimbursed} == {"3311", "3358", "3313", "3343", "9664"}
        refusals = " ".join(english(Text.from_json(t.assessment["reasons"][-2])) for t in medical if not t.reimbursable)
        assert "kwaliteitsregister" in refusals and "Waiting period" in refusals and "cap used up" in refusals
        invoiced = set(db.session.scalars(select(InvoicedTreatment.treatment_id)))
        for treatment in treatments:
            # The stored answer is what the service gives for the same facts (an invoiced one is never assessed
            # again: it keeps the answer it was invoiced with, and later invoiced treatments count against the cap
            # before it in a fresh assessment); the intake allowed it.
            if treatment.id not in invoiced:
                assert assess_treatment(treatment).to_dict() == treatment.assessment, treatment.id
            screening = screening_for(treatment.patient, treatment.treatment_date, BodyArea(treatment.body_area))
            assert screening.allowed, (treatment.id, screening.blocking)
        # No cap is ever exceeded: per patient, cap group and calendar year (lifetime: overall).
        spent: dict[tuple, int] = {}
        for t in reimbursed:
            rule = t.coverage_rule
            key = (t.patient_id, t.cap_group, t.treatment_date.year if rule.cap_period == "year" else None)
            spent[key] = spent.get(key, 0) + t.insurer_amount_cents
            assert spent[key] <= rule.cap_cents
        # A referral is attached where a rule asks for one.
        assert all(t.referral_id for t in reimbursed if t.coverage_rule.referral_required)
        # The created treatments are in the access log, as the system.
        logged = db.session.scalars(select(AccessLog).where(AccessLog.subject.like("treatment %"))).all()
        assert {e.subject for e in logged} == {f"treatment {t.id}" for t in treatments}


def test_demo_screening_refuses_the_pregnant_the_minor_and_the_recent_antibiotics(app):
    today = clinic_today()
    with app.app_context():
        report = seed_demo(today)
        db.session.commit()
        blocked = "\n".join(report.blocked)
        assert "Zwangerschap of borstvoeding" in blocked  # the CLI reports in Dutch
        assert f"Antibiotica gestopt op {today - timedelta(days=5):%d-%m-%Y}" in blocked
        assert "jonger dan 18" in blocked and "Geen intake vastgelegd" in blocked and "Geen toestemming" in blocked
        pregnant = next(i for i in db.session.scalars(select(Intake)) if any(
            c["kind"] == "pregnancy_breastfeeding" for c in i.contraindications))
        assert not db.session.scalar(select(func.count(Treatment.id)).where(
            Treatment.patient_id == pregnant.patient_id, Treatment.treatment_date >= pregnant.intake_date))
        # A minor may have lymph drainage, a camouflage lesson or an acne treatment, never a laser or IPL one.
        minors = [p for p in db.session.scalars(select(Patient)) if p.age_on(today) < 18]
        assert minors and not db.session.scalar(select(func.count(Treatment.id)).join(Treatment.catalogue_item).where(
            Treatment.patient_id.in_([p.id for p in minors]),
            CatalogueItem.technique.in_(["fractional_laser", "laser_hair_removal", "ipl"])))
        # Most patients have an intake with consent; some have a referral.
        patients = db.session.scalar(select(func.count(Patient.id)))
        consented = db.session.scalar(select(func.count(func.distinct(Intake.patient_id))).where(Intake.consent_given))
        assert consented >= patients * 3 // 4
        referrers = {r.referrer_type for r in db.session.scalars(select(Referral))}
        assert referrers == {"gp", "dermatologist"}


# ---- seed-demo: invoices, payments, a credit note and claim batches --------------------------------------------


def test_demo_invoices_are_numbered_printed_paid_and_credited(app, real_pdfs):
    from backoffice.invoicing.services import invoice_status, overdue_invoices

    today = date(2026, 2, 10)  # the eight months of history straddle the turn of the year: two number series
    term = app.config["INVOICE_PAYMENT_TERM_DAYS"]
    with app.app_context():
        report = seed_demo(today)
        db.session.commit()
        invoices = db.session.scalars(select(Invoice).order_by(Invoice.id)).all()
        assert report.invoices == len(invoices) and 30 <= len(invoices) <= 60
        assert all(i.status == "issued" for i in invoices)  # no drafts left behind
        # Issued in date order: per year consecutive from 00001, and the dates run with the numbers.
        assert {i.series_year for i in invoices} == {2025, 2026}
        for year in (2025, 2026):
            numbers = [i.number for i in invoices if i.series_year == year]
            assert numbers == [f"{year}-{n:05d}" for n in range(1, len(numbers) + 1)]
        assert [i.issue_date for i in invoices] == sorted(i.issue_date for i in invoices)
        for invoice in invoices:
            assert invoice.issue_date.year == invoice.series_year
            assert invoice.due_date == invoice.issue_date + timedelta(days=term)
            assert invoice.issue_date >= max(line.treatment_date for line in invoice.lines)
            assert invoice.total_gross_cents == sum(line.gross_cents for line in invoice.lines)
            # The PDF rendered at issue is stored with its SHA-256.
            assert invoice.pdf.startswith(b"%PDF-") and hashlib.sha256(invoice.pdf).hexdigest() == invoice.pdf_sha256
            assert invoice.snapshot["number"] == invoice.number

        statuses = {i.id: invoice_status(i, today) for i in invoices}
        states = [s.state.value for s in statuses.values()]
        overdue = [i for i in invoices if statuses[i.id].overdue]
        within_term = [i for i in invoices if statuses[i.id].state.value == "open" and not statuses[i.id].overdue]
        assert states.count("credited") == 1 and overdue and within_term
        assert states.count("paid") >= len(invoices) * 3 // 4
        assert report.invoice_states == {"paid": states.count("paid"), "open": states.count("open"),
                                         "overdue": len(overdue), "credited": 1}
        # Past months are mostly paid, by pin at the desk on the issue day or by transfer after it.
        past = [i for i in invoices if i.due_date < today]
        assert sum(statuses[i.id].state.value == "paid" for i in past) >= len(past) * 4 // 5
        payments = db.session.scalars(select(Payment)).all()
        assert report.payments == len(payments)
        # Direct billing: the answered batch's payments are on the patients' invoices as the insurer's.
        assert {p.method for p in payments} == {"pin", "bank_transfer", "insurer"}
        assert all(p.claim_line_id for p in payments if p.method == "insurer")
        assert all(p.invoice.issue_date <= p.paid_on < today for p in payments)
        assert all(p.paid_on == p.invoice.issue_date for p in payments if p.method == "pin")
        # The overdue list (the service behind the page) shows the overdue ones; one is partly paid.
        assert [o.invoice.id for o in overdue_invoices(today)] == [
            i.id for i in sorted(overdue, key=lambda i: (i.due_date, i.number))]
        assert any(0 < statuses[i.id].paid < statuses[i.id].total for i in overdue)

        # One credit note, with its reason and PDF; its treatments were invoiced again the same day.
        [note] = db.session.scalars(select(CreditNote)).all()
        assert report.credit_notes == 1 and note.number == f"C{note.issue_date.year}-00001"
        assert note.reason and "Vervangen" in note.reason
        assert note.pdf.startswith(b"%PDF-") and hashlib.sha256(note.pdf).hexdigest() == note.pdf_sha256
        credited = note.invoice
        assert statuses[credited.id].state.value == "credited" and not credited.payments
        assert note.total_gross_cents == -credited.total_gross_cents and len(credited.lines) >= 2
        for line in credited.lines:
            [again] = db.session.scalars(select(InvoiceLine).where(
                InvoiceLine.treatment_id == line.treatment_id, InvoiceLine.id != line.id)).all()
            assert again.invoice.issue_date == note.issue_date and again.invoice.number > credited.number

        # Every treatment older than two weeks is on a live invoice line; the recent ones are left to invoice.
        treatments = db.session.scalars(select(Treatment)).all()
        invoiced = set(db.session.scalars(select(InvoicedTreatment.treatment_id)))
        recent = {t.id for t in treatments if t.treatment_date > today - timedelta(days=14)}
        assert recent and invoiced == {t.id for t in treatments} - recent
        assert report.uninvoiced == len(recent)


def test_demo_claim_batches_are_answered_and_explain_exclusions(app):
    from backoffice.claims.batches import batch_lines
    from backoffice.claims.settings import claims_dir, settings_for

    today = date(2026, 11, 24)
    with app.app_context():
        report = seed_demo(today)
        db.session.commit()
        batches = db.session.scalars(select(ClaimBatch).order_by(ClaimBatch.id)).all()
        assert report.claim_batches == len(batches) == 2
        assert report.claim_lines == db.session.scalar(select(func.count(ClaimLine.id)))
        answered = next(b for b in batches if b.status in ("submitted", "closed"))
        [draft] = [b for b in batches if b.status == "draft"]
        assert answered.submitted_at is not None and answered.period_end < today - timedelta(days=30)
        assert answered.claim_date > answered.period_end
        # The exported workbook is in CLAIMS_DIR, as the batch recorded it.
        workbook = Path(claims_dir()) / answered.file_path
        assert Path(app.config["CLAIMS_DIR"]) in workbook.parents
        assert hashlib.sha256(workbook.read_bytes()).hexdigest() == answered.file_sha256
        for batch in batches:
            for view in batch_lines(batch):
                line = view.invoice_line
                # Issued, reimbursable, uncredited lines of the batch's insurer and month.
                assert view.invoice_number and line.reimbursable and line.credit_line is None
                assert batch.period_start <= line.treatment_date <= batch.period_end
                assert line.treatment.insurer_id == batch.insurer_id

        included = [v.line for v in batch_lines(answered) if v.line.included]
        outcomes = {line.status for line in included}
        assert {"paid", "partly_paid", "rejected"} <= outcomes
        assert answered.status == ("closed" if "pending" not in outcomes else "submitted")
        for line in included:
            assert line.claim_reference.startswith(answered.number)
            if line.status == "paid":
                assert line.paid_cents == line.claimed_cents > 0
            elif line.status == "partly_paid":
                assert 0 < line.paid_cents < line.claimed_cents and line.rejection_code
            elif line.status == "rejected":
                assert line.paid_cents == 0 and line.rejection_code and "Medische noodzaak" in line.rejection_text

        # A line excluded with its reason, which the assessment could not foresee (the treatment was assessed
        # reimbursable): Anderzorg asks for the BSN on its claim lines and the patient has none recorded.
        excluded = [v for b in batches for v in batch_lines(b) if not v.line.included]
        assert report.claim_lines_excluded == len(excluded) >= 1
        assert all(v.reasons for v in excluded)
        missing_bsn = [v for v in excluded if any(r.code == "missing_bsn" and "Anderzorg requires the BSN" in r.en
                                                  for r in v.reasons)]
        assert missing_bsn
        for view in missing_bsn:
            treatment = view.invoice_line.treatment
            assert treatment.reimbursable and treatment.insurer.uzovi == "3313" and treatment.patient.bsn_index is None
            assert settings_for(treatment.insurer_id).bsn_required
        # A diploma-only therapist's treatments were assessed not reimbursable: never claimed, never excluded.
        assert not any(r.code == "therapist_not_eligible" for v in excluded for r in v.reasons)
        assert any(v.line.included for v in batch_lines(draft)) and draft.file_path is None


def test_demo_shows_direct_billing_and_restitution(app):
    """Direct billing: the insurer's remittance is recorded as its payment on the patient's invoice and lowers what
    is still open of its part; the patient is asked for their part only. Restitution (CZ): the patient pays all."""
    from backoffice.claims.settings import settings_for
    from backoffice.invoicing.insurer_parts import line_shares

    today = date(2026, 11, 24)
    with app.app_context():
        seed_demo(today)
        db.session.commit()
        insurers = {i.uzovi: i for i in db.session.scalars(select(Insurer))}
        assert not settings_for(insurers["9664"].id).direct_billing
        assert all(settings_for(i.id).direct_billing for uzovi, i in insurers.items() if uzovi != "9664")

        lines = db.session.scalars(select(InvoiceLine)).all()
        # Restitution: CZ's reimbursable lines carry no insurer part; those invoices ask the patient for it all.
        cz_lines = [line for line in lines if line.reimbursable and line.treatment.insurer_id == insurers["9664"].id]
        assert cz_lines and all(line.insurer_part_cents == 0 for line in cz_lines)
        for invoice in {line.invoice for line in cz_lines if line.invoice.credit_notes == []}:
            status = invoicing.invoice_status(invoice, today)
            assert status.insurer_share == 0 and status.balance == status.total - status.paid

        # Direct billing: an invoice whose insurer paid (from its answered claim) and what is open of its part.
        insurer_payments = db.session.scalars(select(Payment).where(Payment.method == "insurer")).all()
        assert insurer_payments
        # They came from the insurer's remittance file, uploaded and applied as at the desk.
        [reply] = db.session.scalars(select(RemittanceImport)).all()
        assert reply.status == "applied" and reply.filename.startswith("retour-") and reply.unmatched_count == 0
        assert reply.paid_cents == sum(p.amount_cents for p in insurer_payments) > 0
        assert reply.matched_count == len(insurer_payments) + 1  # and the rejected line
        assert all(p.paid_on < today for p in insurer_payments)  # dated the day the insurer paid
        for payment in insurer_payments:
            invoice, claim = payment.invoice, db.session.get(ClaimLine, payment.claim_line_id)
            claimed = claim.invoice_line
            assert claimed.invoice_id == invoice.id and claimed.insurer_part_cents > 0
            assert payment.amount_cents == claim.paid_cents and claim.status in ("paid", "partly_paid")
            [share] = [s for s in line_shares(invoice) if s.line.id == claimed.id]
            assert share.paid == from_cents(payment.amount_cents) > 0
            assert share.open == share.part - share.paid - share.to_patient - share.written_off < share.part
            status = invoicing.invoice_status(invoice, today)
            # The patient's balance leaves the insurer's part out: the patient pays only their part.
            assert status.insurer_paid >= share.paid
            assert status.balance == status.total - status.credited - status.paid - status.insurer_share
            assert status.insurer_share > 0
