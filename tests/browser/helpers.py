"""What the browser tests share: signing in, finding a form field by its name, the axe check and the sideways-scroll
check. Fields are found by their `name` (the WTForms field name), which stays the same in every language."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from axe_playwright_python.sync_playwright import Axe
from conftest import PASSWORD
from playwright.sync_api import Locator, Page, Response, expect

from backoffice.extensions import db

T = TypeVar("T")

_axe = Axe()
BLOCKING_IMPACTS = ("critical", "serious")


def sign_in(page: Page, base_url: str, email: str, password: str = PASSWORD, name: str | None = None) -> None:
    """Through the sign-in form, whatever its language; `name` is the user's name shown in the header."""
    page.goto(base_url + "/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.locator("form [type=submit][name=submit]").click()
    whoami = page.get_by_test_id("whoami")
    expect(whoami).to_be_attached()
    if name:
        expect(whoami).to_contain_text(name)


def field(page: Page | Locator, name: str) -> Locator:
    """The form control named `name` (the WTForms field name)."""
    return page.locator(f"[name='{name}']:not([type=hidden])")


def submit(page: Page, near: str | None = None, name: str = "submit") -> Locator:
    """The submit button of the form in <main> that holds the field `near` (else the form with a SubmitField):
    the SubmitField `name` when the form renders it, else the form's last unnamed submit button."""
    main = page.locator("main")
    forms = main.locator("form")
    form = forms.filter(has=page.locator(f"[name='{near}']")).first if near else \
        forms.filter(has=page.locator(f"[type=submit][name='{name}']")).first
    named = form.locator(f"[type=submit][name='{name}']")
    return named if named.count() else form.locator("[type=submit]:not([name])").last


def post(page: Page, action: Callable[[], Any]) -> Response:
    """Runs `action` (a click or key press that submits a form) and returns the response to the POST."""
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        action()
    response = posted.value
    page.wait_for_load_state()
    return response


def confirm_dialog(page: Page) -> None:
    """Accepts the confirmation dialog of static/app.js (data-confirm) if one is open."""
    dialog = page.locator("dialog[open]")
    if dialog.count():
        dialog.locator("button").filter(has_not_text=re.compile("Annuleren|Cancel")).first.click()


def in_app(app, query: Callable[[], T]) -> T:
    """`query()` run in the live app's context on a fresh session (sees what the server committed)."""
    with app.app_context():
        try:
            return query()
        finally:
            db.session.remove()


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """The critical and serious axe-core violations on the page as it is now."""
    results = _axe.run(page)
    return [v for v in results.response["violations"] if v.get("impact") in BLOCKING_IMPACTS]


def describe_violations(where: str, violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        targets = [" ".join(map(str, node.get("target", []))) for node in violation.get("nodes", [])][:5]
        lines.append(f"{where}: [{violation['impact']}] {violation['id']}: {violation['help']} "
                     f"({violation.get('helpUrl', '')}) at {targets}")
    return "\n".join(lines)


def sideways_overflow(page: Page) -> dict[str, Any] | None:
    """None when the page does not scroll sideways; else the widths and the innermost elements sticking out (outside
    any container that scrolls or clips), with their text, to find what is too wide."""
    return page.evaluate("""() => {
        const doc = document.documentElement;
        if (doc.scrollWidth <= window.innerWidth) return null;
        const clipped = (el) => {
            for (let p = el.parentElement; p; p = p.parentElement) {
                if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(p).overflowX)) return true;
            }
            return false;
        };
        const wide = [];
        for (const el of document.body.querySelectorAll('*')) {
            const r = el.getBoundingClientRect();
            const inner = [...el.children].every(c => c.getBoundingClientRect().right <= window.innerWidth + 1);
            if (r.right > window.innerWidth + 1 && r.width > 0 && inner && !clipped(el)) {
                const cls = typeof el.className === 'string' ? el.className.trim().split(/\\s+/).join('.') : '';
                wide.push(el.tagName.toLowerCase() + (cls ? '.' + cls : '') + ' "' +
                    (el.textContent || '').trim().slice(0, 50) + '" right=' + Math.round(r.right));
            }
        }
        return {scrollWidth: doc.scrollWidth, innerWidth: window.innerWidth, wide: wide.slice(0, 6)};
    }""")


def dutch(msgid: str, **values: Any) -> str:
    """The Dutch the interface shows for an English message id (from the compiled catalogue); fails when the message
    has no Dutch translation, so a journey asserting it proves the page is really Dutch."""
    from babel.support import Translations

    from backoffice.i18n import TRANSLATIONS

    translated = Translations.load(str(TRANSLATIONS), ["nl"]).gettext(msgid)
    assert translated != msgid or msgid in _SAME_IN_DUTCH, f"no Dutch translation for {msgid!r}"
    return translated % values if values else translated


_SAME_IN_DUTCH = {"Menu", "Acne", "IPL", "Camouflage"}


def tab_to(page: Page, name: str, limit: int = 60) -> int:
    """Presses Tab until the control named `name` has the focus; returns how many presses it took."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement && document.activeElement.getAttribute('name')") == name:
            return presses
    raise AssertionError(f"{name!r} not reached with {limit} Tab presses")


def choose_with_keys(page: Page, value: str, limit: int = 80) -> None:
    """On the focused <select>: arrow keys until its value is `value` (down first, then up)."""
    current = "() => document.activeElement.value"
    for key in ("ArrowDown", "ArrowUp"):
        for _ in range(limit):
            if page.evaluate(current) == value:
                return
            before = page.evaluate(current)
            page.keyboard.press(key)
            if page.evaluate(current) == before:
                break
    assert page.evaluate(current) == value, f"option {value!r} not reachable with the arrow keys"
