"""Enum values as people read them, in the current language: the one place codes become words.

The domain keeps the English label of each value (marked with N_ for the catalogue); these functions translate it
when shown. Templates use the filters (`{{ treatment.indication|indication }}`), forms the choice lists (lazy, so
a form class built at import time still shows each user's language). Inside `i18n.dutch()` all of it is Dutch,
which is how documents and the report workbook get "Acnelittekens" and never "Acne scars".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from typing import Any

from flask import Flask
from flask_babel import gettext, lazy_gettext

from .domain.aftercare import TOPIC_LABELS, AftercareTopic
from .domain.claim_lifecycle import BATCH_STATUS_LABELS, LINE_STATUS_LABELS, BatchStatus, LineStatus
from .domain.claim_reasons import REASON_CODE_LABELS, ReasonCode
from .domain.coverage import CAP_PERIOD_WORDS, CapPeriod
from .domain.credentials import BADGE_LABELS, Badge
from .domain.indications import (
    BODY_AREA_LABELS,
    CATEGORY_LABELS,
    INDICATIONS,
    TECHNIQUE_LABELS,
    BodyArea,
    Category,
    Indication,
    Technique,
)
from .domain.intake import (
    CONTRAINDICATION_LABELS,
    MEDICATION_LABELS,
    RULE_KIND_LABELS,
    WAIT_UNIT_LABELS,
    Contraindication,
    Medication,
    RuleKind,
    WaitUnit,
)
from .domain.invoicing import PAYMENT_STATE_LABELS, PaymentState
from .domain.referrals import REFERRER_LABELS, ReferrerType
from .domain.remittance_matching import DISPUTE_LABELS, DisputeCode
from .domain.statuses import (
    INVOICE_STATUS_LABELS,
    PRINT_JOB_STATUS_LABELS,
    REMITTANCE_STATUS_LABELS,
    InvoiceStatus,
    PrintJobStatus,
    RemittanceStatus,
)


class _IndicationLabels(dict[Indication, str]):
    """The built-in indications' labels; an indication the practice added answers with its own (the table's)."""

    def __missing__(self, key: Indication) -> str:
        return INDICATIONS[key].label


INDICATION_LABELS: dict[Indication, str] = _IndicationLabels(
    {indication: info.label for indication, info in INDICATIONS.items()})

LABEL_MAPS: dict[str, tuple[type[Enum], Mapping[Any, str]]] = {
    "indication": (Indication, INDICATION_LABELS),
    "body_area": (BodyArea, BODY_AREA_LABELS),
    "technique": (Technique, TECHNIQUE_LABELS),
    "category": (Category, CATEGORY_LABELS),
    "referrer": (ReferrerType, REFERRER_LABELS),
    "contraindication": (Contraindication, CONTRAINDICATION_LABELS),
    "medication": (Medication, MEDICATION_LABELS),
    "rule_kind": (RuleKind, RULE_KIND_LABELS),
    "wait_unit": (WaitUnit, WAIT_UNIT_LABELS),
    "payment_state": (PaymentState, PAYMENT_STATE_LABELS),
    "badge": (Badge, BADGE_LABELS),
    "batch_status": (BatchStatus, BATCH_STATUS_LABELS),
    "claim_status": (LineStatus, LINE_STATUS_LABELS),
    "dispute": (DisputeCode, DISPUTE_LABELS),
    "claim_reason_code": (ReasonCode, REASON_CODE_LABELS),
    "cap_period": (CapPeriod, CAP_PERIOD_WORDS),
    "invoice_status": (InvoiceStatus, INVOICE_STATUS_LABELS),
    "print_job_status": (PrintJobStatus, PRINT_JOB_STATUS_LABELS),
    "remittance_status": (RemittanceStatus, REMITTANCE_STATUS_LABELS),
    "aftercare_topic": (AftercareTopic, TOPIC_LABELS),
}


def _labeller(kind: str) -> Callable[[Any], str]:
    enum_type, labels = LABEL_MAPS[kind]

    def label(value: Any) -> str:
        """The translated label of `value` (an enum member or its stored string); an unknown value as it is."""
        if value is None or value == "":
            return ""
        try:
            member = value if isinstance(value, enum_type) else enum_type(value)
            return gettext(labels[member])
        except (ValueError, KeyError):
            return str(value)

    label.__name__ = f"{kind}_label"
    return label


indication_label = _labeller("indication")
body_area_label = _labeller("body_area")
technique_label = _labeller("technique")
category_label = _labeller("category")
referrer_label = _labeller("referrer")
contraindication_label = _labeller("contraindication")
medication_label = _labeller("medication")
payment_state_label = _labeller("payment_state")
badge_label = _labeller("badge")
aftercare_topic_label = _labeller("aftercare_topic")


def choices(kind: str, members: Iterable[Enum] | None = None) -> list[tuple[str, Any]]:
    """(value, lazily translated label) pairs for a SelectField, in the enum's order."""
    enum_type, labels = LABEL_MAPS[kind]
    return [(member.value, lazy_gettext(labels[member])) for member in (members or list(enum_type))]


def init_app(app: Flask) -> None:
    for kind in LABEL_MAPS:
        app.jinja_env.filters[kind] = _labeller(kind)
