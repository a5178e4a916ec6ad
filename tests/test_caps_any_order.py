"""Caps that hold in any recording order: a treatment recorded, corrected or withdrawn before others under the same
cap re-assesses the later ones that are on no invoice and in no claim; invoiced ones never change and count."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import factories
import pytest
from conftest import post_form
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from backoffice.domain.intake import Screening
from backoffice.extensions import db
from backoffice.invoicing import services as invoicing
from backoffice.invoicing.services import InvoiceError
from backoffice.models import AccessLog, Insurer, Patient, Treatment, User
from backoffice.treatments import services

YEAR = 2026
OCT = {day: date(YEAR, 10, day) for day in range(1, 32)}


@dataclass
class Clinic:
    therapist: int
    insurer: int
    item: int
    cheap_item: int
    user: int
    groups: dict[str, tuple[str, Decimal]] = field(default_factory=dict)  # indication -> (cap group, cap)

    def patient(self) -> int:
        patient = factories.patient(f"P{db.session.scalar(select(func.count(Patient.id)))}")
        insurer = db.session.get_one(Insurer, self.insurer)
        factories.insurance(patient, insurer, package=insurer.packages[0], valid_from=date(YEAR - 1, 1, 1))
        db.session.flush()
        return patient.id

    def record(self, patient_id: int, day: date, indication: str = "acne_scar", cheap: bool = False) -> int:
        item = self.cheap_item if cheap else self.item
        return factories.recorded_treatment(patient_id, self.therapist, item, day, indication=indication,
                                            price_cents=7_500 if cheap else 12_000).id


@pytest.fixture
def clinic(app):
    """The scene, built in an app context that is not kept (the test client must push its own: a kept context
    would share `g`, and with it a stale CSRF token, between requests)."""
    with app.app_context():
        therapist = factories.therapist("Sanne de Vries", "90123456", kp=[(date(2015, 1, 1), date(2030, 12, 31))],
                                        kp_number="KP-1", nvh_number="NVH-1", nvh_from=date(2015, 1, 1))
        insurer = factories.insurer("Zilveren Kruis", "3311", packages=["Aanvullend 3"])
        scars = factories.coverage_rule(insurer, YEAR, label="Huidtherapie", categories=["scars", "acne"],
                                        cap_cents=30_000, cap_group="")
        factories.coverage_rule(insurer, YEAR, label="Oedeemtherapie", categories=["oedema"],
                                         cap_cents=15_000, cap_group="oedeem", percentage=80)
        item = factories.catalogue_item("FL1", price_cents=12_000)
        cheap = factories.catalogue_item("LD1", "Manuele lymfedrainage", technique=None, price_cents=7_500)
        user = factories.user("balie@example.nl", "admin")
        db.session.commit()
        return Clinic(therapist.id, insurer.id, item.id, cheap.id, user.id, groups={
            "acne_scar": (f"rule-{scars.id}", Decimal("300.00")), "oedema": ("oedeem", Decimal("150.00"))})


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


def amounts(patient_id: int) -> dict[date, Decimal]:
    rows = db.session.execute(select(Treatment.treatment_date, Treatment.insurer_amount_cents)
                              .where(Treatment.patient_id == patient_id, Treatment.withdrawn_at.is_(None))
                              .order_by(Treatment.treatment_date)).all()
    return {day: Decimal(cents) / 100 for day, cents in rows}


def test_recording_late_never_exceeds_the_cap(clinic, ctx):
    """The issue's case: 03-10, 04-10 and 05-10 recorded, then 02-10, under a EUR 300 cap at EUR 120 each. Before:
    120 + 120 + 60 + 120 = EUR 420. Now the late one takes its place in date order and the later ones are
    re-assessed: 120 + 120 + 60 + 0."""
    patient = clinic.patient()
    for day in (3, 4, 5):
        clinic.record(patient, OCT[day])
    assert list(amounts(patient).values()) == [Decimal("120"), Decimal("120"), Decimal("60")]
    cascaded: list[services.CapChange] = []
    data = services.TreatmentInput(therapist_id=clinic.therapist, treatment_date=OCT[2],
                                   catalogue_item_id=clinic.item, indication="acne_scar", body_area="face",
                                   price_cents=12_000)
    treatment = services.record_treatment(db.session.get_one(Patient, patient), data, Screening(day=OCT[2]),
                                          cascaded=cascaded)
    db.session.commit()
    assert treatment.insurer_amount_cents == 12_000
    assert amounts(patient) == {OCT[2]: 120, OCT[3]: 120, OCT[4]: 60, OCT[5]: 0}
    assert sum(amounts(patient).values()) == Decimal("300")
    # Each change is reported with before and after, and logged.
    assert [(c.treatment_date, c.before.insurer_amount, c.after.insurer_amount) for c in cascaded
            if c.amounts_changed] == [(OCT[4], Decimal("120.00"), Decimal("60.00")),
                                      (OCT[5], Decimal("60.00"), Decimal("0.00"))]
    assert not cascaded[-1].after.reimbursable and "EUR 60,00 -> EUR 0,00" in cascaded[-1].words()
    # 03-10 keeps its EUR 120; only what is left of the cap after it changed: stored and logged too.
    assert [c.treatment_date for c in cascaded] == [OCT[3], OCT[4], OCT[5]]
    logged = db.session.scalars(select(AccessLog.detail).where(AccessLog.detail.like("re-assessed after%"))
                                .order_by(AccessLog.id)).all()
    assert len(logged) == 3 and all(f"treatment {treatment.id} was recorded" in text for text in logged)
    assert "insurer amount 120.00 -> 60.00" in logged[1] and "insurer amount 60.00 -> 0.00" in logged[2]


def test_invoiced_treatments_keep_their_amount_and_the_late_one_gets_what_is_left(clinic, ctx):
    patient = clinic.patient()
    later = [clinic.record(patient, OCT[day]) for day in (3, 4, 5)]
    factories.draft_invoice(patient, later[:2], db.session.get_one(User, clinic.user))  # 03-10 and 04-10
    db.session.commit()
    clinic.record(patient, OCT[2])
    db.session.commit()
    # The invoiced 240 stay; 02-10 gets what is left after them (60); 05-10 (not invoiced) then nothing.
    assert amounts(patient) == {OCT[2]: 60, OCT[3]: 120, OCT[4]: 120, OCT[5]: 0}


def _input(treatment: Treatment, **changes) -> services.TreatmentInput:
    fields = {name: getattr(treatment, name) for name in services.CORRECTABLE_FIELDS}
    fields.update(changes)
    return services.TreatmentInput(**fields)


def test_a_correction_to_a_later_day_lets_the_treatments_it_passes_take_the_cap(clinic, ctx):
    patient = clinic.patient()
    first = clinic.record(patient, OCT[2])
    for day in (3, 4):
        clinic.record(patient, OCT[day])
    db.session.commit()
    assert amounts(patient) == {OCT[2]: 120, OCT[3]: 120, OCT[4]: 60}
    treatment = db.session.get_one(Treatment, first)
    cascaded: list[services.CapChange] = []
    services.correct_treatment(treatment, _input(treatment, treatment_date=OCT[6]), "Verkeerde dag", None,
                               cascaded=cascaded)
    db.session.commit()
    assert amounts(patient) == {OCT[3]: 120, OCT[4]: 120, OCT[6]: 60}
    # The moved one itself is the correction's own change; 03-10 keeps its amount (only the cap left after it).
    assert [c.treatment_date for c in cascaded if c.amounts_changed] == [OCT[4]]


def _three(app, clinic: Clinic, invoiced: bool = False) -> tuple[int, int]:
    with app.app_context():
        patient = clinic.patient()
        first = clinic.record(patient, OCT[2])
        for day in (3, 4):
            clinic.record(patient, OCT[day])
        if invoiced:
            factories.draft_invoice(patient, [first], db.session.get_one(User, clinic.user))
        db.session.commit()
        return patient, first


def test_a_withdrawn_treatment_frees_its_cap_and_is_never_invoiced(app, clinic, as_role):
    patient, first = _three(app, clinic)
    client = as_role("therapist")
    page = client.get(f"/treatments/{first}/withdraw")
    assert page.status_code == 200 and 'data-testid="withdraw-treatment-form"' in page.get_data(as_text=True)
    refused = post_form(client, f"/treatments/{first}/withdraw", {"reason": ""})
    assert refused.status_code == 422
    response = post_form(client, f"/treatments/{first}/withdraw", {"reason": "Dubbel ingevoerd"},
                         follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'data-testid="withdrawn"' in html and "Dubbel ingevoerd" in html
    assert "EUR 60,00 -&gt; EUR 120,00" in html  # 04-10 now gets the whole EUR 120, and the page says so
    with app.app_context():
        assert amounts(patient) == {OCT[3]: 120, OCT[4]: 120}
        withdrawn = db.session.get_one(Treatment, first)
        assert withdrawn.withdrawn and withdrawn.insurer_amount_cents == 0 and not withdrawn.reimbursable
        assert withdrawn.corrections[0].changed_fields == ["withdrawn"]
        assert withdrawn.corrections[0].previous_assessment["insurer_amount"] == "120.00"
        # Never invoiced, never corrected or withdrawn again.
        patient_row = db.session.get_one(Patient, patient)
        assert first not in [t.id for t in invoicing.invoiceable_treatments(patient_row)]
        with pytest.raises(InvoiceError):
            invoicing.draft_invoice(patient_row, [first])
        db.session.rollback()
        with pytest.raises(services.TreatmentWithdrawn):
            services.correct_treatment(withdrawn, _input(withdrawn, price_cents=10_000), "x")
        db.session.rollback()
    again = client.get(f"/treatments/{first}/withdraw", follow_redirects=True)
    assert "can no longer be changed" in again.get_data(as_text=True) or "niet meer gewijzigd" in again.get_data(
        as_text=True)
    listed = client.get(f"/treatments/?patient_id={patient}").get_data(as_text=True)
    assert 'data-testid="withdrawn-badge"' in listed
    history = client.get(f"/treatments/{first}").get_data(as_text=True)
    assert "Dubbel ingevoerd" in history and "EUR 120,00" in history


def test_a_manager_may_not_withdraw(app, clinic, as_role):
    _patient, first = _three(app, clinic)
    client = as_role("manager")
    response = post_form(client, f"/treatments/{first}/withdraw", {"reason": "x"}, token_from="/")
    assert response.status_code == 403


def test_an_invoiced_treatment_cannot_be_withdrawn(app, clinic, as_role):
    _patient, first = _three(app, clinic, invoiced=True)
    response = post_form(as_role("therapist"), f"/treatments/{first}/withdraw", {"reason": "x"}, token_from="/")
    assert response.status_code == 409
    with app.app_context():
        assert db.session.get_one(Treatment, first).withdrawn_at is None


# ---- any order: a property test ---------------------------------------------------------------------------

RECORD = st.tuples(st.just("record"), st.just(0), st.integers(1, 60), st.booleans())
OPERATIONS = st.lists(st.one_of(
    RECORD, RECORD, RECORD,  # recording is what happens most
    st.tuples(st.just("correct"), st.integers(0, 20), st.integers(1, 60), st.booleans()),
    st.tuples(st.just("withdraw"), st.integers(0, 20), st.just(0), st.just(False)),
    st.tuples(st.just("invoice"), st.integers(0, 20), st.just(0), st.just(False)),
), min_size=3, max_size=14)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_caps_hold_whatever_the_order(clinic, ctx, operations):
    """Record, correct (to another day, or to the other cap), withdraw and invoice in random order with random
    dates under two caps: per cap the insurer amounts never add up to more than the cap, every treatment that is
    not invoiced has the amount a fresh assessment in date order gives, and an invoiced one never changes."""
    patient = clinic.patient()
    db.session.commit()
    recorded: list[int] = []
    frozen: dict[int, int] = {}
    start = date(YEAR, 9, 1)
    user = db.session.get_one(User, clinic.user)
    for kind, n, day, flag in operations:
        if kind == "record":
            indication = "oedema" if flag or day % 5 == 0 else "acne_scar"  # lymph drainage is cheaper
            recorded.append(clinic.record(patient, start + timedelta(days=day), indication=indication, cheap=flag))
        elif recorded:
            treatment = db.session.get_one(Treatment, recorded[n % len(recorded)])
            if treatment.withdrawn or treatment.id in frozen:
                continue
            if kind == "correct":
                changes = ({"treatment_date": start + timedelta(days=day)} if flag else
                           {"indication": "oedema" if treatment.indication == "acne_scar" else "acne_scar"})
                try:
                    services.correct_treatment(treatment, _input(treatment, **changes), "Correctie")
                except services.NothingChanged:
                    db.session.rollback()
                    continue
            elif kind == "withdraw":
                services.withdraw_treatment(treatment, "Ten onrechte ingevoerd")
            else:
                factories.draft_invoice(patient, [treatment.id], user)
                frozen[treatment.id] = treatment.insurer_amount_cents
        db.session.commit()

    treatments = db.session.scalars(select(Treatment).where(Treatment.patient_id == patient)).all()
    for group, cap in clinic.groups.values():
        charged = sum(t.insurer_amount_cents for t in treatments if t.cap_group == group and not t.withdrawn)
        assert charged <= cap * 100
    for treatment in treatments:
        if treatment.withdrawn:
            assert treatment.insurer_amount_cents == 0
        elif treatment.id in frozen:
            assert treatment.insurer_amount_cents == frozen[treatment.id]
        else:
            fresh = services.assess_treatment(treatment)
            assert (fresh.insurer_amount * 100, fresh.reimbursable) == (treatment.insurer_amount_cents,
                                                                        treatment.reimbursable)
