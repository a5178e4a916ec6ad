"""The care relationship beside treating a patient: a therapist assigned to a patient (backoffice/care/)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Model, UtcDateTime, utcnow
from .patients import Patient
from .therapists import Therapist
from .users import User


class CareAssignment(Model):
    """A therapist who takes care of a patient: may open the record when the practice limits therapists to their
    own patients, even before treating them."""

    __tablename__ = "care_assignments"
    __table_args__ = (
        UniqueConstraint("patient_id", "therapist_id", name="uq_care_assignments_patient_id_therapist_id"),
        # A therapist's own patients (the patient list), read from the index alone.
        Index("ix_care_assignments_therapist_id_patient_id", "therapist_id", "patient_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    therapist_id: Mapped[int] = mapped_column(ForeignKey("therapists.id"))
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    patient: Mapped[Patient] = relationship()
    therapist: Mapped[Therapist] = relationship()
    assigned_by: Mapped[User | None] = relationship()
