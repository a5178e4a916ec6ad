"""The clinic itself: the name, addresses and numbers printed on every document."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String, false, true
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model, UtcDateTime, utcnow


class Practice(Model):
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
    # Therapists sign in with a second factor too (auth/twofactor.py); admins and managers always do.
    therapists_two_factor: Mapped[bool] = mapped_column(default=True, server_default=true())
    # Therapists open only the records of patients they treat or are assigned to (backoffice/care/).
    therapists_own_patients_only: Mapped[bool] = mapped_column(default=False, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
