"""The monthly report (backoffice/reporting): figures from SQL checked against totals computed here from the raw
rows, the workbook (every sheet, charts and their references, formats), the month-end pack, the CLI, the
dashboard and who may reach it. Runs on SQLite and PostgreSQL.

The practice: two therapists (one whose KP registration ends within 90 days of the report date), Zilveren Kruis
(direct billing: billed in claim batches, its patients pay only their part, nothing for a fully reimbursed line)
and CZ (restitution: the patient pays all and claims), a medical and a cosmetic treatment, invoices issued in
2025, July, September, October and November 2026, credit notes, payments and claim outcomes on both routes.
October 2026 is the report month.
"""

from __future__ import annotations

import importlib.util
import io
import re
import threading
import time
import zipfile
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from xml.etree import ElementTree

import factories
import pytest
from conftest import create_user, csrf_token, login, make_test_app
from openpyxl import load_workbook
from pypdf import PdfReader, PdfWriter
from sqlalchemy import event, select, update

from backoffice.claims import batches as claim_batches
from backoffice.claims import export as claim_export
from backoffice.claims import outcomes as claim_outcomes
from backoffice.claims import patient_claims as claim_patient_claims
from backoffice.domain.money import from_cents, to_cents
from backoffice.domain.reporting import Month, reference_date, year_to_date
from backoffice.extensions import db
from backoffice.invoicing import insurer_parts
from backoffice.invoicing import services as invoicing
from backoffice.models import (
    REPORT_FACTS_SOURCES,
    AccessLog,
    CatalogueItem,
    ClaimLine,
    CoverageRule,
    CreditNote,
    CreditNoteLine,
    Insurance,
    Insurer,
    InsurerClaimSettings,
    InsurerSettlement,
    Invoice,
    InvoiceLine,
    PatientClaim,
    Payment,
    ReportFacts,
    Therapist,
    Treatment,
    User,
    report_facts_trigger_statements,
)
from backoffice.reporting import cache, queries, workbook

# The workbook is always Dutch (built inside i18n.dutch()), whoever downloads it.
NL_SHEETS = ["Overzicht", "Per behandelaar", "Per verzekeraar", "Per behandeling", "Debiteuren", "Registraties"]
BOOK_SHEETS = ["Factuurregister", "Betalingen"]  # the month's books: in the pack's report, or when asked for

D = Decimal
OCTOBER = Month(2026, 10)
TODAY = date(2026, 11, 24)
AS_OF = date(2026, 10, 31)
YTD = (date(2026, 1, 1), date(2026, 10, 31))
EVIL_NAME = '=HYPERLINK("http://evil.example","click")'


def blank_pdf(doc) -> bytes:
    """A real one-page PDF (the pack merges and zips them), different per document number."""
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_metadata({"/Title": doc.number})
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


class ReportClinic:
    """The practice described in the module docstring, built from tests/factories.py. Ids only: use it inside an
    app context."""

    def __init__(self):
        factories.practice()
        user = factories.user(factories.ADMIN_EMAIL, "admin", name="Ada Admin")
        zk = factories.insurer("Zilveren Kruis", "3311")
        cz = factories.insurer("CZ", "9664")
        db.session.add(InsurerClaimSettings(insurer_id=cz.id, direct_billing=False))  # Zilveren Kruis: the default
        laser = factories.catalogue_item("FL", "Fractional laser, acne scars")
        peel = factories.catalogue_item("PEEL", EVIL_NAME, technique="peel", prestatiecode="", price_cents=6_050)
        # "Acne and scars", a yearly EUR 1,000 cap per insurer (cap group acne-<insurer id>), 2025 and 2026.
        rules = [factories.coverage_rule(insurer, year, cap_cents=100_000) for insurer in (zk, cz)
                 for year in (2025, 2026)]
        eva = factories.therapist("Eva Jansen", "90012345", kp=[(date(2021, 1, 1), date(2030, 12, 31))],
                                  kp_number="KP-1", nvh_number="NVH-1", nvh_from=date(2019, 1, 1))
        noor = factories.therapist("Noor Bakker", "90054321", kp=[(date(2021, 12, 16), date(2026, 12, 15))],
                                   kp_number="KP-2", nvh_number="NVH-2", nvh_from=date(2020, 1, 1),
                                   nvh_until=date(2027, 12, 31))
        gone = factories.therapist("Oud Collega", "90099999", kp=None, nvh_number=None, active=False)
        db.session.commit()
        self.user_id, self.zk, self.cz, self.laser, self.peel = user.id, zk.id, cz.id, laser.id, peel.id
        self.rule = {(r.insurer_id, r.year): r.id for r in rules}
        self.eva, self.noor, self.gone = eva.id, noor.id, gone.id

    @classmethod
    def existing(cls) -> ReportClinic:
        """The helpers on the practice already in the database (for cosmetic treatments: no coverage rules)."""
        clinic = cls.__new__(cls)
        clinic.user_id = db.session.scalar(select(User.id).where(User.email == factories.ADMIN_EMAIL))
        clinic.laser, clinic.peel = (db.session.scalar(select(CatalogueItem.id).where(CatalogueItem.code == code))
                                     for code in ("FL", "PEEL"))
        clinic.rule = {}
        return clinic

    @property
    def user(self) -> User:
        return db.session.get(User, self.user_id)

    def patient(self, last_name: str, insurer_id: int) -> int:
        """Anna <last_name>, insured with the insurer since 2025 (no package)."""
        patient = factories.patient(last_name)
        factories.insurance(patient, db.session.get_one(Insurer, insurer_id), valid_from=date(2025, 1, 1))
        db.session.commit()
        return patient.id

    def treatment(self, patient_id: int, day: date, therapist_id: int, medical: bool = True,
                  price: str | None = None) -> int:
        """The laser (medical, reimbursed in full under the insurer's rule of that year) or the peel (cosmetic)."""
        insurer_id = db.session.scalar(select(Insurance.insurer_id).where(Insurance.patient_id == patient_id))
        rule = db.session.get_one(CoverageRule, self.rule[(insurer_id, day.year)]) if medical else None
        treatment = factories.treatment(patient_id, therapist_id, self.laser if medical else self.peel, day,
                                        medical=medical, price=price, insurer_id=insurer_id if medical else None,
                                        rule=rule)
        db.session.commit()
        return treatment.id

    def invoice(self, patient_id: int, treatment_ids: list[int], issued_on: date | None) -> Invoice:
        if issued_on is None:
            invoice = factories.draft_invoice(patient_id, treatment_ids, self.user)
        else:
            invoice = factories.issued_invoice(patient_id, treatment_ids, self.user, issued_on, blank_pdf)
        db.session.commit()
        return invoice

    def credit(self, invoice: Invoice, line_index: int, on: date) -> CreditNote:
        note = factories.credit_note(invoice, [invoice.lines[line_index].id], self.user, on, reason="Dubbel",
                                     renderer=blank_pdf)
        db.session.commit()
        return note

    def pay(self, invoice: Invoice, on: date, amount: str) -> None:
        invoicing.record_payment(invoice, on, "bank_transfer", D(amount), user=self.user)
        db.session.commit()


