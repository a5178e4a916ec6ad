"""Patients with their (encrypted) BSN and insurances, intakes and referrals."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .. import crypto
from ..domain import intake as intake_rules
from ..domain import referrals as referral_rules
from ..domain.indications import BodyArea, Indication
from ..domain.referrals import ReferrerType
from ..domain.texts import N_
from ..domain.validators import mask_bsn
from .base import Model, UtcDateTime, one_of, utcnow
from .insurers import Insurer, Package
from .users import User

# code -> English label (a message id: shown translated, e.g. `gettext(ID_DOCUMENT_TYPES[code])`)
ID_DOCUMENT_TYPES = {
    "passport": N_("Passport"),
    "id_card": N_("Identity card"),
    "driving_licence": N_("Driving licence"),
    "residence_permit": N_("Residence permit"),
}


class Patient(Model):
    __tablename__ = "patients"
    __table_args__ = (
        CheckConstraint(one_of("id_document_type", ID_DOCUMENT_TYPES) + " OR id_document_type IS NULL",
                        name="id_document_type_known"),
        Index("ix_patients_last_name_first_name", "last_name", "first_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(100))
    infix: Mapped[str] = mapped_column(String(20), default="")  # tussenvoegsel: van, de, van der
    last_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date]
    street: Mapped[str] = mapped_column(String(200), default="")
    postcode: Mapped[str] = mapped_column(String(7), default="", index=True)
    city: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    bsn_encrypted: Mapped[str | None] = mapped_column(Text)
    bsn_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    bsn_last3: Mapped[str | None] = mapped_column(String(3))
    id_document_type: Mapped[str | None] = mapped_column(String(20))
    id_document_number: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    insurances: Mapped[list[Insurance]] = relationship(
        back_populates="patient", order_by="Insurance.valid_from.desc()", cascade="all, delete-orphan"
    )
    intakes: Mapped[list[Intake]] = relationship(back_populates="patient", order_by="Intake.intake_date.desc()")
    referrals: Mapped[list[Referral]] = relationship(
        back_populates="patient", order_by="Referral.referral_date.desc()"
    )

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.infix, self.last_name) if part)

    @property
    def sort_name(self) -> str:
        return f"{self.last_name}, {self.first_name}" + (f" {self.infix}" if self.infix else "")

    def set_bsn(self, bsn: str | None) -> None:
        if not bsn:
            self.bsn_encrypted = self.bsn_index = self.bsn_last3 = None
            return
        self.bsn_encrypted = crypto.encrypt(bsn)
        self.bsn_index = crypto.blind_index(bsn)
        self.bsn_last3 = bsn[-3:]

    def get_bsn(self) -> str | None:
        """The full BSN: only for its edit form and for documents the law requires it on."""
        return crypto.decrypt(self.bsn_encrypted) if self.bsn_encrypted else None

    @property
    def bsn_masked(self) -> str:
        return mask_bsn(("000000" + self.bsn_last3) if self.bsn_last3 else None)

    def age_on(self, day: date) -> int:
        dob = self.date_of_birth
        return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))

    @property
    def active_insurances(self) -> list[Insurance]:
        """The insurances not withdrawn: the only ones assessments, invoices and claims use."""
        return [insurance for insurance in self.insurances if not insurance.withdrawn]

    @property
    def active_referrals(self) -> list[Referral]:
        """The referrals not withdrawn: the only ones a new treatment can use."""
        return [referral for referral in self.referrals if not referral.withdrawn]

    def insurance_on(self, day: date) -> Insurance | None:
        for insurance in self.active_insurances:
            if insurance.valid_from <= day and (insurance.valid_until is None or day <= insurance.valid_until):
                return insurance
        return None


class Insurance(Model):
    __tablename__ = "insurances"
    __table_args__ = (
        CheckConstraint("valid_until IS NULL OR valid_until >= valid_from", name="period_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    insurer_id: Mapped[int] = mapped_column(ForeignKey("insurers.id"), index=True)
    package_id: Mapped[int | None] = mapped_column(ForeignKey("packages.id"))
    policy_number: Mapped[str] = mapped_column(String(40))
    valid_from: Mapped[date]
    valid_until: Mapped[date | None]
    # Withdrawn (entered in error, never valid): kept for the history that refers to it, never used again.
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    withdrawn_reason: Mapped[str | None] = mapped_column(Text)

    patient: Mapped[Patient] = relationship(back_populates="insurances")
    insurer: Mapped[Insurer] = relationship()
    package: Mapped[Package | None] = relationship()
    withdrawn_by: Mapped[User | None] = relationship()

    @property
    def withdrawn(self) -> bool:
        return self.withdrawn_at is not None


class Intake(Model):
    """A dated intake with the clinic's contraindication list and the patient's consent."""

    __tablename__ = "intakes"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    intake_date: Mapped[date]
    # [{"kind": "tattoos", "areas": ["face"], "ended_on": null}, ...]
    contraindications: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # [{"medication": "antibiotics", "stopped_on": "2026-11-01"}, ...]
    medications: Mapped[list[Any]] = mapped_column(JSON, default=list)
    consent_given: Mapped[bool] = mapped_column(default=False)
    consent_by: Mapped[str] = mapped_column(String(200), default="")
    consent_on: Mapped[date | None]
    notes: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    patient: Mapped[Patient] = relationship(back_populates="intakes")
    recorded_by: Mapped[User | None] = relationship()

    def to_domain(self) -> intake_rules.Intake:
        return intake_rules.Intake(
            intake_date=self.intake_date,
            contraindications=tuple(
                intake_rules.ContraindicationEntry(
                    kind=intake_rules.Contraindication(entry["kind"]),
                    areas=frozenset(BodyArea(a) for a in entry.get("areas") or ()),
                    ended_on=date.fromisoformat(entry["ended_on"]) if entry.get("ended_on") else None,
                )
                for entry in self.contraindications or ()
            ),
            medications=tuple(
                intake_rules.MedicationUse(
                    medication=intake_rules.Medication(entry["medication"]),
                    stopped_on=date.fromisoformat(entry["stopped_on"]) if entry.get("stopped_on") else None,
                )
                for entry in self.medications or ()
            ),
            consent_given=self.consent_given,
            consent_by=self.consent_by,
            consent_on=self.consent_on,
        )


class Referral(Model):
    __tablename__ = "referrals"
    __table_args__ = (
        CheckConstraint(one_of("referrer_type", ReferrerType), name="referrer_type_known"),
        CheckConstraint("valid_until >= referral_date", name="period_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    referrer_type: Mapped[str] = mapped_column(String(30))
    referrer_name: Mapped[str] = mapped_column(String(200))
    referrer_agb: Mapped[str] = mapped_column(String(8), default="")
    referral_date: Mapped[date]
    diagnosis: Mapped[str] = mapped_column(Text, default="")
    valid_until: Mapped[date]
    # What the referrer refers for (a rule may demand it matches the treatment's); None: not recorded.
    indication: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Withdrawn (entered in error, no longer valid): kept for the treatments that used it, never used again.
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    withdrawn_reason: Mapped[str | None] = mapped_column(Text)

    patient: Mapped[Patient] = relationship(back_populates="referrals")
    withdrawn_by: Mapped[User | None] = relationship()

    @property
    def withdrawn(self) -> bool:
        return self.withdrawn_at is not None

    def to_domain(self) -> referral_rules.Referral:
        return referral_rules.Referral(
            referrer_type=ReferrerType(self.referrer_type), referrer_name=self.referrer_name,
            referrer_agb=self.referrer_agb, referral_date=self.referral_date, diagnosis=self.diagnosis,
            valid_until=self.valid_until, indication=Indication(self.indication) if self.indication else None,
        )
