"""Settings for backoffice, read from environment variables.

Everything a clinic may want to change lives here; nothing secret is stored in the repository.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Values that must never serve as a production secret.
PLACEHOLDER_SECRETS = {"", "dev", "changeme", "change-me", "secret", "development"}
MIN_SECRET_LENGTH = 32


class ConfigError(RuntimeError):
    """The configuration is unusable; the message says what to set."""


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def clinic_timezone_name() -> str:
    name = os.environ.get("CLINIC_TIMEZONE", "").strip() or "Europe/Amsterdam"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ConfigError(f"CLINIC_TIMEZONE must be an IANA time zone such as Europe/Amsterdam, not {name!r}") \
            from error
    return name


def normalise_database_url(url: str) -> str:
    """Point plain PostgreSQL URLs at psycopg 3 (SQLAlchemy would otherwise pick psycopg2)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def development_secret_key(instance_path: str) -> str:
    """Create a random key in instance/ on first run and reuse it afterwards."""
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


def load_defaults() -> dict:
    """Settings for tests and tools that bring their own database and secret."""
    return {
        "BACKOFFICE_ENV": "development",
        "SECRET_KEY": secrets.token_hex(32),
        "FIELD_ENCRYPTION_KEY": "",
        "SQLALCHEMY_DATABASE_URI": "sqlite://",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "backoffice_session",
        "WTF_CSRF_TIME_LIMIT": None,
        "BOOTSTRAP_SERVE_LOCAL": True,
        "MAX_CONTENT_LENGTH": 5 * 1024 * 1024,
        "LOGIN_MAX_FAILURES": 5,
        "LOGIN_FAILURE_WINDOW_SECONDS": 900,
        "CREDENTIAL_WARNING_DAYS": 90,
        "PAGE_SIZE": 25,
        "INTAKE_VALIDITY_MONTHS": 12,
        "INVOICE_PAYMENT_TERM_DAYS": 14,
        "PRICE_DEVIATION_CONFIRM_SHARE": 0.5,
        "PRINT_JOB_STALE_SECONDS": 600,
        # Tests and tools run print jobs in the process that queues them (no worker); see printing/queue.py.
        "PRINT_QUEUE_URL": "immediate",
        "PASSWORD_HASH_METHOD": "scrypt",
        "CLINIC_TIMEZONE": "Europe/Amsterdam",
    }


def load(instance_path: str) -> dict:
    """Build the Flask config mapping from the environment."""
    env = os.environ.get("BACKOFFICE_ENV", "development").strip().lower()
    if env not in {"development", "production"}:
        raise ConfigError(f"BACKOFFICE_ENV must be 'development' or 'production', not {env!r}")
    production = env == "production"

    secret = os.environ.get("SECRET_KEY", "")
    if production:
        if secret.strip().lower() in PLACEHOLDER_SECRETS or len(secret) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"BACKOFFICE_ENV=production needs a real SECRET_KEY of at least {MIN_SECRET_LENGTH} "
                'characters, e.g. python -c "import secrets; print(secrets.token_hex(32))"'
            )
    elif not secret:
        secret = development_secret_key(instance_path)

    database_url = os.environ.get("DATABASE_URL", "").strip()
    database_url = normalise_database_url(database_url) if database_url else "sqlite:///backoffice.sqlite3"

    return {
        "BACKOFFICE_ENV": env,
        "SECRET_KEY": secret,
        # A separate key for field encryption (BSN) lets the session key be rotated on its own.
        "FIELD_ENCRYPTION_KEY": os.environ.get("FIELD_ENCRYPTION_KEY", ""),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", production),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "backoffice_session",
        "PERMANENT_SESSION_LIFETIME": int(os.environ.get("SESSION_LIFETIME_SECONDS", 8 * 3600)),
        "REMEMBER_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", production),
        "WTF_CSRF_TIME_LIMIT": None,  # tied to the session instead, which expires on its own
        "BOOTSTRAP_SERVE_LOCAL": True,
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_UPLOAD_BYTES", 5 * 1024 * 1024)),
        "LOGIN_MAX_FAILURES": int(os.environ.get("LOGIN_MAX_FAILURES", 5)),
        "LOGIN_FAILURE_WINDOW_SECONDS": int(os.environ.get("LOGIN_FAILURE_WINDOW_SECONDS", 900)),
        "CREDENTIAL_WARNING_DAYS": int(os.environ.get("CREDENTIAL_WARNING_DAYS", 90)),
        "PAGE_SIZE": int(os.environ.get("PAGE_SIZE", 25)),
        # After this many months an intake is outdated: screening warns to repeat it.
        "INTAKE_VALIDITY_MONTHS": int(os.environ.get("INTAKE_VALIDITY_MONTHS", 12)),
        # Due date = issue date + this many days; unpaid invoices past it are on the overdue list.
        "INVOICE_PAYMENT_TERM_DAYS": int(os.environ.get("INVOICE_PAYMENT_TERM_DAYS", 14)),
        # A treatment price more than this share (0.5 = 50 %) away from the catalogue price needs a confirmation
        # besides the reason: a typing slip (88x the price) must not slip through with any reason typed.
        "PRICE_DEVIATION_CONFIRM_SHARE": float(os.environ.get("PRICE_DEVIATION_CONFIRM_SHARE", 0.5)),
        # A queued or running print job without progress for this long is failed: its worker stopped.
        "PRINT_JOB_STALE_SECONDS": int(os.environ.get("PRINT_JOB_STALE_SECONDS", 600)),
        # Where queued print jobs wait for the worker (printing/queue.py); empty: instance/print_queue.sqlite3.
        "PRINT_QUEUE_URL": os.environ.get("PRINT_QUEUE_URL", ""),
        # Claim workbooks and uploaded remittances (patient data): empty means instance/claims.
        "CLAIMS_DIR": os.environ.get("CLAIMS_DIR", ""),
        # "Today" is the clinic's day: invoice dates, number series, overdue and age checks follow this zone.
        "CLINIC_TIMEZONE": clinic_timezone_name(),
    }
