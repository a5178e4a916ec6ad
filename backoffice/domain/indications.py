"""What a treatment is for decides everything downstream: medical or cosmetic, VAT, reimbursement.

The same device is medical for acne scars and cosmetic for skin rejuvenation: the indication decides,
not the device (see shared/domain.md).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


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
    Indication.ACNE_SCAR: IndicationInfo("Acne scars", Category.SCARS),
    Indication.BURN_SCAR: IndicationInfo("Burn scars", Category.SCARS),
    Indication.SURGICAL_SCAR: IndicationInfo("Surgical scars", Category.SCARS),
    Indication.TRAUMA_SCAR: IndicationInfo("Trauma scars", Category.SCARS),
    Indication.ACNE: IndicationInfo("Acne", Category.ACNE),
    Indication.HIRSUTISM: IndicationInfo("Hirsutism", Category.HAIR_REMOVAL),
    Indication.HYPERTRICHOSIS: IndicationInfo("Hypertrichosis", Category.HAIR_REMOVAL),
    Indication.PCOS: IndicationInfo("PCOS (hair growth)", Category.HAIR_REMOVAL),
    Indication.CAMOUFLAGE: IndicationInfo("Camouflage of a disfigurement", Category.CAMOUFLAGE),
    Indication.OEDEMA: IndicationInfo("Oedema", Category.OEDEMA),
    Indication.FINE_LINES: IndicationInfo("Fine lines and wrinkles", Category.COSMETIC),
    Indication.COARSE_PORES: IndicationInfo("Coarse pores and irregular relief", Category.COSMETIC),
    Indication.SUN_DAMAGE: IndicationInfo("Sun damage", Category.COSMETIC),
    Indication.SKIN_FIRMING: IndicationInfo("Skin firming", Category.COSMETIC),
    Indication.AGEING_PREVENTION: IndicationInfo("Prevention of skin ageing", Category.COSMETIC),
    Indication.COSMETIC_HAIR_REMOVAL: IndicationInfo("Cosmetic hair removal", Category.COSMETIC),
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
    Technique.FRACTIONAL_LASER: "Fractional laser",
    Technique.LASER_HAIR_REMOVAL: "Laser hair removal",
    Technique.IPL: "IPL",
    Technique.ELECTROLYSIS: "Electrolysis (electric epilation)",
    Technique.CAMOUFLAGE_LESSON: "Camouflage lesson",
    Technique.LYMPH_DRAINAGE: "Manual lymph drainage",
    Technique.PEEL: "Chemical peel",
    Technique.OTHER: "Other",
}
