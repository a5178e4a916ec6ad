"""Insurer declaration and aftercare sheet built from the database (backoffice/invoicing/declarations.py).

The PDFs are rendered for real and read back with pypdf; every field an insurer needs must be found. Runs on
SQLite and PostgreSQL. The helpers here (InvoiceClinic) are shared with tests/test_invoice_views.py.
"""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import factories
import pytest
from pypdf import PdfReader
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.invoicing import declarations, services
from backoffice.invoicing.declarations import DeclarationMissingData
from backoffice.invoicing.services import InvoiceError, MissingData
from backoffice.models import (
    AccessLog,
    Invoice,
    KpRegistration,
    Patient,
    Practice,
    Therapist,
    Treatment,
    User,
)

DAY = date(2026, 11, 24)
BSN = "111222333"


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF-")
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages)


def assert_contains_all(text: str, expected: list[str]) -> None:
    missing = [item for item in expected if item not in text]
    assert not missing, f"missing from the PDF text: {missing}\n---\n{text}"


stub_renderer = factories.stub_renderer


class InvoiceClinic:
    """A complete practice: therapist with KP/NVH history, an insured patient with BSN and referral, a medical
    (reimbursable, exempt) and a cosmetic (21 %) catalogue item, built from tests/factories.py. Keeps ids; call
    inside an app context."""

    def __init__(self, user_email: str | None = None, bsn: str | None = BSN, policy_number: str = "ZK-778",
                 kp: bool = True):
        factories.practice(phone="030-1234567")
        user = (factories.existing_user(user_email) if user_email else None) or factories.user()
        therapist = factories.therapist(
            agb_code="90012345", user_id=user.id, nvh_number="NVH-5120", nvh_from=date(2019, 9, 1),
            kp_number="KP-20431", kp=[(date(2021, 1, 1), date(2026, 10, 31)), (date(2026, 11, 1), date(2031, 10, 31))]
            if kp else None)
        insurer = factories.insurer(packages=["Aanvullend 3"])
        patient = factories.patient(bsn=bsn)
        laser = factories.catalogue_item("FRAC-SCAR", "Fractional laser, acne scars")
        peel = factories.catalogue_item("PEEL", "Chemical peel, face", technique="peel", prestatiecode="",
                                        price_cents=6_050)
        factories.insurance(patient, insurer, package=insurer.packages[0], policy_number=policy_number)
        referral = factories.referral(patient)
        db.session.commit()
        self.user_id, self.therapist_id, self.patient_id = user.id, therapist.id, patient.id
        self.laser_id, self.peel_id, self.referral_id = laser.id, peel.id, referral.id

    @property
    def user(self) -> User:
        return db.session.get(User, self.user_id)

    @property
    def patient(self) -> Patient:
        return db.session.get(Patient, self.patient_id)

    def second_patient(self, first: str = "Bas", last: str = "van den Berg", bsn: str | None = None) -> int:
        """Another patient (born 09-03-1985, Plein 3) insured like the first, policy CZ-1234; returns its id.
        Point `patient_id` at it to treat and invoice them."""
        insurance = self.patient.insurances[0]
        patient = factories.patient(last, first, bsn=bsn, date_of_birth=date(1985, 3, 9), street="Plein 3",
                                    postcode="3511 CC", city="Utrecht")
        factories.insurance(patient, insurance.insurer, package=insurance.package, policy_number="CZ-1234",
                            valid_from=date(2026, 1, 1))
        db.session.commit()
        return patient.id

    def treatment(self, medical: bool = True, day: date = date(2026, 11, 2), price: str | None = None) -> int:
        treatment = factories.treatment(self.patient_id, self.therapist_id, self.laser_id if medical else self.peel_id,
                                        day, medical=medical, price=price,
                                        referral_id=self.referral_id if medical else None)
        db.session.commit()
        return treatment.id

    def issued(self, *treatment_ids: int, renderer=stub_renderer, today: date = DAY) -> Invoice:
        invoice = factories.issued_invoice(self.patient_id, treatment_ids, self.user, today, renderer)
        db.session.commit()
        return invoice


def print_entries(patient_id: int) -> list[tuple[str, str]]:
    return [tuple(row) for row in db.session.execute(
        select(AccessLog.action, AccessLog.subject).where(AccessLog.patient_id == patient_id,
                                                          AccessLog.action == "print").order_by(AccessLog.id)
    )]


# ---- declaration ---------------------------------------------------------------------------------------------

