"""The catalogue of treatments offered, and treatments as performed with their stored assessment."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain import prestatiecodes
from ..domain.coverage import Assessment
from ..domain.indications import BodyArea
from ..domain.money import from_cents
from .base import Model, UtcDateTime, one_of, utcnow
from .insurers import CoverageRule, Insurer
from .patients import Patient, Referral
from .therapists import Therapist
from .users import User


class CatalogueItem(Model):
    """A treatment the clinic offers, with its VAT-inclusive consumer price."""

    __tablename__ = "catalogue_items"
    __table_args__ = (
        # technique: a code of the techniques table (models/clinical.py), kept valid by the catalogue form.
        CheckConstraint("price_cents >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    technique: Mapped[str | None] = mapped_column(String(30))
    # The Vektis code list (3 digits, "075" for skin therapy) and the code as the list gives it; required on an
    # item that can be reimbursable (domain/prestatiecodes.py; the shape only: the lists are not in the repo).
    prestatiecode_list: Mapped[str] = mapped_column(String(3), default="")
    prestatiecode: Mapped[str] = mapped_column(String(10), default="")
    price_cents: Mapped[int]
    duration_minutes: Mapped[int] = mapped_column(default=30)
    active: Mapped[bool] = mapped_column(default=True)

    @property
    def prestatiecode_missing(self) -> bool:
        """Whether this item could be claimed from an insurer but lacks its code list or prestatiecode."""
        return bool(prestatiecodes.missing(self.technique, self.prestatiecode_list, self.prestatiecode))


class Treatment(Model):
    """A treatment as performed, with the assessment that was shown for it (stored, never silently redone)."""

    __tablename__ = "treatments"
    __table_args__ = (
        # indication: a code of the indications table (models/clinical.py), kept valid by the treatment form.
        CheckConstraint(one_of("body_area", BodyArea), name="body_area_known"),
        CheckConstraint("fitzpatrick IS NULL OR (fitzpatrick >= 1 AND fitzpatrick <= 6)", name="fitzpatrick_range"),
        CheckConstraint("price_cents >= 0", name="price_not_negative"),
        Index("ix_treatments_patient_id_treatment_date", "patient_id", "treatment_date"),
        Index("ix_treatments_treatment_date_id", "treatment_date", "id"),
        Index("ix_treatments_patient_id_cap_group", "patient_id", "cap_group"),
        # Covers the monthly report's treatment counts (grouped by day in this order) and patients treated; a
        # withdrawn treatment is not counted (withdrawn_at, last, keeps the index covering).
        Index("ix_treatments_report", "treatment_date", "therapist_id", "medical", "catalogue_item_id", "indication",
              "patient_id", "withdrawn_at"),
        # The care relationship (backoffice/care/): the patients a therapist treated, read from the index alone.
        Index("ix_treatments_therapist_id_patient_id", "therapist_id", "patient_id", "withdrawn_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    therapist_id: Mapped[int] = mapped_column(ForeignKey("therapists.id"), index=True)
    treatment_date: Mapped[date]
    catalogue_item_id: Mapped[int] = mapped_column(ForeignKey("catalogue_items.id"))
    indication: Mapped[str] = mapped_column(String(30))
    body_area: Mapped[str] = mapped_column(String(20))
    session_number: Mapped[int] = mapped_column(default=1)
    series_total: Mapped[int | None]
    device: Mapped[str] = mapped_column(String(100), default="")
    wavelength_nm: Mapped[int | None]
    fluence_j_cm2: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    pulse_width_ms: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    spot_size_mm: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    passes: Mapped[int | None]
    fitzpatrick: Mapped[int | None]
    notes: Mapped[str] = mapped_column(Text, default="")
    price_cents: Mapped[int]
    price_change_reason: Mapped[str] = mapped_column(String(200), default="")
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    # The stored assessment: key figures as columns (filters, cap usage), the whole answer as JSON.
    medical: Mapped[bool] = mapped_column(default=False)
    vat_rate: Mapped[int] = mapped_column(default=0)
    net_cents: Mapped[int] = mapped_column(default=0)
    vat_cents: Mapped[int] = mapped_column(default=0)
    reimbursable: Mapped[bool] = mapped_column(default=False)
    insurer_id: Mapped[int | None] = mapped_column(ForeignKey("insurers.id"), index=True)
    coverage_rule_id: Mapped[int | None] = mapped_column(ForeignKey("coverage_rules.id"))
    cap_group: Mapped[str | None] = mapped_column(String(100))
    insurer_amount_cents: Mapped[int] = mapped_column(default=0)
    patient_amount_cents: Mapped[int] = mapped_column(default=0)
    assessment: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    assessed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Withdrawn (recorded in error, never performed): kept with its history, takes nothing from a cap, is never
    # invoiced. The withdrawal is also a TreatmentCorrection, which keeps the assessment it had.
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    withdrawn_reason: Mapped[str | None] = mapped_column(Text)

    patient: Mapped[Patient] = relationship()
    therapist: Mapped[Therapist] = relationship()
    catalogue_item: Mapped[CatalogueItem] = relationship()
    referral: Mapped[Referral | None] = relationship()
    insurer: Mapped[Insurer | None] = relationship()
    coverage_rule: Mapped[CoverageRule | None] = relationship()
    corrections: Mapped[list[TreatmentCorrection]] = relationship(
        back_populates="treatment", order_by="TreatmentCorrection.id.desc()", cascade="all, delete-orphan",
    )

    @property
    def price(self) -> Decimal:
        return from_cents(self.price_cents)

    @property
    def withdrawn(self) -> bool:
        return self.withdrawn_at is not None

    def stored_assessment(self) -> Assessment:
        return Assessment.from_dict(self.assessment)


class TreatmentCorrection(Model):
    """One correction of a recorded treatment: the values it had before (never lost), who changed it, when, why.

    A treatment is corrected only while it is on no invoice; an invoiced one is corrected by a credit note."""

    __tablename__ = "treatment_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    treatment_id: Mapped[int] = mapped_column(ForeignKey("treatments.id"), index=True)
    corrected_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    corrected_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(500))
    # The treatment's fields before the correction (JSON-safe: dates ISO, decimals as strings, price in cents),
    # the names of the fields the correction changed, and the assessment stored before it.
    previous: Mapped[dict[str, Any]] = mapped_column(JSON)
    changed_fields: Mapped[list[str]] = mapped_column(JSON)
    previous_assessment: Mapped[dict[str, Any]] = mapped_column(JSON)

    treatment: Mapped[Treatment] = relationship(back_populates="corrections")
    corrected_by: Mapped[User | None] = relationship()
