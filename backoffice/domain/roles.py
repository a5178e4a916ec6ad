"""Who may do what. Every route names one permission; a role holds a set of them."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    ADMIN = "admin"
    THERAPIST = "therapist"
    MANAGER = "manager"


class Permission(enum.StrEnum):
    PATIENTS_READ = "patients.read"
    PATIENTS_WRITE = "patients.write"
    THERAPISTS_READ = "therapists.read"
    THERAPISTS_WRITE = "therapists.write"
    INSURERS_READ = "insurers.read"
    INSURERS_WRITE = "insurers.write"
    PRACTICE_READ = "practice.read"
    PRACTICE_WRITE = "practice.write"
    USERS_MANAGE = "users.manage"
    ACCESS_LOG_READ = "access_log.read"
    REPORTS_READ = "reports.read"
    CATALOGUE_READ = "catalogue.read"
    CATALOGUE_WRITE = "catalogue.write"
    TREATMENTS_READ = "treatments.read"
    TREATMENTS_WRITE = "treatments.write"
    # Invoices, credit notes, payments and the printed documents (invoice, declaration, aftercare).
    INVOICES_READ = "invoices.read"
    INVOICES_WRITE = "invoices.write"
    # Batch printing of a period's invoices or declarations (one PDF / ZIP, background job).
    DOCUMENTS_PRINT = "documents.print"
    # Insurer claim batches, Excel claim workbooks, remittances and outcomes.
    CLAIMS_READ = "claims.read"
    CLAIMS_WRITE = "claims.write"
    # Techniques, indications and contraindications (what the screening and the treatment form work with): admin.
    CLINICAL_MANAGE = "clinical.manage"
    # A patient's whole record as a ZIP (inzage, AVG art. 15) and deleting a patient after the retention periods.
    PATIENT_DATA_EXPORT = "patient_records.export"
    PATIENT_DELETE = "patient_records.delete"
    # Which therapists are assigned to a patient (the care relationship, backoffice/care/): admin.
    CARE_TEAM_MANAGE = "care_team.manage"
    # Anything a signed-in user may do for themselves: home page, own password, logout.
    SIGNED_IN = "signed_in"


# Marks a route anyone may reach without signing in (the login page, static files).
PUBLIC = "public"

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.THERAPIST: frozenset(
        {
            Permission.SIGNED_IN,
            Permission.PATIENTS_READ,
            Permission.PATIENTS_WRITE,
            Permission.THERAPISTS_READ,
            Permission.INSURERS_READ,
            Permission.PRACTICE_READ,
            Permission.CATALOGUE_READ,
            Permission.TREATMENTS_READ,
            Permission.TREATMENTS_WRITE,
            Permission.INVOICES_READ,
            Permission.INVOICES_WRITE,
            Permission.DOCUMENTS_PRINT,
        }
    ),
    Role.MANAGER: frozenset(
        {
            Permission.SIGNED_IN,
            Permission.PATIENTS_READ,
            Permission.THERAPISTS_READ,
            Permission.INSURERS_READ,
            Permission.PRACTICE_READ,
            Permission.REPORTS_READ,
            Permission.CATALOGUE_READ,
            Permission.TREATMENTS_READ,
            Permission.INVOICES_READ,
            Permission.DOCUMENTS_PRINT,
            Permission.CLAIMS_READ,
        }
    ),
}


def allows(role: str | Role, permission: str | Permission) -> bool:
    try:
        return Permission(permission) in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False  # unknown role or permission: deny
