"""The claim workbook in plain Python: batch and claim references, the sheet's columns, an insurer's column
template and the rows written for included and excluded lines.

Pure: `backoffice.claims.workbook.write_claim_workbook` writes these rows with the insurer's `ClaimTemplate`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from .claim_facts import referrer_label
from .claim_reasons import Reason
from .claim_validation import LineVerdict
from .credentials import KpLevel
from .dutch import nl_date as _day  # the one Dutch date format (24-11-2026)
from .indications import CATEGORY_LABELS, TECHNIQUE_LABELS, Category, Technique
from .money import round_cents
from .referrals import Referral
from .texts import Text, msg, translate

# ---- references ---------------------------------------------------------------------------------------------


def batch_number(uzovi: str, year: int, sequence: int) -> str:
    """3311-2026-004: the fourth batch for UZOVI 3311 in 2026."""
    if sequence < 1:
        raise ValueError("batch sequences start at 1")
    return f"{uzovi}-{year}-{sequence:03d}"


def claim_reference(batch: str, sequence: int) -> str:
    """3311-2026-004-00012: line 12 of that batch. A resubmission gets a new reference in its new batch."""
    if sequence < 1:
        raise ValueError("line sequences start at 1")
    return f"{batch}-{sequence:05d}"


def normalise_reference(value: str) -> str:
    """Spreadsheets add spaces and change case; references match on what is left."""
    return re.sub(r"\s+", "", str(value or "")).upper()


# ---- the workbook's columns ---------------------------------------------------------------------------------


class ColumnKind(enum.StrEnum):
    TEXT = "text"
    DATE = "date"
    MONEY = "money"


@dataclass(frozen=True)
class ColumnSpec:
    key: str
    header: str       # default header (Dutch: the workbook goes to Dutch insurers)
    kind: ColumnKind
    width: int        # in characters


@dataclass(frozen=True)
class ClaimRow:
    """One line of the claim sheet: every value a template column can show (keys are these field names)."""

    patient_name: str
    date_of_birth: date
    insurer_name: str
    uzovi: str
    policy_number: str
    treatment_date: date
    prestatiecode: str
    description: str
    category: str
    therapist_name: str
    therapist_agb: str
    practice_agb: str
    kp_number: str
    referral: str
    amount: Decimal
    expected_reimbursement: Decimal
    invoice_number: str
    claim_reference: str
    bsn: str = ""
    indication: str = ""
    technique: str = ""
    referral_date: date | None = None
    referrer_agb: str = ""
    kp_level: str = ""
    nvh_number: str = ""


_T, _D, _M = ColumnKind.TEXT, ColumnKind.DATE, ColumnKind.MONEY
COLUMN_SPECS: dict[str, ColumnSpec] = {spec.key: spec for spec in (
    ColumnSpec("patient_name", "Naam patiënt", _T, 28),
    ColumnSpec("date_of_birth", "Geboortedatum", _D, 13),
    ColumnSpec("bsn", "BSN", _T, 11),
    ColumnSpec("insurer_name", "Verzekeraar", _T, 22),
    ColumnSpec("uzovi", "UZOVI", _T, 7),
    ColumnSpec("policy_number", "Polisnummer", _T, 16),
    ColumnSpec("treatment_date", "Behandeldatum", _D, 13),
    ColumnSpec("prestatiecode", "Prestatiecode", _T, 12),
    ColumnSpec("description", "Omschrijving", _T, 36),
    ColumnSpec("category", "Indicatiecategorie", _T, 18),
    ColumnSpec("indication", "Indicatie", _T, 24),
    ColumnSpec("technique", "Techniek", _T, 20),
    ColumnSpec("therapist_name", "Therapeut", _T, 24),
    ColumnSpec("therapist_agb", "AGB therapeut", _T, 12),
    ColumnSpec("practice_agb", "AGB praktijk", _T, 12),
    ColumnSpec("kp_number", "KP-nummer", _T, 12),
    ColumnSpec("kp_level", "KP-niveau", _T, 18),
    ColumnSpec("nvh_number", "NVH-lidnummer", _T, 14),
    ColumnSpec("referral", "Verwijzing", _T, 40),
    ColumnSpec("referral_date", "Verwijsdatum", _D, 13),
    ColumnSpec("referrer_agb", "AGB verwijzer", _T, 12),
    ColumnSpec("amount", "Bedrag", _M, 12),
    ColumnSpec("expected_reimbursement", "Verwachte vergoeding", _M, 14),
    ColumnSpec("invoice_number", "Factuurnummer", _T, 14),
    ColumnSpec("claim_reference", "Claimreferentie", _T, 20),
)}

# What an insurer's desk checks on a line: the prestatiecode, the technique (CZ requires it for hair removal), the
# therapist's KP number and level and NVH number, the referral; the BSN only where the insurer requires it.
DEFAULT_COLUMN_KEYS: tuple[str, ...] = (
    "patient_name", "date_of_birth", "bsn", "insurer_name", "uzovi", "policy_number", "treatment_date",
    "prestatiecode", "description", "category", "technique", "therapist_name", "therapist_agb", "practice_agb",
    "kp_number", "kp_level", "nvh_number", "referral", "amount", "expected_reimbursement", "invoice_number",
    "claim_reference",
)

# Columns that carry data only some insurers may receive: the BSN goes on a claim line only when the insurer's
# settings require it (InsurerClaimSettings.bsn_required).
BSN_COLUMNS = frozenset({"bsn"})

# The KP register levels as the register itself names them (proper names, the same in Dutch and English).
KP_LEVEL_WORDS: dict[str, str] = {
    KpLevel.KWALITEITSREGISTER.value: "Kwaliteitsregister",
    KpLevel.DIPLOMAREGISTER.value: "Diplomaregister",
}


def column_choices(*, bsn_required: bool) -> tuple[ColumnSpec, ...]:
    """The columns a template of this insurer may use, in the default order first: the BSN only when required."""
    keys = [*DEFAULT_COLUMN_KEYS, *(k for k in COLUMN_SPECS if k not in DEFAULT_COLUMN_KEYS)]
    return tuple(COLUMN_SPECS[k] for k in keys if bsn_required or k not in BSN_COLUMNS)


class TemplateError(ValueError):
    """The insurer's column list cannot be used; `str(error)` words why in the reader's language (a Text)."""


def _unknown(key: str) -> Text:
    return msg("Unknown column “%(key)s”; known: %(known)s.", key=key, known=", ".join(sorted(COLUMN_SPECS)))


@dataclass(frozen=True)
class TemplateColumn:
    key: str
    header: str

    @property
    def spec(self) -> ColumnSpec:
        return COLUMN_SPECS[self.key]


@dataclass(frozen=True)
class ClaimTemplate:
    """An insurer's claim-sheet columns: which, in what order, under which headers. Stored per insurer as
    `to_config()` (a JSON-ready list) and read back with `from_config`."""

    columns: tuple[TemplateColumn, ...]

    def __post_init__(self) -> None:
        if not self.columns:
            raise TemplateError(msg("A template needs at least one column."))
        seen = set()
        for column in self.columns:
            if column.key not in COLUMN_SPECS:
                raise TemplateError(_unknown(column.key))
            if column.key in seen:
                raise TemplateError(msg("Column “%(key)s” appears twice.", key=column.key))
            if not column.header.strip():
                raise TemplateError(msg("Column “%(key)s” has an empty header.", key=column.key))
            seen.add(column.key)

    @classmethod
    def default(cls, *, bsn_required: bool = True) -> ClaimTemplate:
        keys = [k for k in DEFAULT_COLUMN_KEYS if bsn_required or k != "bsn"]
        return cls(tuple(TemplateColumn(k, COLUMN_SPECS[k].header) for k in keys))

    @classmethod
    def from_config(cls, config: Sequence[str | Mapping[str, str]]) -> ClaimTemplate:
        """["patient_name", {"key": "amount", "header": "Bedrag incl."}, ...]; a bare key keeps its header."""
        columns = []
        for item in config:
            if isinstance(item, str):
                key, header = item, None
            else:
                key, header = item.get("key", ""), item.get("header")
            if key not in COLUMN_SPECS:
                raise TemplateError(_unknown(key))
            columns.append(TemplateColumn(key, header if header is not None else COLUMN_SPECS[key].header))
        return cls(tuple(columns))

    def to_config(self) -> list[dict[str, str]]:
        return [{"key": c.key, "header": c.header} for c in self.columns]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.columns)

    def check_for(self, *, bsn_required: bool) -> ClaimTemplate:
        """This template, refused when it asks for the BSN of an insurer that does not require it."""
        if not bsn_required:
            for column in self.columns:
                if column.key in BSN_COLUMNS:
                    raise TemplateError(msg("Column “%(key)s”: this insurer does not require the BSN, so it is not "
                                            "sent.", key=column.key))
        return self

    def without_bsn(self) -> ClaimTemplate:
        """The template without its BSN column (a template saved before the insurer stopped requiring it)."""
        kept = tuple(c for c in self.columns if c.key not in BSN_COLUMNS)
        return self if len(kept) == len(self.columns) else ClaimTemplate(kept)


def referral_text(referral: Referral | None) -> str:
    if referral is None:
        return ""
    agb = f" (AGB {referral.referrer_agb})" if referral.referrer_agb else ""
    diagnosis = f": {referral.diagnosis}" if referral.diagnosis else ""
    return (f"{referrer_label(referral)}{agb}, {_day(referral.referral_date)}{diagnosis}; geldig t/m "
            f"{_day(referral.valid_until)}")


def _label(labels: Mapping[Any, str], kind: type[enum.Enum], value: str) -> str:
    """An enum value's label in the current language (the export renders the workbook in Dutch); other text as
    it is."""
    try:
        return translate(labels[kind(value)])
    except (ValueError, KeyError):
        return value


def claim_row(verdict: LineVerdict, claim_reference: str) -> ClaimRow:
    """The claim-sheet row for an included line; the expected reimbursement is what is claimed after caps."""
    line = verdict.line
    return ClaimRow(
        patient_name=line.patient_name, date_of_birth=line.date_of_birth, bsn=line.bsn,
        insurer_name=line.insurer_name, uzovi=line.uzovi,
        policy_number=line.policy.number if line.policy else "", treatment_date=line.treatment_date,
        prestatiecode=line.prestatiecode, description=line.description,
        category=_label(CATEGORY_LABELS, Category, line.category), indication=translate(line.indication_label),
        technique=_label(TECHNIQUE_LABELS, Technique, line.technique),
        therapist_name=line.therapist.name, therapist_agb=line.therapist.personal_agb,
        practice_agb=line.practice_agb, kp_number=line.therapist.kp_number,
        kp_level=KP_LEVEL_WORDS.get(line.therapist.kp_level, line.therapist.kp_level),
        nvh_number=line.therapist.nvh_number, referral=referral_text(line.referral),
        referral_date=line.referral.referral_date if line.referral else None,
        referrer_agb=line.referral.referrer_agb if line.referral else "",
        amount=round_cents(line.amount), expected_reimbursement=verdict.claimable,
        invoice_number=line.invoice_number, claim_reference=claim_reference,
    )


@dataclass(frozen=True)
class ExcludedRow:
    patient_name: str
    treatment_date: date
    invoice_number: str
    description: str
    therapist_name: str
    amount: Decimal
    reasons: tuple[Reason, ...]


def excluded_row(verdict: LineVerdict) -> ExcludedRow:
    line = verdict.line
    return ExcludedRow(patient_name=line.patient_name, treatment_date=line.treatment_date,
                       invoice_number=line.invoice_number, description=line.description,
                       therapist_name=line.therapist.name, amount=round_cents(line.amount), reasons=verdict.reasons)
