"""Every figure of the monthly report, summed by the database.

The facts are grouped by calendar month plus what a sheet breaks down by, in three kinds (FAMILIES): revenue,
treatments (with the patients treated) and claims. A month's figure is its month's groups and the year to date
the groups from January up to it. The workbook reads January up to the report month in one query per kind
(family_reads; on PostgreSQL side by side: read_side_by_side); the dashboard reads the same facts month by month
through the summary table (backoffice/reporting/cache.py), which keeps a month's facts until a write touches them,
and leaves out the breakdown by catalogue item and indication that it does not show (detail=False). Either way the
rows that come back grow with months x therapists x catalogue items x insurers, never with the number of treatments
or invoices.
Sums are over integer cents; euros are made once, at the end (domain.reporting.amounts_from_cents).

Bases, as labelled in the workbook:
- revenue: issued invoice lines by invoice issue date plus credit-note lines by credit-note issue date (the VAT
  return's basis), so the totals reconcile exactly with the invoice and credit-note lines of the month;
- treatments, patients treated, new patients: by treatment date;
- claims: lines of treatments dated in the period (as the claims pages count them): lines of submitted or
  closed batches, and patient-submitted claims;
- receivables and credentials: on the reference day (the month's last day, or today while the month runs);
  receivables are summed per issue month of the invoices (receivables_parts), which the summary keeps apart.

The indexes these queries rely on (models.py, migration 0006) cover them: invoices by status and issue date,
their lines by invoice with the amounts, treatments by date with the grouping columns, invoice lines by
treatment date, payments and credit notes by invoice and date.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from flask import current_app
from sqlalchemy import (
    Float,
    and_,
    case,
    distinct,
    extract,
    func,
    literal,
    select,
    type_coerce,
)
from sqlalchemy.orm import aliased, selectinload

from ..clock import clinic_today, utc_now
from ..domain.claims import BatchStatus, LineStatus
from ..domain.indications import INDICATIONS, Indication
from ..domain.money import from_cents
from ..domain.reporting import (
    AGE_BUCKETS,
    Amounts,
    BucketFigures,
    ClaimFigures,
    CredentialFigures,
    InsurerFigures,
    Month,
    MonthFigures,
    MonthlyReport,
    Overview,
    Pair,
    Period,
    ReasonFigure,
    Receivables,
    TherapistFigures,
    TreatmentFigures,
    VatLine,
    amounts_from_cents,
    credential_figures,
    months_to_date,
    reference_date,
    year_to_date,
)
from ..domain.statuses import InvoiceStatus
from ..extensions import db
from ..invoicing import balance
from ..models import (
    CatalogueItem,
    ClaimBatch,
    ClaimLine,
    CreditNote,
    CreditNoteLine,
    Insurer,
    Invoice,
    InvoiceLine,
    PatientClaim,
    Practice,
    Therapist,
    Treatment,
)

# Claim batches whose outcomes count (as backoffice.claims.outcomes.outcome_tallies counts them).
COUNTED_BATCH_STATUSES = (BatchStatus.SUBMITTED, BatchStatus.CLOSED)
TOP_REASONS = 3
REJECTED, PENDING = LineStatus.REJECTED.value, LineStatus.PENDING.value

# The report's sections, in the order they are built: the CLI's progress bar counts these.
SECTIONS = ("overview", "therapists", "insurers", "treatments", "receivables", "credentials")
# The kinds of facts kept per calendar month (the summary table's families besides "receivables").
FAMILIES = ("revenue", "treatments", "claims")
RECEIVABLES = "receivables"  # the fourth kind the summary table keeps: open invoices per issue month on a day

Progress = Callable[[str], None]
MonthFacts = dict  # one family's facts of one month, as plain JSON values (what the summary table stores)


def _int(value) -> int:
    return int(value or 0)


def _month_of(column):
    # EXTRACT works on both databases (SQLite: CAST(STRFTIME('%m', ...) AS INTEGER)); PostgreSQL answers numeric.
    return extract("month", column)


def _between(column, period: Period):
    return and_(column >= period.start, column <= period.end)


def _months(period: Period) -> range:
    """The month numbers of `period`, which lies within one calendar year."""
    if period.start.year != period.end.year:
        raise ValueError("facts are read within one calendar year")
    return range(period.start.month, period.end.month + 1)


def _days_between(later, earlier, timestamps: bool):
    """Days from `earlier` to `later` (both dates, or both timestamps), fractional, in this database's dialect."""
    if db.session.get_bind().dialect.name == "sqlite":
        days = func.julianday(later) - func.julianday(earlier)
    elif timestamps:
        days = extract("epoch", later - earlier) / 86400.0
    else:
        days = later - earlier  # PostgreSQL: date - date is a number of days already
    return type_coerce(days, Float())  # not a date or an interval, whatever SQLAlchemy infers


