"""What a treatment is for decides everything downstream: medical or cosmetic, VAT, reimbursement.

The same device is medical for acne scars and cosmetic for skin rejuvenation: the indication decides,
not the device (see shared/domain.md).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from .texts import N_


class Category(enum.StrEnum):
    """The groups insurers write their rules in."""

    SCARS = "scars"
    ACNE = "acne"
    HAIR_REMOVAL = "hair_removal"
    CAMOUFLAGE = "camouflage"
    OEDEMA = "oedema"
    COSMETIC = "cosmetic"


class ExtensibleEnum(enum.StrEnum):
    """A built-in set of codes the practice may extend (its tables: models/clinical.py).

    `Indication("keloid_scar")` of a code the practice added gives a member outside the built-in set (not listed
    when iterating the enum), so code written for the built-in set keeps working for the added codes; the lookup
    the app plugs in (`set_lookup`) says which codes exist and what they are. Without it (the domain's own tests,
    a script) only the built-in codes exist.
    """

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, str) and value and _lookup(cls.__name__, value) is not None:
            member = str.__new__(cls, value)
            member._name_ = value.upper()
            member._value_ = value
            return member
        return None


# (kind, code) -> what the practice keeps for an added code: IndicationInfo for "Indication"; for "Technique" a
# TechniqueInfo. None: no such code.
Lookup = Callable[[str, str], Any]


def _no_lookup(kind: str, code: str) -> None:
    return None


_lookup: Lookup = _no_lookup


def set_lookup(lookup: Lookup | None) -> None:
    """Plug in the lookup of codes the practice added (the app does, reading its tables); None: built-in only."""
    global _lookup
    _lookup = lookup or _no_lookup


K = TypeVar("K")
V = TypeVar("V")


class ExtensibleMap(dict[K, V]):
    """A built-in mapping that answers for an added code through the lookup (`attribute` of what it returns)."""

    def __init__(self, kind: str, attribute: str, items: dict[K, V]) -> None:
        super().__init__(items)
        self.kind = kind
        self.attribute = attribute

    def __missing__(self, key: K) -> V:
        found = _lookup(self.kind, str(key)) if isinstance(key, str) else None
        if found is None:
            raise KeyError(key)
        value: V = getattr(found, self.attribute) if self.attribute else found
        return value


class Indication(ExtensibleEnum):
    ACNE_SCAR = "acne_scar"
    BURN_SCAR = "burn_scar"
    SURGICAL_SCAR = "surgical_scar"
    TRAUMA_SCAR = "trauma_scar"
    ACNE = "acne"
    HIRSUTISM = "hirsutism"
    HYPERTRICHOSIS = "hypertrichosis"
    PCOS = "pcos"
    CAMOUFLAGE = "camouflage"
    OEDEMA = "oedema"
    FINE_LINES = "fine_lines"
    COARSE_PORES = "coarse_pores"
    SUN_DAMAGE = "sun_damage"
    SKIN_FIRMING = "skin_firming"
    AGEING_PREVENTION = "ageing_prevention"
    COSMETIC_HAIR_REMOVAL = "cosmetic_hair_removal"


@dataclass(frozen=True)
class IndicationInfo:
    label: str
    category: Category

    @property
    def medical(self) -> bool:
        return self.category is not Category.COSMETIC


@dataclass(frozen=True)
class TechniqueInfo:
    """A technique the practice added: its label and the indications it treats."""

    label: str
    indications: frozenset[str]


INDICATIONS: dict[Indication, IndicationInfo] = ExtensibleMap("Indication", "", {
    Indication.ACNE_SCAR: IndicationInfo(N_("Acne scars"), Category.SCARS),
    Indication.BURN_SCAR: IndicationInfo(N_("Burn scars"), Category.SCARS),
    Indication.SURGICAL_SCAR: IndicationInfo(N_("Surgical scars"), Category.SCARS),
    Indication.TRAUMA_SCAR: IndicationInfo(N_("Trauma scars"), Category.SCARS),
    Indication.ACNE: IndicationInfo(N_("Acne"), Category.ACNE),
    Indication.HIRSUTISM: IndicationInfo(N_("Hirsutism"), Category.HAIR_REMOVAL),
    Indication.HYPERTRICHOSIS: IndicationInfo(N_("Hypertrichosis"), Category.HAIR_REMOVAL),
    Indication.PCOS: IndicationInfo(N_("PCOS (hair growth)"), Category.HAIR_REMOVAL),
    Indication.CAMOUFLAGE: IndicationInfo(N_("Camouflage of a disfigurement"), Category.CAMOUFLAGE),
    Indication.OEDEMA: IndicationInfo(N_("Oedema"), Category.OEDEMA),
    Indication.FINE_LINES: IndicationInfo(N_("Fine lines and wrinkles"), Category.COSMETIC),
    Indication.COARSE_PORES: IndicationInfo(N_("Coarse pores and irregular relief"), Category.COSMETIC),
    Indication.SUN_DAMAGE: IndicationInfo(N_("Sun damage"), Category.COSMETIC),
    Indication.SKIN_FIRMING: IndicationInfo(N_("Skin firming"), Category.COSMETIC),
    Indication.AGEING_PREVENTION: IndicationInfo(N_("Prevention of skin ageing"), Category.COSMETIC),
    Indication.COSMETIC_HAIR_REMOVAL: IndicationInfo(N_("Cosmetic hair removal"), Category.COSMETIC),
})


class BodyArea(enum.StrEnum):
    FACE = "face"
    NECK = "neck"
    SCALP = "scalp"
    CHEST = "chest"
    BACK = "back"
    ABDOMEN = "abdomen"
    ARMS = "arms"
    HANDS = "hands"
    ARMPITS = "armpits"
    BIKINI_LINE = "bikini_line"
    LEGS = "legs"
    FEET = "feet"
    OTHER = "other"


BODY_AREA_LABELS: dict[BodyArea, str] = {
    BodyArea.FACE: N_("Face"),
    BodyArea.NECK: N_("Neck"),
    BodyArea.SCALP: N_("Scalp"),
    BodyArea.CHEST: N_("Chest"),
    BodyArea.BACK: N_("Back"),
    BodyArea.ABDOMEN: N_("Abdomen"),
    BodyArea.ARMS: N_("Arms"),
    BodyArea.HANDS: N_("Hands"),
    BodyArea.ARMPITS: N_("Armpits"),
    BodyArea.BIKINI_LINE: N_("Bikini line"),
    BodyArea.LEGS: N_("Legs"),
    BodyArea.FEET: N_("Feet"),
    BodyArea.OTHER: N_("Other area"),
}

CATEGORY_LABELS: dict[Category, str] = {
    Category.SCARS: N_("Scars"),
    Category.ACNE: N_("Acne"),
    Category.HAIR_REMOVAL: N_("Hair removal"),
    Category.CAMOUFLAGE: N_("Camouflage"),
    Category.OEDEMA: N_("Oedema"),
    Category.COSMETIC: N_("Cosmetic"),
}


class Technique(ExtensibleEnum):
    FRACTIONAL_LASER = "fractional_laser"
    LASER_HAIR_REMOVAL = "laser_hair_removal"
    IPL = "ipl"
    ELECTROLYSIS = "electrolysis"
    CAMOUFLAGE_LESSON = "camouflage_lesson"
    LYMPH_DRAINAGE = "lymph_drainage"
    PEEL = "peel"
    OTHER = "other"


TECHNIQUE_LABELS: dict[Technique, str] = ExtensibleMap("Technique", "label", {
    Technique.FRACTIONAL_LASER: N_("Fractional laser"),
    Technique.LASER_HAIR_REMOVAL: N_("Laser hair removal"),
    Technique.IPL: N_("IPL"),
    Technique.ELECTROLYSIS: N_("Electrolysis (electric epilation)"),
    Technique.CAMOUFLAGE_LESSON: N_("Camouflage lesson"),
    Technique.LYMPH_DRAINAGE: N_("Manual lymph drainage"),
    Technique.PEEL: N_("Chemical peel"),
    Technique.OTHER: N_("Other"),
})


# Which indications a technique can treat (the treatment form offers only these; the server refuses the others).
# A catalogue item without a technique, or with "other", fits every indication.
TECHNIQUE_INDICATIONS: dict[Technique, frozenset[Indication]] = ExtensibleMap("Technique", "indications", {
    Technique.FRACTIONAL_LASER: frozenset({
        Indication.ACNE_SCAR, Indication.BURN_SCAR, Indication.SURGICAL_SCAR, Indication.TRAUMA_SCAR,
        Indication.FINE_LINES, Indication.COARSE_PORES, Indication.SUN_DAMAGE, Indication.SKIN_FIRMING,
        Indication.AGEING_PREVENTION}),
    Technique.LASER_HAIR_REMOVAL: frozenset({
        Indication.HIRSUTISM, Indication.HYPERTRICHOSIS, Indication.PCOS, Indication.COSMETIC_HAIR_REMOVAL}),
    Technique.IPL: frozenset({
        Indication.HIRSUTISM, Indication.HYPERTRICHOSIS, Indication.PCOS, Indication.COSMETIC_HAIR_REMOVAL,
        Indication.ACNE, Indication.SUN_DAMAGE, Indication.FINE_LINES, Indication.COARSE_PORES,
        Indication.AGEING_PREVENTION, Indication.BURN_SCAR, Indication.SURGICAL_SCAR, Indication.TRAUMA_SCAR}),
    Technique.ELECTROLYSIS: frozenset({
        Indication.HIRSUTISM, Indication.HYPERTRICHOSIS, Indication.PCOS, Indication.COSMETIC_HAIR_REMOVAL}),
    Technique.CAMOUFLAGE_LESSON: frozenset({Indication.CAMOUFLAGE}),
    Technique.LYMPH_DRAINAGE: frozenset({Indication.OEDEMA}),
    Technique.PEEL: frozenset({
        Indication.ACNE, Indication.ACNE_SCAR, Indication.FINE_LINES, Indication.COARSE_PORES, Indication.SUN_DAMAGE,
        Indication.AGEING_PREVENTION}),
})


# The seed of the techniques table: who may be treated, and with which contraindications.
# The clinic's list of contraindications and its minimum age of 18 (shared/seed/clinic-fractional-laser-page.txt)
# are written for its laser treatments; they apply to the laser techniques and IPL (light, the same risks). Chemical
# peels and electrolysis are screened the same way until the practice decides otherwise (the sources say nothing
# about them, and isotretinoin, pregnancy or a pacemaker matter there too); camouflage lessons, lymph drainage and an
# acne treatment without a technique are not: a pregnant patient or a 16-year-old may have those.
SCREENED_TECHNIQUES: frozenset[Technique] = frozenset({
    Technique.FRACTIONAL_LASER, Technique.LASER_HAIR_REMOVAL, Technique.IPL, Technique.ELECTROLYSIS, Technique.PEEL,
})
TECHNIQUE_MINIMUM_AGE: dict[Technique, int | None] = {
    technique: 18 if technique in SCREENED_TECHNIQUES else None for technique in Technique
}


def fits(technique: Technique | str | None, indication: Indication | str) -> bool:
    """Whether a treatment with this technique can be given for this indication."""
    if not technique or technique == Technique.OTHER:
        return True
    return Indication(indication) in TECHNIQUE_INDICATIONS[Technique(technique)]
