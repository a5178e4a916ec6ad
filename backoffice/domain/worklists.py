"""The rules behind the home page's work lists (backoffice/main/worklists.py gathers the facts).

- An insurer's claim deadline as the work list shows it: the last day its oldest unclaimed line can be claimed
  (`claim_deadline`, the rule the claim check applies), with the days left.
- What blocks a claim, grouped per reason: the claim check's "what is missing" items (`claim_gaps`) of many
  patients become one group per kind of gap (BSN, ID document, referral, prestatiecode, intake), each with the
  records to fix: the patient for most gaps, the catalogue item for a missing prestatiecode (one fix there mends
  every line of that item, so it is listed once however many patients it blocks).

Pure: no Flask, no database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from .claim_facts import claim_deadline
from .invoicing import Gap, Missing

# The order of the groups on the page: the patient's own data first, then per line (as claim_gaps names them).
GAP_ORDER: tuple[Gap, ...] = (Gap.BSN, Gap.ID_DOCUMENT, Gap.REFERRAL, Gap.PRESTATIECODE, Gap.INTAKE, Gap.POLICY,
                              Gap.THERAPIST, Gap.PRACTICE, Gap.OTHER)
# A deadline this close shows as urgent.
URGENT_DAYS = 30


@dataclass(frozen=True)
class Deadline:
    day: date
    days_left: int                     # negative once passed

    @property
    def passed(self) -> bool:
        return self.days_left < 0

    @property
    def urgent(self) -> bool:
        return self.days_left <= URGENT_DAYS


def deadline_of(oldest_treatment: date, months: int, today: date) -> Deadline:
    """The claim deadline of the oldest unclaimed line (`months` after its treatment date), seen on `today`."""
    day = claim_deadline(oldest_treatment, months)
    return Deadline(day, (day - today).days)


@dataclass(frozen=True)
class PatientGaps:
    """What the claim check finds missing for one patient's unclaimed lines."""

    patient_id: int
    patient_name: str
    missing: Sequence[Missing]


@dataclass
class Blocker:
    """One record to fix and what it lacks: a patient (`patient_id`), or for a prestatiecode the catalogue item
    (`first.ref`), with the patients it blocks."""

    gap: Gap
    first: Missing                     # where to fix it (its gap and ref)
    patient_id: int | None
    patient_name: str
    missing: list[Missing] = field(default_factory=list)
    patients: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class BlockerGroup:
    gap: Gap
    blockers: tuple[Blocker, ...]      # the first `limit` of them
    count: int                         # all of them

    @property
    def more(self) -> int:
        return self.count - len(self.blockers)


def group_blockers(found: Iterable[PatientGaps], limit: int | None = None) -> list[BlockerGroup]:
    """One group per kind of gap, in GAP_ORDER; within a group the records in the order first found (callers
    pass the patients oldest line first), the first `limit` of them kept. A patient appears once per group with
    every item of that kind; a catalogue item without a prestatiecode appears once with the patients it blocks."""
    groups: dict[Gap, dict[tuple[object, ...], Blocker]] = {}
    for patient in found:
        for item in patient.missing:
            gap = Gap(item.gap)
            by_item = gap is Gap.PRESTATIECODE and item.ref is not None
            key: tuple[object, ...] = ("item", item.ref) if by_item else ("patient", patient.patient_id)
            blockers = groups.setdefault(gap, {})
            blocker = blockers.get(key)
            if blocker is None:
                blocker = blockers[key] = Blocker(gap, item, None if by_item else patient.patient_id,
                                                  "" if by_item else patient.patient_name)
            if all(str(seen) != str(item) for seen in blocker.missing):
                blocker.missing.append(item)
            if patient.patient_id not in blocker.patients:
                blocker.patients.append(patient.patient_id)
    return [BlockerGroup(gap, tuple(list(groups[gap].values())[:limit]), len(groups[gap]))
            for gap in GAP_ORDER if gap in groups]
