"""Insurers, the supplementary packages they sell, and their coverage conditions per year (data, not code)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Numeric, String, Text, UniqueConstraint, inspect
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain.coverage import CapPeriod, PackageKind, PolicyRule, ReferrerKind, SessionPeriod
from ..domain.credentials import KpLevel
from ..domain.dutch import decimal_nl
from ..domain.indications import BodyArea, Category, Technique
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
    """A policy an insurer sells: a supplementary package (aanvullende verzekering), or its basic insurance
    (basisverzekering), which everyone insured with the insurer has (rules for it apply to all its patients)."""

    __tablename__ = "packages"
    __table_args__ = (
        UniqueConstraint("insurer_id", "name", name="uq_packages_insurer_id_name"),
        CheckConstraint(one_of("kind", PackageKind), name="kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    insurer_id: Mapped[int] = mapped_column(ForeignKey("insurers.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default=PackageKind.SUPPLEMENTARY.value,
                                      server_default=PackageKind.SUPPLEMENTARY.value)
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
        CheckConstraint(one_of("session_period", SessionPeriod) + " OR session_period IS NULL",
                        name="session_period_known"),
        CheckConstraint(one_of("referrer_kind", ReferrerKind), name="referrer_kind_known"),
        CheckConstraint("max_per_treatment_cents IS NULL OR max_per_treatment_cents >= 0",
                        name="max_per_treatment_not_negative"),
        CheckConstraint("from_treatment_number IS NULL OR from_treatment_number >= 1",
                        name="from_treatment_number_positive"),
        CheckConstraint("min_age IS NULL OR max_age IS NULL OR min_age <= max_age", name="ages_ordered"),
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
    percentage: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("100"))  # 82.50
    max_sessions: Mapped[int | None]
    waiting_months: Mapped[int] = mapped_column(default=0)
    referral_required: Mapped[bool] = mapped_column(default=False)
    kp_level_required: Mapped[str | None] = mapped_column(String(20))
    body_areas: Mapped[list[Any]] = mapped_column(JSON, default=list)
    technique_required: Mapped[bool] = mapped_column(default=False)
    # Stacked rules and more rule data (see domain.coverage.PolicyRule).
    priority: Mapped[int] = mapped_column(default=0, server_default="0")
    applies_after_rule_id: Mapped[int | None] = mapped_column(ForeignKey("coverage_rules.id"))
    from_treatment_number: Mapped[int | None]
    authorisation_required: Mapped[bool] = mapped_column(default=False, server_default="0")
    max_per_treatment_cents: Mapped[int | None]
    session_period: Mapped[str | None] = mapped_column(String(20))
    min_age: Mapped[int | None]
    max_age: Mapped[int | None]
    referrer_kind: Mapped[str] = mapped_column(String(20), default=ReferrerKind.ANY.value,
                                               server_default=ReferrerKind.ANY.value)
    referral_valid_months: Mapped[int | None]
    referral_indication_must_match: Mapped[bool] = mapped_column(default=False, server_default="0")
    nvh_required: Mapped[bool] = mapped_column(default=True, server_default="1")
    techniques: Mapped[list[Any]] = mapped_column(JSON, default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    ends_on: Mapped[date | None]
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    withdrawn_reason: Mapped[str] = mapped_column(Text, default="")

    insurer: Mapped[Insurer] = relationship()
    package: Mapped[Package | None] = relationship()
    withdrawn_by: Mapped[User | None] = relationship()
    applies_after: Mapped[CoverageRule | None] = relationship(remote_side=[id])

    @property
    def withdrawn(self) -> bool:
        return self.withdrawn_at is not None

    @property
    def percentage_text(self) -> str:
        """82,5 / 100: the percentage the Dutch way."""
        return decimal_nl(plain_percentage(self.percentage))

    def applies_on(self, day: date) -> bool:
        """Whether new assessments of a treatment on `day` may use this rule (its year is checked by the query)."""
        return not self.withdrawn and (self.ends_on is None or day <= self.ends_on)

    def to_domain(self, package_kind: str | None = None) -> PolicyRule:
        """The rule for the assessment; `package_kind`: its package's kind when the caller selected it with the
        rule (rules_for), else it is read from the package."""
        return PolicyRule(
            id=self.id, insurer_id=self.insurer_id, package_id=self.package_id, year=self.year, label=self.label,
            categories=frozenset(Category(c) for c in self.categories or ()),
            cap=from_cents(self.cap_cents) if self.cap_cents is not None else None,
            cap_period=CapPeriod(self.cap_period), cap_group=self.cap_group,
            percentage=plain_percentage(self.percentage), max_sessions=self.max_sessions,
            waiting_months=self.waiting_months or 0, referral_required=self.referral_required,
            kp_level_required=KpLevel(self.kp_level_required) if self.kp_level_required else None,
            body_areas=frozenset(BodyArea(a) for a in self.body_areas or ()),
            technique_required=self.technique_required,
            priority=self.priority or 0, applies_after_rule_id=self.applies_after_rule_id,
            from_treatment_number=self.from_treatment_number,
            authorisation_required=bool(self.authorisation_required),
            max_per_treatment=(from_cents(self.max_per_treatment_cents)
                               if self.max_per_treatment_cents is not None else None),
            session_period=SessionPeriod(self.session_period) if self.session_period else None,
            min_age=self.min_age, max_age=self.max_age,
            referrer_kind=ReferrerKind(self.referrer_kind or ReferrerKind.ANY.value),
            referral_valid_months=self.referral_valid_months,
            referral_indication_must_match=bool(self.referral_indication_must_match),
            nvh_required=True if self.nvh_required is None else bool(self.nvh_required),
            techniques=frozenset(Technique(t) for t in self.techniques or ()),
            package_kind=PackageKind(package_kind) if package_kind else self._package_kind(),
        )

    def _package_kind(self) -> PackageKind | None:
        if self.package_id is None:
            return None
        state = inspect(self)
        if "package" in state.unloaded and state.session is None:
            return None  # detached without its package loaded: rules_for always loads it
        return PackageKind(self.package.kind) if self.package is not None else None


def plain_percentage(value: Decimal | int | None) -> Decimal:
    """80.00 -> 80, 82.50 -> 82.5: the percentage as rules said it before it had decimals (stored assessments
    compare equal)."""
    number = Decimal(100 if value is None else value)
    return number.quantize(Decimal(1)) if number == number.to_integral_value() else number.normalize()
