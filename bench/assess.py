"""A year of a busy 10-room clinic: 5,000 patients, 50,000 treatments.

(a) Assess every treatment through the real service path (`assess_treatment` + `store_assessment`, committed in
    batches) in date order, as they would have been recorded one by one.
(b) The treatment list page through the Flask test client: first page, deep pages through the older/newer keyset
    links and cursors spread over the whole list, filtered by month, therapist and medical/cosmetic.

Runs on both backends (`make bench`, bench/_run.py): a temporary SQLite file, and PostgreSQL in a schema of its own
that is dropped afterwards (BENCH_BACKEND=postgresql, bench/_support.py); the figures of the PostgreSQL run end in
`_pg`. The data is inserted in bulk (COPY on PostgreSQL): the 50,000-treatment database is built in seconds.
BENCH_TREATMENTS sets a smaller scale while developing (a tenth as many patients). Prints `figure <name> <value>
<unit>` lines.

Stacked rules (issue 12) are exercised on top of the demo's rules: every insurer gets its basic insurance with a
chronic-list rule for scars and oedema from the 6th treatment of the category (the bench's patients have ten), the
FBTO rule a maximum per treatment and a fallback rule once its cap is used up. BENCH_STACKED=0 leaves them out
(the data the figures before 5 December were measured on).
"""

from __future__ import annotations

import html
import os
import random
import re
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import date, timedelta

import _support
from sqlalchemy import and_, event, func, insert, or_, select, text
from sqlalchemy.orm import joinedload

from backoffice import create_app
from backoffice.demo import CATALOGUE, COVERAGE_RULES, INSURERS, LASER_SETTINGS, PROFILES
from backoffice.extensions import db
from backoffice.models import (
    CatalogueItem,
    CoverageRule,
    Insurance,
    Insurer,
    KpRegistration,
    NvhMembership,
    Package,
    Patient,
    Referral,
    Therapist,
    Treatment,
    TreatmentRulePart,
    User,
)
from backoffice.treatments.services import assess_treatment, prefetch_for, store_assessment

