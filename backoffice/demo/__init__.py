"""A realistic demo practice: users, therapists with credential history, insurers, patients, their care and
billing, entered through the same services as at the desk (no web forms involved).

`seed_demo` adds and flushes; the CLI command (`flask seed-demo`) commits. The data are generated from a fixed
random seed, so an empty database always gets the same practice. Dates are relative to `today` (the clinic's
day by default), so the credential badges keep showing one valid, one expiring and one diploma-only therapist
whenever it is run.

- data.py: the practice as data (names, places, insurers and their rules, catalogue, billing figures)
- people.py: users, practice, insurers, therapists; patients checked against the desk's entry rules
- care.py: catalogue, coverage rules, intakes, referrals and treatments (screened as at the desk)
- billing.py: invoices, payments, a credit note and claim batches
"""

from __future__ import annotations

import random
from datetime import date

from ..clock import clinic_today
from ..extensions import db
from . import billing, care, people
from .data import CATALOGUE, COVERAGE_RULES, DEMO_LOGINS, INSURERS, LASER_SETTINGS, PROFILES, SEED
from .report import SeedReport

__all__ = ["CATALOGUE", "COVERAGE_RULES", "DEMO_LOGINS", "INSURERS", "LASER_SETTINGS", "PROFILES", "SeedReport",
           "seed_demo"]


def seed_demo(today: date | None = None) -> SeedReport:
    """Add the demo practice; rows that already exist (same e-mail, UZOVI, AGB, patient) are left alone."""
    today = today or clinic_today()
    rng = random.Random(SEED)
    report = SeedReport()
    users = people.users()
    people.practice()
    insurers = people.insurers(report)
    people.therapists(today, users, report)
    added = people.patients(today, rng, insurers, report)
    items = care.catalogue(report)
    care.coverage_rules(today, insurers, report)
    db.session.flush()
    care.patient_histories(today, rng, added, items, report)
    db.session.flush()
    billing.billing(today, rng, added, insurers, report)
    db.session.flush()
    return report