# ---- the grouped facts of months -------------------------------------------------------------------------------


@dataclass
class _Sums:
    """Integer cents of one group, added up."""

    gross: int = 0
    net: int = 0
    vat: int = 0

    def add(self, gross, net, vat) -> None:
        self.gross += _int(gross)
        self.net += _int(net)
        self.vat += _int(vat)

    def amounts(self) -> Amounts:
        return amounts_from_cents(self.gross, self.net, self.vat)


@dataclass
class _MonthTable:
    """{key: {month number: value}}: the month's value and the year-to-date sum of a key. Callers put only the
    months up to the report month in, so the sum over a key's months is its year to date."""

    month: int
    cells: dict = field(default_factory=lambda: defaultdict(dict))

    def put(self, key, month_number: int, value) -> None:
        self.cells[key][month_number] = value

    def add(self, key, month_number: int, value, zero=0) -> None:
        self.cells[key][month_number] = self.cells[key].get(month_number, zero) + value

    def pair(self, key, add=lambda a, b: a + b, zero=0) -> Pair:
        months = self.cells.get(key, {})
        ytd = zero
        for value in months.values():
            ytd = add(ytd, value)
        return Pair(months.get(self.month, zero), ytd)


@dataclass(frozen=True)
class YearFacts:
    """Everything the report sums, grouped by calendar month, for months of one year: the report of a month is
    read from January up to it (the month's groups, and the groups up to it for the year to date). Read without
    detail (the dashboard), catalogue item and indication are None and the claims come summed by insurer
    (therapist None) and by therapist (insurer None)."""

    year: int
    # ("invoiced" | "credited", month, medical, vat rate, therapist, catalogue item, indication, gross, net, vat)
    revenue: tuple[tuple, ...]
    invoices: dict[int, int]                  # month -> invoices issued
    credit_notes: dict[int, int]              # month -> credit notes issued
    # (month, therapist, catalogue item, indication, medical, count), by treatment date
    treatments: tuple[tuple, ...]
    patients_per_month: dict[int, int]        # month -> distinct patients treated
    first_of_year: dict[int, int]             # month -> patients whose first treatment of the year is in it
    new_patients: dict[int, int]              # month -> patients whose first treatment ever is in it
    # (month, insurer, therapist, status, reason code, reason text, lines, claimed, paid, days to pay, paid lines)
    claims: tuple[tuple, ...]

    def patients_to_date(self, month: int) -> int:
        """Distinct patients treated from January up to and including `month`."""
        return sum(n for m, n in self.first_of_year.items() if m <= month)


def _revenue_months(period: Period, detail: bool) -> dict[int, MonthFacts]:
    """Issued invoice lines by issue date and credit-note lines by credit-note date, grouped in SQL, with the
    number of invoices and credit notes issued: {month: {"rows": [[kind, medical, rate, therapist, item,
    indication, gross, net, vat], ...], "invoices": n, "credit_notes": n}}."""
    result: dict[int, MonthFacts] = {m: {"rows": [], "invoices": 0, "credit_notes": 0} for m in _months(period)}
    details = (Treatment.catalogue_item_id, Treatment.indication) if detail else ()
    month = _month_of(Invoice.issue_date).label("month")
    keys = (InvoiceLine.medical, InvoiceLine.vat_rate, Treatment.therapist_id, *details)
    invoiced = db.session.execute(
        select(month, *keys, func.sum(InvoiceLine.gross_cents), func.sum(InvoiceLine.net_cents),
               func.sum(InvoiceLine.vat_cents))
        .select_from(Invoice)
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .join(Treatment, Treatment.id == InvoiceLine.treatment_id)
        .where(Invoice.status == InvoiceStatus.ISSUED, _between(Invoice.issue_date, period))
        .group_by(month, *keys)
    ).all()
    credit_month = _month_of(CreditNote.issue_date).label("month")
    credit_keys = (InvoiceLine.medical, CreditNoteLine.vat_rate, Treatment.therapist_id, *details)
    credited = db.session.execute(
        select(credit_month, *credit_keys, func.sum(CreditNoteLine.gross_cents), func.sum(CreditNoteLine.net_cents),
               func.sum(CreditNoteLine.vat_cents))
        .select_from(CreditNote)
        .join(CreditNoteLine, CreditNoteLine.credit_note_id == CreditNote.id)
        .join(InvoiceLine, InvoiceLine.id == CreditNoteLine.invoice_line_id)
        .join(Treatment, Treatment.id == InvoiceLine.treatment_id)
        .where(_between(CreditNote.issue_date, period))
        .group_by(credit_month, *credit_keys)
    ).all()
    for kind, rows in (("invoiced", invoiced), ("credited", credited)):
        for m, medical, rate, therapist, *rest in rows:
            item, indication = rest[:2] if detail else (None, None)
            gross, net, tax = rest[-3:]
            result[int(m)]["rows"].append([kind, bool(medical), int(rate), therapist, item, indication, _int(gross),
                                           _int(net), _int(tax)])
    # Counted per day first, in the order of the index (status, issue_date): no sort over single invoices.
    invoice_days = (select(Invoice.issue_date.label("day"), func.count().label("n"))
                    .where(Invoice.status == InvoiceStatus.ISSUED, _between(Invoice.issue_date, period))
                    .group_by(Invoice.issue_date).subquery())
    invoice_month, note_month = _month_of(invoice_days.c.day), _month_of(CreditNote.issue_date)
    for key, query in (
            ("invoices", select(invoice_month, func.sum(invoice_days.c.n)).group_by(invoice_month)),
            ("credit_notes", select(note_month, func.count(CreditNote.id))
             .where(_between(CreditNote.issue_date, period)).group_by(note_month))):
        for m, count in db.session.execute(query):
            result[int(m)][key] = int(count)
    return result


