"""Field encryption for the BSN: Fernet (AES-128-CBC + HMAC) with a key derived from the app's secret.

The BSN is stored encrypted, with a keyed hash beside it so a patient can be found by BSN without
decrypting every row. Neither the plain number nor the hash ever appears in a URL or a log line.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


def _derive(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"backoffice-fields", info=purpose).derive(
        secret.encode()
    )


def _secret() -> str:
    return current_app.config.get("FIELD_ENCRYPTION_KEY") or current_app.config["SECRET_KEY"]


def encrypt(plain: str) -> str:
    key = base64.urlsafe_b64encode(_derive(_secret(), b"encrypt"))
    return Fernet(key).encrypt(plain.encode()).decode()


def decrypt(token: str) -> str | None:
    key = base64.urlsafe_b64encode(_derive(_secret(), b"encrypt"))
    try:
        return Fernet(key).decrypt(token.encode()).decode()
    except InvalidToken:
        return None  # encrypted under another key: treat as unreadable, never crash a page


def blind_index(plain: str) -> str:
    return hmac.new(_derive(_secret(), b"index"), plain.encode(), hashlib.sha256).hexdigest()
