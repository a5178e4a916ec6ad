"""Prior authorisations (machtigingen): an insurer's written consent, before treatment, to pay for named
indications in a period (transgender facial epilation under basic insurance, for one). Pure data for the
assessment; the caller counts the treatments already done under it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .indications import Indication


@dataclass(frozen=True)
class Authorisation:
    id: int
    insurer_id: int
    number: str
    valid_from: date
    valid_until: date
    indications: frozenset[Indication]
    max_treatments: int | None = None   # None: no limit on the number of treatments
    used: int = 0                       # treatments before this one that counted under it

    def covers(self, insurer_id: int, indication: Indication, day: date) -> bool:
        """Issued by this insurer, for this indication, valid on this day (the number of treatments aside)."""
        return (self.insurer_id == insurer_id and indication in self.indications
                and self.valid_from <= day <= self.valid_until)

    @property
    def used_up(self) -> bool:
        return self.max_treatments is not None and self.used >= self.max_treatments
