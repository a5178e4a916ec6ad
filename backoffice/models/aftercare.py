"""Aftercare texts as the practice edited them: one per topic (technique) or per catalogue item.

A topic without a stored row prints its default from domain/aftercare.py, so a fresh database prints correct
texts too; a stored row overrides the default, and a catalogue item's row overrides its topic's.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain.aftercare import AftercareContent, AftercareTopic, lines, paragraphs
from .base import Model, UtcDateTime, one_of, utcnow
from .treatments import CatalogueItem
from .users import User


class AftercareText(Model):
    """An aftercare text for a topic or for one catalogue item (exactly one of the two)."""

    __tablename__ = "aftercare_texts"
    __table_args__ = (
        CheckConstraint(one_of("topic", AftercareTopic) + " OR topic IS NULL", name="topic_known"),
        CheckConstraint("(topic IS NULL) <> (catalogue_item_id IS NULL)", name="topic_or_item"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str | None] = mapped_column(String(30), unique=True)
    catalogue_item_id: Mapped[int | None] = mapped_column(ForeignKey("catalogue_items.id"), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    expectations: Mapped[str] = mapped_column(Text)   # paragraphs, separated by a blank line
    instructions: Mapped[str] = mapped_column(Text)   # one instruction per line
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    catalogue_item: Mapped[CatalogueItem | None] = relationship()
    updated_by: Mapped[User | None] = relationship()

    def content(self) -> AftercareContent:
        return AftercareContent(title=self.title.strip(), expectations=paragraphs(self.expectations),
                                instructions=lines(self.instructions))
