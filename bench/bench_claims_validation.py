"""Claim batch validation from the database: 10,000 invoice lines of one insurer and month, on SQLite and on
PostgreSQL (`make bench` runs both; the PostgreSQL figures end in `_pg`, bench/_support.py).

5,000 patients with two treatments each (sharing a yearly cap group), 20 therapists (one whose KP registration
lapsed mid-month), referrals for every patient (some expired), a few patients without a policy. The data goes
in with bulk inserts; then the real service builds the batch (`create_batch`: gather, insert the claim lines,
validate) and validates it again (`validate`), which is what is measured: median of BENCH_ROUNDS (default 3)
runs, with every SQL statement counted by an engine event listener.

Prints `figure <name> <value> <unit>` lines. Run with `make bench`.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta

import _support
from sqlalchemy import event, insert, update

from backoffice import create_app
from backoffice.claims import batches, validation
from backoffice.extensions import db
from backoffice.models import (
    CatalogueItem,
    CoverageRule,
    Insurance,
    Insurer,
    Invoice,
    InvoiceLine,
    KpRegistration,
    NvhMembership,
    Patient,
    Practice,
    Referral,
    Therapist,
    Treatment,
    User,
)

BACKENDS = ("sqlite", "postgresql")
LINES = int(os.environ.get("BENCH_CLAIM_LINES", "10000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
THERAPISTS = 20
MONTH = date(2026, 10, 1)
CLAIM_DATE = date(2026, 11, 20)


def seed() -> tuple[Insurer, User]:
    practice = Practice(name="Huidtherapie Bench", street="Laan 1", postcode="3511 AA", city="Utrecht",
                        kvk_number="12345678", vat_id="NL123456789B01", agb_code="90001234")
    user = User(email="bench@clinic.nl", name="Bench", role="admin", password_hash="x")
    insurer = Insurer(name="Zilveren Kruis", uzovi="3311")
    item = CatalogueItem(code="FL", name="Fractional laser", technique="fractional_laser", prestatiecode="9010",
                         price_cents=10_000)
    db.session.add_all([practice, user, insurer, item])
    db.session.flush()
    rule = CoverageRule(insurer_id=insurer.id, year=2026, label="Acne", categories=["acne", "scars"],
                        cap_cents=30_000, cap_period="year", cap_group="zk-acne", percentage=100,
                        referral_required=True)
    db.session.add(rule)
    therapists = []
    for i in range(THERAPISTS):
        therapist = Therapist(name=f"Therapeut {i:02d}", agb_code=f"9001{i:04d}")
        therapist.nvh_memberships = [NvhMembership(member_number=f"NVH-{i}", valid_from=date(2020, 1, 1))]
        end = date(2026, 10, 15) if i == 0 else date(2028, 12, 31)  # the first one's KP lapses mid-month
        therapist.kp_registrations = [KpRegistration(kp_number=f"KP-{i}", level="kwaliteitsregister",
                                                     period_start=date(2022, 1, 1), period_end=end)]
        therapists.append(therapist)
    db.session.add_all(therapists)
    db.session.flush()

    patients = LINES // 2
    first_patient = db.session.execute(insert(Patient).returning(Patient.id), [
        {"first_name": "Patiënt", "last_name": f"Achternaam {i:05d}", "date_of_birth": date(1970, 1, 1)
         + timedelta(days=i % 15000), "street": "Straat 1", "postcode": "3511 AA", "city": "Utrecht"}
        for i in range(patients)]).scalars().all()
    db.session.execute(insert(Insurance), [
        {"patient_id": pid, "insurer_id": insurer.id, "policy_number": f"ZK{pid:08d}", "valid_from": date(2026, 1, 1)}
        for n, pid in enumerate(first_patient) if n % 97])  # every 97th patient has no policy
    referral_ids = db.session.execute(insert(Referral).returning(Referral.id), [
        {"patient_id": pid, "referrer_type": "gp", "referrer_name": "J. Jansen", "referrer_agb": "01234567",
         "referral_date": date(2026, 1, 5), "diagnosis": "acne",
         "valid_until": date(2026, 10, 10) if n % 53 == 0 else date(2027, 1, 4)}
        for n, pid in enumerate(first_patient)]).scalars().all()
    treatments = []
    for n in range(LINES):
        pid = first_patient[n // 2]
        treatments.append({
            "patient_id": pid, "therapist_id": therapists[n % THERAPISTS].id,
            "treatment_date": MONTH + timedelta(days=(n * 7) % 31), "catalogue_item_id": item.id,
            "indication": "acne", "body_area": "face", "price_cents": 10_000, "medical": True, "vat_rate": 0,
            "net_cents": 10_000, "vat_cents": 0, "reimbursable": True, "insurer_id": insurer.id,
            "coverage_rule_id": rule.id, "cap_group": "zk-acne", "insurer_amount_cents": 10_000,
            "referral_id": referral_ids[n // 2], "assessment": {},
        })
    treatment_ids = db.session.execute(insert(Treatment).returning(Treatment.id), treatments).scalars().all()
    invoice_ids = db.session.execute(insert(Invoice).returning(Invoice.id), [
        {"patient_id": first_patient[n // 2], "status": "draft"} for n in range(LINES)]).scalars().all()
    db.session.execute(insert(InvoiceLine), [
        {"invoice_id": invoice_ids[n], "treatment_id": treatment_ids[n], "treatment_date": t["treatment_date"],
         "description": "Fractional laser", "prestatiecode": "9010", "indication": "Acne", "medical": True,
         "reimbursable": True, "quantity": 1, "gross_cents": 10_000, "net_cents": 10_000, "vat_cents": 0,
         "vat_rate": 0, "therapist_name": therapists[n % THERAPISTS].name,
         "therapist_agb": therapists[n % THERAPISTS].agb_code, "technique": "Fractional laser", "body_area": "face",
         "referral": "", "insurer_amount_cents": 10_000}
        for n, t in enumerate(treatments)])
    # Issue them all at once (lines cannot be added to an issued invoice).
    db.session.execute(update(Invoice).values(
        status="issued", number="B" + Invoice.id.cast(db.String), series_year=2026, sequence=Invoice.id,
        issue_date=date(2026, 11, 1), due_date=date(2026, 11, 15), pdf_sha256="0" * 64))
    db.session.commit()
    return insurer, user


def main() -> None:
    with tempfile.TemporaryDirectory() as folder, _support.database(folder) as (uri, engine_options):
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": uri, "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
                          "CLAIMS_DIR": folder})
        with app.app_context():
            db.create_all()
            start = time.perf_counter()
            insurer, user = seed()
            print(f"seeded {LINES} invoice lines in {time.perf_counter() - start:.1f} s", file=sys.stderr)

            start = time.perf_counter()
            batch = batches.create_batch(insurer, MONTH, date(2026, 10, 31), user=user, today=CLAIM_DATE)
            db.session.commit()
            build_s = time.perf_counter() - start
            totals = batches.batch_totals(batch.id)
            assert totals.included + totals.excluded == LINES, totals
            print(f"batch {batch.number}: {totals.included} included, {totals.excluded} excluded", file=sys.stderr)

            statements = []
            event.listen(db.engine, "before_cursor_execute", lambda *a, **k: statements.append(1))
            timings, counts = [], []
            for _ in range(ROUNDS):
                db.session.expire_all()
                statements.clear()
                start = time.perf_counter()
                validation.validate(batch, today=CLAIM_DATE)
                db.session.commit()
                timings.append(time.perf_counter() - start)
                counts.append(len(statements))
            assert len(set(counts)) == 1, counts
            _support.figure("claims_validation_queries", counts[0], "statements")
            _support.figure("claims_validation_s", f"{statistics.median(timings):.2f}", "s")
            _support.figure("claims_batch_build_s", f"{build_s:.2f}", "s")
            db.session.remove()
            db.engine.dispose()


if __name__ == "__main__":
    main()
