"""Vektis prestatiecodes on catalogue items: the shape of a code list and a code, and which items need one.

Since 2025 the Generieke Declaratiestandaard Paramedische Zorg asks for the national code of every reimbursable
treatment, also on invoices the patient sends in; skin therapy is code list 075 (Prestatiecodelijst
huidtherapie). The codes themselves come from Vektis and are not in this repository: the practice enters them
per catalogue item, and only their shape is checked here (see shared/domain.md).

Pure: no Flask, no database.
"""

from __future__ import annotations

import re

from .indications import INDICATIONS, TECHNIQUE_INDICATIONS, Technique
from .texts import N_, Text, label

HUIDTHERAPIE = "075"  # Vektis code list "Prestatiecodelijst huidtherapie"

# ASCII only: `\d` and str.isdigit() accept every Unicode digit (architecture.md, traps).
_CODE_LIST = re.compile(r"[0-9]{3}", re.ASCII)
_CODE = re.compile(r"[0-9A-Z]{4,6}", re.ASCII)

CODE_LIST_SHAPE = N_("Enter the code list as 3 digits, e.g. 075.")
CODE_SHAPE = N_("Enter the prestatiecode as 4 to 6 letters or digits, e.g. 1234.")


def normalise(text: str | None) -> str:
    """A code as stored: without surrounding spaces, capital letters."""
    return (text or "").strip().upper()


def code_list_error(text: str | None) -> Text | None:
    """Why `text` is not a code list's shape (None: it is, or it is empty)."""
    value = normalise(text)
    return None if not value or _CODE_LIST.fullmatch(value) else label(CODE_LIST_SHAPE)


def code_error(text: str | None) -> Text | None:
    """Why `text` is not a prestatiecode's shape (None: it is, or it is empty)."""
    value = normalise(text)
    return None if not value or _CODE.fullmatch(value) else label(CODE_SHAPE)


def can_be_reimbursable(technique: Technique | str | None) -> bool:
    """Whether a catalogue item with this technique can be recorded for a medical indication (and so be claimed
    from an insurer). An item without a technique, or with "other", fits every indication; a technique that
    serves cosmetic indications only does not need a prestatiecode."""
    if not technique or technique == Technique.OTHER:
        return True
    return any(INDICATIONS[indication].medical for indication in TECHNIQUE_INDICATIONS[Technique(technique)])


def missing(technique: Technique | str | None, code_list: str | None, code: str | None) -> list[Text]:
    """What a catalogue item with this technique lacks to be claimable: the code list and/or the code."""
    if not can_be_reimbursable(technique):
        return []
    gaps = []
    if not normalise(code_list):
        gaps.append(label(N_("Vektis code list")))
    if not normalise(code):
        gaps.append(label(N_("prestatiecode")))
    return gaps
