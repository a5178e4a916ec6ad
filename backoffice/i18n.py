"""The interface's language: Dutch by default, English as each user's own choice (Flask-Babel, gettext).

- Message ids are the English texts; backoffice/translations/nl/LC_MESSAGES/messages.po holds the Dutch. The
  install step (`make translations`, run by `make run` and `make test`) compiles it to messages.mo, which is not
  committed. tests/test_translations.py fails when a message lacks its Dutch translation.
- A signed-in user's language is `User.language`; before sign-in, the choice made on the sign-in page (kept in the
  session); otherwise Dutch. The browser's Accept-Language is not consulted: the clinic works in Dutch.
- Printed documents, e-mails to patients and the report workbook are always Dutch: build them inside `dutch()`.
- The pure domain words its labels and reasons with backoffice.domain.texts; `init_app` plugs gettext in there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Blueprint, Flask, flash, has_request_context, redirect, request, session, url_for
from flask_babel import Babel, force_locale, get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .domain import texts
from .request_guards import local_path
from .security import public

LANGUAGES: dict[str, str] = {"nl": "Nederlands", "en": "English"}
DEFAULT_LANGUAGE = "nl"
DOCUMENT_LANGUAGE = "nl"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"

babel = Babel()
bp = Blueprint("i18n", __name__)


def select_language() -> str:
    """The language of this request: the signed-in user's choice, else the one chosen before sign-in, else Dutch."""
    if not has_request_context():  # the CLI, a background job, a document rendered by a worker: Dutch
        return DEFAULT_LANGUAGE
    user = current_user
    chosen = getattr(user, "language", None) if user is not None and user.is_authenticated else None
    if chosen in LANGUAGES:
        return chosen
    chosen = session.get("language")
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LANGUAGE


@contextmanager
def dutch() -> Iterator[None]:
    """Everything rendered inside is Dutch, whatever the user's language: documents, patient e-mails, reports."""
    with force_locale(DOCUMENT_LANGUAGE):
        yield


@bp.route("/language", methods=["POST"])
@public
def set_language():
    """Switch the interface language; a signed-in user keeps the choice (User.language), others for the session."""
    language = request.form.get("language", "")
    if language not in LANGUAGES:
        flash(_l("Unknown language."), "danger")
    else:
        session["language"] = language
        if current_user.is_authenticated:
            current_user.language = language
    target = request.form.get("next")
    return redirect(target if target and local_path(target) else url_for("main.index"))


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    babel.init_app(app, locale_selector=select_language)
    texts.set_translator(gettext)
    app.register_blueprint(bp)

    @app.context_processor
    def language_context() -> dict[str, object]:
        return {"current_language": current_language(), "LANGUAGES": LANGUAGES}
