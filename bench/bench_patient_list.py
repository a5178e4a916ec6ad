"""Patient list and search with 20,000 patients: how long a page takes through the whole Flask stack.

Runs on both backends (`make bench`: SQLite, then PostgreSQL with `_pg` figures, bench/_support.py); the patients
are inserted in bulk (COPY on PostgreSQL). Prints `figure <name> <value> <unit>` lines.
"""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta

import _support

from backoffice import create_app
from backoffice.extensions import db
from backoffice.models import Patient, User

BACKENDS = ("sqlite", "postgresql")
PATIENTS = 20_000
REPEAT = 20


def timed(client, url: str) -> float:
    samples = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        response = client.get(url)
        samples.append(time.perf_counter() - start)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(samples) * 1000


def main() -> int:
    with tempfile.TemporaryDirectory() as folder, _support.database(folder) as (uri, engine_options):
        app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
                          "TWO_FACTOR_REQUIRED_ROLES": ()})  # the pages are measured, not the second factor
        with app.app_context():
            db.create_all()
            user = User(email="bench@example.nl", name="Bench", role="admin")
            user.set_password("bench-password")
            db.session.add(user)
            born = date(1960, 1, 1)
            _support.insert_rows(db.session.connection(), Patient.__table__, [
                {"first_name": f"Voornaam{i}", "infix": "", "last_name": f"Achternaam{i:05d}",
                 "date_of_birth": born + timedelta(days=i % 15000), "postcode": "1015 CS", "city": "Amsterdam"}
                for i in range(PATIENTS)
            ])
            db.session.commit()
        client = app.test_client()
        html = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
        client.post("/login", data={"email": "bench@example.nl", "password": "bench-password", "csrf_token": token})
        first = timed(client, "/patients/")
        deep = timed(client, "/patients/?page=700")
        search = timed(client, "/patients/?q=achternaam1234")
        detail = timed(client, "/patients/1")
        with app.app_context():
            db.session.remove()
            db.engine.dispose()  # before the PostgreSQL schema is dropped
    print(f"{PATIENTS} patients ({_support.label()}), median of {REPEAT} requests through the Flask test client")
    _support.figure("patient_list_first_page_ms", f"{first:.1f}", "ms")
    _support.figure("patient_list_page_700_ms", f"{deep:.1f}", "ms")
    _support.figure("patient_search_ms", f"{search:.1f}", "ms")
    _support.figure("patient_detail_ms", f"{detail:.1f}", "ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
