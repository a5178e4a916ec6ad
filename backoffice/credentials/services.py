"""Which NVH memberships and KP registrations of active therapists run out soon or have run out, and which
recorded treatments a lapse affects: every medical, insured treatment on a date the therapist was not eligible
for the insurer (domain.eligibility, as the claim check asks), whatever its stored reimbursable flag, so one
recorded after a known lapse (assessed as not reimbursable) shows up too.

Returns plain data for the page and for `flask credentials check`. Queries: one for the therapists with their
credential history (two more for the eager loads), then one per therapist with an ineligible period.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import joinedload, selectinload

from ..clock import clinic_today
from ..domain.credential_alerts import HORIZONS, horizon_of
from ..domain.credentials import KpLevel, ineligible_periods
from ..domain.dutch import nl_date
from ..domain.eligibility import eligibility_on
from ..domain.money import from_cents
from ..domain.referrals import add_months
from ..domain.texts import Text
from ..extensions import db
from ..models import Therapist, Treatment


@dataclass(frozen=True)
class CredentialLine:
    therapist_id: int
    therapist: str
    kind: str          # "NVH" or "KP"
    number: str
    level: str         # KP level; "" for NVH
    ends_on: date
    days_left: int     # negative: expired that many days ago
    credential_id: int = 0  # the NvhMembership's or KpRegistration's id (by `kind`)


@dataclass(frozen=True)
class UnclaimableTreatment:
    treatment_id: int
    treatment_date: date
    patient_id: int
    patient: str
    therapist_id: int
    therapist: str
    insurer: str
    insurer_amount: Decimal
    reasons: tuple[Text, ...]  # what was missing on the treatment date and since when, in the reader's language
    reimbursable: bool = True  # as stored when it was recorded (and assessed)

    @property
    def why(self) -> str:
        return " ".join(str(reason) for reason in self.reasons)


@dataclass
class CredentialReport:
    today: date
    expiring: dict[int, list[CredentialLine]] = field(default_factory=dict)  # horizon days -> lines
    expired: list[CredentialLine] = field(default_factory=list)
    unclaimable: list[UnclaimableTreatment] = field(default_factory=list)
    since: date | None = None

    @property
    def lapsed(self) -> bool:
        """Something has already gone wrong: an expired credential without successor, or an unclaimable claim."""
        return bool(self.expired or self.unclaimable)


def _entries(therapist: Therapist):
    """(kind, number, level, start, end, id) for every credential; end None = open-ended."""
    for m in therapist.nvh_memberships:
        yield "NVH", m.member_number, "", m.valid_from, m.valid_until, m.id
    for r in therapist.kp_registrations:
        yield "KP", r.kp_number, r.level, r.period_start, r.period_end, r.id


def _has_successor(entry, entries) -> bool:
    """Renewed: another entry of the same kind ends later (or never). A KP kwaliteitsregister entry is only
    succeeded by another kwaliteitsregister entry: dropping to the diplomaregister is a lapse for insurers."""
    kind, _number, level, _start, end, _id = entry
    for other in entries:
        if other is entry or other[0] != kind:
            continue
        if kind == "KP" and level == KpLevel.KWALITEITSREGISTER and other[2] != KpLevel.KWALITEITSREGISTER:
            continue
        if other[4] is None or other[4] > end:
            return True
    return False


def credential_report(today: date | None = None, horizons: tuple[int, ...] = HORIZONS,
                      months_back: int = 12, unclaimable: bool = True) -> CredentialReport:
    """`unclaimable=False` leaves out the search for unclaimable treatments (the manager's home page and the
    e-mail need only the credentials)."""
    today = today or clinic_today()
    horizons = tuple(sorted(horizons))
    report = CredentialReport(today=today, expiring={h: [] for h in horizons})
    therapists = db.session.scalars(
        select(Therapist)
        .options(selectinload(Therapist.nvh_memberships), selectinload(Therapist.kp_registrations))
        .order_by(Therapist.name, Therapist.id)
    ).all()

    for therapist in therapists:
        if not therapist.active:
            continue
        entries = list(_entries(therapist))
        for entry in entries:
            kind, number, level, _start, end, credential_id = entry
            if end is None or _has_successor(entry, entries):
                continue
            line = CredentialLine(therapist.id, therapist.name, kind, number, level, end, (end - today).days,
                                  credential_id)
            if end < today:
                report.expired.append(line)
                continue
            horizon = horizon_of(end, today, horizons)  # each line in the tightest group only
            if horizon is not None:
                report.expiring[horizon].append(line)

    report.since = add_months(today, -months_back)
    for therapist in therapists if unclaimable else ():
        memberships, registrations = therapist.credential_history()
        # Not NVH + kwaliteitsregister: every day a lapse can affect (a rule naming the diplomaregister asks less).
        periods = ineligible_periods(report.since, today, memberships, registrations)
        if not periods:
            continue
        rows = db.session.scalars(
            select(Treatment)
            .options(joinedload(Treatment.patient), joinedload(Treatment.insurer),
                     joinedload(Treatment.coverage_rule))
            .where(Treatment.therapist_id == therapist.id, Treatment.medical.is_(True),
                   Treatment.insurer_id.is_not(None), Treatment.withdrawn_at.is_(None),
                   # a rule applied (whatever it decided), or it was recorded as reimbursable
                   or_(Treatment.coverage_rule_id.is_not(None), Treatment.reimbursable.is_(True)),
                   or_(*(and_(Treatment.treatment_date >= first, Treatment.treatment_date <= last)
                         for first, last in periods)))
            .order_by(Treatment.treatment_date, Treatment.id)
        )
        for treatment in rows:
            rule = treatment.coverage_rule
            answer = eligibility_on(treatment.treatment_date, memberships, registrations,
                                    rule.kp_level_required if rule else None, rule.nvh_required if rule else True)
            if answer.eligible:
                continue
            report.unclaimable.append(UnclaimableTreatment(
                treatment_id=treatment.id, treatment_date=treatment.treatment_date,
                patient_id=treatment.patient_id, patient=treatment.patient.full_name,
                therapist_id=therapist.id, therapist=therapist.name,
                insurer=treatment.insurer.name if treatment.insurer else "",
                insurer_amount=from_cents(treatment.insurer_amount_cents),
                reasons=answer.missing, reimbursable=treatment.reimbursable,
            ))
    report.expired.sort(key=lambda line: (line.ends_on, line.therapist))
    for lines in report.expiring.values():
        lines.sort(key=lambda line: (line.ends_on, line.therapist))
    report.unclaimable.sort(key=lambda t: (t.treatment_date, t.therapist, t.treatment_id))
    return report


def report_lines(report: CredentialReport) -> list[str]:
    """The report as text lines (the CLI prints them)."""
    def cred(line: CredentialLine) -> str:
        level = f" ({line.level})" if line.level else ""
        return f"  {line.therapist}: {line.kind} {line.number}{level} ends {nl_date(line.ends_on)}"

    out = [f"Credentials on {nl_date(report.today)}"]
    previous = 0
    for horizon, lines in report.expiring.items():
        out.append(f"Expiring within {horizon} days{f' (after {previous})' if previous else ''}: {len(lines)}")
        out.extend(f"{cred(line)} (in {line.days_left} days)" for line in lines)
        previous = horizon
    out.append(f"Expired, no successor recorded: {len(report.expired)}")
    out.extend(f"{cred(line)} (expired {-line.days_left} days ago)" for line in report.expired)
    out.append(f"Recorded treatments a lapse makes unclaimable (since {nl_date(report.since)}): "
               f"{len(report.unclaimable)}")
    out.extend(f"  {nl_date(t.treatment_date)} treatment {t.treatment_id}, patient {t.patient_id}, {t.therapist}, "
               f"{t.insurer} {t.insurer_amount}{'' if t.reimbursable else ' (recorded as not reimbursable)'}: "
               f"{t.why}" for t in report.unclaimable)
    return out
