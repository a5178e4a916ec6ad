"""Numbers typed the Dutch way in Chromium with locale nl-NL arrive intact.

Chromium's <input type=number> dropped the decimal comma before the server saw it (199,50 was stored as
EUR 19.950,00). Every money and decimal field is now a text input with inputmode=decimal; here `199,50`, `12,5`,
`1.234,56` and `99,95` are typed into each of them and the stored cents or Decimal checked in the database, and an
ambiguous `1,234` is refused with a message next to the field while nothing is stored.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta
from decimal import Decimal

import factories
import pytest
from conftest import create_user
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from backoffice.clock import clinic_today
from backoffice.extensions import db

from .conftest import ADMIN_EMAIL, THERAPIST_EMAIL
from .helpers import confirm_dialog, field, in_app, post, sign_in, submit

pytestmark = pytest.mark.browser

# What is typed -> what must be stored.
TYPED = [("199,50", Decimal("199.50")), ("12,5", Decimal("12.50")), ("1.234,56", Decimal("1234.56")),
         ("99,95", Decimal("99.95"))]
AMBIGUOUS = "1,234"


def dutch(amount: Decimal) -> str:
    """1234.56 -> 1.234,56"""
    return f"{amount:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def cents(amount: Decimal) -> int:
    return int(amount * 100)


def assert_decimal_text_inputs(page: Page, *names: str) -> None:
    """The fields are text inputs for a decimal keyboard (a browser number field would drop the comma)."""
    for name in names:
        control = field(page, name)
        expect(control).to_have_count(1)
        assert control.get_attribute("type") in (None, "text"), name
        expect(control).to_have_attribute("inputmode", "decimal")


def assert_refused_next_to(page: Page, name: str, typed: str) -> None:
    """The form came back with a message quoting what was typed, shown right by the field."""
    control = field(page, name)
    expect(control).to_have_value(typed)  # what was typed is kept, to correct
    expect(control).to_have_class(re.compile(r"\bis-invalid\b"))
    message = page.locator(".invalid-feedback", has_text=typed)
    expect(message).to_be_visible()
    box, near = control.bounding_box(), message.bounding_box()
    assert box and near and 0 <= near["y"] - (box["y"] + box["height"]) < 60, (box, near)


def confirm_large_price_change(page: Page) -> bool:
    """A price far from the catalogue price needs an explicit confirmation besides the reason (issue 10, #3): tick
    it when the form asks. Returns whether it asked."""
    confirmation = field(page, "price_confirmed")
    if confirmation.count() and confirmation.is_visible() and not confirmation.is_checked():
        confirmation.check()
        return True
    return False


# ---- treatment: price and laser parameters ---------------------------------------------------------------------


def test_treatment_price_and_laser_parameters(live_app, live_server: str, page: Page,
                                              treatment_practice: dict[str, int]):
    from backoffice.models import CatalogueItem, Treatment

    patient = treatment_practice["referred"]
    item = in_app(live_app, lambda: db.session.scalars(select(CatalogueItem).filter_by(code="FRAC-SCAR-F")).one().id)
    decimals = ("price", "fluence_j_cm2", "pulse_width_ms", "spot_size_mm")
    sign_in(page, live_server, THERAPIST_EMAIL)

    def fill(typed: str) -> None:
        page.goto(f"{live_server}/treatments/new?patient_id={patient}")
        field(page, "catalogue_item_id").select_option(str(item))
        field(page, "indication").select_option("acne_scar")
        field(page, "body_area").select_option("face")
        for name in decimals:
            field(page, name).fill(typed)
        field(page, "price_change_reason").fill("Nieuwe prijsafspraak")

    for typed, expected in TYPED:
        fill(typed)
        assert_decimal_text_inputs(page, *decimals)
        response = post(page, lambda: submit(page).click())
        far_off = abs(expected - Decimal("225.00")) > Decimal("112.50")  # more than 50 % from the catalogue price
        if response.status == 422 and far_off and confirm_large_price_change(page):
            response = post(page, lambda: submit(page).click())
        assert response.status in (200, 302), (typed, response.status,
                                               page.locator(".invalid-feedback").all_inner_texts())
        stored = in_app(live_app, lambda: db.session.scalars(
            select(Treatment).filter_by(patient_id=patient).order_by(Treatment.id.desc())).first())
        assert stored is not None
        assert stored.price_cents == cents(expected), typed
        assert (stored.fluence_j_cm2, stored.pulse_width_ms, stored.spot_size_mm) == (expected,) * 3, typed
        # Shown back the Dutch way on the treatment's page.
        expect(page.locator("main")).to_contain_text(dutch(expected))

    count = in_app(live_app, lambda: db.session.scalar(select(func.count(Treatment.id)).filter_by(patient_id=patient)))
    for name in decimals:
        fill("12,5")
        field(page, name).fill(AMBIGUOUS)
        response = post(page, lambda: submit(page).click())
        assert response.status == 422, name
        assert_refused_next_to(page, name, AMBIGUOUS)
    assert in_app(live_app, lambda: db.session.scalar(
        select(func.count(Treatment.id)).filter_by(patient_id=patient))) == count


# ---- catalogue price --------------------------------------------------------------------------------------------


def test_catalogue_price(live_app, live_server: str, page: Page, treatment_practice: dict[str, int]):
    from backoffice.models import CatalogueItem

    item = in_app(live_app, lambda: db.session.scalars(select(CatalogueItem).filter_by(code="FRAC-SCAR-F")).one().id)
    sign_in(page, live_server, ADMIN_EMAIL)
    for typed, expected in TYPED:
        page.goto(f"{live_server}/catalogue/{item}/edit")
        assert_decimal_text_inputs(page, "price")
        field(page, "price").fill(typed)
        post(page, lambda: submit(page).click())
        assert in_app(live_app, lambda: db.session.get_one(CatalogueItem, item).price_cents) == cents(expected), typed

    page.goto(f"{live_server}/catalogue/{item}/edit")
    expect(field(page, "price")).to_have_value("99,95")  # refilled the Dutch way
    field(page, "price").fill(AMBIGUOUS)
    assert post(page, lambda: submit(page).click()).status == 422
    assert_refused_next_to(page, "price", AMBIGUOUS)
    assert in_app(live_app, lambda: db.session.get_one(CatalogueItem, item).price_cents) == 9995


# ---- coverage rule cap ------------------------------------------------------------------------------------------


def test_coverage_rule_cap(live_app, live_server: str, page: Page, treatment_practice: dict[str, int]):
    from backoffice.models import CoverageRule, Insurer

    insurer = in_app(live_app, lambda: db.session.scalars(select(Insurer).filter_by(name="FBTO")).one().id)
    year = clinic_today().year + 1
    sign_in(page, live_server, ADMIN_EMAIL)

    def fill(label: str, typed: str) -> None:
        page.goto(f"{live_server}/insurers/{insurer}/rules/new")
        assert_decimal_text_inputs(page, "cap")
        field(page, "year").fill(str(year))
        field(page, "label").fill(label)
        page.locator("input[name=categories][value=acne]").check()
        field(page, "cap").fill(typed)

    for typed, expected in TYPED:
        fill(f"Acne {typed}", typed)
        post(page, lambda: submit(page).click())
        cap = in_app(live_app, lambda label=f"Acne {typed}": db.session.scalars(
            select(CoverageRule.cap_cents).filter_by(label=label)).one_or_none())
        assert cap == cents(expected), typed

    fill("Acne ambiguous", AMBIGUOUS)
    assert post(page, lambda: submit(page).click()).status == 422
    assert_refused_next_to(page, "cap", AMBIGUOUS)
    assert in_app(live_app, lambda: db.session.scalars(
        select(CoverageRule).filter_by(label="Acne ambiguous")).one_or_none()) is None


# ---- payment ----------------------------------------------------------------------------------------------------


@pytest.fixture
def large_invoice(live_app, treatment_practice: dict[str, int]) -> int:
    """An issued invoice of EUR 3.000,00 (a cosmetic series paid at once): room for all four payments."""
    from backoffice.models import CatalogueItem, User

    today = clinic_today()
    with live_app.app_context():
        factories.practice(name="Huidtherapie Domstad", street="Oudegracht 10", postcode="3511 AB")
        item = db.session.scalars(select(CatalogueItem).filter_by(code="FRAC-REJ-F")).one()
        treatment = factories.treatment(treatment_practice["referred"], treatment_practice["therapist"], item.id,
                                        today, medical=False, price="3000.00")
        user = db.session.scalars(select(User).filter_by(email=ADMIN_EMAIL)).one()
        invoice = factories.issued_invoice(treatment_practice["referred"], [treatment.id], user, today)
        db.session.commit()
        return invoice.id


def test_payment_amount(live_app, live_server: str, page: Page, large_invoice: int):
    from backoffice.models import Payment

    def amounts() -> list[int]:
        return list(db.session.scalars(select(Payment.amount_cents).filter_by(invoice_id=large_invoice)
                                       .order_by(Payment.id)))

    sign_in(page, live_server, ADMIN_EMAIL)
    for typed, _expected in TYPED:
        page.goto(f"{live_server}/invoices/{large_invoice}/payments/new")
        assert_decimal_text_inputs(page, "amount")
        field(page, "amount").fill(typed)
        post(page, lambda: submit(page).click())
    assert in_app(live_app, amounts) == [cents(expected) for _typed, expected in TYPED]

    page.goto(f"{live_server}/invoices/{large_invoice}/payments/new")
    field(page, "amount").fill(AMBIGUOUS)
    assert post(page, lambda: submit(page).click()).status == 422
    assert_refused_next_to(page, "amount", AMBIGUOUS)
    assert len(in_app(live_app, amounts)) == len(TYPED)


# ---- claims: batch outcome, patient-submitted claim, remittance -------------------------------------------------


@pytest.fixture
def submitted_batch(live_app, tmp_path) -> dict:
    """Zilveren Kruis: a submitted claim batch of four lines of EUR 1.500,00 each (room for every typed amount),
    and one more issued line the patient claims herself."""
    from test_claims import ClaimClinic

    from backoffice.claims import batches, export
    from backoffice.models import ClaimBatch, CoverageRule, InsurerClaimSettings

    live_app.config["CLAIMS_DIR"] = str(tmp_path / "claims")
    today = clinic_today()
    first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    last = today.replace(day=1) - timedelta(days=1)
    with live_app.app_context():
        clinic = ClaimClinic()
        db.session.get_one(CoverageRule, clinic.rule_id).cap_cents = None  # the insurer pays each line in full
        db.session.commit()
        for number, name in enumerate(("Bakker", "Jansen", "Visser", "Smit")):
            clinic.line(clinic.patient(name), day=first + timedelta(days=number + 1), price="1500.00")
        batch = batches.create_batch(clinic.insurer, first, last, user=clinic.user, today=today)
        export.export_batch(batch, clinic.user, today=today)
        batches.mark_submitted(batch, clinic.user)
        db.session.commit()
        own = clinic.line(clinic.patient("Mulder"), day=today - timedelta(days=1), price="1500.00")
        # The patient claim page offers lines of insurers the clinic does not bill itself.
        settings = db.session.get(InsurerClaimSettings, clinic.insurer_id)
        if settings is not None:
            settings.direct_billing = False
        db.session.commit()
        batch = db.session.get_one(ClaimBatch, batch.id)
        lines = [line.id for line in batch.lines if line.included]
        assert len(lines) == 4
        return {"batch": batch.id, "lines": lines, "insurer": clinic.insurer_id, "own_line": own}


def test_claim_outcome_paid(live_app, live_server: str, page: Page, submitted_batch: dict):
    from backoffice.models import ClaimLine

    sign_in(page, live_server, ADMIN_EMAIL)
    page.goto(f"{live_server}/claims/{submitted_batch['batch']}")
    first = submitted_batch["lines"][0]
    field(page, f"line{first}-paid").fill(AMBIGUOUS)
    assert post(page, lambda: submit(page, f"line{first}-paid").click()).status == 422
    assert_refused_next_to(page, f"line{first}-paid", AMBIGUOUS)
    assert in_app(live_app, lambda: db.session.get_one(ClaimLine, first).status) == "pending"

    for line_id, (typed, _expected) in zip(submitted_batch["lines"], TYPED, strict=True):
        page.goto(f"{live_server}/claims/{submitted_batch['batch']}")
        assert_decimal_text_inputs(page, f"line{line_id}-paid")
        field(page, f"line{line_id}-paid").fill(typed)
        response = post(page, lambda line_id=line_id: submit(page, f"line{line_id}-paid").click())
        assert response.status in (200, 302), (typed, page.locator(".invalid-feedback").all_inner_texts())
    paid = in_app(live_app, lambda: [db.session.get_one(ClaimLine, line).paid_cents
                                     for line in submitted_batch["lines"]])
    assert paid == [cents(expected) for _typed, expected in TYPED]


def test_patient_claim_paid(live_app, live_server: str, page: Page, submitted_batch: dict):
    from backoffice.models import PatientClaim

    sign_in(page, live_server, ADMIN_EMAIL)

    def claim() -> PatientClaim | None:
        return db.session.scalars(select(PatientClaim).filter_by(invoice_line_id=submitted_batch["own_line"])).first()

    def fill(typed: str) -> None:
        page.locator("input[name=outcome][value=answered]").check()
        field(page, "paid").fill(typed)
        field(page, "paid_on").fill(f"{clinic_today():%d-%m-%Y}")

    page.goto(f"{live_server}/claims/patient-claims/new?insurer_id={submitted_batch['insurer']}")
    assert_decimal_text_inputs(page, "paid")
    field(page, "invoice_line_id").select_option(str(submitted_batch["own_line"]))
    fill(AMBIGUOUS)
    assert post(page, lambda: submit(page).click()).status == 422
    assert_refused_next_to(page, "paid", AMBIGUOUS)
    assert in_app(live_app, claim) is None

    fill(TYPED[0][0])
    post(page, lambda: submit(page).click())
    assert in_app(live_app, lambda: claim().paid_cents) == cents(TYPED[0][1])
    claim_id = in_app(live_app, lambda: claim().id)
    for typed, expected in TYPED[1:]:
        page.goto(f"{live_server}/claims/patient-claims/{claim_id}/edit")
        fill(typed)
        post(page, lambda: submit(page).click())
        assert in_app(live_app, lambda: claim().paid_cents) == cents(expected), typed


def test_remittance_amounts_written_the_dutch_way(live_app, live_server: str, page: Page, submitted_batch: dict):
    """The insurer's reply as a CSV with Dutch amounts (1.234,56): each paid amount is stored to the cent."""
    from backoffice.models import ClaimLine

    references = in_app(live_app, lambda: [db.session.get_one(ClaimLine, line).claim_reference
                                           for line in submitted_batch["lines"]])
    rows = ["Claimreferentie;Betaald;Code;Reden"] + [
        f'{reference};"{typed}";;' for reference, (typed, _expected) in zip(references, TYPED, strict=True)]
    sign_in(page, live_server, ADMIN_EMAIL)
    page.goto(f"{live_server}/claims/remittances/new")
    field(page, "insurer_id").select_option(str(submitted_batch["insurer"]))
    field(page, "file").set_input_files(files=[{"name": "antwoord.csv", "mimeType": "text/csv",
                                                "buffer": io.BytesIO("\n".join(rows).encode()).getvalue()}])
    post(page, lambda: submit(page, "file").click())
    expect(page.get_by_test_id("matched-count")).to_have_text("4")
    page.locator("main form[action$='/apply'] [type=submit]").click()
    post(page, lambda: confirm_dialog(page))  # applying a file cannot be undone: the dialog asks first
    paid = in_app(live_app, lambda: [db.session.get_one(ClaimLine, line).paid_cents
                                     for line in submitted_batch["lines"]])
    assert paid == [cents(expected) for _typed, expected in TYPED]


def test_no_browser_number_field_for_money_anywhere(live_app, live_server: str, page: Page,
                                                    treatment_practice: dict[str, int]):
    """The forms with amounts or decimals, as a Dutch admin sees them: an <input type=number> is only ever a whole
    number (year, session, percentage), never an amount or a decimal."""
    create_user(live_app, "beheer@browser.test", "admin", name="Bea Beheer", language="nl")
    sign_in(page, live_server, "beheer@browser.test")
    for path in ("/catalogue/new", f"/treatments/new?patient_id={treatment_practice['referred']}",
                 "/insurers/1/rules/new", "/claims/patient-claims/new?insurer_id=1"):
        page.goto(live_server + path)
        for control in page.locator("main input[type=number]").all():
            name = control.get_attribute("name") or ""
            assert not any(word in name for word in ("price", "amount", "cap", "paid", "fluence", "pulse", "spot")), \
                (path, name)
