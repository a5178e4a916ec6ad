"""Keys: production needs a strong SECRET_KEY and a separate, strong FIELD_ENCRYPTION_KEY; `flask keys rotate`
re-encrypts every encrypted value under a new key (MultiFernet) and recomputes the BSN search hash; `seed-demo` is
refused in production."""

from __future__ import annotations

import secrets
from datetime import date

import pytest
from sqlalchemy import func, select
from test_claims import ClaimClinic

import config
from backoffice import create_app, crypto
from backoffice.claims import batches as claim_batches
from backoffice.claims import export as claim_export
from backoffice.claims.settings import stored_settings
from backoffice.extensions import db
from backoffice.models import AccessLog, ClaimLine, Patient, User
from backoffice.patients import services as patients

STRONG_SECRET = "kX3vQ9pL2mN8rT5wY7zB1cD4fG6hJ0aS"   # not a real key: 32 characters without a pattern
STRONG_FIELD_KEY = "Zr8Kp2Lm5Nq9Tv3Wx6Yb1Cd4Fg7Hj0Ae"
OLD_KEY = "old-Qm4Rt7Yu1Io3Pa6Sd9Fg2Hj5Kl8Zx0Cv"
NEW_KEY = "new-Wb3Nm6Qe9Rt2Yu5Io8Pa1Sd4Fg7Hj0Kl"
BSNS = ("111222333", "123456782")


# ---- configuration -------------------------------------------------------------------------------------------