def _treatment_months(period: Period, detail: bool) -> dict[int, MonthFacts]:
    """Treatments by date and the patients treated: {month: {"rows": [[therapist, item, indication, medical,
    count], ...], "patients": distinct patients, "first_of_year": patients whose first treatment of the year is
    in the month, "new_patients": patients whose first treatment ever is in it}}."""
    result: dict[int, MonthFacts] = {m: {"rows": [], "patients": 0, "first_of_year": 0, "new_patients": 0}
                                     for m in _months(period)}
    # Grouped by day first, in the order of the covering index (treatment_date, therapist_id, medical,
    # catalogue_item_id, indication): no sort over single treatments; the months are summed from the days.
    index_keys = (Treatment.therapist_id, Treatment.medical,
                  *((Treatment.catalogue_item_id, Treatment.indication) if detail else ()))
    days = (select(Treatment.treatment_date.label("day"), *index_keys, func.count().label("n"))
            .where(_between(Treatment.treatment_date, period), Treatment.withdrawn_at.is_(None))
            .group_by(Treatment.treatment_date, *index_keys).subquery())
    month = _month_of(days.c.day)
    keys = [days.c[column.key] for column in index_keys]
    for m, therapist, medical, *rest in db.session.execute(
            select(month, *keys, func.sum(days.c.n)).group_by(month, *keys)):
        item, indication = rest[:2] if detail else (None, None)
        result[int(m)]["rows"].append([therapist, item, indication, bool(medical), int(rest[-1])])
    in_period = and_(_between(Treatment.treatment_date, period), Treatment.withdrawn_at.is_(None))
    for m, count in db.session.execute(
            select(_month_of(Treatment.treatment_date), func.count(distinct(Treatment.patient_id)))
            .where(in_period).group_by(_month_of(Treatment.treatment_date))):
        result[int(m)]["patients"] = int(count)
    # Each patient treated in the period once, in the month of their first treatment in it; whether they were
    # treated earlier in the year or ever before follows from their last treatment before the period: one
    # backward probe each on the (patient, date) index (two EXISTS probes cost twice that on PostgreSQL).
    firsts = (select(Treatment.patient_id.label("patient_id"), func.min(Treatment.treatment_date).label("first"))
              .where(in_period).group_by(Treatment.patient_id).subquery())
    earlier = aliased(Treatment)
    before = (select(func.max(earlier.treatment_date))
              .where(earlier.patient_id == firsts.c.patient_id, earlier.treatment_date < period.start)
              .scalar_subquery())
    # OFFSET 0: read once per patient (PostgreSQL would otherwise repeat the probe in each sum below).
    previous = select(firsts.c.first, before.label("previous")).offset(0).subquery()
    year_start = date(period.start.year, 1, 1)
    first_of_year = (case((previous.c.previous >= year_start, literal(0)), else_=literal(1))
                     if period.start > year_start else literal(1))
    new_patient = case((previous.c.previous.is_(None), literal(1)), else_=literal(0))
    first_month = _month_of(previous.c.first)
    for m, of_year, new in db.session.execute(
            select(first_month, func.sum(first_of_year), func.sum(new_patient))
            .select_from(previous).group_by(first_month)):
        result[int(m)]["first_of_year"] = int(of_year)
        result[int(m)]["new_patients"] = int(new)
    return result


