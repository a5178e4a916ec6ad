"""The patient timeline's vocabulary (backoffice/timeline/): the kinds of entry a reader filters by, who may see
which kind, and how a payment row and a logged document read. Pure: no Flask, no database.

The access log is evidence, written in fixed English (`"invoice 2026-00001"`, `"re-assessed: insurer amount 80.00
-> 0.00, ..."`); the timeline reads those subjects and details back into words in the reader's language, so the
prefixes the services log with are named here, once.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from .roles import Permission
from .texts import N_


class Kind(enum.StrEnum):
    """What an entry is about: one checkbox each in the timeline's filter."""

    INTAKE = "intake"
    REFERRAL = "referral"
    INSURANCE = "insurance"
    AUTHORISATION = "authorisation"
    TREATMENT = "treatment"        # treatments, their corrections, withdrawals and re-assessments
    INVOICE = "invoice"            # invoices (drafts and issued) and credit notes
    PAYMENT = "payment"            # payments, refunds, reversals, the insurer's payments, settled insurer parts
    CLAIM = "claim"                # claim lines in batches, patient-submitted claims, and their outcomes
    DOCUMENT = "document"          # documents printed, exported or sent, payment reminders


KIND_LABELS: dict[Kind, str] = {
    Kind.INTAKE: N_("Intakes"),
    Kind.REFERRAL: N_("Referrals"),
    Kind.INSURANCE: N_("Insurances"),
    Kind.AUTHORISATION: N_("Prior authorisations"),
    Kind.TREATMENT: N_("Treatments"),
    Kind.INVOICE: N_("Invoices"),
    Kind.PAYMENT: N_("Payments"),
    Kind.CLAIM: N_("Claims"),
    Kind.DOCUMENT: N_("Documents"),
}

# The permission a reader needs, beyond the patient's record (PATIENTS_READ), to see a kind of entry: the same
# as for the pages the entries link to.
KIND_PERMISSION: dict[Kind, Permission] = {
    Kind.INTAKE: Permission.PATIENTS_READ,
    Kind.REFERRAL: Permission.PATIENTS_READ,
    Kind.INSURANCE: Permission.PATIENTS_READ,
    Kind.AUTHORISATION: Permission.PATIENTS_READ,
    Kind.TREATMENT: Permission.TREATMENTS_READ,
    Kind.INVOICE: Permission.INVOICES_READ,
    Kind.PAYMENT: Permission.INVOICES_READ,
    Kind.CLAIM: Permission.CLAIMS_READ,
    Kind.DOCUMENT: Permission.PATIENTS_READ,  # each document by its own kind: DOCUMENT_PERMISSION
}

# Kinds about treatments: the ones a filter on one treatment (or one indication) keeps.
TREATMENT_RELATED = frozenset({Kind.REFERRAL, Kind.TREATMENT, Kind.INVOICE, Kind.PAYMENT, Kind.CLAIM,
                               Kind.DOCUMENT})


def visible_kinds(can: Callable[[Permission], bool]) -> list[Kind]:
    """The kinds a reader with these permissions may see, in the filter's order."""
    return [kind for kind in Kind if can(KIND_PERMISSION[kind])]


def chosen_kinds(asked: Iterable[str], visible: Iterable[Kind]) -> list[Kind]:
    """The kinds to show: those asked for that the reader may see (unknown codes dropped); all visible ones when
    none is asked for (or none of those asked for is known)."""
    visible = list(visible)
    wanted = set(asked)
    chosen = [kind for kind in visible if kind.value in wanted]
    return chosen or visible


# ---- payments ---------------------------------------------------------------------------------------------------

class PaymentKind(enum.StrEnum):
    PAYMENT = "payment"      # money received at the desk or by transfer
    REFUND = "refund"        # money paid back to the patient (a negative payment)
    REVERSAL = "reversal"    # the reversal of a payment or refund entered in error
    INSURER = "insurer"      # direct billing: what the insurer paid on a claimed line


PAYMENT_TITLES: dict[PaymentKind, str] = {
    PaymentKind.PAYMENT: N_("Payment received"),
    PaymentKind.REFUND: N_("Refund"),
    PaymentKind.REVERSAL: N_("Payment reversed"),
    PaymentKind.INSURER: N_("Insurer paid"),
}


def payment_kind(amount_cents: int, reverses: bool, by_insurer: bool) -> PaymentKind:
    if reverses:
        return PaymentKind.REVERSAL
    if by_insurer:
        return PaymentKind.INSURER
    return PaymentKind.PAYMENT if amount_cents > 0 else PaymentKind.REFUND


# ---- documents named in the access log ----------------------------------------------------------------------------

