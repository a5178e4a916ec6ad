"""Checks for Dutch identifiers. Each returns an error message, or None when the value is acceptable.

The message is a Text (texts.msg / N_): it renders in the reader's language when shown (formtools.Check turns it
into the field's error inside the request), in English without a translator.

The check digits and national layouts come from python-stdnum (BSN, IBAN, Dutch VAT id, postcode). A number is
written with the digits 0-9 only: Python's isdigit() and int() also take full-width ０-９, Arabic-Indic ٠-٩ and
(isdigit) superscript ² or circled ①, so every check first refuses those with "Use the digits 0-9 only." and
never hands them to int(). A value a check accepts is ASCII, and its normalised form (normalise_bsn) is the one
the duplicate check looks up.
"""

from __future__ import annotations

import re
import unicodedata

from stdnum import iban as stdnum_iban
from stdnum import numdb
from stdnum.exceptions import InvalidChecksum, InvalidComponent, ValidationError
from stdnum.nl import bsn as stdnum_bsn
from stdnum.nl import btw as stdnum_btw
from stdnum.nl import postcode as stdnum_postcode

from .texts import N_, Text, label, msg

BSN_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)
# Only the ASCII digits 0-9 (re.ASCII; fullmatch, as `$` would also match before a trailing newline).
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_VAT_ID = re.compile(r"NL[0-9]{9}B[0-9]{2}", re.ASCII)
_IBAN_SHAPE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}", re.ASCII)
# A part of an IBAN's national layout in the registry python-stdnum ships: "4!a" four letters, "10!n" ten digits.
_IBAN_PART = re.compile(r"([1-9][0-9]*)!([nac])", re.ASCII)
_IBAN_REGISTRY = numdb.get("iban")

DIGITS_ONLY = N_("Use the digits 0-9 only.")


def foreign_digits(value: str | None) -> bool:
    """Whether the text holds a digit other than 0-9: full-width ０-９, Arabic-Indic ٠-٩, superscript ², circled ①,
    ... Python's isdigit() and int() take these; a number field never does."""
    return any(ch.isnumeric() and not ch.isascii() for ch in value or "")


def foreign_digits_error(value: str) -> Text | None:
    """For free text that holds numbers (a policy number): digits other than 0-9 are refused."""
    return label(DIGITS_ONLY) if foreign_digits(value) else None


def _ascii_digits(value: str, length: int | tuple[int, ...]) -> bool:
    lengths = (length,) if isinstance(length, int) else length
    return bool(_DIGITS.fullmatch(value)) and len(value) in lengths


def clean_digits(value: str) -> str:
    """Drop the spaces, dots and dashes people type inside numbers."""
    return re.sub(r"[\s.\-]", "", value or "")


def bsn_error(value: str) -> Text | None:
    """The eleven-test (python-stdnum's nl.bsn): nine digits 0-9, weights 9..2 and -1, weighted sum divisible by 11
    and not 0. Spaces, dots and dashes between the digits are allowed."""
    digits = clean_digits(value)
    if foreign_digits(digits):
        return label(DIGITS_ONLY)
    if not _ascii_digits(digits, (8, 9)):
        return label(N_("A BSN has 9 digits."))
    digits = digits.zfill(9)  # BSNs issued with 8 digits are written with a leading zero
    # stdnum refuses only 000000000 of the numbers whose weighted sum is 0 (000000012 passes it): no BSN is issued so.
    if not stdnum_bsn.is_valid(digits) or not sum(int(d) * w for d, w in zip(digits, BSN_WEIGHTS, strict=True)):
        return label(N_("This is not a valid BSN (it fails the eleven-test)."))
    return None


def normalise_bsn(value: str) -> str:
    """The nine digits of a BSN that `bsn_error` accepted: the one form stored and looked up (the blind index)."""
    return clean_digits(value).zfill(9)


# A written number: groups of digits (\d on purpose: every script's digits, after NFKC) with spaces, dots or dashes
# between them.
_DIGIT_GROUPS = re.compile(r"\d+(?:[\s.\-]+\d+)*")
_GROUP_SEPARATOR = re.compile(r"[\s.\-]+")
# An invoice or credit-note number (2026-00012, C2026-00012) is four digits and five: nine, but never a BSN.
_DOCUMENT_NUMBER = re.compile(r"(?<![\d.\-])C?(?:19|20)\d{2}-\d{5,}(?![\d.\-])", re.IGNORECASE)


def holds_nine_digit_number(text: str | None) -> bool:
    """Whether the text holds a number of nine digits, however written: 123456782, 1234.56.782, 123 456 782,
    full-width or Arabic-Indic digits, or digit groups beside other words that add up to nine (`24-11-1990` is
    eight). It may be a BSN, so it must not travel in a URL (a GET search), where every web server's access log
    keeps it. A longer run (a ten-digit phone or policy number) does not count."""
    normal = _DOCUMENT_NUMBER.sub(" ", unicodedata.normalize("NFKC", text or ""))
    for number in _DIGIT_GROUPS.finditer(normal):
        sizes = [len(group) for group in _GROUP_SEPARATOR.split(number.group())]
        for start in range(len(sizes)):
            total = 0
            for size in sizes[start:]:
                total += size
                if total >= 9:
                    break
            if total == 9:
                return True
    return False


def agb_error(value: str) -> Text | None:
    """AGB codes are 8 digits with leading zeros; no check digit is published."""
    digits = clean_digits(value)
    if foreign_digits(digits):
        return label(DIGITS_ONLY)
    if not _ascii_digits(digits, 8):
        return label(N_("An AGB code has exactly 8 digits (keep leading zeros)."))
    return None


