"""Caps under concurrency, on PostgreSQL: recordings for one patient in parallel processes cannot both take the
last euros of a cap (the patient row is locked FOR UPDATE while the cap is charged; treatments/services.py)."""

from __future__ import annotations

import multiprocessing
from datetime import date

import factories
from conftest import make_test_app
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models import Treatment
from backoffice.treatments import services

PROCESSES = 6
EACH = 4
SPAWN = multiprocessing.get_context("spawn")


def record_some(schema: str, ids: dict[str, int], days: list[date], barrier, results) -> None:
    app = make_test_app("postgresql", schema)
    recorded = []
    with app.app_context():
        barrier.wait(timeout=60)
        for day in days:
            treatment = factories.recorded_treatment(ids["patient"], ids["therapist"], ids["item"], day)
            db.session.commit()
            recorded.append(treatment.id)
        db.session.remove()
        db.engine.dispose()
    results.put(recorded)


def test_parallel_recordings_never_take_more_than_the_cap(postgres_schema):
    app = make_test_app("postgresql", postgres_schema)
    with app.app_context():
        db.create_all()
        therapist = factories.therapist("Sanne de Vries", "90123456", kp=[(date(2015, 1, 1), date(2030, 12, 31))],
                                        kp_number="KP-1", nvh_number="NVH-1", nvh_from=date(2015, 1, 1))
        insurer = factories.insurer("Zilveren Kruis", "3311", packages=["Aanvullend 3"])
        factories.coverage_rule(insurer, 2026, label="Huidtherapie", categories=["scars", "acne"], cap_cents=30_000,
                                cap_group="")
        item = factories.catalogue_item("FL1", price_cents=12_000)
        patient = factories.patient("Jansen")
        factories.insurance(patient, insurer, package=insurer.packages[0], valid_from=date(2025, 1, 1))
        db.session.commit()
        ids = {"therapist": therapist.id, "item": item.id, "patient": patient.id}
        db.session.remove()
        db.engine.dispose()

    # Interleaved dates: every process records some early and some late treatments, at the same moment.
    shares = [[date(2026, 10, 1 + process + PROCESSES * k) for k in range(EACH)][::(-1) ** process]
              for process in range(PROCESSES)]
    barrier, results = SPAWN.Barrier(PROCESSES), SPAWN.Queue()
    workers = [SPAWN.Process(target=record_some, args=(postgres_schema, ids, share, barrier, results))
               for share in shares]
    for worker in workers:
        worker.start()
    recorded = [treatment_id for _ in workers for treatment_id in results.get(timeout=120)]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    assert len(recorded) == PROCESSES * EACH

    with app.app_context():
        treatments = db.session.scalars(select(Treatment).order_by(Treatment.treatment_date)).all()
        amounts = [t.insurer_amount_cents for t in treatments]
        # 24 treatments of EUR 120 under a EUR 300 cap: exactly 120 + 120 + 60, in date order, and no more.
        assert sum(amounts) == 30_000
        assert amounts[:3] == [12_000, 12_000, 6_000] and set(amounts[3:]) == {0}
        for treatment in treatments:  # each has what a fresh assessment in date order gives
            assert services.assess_treatment(treatment).insurer_amount * 100 == treatment.insurer_amount_cents
        db.session.remove()
        db.engine.dispose()