def build_practice() -> dict:
    c = ReportClinic()
    p1 = c.patient("Aalders", c.zk)   # treated in 2025 already: not new in 2026
    p2 = c.patient("Bos", c.cz)
    p3 = c.patient("Claes", c.cz)
    p4 = c.patient("Dekker", c.zk)
    ids = {"clinic": c, "patients": (p1, p2, p3, p4)}

    c.invoice(p1, [c.treatment(p1, date(2025, 12, 10), c.eva)], date(2025, 12, 20))            # before the year
    july = c.invoice(p3, [c.treatment(p3, date(2026, 7, 10), c.noor)], date(2026, 7, 15))       # > 90 days old
    c.pay(july, date(2026, 8, 1), "75.00")
    september = c.invoice(p2, [c.treatment(p2, date(2026, 9, 3), c.eva),
                               c.treatment(p2, date(2026, 9, 3), c.eva, medical=False)], date(2026, 9, 10))
    c.pay(september, date(2026, 11, 5), "100.00")                                              # after the month
    oct_p1 = c.invoice(p1, [c.treatment(p1, date(2026, 10, 2), c.eva)], date(2026, 10, 7))     # ZK pays it all
    oct_p3 = c.invoice(p3, [c.treatment(p3, date(2026, 10, 5), c.noor, medical=False),
                            c.treatment(p3, date(2026, 10, 5), c.noor, medical=False, price="121.00")],
                       date(2026, 10, 8))
    oct_p4 = c.invoice(p4, [c.treatment(p4, date(2026, 10, 6), c.noor)], date(2026, 10, 9))
    c.credit(september, 1, date(2026, 10, 15))     # the September peel, credited in October
    c.credit(oct_p3, 0, date(2026, 10, 25))        # one October peel, credited in October
    late = c.invoice(p2, [c.treatment(p2, date(2026, 10, 28), c.eva)], date(2026, 11, 3))     # treated Oct
    c.invoice(p4, [c.treatment(p4, date(2026, 10, 29), c.eva)], None)                           # a draft
    c.invoice(p4, [c.treatment(p4, date(2026, 11, 2), c.noor)], date(2026, 11, 4))             # November

    # Claims. Zilveren Kruis in a batch for October: P1's line paid after 20 days (the insurer's payment on the
    # invoice), P4's line rejected and its part moved to the patient on the day of the answer (after October).
    batch = claim_batches.create_batch(db.session.get(Insurer, c.zk), date(2026, 10, 1), date(2026, 10, 31),
                                       user=c.user, today=date(2026, 11, 1))
    claim_export.export_batch(batch, c.user, today=date(2026, 11, 1))
    claim_batches.mark_submitted(batch, c.user)
    db.session.commit()
    lines = {line.invoice_line.invoice_id: line for line in batch.lines}
    claim_outcomes.record_line_outcome(lines[oct_p1.id], D("175.00"), user=c.user, paid_on=date(2026, 11, 22))
    claim_outcomes.record_line_outcome(lines[oct_p4.id], D("0"), "V12", "Niet aanvullend verzekerd", user=c.user)
    insurer_parts.settle_shortfall(oct_p4, oct_p4.lines[0].id, "to_patient", "Niet aanvullend verzekerd",
                                   user=c.user, today=date(2026, 11, 12))
    db.session.commit()
    batch.submitted_at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    lines[oct_p1.id].outcome_at = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    lines[oct_p4.id].outcome_at = datetime(2026, 11, 12, 9, 0, tzinfo=UTC)
    # CZ through the patient: July paid in part after 30 days, September rejected, late October still pending.
    claim_patient_claims.record_patient_claim(july.lines[0], c.cz, date(2026, 7, 20), paid=D("100.00"),
                                              paid_on=date(2026, 8, 19), reason_code="P1",
                                              reason_text="Deels vergoed", user=c.user)
    claim_patient_claims.record_patient_claim(september.lines[0], c.cz, date(2026, 9, 15), paid=D("0"),
                                              reason_code="V12", reason_text="Niet aanvullend verzekerd", user=c.user)
    claim_patient_claims.record_patient_claim(late.lines[0], c.cz, date(2026, 11, 5), user=c.user)
    db.session.commit()
    ids.update(batch=batch.id, batch_number=batch.number)
    return ids


@pytest.fixture
def practice(app, tmp_path):
    app.instance_path = str(tmp_path / "instance")  # claim exports and downloads stay out of the project
    Path(app.instance_path).mkdir()
    with app.app_context():
        yield build_practice()


@pytest.fixture
def practice_web(app, tmp_path):
    app.instance_path = str(tmp_path / "instance")
    Path(app.instance_path).mkdir()
    with app.app_context():
        data = build_practice()
        data.pop("clinic")
        return data


def report_for(month: Month = OCTOBER):
    return queries.build_report(month, today=TODAY)


# ---- independent totals from the raw rows ----------------------------------------------------------------------

def _in(day: date | None, start: date, end: date) -> bool:
    return day is not None and start <= day <= end


def raw_revenue(start: date, end: date) -> list[tuple[bool, int, int, int, int, int, int, int]]:
    """(medical, rate, therapist, item, gross, net, vat, treatment indication) of every invoice line issued and
    credit-note line dated in the period, read row by row."""
    rows = []
    for line in db.session.scalars(select(InvoiceLine)):
        invoice = line.invoice
        if invoice.status == "issued" and _in(invoice.issue_date, start, end):
            t = line.treatment
            rows.append((line.medical, line.vat_rate, t.therapist_id, t.catalogue_item_id, line.gross_cents,
                         line.net_cents, line.vat_cents, t.indication))
    for credit in db.session.scalars(select(CreditNoteLine)):
        if _in(credit.credit_note.issue_date, start, end):
            line, t = credit.invoice_line, credit.invoice_line.treatment
            rows.append((line.medical, credit.vat_rate, t.therapist_id, t.catalogue_item_id, credit.gross_cents,
                         credit.net_cents, credit.vat_cents, t.indication))
    return rows


def raw_treatments(start: date, end: date) -> list[Treatment]:
    return [t for t in db.session.scalars(select(Treatment)) if _in(t.treatment_date, start, end)]


def cents(amount: Decimal) -> int:
    return to_cents(amount)


# ---- the figures ---------------------------------------------------------------------------------------------------

def test_totals_reconcile_exactly_with_the_invoice_and_credit_note_lines(practice):
    report = report_for()
    for period, overview in ((OCTOBER.first, report.overview.month), (YTD[0], report.overview.ytd)):
        rows = raw_revenue(period, OCTOBER.last)
        gross, net, tax = (sum(r[i] for r in rows) for i in (4, 5, 6))
        assert (cents(overview.revenue.gross), cents(overview.revenue.net), cents(overview.revenue.vat)) == (
            gross, net, tax)
        assert cents(overview.medical.gross) == sum(r[4] for r in rows if r[0])
        assert cents(overview.cosmetic.gross) == sum(r[4] for r in rows if not r[0])
        for rate in (0, 21):
            assert cents(overview.vat(rate).net) == sum(r[5] for r in rows if r[1] == rate)
            assert cents(overview.vat(rate).vat) == sum(r[6] for r in rows if r[1] == rate)
        assert sum(cents(line.amounts.gross) for line in overview.vat_by_rate) == gross
    # The same, written out: October has 175 + 60.50 + 121 + 175 invoiced, -60.50 and -60.50 credited.
    month = report.overview.month
    assert month.invoiced.gross == D("531.50") and month.credited.gross == D("-121.00")
    assert month.revenue.gross == D("410.50") and month.revenue.vat == D("10.50")
    assert month.vat(21).net == D("50.00") and month.vat(0).net == D("350.00")
    assert (month.invoices, month.credit_notes) == (3, 2)
    assert report.overview.ytd.revenue.gross == D("410.50") + D("175.00") + D("235.50")  # + July + September


def test_treatments_patients_and_new_patients_by_treatment_date(practice):
    report = report_for()
    for start, overview in ((OCTOBER.first, report.overview.month), (YTD[0], report.overview.ytd)):
        treated = raw_treatments(start, OCTOBER.last)
        assert overview.treatments == len(treated)
        assert overview.medical_treatments == sum(t.medical for t in treated)
        assert overview.patients_treated == len({t.patient_id for t in treated})
        everything = list(db.session.scalars(select(Treatment)))
        first_day = {p: min(t.treatment_date for t in everything if t.patient_id == p)
                     for p in {t.patient_id for t in treated}}
        assert overview.new_patients == sum(start <= day <= OCTOBER.last for day in first_day.values())
    assert (report.overview.month.treatments, report.overview.month.patients_treated) == (6, 4)
    assert report.overview.month.new_patients == 1  # Dekker; Aalders was treated in 2025, Bos and Claes earlier
    assert report.overview.ytd.new_patients == 3
    trend = {f.month.month: f for f in report.trend}
    assert [f.month for f in report.trend] == [Month(2026, m) for m in range(1, 11)]
    assert sum(f.treatments for f in report.trend) == report.overview.ytd.treatments
    assert sum((f.revenue.gross for f in report.trend), D(0)) == report.overview.ytd.revenue.gross
    assert trend[9].revenue.gross == D("235.50") and trend[7].medical_gross == D("175.00")


