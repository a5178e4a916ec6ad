"""Field encryption for the BSN (and the two-factor secrets, claim snapshots): Fernet (AES-128-CBC + HMAC) with
a key derived from FIELD_ENCRYPTION_KEY (in development, when unset, from SECRET_KEY).

The BSN is stored encrypted, with a keyed hash beside it so a patient can be found by BSN without
decrypting every row. Neither the plain number nor the hash ever appears in a URL or a log line.

Key rotation (`flask keys rotate`, keys.py): FIELD_ENCRYPTION_OLD_KEYS (comma-separated) names the keys used
before. Encrypting always uses the current key; reading tries the current key, then the old ones (MultiFernet), and
a search by BSN looks for the keyed hash under each, so the app keeps working between the key change and the
rotation that re-encrypts every value and recomputes every hash under the current key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


def _derive(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"backoffice-fields", info=purpose).derive(
        secret.encode()
    )


def _secret() -> str:
    return current_app.config.get("FIELD_ENCRYPTION_KEY") or current_app.config["SECRET_KEY"]


def old_secrets() -> list[str]:
    """FIELD_ENCRYPTION_OLD_KEYS: the keys used before the current one, readable until `flask keys rotate` ran."""
    value = current_app.config.get("FIELD_ENCRYPTION_OLD_KEYS") or ""
    current = _secret()
    return [key for key in (part.strip() for part in value.split(",")) if key and key != current]


def _fernet(secret: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_derive(secret, b"encrypt")))


def _cipher() -> MultiFernet:
    """The current key first (it encrypts), then the old ones (they only read)."""
    return MultiFernet([_fernet(secret) for secret in [_secret(), *old_secrets()]])


def encrypt(plain: str) -> str:
    return _cipher().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str | None:
    try:
        return _cipher().decrypt(token.encode()).decode()
    except InvalidToken:
        return None  # encrypted under a key no longer configured: unreadable, never crash a page


def readable_with_current_key(token: str) -> bool:
    try:
        _fernet(_secret()).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def _index(secret: str, plain: str) -> str:
    return hmac.new(_derive(secret, b"index"), plain.encode(), hashlib.sha256).hexdigest()


def blind_index(plain: str) -> str:
    """The keyed hash stored beside the value: under the current key."""
    return _index(_secret(), plain)


def blind_indexes(plain: str) -> list[str]:
    """The keyed hash under the current key and under each old one: what a search looks for, so a value not yet
    rotated is found (and a duplicate BSN noticed) between a key change and `flask keys rotate`."""
    return [_index(secret, plain) for secret in [_secret(), *old_secrets()]]
