"""What a treatment is for decides everything downstream: medical or cosmetic, VAT, reimbursement.

The same device is medical for acne scars and cosmetic for skin rejuvenation: the indication decides,
not the device (see shared/domain.md).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .texts import N_


class Category(enum.StrEnum):
    """The groups insurers write their rules in."""

    SCARS = "scars"
    ACNE = "acne"
    HAIR_REMOVAL = "hair_removal"
    CAMOUFLAGE = "camouflage"
    OEDEMA = "oedema"
    COSMETIC = "cosmetic"


class Indication(enum.StrEnum):
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


INDICATIONS: dict[Indication, IndicationInfo] = {
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
}


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


class Technique(enum.StrEnum):
    FRACTIONAL_LASER = "fractional_laser"
    LASER_HAIR_REMOVAL = "laser_hair_removal"
    IPL = "ipl"
    ELECTROLYSIS = "electrolysis"
    CAMOUFLAGE_LESSON = "camouflage_lesson"
    LYMPH_DRAINAGE = "lymph_drainage"
    PEEL = "peel"
    OTHER = "other"


TECHNIQUE_LABELS: dict[Technique, str] = {
    Technique.FRACTIONAL_LASER: N_("Fractional laser"),
    Technique.LASER_HAIR_REMOVAL: N_("Laser hair removal"),
    Technique.IPL: N_("IPL"),
    Technique.ELECTROLYSIS: N_("Electrolysis (electric epilation)"),
    Technique.CAMOUFLAGE_LESSON: N_("Camouflage lesson"),
    Technique.LYMPH_DRAINAGE: N_("Manual lymph drainage"),
    Technique.PEEL: N_("Chemical peel"),
    Technique.OTHER: N_("Other"),
}


# Which indications a technique can treat (the treatment form offers only these; the server refuses the others).
# A catalogue item without a technique, or with "other", fits every indication.
TECHNIQUE_INDICATIONS: dict[Technique, frozenset[Indication]] = {
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
}


def fits(technique: Technique | str | None, indication: Indication | str) -> bool:
    """Whether a treatment with this technique can be given for this indication."""
    if not technique or technique == Technique.OTHER:
        return True
    return Indication(indication) in TECHNIQUE_INDICATIONS[Technique(technique)]