@pytest.fixture
def production(monkeypatch, tmp_path):
    for name in ("SECRET_KEY", "FIELD_ENCRYPTION_KEY", "FIELD_ENCRYPTION_OLD_KEYS", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BACKOFFICE_ENV", "production")
    monkeypatch.setenv("MAIL_SERVER", "smtp.example.nl")  # production sends e-mail by SMTP (tests/test_mail.py)
    monkeypatch.setenv("MAIL_FROM", "info@example.nl")
    monkeypatch.setenv("BACKOFFICE_INSTANCE_PATH", str(tmp_path / "instance"))
    return monkeypatch


@pytest.mark.parametrize("weak", ["a" * 32, "abcd" * 8, "0123456789abcdefghijklmnopqrstuvwxyz", "Welkom2026!" * 3,
                                  "changeme", "x" * 31])
@pytest.mark.parametrize("name", ["SECRET_KEY", "FIELD_ENCRYPTION_KEY"])
def test_production_refuses_weak_keys_saying_what_to_set(production, weak, name):
    production.setenv("SECRET_KEY", STRONG_SECRET)
    production.setenv("FIELD_ENCRYPTION_KEY", STRONG_FIELD_KEY)
    production.setenv(name, weak)
    with pytest.raises(config.ConfigError, match=name) as raised:
        config.load("/nonexistent")
    assert "secrets.token_urlsafe(32)" in str(raised.value) and weak not in str(raised.value)


def test_production_requires_a_field_encryption_key_of_its_own(production):
    production.setenv("SECRET_KEY", STRONG_SECRET)
    with pytest.raises(config.ConfigError, match="needs FIELD_ENCRYPTION_KEY .* separate from SECRET_KEY"):
        config.load("/nonexistent")
    production.setenv("FIELD_ENCRYPTION_KEY", STRONG_SECRET)
    with pytest.raises(config.ConfigError, match="FIELD_ENCRYPTION_KEY must differ from SECRET_KEY"):
        config.load("/nonexistent")


def test_generated_keys_pass(production):
    for _ in range(20):
        production.setenv("SECRET_KEY", secrets.token_hex(32))
        production.setenv("FIELD_ENCRYPTION_KEY", secrets.token_urlsafe(32))
        settings = config.load("/nonexistent")
        assert settings["FIELD_ENCRYPTION_KEY"] != settings["SECRET_KEY"]
    for key in (secrets.token_hex(16), secrets.token_hex(32), secrets.token_urlsafe(32), STRONG_SECRET):
        assert config.weak_key_reason(key) is None


def test_development_keeps_its_fallbacks(monkeypatch, tmp_path):
    for name in ("BACKOFFICE_ENV", "SECRET_KEY", "FIELD_ENCRYPTION_KEY", "FIELD_ENCRYPTION_OLD_KEYS"):
        monkeypatch.delenv(name, raising=False)
    settings = config.load(str(tmp_path))
    assert settings["FIELD_ENCRYPTION_KEY"] == "" and len(settings["SECRET_KEY"]) >= 32


# ---- rotation -----------------------------------------------------------------------------------------------


@pytest.fixture
def encrypted(app, tmp_path):
    """Under OLD_KEY: two patients with a BSN, one without, a user's two-factor secret, a claim line whose frozen
    workbook row holds the BSN."""
    app.config.update(FIELD_ENCRYPTION_KEY=OLD_KEY, FIELD_ENCRYPTION_OLD_KEYS="", CLAIMS_DIR=str(tmp_path / "claims"))
    with app.app_context():
        clinic = ClaimClinic()
        with_bsn = [clinic.patient("Bakker", bsn=BSNS[0]), clinic.patient("Jansen", bsn=BSNS[1])]
        clinic.patient("Smit")
        clinic.line(with_bsn[0], day=date(2026, 10, 2), price="50.00")
        stored_settings(clinic.insurer.id).bsn_required = True   # the workbook row carries the BSN
        batch = clinic.batch()
        claim_export.export_batch(batch, clinic.user, today=date(2026, 11, 3))
        claim_batches.mark_submitted(batch, clinic.user)
        clinic.user.totp_secret = crypto.encrypt("JBSWY3DPEHPK3PXP")
        db.session.commit()
        before = {p.id: (p.bsn_encrypted, p.bsn_index, p.updated_at) for p in db.session.scalars(select(Patient))}
        return {"patients": with_bsn, "user": clinic.user.id, "before": before}


def _tokens(app) -> dict:
    with app.app_context():
        return {
            "patients": {row.id: row.bsn_encrypted
                         for row in db.session.execute(select(Patient.id, Patient.bsn_encrypted))},
            "users": {row.id: row.totp_secret for row in db.session.execute(select(User.id, User.totp_secret)
                                                                         .where(User.totp_secret.is_not(None)))},
            "lines": {i: s["bsn_encrypted"] for i, s in db.session.execute(select(ClaimLine.id, ClaimLine.snapshot))
                      if s and s.get("bsn_encrypted")},
        }


def _found(bsn: str) -> list[int]:
    return [p.id for p in db.session.scalars(patients.search_query(bsn))]


def test_rotation_re_encrypts_everything_and_search_still_finds_the_patient(app, encrypted):
    tokens = _tokens(app)
    assert tokens["lines"], "the claim line's frozen row holds the BSN"
    # The clinic sets the new key and names the old one: everything reads, a search finds, before the rotation.
    app.config.update(FIELD_ENCRYPTION_KEY=NEW_KEY, FIELD_ENCRYPTION_OLD_KEYS=f" {OLD_KEY} ,")
    with app.app_context():
        assert [db.session.get(Patient, i).get_bsn() for i in encrypted["patients"]] == list(BSNS)
        assert _found(BSNS[0]) == [encrypted["patients"][0]]
        assert patients.find_by_bsn(BSNS[1]).id == encrypted["patients"][1]

    dry = app.test_cli_runner().invoke(args=["keys", "rotate", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "Dry run: would re-encrypt 4 value(s): 2 BSN(s)" in dry.output
    assert "1 two-factor secret(s), 1 claim line(s)" in dry.output
    assert _tokens(app) == tokens

    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "re-encrypted 4 value(s)" in result.output

    app.config["FIELD_ENCRYPTION_OLD_KEYS"] = ""   # the new key alone
    with app.app_context():
        for patient_id, bsn in zip(encrypted["patients"], BSNS, strict=True):
            patient = db.session.get(Patient, patient_id)
            assert patient.get_bsn() == bsn
            assert crypto.readable_with_current_key(patient.bsn_encrypted)
            assert patient.bsn_index == crypto.blind_index(bsn) != encrypted["before"][patient_id][1]
            assert patient.updated_at == encrypted["before"][patient_id][2]   # a new key is no change to the record
            assert _found(bsn) == [patient_id]
        assert crypto.decrypt(db.session.get(User, encrypted["user"]).totp_secret) == "JBSWY3DPEHPK3PXP"
        snapshot = db.session.scalar(select(ClaimLine.snapshot).where(ClaimLine.snapshot.is_not(None)))
        assert crypto.decrypt(snapshot["bsn_encrypted"]) == BSNS[0]
        assert claim_export._row_from_snapshot(snapshot).bsn == BSNS[0]
        logged = db.session.scalar(select(AccessLog).where(AccessLog.subject == "field encryption keys"))
        assert logged.detail.startswith("rotated: 2 BSN(s)") and BSNS[0] not in logged.detail
    # With the old key alone nothing reads any more: the values really moved.
    app.config.update(FIELD_ENCRYPTION_KEY=OLD_KEY)
    with app.app_context():
        assert db.session.get(Patient, encrypted["patients"][0]).get_bsn() is None
    # Run again: nothing left to do.
    app.config.update(FIELD_ENCRYPTION_KEY=NEW_KEY)
    again = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert "re-encrypted 0 value(s)" in again.output and "4 already under the current key" in again.output


def test_a_value_no_key_reads_refuses_the_whole_rotation(app, encrypted):
    with app.app_context():
        stranger = db.session.get(Patient, encrypted["patients"][1])
        app.config["FIELD_ENCRYPTION_KEY"] = "a-key-nobody-configured-Hq7Lp2Zx9"
        stranger.set_bsn(BSNS[1])
        db.session.commit()
    app.config.update(FIELD_ENCRYPTION_KEY=NEW_KEY, FIELD_ENCRYPTION_OLD_KEYS=OLD_KEY)
    tokens = _tokens(app)
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code != 0
    assert "1 value(s) cannot be read" in result.output and f"patient {encrypted['patients'][1]}" in result.output
    assert "Nothing was changed" in result.output and BSNS[1] not in result.output
    assert _tokens(app) == tokens


def test_keys_generate_prints_a_key_production_accepts(app):
    result = app.test_cli_runner().invoke(args=["keys", "generate"])
    key = result.output.strip()
    assert result.exit_code == 0 and len(key) >= 43 and config.weak_key_reason(key) is None


# ---- seed-demo ------------------------------------------------------------------------------------------------


def test_seed_demo_is_refused_in_production(app):
    app.config["BACKOFFICE_ENV"] = "production"
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code != 0
    assert "seed-demo is refused with BACKOFFICE_ENV=production" in result.output
    assert "flask create-user" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id))) == 0


def test_seed_demo_is_refused_by_a_real_production_app(production, tmp_path):
    production.setenv("SECRET_KEY", STRONG_SECRET)
    production.setenv("FIELD_ENCRYPTION_KEY", STRONG_FIELD_KEY)
    production.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'clinic.sqlite3'}")
    app = create_app()
    result = app.test_cli_runner().invoke(args=["seed-demo", "--if-empty"])
    assert result.exit_code == 1 and "refused" in result.output
