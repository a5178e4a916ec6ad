"""The manager's monthly report in plain Python: months and year to date, receivable ages, and the figures.

The figures themselves are summed by the database (backoffice/reporting/queries.py); this module says which
periods they cover, how open invoices are aged, how a credential is summarised, and holds the results in
plain dataclasses that the workbook, the dashboard and the tests read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Generic, Protocol, TypeVar

from .credentials import Badge, KpRegistration, NvhMembership, badge_on, check_on
from .money import from_cents
from .months import Month as Month
from .months import Period as Period
from .months import month_period as month_period
from .texts import N_, Text, msg

ZERO = Decimal("0.00")

T = TypeVar("T")


# ---- months (Month and Period live in months.py; re-exported here for the report's callers) ----------


def year_to_date(month: Month) -> Period:
    """1 January up to and including the last day of `month`."""
    return Period(date(month.year, 1, 1), month.last)


def months_to_date(month: Month) -> list[Month]:
    """January .. `month` of the same year: the rows of the year-to-date trend."""
    return [Month(month.year, m) for m in range(1, month.month + 1)]


def default_month(today: date) -> Month:
    """The report a manager opens on the first working day is the month just closed."""
    return Month.of(today).previous()


def reference_date(month: Month, today: date) -> date:
    """The day receivables and credentials are measured on: the month's last day, or today while it runs."""
    return min(month.last, today)


# ---- receivables by age -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgeBucket:
    label: str
    min_days: int
    max_days: int | None  # None: no upper bound

    def holds(self, days: int) -> bool:
        return days >= self.min_days and (self.max_days is None or days <= self.max_days)

    def issue_dates(self, as_of: date) -> tuple[date | None, date]:
        """(earliest, latest) issue date of an invoice this many days old on `as_of`; earliest None = any."""
        earliest = None if self.max_days is None else as_of - timedelta(days=self.max_days)
        return earliest, as_of - timedelta(days=self.min_days)


AGE_BUCKETS: tuple[AgeBucket, ...] = (
    AgeBucket("0-30", 0, 30),
    AgeBucket("31-60", 31, 60),
    AgeBucket("61-90", 61, 90),
    AgeBucket(">90", 91, None),
)


def age_in_days(issue_date: date, as_of: date) -> int:
    """An invoice's age counts from its issue date (not its due date), as accountants age receivables."""
    return max((as_of - issue_date).days, 0)


def bucket_for(days: int) -> AgeBucket:
    for bucket in AGE_BUCKETS:
        if bucket.holds(max(days, 0)):
            return bucket
    raise AssertionError("the buckets cover every age")  # pragma: no cover


# ---- figures ------------------------------------------------------------------------------------------------