@pytest.mark.parametrize("months", [[(m, m) for m in range(1, 11)], [(1, 10)], [(7, 10)], [(10, 10)]])
def test_first_of_year_and_new_patients_follow_each_patients_history(practice, months):
    """However the months are read (one by one as the dashboard does, or spans), a patient treated in the span
    counts as first of the year in the month of their first treatment there if nothing of theirs is dated earlier
    in the year before the span, and as new if nothing of theirs is dated before the span at all (one probe per
    patient for their last treatment before the span)."""
    everything = list(db.session.scalars(select(Treatment)))
    for first, last in months:
        start, end = Month(2026, first).first, Month(2026, last).last
        facts = queries.family_months("treatments", queries.Period(start, end), detail=False)
        expected_year: Counter = Counter()
        expected_new: Counter = Counter()
        treated = {t.patient_id for t in everything if start <= t.treatment_date <= end and t.withdrawn_at is None}
        for patient in treated:
            days = [t.treatment_date for t in everything if t.patient_id == patient]
            first_in_span = min(t.treatment_date for t in everything if t.patient_id == patient
                                and start <= t.treatment_date <= end and t.withdrawn_at is None)
            earlier = [day for day in days if day < start]
            if not any(day >= date(2026, 1, 1) for day in earlier):
                expected_year[first_in_span.month] += 1
            if not earlier:
                expected_new[first_in_span.month] += 1
        assert {m: f["first_of_year"] for m, f in facts.items()} == {
            m: expected_year[m] for m in range(first, last + 1)}
        assert {m: f["new_patients"] for m, f in facts.items()} == {m: expected_new[m] for m in range(first, last + 1)}
    assert sum(expected_new.values()) >= 1 and sum(expected_year.values()) >= sum(expected_new.values())


def test_by_therapist_and_by_treatment_add_up_to_the_overview(practice):
    report = report_for()
    clinic = practice["clinic"]
    by_name = {t.name: t for t in report.therapists}
    assert set(by_name) == {"Eva Jansen", "Noor Bakker"}  # the inactive colleague without figures is left out
    for start, pick in ((OCTOBER.first, "month"), (YTD[0], "ytd")):
        rows = raw_revenue(start, OCTOBER.last)
        treated = raw_treatments(start, OCTOBER.last)
        for figures in report.therapists:
            mine = [t for t in treated if t.therapist_id == figures.therapist_id]
            assert getattr(figures.treatments, pick) == len(mine)
            assert getattr(figures.medical_treatments, pick) == sum(t.medical for t in mine)
            assert cents(getattr(figures.revenue, pick)) == sum(r[4] for r in rows if r[2] == figures.therapist_id)
        assert sum(cents(getattr(t.revenue, pick)) for t in report.therapists) == sum(r[4] for r in rows)
        assert sum(cents(getattr(t.revenue, pick)) for t in report.treatments) == sum(r[4] for r in rows)
        per_combo = Counter((t.catalogue_item_id, t.indication) for t in treated)
        names = {clinic.laser: "Fractional laser, acne scars", clinic.peel: EVIL_NAME}
        expected = {(names[item], ind): n for (item, ind), n in per_combo.items()}
        got = {(t.treatment, t.indication): getattr(t.count, pick) for t in report.treatments
               if getattr(t.count, pick)}
        assert got == expected
    noor = by_name["Noor Bakker"]
    assert noor.treatments.month == 3 and noor.medical_share.month == D("33.3")
    assert noor.revenue.month == D("60.50") + D("121.00") + D("175.00") - D("60.50")
    assert noor.credential_badge.value == "expiring"
    laser = next(t for t in report.treatments if t.treatment.startswith("Fractional"))
    assert laser.medical and laser.indication == "acne_scar"  # the code; the workbook words it (in Dutch)


def test_claims_by_insurer_and_therapist_from_both_routes(practice):
    report = report_for()
    zk, cz = (next(i for i in report.insurers if i.name == name) for name in ("Zilveren Kruis", "CZ"))
    # Zilveren Kruis, October's treatments: 175 paid in 20 days, 175 rejected (V12).
    assert (zk.claims.month.claimed, zk.claims.month.paid, zk.claims.month.rejected) == (
        D("350.00"), D("175.00"), D("175.00"))
    assert zk.claims.month.outstanding == D("0.00") and zk.claims.ytd == zk.claims.month
    assert zk.average_days_to_payment.month == D("20.0")
    assert [(r.code, r.lines) for r in zk.top_reasons.month] == [("V12", 1)]
    # CZ: October's pending claim; in the year also July (100 of 175 after 30 days) and September (rejected).
    assert (cz.claims.month.claimed, cz.claims.month.outstanding, cz.claims.month.paid) == (
        D("175.00"), D("175.00"), D("0.00"))
    assert cz.average_days_to_payment.month is None
    assert (cz.claims.ytd.claimed, cz.claims.ytd.paid, cz.claims.ytd.rejected, cz.claims.ytd.outstanding) == (
        D("525.00"), D("100.00"), D("175.00"), D("175.00"))
    assert cz.average_days_to_payment.ytd == D("30.0")
    assert [r.code for r in cz.top_reasons.ytd] == ["V12"] and cz.top_reasons.month == ()

    # Independently: every counted claim line / patient claim of a treatment in the year.
    expected: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for line in db.session.scalars(select(ClaimLine)):
        batch = line.batch
        if line.included and batch.status in ("submitted", "closed") and _in(
                line.invoice_line.treatment_date, *YTD):
            expected[batch.insurer_id][0] += line.claimed_cents
            expected[batch.insurer_id][1] += line.paid_cents
    for claim in db.session.scalars(select(PatientClaim)):
        if _in(claim.invoice_line.treatment_date, *YTD):
            expected[claim.insurer_id][0] += claim.claimed_cents
            expected[claim.insurer_id][1] += claim.paid_cents
    assert {i.insurer_id: [cents(i.claims.ytd.claimed), cents(i.claims.ytd.paid)] for i in report.insurers} == \
        dict(expected)
    per_therapist = {t.name: t.claims.ytd for t in report.therapists}
    assert per_therapist["Eva Jansen"].claimed == D("525.00")  # ZK October paid, CZ September and late October
    assert per_therapist["Noor Bakker"].rejected == D("175.00")
    assert sum((c.claimed for c in per_therapist.values()), D(0)) == D("875.00")


def test_receivables_by_age_on_the_months_last_day(practice):
    receivables = report_for().receivables
    assert receivables.as_of == AS_OF
    # Independently: the patient's part of what was issued by the 31st: the total, minus the patient's payments
    # and the credit notes up to the 31st, minus the insurer's part of each line not credited by then (direct
    # billing), plus what of that part was moved to the patient by then.
    expected: dict[str, list] = defaultdict(lambda: [0, 0])
    settlements = list(db.session.scalars(select(InsurerSettlement)))
    for invoice in db.session.scalars(select(Invoice).where(Invoice.status == "issued")):
        if invoice.issue_date > AS_OF:
            continue
        credited = {line.invoice_line_id for n in invoice.credit_notes if n.issue_date <= AS_OF for line in n.lines}
        balance = (invoice.total_gross_cents
                   + sum(n.total_gross_cents for n in invoice.credit_notes if n.issue_date <= AS_OF)
                   - sum(p.amount_cents for p in invoice.payments if p.paid_on <= AS_OF and p.method != "insurer")
                   - sum(line.insurer_part_cents for line in invoice.lines if line.id not in credited)
                   + sum(s.amount_cents for s in settlements if s.invoice_id == invoice.id and s.kind == "to_patient"
                         and s.settled_on <= AS_OF and s.invoice_line_id not in credited))
        if balance > 0:
            days = (AS_OF - invoice.issue_date).days
            label = "0-30" if days <= 30 else "31-60" if days <= 60 else "61-90" if days <= 90 else ">90"
            expected[label][0] += 1
            expected[label][1] += balance
    got = {b.bucket.label: [b.invoices, cents(b.amount)] for b in receivables.buckets if b.invoices}
    assert got == dict(expected)
    # October: Claes 121 (181.50 less the credited 60.50); September: Bos 175 (the peel was credited, the
    # November payment is later); July: Claes 100 left after 75. Zilveren Kruis's patients owe nothing on the
    # 31st: their lines are the insurer's part (Aalders in December 2025 and October, Dekker in October: his
    # rejected part was moved to him on 12 November only).
    assert got == {"0-30": [1, 12_100], "31-60": [1, 17_500], ">90": [1, 10_000]}
    assert any(s.kind == "to_patient" and s.settled_on > AS_OF for s in settlements)
    # Past the 14-day term on the 31st: all three (the October one was due on the 22nd).
    assert (receivables.overdue_invoices, receivables.overdue_amount) == (3, D("396.00"))
    assert receivables.amount == D("396.00")


