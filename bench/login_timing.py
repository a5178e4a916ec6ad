"""Does the sign-in page's timing tell which accounts exist? (issue 13: 108 ms vs 9 ms median before the fix)

Signs in BENCH_ROUNDS times (default 40) with a wrong password for a real account and for an e-mail that is no
account, interleaved, through the Flask test client on a temporary SQLite file and on PostgreSQL (`_pg` figures,
bench/_support.py), with the production password hash method (werkzeug's scrypt default). Throttling limits are
raised so that every attempt reaches the password check.

Prints `figure <name> <value> <unit>` lines (goal: login_unknown_vs_known_ratio between 0.8 and 1.25). Run with
`make bench`.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

import _support

from backoffice import create_app
from backoffice.extensions import db
from backoffice.models import User

BACKENDS = ("sqlite", "postgresql")
KNOWN, UNKNOWN = "known@bench.nl", "unknown@bench.nl"


def main() -> None:
    rounds = int(os.environ.get("BENCH_ROUNDS", 40))
    with tempfile.TemporaryDirectory() as folder, _support.database(folder) as (uri, engine_options):
        app = create_app({
            "TESTING": True, "WTF_CSRF_ENABLED": False,
            "SQLALCHEMY_DATABASE_URI": uri, "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
            "PASSWORD_HASH_METHOD": "scrypt",
            "LOGIN_DELAY_AFTER_FAILURES": 10 * rounds, "LOGIN_PAIR_MAX_FAILURES": 10 * rounds,
            "LOGIN_ADDRESS_MAX_UNKNOWN": 10 * rounds,
        })
        with app.app_context():
            db.create_all()
            user = User(email=KNOWN, name="Known", role="admin")
            user.set_password("a real password nobody guesses")
            db.session.add(user)
            db.session.commit()
        client = app.test_client()
        times: dict[str, list[float]] = {KNOWN: [], UNKNOWN: []}
        for email in (KNOWN, UNKNOWN):  # warm-up: imports, the dummy hash, the first connection
            client.post("/login", data={"email": email, "password": "wrong password"})
        for _ in range(rounds):
            for email in (KNOWN, UNKNOWN):
                started = time.perf_counter()
                response = client.post("/login", data={"email": email, "password": "wrong password"})
                times[email].append(time.perf_counter() - started)
                assert response.status_code == 401, response.status_code
        with app.app_context():
            db.engine.dispose()
    known, unknown = statistics.median(times[KNOWN]), statistics.median(times[UNKNOWN])
    _support.figure("login_known_median_ms", f"{known * 1000:.1f}", "ms")
    _support.figure("login_unknown_median_ms", f"{unknown * 1000:.1f}", "ms")
    _support.figure("login_unknown_vs_known_ratio", f"{unknown / known:.3f}")


if __name__ == "__main__":
    main()
