"""The clinic itself: the name, addresses and numbers printed on every document."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
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
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
