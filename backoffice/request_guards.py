"""Hostile input is answered before any view runs, in one place, so that it never becomes a 500.

- NUL bytes in a query argument or form field: PostgreSQL refuses them in text and no form needs them: 400.
- Numbers no column can hold. Every id column is an INTEGER (PostgreSQL refuses a comparison with a larger
  number; SQLite cannot bind one beyond 64 bits). In the path, `<int:...>` only matches what an INTEGER holds
  (a larger id is simply not found: 404). A query argument other than a free-text search holding a larger
  number (an id, a page, a list cursor): 400. A form field that is a whole number beyond 64 bits: 400 (smaller
  ones may be phone or policy numbers; the forms' own validators refuse what they cannot take).
- `?next=` after signing in: only a path on this site, free of control characters and backslashes
  (`/\\evil.example` is `//evil.example` to a browser), see `local_path`.
- A nine-digit number in a query argument (a BSN typed into a GET search): the search is not run; the browser is
  sent back to the page without it, with a message pointing to the POST form "Search by BSN". A URL ends up in
  every web server's and proxy's access log, so a BSN must never travel in one; see `_refuse_bsn_in_query`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlencode, urlsplit

from flask import Flask, abort, flash, redirect, request
from flask_babel import gettext as _
from werkzeug.routing import IntegerConverter, Map
from werkzeug.wrappers import Response

from .domain.validators import holds_nine_digit_number

MAX_ID = 2**31 - 1  # the largest INTEGER, the type of every id column
MAX_BIGINT = 2**63 - 1
# Free text: searched with LIKE or compared as text, where a long number is harmless.
FREE_TEXT_ARGS = frozenset({"q", "next"})
# List cursors are opaque tokens the app wrote (base64), never typed: a digit run in one is no BSN.
CURSOR_ARGS = frozenset({"after", "before"})

_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+", re.ASCII)
_DIGIT_RUN = re.compile(r"[0-9]+", re.ASCII)
_UNSAFE_IN_PATH = re.compile(r"[\x00-\x1f\x7f\\]")


class BoundedIntegerConverter(IntegerConverter):
    """The default `int` converter, bounded to what an id column can hold."""

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ID,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def _exceeds(number: str, limit: int) -> bool:
    """abs(int(number)) > limit, without int() on a long number: it refuses more than 4,300 digits (a 500)."""
    digits, most = number.strip().lstrip("+-").lstrip("0"), str(limit)
    return len(digits) > len(most) or (len(digits) == len(most) and int(digits) > limit)


def _too_big(text: str, in_query: bool) -> bool:
    if in_query:
        return any(_exceeds(run, MAX_ID) for run in _DIGIT_RUN.findall(text))
    return bool(_WHOLE_NUMBER.fullmatch(text.strip())) and _exceeds(text, MAX_BIGINT)


def _pairs() -> Iterable[tuple[str, str, bool]]:
    """(name, value, is a query argument) of everything the client sent as text."""
    for name, value in request.args.items(multi=True):
        yield name, value, True
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        for name, value in request.form.items(multi=True):
            yield name, value, False


def _refuse_hostile_input() -> None:
    for name, value, in_query in _pairs():
        if "\x00" in name or "\x00" in value:
            abort(400)
        if (not in_query or name not in FREE_TEXT_ARGS) and _too_big(value, in_query):
            abort(400)


def _refuse_bsn_in_query() -> Response | None:
    """A query argument holding a nine-digit number (perhaps a BSN): not searched, and not echoed back. The same
    page without those arguments, and a message pointing to the POST form. Other methods: 400."""
    suspect = [name for name, value in request.args.items(multi=True)
               if name not in CURSOR_ARGS and (holds_nine_digit_number(value) or holds_nine_digit_number(name))]
    if not suspect:
        return None
    if request.method not in ("GET", "HEAD"):
        abort(400)
    kept = [(name, value) for name, value in request.args.items(multi=True) if name not in suspect]
    flash(_("A BSN is never searched here: a search typed in this field travels in the page address, which web "
            "servers keep in their logs. Use \"Search by BSN\" on the patients page. Nothing was searched."),
          "warning")
    path = request.path if local_path(request.path) else "/"  # never `//other.example`: an open redirect
    return redirect(request.script_root + path + ("?" + urlencode(kept) if kept else ""), 303)


def local_path(target: str | None) -> bool:
    """Whether `target` is a path on this site that is safe to redirect to."""
    if not target or not target.startswith("/") or target.startswith("//") or _UNSAFE_IN_PATH.search(target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def init_app(app: Flask) -> None:
    """Call before the blueprints are registered: the `int` converter is looked up when a route is added."""
    app.url_map.converters["int"] = BoundedIntegerConverter
    # First of the before_request hooks (CSRF and the permission check come after): bad bytes go no further.
    app.before_request_funcs.setdefault(None, []).insert(0, _refuse_hostile_input)
    app.before_request_funcs[None].insert(1, _refuse_bsn_in_query)