BACKENDS = ("sqlite", "postgresql")
TREATMENTS = int(os.environ.get("BENCH_TREATMENTS", "50000"))
PATIENTS = max(1, TREATMENTS // 10)
THERAPISTS = 10          # one per room
BATCH = 500              # treatments assessed per commit
LIST_REQUESTS = 240      # at least 200
PASSWORD = "bench-password"
TODAY = date(2026, 11, 24)
STACKED = os.environ.get("BENCH_STACKED", "1") != "0"
CHRONIC_FROM = 6          # the chronic list's "from the 21st treatment", scaled to ten treatments a patient
FIRST_DAY = TODAY - timedelta(days=364)

# How often each complaint comes in (a mix of medical and cosmetic work).
PROFILE_WEIGHTS = {
    "acne_scars": 12, "acne": 10, "hirsutism_laser": 12, "pcos_ipl": 5, "hypertrichosis_electrolysis": 6,
    "camouflage": 3, "oedema": 8, "rejuvenation": 16, "legs": 18, "sun_damage": 10,
}


@contextmanager
def counting(engine):
    """Counts the SQL statements sent to the database inside the block."""
    count = [0]

    def before(*_args, **_kwargs):
        count[0] += 1

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield count
    finally:
        event.remove(engine, "before_cursor_execute", before)


def working_days() -> list[date]:
    return [FIRST_DAY + timedelta(days=n) for n in range(365)
            if (FIRST_DAY + timedelta(days=n)).weekday() < 5]


def build(rng: random.Random) -> dict:
    """Bulk inserts: practice data, therapists with credentials, insurers, rules, patients, treatments."""
    _users()
    items = _catalogue()
    therapist_ids = _therapists_with_credentials()
    insurers, packages = _insurers_and_packages()
    rules = _coverage_rules(insurers, packages)
    patient_ids = _patients(rng)
    insurances = _insurances(rng, patient_ids, insurers, packages)
    profiles = {pid: rng.choices(list(PROFILE_WEIGHTS), weights=list(PROFILE_WEIGHTS.values()))[0]
                for pid in patient_ids}
    referrals = _referrals(rng, profiles)
    _treatments(rng, patient_ids, profiles, items, therapist_ids)
    db.session.commit()
    return {"therapists": therapist_ids, "rules": rules, "referrals": referrals, "insurances": insurances}


def _users() -> None:
    admin = User(email="bench@example.nl", name="Bench Admin", role="admin")
    admin.set_password(PASSWORD)
    db.session.add(admin)


def _catalogue() -> dict[str, CatalogueItem]:
    db.session.execute(insert(CatalogueItem), [
        {"code": code, "name": name, "technique": technique, "prestatiecode": prestatiecode, "price_cents": cents,
         "duration_minutes": minutes, "active": True}
        for code, name, technique, prestatiecode, cents, minutes in CATALOGUE
    ])
    return {i.code: i for i in db.session.scalars(select(CatalogueItem))}


def _therapists_with_credentials() -> list[int]:
    """One therapist per room, each an NVH member; eight in the kwaliteitsregister, two on the diplomaregister
    (their work is refused by KP-level rules)."""
    db.session.execute(insert(Therapist), [
        {"name": f"Therapeut {n:02d}", "agb_code": f"900{n:05d}", "email": f"t{n}@example.nl", "active": True}
        for n in range(1, THERAPISTS + 1)
    ])
    therapist_ids = list(db.session.scalars(select(Therapist.id).order_by(Therapist.id)))
    db.session.execute(insert(NvhMembership), [
        {"therapist_id": t, "member_number": f"NVH-{t:04d}", "valid_from": date(2015, 1, 1), "valid_until": None}
        for t in therapist_ids
    ])
    db.session.execute(insert(KpRegistration), [
        {"therapist_id": t, "kp_number": f"KP-{t:05d}",
         "level": "kwaliteitsregister" if n < 8 else "diplomaregister",
         "period_start": date(2022, 1, 1), "period_end": date(2026, 12, 31)}
        for n, t in enumerate(therapist_ids)
    ])
    return therapist_ids


def _insurers_and_packages() -> tuple[dict[str, Insurer], dict[tuple[int, str], int]]:
    """The demo's insurers by UZOVI code, and their packages' ids by (insurer id, name)."""
    db.session.execute(insert(Insurer), [{"name": name, "uzovi": uzovi, "claim_address": address}
                                         for name, uzovi, _packages, address in INSURERS])
    insurers = {i.uzovi: i for i in db.session.scalars(select(Insurer))}
    db.session.execute(insert(Package), [{"insurer_id": insurers[uzovi].id, "name": p}
                                         for _name, uzovi, packages, _address in INSURERS for p in packages])
    if STACKED:
        db.session.execute(insert(Package), [{"insurer_id": i.id, "name": "Basis", "kind": "basic"}
                                             for i in insurers.values()])
    return insurers, {(p.insurer_id, p.name): p.id for p in db.session.scalars(select(Package))}


def _coverage_rules(insurers: dict[str, Insurer], packages: dict[tuple[int, str], int]) -> int:
    """The demo's coverage rules for both years the bench spans; returns how many."""
    rules = 0
    for uzovi, (_years, specs) in COVERAGE_RULES.items():
        for year in sorted({FIRST_DAY.year, TODAY.year}):
            for spec in specs:
                db.session.add(_coverage_rule(insurers[uzovi], packages, year, spec))
                rules += 1
    db.session.flush()
    if STACKED:
        rules += _stacked_rules(insurers, packages)
    return rules


def _stacked_rules(insurers: dict[str, Insurer], packages: dict[tuple[int, str], int]) -> int:
    """The chronic list on every insurer's basic insurance; FBTO: a maximum per treatment and a fallback."""
    added = 0
    for year in sorted({FIRST_DAY.year, TODAY.year}):
        for insurer in insurers.values():
            db.session.add(CoverageRule(
                insurer_id=insurer.id, package_id=packages[(insurer.id, "Basis")], year=year, priority=-1,
                label="Chronische lijst (basisverzekering)", categories=["scars", "oedema"], cap_cents=None,
                cap_group=f"chronisch-{insurer.id}", from_treatment_number=CHRONIC_FROM, body_areas=[]))
            added += 1
        fbto = db.session.scalars(select(CoverageRule).where(CoverageRule.insurer_id == insurers["3343"].id,
                                                             CoverageRule.year == year)).all()
        for rule in fbto:
            rule.max_per_treatment_cents = 9_000
            db.session.flush()
            db.session.add(CoverageRule(
                insurer_id=rule.insurer_id, package_id=rule.package_id, year=year, priority=1,
                label="Restitutie na maximum", categories=list(rule.categories), cap_cents=15_000, percentage=50,
                cap_group=f"fbto-rest-{year}", applies_after_rule_id=rule.id, body_areas=[]))
            added += 1
    db.session.flush()
    return added


def _coverage_rule(insurer: Insurer, packages: dict[tuple[int, str], int], year: int, spec: dict) -> CoverageRule:
    values = {k: v for k, v in spec.items() if k != "package"}
    package_id = packages[(insurer.id, spec["package"])] if spec["package"] else None
    return CoverageRule(insurer_id=insurer.id, package_id=package_id, year=year,
                        categories=list(values.pop("categories")), body_areas=list(values.pop("body_areas", [])),
                        **values)


def _bulk(model, rows: list[dict]) -> None:
    """COPY on PostgreSQL, one executemany on SQLite (bench/_support.py), in the session's transaction."""
    _support.insert_rows(db.session.connection(), model.__table__, rows)


def _patients(rng: random.Random) -> list[int]:
    born = date(1950, 1, 1)
    _bulk(Patient, [
        {"first_name": f"Voornaam{i}", "infix": "", "last_name": f"Achternaam{i:05d}",
         "date_of_birth": born + timedelta(days=rng.randint(0, 18_000)), "postcode": "3511 AB", "city": "Utrecht"}
        for i in range(PATIENTS)
    ])
    return list(db.session.scalars(select(Patient.id).order_by(Patient.id)))


def _insurances(rng: random.Random, patient_ids: list[int], insurers: dict[str, Insurer],
                packages: dict[tuple[int, str], int]) -> int:
    """A policy for six patients in seven (the seventh is a cosmetic client without one); returns how many."""
    package_choices = [(i.id, pid) for i in insurers.values() for (iid, _n), pid in packages.items()
                       if iid == i.id]
    insurances = []
    for n, patient_id in enumerate(patient_ids):
        if n % 7 == 6:
            continue  # cosmetic clients without insurance recorded
        insurer_id, package_id = rng.choice(package_choices)
        insurances.append({"patient_id": patient_id, "insurer_id": insurer_id, "package_id": package_id,
                           "policy_number": f"{rng.randint(100_000_000, 999_999_999)}",
                           "valid_from": date(rng.randint(2015, 2025), 1, 1), "valid_until": None})
    _bulk(Insurance, insurances)
    return len(insurances)


def _referrals(rng: random.Random, profiles: dict[int, str]) -> int:
    """A referral for four in five patients whose complaint needs one; returns how many."""
    referrals = [{"patient_id": pid, "referrer_type": PROFILES[profile][5], "referrer_name": "Huisarts Bench",
                  "referrer_agb": "01012345", "referral_date": FIRST_DAY - timedelta(days=rng.randint(0, 60)),
                  "valid_until": TODAY, "diagnosis": "Bench"}
                 for pid, profile in profiles.items() if PROFILES[profile][5] and rng.random() < 0.8]
    _bulk(Referral, referrals)
    return len(referrals)


def _treatments(rng: random.Random, patient_ids: list[int], profiles: dict[int, str],
                items: dict[str, CatalogueItem], therapist_ids: list[int]) -> None:
    """TREATMENTS treatments, the patients in turn, on random working days of the year, not yet assessed."""
    referral_of = dict(db.session.execute(select(Referral.patient_id, Referral.id)).all())
    days = working_days()
    rows = []
    for n in range(TREATMENTS):
        patient_id = patient_ids[n % PATIENTS]
        indication, code, areas, _sessions, _gaps, _referrer = PROFILES[profiles[patient_id]]
        item = items[code]
        settings = LASER_SETTINGS.get(item.technique or "")
        rows.append({
            "patient_id": patient_id, "therapist_id": rng.choice(therapist_ids),
            "treatment_date": days[rng.randrange(len(days))], "catalogue_item_id": item.id,
            "indication": indication, "body_area": rng.choice(areas), "session_number": n // PATIENTS + 1,
            "price_cents": item.price_cents, "referral_id": referral_of.get(patient_id),
            "device": settings[0] if settings else "", "wavelength_nm": settings[1] if settings else None,
        })
    _bulk(Treatment, rows)


def assess_all() -> tuple[float, int]:
    """Assess every treatment in date order, committing every BATCH; returns (seconds, treatments)."""
    done = 0
    last: tuple[date, int] | None = None
    start = time.perf_counter()
    while True:
        query = (select(Treatment).options(joinedload(Treatment.catalogue_item))
                 .order_by(Treatment.treatment_date, Treatment.id).limit(BATCH))
        if last is not None:
            query = query.where(or_(Treatment.treatment_date > last[0],
                                    and_(Treatment.treatment_date == last[0], Treatment.id > last[1])))
        batch = list(db.session.scalars(query))
        if not batch:
            break
        prefetch_for(batch)  # the batch's insurance records and referrals in two queries
        for treatment in batch:
            store_assessment(treatment, assess_treatment(treatment))
        last = (batch[-1].treatment_date, batch[-1].id)
        db.session.commit()
        done += len(batch)
    return time.perf_counter() - start, done


def queries_for_one_assessment() -> tuple[int, bool]:
    """Statements for assessing and storing one treatment with a referral and a matching rule; with stacked rules,
    one two rules paid (the FBTO rule and its fallback)."""
    query = (select(Treatment).options(joinedload(Treatment.catalogue_item))
             .where(Treatment.reimbursable, Treatment.referral_id.is_not(None))
             .order_by(Treatment.treatment_date.desc()).limit(1))
    stacked = (select(TreatmentRulePart.treatment_id).group_by(TreatmentRulePart.treatment_id)
               .having(func.count(TreatmentRulePart.id) > 1))
    treatment = (db.session.scalar(query.where(Treatment.id.in_(stacked))) if STACKED else None) \
        or db.session.scalar(query)
    with counting(db.engine) as count:
        assessment = assess_treatment(treatment)
        store_assessment(treatment, assessment)
        db.session.flush()
    db.session.rollback()
    return count[0], assessment.reimbursable


def sign_in(client) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"email": "bench@example.nl", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.status_code


LINK = re.compile(r'href="([^"]*[?&](?:after|before)=[^"]+)"')


def keyset_links(page: str) -> dict[str, str]:
    """The page's older (?after=) and newer (?before=) links."""
    links = {}
    for href in LINK.findall(page):
        href = html.unescape(href)
        links["older" if re.search(r"[?&]after=", href) else "newer"] = href
    return links


def list_urls(rng: random.Random, therapist_ids: list[int]) -> list[str]:
    """Spread over the whole list: cursors at random depths, with and without filters."""
    keys = db.session.execute(select(Treatment.treatment_date, Treatment.id)).all()
    months = sorted({(d.year, d.month) for d, _ in keys})
    urls = ["/treatments/", "/treatments/?kind=medical", "/treatments/?kind=cosmetic",
            "/treatments/?reimbursable=yes"]
    urls += [f"/treatments/?month={y}-{m:02d}" for y, m in months]
    urls += [f"/treatments/?therapist_id={t}" for t in therapist_ids]
    filters = ["", "kind=medical&", "kind=cosmetic&", *(f"therapist_id={t}&" for t in therapist_ids[:3]),
               *(f"month={y}-{m:02d}&" for y, m in months[::3])]
    while len(urls) < LIST_REQUESTS - 60:  # the rest are reached by following links
        day, ident = rng.choice(keys)
        direction = rng.choice(["after", "after", "before"])
        urls.append(f"/treatments/?{rng.choice(filters)}{direction}={day.isoformat()}_{ident}")
    return urls


def measure_list(app, therapist_ids: list[int], rng: random.Random) -> tuple[list[float], list[int], int]:
    client = app.test_client()
    sign_in(client)
    samples: list[float] = []
    queries: list[int] = []
    followed = 0
    with app.app_context():
        engine = db.engine  # the app's engine outlives the context; requests push their own

    def get(url: str) -> str:
        with counting(engine) as count:
            start = time.perf_counter()
            response = client.get(url)
            samples.append((time.perf_counter() - start) * 1000)
        queries.append(count[0])
        assert response.status_code == 200, (url, response.status_code)
        return response.get_data(as_text=True)

    with app.app_context():
        urls = list_urls(rng, therapist_ids)
    for url in urls:
        get(url)
    # Walk by the page's own links: 30 pages older from the first page, then 15 back newer; the same for
    # one filtered list.
    for start_url, older, newer in (("/treatments/", 30, 15), ("/treatments/?kind=medical", 10, 5)):
        page = get(start_url)
        for direction, steps in (("older", older), ("newer", newer)):
            for _ in range(steps):
                link = keyset_links(page).get(direction)
                if link is None:
                    break
                page = get(link)
                followed += 1
    return samples, queries, followed


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


CASCADE_LATER = 50   # later unclaimed treatments of the same patient and cap
CASCADE_RUNS = 7


def measure_cascade(therapist_id: int) -> tuple[list[float], int]:
    """Record a treatment dated before 50 later unclaimed ones of the same patient and cap (in the 50,000-treatment
    database): its own assessment and the re-assessment of the 50 in date order, committed. Per run a new insured
    patient; the 50 are recorded first through the same service (not timed)."""
    from backoffice.domain.intake import Screening
    from backoffice.treatments.services import TreatmentInput, record_treatment

    rules = [r for r in db.session.scalars(select(CoverageRule).where(CoverageRule.year == TODAY.year,
                                                                      CoverageRule.withdrawn_at.is_(None)))
             if "scars" in r.categories and r.cap_cents]
    rule = min(rules, key=lambda r: r.referral_required)  # one without a referral if there is one
    item = db.session.scalars(select(CatalogueItem).where(CatalogueItem.technique == "fractional_laser")).first()
    insurer = db.session.get(Insurer, rule.insurer_id)
    package_id = rule.package_id or (insurer.packages[0].id if insurer.packages else None)
    timings, changed = [], 0
    for run in range(CASCADE_RUNS):
        patient = Patient(first_name="Cascade", last_name=f"Bench {run}", date_of_birth=date(1990, 1, 1),
                          street="Keizersgracht 1", postcode="1015 CS", city="Amsterdam")
        db.session.add(patient)
        db.session.flush()
        db.session.add(Insurance(patient_id=patient.id, insurer_id=insurer.id, package_id=package_id,
                                 policy_number=f"CB{run:04d}", valid_from=date(TODAY.year - 3, 1, 1)))
        referral = Referral(patient_id=patient.id, referrer_type="dermatologist", referrer_name="Dermatoloog Bench",
                            referrer_agb="03056789", referral_date=date(TODAY.year, 1, 2),
                            valid_until=date(TODAY.year, 12, 31), diagnosis="Littekens")
        db.session.add(referral)
        db.session.commit()

        def data(day: date, referral_id: int = referral.id) -> TreatmentInput:
            return TreatmentInput(therapist_id=therapist_id, treatment_date=day, catalogue_item_id=item.id,
                                  indication="acne_scar", body_area="face", price_cents=item.price_cents,
                                  referral_id=referral_id)

        first = date(TODAY.year, 2, 1)
        for k in range(CASCADE_LATER):
            record_treatment(patient, data(first + timedelta(days=3 * k)), Screening(day=first))
        db.session.commit()
        cascaded: list = []
        start = time.perf_counter()
        record_treatment(patient, data(date(TODAY.year, 1, 15)), Screening(day=first), cascaded=cascaded)
        db.session.commit()
        timings.append((time.perf_counter() - start) * 1000)
        changed = len(cascaded)
    return timings, changed


def run(uri: str, engine_options: dict, label: str) -> int:
    rng = random.Random(2026)
    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
                      "PASSWORD_HASH_METHOD": "scrypt:4096:8:1",
                      "TWO_FACTOR_REQUIRED_ROLES": ()})  # the pages are measured, not the second factor
    with app.app_context():
        db.create_all()
        start = time.perf_counter()
        built = build(rng)
        build_s = time.perf_counter() - start
        seconds, done = assess_all()
        one, reimbursable = queries_for_one_assessment()
        cascade, cascaded = measure_cascade(built["therapists"][0])
        counts = db.session.execute(text(
            "SELECT COUNT(*), SUM(CASE WHEN medical THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN reimbursable THEN 1 ELSE 0 END) FROM treatments")).one()
        parts = db.session.execute(text(
            "SELECT COUNT(*), COUNT(DISTINCT treatment_id) FROM treatment_rule_parts")).one()
    samples, queries, followed = measure_list(app, built["therapists"], rng)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()

    print(f"{label}: {PATIENTS} patients, {done} treatments by {THERAPISTS} therapists in {TODAY.year - 1}/"
          f"{TODAY.year}, {built['rules']} coverage rules, {built['referrals']} referrals; built in {build_s:.1f} s")
    print(f"assessed {done} treatments in date order in {seconds:.1f} s, commit every {BATCH}; "
          f"{counts[1]} medical, {counts[2]} reimbursable; {parts[0]} rule parts on {parts[1]} treatments "
          f"(stacked rules {'on' if STACKED else 'off'})")
    _support.figure("assess_per_s", f"{done / seconds:.0f}", "treatments/s")
    _support.figure("assess_queries", one, f"queries (one treatment with a referral and a matching rule, "
                    f"reimbursable={reimbursable}, including the UPDATE)")
    _support.figure("reassess_cascade_ms", f"{statistics.median(cascade):.0f}", f"ms (median of {len(cascade)}: a "
                    f"treatment recorded before {CASCADE_LATER} later unclaimed ones of the same patient and cap, "
                    f"{cascaded} of them re-assessed and stored, committed)")
    print(f"treatment list: {len(samples)} requests through the Flask test client ({followed} by following the "
          f"older/newer links)")
    _support.figure("treatment_list_median_ms", f"{statistics.median(samples):.1f}", "ms")
    _support.figure("treatment_list_p95_ms", f"{percentile(samples, 0.95):.1f}", "ms")
    _support.figure("treatment_list_max_ms", f"{max(samples):.1f}", "ms")
    _support.figure("treatment_list_queries", f"{statistics.median(queries):.0f}",
                    f"queries (median per request; min {min(queries)}, max {max(queries)})")
    return 0


def main() -> int:
    with tempfile.TemporaryDirectory() as folder, _support.database(folder) as (uri, engine_options):
        return run(uri, engine_options, _support.label())


if __name__ == "__main__":
    sys.exit(main())
