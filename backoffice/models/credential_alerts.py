"""Which stage of a credential's expiry the managers were e-mailed about (`flask credentials check --mail`)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..domain.credential_alerts import AlertStage
from .base import Model, UtcDateTime, one_of, utcnow

CREDENTIAL_KINDS = ("NVH", "KP")  # as backoffice.credentials.services names them


class CredentialAlert(Model):
    """One stage (90, 30 or 7 days before the end, or lapsed) mailed for one NVH membership or KP registration.

    Stored only once the message went out, so a failed sending is tried again on the next run. `ends_on` is the end
    date the stage was mailed for: when the end date changes, the stage is due again (domain.credential_alerts)
    and this row is updated. `credential_id` points at nvh_memberships or kp_registrations by `kind` (no foreign
    key for that reason)."""

    __tablename__ = "credential_alerts"
    __table_args__ = (
        UniqueConstraint("kind", "credential_id", "stage", name="uq_credential_alerts_kind_credential_id_stage"),
        CheckConstraint(one_of("kind", CREDENTIAL_KINDS), name="kind_known"),
        CheckConstraint(one_of("stage", AlertStage), name="stage_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(3))
    credential_id: Mapped[int]
    therapist_id: Mapped[int] = mapped_column(ForeignKey("therapists.id"))
    stage: Mapped[str] = mapped_column(String(10))
    ends_on: Mapped[date]
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_to: Mapped[str] = mapped_column(Text, default="")  # the addresses, comma-separated
    message_id: Mapped[str] = mapped_column(String(255), default="")