def test_credentials_on_the_report_date(practice):
    report = report_for()
    rows = {c.name: c for c in report.credentials}
    assert set(rows) == {"Eva Jansen", "Noor Bakker"}
    noor = rows["Noor Bakker"]
    assert (noor.kp_until, noor.nvh_until, noor.ending_soon) == (date(2026, 12, 15), date(2027, 12, 31), True)
    assert not rows["Eva Jansen"].ending_soon and rows["Eva Jansen"].nvh_until is None


def test_an_empty_month_gives_zeros_not_errors(app, tmp_path):
    with app.app_context():
        report = queries.build_report(Month(2026, 3), today=TODAY)
        path = workbook.write_report(report, tmp_path / "empty.xlsx")
    assert report.overview.month.revenue.gross == D("0.00") and report.insurers == ()
    assert [f.treatments for f in report.trend] == [0, 0, 0]
    book = load_workbook(path)
    assert book.sheetnames == NL_SHEETS


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


def test_the_report_costs_the_same_queries_whatever_the_number_of_treatments(practice):
    clinic = practice["clinic"]
    p1 = practice["patients"][0]
    db.session.expire_all()
    with StatementCounter(db.engine) as before:
        small = report_for()
    for day in range(1, 21):  # twenty more invoiced treatments in October
        clinic.invoice(p1, [clinic.treatment(p1, date(2026, 10, day), clinic.eva, medical=False)],
                       date(2026, 10, 21))
    db.session.expire_all()
    with StatementCounter(db.engine) as after:
        large = report_for()
    assert after.count == before.count
    assert large.overview.month.treatments == small.overview.month.treatments + 20
    assert large.overview.month.revenue.gross == small.overview.month.revenue.gross + 20 * D("60.50")


def _connection_and_thread() -> tuple[int | str, str]:
    """Which database connection (PostgreSQL: the server process) and which thread ran a read."""
    connection = db.session.connection()
    server = (connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
              if connection.dialect.name == "postgresql" else id(connection.connection.driver_connection))
    return server, threading.current_thread().name


def test_the_downloads_read_each_kind_on_a_connection_of_its_own_on_postgresql(app, practice, backend):
    # The same report whether its year-to-date kinds are read side by side or one after another.
    moment = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    apart = queries.build_report(OCTOBER, today=TODAY, now=moment, side_by_side=True)
    assert apart == queries.build_report(OCTOBER, today=TODAY, now=moment)
    assert apart.overview.month.revenue.gross == D("410.50")
    reads = dict.fromkeys(("a", "b", "c", "d"), _connection_and_thread)
    here = _connection_and_thread()
    ran = queries.read_side_by_side(reads)
    if backend == "postgresql":  # each on a connection and a thread of its own, while this session waits
        assert here not in ran.values() and len({server for server, _thread in ran.values()}) >= 2
        assert {thread for _server, thread in ran.values()} <= {f"report-read_{i}" for i in range(3)}
    else:  # SQLite: one writer, and an in-memory database is one connection shared by every thread
        assert set(ran.values()) == {here}
    assert set(queries.read_side_by_side(reads, side_by_side=False).values()) == {here}
    app.config["REPORT_READ_CONNECTIONS"] = 1
    assert set(queries.read_side_by_side(reads).values()) == {here}
    app.config["REPORT_READ_CONNECTIONS"] = 3

    def broken() -> None:
        raise RuntimeError("the server went away")

    with pytest.raises(RuntimeError, match="went away"):  # a failed read fails the report, not half of it
        queries.read_side_by_side({"a": _connection_and_thread, "b": broken})


# ---- the workbook ----------------------------------------------------------------------------------------------

CHART_NS = "{http://schemas.openxmlformats.org/drawingml/2006/chart}"


def _charts(path: Path) -> dict[str, ElementTree.Element]:
    with zipfile.ZipFile(path) as archive:
        return {name: ElementTree.fromstring(archive.read(name))  # noqa: S314 - the workbook we just wrote
                for name in archive.namelist() if name.startswith("xl/charts/chart")}


def _chart_refs(path: Path) -> dict[str, list[str]]:
    """chart part -> the cell ranges its series titles, categories and values read (the xlsx's own XML)."""
    return {name: [f.text for f in root.iter(f"{CHART_NS}f")] for name, root in _charts(path).items()}


def _rows(ws) -> dict[str, tuple]:
    return {row[0]: row[1:] for row in ws.iter_rows(min_row=workbook.FIRST_DATA_ROW, values_only=True) if row[0]}