def _claim_months(period: Period, detail: bool) -> dict[int, MonthFacts]:
    """Claim outcomes of the treatments of the period, batch lines and patient-submitted claims: {month: {"rows":
    [[insurer, therapist, status, code, text, lines, claimed cents, paid cents, days to pay (text), paid lines],
    ...]}}. Without detail (the dashboard) the rows are summed by insurer (therapist None) and, apart, by
    therapist (insurer None, no reasons or days): the two tables the dashboard shows, in far fewer rows."""
    result: dict[int, MonthFacts] = {m: {"rows": []} for m in _months(period)}
    settled = ClaimLine.status.in_((LineStatus.PAID.value, LineStatus.PARTLY_PAID.value))
    month = _month_of(InvoiceLine.treatment_date).label("month")
    batch_keys = (ClaimBatch.insurer_id, Treatment.therapist_id, ClaimLine.status, ClaimLine.rejection_code,
                  ClaimLine.rejection_text)
    batch_days = _days_between(ClaimLine.outcome_at, ClaimBatch.submitted_at, timestamps=True)
    batch_rows = db.session.execute(
        select(month, *batch_keys, func.count(), func.sum(ClaimLine.claimed_cents), func.sum(ClaimLine.paid_cents),
               func.sum(case((settled, batch_days))),
               func.count(case((and_(settled, ClaimLine.outcome_at.is_not(None),
                                     ClaimBatch.submitted_at.is_not(None)), literal(1)))))
        .select_from(InvoiceLine)
        .join(ClaimLine, ClaimLine.invoice_line_id == InvoiceLine.id)
        .join(ClaimBatch, ClaimBatch.id == ClaimLine.batch_id)
        .join(Treatment, Treatment.id == InvoiceLine.treatment_id)
        .where(ClaimLine.included, ClaimBatch.status.in_(COUNTED_BATCH_STATUSES),
               _between(InvoiceLine.treatment_date, period))
        .group_by(month, *batch_keys)
    ).all()
    patient_settled = PatientClaim.status.in_((LineStatus.PAID.value, LineStatus.PARTLY_PAID.value))
    patient_keys = (PatientClaim.insurer_id, Treatment.therapist_id, PatientClaim.status, PatientClaim.rejection_code,
                    PatientClaim.rejection_text)
    patient_days = _days_between(PatientClaim.paid_on, PatientClaim.submitted_on, timestamps=False)
    patient_rows = db.session.execute(
        select(month, *patient_keys, func.count(), func.sum(PatientClaim.claimed_cents),
               func.sum(PatientClaim.paid_cents), func.sum(case((patient_settled, patient_days))),
               func.count(case((and_(patient_settled, PatientClaim.paid_on.is_not(None)), literal(1)))))
        .select_from(InvoiceLine)
        .join(PatientClaim, PatientClaim.invoice_line_id == InvoiceLine.id)
        .join(Treatment, Treatment.id == InvoiceLine.treatment_id)
        .where(_between(InvoiceLine.treatment_date, period))
        .group_by(month, *patient_keys)
    ).all()
    for m, insurer_id, therapist_id, status, code, text, lines, claimed, paid, days, paid_lines in (
            *batch_rows, *patient_rows):
        result[int(m)]["rows"].append([insurer_id, therapist_id, status, code or "", text or "", int(lines),
                                       _int(claimed), _int(paid), Decimal(str(days or 0)), int(paid_lines or 0)])
    for facts in result.values():
        rows = facts["rows"] if detail else _claims_by_insurer_and_therapist(facts["rows"])
        facts["rows"] = [[*row[:8], str(row[8]), row[9]] for row in rows]
    return result


def _claims_by_insurer_and_therapist(rows: list[list]) -> list[list]:
    by_insurer: dict[tuple, list] = defaultdict(lambda: [0, 0, 0, Decimal(0), 0])
    by_therapist: dict[tuple, list] = defaultdict(lambda: [0, 0, 0])
    for insurer_id, therapist_id, status, code, text, lines, claimed, paid, days, paid_lines in rows:
        cell = by_insurer[(insurer_id, status, code, text)]
        for index, value in enumerate((lines, claimed, paid, days, paid_lines)):
            cell[index] += value
        cell = by_therapist[(therapist_id, status)]
        for index, value in enumerate((lines, claimed, paid)):
            cell[index] += value
    return ([[insurer_id, None, status, code, text, *sums] for (insurer_id, status, code, text), sums
             in by_insurer.items()]
            + [[None, therapist_id, status, "", "", *sums, Decimal(0), 0] for (therapist_id, status), sums
               in by_therapist.items()])


_READERS: dict[str, Callable[[Period, bool], dict[int, MonthFacts]]] = {
    "revenue": _revenue_months, "treatments": _treatment_months, "claims": _claim_months}