def uzovi_error(value: str) -> Text | None:
    code = (value or "").strip()
    if foreign_digits(code):
        return label(DIGITS_ONLY)
    if not _ascii_digits(code, 4):
        return label(N_("A UZOVI code has exactly 4 digits."))
    return None


def _spaces(value: str | None) -> str:
    """Any run of white space (a no-break space pasted from a letter) as one space; none around the text."""
    return " ".join((value or "").split())


def normalise_postcode(value: str) -> str:
    """'1234ab' -> '1234 AB' (also 'NL-1234 AB'); anything else is left as typed for postcode_error to explain."""
    text = _spaces(value)
    if text.isascii():
        try:
            return stdnum_postcode.validate(text)
        except InvalidComponent:  # shaped as a postcode, with letters never issued: postcode_error names them
            compact = stdnum_postcode.compact(text)
            return f"{compact[:4]} {compact[4:]}"
        except ValidationError:
            pass
    return text


def postcode_error(value: str) -> Text | None:
    """A Dutch postcode (python-stdnum's nl.postcode): 4 digits 0-9 not starting with 0, 2 letters A-Z, not SA, SD
    or SS."""
    text = _spaces(value)
    if foreign_digits(text):
        return label(DIGITS_ONLY)
    if text.isascii():
        try:
            stdnum_postcode.validate(text)
        except InvalidComponent:
            return msg("Postcodes never end in %(letters)s.", letters=stdnum_postcode.compact(text)[-2:])
        except ValidationError:
            pass
        else:
            return None
    return label(N_("A Dutch postcode is four digits (not starting with 0) and two letters, e.g. 1234 AB."))


def kvk_error(value: str) -> Text | None:
    """KvK numbers are 8 digits; the KvK publishes no check digit for them (python-stdnum has none either)."""
    digits = clean_digits(value)
    if foreign_digits(digits):
        return label(DIGITS_ONLY)
    if not _ascii_digits(digits, 8):
        return label(N_("A KvK number has exactly 8 digits."))
    return None


def vat_id_error(value: str) -> Text | None:
    """The Dutch VAT id (btw-identificatienummer): NL, 9 digits, B, 2 digits. python-stdnum's nl.btw checks both
    check-digit methods in use: the eleven-test over the 9 digits (ids derived from an RSIN or BSN) and, for the ids
    issued to sole traders since 2020, ISO 7064 mod 97-10 over the whole id (NL as 2321, B as 11)."""
    compact = clean_digits(value)
    if foreign_digits(compact):
        return label(DIGITS_ONLY)
    compact = compact.upper() if compact.isascii() else compact
    if not _VAT_ID.fullmatch(compact) or compact.endswith("B00"):
        return label(N_("A Dutch VAT id is NL, nine digits, B and two digits, e.g. NL000099998B57."))
    if not stdnum_btw.is_valid(compact):
        return label(N_("This VAT id's check digits are wrong."))
    return None


def _iban_length(layout: str) -> int:
    """The length of an IBAN with this national layout (4 for the country code and check digits)."""
    return 4 + sum(int(count) for count, _kind in _IBAN_PART.findall(layout))


def _iban_layout(layout: str) -> re.Pattern[str]:
    """The national part of an IBAN (upper case) as a pattern: "4!a10!n" is [A-Z]{4}[0-9]{10}."""
    kinds = {"n": "[0-9]", "a": "[A-Z]", "c": "[A-Z0-9]"}
    return re.compile("".join(f"{kinds[kind]}{{{count}}}" for count, kind in _IBAN_PART.findall(layout)), re.ASCII)


def iban_error(value: str) -> Text | None:
    """An IBAN of any country, by python-stdnum: its country's length and layout (for the Netherlands a 4-letter
    bank code and 10 digits: 18 characters), the ISO 7064 mod 97-10 check digits and, where stdnum knows them, the
    country's own checks."""
    iban = re.sub(r"\s", "", value or "")
    if foreign_digits(iban):
        return label(DIGITS_ONLY)
    iban = iban.upper() if iban.isascii() else iban
    if not _IBAN_SHAPE.fullmatch(iban):
        return label(N_("An IBAN starts with a country code and two check digits, e.g. NL91 ABNA 0417 1643 00."))
    country = iban[:2]
    layout = _IBAN_REGISTRY.info(iban)[0][1].get("bban")
    if not layout:
        return msg("No country uses IBANs starting with %(country)s.", country=country)
    if len(iban) != _iban_length(layout):
        if country == "NL":
            return label(N_("A Dutch IBAN has 18 characters."))
        return msg("An IBAN starting with %(country)s has %(length)s characters.", country=country,
                   length=_iban_length(layout))
    if not _iban_layout(layout).fullmatch(iban[4:]):
        return _iban_layout_error(country)
    try:
        stdnum_iban.validate(iban)
    except InvalidChecksum:
        return label(N_("This IBAN's check digits are wrong."))
    except ValidationError:  # a country's own rule, where stdnum knows one
        return _iban_layout_error(country)
    return None


def _iban_layout_error(country: str) -> Text:
    if country == "NL":
        return label(N_("A Dutch IBAN has a 4-letter bank code and then 10 digits, e.g. NL91 ABNA 0417 1643 00."))
    return msg("This IBAN does not follow the layout of IBANs starting with %(country)s.", country=country)


def normalise_iban(value: str) -> str:
    iban = re.sub(r"\s", "", value or "").upper()
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def mask_bsn(bsn: str | None) -> str:
    """Show only the last three digits, as on a printed document where the full number is not needed."""
    if not bsn:
        return ""
    return "******" + bsn[-3:]
