"""Field-encryption key rotation: `flask keys rotate` re-encrypts every encrypted value under the current key.

How a clinic changes FIELD_ENCRYPTION_KEY (README "Keys"): set the new key as FIELD_ENCRYPTION_KEY and the old one
in FIELD_ENCRYPTION_OLD_KEYS, restart (the app reads both: crypto.MultiFernet), run `flask keys rotate --dry-run`,
then `flask keys rotate`, then remove FIELD_ENCRYPTION_OLD_KEYS and restart.

Encrypted values (grep crypto.encrypt): the patient's BSN with its keyed hash (bsn_index, recomputed here so a search
by BSN finds it under the new key), each user's two-factor secret, and the BSN in the claim lines' frozen workbook
rows. One transaction: a value that no configured key can read refuses the whole rotation and nothing changes.
Rows keep their updated_at: a new key is no change to the record (retention counts from the last real change).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select, update

from . import audit, crypto
from .errors import ServiceError
from .extensions import db
from .models import ClaimLine, Patient, User


class RotationError(ServiceError):
    """The rotation was refused; nothing changed."""


@dataclass
class Rotation:
    bsns: int = 0                # patients' BSNs re-encrypted (and their keyed hash recomputed)
    two_factor_secrets: int = 0
    claim_lines: int = 0         # claim lines whose frozen row holds a BSN
    current: int = 0             # values already under the current key
    unreadable: list[str] = field(default_factory=list)   # "patient 12": readable with no configured key

    @property
    def changed(self) -> int:
        return self.bsns + self.two_factor_secrets + self.claim_lines


def _rotated(token: str, rotation: Rotation, name: str) -> str | None:
    """The token under the current key; None when it already is (or is unreadable, noted in `rotation`)."""
    plain = crypto.decrypt(token)
    if plain is None:
        rotation.unreadable.append(name)
        return None
    if crypto.readable_with_current_key(token):
        rotation.current += 1
        return None
    return crypto.encrypt(plain)


def _patients(rotation: Rotation) -> list[dict]:
    changes = []
    rows = db.session.execute(select(Patient.id, Patient.bsn_encrypted, Patient.bsn_index)
                              .where(Patient.bsn_encrypted.is_not(None)).order_by(Patient.id))
    for patient_id, token, index in rows:
        plain = crypto.decrypt(token or "")
        if plain is None:
            rotation.unreadable.append(f"patient {patient_id}")
        elif crypto.readable_with_current_key(token or "") and index == crypto.blind_index(plain):
            rotation.current += 1
        else:
            changes.append({"pk": patient_id, "token": crypto.encrypt(plain), "index": crypto.blind_index(plain)})
    rotation.bsns = len(changes)
    return changes


def _users(rotation: Rotation) -> list[dict]:
    changes = []
    rows = db.session.execute(select(User.id, User.totp_secret).where(User.totp_secret.is_not(None)).order_by(User.id))
    for user_id, token in rows:
        new = _rotated(token or "", rotation, f"user {user_id}")
        if new:
            changes.append({"pk": user_id, "token": new})
    rotation.two_factor_secrets = len(changes)
    return changes


def _claim_lines(rotation: Rotation) -> list[dict]:
    changes = []
    rows = db.session.execute(select(ClaimLine.id, ClaimLine.snapshot).where(ClaimLine.snapshot.is_not(None))
                              .order_by(ClaimLine.id))
    for line_id, snapshot in rows:
        token = (snapshot or {}).get("bsn_encrypted")
        if not token:
            continue
        new = _rotated(token, rotation, f"claim line {line_id}")
        if new:
            changes.append({"pk": line_id, "snapshot": {**snapshot, "bsn_encrypted": new}})
    rotation.claim_lines = len(changes)
    return changes


def _store(patients: list[dict], users: list[dict], lines: list[dict]) -> None:
    """Core UPDATEs by primary key, each table in one executemany; updated_at is set to itself so it stays."""
    table = Patient.__table__
    if patients:
        db.session.execute(update(table).where(table.c.id == bindparam("pk")).values(
            bsn_encrypted=bindparam("token"), bsn_index=bindparam("index"), updated_at=table.c.updated_at), patients)
    table = User.__table__
    if users:
        values: dict[str, Any] = {"totp_secret": bindparam("token")}
        if "updated_at" in table.c:
            values["updated_at"] = table.c.updated_at
        db.session.execute(update(table).where(table.c.id == bindparam("pk")).values(values), users)
    table = ClaimLine.__table__
    if lines:
        db.session.execute(update(table).where(table.c.id == bindparam("pk")).values(
            snapshot=bindparam("snapshot")), lines)


def rotate(dry_run: bool = False) -> Rotation:
    """Re-encrypt every encrypted value under the current key and recompute every BSN's keyed hash; flushed, the
    unit of work commits (a dry run counts and changes nothing). RotationError when a value is unreadable."""
    db.session.flush()
    rotation = Rotation()
    patients, users, lines = _patients(rotation), _users(rotation), _claim_lines(rotation)
    if rotation.unreadable:
        shown = ", ".join(rotation.unreadable[:10]) + (" ..." if len(rotation.unreadable) > 10 else "")
        raise RotationError(
            f"{len(rotation.unreadable)} value(s) cannot be read with FIELD_ENCRYPTION_KEY or any key in "
            f"FIELD_ENCRYPTION_OLD_KEYS ({shown}): add the key they were written under to FIELD_ENCRYPTION_OLD_KEYS "
            "(comma-separated). Nothing was changed.")
    if dry_run:
        return rotation
    _store(patients, users, lines)
    db.session.expire_all()   # the session's objects re-read the new values
    audit.record("update", None, "field encryption keys",
                 f"rotated: {rotation.bsns} BSN(s), {rotation.two_factor_secrets} two-factor secret(s), "
                 f"{rotation.claim_lines} claim line(s) re-encrypted; {rotation.current} already current")
    return rotation