def test_workbook_sheets_figures_charts_and_formats(practice, tmp_path):
    report = report_for()
    path = workbook.write_report(report, tmp_path / "report.xlsx")
    assert not list(tmp_path.glob(".*part"))  # no temporary file left behind
    book = load_workbook(path)
    assert book.sheetnames == NL_SHEETS
    for ws in book.worksheets:
        assert ws["A1"].value.endswith("oktober 2026 · Huidtherapie Utrecht") and ws["A1"].font.bold
        assert ws["A2"].value == "Gemaakt op" and isinstance(ws["B2"].value, datetime)
        assert ws["B2"].number_format == workbook.DATETIME_FORMAT
        assert ws.freeze_panes == workbook.FREEZE
        assert ws.cell(workbook.HEADER_ROW, 1).font.bold and ws.cell(workbook.HEADER_ROW, 1).value

    overview = book["Overzicht"]
    figures = _rows(overview)
    month, ytd = report.overview.month, report.overview.ytd
    assert figures["Omzet incl. btw"][:2] == (month.revenue.gross, ytd.revenue.gross)
    assert figures["Omzet excl. btw"][:2] == (month.revenue.net, ytd.revenue.net)
    assert figures["21 % btw: btw"][:2] == (D("10.50"), ytd.vat(21).vat)
    assert figures["Vrijgesteld van btw: omzet excl. btw"][0] == D("350.00")
    assert figures["Creditnota's incl. btw"][0] == D("-121.00")
    assert figures["Behandelingen"][:2] == (6, ytd.treatments)
    assert figures["Nieuwe cliënten (eerste behandeling)"][:2] == (1, 3)
    assert figures["Medisch aandeel in de omzet"][0] == pytest.approx(float(month.medical_share) / 100)
    label_row = {overview.cell(r, 1).value: r for r in range(1, overview.max_row + 1)}
    assert overview.cell(label_row["Omzet incl. btw"], 2).number_format == workbook.EURO_FORMAT
    assert overview.cell(label_row["Medisch aandeel in de omzet"], 2).number_format == workbook.PERCENT_FORMAT
    assert overview.cell(label_row["Behandelingen"], 2).number_format == workbook.COUNT_FORMAT
    trend_header = label_row["Maand"]
    assert label_row["januari 2026"] == trend_header + 1 and label_row["oktober 2026"] == trend_header + 10
    assert overview.cell(label_row["september 2026"], 2).value == D("235.50")

    charts = _chart_refs(path)
    assert len(charts) == 3
    first, last = trend_header + 1, trend_header + 10
    refs = sorted(charts.values(), key=len)
    overview_refs = [r for r in refs if r and r[0].startswith("'Overzicht'")]
    assert len(overview_refs) == 2
    for refs_of_chart in overview_refs:
        assert f"'Overzicht'!$A${first}:$A${last}" in refs_of_chart
    assert any(f"'Overzicht'!$B${first}:$B${last}" in r and f"'Overzicht'!$C${first}:$C${last}" in r
               for r in overview_refs)  # revenue incl. and excl. VAT per month
    assert any(f"'Overzicht'!$D${first}:$D${last}" in r and f"'Overzicht'!$E${first}:$E${last}" in r
               for r in overview_refs)  # medical vs cosmetic
    insurer_refs = next(r for r in refs if r and r[0].startswith("'Per verzekeraar'"))
    last_insurer = workbook.FIRST_DATA_ROW + len(report.insurers) - 1
    assert f"'Per verzekeraar'!$A${workbook.FIRST_DATA_ROW}:$A${last_insurer}" in insurer_refs
    for column in "HIJ":  # paid, rejected, outstanding (YTD)
        assert f"'Per verzekeraar'!${column}${workbook.FIRST_DATA_ROW}:${column}${last_insurer}" in insurer_refs
    kinds = Counter(child.tag.removeprefix(CHART_NS) for root in _charts(path).values()
                    for child in root.iter(f"{CHART_NS}plotArea") for child in child
                    if child.tag.endswith("Chart"))
    assert kinds == {"lineChart": 1, "barChart": 2}

    therapists = _rows(book["Per behandelaar"])
    noor = therapists["Noor Bakker"]
    assert noor[1:5] == (3, 4, D("296.00"), D("471.00"))
    assert therapists["Totaal"][3] == month.revenue.gross and therapists["Totaal"][4] == ytd.revenue.gross
    assert book["Per behandelaar"].cell(workbook.FIRST_DATA_ROW, 5).number_format == workbook.EURO_FORMAT

    insurers = _rows(book["Per verzekeraar"])
    assert insurers["Zilveren Kruis"][:5] == (D("350.00"), D("175.00"), D("175.00"), D("0.00"), D("20.0"))
    assert insurers["CZ"][5:10] == (D("525.00"), D("100.00"), D("175.00"), D("175.00"), D("30.0"))
    assert insurers["CZ"][11] == "V12: Niet aanvullend verzekerd (1)"

    treatments = book["Per behandeling"]
    names = [treatments.cell(r, 1) for r in range(workbook.FIRST_DATA_ROW, treatments.max_row + 1)]
    evil = next(cell for cell in names if cell.value == EVIL_NAME)
    assert evil.data_type == "s"  # a catalogue name starting with "=" stays text, never a formula
    assert _rows(treatments)["Totaal"][4] == month.revenue.gross

    receivables = _rows(book["Debiteuren"])
    assert receivables["0-30"][:2] == (1, D("121.00")) and receivables[">90"][:2] == (1, D("100.00"))
    assert receivables["Totaal"][:2] == (3, D("396.00"))
    assert receivables["Gemeten op"][1] == datetime(2026, 10, 31)
    assert book["Debiteuren"].cell(workbook.FIRST_DATA_ROW, 3).number_format == workbook.EURO_FORMAT

    credentials = book["Registraties"]
    rows = {credentials.cell(r, 1).value: r for r in range(workbook.FIRST_DATA_ROW, credentials.max_row + 1)}
    noor_row = rows["Noor Bakker"]
    assert credentials.cell(noor_row, 7).value == datetime(2026, 12, 15)
    assert credentials.cell(noor_row, 7).number_format == workbook.DATE_FORMAT
    assert credentials.cell(noor_row, 9).value == "ja"
    assert credentials.cell(noor_row, 1).fill.fgColor.rgb.endswith("FFE699")  # highlighted
    assert credentials.cell(rows["Eva Jansen"], 1).fill.fill_type is None
    assert credentials.cell(rows["Eva Jansen"], 4).value == "doorlopend"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(practice, tmp_path, monkeypatch):
    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / "report.xlsx"
    target.write_bytes(b"old")

    def disk_full(self, handle):
        handle.write(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(workbook.Workbook, "save", disk_full)
    with pytest.raises(OSError):
        workbook.write_report(report_for(), target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in target.parent.iterdir()] == ["report.xlsx"]


# ---- the month-end pack ----------------------------------------------------------------------------------------

def test_pack_holds_the_report_the_claim_workbook_and_the_months_invoices(practice, tmp_path):
    from backoffice.reporting import pack

    target = tmp_path / "pack.zip"
    result = pack.build_pack(OCTOBER, target, user=practice["clinic"].user, today=TODAY)
    db.session.commit()
    october_docs = [i.number for i in db.session.scalars(select(Invoice).where(
        Invoice.status == "issued", Invoice.issue_date.between(OCTOBER.first, OCTOBER.last)))]
    october_docs += [n.number for n in db.session.scalars(select(CreditNote).where(
        CreditNote.issue_date.between(OCTOBER.first, OCTOBER.last)))]
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        assert "maandrapportage-2026-10.xlsx" in names and "inhoud.txt" in names
        claim_files = [n for n in names if n.startswith("declaraties/")]
        assert claim_files == [f"declaraties/{result.claim_workbooks[0]}"]
        assert claim_files[0].endswith(".xlsx")
        pdfs = sorted(n for n in names if n.startswith("facturen/"))
        assert len(pdfs) == len(october_docs) == result.documents == 5
        for number in october_docs:
            assert any(number in name for name in pdfs), number
        for name in pdfs:
            assert len(PdfReader(io.BytesIO(archive.read(name))).pages) == 1
        report_book = load_workbook(io.BytesIO(archive.read("maandrapportage-2026-10.xlsx")))
        assert report_book.sheetnames == NL_SHEETS + BOOK_SHEETS
    # The access log: each invoice/credit note printed, each patient of the claim workbook exported, the pack.
    printed = db.session.scalars(select(AccessLog.subject).where(
        AccessLog.action == "print", AccessLog.detail.contains("month-end pack 2026-10"))).all()
    assert sorted(s.split()[-1] for s in printed) == sorted(october_docs)
    pack_entry = db.session.scalar(select(AccessLog).where(AccessLog.subject == "month-end pack 2026-10"))
    assert pack_entry.action == "export" and pack_entry.user_email == "admin@clinic.nl"
    assert db.session.scalar(select(AccessLog).where(AccessLog.action == "export", AccessLog.subject ==
                                                     f"claim batch {practice['batch_number']}")) is not None


def test_a_month_without_documents_still_gets_a_pack_with_a_note(app, tmp_path):
    from backoffice.reporting import pack

    with app.app_context():
        result = pack.build_pack(Month(2026, 3), tmp_path / "pack.zip", today=TODAY)
    assert result.documents == 0 and "Niets af te drukken" in result.notes[0]
    with zipfile.ZipFile(tmp_path / "pack.zip") as archive:
        assert sorted(archive.namelist()) == ["betalingen-2026-03.csv", "factuurregister-2026-03.csv", "inhoud.txt",
                                              "maandrapportage-2026-03.xlsx"]
        assert "Niets af te drukken" in archive.read("inhoud.txt").decode()


# ---- the command line --------------------------------------------------------------------------------------------

def test_cli_monthly_writes_the_workbook_and_logs_it(app, practice_web, tmp_path, monkeypatch):
    target = tmp_path / "report.xlsx"
    runner = app.test_cli_runner()
    result = runner.invoke(args=["report", "monthly", "--month", "2026-10", "--out", str(target),
                                 "--user", "admin@clinic.nl"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(target)
    assert "Monthly report 2026-10" in result.stderr
    book = load_workbook(target)
    assert book.sheetnames == NL_SHEETS
    assert _rows(book["Overzicht"])["Omzet incl. btw"][0] == D("410.50")
    with app.app_context():
        entry = db.session.scalar(select(AccessLog).where(AccessLog.subject == "monthly report 2026-10"))
        assert (entry.action, entry.user_email, entry.patient_id) == ("export", "admin@clinic.nl", None)
    # --with-books: the month's invoice register and payments as two more sheets, under a name of its own
    monkeypatch.chdir(tmp_path)  # without --out: the default name in the current folder
    with_books = runner.invoke(args=["report", "monthly", "--month", "2026-10", "--with-books"])
    assert with_books.exit_code == 0, with_books.output
    assert with_books.stdout.strip() == "maandrapportage-2026-10-met-boeken.xlsx"
    assert load_workbook(tmp_path / "maandrapportage-2026-10-met-boeken.xlsx").sheetnames == NL_SHEETS + BOOK_SHEETS


def test_cli_exit_codes(app, tmp_path):
    runner = app.test_cli_runner()
    bad_month = runner.invoke(args=["report", "monthly", "--month", "2026-13", "--out", str(tmp_path / "r.xlsx")])
    assert bad_month.exit_code == 2 and "november 2026" in bad_month.output
    no_folder = runner.invoke(args=["report", "monthly", "--month", "2026-10",
                                    "--out", str(tmp_path / "missing" / "r.xlsx")])
    assert no_folder.exit_code == 1 and "does not exist" in no_folder.output
    no_user = runner.invoke(args=["report", "pack", "--month", "2026-10", "--out", str(tmp_path / "p.zip"),
                                  "--user", "nobody@x.nl"])
    assert no_user.exit_code == 2
    assert not list(tmp_path.iterdir())


def test_cli_pack(app, practice_web, tmp_path):
    target = tmp_path / "pack.zip"
    result = app.test_cli_runner().invoke(args=["report", "pack", "--month", "2026-10", "--out", str(target)])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(target) as archive:
        assert len([n for n in archive.namelist() if n.startswith("facturen/")]) == 5


# ---- the dashboard and the downloads -------------------------------------------------------------------------------

def test_manager_dashboard_shows_the_key_figures_with_links_and_charts(app, as_role, practice_web):
    client = as_role("manager")
    response = client.get("/reports/?month=2026-10")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Dashboard · October 2026" in html
    assert 'data-testid="revenue-month"' in html and "EUR 410,50" in html
    assert "EUR 821,00" in html  # year to date incl. VAT
    assert 'href="/treatments/?month=2026-10"' in html
    assert 'href="/treatments/?month=2026-10&amp;kind=medical"' in html
    assert 'href="/invoices/overdue"' in html
    assert "therapist_id=" in html and "/credentials/" in html
    assert 'href="/claims/"' in html and "insurer_id=" in html
    for chart in ("chart-revenue", "chart-split", "chart-claims"):
        assert f'data-testid="{chart}"' in html
    assert "<svg" in html and "<script src=\"http" not in html and "cdn" not in html.lower()
    assert 'href="/reports/monthly.xlsx?month=2026-10"' in html and 'href="/reports/pack?month=2026-10"' in html
    assert 'data-ending-soon="yes"' in html  # Noor's KP registration
    other = client.get("/reports/?month=2026-09").get_data(as_text=True)
    assert "Dashboard · September 2026" in other and "EUR 235,50" in other
    assert client.get("/reports/?month=2026-13").status_code == 400


def test_downloads_are_logged(app, as_role, practice_web):
    client = as_role("manager")
    response = client.get("/reports/monthly.xlsx?month=2026-10")
    assert response.status_code == 200 and response.mimetype == workbook_mimetype()
    assert 'filename="maandrapportage-2026-10.xlsx"' in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == NL_SHEETS  # the figures; the month's books only when asked for
    assert _rows(book["Overzicht"])["Omzet incl. btw"][0] == D("410.50")
    with_books = client.get("/reports/monthly.xlsx?month=2026-10&books=1")
    assert 'filename="maandrapportage-2026-10-met-boeken.xlsx"' in with_books.headers["Content-Disposition"]
    full = load_workbook(io.BytesIO(with_books.data))
    assert full.sheetnames == NL_SHEETS + BOOK_SHEETS
    assert [full[name]["A1"].value for name in NL_SHEETS] == [book[name]["A1"].value for name in NL_SHEETS]
    register = [r for r in full["Factuurregister"].iter_rows(min_row=workbook.FIRST_DATA_ROW, values_only=True)
                if r[0] is not None]
    assert register[-1][0] == "Totaal" and len(register) == 6  # the five invoices of October and the total
    # The pack is built in the background (the queue runs at once in tests): ask for it, then download it.
    asked = client.post("/reports/pack", data={"month": "2026-10",
                                               "csrf_token": csrf_token(client, "/reports/pack?month=2026-10")})
    assert asked.status_code == 302
    pack_response = client.get(asked.headers["Location"] + "/download.zip")
    assert pack_response.status_code == 200 and pack_response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(pack_response.data)) as archive:
        assert len([n for n in archive.namelist() if n.startswith("facturen/")]) == 5
    pack_response.close()
    with app.app_context():
        entries = db.session.execute(select(AccessLog.action, AccessLog.subject, AccessLog.user_role).where(
            AccessLog.user_role == "manager").order_by(AccessLog.id)).all()
        assert ("export", "monthly report 2026-10", "manager") in entries
        assert db.session.scalar(select(AccessLog.detail).where(AccessLog.subject == "monthly report 2026-10")
                                 .order_by(AccessLog.id.desc()).limit(1)) == \
            "downloaded maandrapportage-2026-10-met-boeken.xlsx (with the invoice register and payments)"
        assert ("export", "month-end pack 2026-10", "manager") in entries
        assert sum(1 for action, _s, _r in entries if action == "print") == 5
        # Nothing the downloads made is left on disk.
        assert not list((Path(app.instance_path) / "reports").iterdir())


def _english_enum_labels(app) -> set[str]:
    """Every English enum label (backoffice/labels.py) whose Dutch translation differs: none may reach the workbook."""
    from flask_babel import force_locale, gettext

    from backoffice.labels import LABEL_MAPS

    with app.test_request_context(), force_locale("nl"):
        return {english for _enum, labels in LABEL_MAPS.values() for english in labels.values()
                if gettext(english) != english}


def test_the_workbook_is_dutch_for_an_english_user(app, as_role, practice_web):
    client = as_role("manager")  # the test users work in English
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)
    response = client.get("/reports/monthly.xlsx?month=2026-10&books=1")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == NL_SHEETS + BOOK_SHEETS
    english = _english_enum_labels(app)
    assert {"Acne scars", "Face", "Dermatologist", "expired"} <= english  # the check has teeth
    texts = [cell for ws in book.worksheets for row in ws.iter_rows(values_only=True) for cell in row
             if isinstance(cell, str)]
    assert "Acnelittekens" in texts  # the indication of the month's laser treatments, in Dutch
    with app.app_context():  # what people typed (catalogue names) is data, not an enum label
        typed = set(db.session.scalars(select(CatalogueItem.name)))
    for text in texts:
        if text in typed:
            continue
        for label in english:
            assert not re.search(rf"(?<!\w){re.escape(label)}(?!\w)", text), (label, text)
    assert book["Overzicht"]["A1"].value.startswith("Maandrapportage · oktober 2026")
    assert not any(word in text for text in texts for word in ("October", "Revenue", "Therapist", "Total"))


def workbook_mimetype() -> str:
    return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_who_may_see_reports(app, client, users, practice_web):
    anonymous = app.test_client()
    assert anonymous.get("/reports/").status_code == 302
    patient = practice_web["patients"][0]
    login(client, users["therapist"])
    for url in ("/reports/", "/reports/monthly.xlsx?month=2026-10", "/reports/pack.zip?month=2026-10"):
        assert client.get(url).status_code == 403, url
    assert "/reports/" not in client.get("/").get_data(as_text=True)  # no Dashboard in the therapist's menu
    manager = app.test_client()
    login(manager, users["manager"])
    assert manager.get("/reports/").status_code == 200
    assert 'href="/reports/"' in manager.get("/").get_data(as_text=True)
    for url in ("/patients/new", f"/patients/{patient}/edit", f"/patients/{patient}/insurances/new"):
        assert manager.get(url).status_code == 403, url
    token = csrf_token(manager, "/")  # a valid token: only the permission can refuse the post
    assert manager.post(f"/patients/{patient}/edit", data={"first_name": "X", "csrf_token": token}).status_code == 403
    admin = app.test_client()
    login(admin, users["admin"])
    assert admin.get("/reports/?month=2026-10").status_code == 200


def test_from_cents_round_trip_of_report_amounts(practice):
    """Every amount in the report is whole cents (no float crept in)."""
    report = report_for()
    amounts = [report.overview.month.revenue.gross, report.receivables.amount,
               *(t.revenue.ytd for t in report.therapists), *(i.claims.ytd.paid for i in report.insurers)]
    for amount in amounts:
        assert isinstance(amount, Decimal) and from_cents(to_cents(amount)) == amount


# ---- the dashboard's summary table ---------------------------------------------------------------------------------

OCTOBER_1, SEPTEMBER_1 = OCTOBER.first, date(2026, 9, 1)
MIGRATION_0006 = Path(__file__).resolve().parent.parent / "migrations" / "versions" / "20261124_0006_report_indexes.py"
MIGRATION_0018 = MIGRATION_0006.with_name("20261205_0018_treatment_withdrawal.py")
MIGRATION_0030 = MIGRATION_0006.with_name("20261206_0030_postgres_speed.py")


def _statements(app, client, url: str) -> tuple[int, str]:
    with app.app_context():
        engine = db.engine
    with StatementCounter(engine) as counter:
        response = client.get(url)
    assert response.status_code == 200
    return counter.count, response.get_data(as_text=True)


def _summary_rows() -> dict[tuple[str, date, date], bool]:
    """{(family, month, as_of): kept} of every row of the summary table."""
    db.session.expire_all()
    return {(family, month, as_of): facts is not None for family, month, as_of, facts in db.session.execute(
        select(ReportFacts.family, ReportFacts.month, ReportFacts.as_of, ReportFacts.facts))}


def _emptied() -> set[tuple[str, date]]:
    return {(family, month) for (family, month, _as_of), kept in _summary_rows().items() if not kept}


def assert_summary_is_true(month: Month = OCTOBER, as_of: date = AS_OF) -> cache.DashboardFacts:
    """The dashboard's facts (kept rows, the rest read now) are exactly what reading everything now gives, and
    the keeping job leaves every row it needs kept."""
    kept = cache.read_facts(month, as_of)
    cache.keep_facts(month, as_of)
    fresh = queries.period_facts(year_to_date(month), detail=False)
    for name in ("revenue", "treatments", "claims"):
        assert sorted(getattr(kept.facts, name), key=repr) == sorted(getattr(fresh, name), key=repr), name
    for name in ("invoices", "credit_notes", "patients_per_month", "first_of_year", "new_patients"):
        assert getattr(kept.facts, name) == getattr(fresh, name), name
    assert kept.receivables == queries.receivables_section(as_of)
    assert not _emptied()
    return kept


def test_the_dashboard_figures_equal_the_workbooks(practice):
    """The dashboard's path (facts per month from the summary table, without the breakdown by catalogue item)
    gives the figures of the workbook's path, which the tests above check against the raw rows."""
    for month, today in ((OCTOBER, TODAY), (Month(2026, 9), TODAY), (Month(2026, 11), TODAY)):
        workbook_report = queries.build_report(month, today=today)
        for _view in range(2):  # read afresh, then from the kept rows
            kept = cache.read_facts(month, reference_date(month, today))
            cache.keep_facts(month, reference_date(month, today))
            dashboard_report = queries.build_report(month, today=today, facts=kept.facts,
                                                    receivables=kept.receivables, detail=False,
                                                    now=workbook_report.generated_at)
            for name in ("overview", "trend", "therapists", "insurers", "receivables", "credentials"):
                assert getattr(dashboard_report, name) == getattr(workbook_report, name), (month, name)
        assert kept.read_afresh == 0 and dashboard_report.treatments == ()


def test_the_dashboard_keeps_each_months_facts_and_reads_again_only_what_changed(app, as_role, practice_web):
    client = as_role("manager")
    cold, _html = _statements(app, client, "/reports/?month=2026-10")
    warm, html = _statements(app, client, "/reports/?month=2026-10")
    assert warm < cold and "EUR 410,50" in html
    with app.app_context():
        rows = _summary_rows()
        assert all(rows.values())
        # January..October of each kind, and the receivables on 31 October per issue month from December 2025.
        assert sorted(month.month for family, month, _as_of in rows if family == "revenue") == list(range(1, 11))
        assert {(month, as_of) for family, month, as_of in rows if family == "receivables"} == {
            (Month(2025, 12).first, AS_OF), *((Month(2026, m).first, AS_OF) for m in range(1, 11))}
    september, html = _statements(app, client, "/reports/?month=2026-09")  # same year: only its receivables
    assert warm < september < cold and "EUR 235,50" in html
    with app.app_context():
        assert {(family, as_of) for family, _month, as_of in set(_summary_rows()) - set(rows)} == {
            ("receivables", date(2026, 9, 30))}

    # A change committed anywhere is seen at once: the triggers emptied what it touched, nothing else.
    with app.app_context():
        clinic = ReportClinic.existing()
        patient = practice_web["patients"][1]
        eva = db.session.scalar(select(Therapist.id).where(Therapist.name == "Eva Jansen"))
        clinic.invoice(patient, [clinic.treatment(patient, date(2026, 10, 30), eva, medical=False)],
                       date(2026, 10, 30))
        assert _emptied() == {("revenue", OCTOBER_1), ("treatments", OCTOBER_1), ("receivables", OCTOBER_1)}
    after, html = _statements(app, client, "/reports/?month=2026-10")
    assert warm < after < cold and "EUR 471,00" in html  # 410.50 + 60.50
    fresh, html = _statements(app, client, "/reports/?month=2026-10&fresh=1")  # everything read, nothing kept
    assert fresh > warm and "EUR 471,00" in html


def test_each_write_empties_the_kept_facts_it_changes(practice):
    clinic = practice["clinic"]
    bos, claes, dekker = practice["patients"][1:]
    assert_summary_is_true()

    def changes(expected: set[tuple[str, date]]) -> None:
        assert _emptied() == expected
        assert_summary_is_true()

    # A treatment recorded for 2 October: the treatments of October (and of any later month kept).
    treatment_id = clinic.treatment(claes, date(2026, 10, 2), clinic.eva, medical=False)
    changes({("treatments", OCTOBER_1)})
    # Moved to another therapist: its own month on, and nothing else while it is not invoiced.
    db.session.get(Treatment, treatment_id).therapist_id = clinic.noor
    db.session.commit()
    changes({("treatments", OCTOBER_1)})
    # Deleted again.
    db.session.delete(db.session.get(Treatment, treatment_id))
    db.session.commit()
    changes({("treatments", OCTOBER_1)})

    # An invoiced treatment of September moved to another therapist: its treatments, the revenue of its invoice
    # (issued in September) and its claims (by treatment date), from September on.
    september_line = db.session.scalar(select(InvoiceLine).where(InvoiceLine.treatment_date == date(2026, 9, 3),
                                                                 InvoiceLine.medical.is_(True)))
    db.session.get(Treatment, september_line.treatment_id).therapist_id = clinic.noor
    db.session.commit()
    changes({(family, month) for family in ("treatments", "revenue", "claims") for month in (SEPTEMBER_1, OCTOBER_1)})

    # A payment on 31 October for the September invoice: the receivables of September's invoices only.
    september = db.session.get(Invoice, september_line.invoice_id)
    clinic.pay(september, date(2026, 10, 31), "10.00")
    changes({("receivables", SEPTEMBER_1)})
    # A payment after the month changes nothing the October dashboard keeps.
    clinic.pay(september, date(2026, 11, 6), "10.00")
    changes(set())
    # A payment corrected, then removed (both its old and its new day count).
    payment = db.session.scalar(select(Payment).where(Payment.invoice_id == september.id,
                                                      Payment.paid_on == date(2026, 10, 31)))
    payment.paid_on = date(2026, 11, 7)
    db.session.commit()
    changes({("receivables", SEPTEMBER_1)})
    db.session.delete(payment)
    db.session.commit()
    changes(set())

    # An invoice issued on 30 October: revenue and the receivables of October's invoices (and the treatment).
    clinic.invoice(bos, [clinic.treatment(bos, date(2026, 10, 30), clinic.eva, medical=False)], date(2026, 10, 30))
    changes({("revenue", OCTOBER_1), ("treatments", OCTOBER_1), ("receivables", OCTOBER_1)})
    # A credit note on 30 October for an invoice of September: October's revenue, September's receivables.
    clinic.credit(september, 0, date(2026, 10, 30))
    changes({("revenue", OCTOBER_1), ("receivables", SEPTEMBER_1)})

    # Claims: an outcome changed, a batch reopened, a patient claim of July: their treatments' months on.
    line = db.session.scalar(select(ClaimLine).where(ClaimLine.status == "rejected"))
    line.rejection_text = "Geen aanvullende verzekering"
    db.session.commit()
    changes({("claims", OCTOBER_1)})
    line.batch.status = "exported"
    db.session.commit()
    changes({("claims", OCTOBER_1)})
    july = db.session.scalar(select(PatientClaim).join(InvoiceLine).where(
        InvoiceLine.treatment_date == date(2026, 7, 10)))
    july.paid_cents = 12_500
    db.session.commit()
    changes({("claims", date(2026, m, 1)) for m in (7, 8, 9, 10)})
    db.session.delete(july)
    db.session.commit()
    changes({("claims", date(2026, m, 1)) for m in (7, 8, 9, 10)})
    assert dekker  # the fourth patient is only in the October figures


def test_facts_read_while_a_write_is_made_are_shown_but_not_kept(practice, monkeypatch):
    clinic = practice["clinic"]
    bos = practice["patients"][1]
    first = cache.read_facts(OCTOBER, AS_OF)  # the view: everything read afresh, nothing written
    assert first.read_afresh > 0 and not _summary_rows()
    read = cache._read_afresh

    def read_then_write(keys, as_of, first_issued):
        facts = read(keys, as_of, first_issued)
        clinic.treatment(bos, date(2026, 10, 20), clinic.eva, medical=False)  # committed before the job stores
        return facts

    monkeypatch.setattr(cache, "_read_afresh", read_then_write)
    stored = cache.keep_facts(OCTOBER, AS_OF)  # the keeping job
    monkeypatch.undo()
    assert stored == first.read_afresh - 1
    assert sum(row[-1] for row in first.facts.treatments if row[0] == 10) == 6  # as read, before the write
    assert _emptied() == {("treatments", OCTOBER_1)}  # everything else was kept
    second = assert_summary_is_true()
    assert sum(row[-1] for row in second.facts.treatments if row[0] == 10) == 7
    assert second.read_afresh == 1


def test_a_running_months_receivables_are_kept_for_the_day_only(practice):
    november = Month(2026, 11)
    assert_summary_is_true(OCTOBER, AS_OF)
    assert_summary_is_true(november, date(2026, 11, 20))
    assert_summary_is_true(november, date(2026, 11, 21))
    days = set(db.session.scalars(select(ReportFacts.as_of).where(ReportFacts.family == "receivables")))
    assert days == {AS_OF, date(2026, 11, 21)}


def test_the_migration_installs_the_same_summary_triggers():
    spec = importlib.util.spec_from_file_location("migration_0006", MIGRATION_0006)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    later = {"insurer_settlements"}  # created with its triggers by migration 0015 (tests/test_direct_billing.py)
    tables = [table for table in dict.fromkeys(source[0] for source in REPORT_FACTS_SOURCES) if table not in later]
    # Migration 0018 replaced the treatments' triggers (their UPDATE also fires on withdrawn_at): 0006 installed
    # them for the columns before it, 0018 installs what guards.py builds now.
    withdrawal = _migration(MIGRATION_0018)
    for dialect in ("sqlite", "postgresql"):
        statements = [s for table in tables for s in (
            report_facts_trigger_statements(table, dialect, nothing_kept_exit=False) if table != "treatments"
            else _treatment_triggers(dialect, withdrawal.OLD_COLUMNS))]
        assert migration.REPORT_FACTS_TRIGGERS[dialect] == statements
        assert "withdrawn_at" not in " ".join(withdrawal.OLD_COLUMNS)
        assert any("withdrawn_at" in s for s in report_facts_trigger_statements("treatments", dialect))


def test_migration_0030_installs_the_postgres_functions_guards_builds_now():
    """0030 replaces every PostgreSQL summary function by the one create_all installs (returning at once when
    nothing is kept); its downgrade puts back the earlier ones, which differ only by that first line."""
    from backoffice.models.guards import _POSTGRES_NOTHING_KEPT

    migration = _migration(MIGRATION_0030)
    tables = list(dict.fromkeys(source[0] for source in REPORT_FACTS_SOURCES))
    now = [s for t in tables for s in report_facts_trigger_statements(t, "postgresql")
           if s.startswith("CREATE FUNCTION")]
    before = [s for t in tables for s in report_facts_trigger_statements(t, "postgresql", nothing_kept_exit=False)
              if s.startswith("CREATE FUNCTION")]
    assert now == migration.FUNCTIONS
    assert migration.NOTHING_KEPT == _POSTGRES_NOTHING_KEPT
    assert len(now) == len(tables) and all(_POSTGRES_NOTHING_KEPT in s for s in now)
    assert [s.replace(_POSTGRES_NOTHING_KEPT, "", 1) for s in now] == before
    assert report_facts_trigger_statements("treatments", "sqlite") == report_facts_trigger_statements(
        "treatments", "sqlite", nothing_kept_exit=False)


def _migration(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _treatment_triggers(dialect: str, columns: tuple[str, ...]) -> list[str]:
    from backoffice.models import guards

    build = {"sqlite": guards._sqlite_report_facts_triggers, "postgresql": guards._postgres_report_facts_triggers}
    [(_name, events, _columns, rules)] = [s for s in REPORT_FACTS_SOURCES if s[0] == "treatments"]
    return build[dialect]("treatments", events, f" OF {', '.join(columns)}", rules)


@pytest.fixture
def file_app(backend, request, tmp_path):
    """A second connection can write while the view reads: SQLite in a file (with a short lock wait), or
    PostgreSQL."""
    if backend == "postgresql":
        app = make_test_app("postgresql", request.getfixturevalue("postgres_schema"))
    else:
        app = make_test_app("sqlite", None, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'report.db'}",
                            SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"timeout": 0.2}})
    app.instance_path = str(tmp_path / "instance")
    Path(app.instance_path).mkdir()
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()
        db.engine.dispose()


