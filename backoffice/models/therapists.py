"""Therapists and their credentials on a date: NVH membership and Kwaliteitsregister Paramedici registration."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain import credentials as cred
from ..domain import eligibility
from .base import Model, UtcDateTime, one_of
from .users import User


class Therapist(Model):
    __tablename__ = "therapists"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    agb_code: Mapped[str] = mapped_column(String(8), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(default=True)

    user: Mapped[User | None] = relationship(back_populates="therapist")
    nvh_memberships: Mapped[list[NvhMembership]] = relationship(
        back_populates="therapist", order_by="NvhMembership.valid_from.desc()", cascade="all, delete-orphan"
    )
    kp_registrations: Mapped[list[KpRegistration]] = relationship(
        back_populates="therapist", order_by="KpRegistration.period_start.desc()", cascade="all, delete-orphan"
    )

    def credential_history(self) -> tuple[list[cred.NvhMembership], list[cred.KpRegistration]]:
        return (
            [m.to_domain() for m in self.nvh_memberships],
            [r.to_domain() for r in self.kp_registrations],
        )

    def credentials_on(self, day: date) -> cred.CredentialCheck:
        return cred.check_on(day, *self.credential_history())

    def eligibility_on(self, day: date, level: cred.KpLevel | str | None = None) -> eligibility.Eligibility:
        """May this therapist's treatment on `day` be claimed from an insurer requiring `level` (None: the
        kwaliteitsregister), with what was in order and what is missing and since when: the claim check's words."""
        return eligibility.eligibility_on(day, *self.credential_history(), level=level)

    def badge(self, today: date, warn_days: int = 90) -> cred.BadgeStatus:
        return cred.badge_on(today, *self.credential_history(), warn_days=warn_days)


class NvhMembership(Model):
    __tablename__ = "nvh_memberships"
    __table_args__ = (
        CheckConstraint("valid_until IS NULL OR valid_until >= valid_from", name="period_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    therapist_id: Mapped[int] = mapped_column(ForeignKey("therapists.id"), index=True)
    member_number: Mapped[str] = mapped_column(String(40))
    valid_from: Mapped[date]
    valid_until: Mapped[date | None]

    therapist: Mapped[Therapist] = relationship(back_populates="nvh_memberships")

    def to_domain(self) -> cred.NvhMembership:
        return cred.NvhMembership(self.member_number, self.valid_from, self.valid_until)


class KpRegistration(Model):
    __tablename__ = "kp_registrations"
    __table_args__ = (
        CheckConstraint(one_of("level", cred.KpLevel), name="level_known"),
        CheckConstraint("period_end >= period_start", name="period_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    therapist_id: Mapped[int] = mapped_column(ForeignKey("therapists.id"), index=True)
    kp_number: Mapped[str] = mapped_column(String(40))
    level: Mapped[str] = mapped_column(String(20))
    period_start: Mapped[date]
    period_end: Mapped[date]
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    evidence: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    evidence_filename: Mapped[str | None] = mapped_column(String(200))
    evidence_mimetype: Mapped[str | None] = mapped_column(String(100))

    therapist: Mapped[Therapist] = relationship(back_populates="kp_registrations")
    verified_by: Mapped[User | None] = relationship()

    def to_domain(self) -> cred.KpRegistration:
        return cred.KpRegistration(self.kp_number, cred.KpLevel(self.level), self.period_start, self.period_end)
