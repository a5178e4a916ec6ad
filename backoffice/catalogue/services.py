"""Use cases for the treatment catalogue. Services add and flush; the unit of work commits (unit_of_work.py)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError

from ..domain import prestatiecodes
from ..domain.money import to_cents
from ..errors import ServiceError
from ..extensions import db
from ..models import CatalogueItem
from ..paging import Keyset


class DuplicateCode(ServiceError):
    """Another catalogue item has this code (compared case-insensitively)."""

    status = 422


class PrestatiecodeInvalid(ServiceError):
    """A code list or prestatiecode of the wrong shape, or missing on an item that can be reimbursable."""

    status = 422

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field  # "prestatiecode_list" or "prestatiecode"


class PriceNotPositive(ServiceError):
    """A catalogue price of zero or less: a treatment recorded at the catalogue price would be free."""

    status = 422


@dataclass(frozen=True)
class CatalogueItemInput:
    """A catalogue item as the form gives it (each field already checked)."""

    code: str
    name: str
    price: Decimal                 # incl. VAT, in euros
    duration_minutes: int = 30
    technique: str | None = None
    prestatiecode: str = ""
    prestatiecode_list: str = ""
    active: bool = True


def code_taken(code: str, item: CatalogueItem | None) -> bool:
    taken = select(CatalogueItem.id).where(func.lower(CatalogueItem.code) == code.lower())
    if item is not None and item.id is not None:
        taken = taken.where(CatalogueItem.id != item.id)
    return db.session.scalar(taken) is not None


# The catalogue's order, paged by key (paging.Keyset): active items first, then by code and id.
LIST_ORDER = Keyset((CatalogueItem.active, CatalogueItem.code, CatalogueItem.id), descending=(True, False, False))


def search_query(text: str) -> Select:
    """Catalogue items by code, name or prestatiecode; unordered: the list orders by LIST_ORDER."""
    query = select(CatalogueItem)
    text = (text or "").strip()
    if not text:
        return query
    like = f"%{text}%"
    return query.where(or_(CatalogueItem.code.ilike(like), CatalogueItem.name.ilike(like),
                           CatalogueItem.prestatiecode == text.upper()))


def check_prestatiecode(technique: str | None, code_list: str, code: str) -> None:
    """Refuse a code list or code of the wrong shape, and a missing one on an item that can be reimbursable
    (the form says the same per field; this guards every other caller, such as the demo seed)."""
    for field, error in (("prestatiecode_list", prestatiecodes.code_list_error(code_list)),
                         ("prestatiecode", prestatiecodes.code_error(code))):
        if error is not None:
            raise PrestatiecodeInvalid(str(error), field)
    if gaps := prestatiecodes.missing(technique, code_list, code):
        field = "prestatiecode_list" if not prestatiecodes.normalise(code_list) else "prestatiecode"
        raise PrestatiecodeInvalid(_("This treatment can be reimbursed: enter its %(missing)s.",
                                     missing=" / ".join(map(str, gaps))), field)


def save_item(item: CatalogueItem | None, data: CatalogueItemInput) -> CatalogueItem:
    """Create (item None) or change a catalogue item. Refused with DuplicateCode when the code is taken, also when
    a concurrent request took it between the check and the flush: the caller then discards the unit of work."""
    if to_cents(data.price) <= 0:
        raise PriceNotPositive(_("Enter a price above EUR 0,00."))
    code_list, prestatiecode = (prestatiecodes.normalise(data.prestatiecode_list),
                                prestatiecodes.normalise(data.prestatiecode))
    check_prestatiecode(data.technique or None, code_list, prestatiecode)
    # Case-insensitive, so "frac-face" and "FRAC-FACE" do not become two items.
    if code_taken(data.code, item):
        raise DuplicateCode(_("Another treatment already has code %(code)s.", code=data.code))
    if item is None:
        item = CatalogueItem()
        db.session.add(item)
    item.code = data.code
    item.name = data.name
    item.technique = data.technique or None
    item.prestatiecode_list = code_list
    item.prestatiecode = prestatiecode
    item.price_cents = to_cents(data.price)
    item.duration_minutes = data.duration_minutes
    item.active = bool(data.active)
    # Worded before the flush: after a failed flush the session cannot load the user whose language it needs.
    taken = _("Another treatment already has this code.")
    try:
        db.session.flush()
    except IntegrityError:  # the unique constraint on code: a concurrent request took it first
        raise DuplicateCode(taken) from None
    return item
