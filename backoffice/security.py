"""Deny by default: every route names the permission it needs, or the request is refused.

`permission_required` only labels a view; the check itself runs in one `before_request` hook, so a
route that forgot its label is refused (403) instead of being open. tests/test_permissions.py walks
the URL map and fails for any endpoint without a label.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Flask, abort, current_app, redirect, request, url_for
from flask_login import current_user

from .domain.roles import PUBLIC, Permission
from .extensions import db, login_manager

if TYPE_CHECKING:
    from .models import User

# Endpoints registered by extensions (static files); they carry no user data.
EXTENSION_PUBLIC_ENDPOINTS = {"static", "bootstrap.static"}


def permission_required(permission: Permission | str) -> Callable:
    def decorate(view: Callable) -> Callable:
        view.required_permission = str(permission)  # type: ignore[attr-defined]
        return view

    return decorate


def public(view: Callable) -> Callable:
    view.required_permission = PUBLIC  # type: ignore[attr-defined]
    return view


def required_permission(app: Flask, endpoint: str) -> str | None:
    if endpoint in EXTENSION_PUBLIC_ENDPOINTS:
        return PUBLIC
    view = app.view_functions.get(endpoint)
    return getattr(view, "required_permission", None)


def _enforce():
    if request.endpoint is None:
        return None  # 404/405: nothing to protect
    permission = required_permission(current_app, request.endpoint)
    if permission is None:
        current_app.logger.error("endpoint %s has no permission label; refused", request.endpoint)
        abort(403)
    if permission == PUBLIC:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.can(permission):
        abort(403)
    return None


def _security_headers(response):
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; "
        "base-uri 'self'; form-action 'self'",
    )
    response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if request.endpoint not in EXTENSION_PUBLIC_ENDPOINTS:
        # Patient data must not linger in shared browser caches.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def load_user(user_id: str):
    from .models import User

    try:
        raw_id, raw_version = user_id.split(":", 1)
        uid, version = int(raw_id), int(raw_version)
    except ValueError:
        return None
    user = db.session.get(User, uid)
    if user is None or not user.active or user.session_version != version:
        return None  # logged out elsewhere, password changed or deactivated
    return user


def current_staff() -> User:
    """The signed-in staff member, typed: what views pass to services instead of the `current_user` proxy.

    Refuses (401) when nobody is signed in; a view behind a permission label never gets that far."""
    from .models import User

    user = current_user._get_current_object()
    if not isinstance(user, User) or not user.is_authenticated:
        abort(401)
    return user


def can(permission: Permission | str) -> bool:
    """Whether the signed-in user holds `permission` (False when anonymous). No query: the user was loaded by the
    permission check before the view ran, and the answer depends on the role alone."""
    return bool(current_user.is_authenticated and current_user.can(str(permission)))


def _template_helpers() -> dict[str, Any]:
    from .navigation import menu

    return {"can": can, "main_menu": menu}


def _unauthorized():
    if request.method == "GET":
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    abort(401)


def init_app(app: Flask) -> None:
    login_manager.user_loader(load_user)
    login_manager.unauthorized_handler(_unauthorized)
    login_manager.session_protection = "basic"
    app.before_request(_enforce)
    app.context_processor(_template_helpers)
    app.after_request(_security_headers)
