"""Every figure of the monthly report, summed by the database.

The grouped facts are read once per calendar year (YearFacts), grouped by month plus what a sheet breaks down
by; a month's figure is its month's groups and the year to date the groups up to it. The rows that come back grow
with months x therapists x catalogue items x insurers, never with the number of treatments or invoices. Sums are
over integer cents; euros are made once, at the end (domain.reporting.amounts_from_cents).

Bases, as labelled in the workbook:
- revenue: issued invoice lines by invoice issue date plus credit-note lines by credit-note issue date (the VAT
  return's basis), so the totals reconcile exactly with the invoice and credit-note lines of the month;
- treatments, patients treated, new patients: by treatment date;
- claims: lines of treatments dated in the period (as the claims pages count them): lines of submitted or
  closed batches, and patient-submitted claims;
- receivables and credentials: on the reference day (the month's last day, or today while the month runs).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from flask import current_app
from sqlalchemy import (
    Date,
    Float,
    and_,
    case,
    cast,
    distinct,
    extract,
    func,
    literal,
    null,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import selectinload

from ..domain.claims import LineStatus
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
)
from ..extensions import db
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
    Payment,
    Practice,
    Therapist,
    Treatment,
)

# Claim batches whose outcomes count (as backoffice.claims.services.outcome_tallies counts them).
COUNTED_BATCH_STATUSES = ("submitted", "closed")
TOP_REASONS = 3
REJECTED, PENDING = LineStatus.REJECTED.value, LineStatus.PENDING.value

# The report's sections, in the order they are built: the CLI's progress bar counts these.
SECTIONS = ("overview", "therapists", "insurers", "treatments", "receivables", "credentials")

Progress = Callable[[str], None]


def _int(value) -> int:
    return int(value or 0)


def _month_of(column):
    # EXTRACT works on both databases (SQLite: CAST(STRFTIME('%m', ...) AS INTEGER)); PostgreSQL answers numeric.
    return extract("month", column)


def _between(column, period: Period):
    return and_(column >= period.start, column <= period.end)


def _days_between(later, earlier, timestamps: bool):
    """Days from `earlier` to `later` (both dates, or both timestamps), fractional, in this database's dialect."""
    if db.session.get_bind().dialect.name == "sqlite":
        days = func.julianday(later) - func.julianday(earlier)
    elif timestamps:
        days = extract("epoch", later - earlier) / 86400.0
    else:
        days = later - earlier  # PostgreSQL: date - date is a number of days already
    return type_coerce(days, Float())  # not a date or an interval, whatever SQLAlchemy infers


# ---- the grouped facts of a calendar year ---------------------------------------------------------------------


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
    """Everything the report sums, grouped by calendar month for one year: the report of any month of that year
    is read from it (the month's groups, and the groups up to it for the year to date). Some thousands of rows
    for a large chain, whatever its number of treatments, so it can be kept (backoffice/reporting/cache.py)."""

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


def _revenue_rows(year: Period) -> list[tuple]:
    """Issued invoice lines by issue date and credit-note lines by credit-note date, grouped in SQL."""
    rows = []
    month = _month_of(Invoice.issue_date).label("month")
    keys = (InvoiceLine.medical, InvoiceLine.vat_rate, Treatment.therapist_id, Treatment.catalogue_item_id,
            Treatment.indication)
    invoiced = db.session.execute(
        select(month, *keys, func.sum(InvoiceLine.gross_cents), func.sum(InvoiceLine.net_cents),
               func.sum(InvoiceLine.vat_cents))
        .select_from(InvoiceLine)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .join(Treatment, Treatment.id == InvoiceLine.treatment_id)
        .where(Invoice.status == "issued", _between(Invoice.issue_date, year))
        .group_by(month, *keys)
    )
    rows += [("invoiced", *row) for row in invoiced]
    credit_month = _month_of(CreditNote.issue_date).label("month")
    credit_keys = (InvoiceLine.medical, CreditNoteLine.vat_rate, Treatment.therapist_id,
                   Treatment.catalogue_item_id, Treatment.indication)
    credited = db.session.execute(
        select(credit_month, *credit_keys, func.sum(CreditNoteLine.gross_cents), func.sum(CreditNoteLine.net_cents),
               func.sum(CreditNoteLine.vat_cents))
        .select_from(CreditNoteLine)
        .join(CreditNote, CreditNote.id == CreditNoteLine.credit_note_id)
        .join(InvoiceLine, InvoiceLine.id == CreditNoteLine.invoice_line_id)
        .join(Treatment, Treatment.id == InvoiceLine.treatment_id)
        .where(_between(CreditNote.issue_date, year))
        .group_by(credit_month, *credit_keys)
    )
    rows += [("credited", *row) for row in credited]
    return [(kind, int(m), bool(medical), int(rate), therapist, item, indication, _int(g), _int(n), _int(v))
            for kind, m, medical, rate, therapist, item, indication, g, n, v in rows]


