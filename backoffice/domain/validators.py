"""Checks for Dutch identifiers. Each returns an error message, or None when the value is acceptable.

The message is a Text (texts.msg / N_): it renders in the reader's language when shown (formtools.Check turns it
into the field's error inside the request), in English without a translator.
"""

from __future__ import annotations

import re

from .texts import N_, Text, label, msg

BSN_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)
_AGB = re.compile(r"^\d{8}$", re.ASCII)
_UZOVI = re.compile(r"^\d{4}$", re.ASCII)
_POSTCODE = re.compile(r"^([1-9]\d{3}) ?([A-Za-z]{2})$", re.ASCII)
_KVK = re.compile(r"^\d{8}$", re.ASCII)
_VAT_ID = re.compile(r"^NL\d{9}B\d{2}$", re.ASCII)
# Letter pairs PTT never issued in postcodes.
_POSTCODE_FORBIDDEN_LETTERS = {"SA", "SD", "SS"}


def clean_digits(value: str) -> str:
    """Drop the spaces, dots and dashes people type inside numbers."""
    return re.sub(r"[\s.\-]", "", value or "")


def bsn_error(value: str) -> Text | None:
    """The eleven-test: nine digits, weights 9..2 and -1, weighted sum divisible by 11 and not 0."""
    digits = clean_digits(value)
    if not (digits.isascii() and digits.isdigit()) or len(digits) not in (8, 9):
        return label(N_("A BSN has 9 digits."))
    digits = digits.zfill(9)  # BSNs issued with 8 digits are written with a leading zero
    total = sum(int(d) * w for d, w in zip(digits, BSN_WEIGHTS, strict=True))
    if total == 0 or total % 11:
        return label(N_("This is not a valid BSN (it fails the eleven-test)."))
    return None


def normalise_bsn(value: str) -> str:
    return clean_digits(value).zfill(9)


def agb_error(value: str) -> Text | None:
    """AGB codes are 8 digits with leading zeros; no check digit is published."""
    if not _AGB.match(clean_digits(value)):
        return label(N_("An AGB code has exactly 8 digits (keep leading zeros)."))
    return None


def uzovi_error(value: str) -> Text | None:
    if not _UZOVI.match((value or "").strip()):
        return label(N_("A UZOVI code has exactly 4 digits."))
    return None


def normalise_postcode(value: str) -> str:
    """'1234ab' -> '1234 AB'."""
    match = _POSTCODE.match((value or "").strip())
    if not match:
        return (value or "").strip()
    return f"{match.group(1)} {match.group(2).upper()}"


def postcode_error(value: str) -> Text | None:
    match = _POSTCODE.match((value or "").strip())
    if not match:
        return label(N_("A Dutch postcode is four digits (not starting with 0) and two letters, e.g. 1234 AB."))
    if match.group(2).upper() in _POSTCODE_FORBIDDEN_LETTERS:
        return msg("Postcodes never end in %(letters)s.", letters=match.group(2).upper())
    return None


def kvk_error(value: str) -> Text | None:
    if not _KVK.match(clean_digits(value)):
        return label(N_("A KvK number has exactly 8 digits."))
    return None


def vat_id_error(value: str) -> Text | None:
    if not _VAT_ID.match(clean_digits(value).upper()):
        return label(N_("A Dutch VAT id looks like NL123456789B01."))
    return None


def iban_error(value: str) -> Text | None:
    """ISO 13616 mod-97 check; Dutch IBANs are 18 characters."""
    iban = re.sub(r"\s", "", value or "").upper()
    if not re.match(r"^[A-Z]{2}\d{2}[A-Z0-9]{10,30}$", iban, re.ASCII):
        return label(N_("An IBAN starts with a country code and two check digits, e.g. NL91 ABNA 0417 1643 00."))
    if iban.startswith("NL") and len(iban) != 18:
        return label(N_("A Dutch IBAN has 18 characters."))
    rearranged = iban[4:] + iban[:4]
    number = int("".join(str(int(ch, 36)) for ch in rearranged))
    if number % 97 != 1:
        return label(N_("This IBAN's check digits are wrong."))
    return None


def normalise_iban(value: str) -> str:
    iban = re.sub(r"\s", "", value or "").upper()
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def mask_bsn(bsn: str | None) -> str:
    """Show only the last three digits, as on a printed document where the full number is not needed."""
    if not bsn:
        return ""
    return "******" + bsn[-3:]
