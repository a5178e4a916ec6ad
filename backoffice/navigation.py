"""The main menu: the sections a role sees, as links with their labels, built once per role, language and script
root (they are the same on every page) instead of on every page view. In the template that was 12 permission
checks, 17 links and 20 labels per page: a tenth of a list page's time.

What a role may open depends on the role alone (domain/roles.py `allows`), the labels on the language, the links
on where the app is mounted: the menus are kept per app under that key, a few dozen at most.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .domain.roles import allows
from .domain.texts import N_
from .i18n import current_language

# (endpoint, label, permission): the menu bar, then the "Practice" drop-down.
MAIN = (
    ("reports.dashboard", N_("Dashboard"), "reports.read"),
    ("patients.list_patients", N_("Patients"), "patients.read"),
    ("treatments.list_treatments", N_("Treatments"), "treatments.read"),
    ("invoices.list_invoices", N_("Invoices"), "invoices.read"),
    ("claims.index", N_("Claims"), "claims.read"),
)
PRACTICE = (
    ("therapists.list_therapists", N_("Therapists"), "therapists.read"),
    ("credentials.overview", N_("Credentials"), "therapists.read"),
    ("insurers.list_insurers", N_("Insurers"), "insurers.read"),
    ("catalogue.list_items", N_("Treatment catalogue"), "catalogue.read"),
    ("aftercare.index", N_("Aftercare texts"), "catalogue.read"),
    ("clinical.index", N_("Techniques and indications"), "clinical.manage"),
    ("practice.show", N_("Practice details"), "practice.read"),
    ("mail_templates.index", N_("E-mail templates"), "practice.write"),
    ("reminders.settings", N_("Payment reminders"), "practice.read"),
    ("users.list_users", N_("Users"), "users.manage"),
    ("access_log.browse", N_("Access log"), "access_log.read"),
    ("printing.index", N_("Batch print"), "documents.print"),
)
_CACHE = "backoffice.menus"


@dataclass(frozen=True)
class Link:
    section: str  # the blueprint: the link is "active" on every page of it
    label: str
    url: str


@dataclass(frozen=True)
class Menu:
    main: tuple[Link, ...] = ()
    practice: tuple[Link, ...] = ()

    def practice_active(self, section: str) -> bool:
        return any(link.section == section for link in self.practice)


def _links(entries: tuple[tuple[str, str, str], ...], role: str) -> tuple[Link, ...]:
    return tuple(Link(endpoint.split(".")[0], _(label), url_for(endpoint))
                 for endpoint, label, permission in entries if allows(role, permission))


def menu() -> Menu:
    """The signed-in user's menu (empty for nobody signed in)."""
    if not current_user.is_authenticated:
        return Menu()
    role = current_user.role
    key = (role, current_language(), request.script_root)
    menus: dict[tuple[str, str, str], Menu] = current_app.extensions.setdefault(_CACHE, {})
    found = menus.get(key)
    if found is None:
        found = menus[key] = Menu(_links(MAIN, role), _links(PRACTICE, role))
    return found