def _per_month(query) -> dict[int, int]:
    return {int(m): int(n) for m, n in db.session.execute(query)}


def _treatment_facts(year: Period) -> dict:
    month = _month_of(Treatment.treatment_date).label("month")
    keys = (Treatment.therapist_id, Treatment.catalogue_item_id, Treatment.indication, Treatment.medical)
    in_year = _between(Treatment.treatment_date, year)
    rows = [(int(m), therapist, item, indication, bool(medical), int(n)) for m, therapist, item, indication, medical, n
            in db.session.execute(select(month, *keys, func.count()).where(in_year).group_by(month, *keys))]
    # One pass over the (patient, date) index: each patient treated this year with their first treatment of the
    # year and their first treatment ever. Distinct patients up to a month count each patient once, in the month
    # of their first treatment this year; a new patient's first treatment ever falls in the year.
    firsts = (
        select(func.min(case((Treatment.treatment_date >= year.start, Treatment.treatment_date))).label("first"),
               func.min(Treatment.treatment_date).label("ever"))
        .where(Treatment.treatment_date <= year.end)
        .group_by(Treatment.patient_id)
        .having(func.max(Treatment.treatment_date) >= year.start)
        .subquery()
    )
    first_month = _month_of(firsts.c.first)
    is_new = case((firsts.c.ever >= year.start, literal(1)), else_=literal(0))
    first_of_year: Counter = Counter()
    new_patients: Counter = Counter()
    for m, new, count in db.session.execute(
            select(first_month, is_new, func.count()).select_from(firsts).group_by(first_month, is_new)):
        first_of_year[int(m)] += int(count)
        if new:
            new_patients[int(m)] += int(count)
    return {
        "treatments": tuple(rows),
        "patients_per_month": _per_month(
            select(month, func.count(distinct(Treatment.patient_id))).where(in_year).group_by(month)),
        "first_of_year": dict(first_of_year),
        "new_patients": dict(new_patients),
    }


def _claim_rows(year: Period) -> list[tuple]:
    """Claim outcomes of the treatments of the year: batch lines and patient-submitted claims."""
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
        .select_from(ClaimLine)
        .join(ClaimBatch, ClaimBatch.id == ClaimLine.batch_id)
        .join(InvoiceLine, InvoiceLine.id == ClaimLine.invoice_line_id)
        .join(Treatment, Treatment.id == InvoiceLine.treatment_id)
        .where(ClaimLine.included, ClaimBatch.status.in_(COUNTED_BATCH_STATUSES),
               _between(InvoiceLine.treatment_date, year))
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
        .select_from(PatientClaim)
        .join(InvoiceLine, InvoiceLine.id == PatientClaim.invoice_line_id)
        .join(Treatment, Treatment.id == InvoiceLine.treatment_id)
        .where(_between(InvoiceLine.treatment_date, year))
        .group_by(month, *patient_keys)
    ).all()
    return [(int(m), insurer_id, therapist_id, status, code or "", text or "", int(lines), _int(claimed), _int(paid),
             Decimal(str(days or 0)), int(paid_lines or 0))
            for m, insurer_id, therapist_id, status, code, text, lines, claimed, paid, days, paid_lines
            in (*batch_rows, *patient_rows)]


def year_facts(year: int) -> YearFacts:
    """The grouped facts of the calendar year `year` (the queries every report of that year reads)."""
    period = Period(date(year, 1, 1), date(year, 12, 31))
    invoice_month = _month_of(Invoice.issue_date)
    note_month = _month_of(CreditNote.issue_date)
    return YearFacts(
        year=year,
        revenue=tuple(_revenue_rows(period)),
        invoices=_per_month(select(invoice_month, func.count(Invoice.id))
                            .where(Invoice.status == "issued", _between(Invoice.issue_date, period))
                            .group_by(invoice_month)),
        credit_notes=_per_month(select(note_month, func.count(CreditNote.id))
                                .where(_between(CreditNote.issue_date, period)).group_by(note_month)),
        **_treatment_facts(period),
        claims=tuple(_claim_rows(period)),
    )


class _ClaimSums:
    """Claim outcomes in integer cents, added up row by row; euros are made once (figures())."""

    __slots__ = ("lines", "claimed", "paid", "rejected", "outstanding")

    def __init__(self):
        self.lines = self.claimed = self.paid = self.rejected = self.outstanding = 0

    def add(self, status: str, lines: int, claimed: int, paid: int) -> None:
        self.lines += lines
        self.claimed += claimed
        self.paid += paid
        if status == REJECTED:
            self.rejected += claimed
        elif status == PENDING:
            self.outstanding += claimed

    def figures(self) -> ClaimFigures:
        return ClaimFigures(self.lines, from_cents(self.claimed), from_cents(self.paid), from_cents(self.rejected),
                            from_cents(self.outstanding))


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
        if m <= month.month:
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
        if m > month.month:
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
            treatment=names.get(item_id, f"item {item_id}"), indication=info.label, medical=info.medical,
            count=table.pair(("count", item_id, indication)),
            revenue=Pair(from_cents(cents.month), from_cents(cents.ytd)),
        ))
    return tuple(sorted(rows, key=lambda r: (r.treatment, r.indication)))