def _moved_peel(clinic) -> int:
    """An October treatment moved to Eva (committed: October's rows emptied); its id."""
    peel = db.session.scalar(select(InvoiceLine.treatment_id).where(InvoiceLine.treatment_date == date(2026, 10, 5),
                                                                    InvoiceLine.medical.is_(False)))
    assert_summary_is_true()
    db.session.get(Treatment, peel).therapist_id = clinic.eva
    db.session.commit()
    assert ("treatments", OCTOBER_1) in _emptied()
    return peel


def _evas_october(facts: cache.DashboardFacts, eva: int) -> int:
    return sum(row[-1] for row in facts.facts.treatments if row[0] == 10 and row[1] == eva)


def test_a_write_in_flight_while_the_summary_is_kept_is_never_kept(file_app):
    clinic = build_practice()["clinic"]
    peel = _moved_peel(clinic)
    with db.engine.connect() as writer:  # another request, its transaction still open while the view reads
        writer.execute(update(Treatment).where(Treatment.id == peel).values(therapist_id=clinic.noor))
        started = time.monotonic()
        seen = cache.read_facts(OCTOBER, AS_OF)  # the view neither writes nor waits for the writer
        assert time.monotonic() - started < cache.WRITERS_WAIT_MS / 1000
        assert cache.keep_facts(OCTOBER, AS_OF) == 0  # waits briefly for the write, then keeps nothing
        writer.commit()
    assert ("treatments", OCTOBER_1) in _emptied()
    assert _evas_october(seen, clinic.eva) == 4  # as committed before the write: the peel was Eva's
    kept = assert_summary_is_true()  # read again: the write is in
    assert _evas_october(kept, clinic.eva) == 3


