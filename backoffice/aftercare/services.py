"""Aftercare texts: which one a treatment's sheet prints, and the admin's changes. Services flush, never commit.

The choice itself is pure (domain/aftercare.py); here the stored rows are read: the catalogue item's text, else the
stored text of the treatment's topic, else the topic's default.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..domain.aftercare import (
    DEFAULT_TEXTS,
    AftercareContent,
    AftercareTopic,
    as_line_text,
    as_paragraph_text,
    choose,
    topic_for,
)
from ..errors import ServiceError
from ..extensions import db
from ..models import AftercareText, CatalogueItem, Treatment, User


class SavedConcurrently(ServiceError):
    """Someone else stored the first own text for the same topic or treatment a moment earlier."""


@dataclass(frozen=True)
class AftercareInput:
    """A text as the form gives it: heading, paragraphs separated by a blank line, one instruction per line."""

    title: str
    expectations: str
    instructions: str


def topic_text(topic: AftercareTopic) -> AftercareText | None:
    return db.session.scalar(select(AftercareText).where(AftercareText.topic == str(topic)))


def item_text(item_id: int) -> AftercareText | None:
    return db.session.scalar(select(AftercareText).where(AftercareText.catalogue_item_id == item_id))


def topic_content(topic: AftercareTopic) -> AftercareContent:
    """What a treatment of this topic without a text of its own prints now."""
    stored = topic_text(topic)
    return choose(None, stored.content() if stored else None, topic)


def content_for(treatment: Treatment) -> AftercareContent:
    """The aftercare text for this treatment's sheet."""
    item = treatment.catalogue_item
    topic = topic_for(item.technique, treatment.indication)
    own = item_text(item.id)
    stored = topic_text(topic)
    return choose(own.content() if own else None, stored.content() if stored else None, topic)


def as_input(content: AftercareContent) -> AftercareInput:
    """A text as the form shows it (to start editing from what prints now)."""
    return AftercareInput(content.title, as_paragraph_text(content.expectations), as_line_text(content.instructions))


def _fill(text: AftercareText, data: AftercareInput, user: User | None) -> AftercareText:
    text.title = data.title.strip()
    text.expectations = data.expectations.strip()
    text.instructions = data.instructions.strip()
    text.updated_by_id = user.id if user is not None else None
    # Worded before the flush: after a failed flush the session cannot load the user whose language it needs.
    refused = _("Someone else saved this aftercare text at the same moment; open it again and repeat your change.")
    try:
        db.session.flush()
    except IntegrityError:  # the unique topic or catalogue item: a concurrent request stored its row first
        raise SavedConcurrently(refused) from None
    return text


def save_topic_text(topic: AftercareTopic, data: AftercareInput, user: User | None = None) -> AftercareText:
    """Store the practice's own text for a topic (replacing the default on every sheet of that topic)."""
    text = topic_text(topic)
    if text is None:
        text = AftercareText(topic=str(topic))
        db.session.add(text)
    return _fill(text, data, user)


def reset_topic_text(topic: AftercareTopic) -> bool:
    """Back to the default text; False when the topic had no text of its own."""
    text = topic_text(topic)
    if text is None:
        return False
    db.session.delete(text)
    db.session.flush()
    return True


def save_item_text(item: CatalogueItem, data: AftercareInput, user: User | None = None) -> AftercareText:
    """Store a text for one catalogue item: it wins over its topic's text."""
    text = item_text(item.id)
    if text is None:
        text = AftercareText(catalogue_item_id=item.id)
        db.session.add(text)
    return _fill(text, data, user)


def delete_item_text(item: CatalogueItem) -> bool:
    text = item_text(item.id)
    if text is None:
        return False
    db.session.delete(text)
    db.session.flush()
    return True


@dataclass(frozen=True)
class TopicRow:
    topic: AftercareTopic
    title: str
    stored: AftercareText | None


def topic_rows() -> list[TopicRow]:
    stored = {text.topic: text for text in db.session.scalars(
        select(AftercareText).where(AftercareText.topic.is_not(None)))}
    rows = []
    for topic in AftercareTopic:
        own = stored.get(str(topic))
        rows.append(TopicRow(topic, own.title if own else DEFAULT_TEXTS[topic].title, own))
    return rows


def item_texts() -> list[AftercareText]:
    return list(db.session.scalars(
        select(AftercareText).join(CatalogueItem, AftercareText.catalogue_item_id == CatalogueItem.id)
        .order_by(CatalogueItem.code)))


def items_without_text() -> list[CatalogueItem]:
    taken = select(AftercareText.catalogue_item_id).where(AftercareText.catalogue_item_id.is_not(None))
    return list(db.session.scalars(
        select(CatalogueItem).where(CatalogueItem.id.not_in(taken)).order_by(CatalogueItem.active.desc(),
                                                                             CatalogueItem.code)))
