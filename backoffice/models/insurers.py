"""Insurers, the supplementary packages they sell, and their coverage conditions per year (data, not code)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain.coverage import CapPeriod, PolicyRule
from ..domain.credentials import KpLevel
from ..domain.indications import BodyArea, Category
from ..domain.money import from_cents
from .base import Model, UtcDateTime, one_of

if TYPE_CHECKING:
    from .users import User


class Insurer(Model):
    __tablename__ = "insurers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    uzovi: Mapped[str] = mapped_column(String(4), unique=True)
    claim_address: Mapped[str] = mapped_column(Text, default="")
    claim_email: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(default=True)

    packages: Mapped[list[Package]] = relationship(
        back_populates="insurer", order_by="Package.name", cascade="all, delete-orphan"
    )


class Package(Model):
    """A supplementary policy (aanvullende verzekering) an insurer sells."""

    __tablename__ = "packages"
    __table_args__ = (UniqueConstraint("insurer_id", "name", name="uq_packages_insurer_id_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    insurer_id: Mapped[int] = mapped_column(ForeignKey("insurers.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(default=True)

    insurer: Mapped[Insurer] = relationship(back_populates="packages")


class CoverageRule(Model):
    """One line of an insurer's conditions, per package (or every package) and calendar year. Data, not code.

    Treatments name the rule they were assessed with, so a rule history depends on is never deleted: it is ended
    (`ends_on`: it no longer applies to treatments after that day) or withdrawn (`withdrawn_at`, by whom and why:
    entered by mistake, it applies to no new assessment at all). Either way it stays visible for history."""

    __tablename__ = "coverage_rules"
    __table_args__ = (
        CheckConstraint(one_of("cap_period", CapPeriod), name="cap_period_known"),
        CheckConstraint("percentage > 0 AND percentage <= 100", name="percentage_range"),
        CheckConstraint("cap_cents IS NULL OR cap_cents >= 0", name="cap_not_negative"),
        CheckConstraint(one_of("kp_level_required", KpLevel) + " OR kp_level_required IS NULL",
                        name="kp_level_known"),
        Index("ix_coverage_rules_insurer_id_year", "insurer_id", "year"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    insurer_id: Mapped[int] = mapped_column(ForeignKey("insurers.id"))
    package_id: Mapped[int | None] = mapped_column(ForeignKey("packages.id"))
    year: Mapped[int]
    label: Mapped[str] = mapped_column(String(200))
    categories: Mapped[list[Any]] = mapped_column(JSON, default=list)
    cap_cents: Mapped[int | None]
    cap_period: Mapped[str] = mapped_column(String(10), default=CapPeriod.YEAR.value)
    cap_group: Mapped[str] = mapped_column(String(100), default="")
    percentage: Mapped[int] = mapped_column(default=100)
    max_sessions: Mapped[int | None]
    waiting_months: Mapped[int] = mapped_column(default=0)
    referral_required: Mapped[bool] = mapped_column(default=False)
    kp_level_required: Mapped[str | None] = mapped_column(String(20))
    body_areas: Mapped[list[Any]] = mapped_column(JSON, default=list)
    technique_required: Mapped[bool] = mapped_column(default=False)
    notes: Mapped[str] = mapped_column(Text, default="")
    ends_on: Mapped[date | None]
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    withdrawn_reason: Mapped[str] = mapped_column(Text, default="")

    insurer: Mapped[Insurer] = relationship()
    package: Mapped[Package | None] = relationship()
    withdrawn_by: Mapped[User | None] = relationship()

    @property
    def withdrawn(self) -> bool:
        return self.withdrawn_at is not None

    def applies_on(self, day: date) -> bool:
        """Whether new assessments of a treatment on `day` may use this rule (its year is checked by the query)."""
        return not self.withdrawn and (self.ends_on is None or day <= self.ends_on)

    def to_domain(self) -> PolicyRule:
        return PolicyRule(
            id=self.id, insurer_id=self.insurer_id, package_id=self.package_id, year=self.year, label=self.label,
            categories=frozenset(Category(c) for c in self.categories or ()),
            cap=from_cents(self.cap_cents) if self.cap_cents is not None else None,
            cap_period=CapPeriod(self.cap_period), cap_group=self.cap_group,
            percentage=Decimal(self.percentage), max_sessions=self.max_sessions,
            waiting_months=self.waiting_months or 0, referral_required=self.referral_required,
            kp_level_required=KpLevel(self.kp_level_required) if self.kp_level_required else None,
            body_areas=frozenset(BodyArea(a) for a in self.body_areas or ()),
            technique_required=self.technique_required,
        )