def family_months(family: str, period: Period, detail: bool = True) -> dict[int, MonthFacts]:
    """One kind of facts for each month of `period` (within one calendar year), months without any included."""
    return _READERS[family](period, detail)


def facts_from_months(year: int, months: dict[str, dict[int, MonthFacts]]) -> YearFacts:
    """YearFacts from each family's facts per month ({family: {month: facts}})."""
    revenue, treatments, claims = [], [], []
    invoices, credit_notes, patients, first_of_year, new_patients = {}, {}, {}, {}, {}
    for m, facts in sorted(months["revenue"].items()):
        revenue += [(kind, m, *rest) for kind, *rest in facts["rows"]]
        invoices[m], credit_notes[m] = facts["invoices"], facts["credit_notes"]
    for m, facts in sorted(months["treatments"].items()):
        treatments += [(m, *row) for row in facts["rows"]]
        patients[m], first_of_year[m], new_patients[m] = (facts["patients"], facts["first_of_year"],
                                                          facts["new_patients"])
    for m, facts in sorted(months["claims"].items()):
        claims += [(m, *row[:8], Decimal(row[8]), row[9]) for row in facts["rows"]]
    return YearFacts(year=year, revenue=tuple(revenue), invoices=invoices, credit_notes=credit_notes,
                     treatments=tuple(treatments), patients_per_month=patients, first_of_year=first_of_year,
                     new_patients=new_patients, claims=tuple(claims))


def family_reads(period: Period, detail: bool = True) -> dict[str, Callable[[], dict[int, MonthFacts]]]:
    """Each kind's read of the months of `period`, to run (read_side_by_side) and put together (facts_from_months)."""
    return {family: partial(family_months, family, period, detail) for family in FAMILIES}


def period_facts(period: Period, detail: bool = True) -> YearFacts:
    """The grouped facts of the months of `period` (within one calendar year), read now, one kind after another."""
    return facts_from_months(period.start.year, read_side_by_side(family_reads(period, detail), side_by_side=False))


def read_side_by_side(reads: dict[str, Callable[[], Any]], side_by_side: bool = True) -> dict[str, Any]:
    """{name: read()} for reads that do not depend on each other. On PostgreSQL, with `side_by_side` and
    REPORT_READ_CONNECTIONS above 1, each runs in a thread on a session and connection of its own, so that the
    server works on several at once (a chain's year to date is a few hundred milliseconds a kind, mostly waiting for
    the server); the caller's session waits. Those connections see what is committed, so only callers that have
    written nothing in their transaction ask for it (the report's download and command line, the dashboard view).
    Otherwise (SQLite: one writer, and an in-memory database shares one connection) one after another."""
    connections = current_app.config.get("REPORT_READ_CONNECTIONS", 1) if side_by_side else 1
    if connections <= 1 or len(reads) <= 1 or db.engine.dialect.name != "postgresql":
        return {name: read() for name, read in reads.items()}
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def run(read: Callable[[], Any]) -> Any:
        with app.app_context():  # a session of its own (Flask-SQLAlchemy scopes sessions by app context)
            try:
                return read()
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=min(connections, len(reads)), thread_name_prefix="report-read") as pool:
        futures = {name: pool.submit(run, read) for name, read in reads.items()}
        return {name: future.result() for name, future in futures.items()}


class _ClaimSums:
    """Claim outcomes in integer cents, added up row by row; euros are made once (figures())."""

    __slots__ = ("lines", "claimed", "paid", "rejected", "outstanding", "short_paid")

    def __init__(self):
        self.lines = self.claimed = self.paid = self.rejected = self.outstanding = self.short_paid = 0

    def add(self, status: str, lines: int, claimed: int, paid: int) -> None:
        """Every claimed cent lands in one figure: claimed = paid + short-paid + rejected + outstanding."""
        self.lines += lines
        self.claimed += claimed
        self.paid += paid
        if status == REJECTED:
            self.rejected += claimed - paid
        elif status == PENDING:
            self.outstanding += claimed - paid
        else:  # paid or partly paid: what the insurer kept back
            self.short_paid += claimed - paid

    def figures(self) -> ClaimFigures:
        return ClaimFigures(self.lines, from_cents(self.claimed), from_cents(self.paid), from_cents(self.rejected),
                            from_cents(self.outstanding), from_cents(self.short_paid))


def _claim_pair(month: int, sums: dict[int, _ClaimSums]) -> Pair[ClaimFigures]:
    """The month's and the year to date's outcomes from per-month sums (months after `month` left out)."""
    total = _ClaimSums()
    for m, cell in sums.items():
        if m <= month:
            for name in _ClaimSums.__slots__:
                setattr(total, name, getattr(total, name) + getattr(cell, name))
    return Pair(sums[month].figures() if month in sums else ClaimFigures(), total.figures())


