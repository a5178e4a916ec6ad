"""Prior authorisations (machtigingen) and what each rule paid of a treatment (stacked rules)."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain import authorisations as authorisation_rules
from ..domain.indications import Indication
from .base import Model, UtcDateTime, utcnow

if TYPE_CHECKING:
    from .insurers import CoverageRule, Insurer
    from .patients import Patient
    from .treatments import Treatment
    from .users import User


class PriorAuthorisation(Model):
    """An insurer's prior authorisation (machtiging) for a patient: its number, period and the indications it
    covers, optionally a maximum number of treatments. Never edited: one entered in error is withdrawn (who, when,
    why) and a new one recorded; the treatments assessed with it keep it in their history."""

    __tablename__ = "prior_authorisations"
    __table_args__ = (
        CheckConstraint("valid_until >= valid_from", name="period_ordered"),
        CheckConstraint("max_treatments IS NULL OR max_treatments > 0", name="max_treatments_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    insurer_id: Mapped[int] = mapped_column(ForeignKey("insurers.id"))
    number: Mapped[str] = mapped_column(String(40))
    valid_from: Mapped[date]
    valid_until: Mapped[date]
    indications: Mapped[list[Any]] = mapped_column(JSON, default=list)
    max_treatments: Mapped[int | None]
    notes: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    withdrawn_reason: Mapped[str | None] = mapped_column(Text)

    patient: Mapped[Patient] = relationship()
    insurer: Mapped[Insurer] = relationship()
    recorded_by: Mapped[User | None] = relationship(foreign_keys=[recorded_by_id])
    withdrawn_by: Mapped[User | None] = relationship(foreign_keys=[withdrawn_by_id])

    @property
    def withdrawn(self) -> bool:
        return self.withdrawn_at is not None

    def to_domain(self, used: int = 0) -> authorisation_rules.Authorisation:
        return authorisation_rules.Authorisation(
            id=self.id, insurer_id=self.insurer_id, number=self.number, valid_from=self.valid_from,
            valid_until=self.valid_until, indications=frozenset(Indication(i) for i in self.indications or ()),
            max_treatments=self.max_treatments, used=used,
        )


class TreatmentRulePart(Model):
    """What one rule paid of one treatment: caps are charged per part (a fallback rule charges its own cap).
    Rewritten with the treatment's assessment; `position` 0 is the first paying rule."""

    __tablename__ = "treatment_rule_parts"
    __table_args__ = (
        CheckConstraint("insurer_amount_cents >= 0", name="amount_not_negative"),
        # Usage is read from a patient's treatments to their parts: by treatment first, covering the cap group and
        # amount (a cap-group-first index would lead the planner through every patient's parts in the group).
        Index("ix_treatment_rule_parts_treatment_id_cap_group", "treatment_id", "cap_group", "insurer_amount_cents"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    treatment_id: Mapped[int] = mapped_column(ForeignKey("treatments.id"))
    coverage_rule_id: Mapped[int | None] = mapped_column(ForeignKey("coverage_rules.id"))
    position: Mapped[int] = mapped_column(default=0)
    cap_group: Mapped[str] = mapped_column(String(100))
    insurer_amount_cents: Mapped[int] = mapped_column(default=0)
    own_risk: Mapped[bool] = mapped_column(default=False)
    authorisation_number: Mapped[str] = mapped_column(String(40), default="")

    treatment: Mapped[Treatment] = relationship()
    coverage_rule: Mapped[CoverageRule | None] = relationship()
