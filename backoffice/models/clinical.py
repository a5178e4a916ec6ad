"""Techniques, indications and contraindications as the practice keeps them (admin pages: backoffice/clinical/).

Seeded with the built-in set of domain/indications.py and domain/intake.py when the tables are created (here for
`create_all`, in migration 0017 for an existing database): every built-in code stays valid. A treatment stores its
indication's code, a catalogue item its technique's code and an intake its contraindications' codes, so a row in
use is deactivated, never deleted. A seeded row's label is an English message id (shown translated); a row the
practice adds carries its own words.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import CheckConstraint, Column, Connection, ForeignKey, String, Table, event, select
from sqlalchemy import table as light_table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain.indications import (
    INDICATIONS,
    SCREENED_TECHNIQUES,
    TECHNIQUE_INDICATIONS,
    TECHNIQUE_LABELS,
    TECHNIQUE_MINIMUM_AGE,
    Category,
    Technique,
)
from ..domain.intake import BUILT_IN_CONTRAINDICATIONS, ContraindicationRule, RuleKind, Wait, WaitUnit
from .base import Model, one_of

indication_techniques = Table(
    "indication_techniques", Model.metadata,
    Column("indication_id", ForeignKey("indications.id"), primary_key=True),
    Column("technique_id", ForeignKey("techniques.id"), primary_key=True),
)

contraindication_techniques = Table(
    "contraindication_techniques", Model.metadata,
    Column("contraindication_id", ForeignKey("contraindications.id"), primary_key=True),
    Column("technique_id", ForeignKey("techniques.id"), primary_key=True),
)


class ClinicalTechnique(Model):
    """A technique (fractional laser, camouflage lesson) with the minimum age of a patient treated with it."""

    __tablename__ = "techniques"
    __table_args__ = (
        CheckConstraint("minimum_age IS NULL OR (minimum_age >= 0 AND minimum_age <= 120)",
                        name="minimum_age_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    minimum_age: Mapped[int | None]   # None: no minimum age
    active: Mapped[bool] = mapped_column(default=True)


class ClinicalIndication(Model):
    """What a treatment is for; its category (the groups insurers write rules in) decides medical or cosmetic."""

    __tablename__ = "indications"
    __table_args__ = (CheckConstraint(one_of("category", Category), name="category_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(default=True)

    techniques: Mapped[list[ClinicalTechnique]] = relationship(secondary=indication_techniques,
                                                               order_by=ClinicalTechnique.id)

    @property
    def medical(self) -> bool:
        return self.category != Category.COSMETIC


class ClinicalContraindication(Model):
    """A contraindication (or a medication) recorded at intake, its rule, and the techniques it applies to."""

    __tablename__ = "contraindications"
    __table_args__ = (
        CheckConstraint(one_of("rule", RuleKind), name="rule_known"),
        CheckConstraint(one_of("wait_unit", WaitUnit) + " OR wait_unit IS NULL", name="wait_unit_known"),
        CheckConstraint("(rule = 'wait_after_end') = (wait_amount IS NOT NULL AND wait_unit IS NOT NULL)",
                        name="wait_with_its_rule"),
        CheckConstraint("wait_amount IS NULL OR wait_amount > 0", name="wait_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    medication: Mapped[bool] = mapped_column(default=False)
    area_bound: Mapped[bool] = mapped_column(default=False)
    rule: Mapped[str] = mapped_column(String(20), default=RuleKind.BLOCKS.value)
    wait_amount: Mapped[int | None]
    wait_unit: Mapped[str | None] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(default=True)

    techniques: Mapped[list[ClinicalTechnique]] = relationship(secondary=contraindication_techniques,
                                                               order_by=ClinicalTechnique.id)

    def to_domain(self) -> ContraindicationRule:
        wait = Wait(self.wait_amount, WaitUnit(self.wait_unit)) \
            if self.rule == RuleKind.WAIT_AFTER_END and self.wait_amount and self.wait_unit else None
        return ContraindicationRule(code=self.code, label=self.label, medication=self.medication,
                                    area_bound=self.area_bound, kind=RuleKind(self.rule) if wait else RuleKind.BLOCKS,
                                    wait=wait)


# ---- the built-in set ------------------------------------------------------------------------------------------
# Written through lightweight tables (fixed column names), so migration 0017 inserts exactly the same rows.

_techniques = light_table("techniques", Column("code"), Column("label"), Column("minimum_age"), Column("active"))
_indications = light_table("indications", Column("code"), Column("label"), Column("category"), Column("active"))
_contraindications = light_table(
    "contraindications", Column("code"), Column("label"), Column("medication"), Column("area_bound"),
    Column("rule"), Column("wait_amount"), Column("wait_unit"), Column("active"))
_ids = {name: light_table(name, Column("id"), Column("code"))
        for name in ("techniques", "indications", "contraindications")}
_links = {
    "indication_techniques": light_table("indication_techniques", Column("indication_id"), Column("technique_id")),
    "contraindication_techniques": light_table("contraindication_techniques", Column("contraindication_id"),
                                               Column("technique_id")),
}


def seed_rows() -> dict[str, list[dict[str, Any]]]:
    """The built-in rows per table; link tables as (code, technique code) pairs."""
    return {
        "techniques": [{"code": t.value, "label": TECHNIQUE_LABELS[t], "minimum_age": TECHNIQUE_MINIMUM_AGE[t],
                        "active": True} for t in Technique],
        "indications": [{"code": i.value, "label": info.label, "category": info.category.value, "active": True}
                        for i, info in INDICATIONS.items()],
        "contraindications": [
            {"code": rule.code, "label": rule.label, "medication": rule.medication, "area_bound": rule.area_bound,
             "rule": rule.kind.value, "wait_amount": rule.wait.amount if rule.wait else None,
             "wait_unit": rule.wait.unit.value if rule.wait else None, "active": True}
            for rule in BUILT_IN_CONTRAINDICATIONS],
        "indication_techniques": [{"code": i.value, "technique": t.value}
                                  for t, indications in TECHNIQUE_INDICATIONS.items()
                                  for i in sorted(indications)],
        "contraindication_techniques": [{"code": rule.code, "technique": t.value}
                                        for rule in BUILT_IN_CONTRAINDICATIONS
                                        for t in Technique if t in SCREENED_TECHNIQUES],
    }


def seed_table(name: str, connection: Connection) -> None:
    """Insert the built-in rows of one table (its parents must hold theirs)."""
    rows = seed_rows()[name]
    if name in _links:
        parent = "indications" if name == "indication_techniques" else "contraindications"
        owner = f"{parent[:-1]}_id"
        ids = {p: {row.code: row.id for row in connection.execute(select(_ids[p].c.code, _ids[p].c.id))}
               for p in (parent, "techniques")}
        rows = [{owner: ids[parent][r["code"]], "technique_id": ids["techniques"][r["technique"]]} for r in rows]
        connection.execute(_links[name].insert(), rows)
        return
    target = {"techniques": _techniques, "indications": _indications, "contraindications": _contraindications}[name]
    connection.execute(target.insert(), rows)


def _seed_on_create(table: Table, connection: Connection, **kw: Any) -> None:
    seed_table(table.name, connection)


for _table in (ClinicalTechnique.__table__, ClinicalIndication.__table__, ClinicalContraindication.__table__,
               indication_techniques, contraindication_techniques):
    event.listen(_table, "after_create", _seed_on_create)
