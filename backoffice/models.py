"""The database model. Money is stored as integer cents; dates as dates; enums as checked strings."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from . import crypto
from .domain import credentials as cred
from .domain import intake as intake_rules
from .domain import referrals as referral_rules
from .domain.coverage import Assessment, CapPeriod, PolicyRule
from .domain.credentials import KpLevel
from .domain.indications import BodyArea, Category, Indication, Technique
from .domain.money import from_cents
from .domain.referrals import ReferrerType
from .domain.roles import Role, allows
from .domain.validators import mask_bsn
from .extensions import db


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(db.TypeDecorator):
    """Timezone-aware UTC datetimes on every database (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


class Practice(db.Model):
    __tablename__ = "practices"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    street: Mapped[str] = mapped_column(String(200), default="")
    postcode: Mapped[str] = mapped_column(String(7), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    kvk_number: Mapped[str] = mapped_column(String(8), default="")
    vat_id: Mapped[str] = mapped_column(String(14), default="")
    agb_code: Mapped[str] = mapped_column(String(8), default="")
    iban: Mapped[str] = mapped_column(String(42), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    website: Mapped[str] = mapped_column(String(200), default="")
    logo: Mapped[bytes | None] = mapped_column(LargeBinary)
    logo_mimetype: Mapped[str | None] = mapped_column(String(50))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", Role), name="role_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(default=True)
    # Bumped on logout, password change and deactivation: every session cookie holding the old
    # number stops working, even one replayed from a copy.
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    therapist: Mapped[Therapist | None] = relationship(back_populates="user")

    def set_password(self, password: str) -> None:
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt") if current_app else "scrypt"
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def end_sessions(self) -> None:
        self.session_version = (self.session_version or 0) + 1

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return bool(self.active)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    def can(self, permission: str) -> bool:
        return allows(self.role, permission)


class Therapist(db.Model):
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

    def badge(self, today: date, warn_days: int = 90) -> cred.BadgeStatus:
        return cred.badge_on(today, *self.credential_history(), warn_days=warn_days)


class NvhMembership(db.Model):
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


class KpRegistration(db.Model):
    __tablename__ = "kp_registrations"
    __table_args__ = (
        CheckConstraint(_in("level", cred.KpLevel), name="level_known"),
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


class Insurer(db.Model):
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


class Package(db.Model):
    """A supplementary policy (aanvullende verzekering) an insurer sells."""

    __tablename__ = "packages"
    __table_args__ = (UniqueConstraint("insurer_id", "name", name="uq_packages_insurer_id_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    insurer_id: Mapped[int] = mapped_column(ForeignKey("insurers.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(default=True)

    insurer: Mapped[Insurer] = relationship(back_populates="packages")


ID_DOCUMENT_TYPES = {
    "passport": "Passport",
    "id_card": "Identity card",
    "driving_licence": "Driving licence",
    "residence_permit": "Residence permit",
}


class Patient(db.Model):
    __tablename__ = "patients"
    __table_args__ = (
        CheckConstraint(_in("id_document_type", ID_DOCUMENT_TYPES) + " OR id_document_type IS NULL",
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

    def insurance_on(self, day: date) -> Insurance | None:
        for insurance in self.insurances:
            if insurance.valid_from <= day and (insurance.valid_until is None or day <= insurance.valid_until):
                return insurance
        return None


class Insurance(db.Model):
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

    patient: Mapped[Patient] = relationship(back_populates="insurances")
    insurer: Mapped[Insurer] = relationship()
    package: Mapped[Package | None] = relationship()


ACCESS_ACTIONS = ("view", "create", "update", "delete", "print", "export", "search")


class AccessLog(db.Model):
    """NEN 7513: who did what to which patient's record, when, for whom and from where. Append-only."""

    __tablename__ = "access_log"
    __table_args__ = (
        CheckConstraint(_in("action", ACCESS_ACTIONS), name="action_known"),
        Index("ix_access_log_patient_id_at", "patient_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # Copied so the entry keeps saying who it was even if the account is renamed later.
    user_email: Mapped[str] = mapped_column(String(200))
    user_role: Mapped[str] = mapped_column(String(20))
    on_behalf_of: Mapped[str] = mapped_column(String(200), default="")
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    action: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(200))  # what was touched: "patient", "insurance 12", ...
    detail: Mapped[str] = mapped_column(Text, default="")
    ip_address: Mapped[str] = mapped_column(String(45), default="")

    user: Mapped[User | None] = relationship()
    patient: Mapped[Patient | None] = relationship()


class AppendOnlyError(RuntimeError):
    pass


@event.listens_for(AccessLog, "before_update")
@event.listens_for(AccessLog, "before_delete")
def _refuse_access_log_change(mapper, connection, target):
    raise AppendOnlyError("The access log is append-only: entries cannot be changed or deleted.")


class LoginAttempt(db.Model):
    """Failed sign-ins, counted per e-mail address and per client address to slow down guessing."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(200), index=True)
    ip_address: Mapped[str] = mapped_column(String(45), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


# Database-level guard for the access log, besides the ORM guard above: raw SQL cannot change it either.
_SQLITE_GUARDS = [
    "CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log "
    "BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END",
    "CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log "
    "BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END",
]
_POSTGRES_GUARDS = [
    "CREATE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'access_log is append-only'; END $$",
    "CREATE TRIGGER access_log_no_change BEFORE UPDATE OR DELETE ON access_log "
    "FOR EACH ROW EXECUTE FUNCTION access_log_append_only()",
]


def access_log_guard_statements(dialect: str) -> list[str]:
    return {"sqlite": _SQLITE_GUARDS, "postgresql": _POSTGRES_GUARDS}.get(dialect, [])


@event.listens_for(AccessLog.__table__, "after_create")
def _create_access_log_guards(table, connection, **kw):
    for statement in access_log_guard_statements(connection.dialect.name):
        connection.exec_driver_sql(statement)


# ---- Issue 3: intake, referrals, catalogue, insurer rules, treatments ------------------------------------

class Intake(db.Model):
    """A dated intake with the clinic's contraindication list and the patient's consent."""

    __tablename__ = "intakes"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    intake_date: Mapped[date]
    # [{"kind": "tattoos", "areas": ["face"], "ended_on": null}, ...]
    contraindications: Mapped[list] = mapped_column(JSON, default=list)
    # [{"medication": "antibiotics", "stopped_on": "2026-11-01"}, ...]
    medications: Mapped[list] = mapped_column(JSON, default=list)
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


class Referral(db.Model):
    __tablename__ = "referrals"
    __table_args__ = (
        CheckConstraint(_in("referrer_type", ReferrerType), name="referrer_type_known"),
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
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    patient: Mapped[Patient] = relationship(back_populates="referrals")

    def to_domain(self) -> referral_rules.Referral:
        return referral_rules.Referral(
            referrer_type=ReferrerType(self.referrer_type), referrer_name=self.referrer_name,
            referrer_agb=self.referrer_agb, referral_date=self.referral_date, diagnosis=self.diagnosis,
            valid_until=self.valid_until,
        )


class CatalogueItem(db.Model):
    """A treatment the clinic offers, with its VAT-inclusive consumer price."""

    __tablename__ = "catalogue_items"
    __table_args__ = (
        CheckConstraint(_in("technique", Technique) + " OR technique IS NULL", name="technique_known"),
        CheckConstraint("price_cents >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    technique: Mapped[str | None] = mapped_column(String(30))
    prestatiecode: Mapped[str] = mapped_column(String(10), default="")  # Vektis list 075, optional
    price_cents: Mapped[int]
    duration_minutes: Mapped[int] = mapped_column(default=30)
    active: Mapped[bool] = mapped_column(default=True)


class CoverageRule(db.Model):
    """One line of an insurer's conditions, per package (or every package) and calendar year. Data, not code."""

    __tablename__ = "coverage_rules"
    __table_args__ = (
        CheckConstraint(_in("cap_period", CapPeriod), name="cap_period_known"),
        CheckConstraint("percentage > 0 AND percentage <= 100", name="percentage_range"),
        CheckConstraint("cap_cents IS NULL OR cap_cents >= 0", name="cap_not_negative"),
        CheckConstraint(_in("kp_level_required", KpLevel) + " OR kp_level_required IS NULL",
                        name="kp_level_known"),
        Index("ix_coverage_rules_insurer_id_year", "insurer_id", "year"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    insurer_id: Mapped[int] = mapped_column(ForeignKey("insurers.id"))
    package_id: Mapped[int | None] = mapped_column(ForeignKey("packages.id"))
    year: Mapped[int]
    label: Mapped[str] = mapped_column(String(200))
    categories: Mapped[list] = mapped_column(JSON, default=list)
    cap_cents: Mapped[int | None]
    cap_period: Mapped[str] = mapped_column(String(10), default=CapPeriod.YEAR.value)
    cap_group: Mapped[str] = mapped_column(String(100), default="")
    percentage: Mapped[int] = mapped_column(default=100)
    max_sessions: Mapped[int | None]
    waiting_months: Mapped[int] = mapped_column(default=0)
    referral_required: Mapped[bool] = mapped_column(default=False)
    kp_level_required: Mapped[str | None] = mapped_column(String(20))
    body_areas: Mapped[list] = mapped_column(JSON, default=list)
    technique_required: Mapped[bool] = mapped_column(default=False)
    notes: Mapped[str] = mapped_column(Text, default="")

    insurer: Mapped[Insurer] = relationship()
    package: Mapped[Package | None] = relationship()

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


class Treatment(db.Model):
    """A treatment as performed, with the assessment that was shown for it (stored, never silently redone)."""

    __tablename__ = "treatments"
    __table_args__ = (
        CheckConstraint(_in("indication", Indication), name="indication_known"),
        CheckConstraint(_in("body_area", BodyArea), name="body_area_known"),
        CheckConstraint("fitzpatrick IS NULL OR (fitzpatrick >= 1 AND fitzpatrick <= 6)", name="fitzpatrick_range"),
        CheckConstraint("price_cents >= 0", name="price_not_negative"),
        Index("ix_treatments_patient_id_treatment_date", "patient_id", "treatment_date"),
        Index("ix_treatments_treatment_date_id", "treatment_date", "id"),
        Index("ix_treatments_patient_id_cap_group", "patient_id", "cap_group"),
        # Covers the monthly report's treatment counts (grouped by day in this order) and patients treated.
        Index("ix_treatments_report", "treatment_date", "therapist_id", "medical", "catalogue_item_id", "indication",
              "patient_id"),
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
    assessment: Mapped[dict] = mapped_column(JSON, default=dict)
    assessed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    patient: Mapped[Patient] = relationship()
    therapist: Mapped[Therapist] = relationship()
    catalogue_item: Mapped[CatalogueItem] = relationship()
    referral: Mapped[Referral | None] = relationship()
    insurer: Mapped[Insurer | None] = relationship()
    coverage_rule: Mapped[CoverageRule | None] = relationship()

    @property
    def price(self) -> Decimal:
        return from_cents(self.price_cents)

    def stored_assessment(self) -> Assessment:
        return Assessment.from_dict(self.assessment)


# ---- Issue 4: invoices, credit notes, number series, payments ----------------------------------------------
# An issued invoice, its lines and every credit note never change: ORM guards below plus database triggers
# (installed by after_create here and by migration 0003). Payment status is derived, never stored.

INVOICE_STATUSES = ("draft", "issued")
PAYMENT_METHODS = {
    "bank_transfer": "Bank transfer",
    "pin": "Debit card (pin)",
    "cash": "Cash",
    "ideal": "iDEAL",
    "credit_card": "Credit card",
    "other": "Other",
}


class NumberSeries(db.Model):
    """One consecutive number series ("invoice-2026", "credit-2026"): the row is locked while a number is taken.

    A database sequence would leave a gap on every rollback; this counter rolls back with the transaction.
    """

    __tablename__ = "number_series"
    __table_args__ = (CheckConstraint("next_value >= 1", name="next_value_positive"),)

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    next_value: Mapped[int] = mapped_column(default=1)


class Invoice(db.Model):
    __tablename__ = "invoices"
    __table_args__ = (
        CheckConstraint(_in("status", INVOICE_STATUSES), name="status_known"),
        CheckConstraint(
            "(status = 'draft' AND number IS NULL) OR (status = 'issued' AND number IS NOT NULL "
            "AND issue_date IS NOT NULL AND due_date IS NOT NULL AND pdf_sha256 IS NOT NULL)",
            name="issued_complete",
        ),
        UniqueConstraint("series_year", "sequence", name="uq_invoices_series_year_sequence"),
        Index("ix_invoices_status_due_date", "status", "due_date"),
        # Covers the report's issued invoices of a period and their ages.
        Index("ix_invoices_report", "status", "issue_date", "due_date", "total_gross_cents"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="draft")
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    series_year: Mapped[int | None]
    sequence: Mapped[int | None]
    issue_date: Mapped[date | None] = mapped_column(index=True)
    due_date: Mapped[date | None]
    total_gross_cents: Mapped[int] = mapped_column(default=0)
    total_net_cents: Mapped[int] = mapped_column(default=0)
    total_vat_cents: Mapped[int] = mapped_column(default=0)
    # The InvoiceDocument as printed (JSON), so the figures can be read without parsing the PDF.
    snapshot: Mapped[dict | None] = mapped_column(JSON)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    issued_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    patient: Mapped[Patient] = relationship()
    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", order_by="InvoiceLine.id", cascade="all, delete-orphan"
    )
    credit_notes: Mapped[list[CreditNote]] = relationship(back_populates="invoice", order_by="CreditNote.id")
    payments: Mapped[list[Payment]] = relationship(back_populates="invoice", order_by="Payment.paid_on")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    issued_by: Mapped[User | None] = relationship(foreign_keys=[issued_by_id])

    @property
    def issued(self) -> bool:
        return self.status == "issued"

    @property
    def total_gross(self) -> Decimal:
        return from_cents(self.total_gross_cents)


class InvoiceLine(db.Model):
    """One treatment on an invoice, with every figure and name copied as printed."""

    __tablename__ = "invoice_lines"
    __table_args__ = (
        CheckConstraint("net_cents + vat_cents = gross_cents", name="amounts_add_up"),
        CheckConstraint("vat_rate >= 0", name="vat_rate_not_negative"),
        # The lines of an invoice with what the report sums (no visit to the table), and by treatment date.
        Index("ix_invoice_lines_report", "invoice_id", "medical", "vat_rate", "gross_cents", "net_cents", "vat_cents",
              "treatment_id"),
        Index("ix_invoice_lines_treatment_date", "treatment_date", "treatment_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    treatment_id: Mapped[int] = mapped_column(ForeignKey("treatments.id"), index=True)
    treatment_date: Mapped[date]
    description: Mapped[str] = mapped_column(String(200))
    prestatiecode: Mapped[str] = mapped_column(String(10), default="")
    indication: Mapped[str] = mapped_column(String(100), default="")
    medical: Mapped[bool] = mapped_column(default=False)
    reimbursable: Mapped[bool] = mapped_column(default=False)
    quantity: Mapped[int] = mapped_column(default=1)
    gross_cents: Mapped[int]
    net_cents: Mapped[int]
    vat_cents: Mapped[int]
    vat_rate: Mapped[int] = mapped_column(default=0)
    vat_exemption: Mapped[str] = mapped_column(String(200), default="")  # legal ground when exempt
    therapist_name: Mapped[str] = mapped_column(String(200), default="")
    therapist_agb: Mapped[str] = mapped_column(String(8), default="")
    technique: Mapped[str] = mapped_column(String(100), default="")
    body_area: Mapped[str] = mapped_column(String(100), default="")
    referral: Mapped[str] = mapped_column(Text, default="")
    insurer_amount_cents: Mapped[int] = mapped_column(default=0)

    invoice: Mapped[Invoice] = relationship(back_populates="lines")
    treatment: Mapped[Treatment] = relationship()
    claim: Mapped[InvoicedTreatment | None] = relationship(
        back_populates="invoice_line", cascade="all, delete-orphan", uselist=False
    )
    credit_line: Mapped[CreditNoteLine | None] = relationship(back_populates="invoice_line", uselist=False)


class InvoicedTreatment(db.Model):
    """Which invoice line a treatment is on now (draft or issued, not credited). At most one: the primary key.

    Kept apart from the immutable line so crediting can free the treatment without touching the issued line.
    """

    __tablename__ = "invoiced_treatments"

    treatment_id: Mapped[int] = mapped_column(ForeignKey("treatments.id"), primary_key=True)
    invoice_line_id: Mapped[int] = mapped_column(ForeignKey("invoice_lines.id"), unique=True)

    invoice_line: Mapped[InvoiceLine] = relationship(back_populates="claim")


class CreditNote(db.Model):
    """Reverses (part of) an issued invoice. Born numbered and printed; never changes afterwards."""

    __tablename__ = "credit_notes"
    __table_args__ = (
        UniqueConstraint("series_year", "sequence", name="uq_credit_notes_series_year_sequence"),
        CheckConstraint("total_gross_cents <= 0", name="total_not_positive"),
        Index("ix_credit_notes_invoice_id_issue_date", "invoice_id", "issue_date", "total_gross_cents"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    series_year: Mapped[int]
    sequence: Mapped[int]
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    issue_date: Mapped[date] = mapped_column(index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    total_gross_cents: Mapped[int]
    total_net_cents: Mapped[int]
    total_vat_cents: Mapped[int]
    snapshot: Mapped[dict] = mapped_column(JSON)
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    invoice: Mapped[Invoice] = relationship(back_populates="credit_notes")
    lines: Mapped[list[CreditNoteLine]] = relationship(back_populates="credit_note", order_by="CreditNoteLine.id")
    created_by: Mapped[User | None] = relationship()


class CreditNoteLine(db.Model):
    """The exact negative of one invoice line; each invoice line is credited at most once."""

    __tablename__ = "credit_note_lines"
    __table_args__ = (CheckConstraint("net_cents + vat_cents = gross_cents", name="amounts_add_up"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    credit_note_id: Mapped[int] = mapped_column(ForeignKey("credit_notes.id"), index=True)
    invoice_line_id: Mapped[int] = mapped_column(ForeignKey("invoice_lines.id"), unique=True)
    gross_cents: Mapped[int]
    net_cents: Mapped[int]
    vat_cents: Mapped[int]
    vat_rate: Mapped[int] = mapped_column(default=0)

    credit_note: Mapped[CreditNote] = relationship(back_populates="lines")
    invoice_line: Mapped[InvoiceLine] = relationship(back_populates="credit_line")


class Payment(db.Model):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint(_in("method", PAYMENT_METHODS), name="method_known"),
        CheckConstraint("amount_cents <> 0", name="amount_not_zero"),
        Index("ix_payments_invoice_id_paid_on", "invoice_id", "paid_on", "amount_cents"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    paid_on: Mapped[date]
    method: Mapped[str] = mapped_column(String(20))
    amount_cents: Mapped[int]  # negative for a refund
    note: Mapped[str] = mapped_column(String(200), default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    invoice: Mapped[Invoice] = relationship(back_populates="payments")


class ImmutableDocumentError(RuntimeError):
    """An issued invoice, its lines or a credit note was about to change: issue a credit note instead."""


def _changed_columns(target) -> list[str]:
    # before_update also fires for rows that are only "dirty" through a collection (a payment appended to
    # invoice.payments): those have no column change and are let through.
    from sqlalchemy import inspect as sa_inspect

    state = sa_inspect(target)
    return [attr.key for attr in state.mapper.column_attrs if state.attrs[attr.key].history.has_changes()]


def _committed_status(target: Invoice) -> str | None:
    from sqlalchemy import inspect as sa_inspect

    history = sa_inspect(target).attrs.status.history
    return history.deleted[0] if history.deleted else target.status


def _invoice_status_in_db(connection, invoice_id: int | None) -> str | None:
    if invoice_id is None:
        return None
    table = Invoice.__table__
    return connection.scalar(db.select(table.c.status).where(table.c.id == invoice_id))


@event.listens_for(Invoice, "before_update")
def _refuse_issued_invoice_update(mapper, connection, target):
    if _committed_status(target) == "issued" and _changed_columns(target):
        raise ImmutableDocumentError(
            f"Invoice {target.number} is issued and cannot be changed: issue a credit note and a new invoice."
        )


@event.listens_for(Invoice, "before_delete")
def _refuse_issued_invoice_delete(mapper, connection, target):
    if _committed_status(target) == "issued":
        raise ImmutableDocumentError(f"Invoice {target.number} is issued and cannot be deleted.")


def _refuse_if_issued(connection, *invoice_ids: int | None) -> None:
    if any(_invoice_status_in_db(connection, invoice_id) == "issued" for invoice_id in set(invoice_ids)):
        raise ImmutableDocumentError("The lines of an issued invoice cannot be added, changed or deleted.")


@event.listens_for(InvoiceLine, "before_insert")
@event.listens_for(InvoiceLine, "before_delete")
def _refuse_issued_line_insert_or_delete(mapper, connection, target):
    _refuse_if_issued(connection, target.invoice_id)


@event.listens_for(InvoiceLine, "before_update")
def _refuse_issued_line_update(mapper, connection, target):
    from sqlalchemy import inspect as sa_inspect

    if _changed_columns(target):
        _refuse_if_issued(connection, target.invoice_id, *sa_inspect(target).attrs.invoice_id.history.deleted)


@event.listens_for(CreditNote, "before_update")
@event.listens_for(CreditNoteLine, "before_update")
def _refuse_credit_note_update(mapper, connection, target):
    if _changed_columns(target):
        raise ImmutableDocumentError("A credit note cannot be changed.")


@event.listens_for(CreditNote, "before_delete")
@event.listens_for(CreditNoteLine, "before_delete")
def _refuse_credit_note_delete(mapper, connection, target):
    raise ImmutableDocumentError("A credit note cannot be deleted.")


# Database-level guards, besides the ORM ones: raw SQL cannot change an issued invoice either.
# The same statements are in migration 0003; a later migration that rebuilds one of these tables on SQLite
# (batch mode copies the table) must create them again.
_INVOICE_SQLITE_GUARDS = [
    "CREATE TRIGGER invoices_issued_no_update BEFORE UPDATE ON invoices WHEN OLD.status = 'issued' "
    "BEGIN SELECT RAISE(ABORT, 'an issued invoice cannot be changed or deleted: issue a credit note'); END",
    "CREATE TRIGGER invoices_issued_no_delete BEFORE DELETE ON invoices WHEN OLD.status = 'issued' "
    "BEGIN SELECT RAISE(ABORT, 'an issued invoice cannot be changed or deleted: issue a credit note'); END",
]
_LINE_SQLITE_GUARDS = [
    "CREATE TRIGGER invoice_lines_issued_no_insert BEFORE INSERT ON invoice_lines "
    "WHEN (SELECT status FROM invoices WHERE id = NEW.invoice_id) = 'issued' "
    "BEGIN SELECT RAISE(ABORT, 'the lines of an issued invoice cannot be changed or deleted'); END",
    "CREATE TRIGGER invoice_lines_issued_no_update BEFORE UPDATE ON invoice_lines "
    "WHEN (SELECT status FROM invoices WHERE id = OLD.invoice_id) = 'issued' "
    "OR (SELECT status FROM invoices WHERE id = NEW.invoice_id) = 'issued' "
    "BEGIN SELECT RAISE(ABORT, 'the lines of an issued invoice cannot be changed or deleted'); END",
    "CREATE TRIGGER invoice_lines_issued_no_delete BEFORE DELETE ON invoice_lines "
    "WHEN (SELECT status FROM invoices WHERE id = OLD.invoice_id) = 'issued' "
    "BEGIN SELECT RAISE(ABORT, 'the lines of an issued invoice cannot be changed or deleted'); END",
]
_CREDIT_SQLITE_GUARDS = [
    f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
    "BEGIN SELECT RAISE(ABORT, 'a credit note cannot be changed or deleted'); END"
    for table in ("credit_notes", "credit_note_lines")
    for op in ("UPDATE", "DELETE")
]
_INVOICE_POSTGRES_GUARDS = [
    "CREATE FUNCTION invoice_issued_immutable() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'an issued invoice cannot be changed or deleted: issue a credit note'; END $$",
    "CREATE TRIGGER invoices_issued_no_change BEFORE UPDATE OR DELETE ON invoices "
    "FOR EACH ROW WHEN (OLD.status = 'issued') EXECUTE FUNCTION invoice_issued_immutable()",
]
_LINE_POSTGRES_GUARDS = [
    "CREATE FUNCTION invoice_line_issued_immutable() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "IF TG_OP <> 'INSERT' AND (SELECT status FROM invoices WHERE id = OLD.invoice_id) = 'issued' "
    "OR TG_OP <> 'DELETE' AND (SELECT status FROM invoices WHERE id = NEW.invoice_id) = 'issued' THEN "
    "RAISE EXCEPTION 'the lines of an issued invoice cannot be changed or deleted'; END IF; "
    "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$",
    "CREATE TRIGGER invoice_lines_issued_no_change BEFORE INSERT OR UPDATE OR DELETE ON invoice_lines "
    "FOR EACH ROW EXECUTE FUNCTION invoice_line_issued_immutable()",
]
_CREDIT_POSTGRES_GUARDS = [
    "CREATE FUNCTION credit_note_immutable() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'a credit note cannot be changed or deleted'; END $$",
    "CREATE TRIGGER credit_notes_no_change BEFORE UPDATE OR DELETE ON credit_notes "
    "FOR EACH ROW EXECUTE FUNCTION credit_note_immutable()",
    "CREATE TRIGGER credit_note_lines_no_change BEFORE UPDATE OR DELETE ON credit_note_lines "
    "FOR EACH ROW EXECUTE FUNCTION credit_note_immutable()",
]

_DOCUMENT_GUARDS = {
    "invoices": {"sqlite": _INVOICE_SQLITE_GUARDS, "postgresql": _INVOICE_POSTGRES_GUARDS},
    "invoice_lines": {"sqlite": _LINE_SQLITE_GUARDS, "postgresql": _LINE_POSTGRES_GUARDS},
    "credit_note_lines": {"sqlite": _CREDIT_SQLITE_GUARDS, "postgresql": _CREDIT_POSTGRES_GUARDS},
}


def document_guard_statements(table: str, dialect: str) -> list[str]:
    """The trigger DDL installed after `table` is created (credit note guards wait for their lines table)."""
    return _DOCUMENT_GUARDS.get(table, {}).get(dialect, [])


def _create_document_guards(table, connection, **kw):
    for statement in document_guard_statements(table.name, connection.dialect.name):
        connection.exec_driver_sql(statement)


for _table in (Invoice.__table__, InvoiceLine.__table__, CreditNoteLine.__table__):
    event.listen(_table, "after_create", _create_document_guards)


# ---- Issue 4 part 8: batch printing ----------------------------------------------------------------------

PRINT_JOB_KINDS = {"invoices": "Invoices and credit notes", "declarations": "Insurer declarations"}
PRINT_JOB_STATUSES = ("queued", "running", "done", "failed")


class PrintJob(db.Model):
    """One batch print (all invoices or declarations of a period): its progress and the files it produced.

    The files live under the instance folder; the paths are stored relative to it.
    """

    __tablename__ = "print_jobs"
    __table_args__ = (
        CheckConstraint(_in("kind", PRINT_JOB_KINDS), name="kind_known"),
        CheckConstraint(_in("status", PRINT_JOB_STATUSES), name="status_known"),
        CheckConstraint("period_end >= period_start", name="period_ordered"),
        CheckConstraint("done_count >= 0 AND total_count >= 0", name="progress_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    period_start: Mapped[date]
    period_end: Mapped[date]
    status: Mapped[str] = mapped_column(String(10), default="queued")
    done_count: Mapped[int] = mapped_column(default=0)
    total_count: Mapped[int] = mapped_column(default=0)
    document_count: Mapped[int] = mapped_column(default=0)  # documents in the files (skipped ones excluded)
    pdf_path: Mapped[str | None] = mapped_column(String(500))
    zip_path: Mapped[str | None] = mapped_column(String(500))
    notes: Mapped[str] = mapped_column(Text, default="")  # documents left out and why (missing data)
    # [[patient_id, "invoice 2026-00001"], ...]: whose data the files hold, for the access log on download.
    documents: Mapped[list] = mapped_column(JSON, default=list)
    error: Mapped[str] = mapped_column(Text, default="")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    on_behalf_of: Mapped[str] = mapped_column(String(200), default="")  # copied into the access log entries
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    progress_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # the worker's last progress commit
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    requested_by: Mapped[User | None] = relationship()


# ---- Issue 5: insurer claim batches, remittances, patient-submitted claims ------------------------------
# The rules are in domain/claims.py; backoffice/claims/services.py gathers the facts and stores the answers.

CLAIM_BATCH_STATUSES = ("draft", "exported", "submitted", "closed", "cancelled")
CLAIM_LINE_STATUSES = ("pending", "paid", "partly_paid", "rejected")
REMITTANCE_STATUSES = ("previewed", "applied")
REMITTANCE_FIELDS = ("reference", "paid", "reason_code", "reason_text")


class InsurerClaimSettings(db.Model):
    """How the clinic claims from one insurer: directly (claim batches) or through the patient (restitution),
    the claim workbook's columns, the claim deadline, and how the insurer's remittance file is laid out."""

    __tablename__ = "insurer_claim_settings"
    __table_args__ = (CheckConstraint("deadline_months >= 1", name="deadline_positive"),)

    insurer_id: Mapped[int] = mapped_column(ForeignKey("insurers.id"), primary_key=True)
    direct_billing: Mapped[bool] = mapped_column(default=True)  # False: patients send the declaration themselves
    deadline_months: Mapped[int] = mapped_column(default=12)
    bsn_required: Mapped[bool] = mapped_column(default=False)
    # ClaimTemplate.to_config(): [{"key": "patient_name", "header": "Naam"}, ...]; None: the default template.
    template: Mapped[list | None] = mapped_column(JSON)
    # {"reference": "Claimreferentie", "paid": "Betaald", "reason_code": "Code", "reason_text": "Reden"}
    remittance_mapping: Mapped[dict | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    insurer: Mapped[Insurer] = relationship()


class ClaimBatch(db.Model):
    """One claim to one insurer for one period: draft, exported, submitted, closed (or cancelled)."""

    __tablename__ = "claim_batches"
    __table_args__ = (
        CheckConstraint(_in("status", CLAIM_BATCH_STATUSES), name="status_known"),
        CheckConstraint("period_end >= period_start", name="period_ordered"),
        Index("ix_claim_batches_insurer_id_status", "insurer_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    insurer_id: Mapped[int] = mapped_column(ForeignKey("insurers.id"))
    number: Mapped[str] = mapped_column(String(30), unique=True)
    period_start: Mapped[date]
    period_end: Mapped[date]
    status: Mapped[str] = mapped_column(String(10), default="draft")
    claim_date: Mapped[date]  # the day the lines were last validated on (deadline)
    validated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    exported_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    exported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Written at the first export and reused, so exporting again gives the same bytes: header and template.
    export_snapshot: Mapped[dict | None] = mapped_column(JSON)
    file_path: Mapped[str | None] = mapped_column(String(500))  # relative to CLAIMS_DIR (instance/claims)
    file_sha256: Mapped[str | None] = mapped_column(String(64))

    insurer: Mapped[Insurer] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    lines: Mapped[list[ClaimLine]] = relationship(back_populates="batch", order_by="ClaimLine.id")


class ClaimLine(db.Model):
    """One invoice line in one batch: included (claimed) or excluded with its reasons, and the insurer's outcome.

    `live` is TRUE while the line counts as claimed (included, batch not cancelled, not rejected) and NULL
    otherwise: the unique constraint on (invoice_line_id, live) keeps an invoice line in at most one live claim
    on every database (NULLs never collide). A resubmission is a new line pointing at the rejected one.
    """

    __tablename__ = "claim_lines"
    __table_args__ = (
        UniqueConstraint("invoice_line_id", "live", name="uq_claim_lines_invoice_line_id_live"),
        UniqueConstraint("batch_id", "invoice_line_id", name="uq_claim_lines_batch_id_invoice_line_id"),
        CheckConstraint("live IS NULL OR live = true", name="live_true_or_null"),
        CheckConstraint(_in("status", CLAIM_LINE_STATUSES), name="status_known"),
        CheckConstraint("claimed_cents >= 0 AND paid_cents >= 0 AND paid_cents <= claimed_cents",
                        name="amounts_in_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("claim_batches.id"))
    invoice_line_id: Mapped[int] = mapped_column(ForeignKey("invoice_lines.id"))
    included: Mapped[bool] = mapped_column(default=False)
    live: Mapped[bool | None]
    status: Mapped[str] = mapped_column(String(12), default="pending")
    amount_cents: Mapped[int] = mapped_column(default=0)      # charged to the patient (VAT-inclusive)
    expected_cents: Mapped[int] = mapped_column(default=0)    # the assessment's insurer amount
    claimed_cents: Mapped[int] = mapped_column(default=0)     # expected, limited by what is left of the cap
    paid_cents: Mapped[int] = mapped_column(default=0)
    reasons: Mapped[list] = mapped_column(JSON, default=list)  # [{"code": ..., "nl": ..., "en": ...}]
    rejection_code: Mapped[str] = mapped_column(String(40), default="")
    rejection_text: Mapped[str] = mapped_column(Text, default="")
    sequence: Mapped[int | None]
    claim_reference: Mapped[str | None] = mapped_column(String(40), unique=True)
    resubmission_of_id: Mapped[int | None] = mapped_column(ForeignKey("claim_lines.id"))
    snapshot: Mapped[dict | None] = mapped_column(JSON)  # the workbook row as exported (BSN encrypted)
    outcome_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    outcome_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    batch: Mapped[ClaimBatch] = relationship(back_populates="lines")
    invoice_line: Mapped[InvoiceLine] = relationship()
    resubmission_of: Mapped[ClaimLine | None] = relationship(remote_side=[id])


class PatientClaim(db.Model):
    """Restitution: the patient sent the declaration to an insurer the clinic does not bill, and told us the
    outcome. Counted beside the batch claims in the outcome statistics."""

    __tablename__ = "patient_claims"
    __table_args__ = (
        CheckConstraint(_in("status", CLAIM_LINE_STATUSES), name="status_known"),
        CheckConstraint("claimed_cents >= 0 AND paid_cents >= 0 AND paid_cents <= claimed_cents",
                        name="amounts_in_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_line_id: Mapped[int] = mapped_column(ForeignKey("invoice_lines.id"), unique=True)
    insurer_id: Mapped[int] = mapped_column(ForeignKey("insurers.id"), index=True)
    submitted_on: Mapped[date]
    status: Mapped[str] = mapped_column(String(12), default="pending")
    claimed_cents: Mapped[int] = mapped_column(default=0)
    paid_cents: Mapped[int] = mapped_column(default=0)
    paid_on: Mapped[date | None]
    rejection_code: Mapped[str] = mapped_column(String(40), default="")
    rejection_text: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    invoice_line: Mapped[InvoiceLine] = relationship()
    insurer: Mapped[Insurer] = relationship()


class RemittanceImport(db.Model):
    """An insurer's reply file: previewed first (stored under the instance folder), then applied once."""

    __tablename__ = "remittance_imports"
    __table_args__ = (CheckConstraint(_in("status", REMITTANCE_STATUSES), name="status_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    insurer_id: Mapped[int] = mapped_column(ForeignKey("insurers.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    stored_path: Mapped[str] = mapped_column(String(500))  # relative to CLAIMS_DIR (instance/claims)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int]
    status: Mapped[str] = mapped_column(String(10), default="previewed")
    row_count: Mapped[int] = mapped_column(default=0)
    matched_count: Mapped[int] = mapped_column(default=0)
    unmatched_count: Mapped[int] = mapped_column(default=0)
    disputed_count: Mapped[int] = mapped_column(default=0)
    paid_cents: Mapped[int] = mapped_column(default=0)
    mapping: Mapped[dict | None] = mapped_column(JSON)  # chosen for this file; saved for the insurer on apply
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    applied_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    applied_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    insurer: Mapped[Insurer] = relationship()


# ---- Issue 6: the dashboard's summary table --------------------------------------------------------------

REPORT_FAMILIES = ("revenue", "treatments", "claims", "receivables")


class ReportFacts(db.Model):
    """The dashboard's summary (backoffice/reporting/cache.py): one month's grouped facts of one kind, or the open
    receivables on one day of the invoices issued in one month. The triggers below empty a row in the same
    transaction as any write it was read from; the next dashboard view reads it afresh and keeps it again."""

    __tablename__ = "report_facts"
    __table_args__ = (
        UniqueConstraint("family", "month", "as_of", name="uq_report_facts_family_month_as_of"),
        CheckConstraint(_in("family", REPORT_FAMILIES), name="family_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    family: Mapped[str] = mapped_column(String(12))
    month: Mapped[date]  # first day of the month the facts are of (receivables: the invoices' issue month)
    # The last day they cover: the month's last day (receivables: the day they are measured on). The triggers
    # empty the rows with as_of on or after the day a write concerns.
    as_of: Mapped[date] = mapped_column(index=True)
    facts: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))  # NULL: to be read afresh
    claim: Mapped[str | None] = mapped_column(String(32))  # the token of the view reading the row afresh now
    computed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


# Which report_facts rows a write can change, per table: (table, events, the columns whose UPDATE matters, rules);
# a rule is (family, the first day concerned, the day whose month is the receivables' issue month or None), as
# SQL on {row} (OLD and NEW). Rows with as_of on or after that day are emptied. The same rules are frozen in
# migration 0006; tests/test_reporting.py checks they agree and that each write empties what it should.
_INVOICE_ISSUE_DATE = "(SELECT issue_date FROM invoices WHERE id = {row}.invoice_id)"
_LINE_TREATMENT_DATE = "(SELECT treatment_date FROM invoice_lines WHERE id = {row}.invoice_line_id)"
REPORT_FACTS_SOURCES = (
    ("treatments", ("INSERT", "UPDATE", "DELETE"),
     ("treatment_date", "patient_id", "therapist_id", "catalogue_item_id", "indication", "medical"), (
         ("treatments", "{row}.treatment_date", None),
         ("revenue", "(SELECT min(i.issue_date) FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id "
                     "WHERE l.treatment_id = {row}.id AND i.status = 'issued')", None),
         ("revenue", "(SELECT min(n.issue_date) FROM invoice_lines l "
                     "JOIN credit_note_lines c ON c.invoice_line_id = l.id "
                     "JOIN credit_notes n ON n.id = c.credit_note_id WHERE l.treatment_id = {row}.id)", None),
         ("claims", "(SELECT min(treatment_date) FROM invoice_lines WHERE treatment_id = {row}.id)", None),
     )),
    ("invoices", ("INSERT", "UPDATE"), ("status", "issue_date", "due_date", "total_gross_cents"), (
        ("revenue", "CASE WHEN {row}.status = 'issued' THEN {row}.issue_date END", None),
        ("receivables", "CASE WHEN {row}.status = 'issued' THEN {row}.issue_date END", "{row}.issue_date"),
    )),
    ("credit_notes", ("INSERT",), (), (
        ("revenue", "{row}.issue_date", None),
        ("receivables", "{row}.issue_date", _INVOICE_ISSUE_DATE),
    )),
    ("credit_note_lines", ("INSERT",), (), (
        ("revenue", "(SELECT issue_date FROM credit_notes WHERE id = {row}.credit_note_id)", None),
    )),
    ("payments", ("INSERT", "UPDATE", "DELETE"), ("invoice_id", "paid_on", "amount_cents"), (
        ("receivables", "{row}.paid_on", _INVOICE_ISSUE_DATE),
    )),
    ("claim_batches", ("UPDATE", "DELETE"), ("insurer_id", "status", "submitted_at"), (
        ("claims", "(SELECT min(l.treatment_date) FROM claim_lines c JOIN invoice_lines l ON l.id = c.invoice_line_id "
                   "WHERE c.batch_id = {row}.id)", None),
    )),
    ("claim_lines", ("INSERT", "UPDATE", "DELETE"),
     ("batch_id", "invoice_line_id", "included", "status", "claimed_cents", "paid_cents", "rejection_code",
      "rejection_text", "outcome_at"), (
         ("claims", _LINE_TREATMENT_DATE, None),
     )),
    ("patient_claims", ("INSERT", "UPDATE", "DELETE"),
     ("invoice_line_id", "insurer_id", "status", "claimed_cents", "paid_cents", "submitted_on", "paid_on",
      "rejection_code", "rejection_text"), (
         ("claims", _LINE_TREATMENT_DATE, None),
     )),
)


def _report_facts_emptied(dialect: str, rules, row: str) -> list[str]:
    statements = []
    for family, day, issued in rules:
        sql = (f"UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = '{family}' "  # noqa: S608 - constants
               f"AND as_of >= {day.format(row=row)} AND (facts IS NOT NULL OR claim IS NOT NULL)")
        if issued is not None:
            issued = issued.format(row=row)
            month = (f"date({issued}, 'start of month')" if dialect == "sqlite"
                     else f"CAST(date_trunc('month', {issued}) AS date)")
            sql += f" AND month = {month}"
        statements.append(sql + ";")
    return statements


def report_facts_trigger_statements(table: str, dialect: str) -> list[str]:
    """The trigger DDL that keeps report_facts true to `table` (installed after the table is created)."""
    statements = []
    for name, events, columns, rules in REPORT_FACTS_SOURCES:
        if name != table:
            continue
        of = f" OF {', '.join(columns)}" if columns else ""
        if dialect == "sqlite":
            for event_name in events:
                rows = [r for r, skip in (("OLD", "INSERT"), ("NEW", "DELETE")) if event_name != skip]
                body = " ".join(s for r in rows for s in _report_facts_emptied(dialect, rules, r))
                statements.append(f"CREATE TRIGGER report_facts_{table}_{event_name.lower()} AFTER {event_name}"
                                  f"{of if event_name == 'UPDATE' else ''} ON {table} BEGIN {body} END")
        elif dialect == "postgresql":
            old = " ".join(_report_facts_emptied(dialect, rules, "OLD"))
            new = " ".join(_report_facts_emptied(dialect, rules, "NEW"))
            statements.append(
                f"CREATE FUNCTION report_facts_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF TG_OP <> 'INSERT' THEN {old} END IF; IF TG_OP <> 'DELETE' THEN {new} END IF; "
                "RETURN NULL; END $$")
            on = " OR ".join(e + (of if e == "UPDATE" else "") for e in events)
            statements.append(f"CREATE TRIGGER report_facts_{table} AFTER {on} ON {table} "
                              f"FOR EACH ROW EXECUTE FUNCTION report_facts_{table}()")
    return statements


def _create_report_facts_triggers(table, connection, **kw):
    for statement in report_facts_trigger_statements(table.name, connection.dialect.name):
        connection.exec_driver_sql(statement)


for _name in dict.fromkeys(source[0] for source in REPORT_FACTS_SOURCES):
    event.listen(db.metadata.tables[_name], "after_create", _create_report_facts_triggers)
