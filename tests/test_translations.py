"""The Dutch catalogue is complete: every text the interface can show has a Dutch translation.

The messages are extracted the way `make messages` does (babel.cfg, the keywords of the Makefile) and compared
with backoffice/translations/nl/LC_MESSAGES/messages.po. A missing or fuzzy translation, a placeholder that
differs from its English original, or a compiled catalogue older than its .po fails here, naming the texts.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "backoffice" / "translations"
PO = TRANSLATIONS / "nl" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
# The same keywords as BABEL_KEYWORDS in the Makefile: lazy_gettext as _l, the domain's N_ and msg.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "N_": None, "msg": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdfr]|%[sdf]")


def _message_id(message: str | tuple[str, ...]) -> str:
    return message if isinstance(message, str) else message[0]


@pytest.fixture(scope="module")
def extracted() -> set[str]:
    with open(TRANSLATIONS / "babel.cfg", encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    found = {_message_id(message) for _file, _line, message, _comments, _context
             in extract_from_dir(str(ROOT), method_map, options_map, keywords=KEYWORDS)}
    found.discard("")
    return found


@pytest.fixture(scope="module")
def dutch() -> Catalog:
    with open(PO, "rb") as po:
        return read_po(po, locale="nl")


def test_extraction_finds_the_interface_texts(extracted):
    # Guards against a broken babel.cfg or keyword list silently extracting nothing (which would pass below).
    assert len(extracted) > 300
    for known in ("Patients", "Acne scars", "Skip to the content", "Sign out"):
        assert known in extracted


def test_every_text_has_a_dutch_translation(extracted, dutch):
    missing = sorted(text for text in extracted
                     if (entry := dutch.get(text)) is None or not entry.string or entry.fuzzy)
    assert not missing, (f"{len(missing)} texts lack a Dutch translation; run `make messages`, translate them in "
                         f"{PO.relative_to(ROOT)} and run `make translations`:\n" + "\n".join(missing[:60]))


def test_translations_keep_their_placeholders(dutch):
    wrong = []
    for entry in dutch:
        if not entry.id or not entry.string:
            continue
        originals = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        translations = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        expected = sorted(PLACEHOLDER.findall(originals[0]))
        wrong.extend(f"{originals[0]!r} -> {text!r}" for text in translations
                     if text and sorted(PLACEHOLDER.findall(text)) != expected)
    assert not wrong, "placeholders differ from the English text:\n" + "\n".join(wrong)
    assert not [error for _entry, errors in dutch.check() for error in errors]


def test_the_compiled_catalogue_matches_the_po_file(dutch):
    assert MO.exists(), "the Dutch catalogue is not compiled: `make translations` (make install does it)"
    with open(MO, "rb") as mo:
        compiled = read_mo(mo)
    def words(string: str | tuple[str, ...] | list[str]) -> list[str]:  # plural forms come back as a list or tuple
        return [string] if isinstance(string, str) else list(string)

    stale = [entry.id for entry in dutch if entry.id and entry.string and not entry.fuzzy
             and ((found := compiled.get(entry.id)) is None or words(found.string) != words(entry.string))]
    assert not stale, f"{MO.name} is older than {PO.name}: run `make translations`. Differs: {stale[:10]}"


def test_the_interface_speaks_dutch_by_default_and_english_on_request(app, client):
    dutch_page = client.get("/login").get_data(as_text=True)
    assert '<html lang="nl"' in dutch_page and "Wachtwoord" in dutch_page
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', dutch_page)
    assert token
    client.post("/language", data={"language": "en", "next": "/login", "csrf_token": token.group(1)})
    english_page = client.get("/login").get_data(as_text=True)
    assert '<html lang="en"' in english_page and "Password" in english_page and "Wachtwoord" not in english_page