def test_declaration_shows_every_field_an_insurer_needs(app):
    with app.app_context():
        clinic = InvoiceClinic()
        before_renewal = clinic.treatment(day=date(2026, 10, 20))
        after_renewal = clinic.treatment(day=date(2026, 11, 2), price="95.00")
        cosmetic = clinic.treatment(medical=False)
        invoice = clinic.issued(before_renewal, after_renewal, cosmetic)

        doc = declarations.declaration_document(invoice)
        # Only the reimbursable lines; the cosmetic peel is not declared.
        assert [line.treatment_date for line in doc.lines] == [date(2026, 10, 20), date(2026, 11, 2)]
        assert (doc.total_gross, doc.total_expected_reimbursement) == (Decimal("270.00"), Decimal("270.00"))
        assert (doc.reference, doc.issue_date, doc.place) == ("2026-00001", DAY, "Utrecht")
        assert doc.patient.bsn == BSN
        # The KP registration was renewed between the two dates: one row per registration period.
        assert [(t.kp_number, t.kp_level, t.kp_period, t.nvh_number, t.nvh_period) for t in doc.therapists] == [
            ("KP-20431", "Kwaliteitsregister", "01-01-2021 t/m 31-10-2026", "NVH-5120", "vanaf 01-09-2019"),
            ("KP-20431", "Kwaliteitsregister", "01-11-2026 t/m 31-10-2031", "NVH-5120", "vanaf 01-09-2019"),
        ]

        data = declarations.declaration_pdf(invoice, user=clinic.user)
        db.session.commit()
        text = pdf_text(data)
        assert_contains_all(text, [
            "Declaratie / verklaring zorgverlener", "Huidtherapie Utrecht", "AGB praktijk 90001234",
            "KvK 12345678", "Anna de Vries", "Laan 2", "3512 BB Utrecht", "Geboortedatum 17-05-1990",
            f"BSN {BSN}", "Zilveren Kruis", "UZOVI 3311", "Aanvullend 3", "Polisnummer ZK-778",
            "Factuurnummer", "2026-00001", "24-11-2026", "20-10-2026", "02-11-2026", "9010",
            "Fractional laser, acne scars", "Techniek: Fractionele laser", "Indicatie: Acnelittekens",
            "Behandelgebied: Gezicht", "Eva Jansen", "AGB 90012345",
            "Dermatoloog Dr. S. Aydin (AGB 03056789), 01-09-2026: Acnelittekens",
            "KP-nummer KP-20431", "Niveau: Kwaliteitsregister", "Geldig: 01-01-2021 t/m 31-10-2026",
            "Geldig: 01-11-2026 t/m 31-10-2031", "NVH-lidnummer NVH-5120", "EUR 175,00", "EUR 95,00",
            "EUR 270,00", "Handtekening", "Plaats", "Naam behandelaar: Eva Jansen",
        ])
        assert "Chemical peel" not in text and "EUR 60,50" not in text
        assert print_entries(clinic.patient_id)[-1] == ("print", "declaration 2026-00001")
        detail = db.session.scalars(select(AccessLog.detail).where(AccessLog.subject == "declaration 2026-00001"))
        assert all(BSN not in entry for entry in detail)


def test_a_line_the_claim_check_would_exclude_is_left_out_and_listed_not_promised(app):
    with app.app_context():
        clinic = InvoiceClinic()
        before_lapse = clinic.treatment(day=date(2026, 10, 20))
        in_lapse = clinic.treatment(day=date(2026, 11, 2), price="95.00")
        invoice = clinic.issued(before_lapse, in_lapse)
        # Recorded after issuing: the renewal only started on 01-12-2026, so the KP ended on 31-10-2026.
        therapist = db.session.get(Therapist, clinic.therapist_id)
        renewal = next(r for r in therapist.kp_registrations if r.period_start == date(2026, 11, 1))
        renewal.period_start = date(2026, 12, 1)
        db.session.commit()

        [left_out] = declarations.left_out_lines(invoice)
        assert left_out.line.treatment_date == date(2026, 11, 2) and not left_out.declared
        assert [str(reason) for reason in left_out.reasons] == ["KP-registratie verlopen op 31-10-2026"]  # CLI: Dutch
        assert declarations.missing_for_declaration(invoice) == []  # one line left: the declaration prints

        doc = declarations.declaration_document(invoice)
        assert [line.treatment_date for line in doc.lines] == [date(2026, 10, 20)]
        assert (doc.total_gross, doc.total_expected_reimbursement) == (Decimal("175.00"), Decimal("175.00"))
        assert [(line.treatment_date, line.gross, line.reasons) for line in doc.left_out] == [
            (date(2026, 11, 2), Decimal("95.00"), ("KP-registratie verlopen op 31-10-2026",))]
        assert [t.kp_period for t in doc.therapists] == ["01-01-2021 t/m 31-10-2026"]

        text = pdf_text(declarations.declaration_pdf(invoice, user=clinic.user))
        assert_contains_all(text, ["Niet op deze declaratie", "02-11-2026 Fractional laser, acne scars",
                                   "EUR 95,00): KP-registratie verlopen op 31-10-2026", "EUR 175,00"])
        assert "EUR 270,00" not in text


