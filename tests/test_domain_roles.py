"""Role -> permission table: what each role may do, and that anything unknown is denied."""

from __future__ import annotations

import pytest

from backoffice.domain.roles import PUBLIC, ROLE_PERMISSIONS, Permission, Role, allows


def test_every_role_has_a_permission_set():
    assert set(ROLE_PERMISSIONS) == set(Role)


@pytest.mark.parametrize("permission", list(Permission))
def test_admin_has_every_permission(permission):
    assert allows(Role.ADMIN, permission)
    assert allows("admin", permission.value)


def test_therapist_may_write_patients_but_not_manage_users():
    assert allows(Role.THERAPIST, Permission.PATIENTS_WRITE)
    assert allows("therapist", "patients.read")
    assert not allows(Role.THERAPIST, Permission.USERS_MANAGE)
    assert not allows(Role.THERAPIST, Permission.ACCESS_LOG_READ)
    assert not allows(Role.THERAPIST, Permission.PRACTICE_WRITE)


def test_manager_reads_and_reports_but_writes_nothing():
    granted = {p for p in Permission if allows(Role.MANAGER, p)}
    assert Permission.REPORTS_READ in granted
    assert Permission.PATIENTS_READ in granted
    assert not [p for p in granted if p.value.endswith(".write")]
    assert Permission.USERS_MANAGE not in granted
    assert Permission.ACCESS_LOG_READ not in granted


@pytest.mark.parametrize("role", list(Role))
def test_every_role_may_use_its_own_signed_in_pages(role):
    assert allows(role, Permission.SIGNED_IN)


@pytest.mark.parametrize("role", ["", "root", "Admin", "patient", None])
def test_unknown_role_is_denied(role):
    assert not any(allows(role, p) for p in Permission)


@pytest.mark.parametrize("permission", ["", "patients.delete", "everything", PUBLIC])
def test_unknown_permission_is_denied_even_to_admin(permission):
    assert not allows(Role.ADMIN, permission)


def test_therapist_invoices_and_prints_but_does_not_claim():
    assert allows(Role.THERAPIST, Permission.INVOICES_WRITE)
    assert allows(Role.THERAPIST, Permission.DOCUMENTS_PRINT)
    assert not allows(Role.THERAPIST, Permission.CLAIMS_READ)
    assert not allows(Role.THERAPIST, Permission.CLAIMS_WRITE)


def test_manager_reads_invoices_and_claims_but_changes_neither():
    assert allows(Role.MANAGER, Permission.INVOICES_READ)
    assert allows(Role.MANAGER, Permission.CLAIMS_READ)
    assert not allows(Role.MANAGER, Permission.INVOICES_WRITE)
    assert not allows(Role.MANAGER, Permission.CLAIMS_WRITE)
