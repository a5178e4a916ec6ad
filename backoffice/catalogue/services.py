"""Use cases for the treatment catalogue. Services add and flush; the view commits."""

from __future__ import annotations

from sqlalchemy import Select, func, or_, select

from ..domain.money import to_cents
from ..extensions import db
from ..models import CatalogueItem


class DuplicateCode(ValueError):
    pass


def search_query(text: str) -> Select:
    query = select(CatalogueItem).order_by(CatalogueItem.active.desc(), CatalogueItem.code, CatalogueItem.id)
    text = (text or "").strip()
    if not text:
        return query
    like = f"%{text}%"
    return query.where(or_(CatalogueItem.code.ilike(like), CatalogueItem.name.ilike(like),
                           CatalogueItem.prestatiecode == text.upper()))


def save_item(item: CatalogueItem | None, data: dict) -> CatalogueItem:
    code = data["code"]
    # Case-insensitive, so "frac-face" and "FRAC-FACE" do not become two items.
    taken = select(CatalogueItem.id).where(func.lower(CatalogueItem.code) == code.lower())
    if item is not None and item.id is not None:
        taken = taken.where(CatalogueItem.id != item.id)
    if db.session.scalar(taken) is not None:
        raise DuplicateCode(f"Another treatment already has code {code}.")
    if item is None:
        item = CatalogueItem()
        db.session.add(item)
    item.code = code
    item.name = data["name"]
    item.technique = data.get("technique") or None
    item.prestatiecode = data.get("prestatiecode") or ""
    item.price_cents = to_cents(data["price"])
    item.duration_minutes = data["duration_minutes"]
    item.active = bool(data.get("active"))
    db.session.flush()
    return item