def test_declaration_refuses_naming_every_missing_field(app):
    with app.app_context():
        clinic = InvoiceClinic(bsn=None, policy_number="", kp=False)
        invoice = clinic.issued(clinic.treatment())
        entries_before = len(print_entries(clinic.patient_id))
        with pytest.raises(DeclarationMissingData) as caught:
            declarations.declaration_pdf(invoice, user=clinic.user)
        assert [field.render(str) for field in caught.value.fields] == [  # the English message ids
            "patient policy number",
            "patient BSN (required when sending care data to an insurer)",
            # The only line is left out (the claim check would exclude it): nothing is left to declare.
            "at least one line that can be declared (02-11-2026 Fractional laser, acne scars: no KP registration "
            "recorded)",
        ]
        assert isinstance(caught.value, MissingData)
        assert str(caught.value) == (  # outside a request (CLI, print worker): Dutch
            "De declaratie kan niet worden afgedrukt: ontbreekt polisnummer cliënt; BSN cliënt (verplicht bij het "
            "sturen van zorggegevens naar een verzekeraar); ten minste één declareerbare regel (02-11-2026 "
            "Fractional laser, acne scars: geen KP-registratie vastgelegd).")
        assert len(print_entries(clinic.patient_id)) == entries_before  # nothing printed, nothing logged

        # Recording the missing data afterwards is enough: the issued invoice itself never changes.
        patient = clinic.patient
        patient.set_bsn(BSN)
        patient.insurances[0].policy_number = "ZK-999"
        therapist = db.session.get(Therapist, clinic.therapist_id)
        therapist.kp_registrations.append(KpRegistration(kp_number="KP-1", level="kwaliteitsregister",
                                                         period_start=date(2026, 1, 1), period_end=date(2030, 1, 1)))
        db.session.commit()
        assert "Polisnummer ZK-999" in pdf_text(declarations.declaration_pdf(invoice, user=clinic.user))


def test_declaration_without_reimbursable_lines_or_of_a_draft_is_refused(app):
    with app.app_context():
        clinic = InvoiceClinic()
        cosmetic_only = clinic.issued(clinic.treatment(medical=False))
        with pytest.raises(DeclarationMissingData) as caught:
            declarations.declaration_document(cosmetic_only)
        assert [field.msgid for field in caught.value.fields] == ["at least one reimbursable line"]

        draft = services.draft_invoice(clinic.patient, [clinic.treatment()])
        db.session.commit()
        with pytest.raises(InvoiceError, match="Alleen een uitgegeven factuur heeft een declaratie"):
            declarations.declaration_document(draft)


def test_credited_lines_are_not_declared(app):
    with app.app_context():
        clinic = InvoiceClinic()
        first, second = clinic.treatment(day=date(2026, 11, 2)), clinic.treatment(day=date(2026, 11, 9))
        invoice = clinic.issued(first, second)
        credited = next(line for line in invoice.lines if line.treatment_id == first)
        services.credit_invoice(invoice, [credited.id], reason="dubbel", user=clinic.user, today=DAY,
                                renderer=stub_renderer)
        db.session.commit()
        doc = declarations.declaration_document(invoice)
        assert [line.treatment_date for line in doc.lines] == [date(2026, 11, 9)]

        services.credit_invoice(invoice, None, user=clinic.user, today=DAY, renderer=stub_renderer)
        db.session.commit()
        with pytest.raises(DeclarationMissingData) as caught:
            declarations.declaration_document(invoice)
        assert [field.msgid for field in caught.value.fields] == ["at least one line that is not credited"]


# ---- aftercare -----------------------------------------------------------------------------------------------

def test_aftercare_sheet_shows_the_treatment_and_the_clinic_instructions(app):
    with app.app_context():
        clinic = InvoiceClinic()
        treatment = db.session.get(Treatment, clinic.treatment(day=date(2026, 11, 2)))
        data = declarations.aftercare_pdf(treatment, user=clinic.user)
        db.session.commit()
        assert_contains_all(pdf_text(data), [
            "Nazorg na uw behandeling", "Huidtherapie Utrecht", "Anna de Vries", "Fractional laser, acne scars",
            "02-11-2026", "Techniek Fractionele laser", "Behandelgebied Gezicht", "Behandelaar Eva Jansen",
            "SPF 50", "24 uur", "48 uur", "030-1234567",
        ])
        assert print_entries(clinic.patient_id)[-1] == ("print", f"treatment {treatment.id}")


def test_aftercare_needs_a_practice(app):
    with app.app_context():
        clinic = InvoiceClinic()
        treatment = db.session.get(Treatment, clinic.treatment())
        db.session.scalar(select(Practice)).name = " "
        with pytest.raises(DeclarationMissingData,
                           match="Het nazorgblad kan niet worden afgedrukt: ontbreekt naam praktijk"):
            declarations.aftercare_pdf(treatment)