# ---- sections ----------------------------------------------------------------------------------------------------


def overview_section(month: Month, facts: YearFacts) -> tuple[Pair[Overview], tuple[MonthFigures, ...]]:
    """The key figures for the month and the year to date, and the year-to-date trend per month."""
    per_month: dict[int, dict] = defaultdict(lambda: {
        "invoiced": _Sums(), "credited": _Sums(), "medical": _Sums(), "cosmetic": _Sums(),
        "rates": defaultdict(_Sums)})
    for kind, m, medical, rate, _therapist, _item, _indication, gross, net, tax in facts.revenue:
        cell = per_month[m]
        for target in (cell[kind], cell["medical" if medical else "cosmetic"], cell["rates"][rate]):
            target.add(gross, net, tax)
    counts: dict[int, Counter] = defaultdict(Counter)
    for m, _therapist, _item, _indication, medical, count in facts.treatments:
        counts[m]["treatments"] += count
        counts[m]["medical"] += count * medical

    def overview(months: list[int], patients: int) -> Overview:
        totals = {k: _Sums() for k in ("invoiced", "credited", "medical", "cosmetic")}
        rates: dict[int, _Sums] = defaultdict(_Sums)
        treated: Counter = Counter()
        for m in months:
            cell = per_month.get(m)
            if cell is not None:
                for key, target in totals.items():
                    target.add(cell[key].gross, cell[key].net, cell[key].vat)
                for rate, sums in cell["rates"].items():
                    rates[rate].add(sums.gross, sums.net, sums.vat)
            treated.update(counts.get(m, Counter()))
        return Overview(
            invoiced=totals["invoiced"].amounts(), credited=totals["credited"].amounts(),
            medical=totals["medical"].amounts(), cosmetic=totals["cosmetic"].amounts(),
            vat_by_rate=tuple(VatLine(rate, sums.amounts()) for rate, sums in sorted(rates.items())),
            invoices=sum(facts.invoices.get(m, 0) for m in months),
            credit_notes=sum(facts.credit_notes.get(m, 0) for m in months),
            treatments=treated["treatments"], medical_treatments=treated["medical"], patients_treated=patients,
            new_patients=sum(facts.new_patients.get(m, 0) for m in months),
        )

    pair = Pair(overview([month.month], facts.patients_per_month.get(month.month, 0)),
                overview(list(range(1, month.month + 1)), facts.patients_to_date(month.month)))
    trend = []
    for m in months_to_date(month):
        figures = overview([m.month], facts.patients_per_month.get(m.month, 0))
        trend.append(MonthFigures(
            month=m, revenue=figures.revenue, medical_gross=figures.medical.gross,
            cosmetic_gross=figures.cosmetic.gross, treatments=figures.treatments,
            patients_treated=figures.patients_treated, new_patients=figures.new_patients))
    return pair, tuple(trend)


def _therapist_credentials(as_of: date, warn_days: int) -> tuple[list[Therapist], dict[int, CredentialFigures]]:
    therapists = list(db.session.scalars(
        select(Therapist).options(selectinload(Therapist.nvh_memberships), selectinload(Therapist.kp_registrations))
        .order_by(Therapist.name, Therapist.id)))
    figures = {}
    for therapist in therapists:
        memberships, registrations = therapist.credential_history()
        figures[therapist.id] = credential_figures(therapist.id, therapist.name, therapist.active, as_of,
                                                   memberships, registrations, warn_days)
    return therapists, figures


def therapist_section(month: Month, facts: YearFacts, therapists: list[Therapist],
                      credentials: dict[int, CredentialFigures]) -> tuple[TherapistFigures, ...]:
    table = _MonthTable(month.month)
    for _kind, m, _medical, _rate, therapist_id, _item, _indication, gross, _net, _tax in facts.revenue:
        if m <= month.month:
            table.add(("revenue", therapist_id), m, gross)
    for m, therapist_id, _item, _indication, medical, count in facts.treatments:
        if m <= month.month:
            table.add(("treatments", therapist_id), m, count)
            table.add(("medical", therapist_id), m, count * medical)
    claims: dict[int, dict[int, _ClaimSums]] = defaultdict(lambda: defaultdict(_ClaimSums))
    for m, _insurer, therapist_id, status, _code, _text, lines, claimed, paid, _days, _n in facts.claims:
        if m <= month.month and therapist_id is not None:  # None: a row by insurer only (the dashboard's)
            claims[therapist_id][m].add(status, lines, claimed, paid)
    seen = {key[1] for key in table.cells} | set(claims)
    rows = []
    for therapist in therapists:
        if not therapist.active and therapist.id not in seen:
            continue
        cents = table.pair(("revenue", therapist.id))
        credential = credentials[therapist.id]
        rows.append(TherapistFigures(
            therapist_id=therapist.id, name=therapist.name, active=therapist.active,
            treatments=table.pair(("treatments", therapist.id)),
            medical_treatments=table.pair(("medical", therapist.id)),
            revenue=Pair(from_cents(cents.month), from_cents(cents.ytd)),
            claims=_claim_pair(month.month, claims.get(therapist.id, {})),
            credential=credential.status, credential_badge=credential.badge,
        ))
    return tuple(rows)


