"""Use cases for user accounts. Services add and flush; the unit of work commits (unit_of_work.py).

Granting, changing and revoking access is written to the access log (without a patient): NEN 7513 asks
that changes to who may see patient records can be traced as well.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, or_, select

from .. import audit
from ..auth.passwords import password_problem
from ..domain.roles import Role
from ..errors import ServiceError
from ..extensions import db
from ..i18n import DEFAULT_LANGUAGE, LANGUAGES
from ..models import User
from ..paging import Keyset


class UserError(ServiceError):
    """A user change that is refused; `field` names the form field the message belongs to, if any."""

    status = 422

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def _check_role(role: str) -> str:
    try:
        return Role(role).value
    except ValueError:
        raise UserError(_("Unknown role %(role)s; choose one of: %(roles)s.", role=repr(role),
                          roles=", ".join(r.value for r in Role)), "role") from None


def _check_language(language: str | None) -> str:
    language = language or DEFAULT_LANGUAGE
    if language not in LANGUAGES:
        raise UserError(_("Unknown language."), "language")
    return language


def _check_password(password: str, email: str, name: str) -> None:
    problem = password_problem(password, email, name)
    if problem:
        raise UserError(problem, "password")


def find_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == normalise_email(email)))


def create_user(email: str, name: str, role: str, password: str, language: str | None = None) -> User:
    email = normalise_email(email)
    if not email or "@" not in email:
        raise UserError(_("Enter an e-mail address."), "email")
    name = _check_name(name)
    role = _check_role(role)
    language = _check_language(language)
    _check_password(password, email, name)
    if find_by_email(email) is not None:
        raise UserError(_("A user with e-mail %(email)s already exists.", email=email), "email")
    user = User(email=email, name=name, role=role, active=True, session_version=1, language=language)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit.record("create", None, f"user {user.email}", f"role {user.role}")
    return user


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise UserError(_("Enter the user's name."), "name")
    return name


def _active_admins_besides(user: User) -> int:
    return db.session.scalar(
        select(func.count(User.id)).where(
            User.role == Role.ADMIN.value, User.active.is_(True), User.id != user.id
        )
    ) or 0


def _refuse_lockout(user: User, role: str, active: bool, acting: User | None) -> None:
    """Nobody locks themselves out, and at least one active administrator remains."""
    if acting is not None and acting.id == user.id:
        if not active:
            raise UserError(_("You cannot deactivate your own account; ask another administrator."), "active")
        if role != user.role:
            raise UserError(_("You cannot change your own role; ask another administrator."), "role")
    was_admin = user.role == Role.ADMIN.value and user.active
    if was_admin and (role != Role.ADMIN.value or not active) and _active_admins_besides(user) == 0:
        raise UserError(_("This is the last active administrator; keep at least one."),
                        "active" if not active else "role")


def _apply(user: User, name: str, role: str, active: bool,
           language: str | None = None) -> tuple[list[str], list[str]]:
    """Set the new values; returns the changed field names and what the access log says about them."""
    changed, details = [], []
    if language is not None and (user.language or DEFAULT_LANGUAGE) != language:
        details.append(f"language {user.language or DEFAULT_LANGUAGE} -> {language}")
        user.language = language
        changed.append("language")
    if user.name != name:
        user.name = name
        changed.append("name")
    if user.role != role:
        details.append(f"role {user.role} -> {role}")
        user.role = role
        changed.append("role")
    if bool(user.active) != active:
        details.append("activated" if active else "deactivated")
        user.active = active
        changed.append("active")
    return changed, details


def update_user(user: User, name: str, role: str, active: bool, acting: User | None = None,
                language: str | None = None) -> list[str]:
    """Change name, role, active flag and (when given) language; returns the changed field names.

    `acting` is the administrator making the change: they cannot lock themselves out.
    Deactivation and a role change end every session of the user, so the change takes effect at once.
    """
    name = _check_name(name)
    role = _check_role(role)
    active = bool(active)
    language = _check_language(language) if language is not None else None
    _refuse_lockout(user, role, active, acting)
    changed, details = _apply(user, name, role, active, language)
    if "role" in changed or ("active" in changed and not active):
        user.end_sessions()
    if changed:
        db.session.flush()
        audit.record("update", None, f"user {user.email}", "; ".join(details or ["changed: name"]))
    return changed


def reset_password(user: User, password: str) -> None:
    """Set a new password chosen by an administrator; signs the user out everywhere."""
    _check_password(password, user.email, user.name)
    user.set_password(password)
    user.end_sessions()
    db.session.flush()
    audit.record("update", None, f"user {user.email}", "password reset by administrator")


# The user list's order, paged by key (paging.Keyset): by e-mail address (unique), then id.
LIST_ORDER = Keyset((User.email, User.id))


def search_query(text: str):
    """Users whose e-mail address, name or role holds `text`; unordered: the list orders by LIST_ORDER."""
    query = select(User)
    text = (text or "").strip()
    if text:
        like = f"%{text}%"
        query = query.where(or_(User.email.ilike(like), User.name.ilike(like), User.role.ilike(like)))
    return query
