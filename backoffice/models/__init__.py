"""The database model, one module per area; money is stored as integer cents, dates as dates, enums as checked
strings. Import from here (`from backoffice.models import Invoice`): every public name is re-exported.

Importing this package also registers the guards (guards.py): ORM listeners and the triggers `create_all`
installs, so no table can be created without them.
"""

from __future__ import annotations

from .access_log import ACCESS_ACTIONS, AccessLog
from .aftercare import AftercareText
from .authorisations import PriorAuthorisation, TreatmentRulePart
from .base import UtcDateTime, one_of, utcnow
from .care import CareAssignment
from .claims import REMITTANCE_FIELDS, ClaimBatch, ClaimLine, InsurerClaimSettings, PatientClaim, RemittanceImport
from .clinical import ClinicalContraindication, ClinicalIndication, ClinicalTechnique
from .credential_alerts import CREDENTIAL_KINDS, CredentialAlert
from .guards import (
    REPORT_FACTS_SOURCES,
    AppendOnlyError,
    ImmutableDocumentError,
    access_log_guard_statements,
    document_guard_statements,
    report_facts_trigger_statements,
)
from .insurers import CoverageRule, Insurer, Package
from .invoice_runs import InvoiceRun
from .invoices import (
    DESK_PAYMENT_METHODS,
    INSURER_METHOD,
    PAYMENT_METHODS,
    SETTLEMENT_KINDS,
    CreditNote,
    CreditNoteLine,
    InsurerSettlement,
    Invoice,
    InvoicedTreatment,
    InvoiceLine,
    IssueRequest,
    NumberSeries,
    Payment,
)
from .mail import DocumentSending, MessageTemplate
from .patients import ID_DOCUMENT_TYPES, Insurance, Intake, Patient, Referral
from .practice import Practice
from .printing import PRINT_JOB_KINDS, PackJob, PrintJob
from .reminders import (
    REMINDER_DELIVERIES,
    CollectionCostBracket,
    InvoiceReminder,
    InvoiceReminderChangeError,
    ReminderSettings,
)
from .reporting import REPORT_FAMILIES, ReportFacts
from .therapists import KpRegistration, NvhMembership, Therapist
from .treatments import CatalogueItem, Treatment, TreatmentCorrection
from .users import LoginAttempt, RecoveryCode, User

__all__ = [
    "ACCESS_ACTIONS",
    "CREDENTIAL_KINDS",
    "DESK_PAYMENT_METHODS",
    "INSURER_METHOD",
    "ID_DOCUMENT_TYPES",
    "PAYMENT_METHODS",
    "PRINT_JOB_KINDS",
    "REMINDER_DELIVERIES",
    "REMITTANCE_FIELDS",
    "REPORT_FACTS_SOURCES",
    "REPORT_FAMILIES",
    "SETTLEMENT_KINDS",
    "AccessLog",
    "AftercareText",
    "AppendOnlyError",
    "CareAssignment",
    "CatalogueItem",
    "ClaimBatch",
    "ClaimLine",
    "ClinicalContraindication",
    "ClinicalIndication",
    "ClinicalTechnique",
    "CollectionCostBracket",
    "CoverageRule",
    "CredentialAlert",
    "CreditNote",
    "CreditNoteLine",
    "DocumentSending",
    "ImmutableDocumentError",
    "Insurance",
    "Insurer",
    "InsurerClaimSettings",
    "InsurerSettlement",
    "Intake",
    "Invoice",
    "InvoiceReminder",
    "InvoiceReminderChangeError",
    "InvoiceLine",
    "IssueRequest",
    "InvoiceRun",
    "InvoicedTreatment",
    "KpRegistration",
    "LoginAttempt",
    "MessageTemplate",
    "RecoveryCode",
    "NumberSeries",
    "NvhMembership",
    "PackJob",
    "Package",
    "Patient",
    "PatientClaim",
    "Payment",
    "Practice",
    "PriorAuthorisation",
    "PrintJob",
    "Referral",
    "ReminderSettings",
    "RemittanceImport",
    "ReportFacts",
    "Therapist",
    "Treatment",
    "TreatmentCorrection",
    "TreatmentRulePart",
    "User",
    "UtcDateTime",
    "access_log_guard_statements",
    "document_guard_statements",
    "one_of",
    "report_facts_trigger_statements",
    "utcnow",
]