class DocumentKind(enum.StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    DECLARATION = "declaration"
    AFTERCARE = "aftercare"
    CLAIM_BATCH = "claim_batch"
    ACCESS_LOG = "access_log"
    PATIENT_DATA = "patient_data"
    REMINDER = "reminder"  # a payment reminder's PDF, logged under its invoice ("invoice 2026-00001")
    OTHER = "other"


# The subjects the services log a print or an export under (invoicing/services.py, invoicing/declarations.py,
# printing/services.py, claims/export.py, access_log/views.py, maintenance/inzage.py), longest first where one
# prefix starts another. An aftercare sheet is logged as a print of "treatment <id>".
SUBJECT_PREFIXES: tuple[tuple[DocumentKind, str], ...] = (
    (DocumentKind.CREDIT_NOTE, "credit note "),
    (DocumentKind.DECLARATION, "declaration "),
    (DocumentKind.INVOICE, "invoice "),
    (DocumentKind.AFTERCARE, "treatment "),
    (DocumentKind.CLAIM_BATCH, "claim batch "),
    (DocumentKind.ACCESS_LOG, "access log"),
    (DocumentKind.PATIENT_DATA, "patient data export"),
)

DOCUMENT_PERMISSION: dict[DocumentKind, Permission] = {
    DocumentKind.INVOICE: Permission.INVOICES_READ,
    DocumentKind.CREDIT_NOTE: Permission.INVOICES_READ,
    DocumentKind.DECLARATION: Permission.INVOICES_READ,
    DocumentKind.AFTERCARE: Permission.TREATMENTS_READ,
    DocumentKind.CLAIM_BATCH: Permission.CLAIMS_READ,
    DocumentKind.ACCESS_LOG: Permission.PATIENTS_READ,
    DocumentKind.PATIENT_DATA: Permission.PATIENTS_READ,
    DocumentKind.REMINDER: Permission.INVOICES_READ,
    DocumentKind.OTHER: Permission.PATIENTS_READ,
}

# How a document is named in an entry's title ("%(document)s printed"); `%(number)s` is the reference.
DOCUMENT_NAMES: dict[DocumentKind, str] = {
    DocumentKind.INVOICE: N_("Invoice %(number)s"),
    DocumentKind.CREDIT_NOTE: N_("Credit note %(number)s"),
    DocumentKind.DECLARATION: N_("Declaration of invoice %(number)s"),
    DocumentKind.AFTERCARE: N_("Aftercare sheet"),
    DocumentKind.CLAIM_BATCH: N_("Claim workbook %(number)s"),
    DocumentKind.ACCESS_LOG: N_("Access log"),
    DocumentKind.PATIENT_DATA: N_("Patient data (inzage)"),
    DocumentKind.REMINDER: N_("Payment reminder for invoice %(number)s"),
    DocumentKind.OTHER: N_("Document %(number)s"),
}

# The issue of an invoice or credit note logs its rendering as a print as well; the invoice's own entry says it.
RENDERED_AT_ISSUE = "PDF rendered at issue"
# A document e-mailed is logged as an export "... sent by e-mail to ..." (backoffice/mail/services.py); the
# sending's own record (DocumentSending) is its entry, failed tries included.
EMAILED = " sent by e-mail to "
# A payment reminder's PDF is logged as a print of its invoice, the detail naming the reminder
# (backoffice/reminders/services.py: "friendly payment reminder of 2026-11-21: stored PDF downloaded").
REMINDER_IN_DETAIL = "payment reminder"


@dataclass(frozen=True)
class LoggedDocument:
    kind: DocumentKind
    reference: str  # the number or id the subject names ("2026-00001", "12"), or the whole subject (OTHER)


def logged_document(subject: str, detail: str = "") -> LoggedDocument:
    """Which document an access-log entry of a print or export names (its subject, and for a payment reminder,
    logged under its invoice, its detail)."""
    for kind, prefix in SUBJECT_PREFIXES:
        if subject.startswith(prefix):
            if kind is DocumentKind.INVOICE and REMINDER_IN_DETAIL in detail:
                kind = DocumentKind.REMINDER
            return LoggedDocument(kind, subject[len(prefix):].strip())
    return LoggedDocument(DocumentKind.OTHER, subject)


def document_visible(kind: DocumentKind, can: Callable[[Permission], bool]) -> bool:
    return can(DOCUMENT_PERMISSION[kind])


# ---- re-assessments in the access log ------------------------------------------------------------------------------

REASSESSED_PREFIX = "re-assessed"
TREATMENT_SUBJECT = "treatment "
_INSURER_AMOUNT = re.compile(r"insurer amount (-?[0-9]+(?:\.[0-9]+)?) -> (-?[0-9]+(?:\.[0-9]+)?)", re.ASCII)


def reassessed_amounts(detail: str) -> tuple[Decimal, Decimal] | None:
    """(before, after) insurer amount of a logged re-assessment ("re-assessed: insurer amount 80.00 -> 0.00, ...");
    None when the detail names none."""
    found = _INSURER_AMOUNT.search(detail)
    if found is None:
        return None
    try:
        return Decimal(found.group(1)), Decimal(found.group(2))
    except InvalidOperation:
        return None


def subject_id(subject: str, prefix: str) -> int | None:
    """The id in a subject such as "treatment 12"; None when it names none."""
    rest = subject[len(prefix):] if subject.startswith(prefix) else ""
    return int(rest) if re.fullmatch(r"[0-9]{1,9}", rest, re.ASCII) else None