def insurer_section(month: Month, facts: YearFacts) -> tuple[InsurerFigures, ...]:
    table = _MonthTable(month.month)
    reasons: dict[tuple[int, str], Counter] = defaultdict(Counter)  # (insurer, "month" | "ytd") -> code counts
    texts: dict[str, str] = {}
    claims: dict[int, dict[int, _ClaimSums]] = defaultdict(lambda: defaultdict(_ClaimSums))
    for m, insurer_id, _therapist, status, code, text, lines, claimed, paid, days, paid_lines in facts.claims:
        if m > month.month or insurer_id is None:  # None: a row by therapist only (the dashboard's)
            continue
        claims[insurer_id][m].add(status, lines, claimed, paid)
        before = table.cells[("days", insurer_id)].get(m, (Decimal(0), 0))
        table.put(("days", insurer_id), m, (before[0] + days, before[1] + paid_lines))
        if status == REJECTED:
            code = code or "unspecified"
            texts.setdefault(code, text or "Rejected without a stated reason.")
            reasons[(insurer_id, "ytd")][code] += lines
            if m == month.month:
                reasons[(insurer_id, "month")][code] += lines
    insurer_ids = sorted({key[1] for key in table.cells})
    names = dict(db.session.execute(
        select(Insurer.id, Insurer.name).where(Insurer.id.in_(insurer_ids))).all()) if insurer_ids else {}

    def average(total: tuple[Decimal, int]) -> Decimal | None:
        days, count = total
        return (days / count).quantize(Decimal("0.1")) if count else None

    def top(counter: Counter) -> tuple[ReasonFigure, ...]:
        ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:TOP_REASONS]
        return tuple(ReasonFigure(code, texts[code], n) for code, n in ranked)

    rows = []
    for insurer_id in sorted(insurer_ids, key=lambda i: (names.get(i, ""), i)):
        days = table.pair(("days", insurer_id), add=lambda a, b: (a[0] + b[0], a[1] + b[1]), zero=(Decimal(0), 0))
        rows.append(InsurerFigures(
            insurer_id=insurer_id, name=names.get(insurer_id, f"insurer {insurer_id}"),
            claims=_claim_pair(month.month, claims[insurer_id]),
            average_days_to_payment=Pair(average(days.month), average(days.ytd)),
            top_reasons=Pair(top(reasons[(insurer_id, "month")]), top(reasons[(insurer_id, "ytd")])),
        ))
    return tuple(rows)


def treatment_section(month: Month, facts: YearFacts) -> tuple[TreatmentFigures, ...]:
    table = _MonthTable(month.month)
    for m, _therapist, item_id, indication, _medical, count in facts.treatments:
        if m <= month.month:
            table.add(("count", item_id, indication), m, count)
    for _kind, m, _medical, _rate, _therapist, item_id, indication, gross, _net, _tax in facts.revenue:
        if m <= month.month:
            table.add(("revenue", item_id, indication), m, gross)
    combos = {(key[1], key[2]) for key in table.cells}
    item_ids = sorted({item_id for item_id, _ in combos})
    names = dict(db.session.execute(
        select(CatalogueItem.id, CatalogueItem.name).where(CatalogueItem.id.in_(item_ids))).all()) if item_ids else {}
    rows = []
    for item_id, indication in combos:
        info = INDICATIONS[Indication(indication)]
        cents = table.pair(("revenue", item_id, indication))
        rows.append(TreatmentFigures(
            treatment=names.get(item_id, f"item {item_id}"), indication=indication, medical=info.medical,
            count=table.pair(("count", item_id, indication)),
            revenue=Pair(from_cents(cents.month), from_cents(cents.ytd)),
        ))
    return tuple(sorted(rows, key=lambda r: (r.treatment, r.indication)))