def receivables_section(as_of: date) -> Receivables:
    """Issued invoices with money still to receive on `as_of`, aged from their issue date: one pass in SQL.

    Each invoice's balance is its total, plus its credit notes (negative) and minus its payments, each up to
    `as_of`: the three are stacked (UNION ALL) and summed per invoice, which reads each table once.
    """
    no_date = cast(null(), Date)
    movements = union_all(
        select(Invoice.id.label("invoice_id"), Invoice.total_gross_cents.label("cents"),
               Invoice.issue_date.label("issued"), Invoice.due_date.label("due"))
        .where(Invoice.status == "issued", Invoice.issue_date <= as_of),
        select(CreditNote.invoice_id, CreditNote.total_gross_cents, no_date, no_date)
        .where(CreditNote.issue_date <= as_of),
        select(Payment.invoice_id, -Payment.amount_cents, no_date, no_date).where(Payment.paid_on <= as_of),
    ).subquery()
    balances = (select(movements.c.invoice_id, func.sum(movements.c.cents).label("balance"),
                       func.max(movements.c.issued).label("issued"), func.max(movements.c.due).label("due"))
                .group_by(movements.c.invoice_id).subquery())
    whens = []
    for index, bucket in enumerate(AGE_BUCKETS):
        earliest, _latest = bucket.issue_dates(as_of)
        if earliest is not None:
            whens.append((balances.c.issued >= earliest, literal(index)))
    bucket_column = case(*whens, else_=literal(len(AGE_BUCKETS) - 1)).label("bucket")
    overdue = case((balances.c.due < as_of, literal(1)), else_=literal(0)).label("overdue")
    rows = db.session.execute(
        select(bucket_column, overdue, func.count(), func.sum(balances.c.balance))
        .where(balances.c.issued.is_not(None), balances.c.balance > 0)
        .group_by(bucket_column, overdue)
    ).all()
    counts: Counter = Counter()
    amounts: Counter = Counter()
    overdue_count = overdue_cents = 0
    for bucket, is_overdue, count, cents in rows:
        counts[int(bucket)] += int(count)
        amounts[int(bucket)] += _int(cents)
        if is_overdue:
            overdue_count += int(count)
            overdue_cents += _int(cents)
    return Receivables(
        as_of=as_of,
        buckets=tuple(BucketFigures(bucket, counts[i], from_cents(amounts[i])) for i, bucket in enumerate(AGE_BUCKETS)),
        overdue_invoices=overdue_count, overdue_amount=from_cents(overdue_cents),
    )


# ---- the report --------------------------------------------------------------------------------------------------


def practice_name() -> str:
    return db.session.scalar(select(Practice.name).order_by(Practice.id).limit(1)) or ""


def build_report(month: Month, today: date | None = None, progress: Progress | None = None,
                 warn_days: int | None = None, now: datetime | None = None,
                 facts: YearFacts | None = None, receivables: Receivables | None = None) -> MonthlyReport:
    """Every figure of `month` and its year to date. `progress(section)` is called as each section is done.

    `facts` and `receivables` may come from the dashboard's cache; by default they are read now.
    """
    report = progress or (lambda section: None)
    today = today or date.today()
    as_of = reference_date(month, today)
    warn_days = warn_days if warn_days is not None else current_app.config.get("CREDENTIAL_WARNING_DAYS", 90)
    facts = facts if facts is not None else year_facts(month.year)
    overview, trend = overview_section(month, facts)
    report("overview")
    therapists, credentials = _therapist_credentials(as_of, warn_days)
    therapist_rows = therapist_section(month, facts, therapists, credentials)
    report("therapists")
    insurer_rows = insurer_section(month, facts)
    report("insurers")
    treatment_rows = treatment_section(month, facts)
    report("treatments")
    receivables = receivables if receivables is not None else receivables_section(as_of)
    report("receivables")
    credential_rows = tuple(credentials[t.id] for t in therapists if t.active or credentials[t.id].nvh_current
                            or credentials[t.id].kp_current)
    report("credentials")
    return MonthlyReport(
        month=month, as_of=as_of, generated_at=now or datetime.now(UTC), practice=practice_name(),
        overview=overview, trend=trend, therapists=therapist_rows, insurers=insurer_rows,
        treatments=treatment_rows, receivables=receivables, credentials=credential_rows, warn_days=warn_days,
    )