def test_the_keeping_job_waits_for_a_write_in_flight_and_keeps_it(file_app):
    clinic = build_practice()["clinic"]
    peel = _moved_peel(clinic)
    with db.engine.connect() as writer:
        writer.execute(update(Treatment).where(Treatment.id == peel).values(therapist_id=clinic.noor))
        commit = threading.Timer(0.05, writer.commit)  # within the job's wait for writers in flight
        commit.start()
        try:
            stored = cache.keep_facts(OCTOBER, AS_OF)
        finally:
            commit.join()
    assert stored > 0 and not _emptied()
    kept = assert_summary_is_true()
    assert kept.read_afresh == 0 and _evas_october(kept, clinic.eva) == 3


def test_the_dashboard_request_only_reads_and_the_summary_is_kept_in_the_background(file_app):
    file_app.config["REPORT_SUMMARY_BACKGROUND"] = True
    build_practice()
    create_user(file_app, "manager@test.nl", "manager")
    client = file_app.test_client()
    login(client, "manager@test.nl")
    request_thread, statements = threading.get_ident(), []

    def record(conn, cursor, statement, *args):
        if threading.get_ident() == request_thread:
            statements.append(statement.split(None, 1)[0].upper())

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        response = client.get("/reports/?month=2026-10")
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert response.status_code == 200 and "EUR 410,50" in response.get_data(as_text=True)
    assert statements and set(statements) <= {"SELECT", "WITH"}, sorted(set(statements))  # no LOCK, no writes
    cache.keeper.wait()
    rows = _summary_rows()
    assert rows and all(rows.values())  # kept by the background job
    assert_summary_is_true()
