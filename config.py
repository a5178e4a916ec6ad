"""Settings for backoffice, read from environment variables.

Everything a clinic may want to change lives here; nothing secret is stored in the repository.
"""

from __future__ import annotations

import math
import os
import secrets
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Values that must never serve as a production secret.
PLACEHOLDER_SECRETS = {"", "dev", "changeme", "change-me", "secret", "development"}
MIN_SECRET_LENGTH = 32
# A key must look random: token_hex(32) has 12-16 different characters and an estimated 220+ bits (token_hex(16),
# 32 characters, about 93 at the least); 'a'*32, a repeated word or 'abcdef...' do not come close.
MIN_DISTINCT_CHARACTERS = 10
MIN_ESTIMATED_BITS = 80
GENERATE_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


class ConfigError(RuntimeError):
    """The configuration is unusable; the message says what to set."""


def weak_key_reason(value: str) -> str | None:
    """Why `value` cannot serve as a production key, or None. A cheap estimate, not a proof: it refuses what a
    person types (placeholders, short values, one character or a pattern repeated, alphabet runs) and lets any
    generated random value through."""
    if value.strip().lower() in PLACEHOLDER_SECRETS:
        return "empty or a placeholder"
    if len(value) < MIN_SECRET_LENGTH:
        return f"shorter than {MIN_SECRET_LENGTH} characters"
    if len(set(value)) < MIN_DISTINCT_CHARACTERS:
        return f"made of fewer than {MIN_DISTINCT_CHARACTERS} different characters"
    if any(value == (value[:period] * (len(value) // period + 1))[:len(value)]
           for period in range(1, len(value) // 2 + 1)):
        return "a repeated pattern"
    steps = sum(abs(ord(b) - ord(a)) <= 1 for a, b in zip(value, value[1:], strict=False))
    if steps * 2 > len(value):
        return "mostly a run of neighbouring characters (abcd..., 1234...)"
    counts = [value.count(character) for character in set(value)]
    bits = -sum(count * math.log2(count / len(value)) for count in counts)
    if bits < MIN_ESTIMATED_BITS:
        return "too predictable"
    return None


def _check_production_keys(secret: str, field_key: str) -> None:
    """Production needs a strong SECRET_KEY and a separate, strong FIELD_ENCRYPTION_KEY: with the BSN key derived
    from SECRET_KEY, changing the session key would make every BSN unreadable."""
    reason = weak_key_reason(secret)
    if reason:
        raise ConfigError(f"BACKOFFICE_ENV=production needs a real SECRET_KEY; this one is {reason}. Set a random "
                          f"key of at least {MIN_SECRET_LENGTH} characters, e.g. {GENERATE_KEY}")
    if not field_key:
        raise ConfigError("BACKOFFICE_ENV=production needs FIELD_ENCRYPTION_KEY (it encrypts every BSN), separate "
                          f"from SECRET_KEY: set a random key, e.g. {GENERATE_KEY}. A database whose BSNs were "
                          "encrypted under SECRET_KEY: put that value in FIELD_ENCRYPTION_OLD_KEYS and run "
                          "`flask keys rotate`.")
    if field_key == secret:
        raise ConfigError("FIELD_ENCRYPTION_KEY must differ from SECRET_KEY: the session key must be replaceable "
                          "without losing every BSN. Set its own random key.")
    reason = weak_key_reason(field_key)
    if reason:
        raise ConfigError(f"FIELD_ENCRYPTION_KEY is {reason}. Set a random key of at least {MIN_SECRET_LENGTH} "
                          f"characters, e.g. {GENERATE_KEY}")


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _whole(name: str, default: int) -> int:
    """A whole number >= 0 from the environment (seconds, counts)."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isascii() or not value.isdigit():
        raise ConfigError(f"{name} must be a whole number (0 or more), not {value!r}")
    return int(value)


def _days(name: str, default: int) -> int:
    """A number of days, 1 or more, from the environment."""
    days = _whole(name, default)
    if days < 1:
        raise ConfigError(f"{name} must be a whole number of days, 1 or more, not {days}")
    return days


def _seconds(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    try:
        seconds = float(value) if value else default
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or seconds == float("inf"):
        raise ConfigError(f"{name} must be a number of seconds above 0, such as 5 or 2.5, not {value!r}")
    return seconds


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
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_hex(32)
    # Created 0600 (never readable by others for a moment, whatever the umask).
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        os.fchmod(descriptor, 0o600)
        handle.write(key)
    return key


MAIL_BACKENDS = ("outbox", "smtp")
MAIL_SECURITY = {"starttls": 587, "ssl": 465, "none": 25}  # with the port each uses unless MAIL_PORT says


def mail_settings(production: bool) -> dict:
    """E-mail to patients (backoffice/mail/): "outbox" writes each message as an .eml file to instance/outbox/
    (the default in development and tests: nothing leaves the machine); "smtp" sends (the default in production)."""
    backend = os.environ.get("MAIL_BACKEND", "").strip().lower() or ("smtp" if production else "outbox")
    if backend not in MAIL_BACKENDS:
        raise ConfigError(f"MAIL_BACKEND must be 'outbox' (write .eml files to instance/outbox/) or 'smtp', "
                          f"not {backend!r}")
    security = os.environ.get("MAIL_SECURITY", "").strip().lower() or "starttls"
    if security not in MAIL_SECURITY:
        raise ConfigError(f"MAIL_SECURITY must be 'starttls' (port 587), 'ssl' (port 465) or 'none', not {security!r}")
    port_text = os.environ.get("MAIL_PORT", "").strip()
    port = MAIL_SECURITY[security]
    if port_text:
        if not port_text.isascii() or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise ConfigError(f"MAIL_PORT must be a port number from 1 to 65535, such as 587, not {port_text!r}")
        port = int(port_text)
    server = os.environ.get("MAIL_SERVER", "").strip()
    sender = os.environ.get("MAIL_FROM", "").strip()
    if production and backend == "smtp" and not (server and sender):
        raise ConfigError("BACKOFFICE_ENV=production sends e-mail by SMTP: set MAIL_SERVER (the mail server's host "
                          "name) and MAIL_FROM (the sender, e.g. 'Huidtherapie Utrecht <info@example.nl>'), or "
                          "MAIL_BACKEND=outbox to keep messages as files in instance/outbox/ instead of sending.")
    return {
        "MAIL_BACKEND": backend,
        "MAIL_SERVER": server,
        "MAIL_PORT": port,
        "MAIL_SECURITY": security,
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME", "").strip(),
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD", ""),
        # Empty: the practice's own address (Praktijkgegevens) is the sender.
        "MAIL_FROM": sender,
        "MAIL_TIMEOUT": _seconds("MAIL_TIMEOUT", 20.0),
        # Where the outbox backend writes; empty: instance/outbox.
        "MAIL_OUTBOX_DIR": os.environ.get("MAIL_OUTBOX_DIR", "").strip(),
    }


def bench_settings(production: bool) -> dict:
    """BENCH_BARE_ROUTES=1 adds the bare patient pages the load benchmark compares against (backoffice/bench_routes.py,
    rendered as the user BENCH_BARE_USER): they show patient data without signing in, so never in production."""
    bare = _bool("BENCH_BARE_ROUTES", False)
    if bare and production:
        raise ConfigError("BENCH_BARE_ROUTES serves patient pages without signing in (for bench/load.py only): "
                          "unset it; it is refused with BACKOFFICE_ENV=production.")
    return {"BENCH_BARE_ROUTES": bare, "BENCH_BARE_USER": os.environ.get("BENCH_BARE_USER", "").strip()}


def load_defaults() -> dict:
    """Settings for tests and tools that bring their own database and secret."""
    return {
        "BACKOFFICE_ENV": "development",
        "SECRET_KEY": secrets.token_hex(32),
        "FIELD_ENCRYPTION_KEY": "",
        "FIELD_ENCRYPTION_OLD_KEYS": "",
        "SQLALCHEMY_DATABASE_URI": "sqlite://",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "backoffice_session",
        "WTF_CSRF_TIME_LIMIT": None,
        "BOOTSTRAP_SERVE_LOCAL": True,
        "MAX_CONTENT_LENGTH": 5 * 1024 * 1024,
        "REMITTANCE_READ_SECONDS": 5.0,
        "LOGIN_FAILURE_WINDOW_SECONDS": 900,
        "LOGIN_DELAY_AFTER_FAILURES": 3,
        "LOGIN_DELAY_MAX_SECONDS": 30,
        "LOGIN_PAIR_MAX_FAILURES": 10,
        "LOGIN_ADDRESS_MAX_UNKNOWN": 20,
        "TRUSTED_PROXIES": 0,
        "SESSION_ABSOLUTE_SECONDS": 12 * 3600,
        "SESSION_IDLE_SECONDS": 30 * 60,
        "PERMANENT_SESSION_LIFETIME": 12 * 3600,
        "CREDENTIAL_WARNING_DAYS": 90,
        "REPORT_READ_CONNECTIONS": 3,
        "BREAK_GLASS_MINUTES": 240,
        "PAGE_SIZE": 25,
        "INTAKE_VALIDITY_MONTHS": 12,
        "INVOICE_PAYMENT_TERM_DAYS": 14,
        "CLAIM_OUTCOME_WAIT_DAYS": 30,
        "PRICE_DEVIATION_CONFIRM_SHARE": 0.5,
        "PRINT_JOB_STALE_SECONDS": 600,
        # Tests and tools run print jobs in the process that queues them (no worker); see printing/queue.py.
        "PRINT_QUEUE_URL": "immediate",
        "PASSWORD_HASH_METHOD": "scrypt",
        "CLINIC_TIMEZONE": "Europe/Amsterdam",
        "TWO_FACTOR_MAX_FAILURES": 5,
        "BSN_REAUTH_MINUTES": 5,
        # E-mail to patients: written to the outbox folder, never sent (tests point MAIL_OUTBOX_DIR elsewhere).
        "MAIL_BACKEND": "outbox",
        "MAIL_SERVER": "",
        "MAIL_PORT": 587,
        "MAIL_SECURITY": "starttls",
        "MAIL_USERNAME": "",
        "MAIL_PASSWORD": "",
        "MAIL_FROM": "",
        "MAIL_TIMEOUT": 5.0,
        "MAIL_OUTBOX_DIR": "",
    }


def load(instance_path: str) -> dict:
    """Build the Flask config mapping from the environment."""
    env = os.environ.get("BACKOFFICE_ENV", "development").strip().lower()
    if env not in {"development", "production"}:
        raise ConfigError(f"BACKOFFICE_ENV must be 'development' or 'production', not {env!r}")
    production = env == "production"

    secret = os.environ.get("SECRET_KEY", "")
    field_key = os.environ.get("FIELD_ENCRYPTION_KEY", "")
    if production:
        _check_production_keys(secret, field_key)
    elif not secret:
        secret = development_secret_key(instance_path)

    database_url = os.environ.get("DATABASE_URL", "").strip()
    database_url = normalise_database_url(database_url) if database_url else "sqlite:///backoffice.sqlite3"

    return {
        "BACKOFFICE_ENV": env,
        "SECRET_KEY": secret,
        # A separate key for field encryption (BSN) lets the session key be rotated on its own.
        "FIELD_ENCRYPTION_KEY": field_key,
        # Signs the access log's hash chain (audit_chain.py); empty: derived from SECRET_KEY. Set it in production
        # so SECRET_KEY can be replaced without every older log entry failing `flask audit verify`.
        "ACCESS_LOG_KEY": os.environ.get("ACCESS_LOG_KEY", ""),
        # Keys used before (comma-separated): read, never written, until `flask keys rotate` re-encrypted everything.
        "FIELD_ENCRYPTION_OLD_KEYS": os.environ.get("FIELD_ENCRYPTION_OLD_KEYS", ""),
        "SQLALCHEMY_DATABASE_URI": database_url,
        # hide_parameters: an error logged outside development names the SQL, not its values (typed search words,
        # names, a BSN's keyed hash); development keeps them for debugging.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": production},
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", production),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "backoffice_session",
        # A session ends 12 h after sign-in however busy (a stolen cookie does not live forever) and after 30 min
        # without a request (auth/sessions.py); the cookie itself expires with the absolute lifetime.
        "SESSION_ABSOLUTE_SECONDS": _whole("SESSION_ABSOLUTE_SECONDS", 12 * 3600),
        "SESSION_IDLE_SECONDS": _whole("SESSION_IDLE_SECONDS", 30 * 60),
        "PERMANENT_SESSION_LIFETIME": _whole("SESSION_ABSOLUTE_SECONDS", 12 * 3600),
        "REMEMBER_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", production),
        "WTF_CSRF_TIME_LIMIT": None,  # tied to the session instead, which expires on its own
        "BOOTSTRAP_SERVE_LOCAL": True,
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_UPLOAD_BYTES", 5 * 1024 * 1024)),
        # An uploaded remittance is read within this many seconds or refused (claims/remittance.py): bytes alone
        # do not bound the work, a zip compresses empty rows 1000:1.
        "REMITTANCE_READ_SECONDS": _seconds("REMITTANCE_READ_SECONDS", 5.0),
        # Sign-in throttling (auth/services.py): failures count for this long; after LOGIN_DELAY_AFTER_FAILURES for
        # one e-mail each next try waits 1, 2, 4 ... s up to LOGIN_DELAY_MAX_SECONDS; one address gets at most
        # LOGIN_PAIR_MAX_FAILURES per account and LOGIN_ADDRESS_MAX_UNKNOWN for e-mails that are no account.
        "LOGIN_FAILURE_WINDOW_SECONDS": _whole("LOGIN_FAILURE_WINDOW_SECONDS", 900),
        "LOGIN_DELAY_AFTER_FAILURES": _whole("LOGIN_DELAY_AFTER_FAILURES", 3),
        "LOGIN_DELAY_MAX_SECONDS": _whole("LOGIN_DELAY_MAX_SECONDS", 30),
        "LOGIN_PAIR_MAX_FAILURES": _whole("LOGIN_PAIR_MAX_FAILURES", 10),
        "LOGIN_ADDRESS_MAX_UNKNOWN": _whole("LOGIN_ADDRESS_MAX_UNKNOWN", 20),
        # How many proxies (TLS terminator, load balancer) stand before the app and set X-Forwarded-For/-Proto/
        # -Host: 0 trusts none of those headers. Set it exactly: one too many lets a client choose its address.
        "TRUSTED_PROXIES": _whole("TRUSTED_PROXIES", 0),
        # Two-factor sign-in (auth/twofactor.py): wrong codes before the sign-in starts again from the password,
        # and the minutes after the password or a code within which a full BSN is shown.
        # werkzeug's scrypt at its default cost; the tests pass a cheaper one.
        "PASSWORD_HASH_METHOD": "scrypt",
        "TWO_FACTOR_MAX_FAILURES": _whole("TWO_FACTOR_MAX_FAILURES", 5) or 5,
        "BSN_REAUTH_MINUTES": _whole("BSN_REAUTH_MINUTES", 5),
        "CREDENTIAL_WARNING_DAYS": int(os.environ.get("CREDENTIAL_WARNING_DAYS", 90)),
        # The monthly report's downloads read their year-to-date figures on up to this many PostgreSQL connections
        # at once (reporting/queries.py: read_side_by_side); 0 or 1: one after another.
        "REPORT_READ_CONNECTIONS": _whole("REPORT_READ_CONNECTIONS", 3),
        # A therapist who broke the glass (backoffice/care/) may open that patient's record for this long.
        "BREAK_GLASS_MINUTES": _whole("BREAK_GLASS_MINUTES", 240),
        "PAGE_SIZE": int(os.environ.get("PAGE_SIZE", 25)),
        # After this many months an intake is outdated: screening warns to repeat it.
        "INTAKE_VALIDITY_MONTHS": int(os.environ.get("INTAKE_VALIDITY_MONTHS", 12)),
        # Due date = issue date + this many days; unpaid invoices past it are on the overdue list.
        "INVOICE_PAYMENT_TERM_DAYS": int(os.environ.get("INVOICE_PAYMENT_TERM_DAYS", 14)),
        # A submitted claim batch still without every outcome this many days later shows on the admin's home page.
        "CLAIM_OUTCOME_WAIT_DAYS": _days("CLAIM_OUTCOME_WAIT_DAYS", 30),
        # A treatment price more than this share (0.5 = 50 %) away from the catalogue price needs a confirmation
        # besides the reason: a typing slip (88x the price) must not slip through with any reason typed.
        "PRICE_DEVIATION_CONFIRM_SHARE": float(os.environ.get("PRICE_DEVIATION_CONFIRM_SHARE", 0.5)),
        # A queued or running print job without progress for this long is failed: its worker stopped.
        "PRINT_JOB_STALE_SECONDS": int(os.environ.get("PRINT_JOB_STALE_SECONDS", 600)),
        # Where queued print jobs wait for the worker (printing/queue.py); empty: instance/print_queue.sqlite3.
        "PRINT_QUEUE_URL": os.environ.get("PRINT_QUEUE_URL", ""),
        # Claim workbooks and uploaded remittances (patient data): empty means instance/claims.
        "CLAIMS_DIR": os.environ.get("CLAIMS_DIR", ""),
        # Print output and exported claim workbooks older than this are removed by `flask cleanup` (cron).
        "FILE_RETENTION_DAYS": int(os.environ.get("FILE_RETENTION_DAYS", 30)),
        # `flask backup`: the Fernet key(s) (comma-separated, the first encrypts) and the default folder.
        "BACKUP_KEY": os.environ.get("BACKUP_KEY", ""),
        "BACKUP_DIR": os.environ.get("BACKUP_DIR", ""),
        # "Today" is the clinic's day: invoice dates, number series, overdue and age checks follow this zone.
        "CLINIC_TIMEZONE": clinic_timezone_name(),
    } | mail_settings(production) | bench_settings(production)