def share(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    """`part` as a percentage of `whole`, to one decimal (half up); None when the whole is zero."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Amounts:
    """Euros including VAT (gross), excluding VAT (net) and the VAT in between."""

    gross: Decimal = ZERO
    net: Decimal = ZERO
    vat: Decimal = ZERO

    def __add__(self, other: Amounts) -> Amounts:
        return Amounts(self.gross + other.gross, self.net + other.net, self.vat + other.vat)


@dataclass(frozen=True)
class Pair(Generic[T]):
    """A figure for the month and for the year to date."""

    month: T
    ytd: T


class _Addable(Protocol):
    def __add__(self, other: Any, /) -> Any: ...


A = TypeVar("A", bound=_Addable)


def pair_sum(values: Iterable[Pair[A]], start: A | int = 0) -> Pair[A | int]:
    """The month figures added up and the year-to-date figures added up (`start` for an empty list)."""
    values = list(values)
    return Pair(sum((v.month for v in values), start), sum((v.ytd for v in values), start))


@dataclass(frozen=True)
class VatLine:
    rate: int  # 0 = exempt
    amounts: Amounts

    @property
    def exempt(self) -> bool:
        return self.rate == 0

    @property
    def label(self) -> str:
        return str(self.words)

    @property
    def words(self) -> Text:
        return msg(N_("Exempt (art. 11 lid 1 onderdeel g Wet OB)")) if self.exempt else msg("%(rate)s %% VAT",
                                                                                            rate=self.rate)


@dataclass(frozen=True)
class Overview:
    """One period's key figures. Revenue is invoiced minus credited, by issue date (what the VAT return holds)."""

    invoiced: Amounts = Amounts()
    credited: Amounts = Amounts()          # negative amounts
    medical: Amounts = Amounts()           # revenue (invoiced + credited) of medical lines
    cosmetic: Amounts = Amounts()
    vat_by_rate: tuple[VatLine, ...] = ()  # revenue per VAT rate, exempt first
    invoices: int = 0
    credit_notes: int = 0
    treatments: int = 0
    medical_treatments: int = 0
    patients_treated: int = 0
    new_patients: int = 0                  # first treatment ever falls in the period

    @property
    def revenue(self) -> Amounts:
        return self.invoiced + self.credited

    @property
    def medical_share(self) -> Decimal | None:
        return share(self.medical.gross, self.revenue.gross)

    def vat(self, rate: int) -> Amounts:
        return next((line.amounts for line in self.vat_by_rate if line.rate == rate), Amounts())


@dataclass(frozen=True)
class MonthFigures:
    """One row of the year-to-date trend."""

    month: Month
    revenue: Amounts = Amounts()
    medical_gross: Decimal = ZERO
    cosmetic_gross: Decimal = ZERO
    treatments: int = 0
    patients_treated: int = 0
    new_patients: int = 0


@dataclass(frozen=True)
class ClaimFigures:
    """Claim outcomes of the treatments of a period (claimed by the clinic or by the patient)."""

    lines: int = 0
    claimed: Decimal = ZERO
    paid: Decimal = ZERO
    rejected: Decimal = ZERO     # claimed on rejected lines
    outstanding: Decimal = ZERO  # claimed on lines still waiting for an answer
    short_paid: Decimal = ZERO   # claimed but not paid on lines paid in part: claimed = paid + short_paid +
    #                              rejected + outstanding

    def __add__(self, other: ClaimFigures) -> ClaimFigures:
        return ClaimFigures(self.lines + other.lines, self.claimed + other.claimed, self.paid + other.paid,
                            self.rejected + other.rejected, self.outstanding + other.outstanding,
                            self.short_paid + other.short_paid)


@dataclass(frozen=True)
class TherapistFigures:
    therapist_id: int
    name: str
    active: bool
    treatments: Pair[int]
    medical_treatments: Pair[int]
    revenue: Pair[Decimal]           # including VAT, invoiced minus credited
    claims: Pair[ClaimFigures]
    credential: Text                 # badge text on the reference date, in the reader's language
    credential_badge: Badge

    @property
    def medical_share(self) -> Pair[Decimal | None]:
        return Pair(share(self.medical_treatments.month, self.treatments.month),
                    share(self.medical_treatments.ytd, self.treatments.ytd))


@dataclass(frozen=True)
class ReasonFigure:
    code: str
    text: str
    lines: int


@dataclass(frozen=True)
class InsurerFigures:
    insurer_id: int | None
    name: str
    claims: Pair[ClaimFigures]
    average_days_to_payment: Pair[Decimal | None]
    top_reasons: Pair[tuple[ReasonFigure, ...]]


@dataclass(frozen=True)
class TreatmentFigures:
    treatment: str      # the catalogue item's name
    indication: str     # its code (Indication value); labels.indication_label words it
    medical: bool
    count: Pair[int]
    revenue: Pair[Decimal]


@dataclass(frozen=True)
class BucketFigures:
    bucket: AgeBucket
    invoices: int = 0
    amount: Decimal = ZERO


@dataclass(frozen=True)
class Receivables:
    as_of: date
    buckets: tuple[BucketFigures, ...]
    overdue_invoices: int = 0
    overdue_amount: Decimal = ZERO

    @property
    def invoices(self) -> int:
        return sum(b.invoices for b in self.buckets)

    @property
    def amount(self) -> Decimal:
        return sum((b.amount for b in self.buckets), ZERO)


@dataclass(frozen=True)
class CredentialFigures:
    therapist_id: int
    name: str
    active: bool
    nvh_number: str
    nvh_until: date | None       # None: open-ended or none
    nvh_current: bool
    kp_number: str
    kp_level: str
    kp_until: date | None
    kp_current: bool
    status: Text                 # in the reader's language
    badge: Badge
    ending_soon: bool            # an end date within the warning window: highlighted


def credential_figures(therapist_id: int, name: str, active: bool, as_of: date,
                       memberships: Sequence[NvhMembership], registrations: Sequence[KpRegistration],
                       warn_days: int = 90) -> CredentialFigures:
    """NVH and KP status and end dates on `as_of`: the current entry of each, else the latest one."""
    check = check_on(as_of, memberships, registrations)
    nvh = check.nvh or max(memberships, key=lambda m: m.valid_until or date.max, default=None)
    kp = check.kp or max(registrations, key=lambda r: r.period_end, default=None)
    status = badge_on(as_of, memberships, registrations, warn_days=warn_days)
    horizon = as_of + timedelta(days=warn_days)
    # only a current entry's end date can be "ending soon": the latest past one has ended already
    ends = [d for d in (check.nvh.valid_until if check.nvh else None, check.kp.period_end if check.kp else None)
            if d is not None]
    return CredentialFigures(
        therapist_id=therapist_id, name=name, active=active,
        nvh_number=nvh.number if nvh else "", nvh_until=nvh.valid_until if nvh else None,
        nvh_current=check.nvh is not None,
        kp_number=kp.kp_number if kp else "", kp_level=str(kp.level) if kp else "",
        kp_until=kp.period_end if kp else None, kp_current=check.kp is not None,
        status=status.message, badge=status.badge,
        ending_soon=any(as_of <= d <= horizon for d in ends),
    )


@dataclass(frozen=True)
class MonthlyReport:
    month: Month
    as_of: date                       # receivables and credentials are measured on this day
    generated_at: datetime
    practice: str
    overview: Pair[Overview]
    trend: tuple[MonthFigures, ...]   # January .. month
    therapists: tuple[TherapistFigures, ...]
    insurers: tuple[InsurerFigures, ...]
    treatments: tuple[TreatmentFigures, ...]
    receivables: Receivables
    credentials: tuple[CredentialFigures, ...]
    warn_days: int = 90

    @property
    def ytd(self) -> Period:
        return year_to_date(self.month)


# ---- from the database's integer cents ----------------------------------------------------------------------


def amounts_from_cents(gross: int, net: int, vat: int) -> Amounts:
    return Amounts(from_cents(gross), from_cents(net), from_cents(vat))
