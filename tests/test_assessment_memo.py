"""The reference data an assessment reads (rules, credentials, insurance records) is read once per transaction and
never outlives a change: an unflushed edit, a flushed one, a bulk UPDATE and the end of the transaction all drop
it, so a second assessment in the same transaction sees what changed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal

import factories
from sqlalchemy import event, update

from backoffice.extensions import db
from backoffice.models import CoverageRule, Insurance, KpRegistration, Treatment
from backoffice.treatments import services

D = Decimal
DAY = date(2026, 3, 2)


@contextmanager
def statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def remember(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)


def _scene() -> tuple[Treatment, CoverageRule]:
    factories.practice()
    therapist = factories.therapist()
    insurer = factories.insurer("Menzis", "3332")
    rule = factories.coverage_rule(insurer, 2026, cap_cents=30_000)
    patient = factories.patient()
    factories.insurance(patient, insurer, valid_from=date(2020, 1, 1))
    item = factories.catalogue_item(price_cents=12_000)
    treatment = factories.recorded_treatment(patient.id, therapist.id, item.id, DAY)
    db.session.commit()
    return treatment, rule


def _reads(seen: list[str], table: str) -> int:
    return sum(1 for s in seen if s.lstrip().upper().startswith("SELECT") and f"FROM {table}" in s)


def test_a_second_assessment_in_the_transaction_reads_no_reference_data_again(app):
    with app.app_context():
        treatment, _rule = _scene()
        with statements() as first:
            services.assess_treatment(treatment)
        with statements() as second:
            assert services.assess_treatment(treatment).insurer_amount == D("120.00")
        for table in ("coverage_rules", "therapists", "insurances"):
            assert _reads(first, table) == 1, (table, first)
            assert _reads(second, table) == 0, (table, second)


def test_an_unflushed_rule_change_is_seen(app):
    with app.app_context():
        treatment, rule = _scene()
        assert services.assess_treatment(treatment).insurer_amount == D("120.00")
        rule.percentage = 50
        assert services.assess_treatment(treatment).insurer_amount == D("60.00")


def test_a_flushed_rule_change_and_a_bulk_update_are_seen(app):
    with app.app_context():
        treatment, rule = _scene()
        assert services.assess_treatment(treatment).insurer_amount == D("120.00")
        rule.max_per_treatment_cents = 4_500
        db.session.flush()
        assert services.assess_treatment(treatment).insurer_amount == D("45.00")
        db.session.execute(update(CoverageRule).where(CoverageRule.id == rule.id)
                           .values(max_per_treatment_cents=None, percentage=25))
        assert services.assess_treatment(treatment).insurer_amount == D("30.00")


def test_a_lapsed_registration_and_an_ended_insurance_are_seen(app):
    with app.app_context():
        treatment, _rule = _scene()
        assert services.assess_treatment(treatment).reimbursable
        registration = db.session.query(KpRegistration).one()
        registration.period_end = date(2026, 1, 31)
        lapsed = services.assess_treatment(treatment)
        assert not lapsed.reimbursable and lapsed.insurer_amount == 0
        registration.period_end = date(2031, 1, 1)
        assert services.assess_treatment(treatment).reimbursable
        insurance = db.session.query(Insurance).one()
        insurance.valid_until = date(2026, 2, 28)
        uninsured = services.assess_treatment(treatment)
        assert uninsured.insurance is None and not uninsured.reimbursable


def test_the_memo_ends_with_the_transaction(app):
    with app.app_context():
        treatment, _rule = _scene()
        services.assess_treatment(treatment)
        assert db.session().info.get("assessment_memo")
        db.session.commit()
        assert "assessment_memo" not in db.session().info
        services.assess_treatment(treatment)
        db.session.rollback()
        assert "assessment_memo" not in db.session().info


def test_prefetched_insurances_are_read_once_for_many_patients_and_assess_the_same(app):
    """services.prefetch_insurances (the rule editor's preview, a batch of assessments): one query for every
    patient's records, the same order and answers as read one patient at a time; a patient without insurance is
    known to have none; a change to a record still drops what was read."""
    with app.app_context():
        treatment, _rule = _scene()
        insurer = db.session.get_one(CoverageRule, _rule.id).insurer
        others = []
        for n in range(3):
            patient = factories.patient()
            factories.insurance(patient, insurer, valid_from=date(2019 + n, 1, 1))
            factories.insurance(patient, insurer, valid_from=date(2025, 1, 1))
            others.append(patient.id)
        uninsured = factories.patient().id
        db.session.commit()
        one_by_one = {pid: [r.id for r in services._insurances_until(pid, DAY)[1]]
                      for pid in [treatment.patient_id, *others, uninsured]}
        expected = services.assess_treatment(treatment)
        db.session.rollback()  # a new transaction: nothing in the memo

        with statements() as seen:
            services.prefetch_insurances([treatment.patient_id, *others, uninsured, treatment.patient_id])
        assert _reads(seen, "insurances") == 1
        with statements() as seen:
            for pid, ids in one_by_one.items():
                assert [r.id for r in services._insurances_until(pid, DAY)[1]] == ids
            assessed = services.assess_treatment(treatment)
        assert _reads(seen, "insurances") == 0 and one_by_one[uninsured] == []
        assert (assessed.insurer_amount, assessed.reimbursable) == (expected.insurer_amount, expected.reimbursable)
        with statements() as seen:
            services.prefetch_insurances(others)  # read already: no query
        assert _reads(seen, "insurances") == 0

        db.session.get_one(Insurance, db.session.query(Insurance.id).filter_by(patient_id=others[0]).first()[0]) \
            .valid_until = date(2025, 12, 31)  # an unflushed change: the memo is dropped
        with statements() as seen:
            services._insurances_until(others[0], DAY)
        assert _reads(seen, "insurances") == 1
        db.session.rollback()


def test_prefetch_for_treatments_reads_their_referrals_once(app):
    """services.prefetch_for: the treatments' insurance records and referrals in two queries; assessing them then
    reads neither again, and gives what it gives without the prefetch."""
    with app.app_context():
        treatment, _rule = _scene()
        referral = factories.referral(db.session.get_one(Treatment, treatment.id).patient, referral_date=DAY)
        treatment.referral_id = referral.id
        db.session.commit()
        expected = services.assess_treatment(treatment)
        db.session.rollback()
        with statements() as seen:
            services.prefetch_for([treatment, treatment])
        assert _reads(seen, "insurances") == 1 and _reads(seen, "referrals") == 1
        with statements() as seen:
            assessed = services.assess_treatment(treatment)
        assert _reads(seen, "insurances") == 0 and _reads(seen, "referrals") == 0
        assert assessed.to_dict() == expected.to_dict()
        db.session.rollback()