def receivables_parts(as_of: date, first: date | None = None, last: date | None = None) -> dict[date, MonthFacts]:
    """Issued invoices with money still to receive on `as_of`, aged from their issue date, summed per issue month:
    {first day of the issue month: {"rows": [[bucket index, overdue 0/1, invoices, cents], ...]}}, for the
    invoices issued from `first` to `last` (default: all up to `as_of`). Months without open invoices are left out.

    The balance and the open state are invoicing.balance's, measured on `as_of` (credit notes and payments up to
    that day count).
    """
    where = []
    if first is not None:
        where.append(Invoice.issue_date >= first)
    if last is not None:
        where.append(Invoice.issue_date <= last)
    balances = balance.open_on(as_of, *where)
    whens = []
    for index, bucket in enumerate(AGE_BUCKETS):
        earliest, _latest = bucket.issue_dates(as_of)
        if earliest is not None:
            whens.append((balances.c.issued >= earliest, literal(index)))
    bucket_column = case(*whens, else_=literal(len(AGE_BUCKETS) - 1)).label("bucket")
    overdue = case((balances.c.due < as_of, literal(1)), else_=literal(0)).label("overdue")
    year, month = extract("year", balances.c.issued), extract("month", balances.c.issued)
    parts: dict[date, MonthFacts] = defaultdict(lambda: {"rows": []})
    for issue_year, issue_month, bucket, is_overdue, count, cents in db.session.execute(
            select(year, month, bucket_column, overdue, func.count(), func.sum(balances.c.balance))
            .group_by(year, month, bucket_column, overdue)):
        parts[date(int(issue_year), int(issue_month), 1)]["rows"].append(
            [int(bucket), int(is_overdue), int(count), _int(cents)])
    return dict(parts)


def receivables_from_parts(as_of: date, parts: Iterable[MonthFacts]) -> Receivables:
    counts: Counter = Counter()
    amounts: Counter = Counter()
    overdue_count = overdue_cents = 0
    for part in parts:
        for bucket, is_overdue, count, cents in part["rows"]:
            counts[bucket] += count
            amounts[bucket] += cents
            if is_overdue:
                overdue_count += count
                overdue_cents += cents
    return Receivables(
        as_of=as_of,
        buckets=tuple(BucketFigures(bucket, counts[i], from_cents(amounts[i])) for i, bucket in enumerate(AGE_BUCKETS)),
        overdue_invoices=overdue_count, overdue_amount=from_cents(overdue_cents),
    )


def receivables_section(as_of: date) -> Receivables:
    """The open invoices on `as_of` by age, read now."""
    return receivables_from_parts(as_of, receivables_parts(as_of).values())


# ---- the report --------------------------------------------------------------------------------------------------


def practice_name() -> str:
    return db.session.scalar(select(Practice.name).order_by(Practice.id).limit(1)) or ""


def build_report(month: Month, today: date | None = None, progress: Progress | None = None,
                 warn_days: int | None = None, now: datetime | None = None,
                 facts: YearFacts | None = None, receivables: Receivables | None = None,
                 detail: bool = True, side_by_side: bool = False) -> MonthlyReport:
    """Every figure of `month` and its year to date. `progress(section)` is called as each section is done.

    `facts` (January up to `month` at least) and `receivables` may come from the dashboard's summary table; by
    default they are read now, with `side_by_side` each kind on a connection of its own (read_side_by_side: only
    for a caller that has written nothing yet). Without `detail` (the dashboard) the facts need no breakdown by
    catalogue item and indication, and the by-treatment section is left empty.
    """
    report = progress or (lambda section: None)
    today = today or clinic_today()
    as_of = reference_date(month, today)
    warn_days = warn_days if warn_days is not None else current_app.config.get("CREDENTIAL_WARNING_DAYS", 90)
    ytd = year_to_date(month)
    reads: dict[str, Callable[[], Any]] = {}
    if facts is None:
        reads |= family_reads(ytd, detail)
    if receivables is None:
        reads[RECEIVABLES] = partial(receivables_section, as_of)
    read = read_side_by_side(reads, side_by_side)
    facts = facts if facts is not None else facts_from_months(ytd.start.year, {f: read[f] for f in FAMILIES})
    receivables = receivables if receivables is not None else read[RECEIVABLES]
    overview, trend = overview_section(month, facts)
    report("overview")
    therapists, credentials = _therapist_credentials(as_of, warn_days)
    therapist_rows = therapist_section(month, facts, therapists, credentials)
    report("therapists")
    insurer_rows = insurer_section(month, facts)
    report("insurers")
    treatment_rows = treatment_section(month, facts) if detail else ()
    report("treatments")
    report("receivables")
    credential_rows = tuple(credentials[t.id] for t in therapists if t.active or credentials[t.id].nvh_current
                            or credentials[t.id].kp_current)
    report("credentials")
    return MonthlyReport(
        month=month, as_of=as_of, generated_at=now or utc_now(), practice=practice_name(),
        overview=overview, trend=trend, therapists=therapist_rows, insurers=insurer_rows,
        treatments=treatment_rows, receivables=receivables, credentials=credential_rows, warn_days=warn_days,
    )
