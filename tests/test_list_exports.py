"""Exports of the lists (patients, treatments, invoices and overdue invoices, payments, claim lines) as XLSX and CSV:
read back with openpyxl and csv. Every row the filters show, not just a page (PAGE_SIZE is 2 here), in the page's
order; formula-looking text neutralised; one access-log entry per export naming the patients; a therapist limited
to their own patients exports only those; and a list of thousands of rows exports whole.

The shared writer itself (documents/spreadsheets.py) is tested without an app at the end."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import factories
import pytest
from conftest import login
from openpyxl import load_workbook
from sqlalchemy import insert, select

from backoffice import clock
from backoffice.claims import batches as claim_batches
from backoffice.documents import spreadsheets
from backoffice.extensions import db
from backoffice.invoicing import services as invoicing
from backoffice.models import AccessLog, Invoice, Patient, Practice

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))
STAMP = "2026-12-06"
FORMULA_NAME = '=HYPERLINK("http://x.example","klik")'
BOM = b"\xef\xbb\xbf"
D = Decimal


@pytest.fixture(autouse=True)
def frozen():
    with clock.freeze(NOW):
        yield


class Scene:
    """Four patients: Anna de Vries (Eva's, insured, medical, partly paid, overdue), a patient whose last name is a
    formula (Bob's, insured, medical, paid in full, payment note "=1+1"); the insurer pays 30 of each medical
    treatment of 100 directly; Carla Bakker (Bob's, cosmetic, unpaid)
    and Dirk Smit (Eva's, uninsured, medical: excluded from the October claim batch). Eva is the signed-in
    therapist's own therapist record. Ids only."""

    def __init__(self, app, users):
        with app.app_context():
            factories.practice()
            admin = factories.existing_user(users["admin"])
            eva_user = factories.existing_user(users["therapist"])
            insurer = factories.insurer()
            rule = factories.coverage_rule(insurer, 2026, cap_cents=300_000, cap_group="zk")
            item = factories.catalogue_item(price_cents=10_000)
            eva = factories.therapist("Eva Jansen", "90012345", user_id=eva_user.id)
            bob = factories.therapist("Bob Visser", "90054321")
            anna = factories.patient("de Vries", "Anna")
            formula = factories.patient(FORMULA_NAME, "Bram")
            carla = factories.patient("Bakker", "Carla")
            dirk = factories.patient("Smit", "Dirk")
            for patient in (anna, formula):
                factories.insurance(patient, insurer)

            def invoiced(patient, therapist, day, medical=True):
                treatment = factories.treatment(patient.id, therapist.id, item.id, day, medical=medical,
                                                price="100.00", insurer_amount="30.00" if medical else None,
                                                insurer_id=insurer.id if medical else None,
                                                rule=rule if medical else None, indication="acne" if medical else None)
                return factories.issued_invoice(patient.id, [treatment.id], admin, day)

            self.anna_invoice = invoiced(anna, eva, date(2026, 10, 5)).id
            self.formula_invoice = invoiced(formula, bob, date(2026, 10, 12)).id
            self.carla_invoice = invoiced(carla, bob, date(2026, 11, 2), medical=False).id
            self.dirk_invoice = invoiced(dirk, eva, date(2026, 10, 20)).id
            invoicing.record_payment(db.session.get(Invoice, self.anna_invoice), date(2026, 10, 30), "pin", "40.00",
                                     user=admin)
            invoicing.record_payment(db.session.get(Invoice, self.formula_invoice), date(2026, 11, 3),
                                     "bank_transfer", "70.00", note="=1+1", user=admin)
            claim_batches.create_batch(insurer, date(2026, 10, 1), date(2026, 10, 31), user=admin, today=NOW.date())
            db.session.commit()
            self.anna, self.formula, self.carla, self.dirk = anna.id, formula.id, carla.id, dirk.id
            self.insurer = insurer.id


@pytest.fixture
def scene(app, users):
    app.config["PAGE_SIZE"] = 2  # every list here is longer than a page: the export holds them all
    return Scene(app, users)


def signed_in(app, email: str):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def xlsx(client, url: str):
    """The downloaded workbook's only sheet, after checking the download's headers."""
    response = client.get(url, buffered=True)
    assert response.status_code == 200, url
    assert response.mimetype == spreadsheets.XLSX_MIMETYPE
    assert response.headers["Cache-Control"] == "no-store"
    book = load_workbook(io.BytesIO(response.data))
    assert len(book.worksheets) == 1
    return response, book.worksheets[0]


def values(ws) -> list[list]:
    return [[cell.value for cell in row] for row in ws.iter_rows()]


def csv_rows(client, url: str):
    response = client.get(url, buffered=True)
    assert response.status_code == 200, url
    assert response.mimetype == "text/csv" and response.headers["Cache-Control"] == "no-store"
    assert response.data.startswith(BOM)  # Excel reads UTF-8 only with it
    return response, list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))


def filename(response) -> str:
    return response.headers["Content-Disposition"].split("filename=")[1].strip('"')


def export_entries(app, subject: str) -> list[AccessLog]:
    with app.app_context():
        return list(db.session.scalars(select(AccessLog).where(AccessLog.action == "export",
                                                               AccessLog.subject == subject).order_by(AccessLog.id)))


def named(entry: AccessLog) -> set[int]:
    return {int(word[1:]) for word in entry.detail.split() if word.startswith("#")}


def test_patients_export_every_patient_the_search_finds_safely_and_logged(app, scene, as_role, users):
    admin = as_role("admin")
    page = admin.get("/patients/?q=Vries").get_data(as_text=True)
    assert "/patients/export?format=xlsx&amp;q=Vries" in page and "/patients/export?format=csv&amp;q=Vries" in page

    response, ws = xlsx(admin, "/patients/export?format=xlsx")
    assert filename(response) == f"patienten_{STAMP}.xlsx"
    rows = values(ws)
    assert rows[0][:4] == ["Patiëntnummer", "Achternaam", "Tussenvoegsel", "Voornaam"]  # Dutch, whatever the user's
    with app.app_context():  # the page's order, whatever the database's collation
        order = list(db.session.scalars(select(Patient.id).order_by(Patient.last_name, Patient.first_name,
                                                                    Patient.id)))
    assert [row[0] for row in rows[1:]] == order and len(order) == 4
    assert ws.freeze_panes == "A2"
    formula_row = next(row for row in ws.iter_rows(min_row=2) if row[0].value == scene.formula)
    assert formula_row[1].value == FORMULA_NAME and formula_row[1].data_type == "s"  # text, never a formula
    assert all(cell.data_type != "f" for row in ws.iter_rows() for cell in row)
    assert formula_row[4].value == datetime(1990, 5, 17) and formula_row[4].number_format == "dd-mm-yyyy"

    assert admin.get("/patients/export?format=pdf").status_code == 404
    response, rows = csv_rows(admin, "/patients/export?format=csv&q=HYPERLINK")
    assert filename(response) == f"patienten_{STAMP}.csv"
    assert rows[0][1] == "Achternaam" and len(rows) == 2
    assert rows[1][0] == str(scene.formula) and rows[1][1] == "'" + FORMULA_NAME and rows[1][4] == "17-05-1990"

    first, searched = export_entries(app, "patient list")
    assert first.detail.startswith("XLSX export, 4 exported: ") and named(first) == set(order)
    assert first.patient_id is None and first.user_email == users["admin"]
    # One patient: filed under them; the words searched for are never logged.
    assert searched.detail == f"CSV export, patient search, 1 exported: #{scene.formula}"
    assert searched.patient_id == scene.formula and "HYPERLINK" not in searched.detail

    # A therapist limited to their own patients exports only those (Eva treated Anna and Dirk).
    with app.app_context():
        db.session.scalar(select(Practice)).therapists_own_patients_only = True
        db.session.commit()
    _, rows = csv_rows(signed_in(app, users["therapist"]), "/patients/export?format=csv")
    assert {int(row[0]) for row in rows[1:]} == {scene.anna, scene.dirk}
    assert named(export_entries(app, "patient list")[-1]) == {scene.anna, scene.dirk}


def test_treatments_export_follows_the_filters_newest_first_with_money_as_numbers(app, scene, as_role):
    admin = as_role("admin")
    page = admin.get("/treatments/?kind=medical").get_data(as_text=True)
    assert "/treatments/export?format=csv&amp;kind=medical" in page
    response, ws = xlsx(admin, "/treatments/export?format=xlsx&kind=medical")
    assert filename(response) == f"behandelingen_{STAMP}.xlsx"
    rows = list(ws.iter_rows(min_row=2))
    # Cosmetic Carla is filtered out; newest treatment first, as the list.
    assert [row[1].value for row in rows] == [scene.dirk, scene.formula, scene.anna]
    assert [row[0].value for row in rows] == [datetime(2026, 10, 20), datetime(2026, 10, 12), datetime(2026, 10, 5)]
    price = rows[0][7]
    assert price.value == 100 and price.data_type == "n" and price.number_format == spreadsheets.EURO_FORMAT
    assert rows[1][2].value.startswith("=HYPERLINK") and rows[1][2].data_type == "s"

    _, rows = csv_rows(admin, "/treatments/export?format=csv&kind=cosmetic&month=2026-11")
    assert len(rows) == 2 and rows[1][0] == "02-11-2026" and rows[1][1] == str(scene.carla)
    assert rows[1][7] == "100,00" and rows[1][6] == "cosmetisch"

    entries = export_entries(app, "treatment list")
    assert entries[0].detail.startswith("XLSX export, kind=medical, 3 exported")
    assert named(entries[0]) == {scene.anna, scene.formula, scene.dirk}
    assert entries[1].detail == f"CSV export, kind=cosmetic, month=2026-11, 1 exported: #{scene.carla}"


def test_invoice_and_overdue_exports(app, scene, as_role):
    admin = as_role("admin")
    _, ws = xlsx(admin, "/invoices/export?format=xlsx")
    rows = values(ws)[1:]
    assert len(rows) == 4 and rows[0][4] == scene.carla  # newest issue date first
    by_patient = {row[4]: row for row in rows}
    anna = by_patient[scene.anna]
    assert anna[1] == "Factuur" and anna[7] == 100 and anna[8] == 30 and anna[9] == datetime(2026, 10, 19)
    assert anna[6] == f"Openstaand, {(date(2026, 12, 6) - date(2026, 10, 19)).days} dagen te laat"

    _, rows = csv_rows(admin, "/invoices/export?format=csv&status=paid")
    assert len(rows) == 2 and rows[1][4] == str(scene.formula) and rows[1][5].startswith("'=HYPERLINK")
    assert rows[1][7] == "100,00" and rows[1][8] == "0,00"

    response, ws = xlsx(admin, "/invoices/overdue/export?format=xlsx")
    assert filename(response) == f"achterstallige-facturen_{STAMP}.xlsx"
    overdue = {row[1]: row for row in values(ws)[1:]}
    assert set(overdue) == {scene.anna, scene.carla, scene.dirk}  # the paid one is not overdue
    assert overdue[scene.anna][5] == (date(2026, 12, 6) - date(2026, 10, 19)).days
    assert overdue[scene.anna][7] == 30
    _, rows = csv_rows(admin, "/invoices/overdue/export?format=csv")
    assert [row[1] for row in rows[1:]] == [str(overdue_id) for overdue_id in overdue]  # oldest due first

    listed = export_entries(app, "invoice list")
    assert named(listed[0]) == {scene.anna, scene.formula, scene.carla, scene.dirk}
    assert listed[1].detail.startswith("CSV export, status=paid, 1 exported")
    assert named(export_entries(app, "overdue invoice list")[0]) == {scene.anna, scene.carla, scene.dirk}


def test_payments_list_and_its_export(app, scene, as_role):
    admin = as_role("admin")
    page = admin.get("/invoices/payments?method=pin").get_data(as_text=True)
    assert "payment-table" in page and "de Vries" in page and "HYPERLINK" not in page
    assert "/invoices/payments/export?format=xlsx&amp;method=pin" in page
    assert 'href="/invoices/payments"' in admin.get("/invoices/").get_data(as_text=True)

    response, ws = xlsx(admin, "/invoices/payments/export?format=xlsx")
    assert filename(response) == f"betalingen_{STAMP}.xlsx"
    rows = list(ws.iter_rows(min_row=2))
    assert [row[2].value for row in rows] == [scene.formula, scene.anna]  # newest payment first
    note = rows[0][6]
    assert note.value == "=1+1" and note.data_type == "s"
    assert rows[1][5].value == 40 and rows[1][5].number_format == spreadsheets.EURO_FORMAT

    _, rows = csv_rows(admin, "/invoices/payments/export?format=csv&month=2026-11")
    assert len(rows) == 2 and rows[1][0] == "03-11-2026" and rows[1][5] == "70,00" and rows[1][6] == "'=1+1"
    entries = export_entries(app, "payment list")
    assert named(entries[0]) == {scene.anna, scene.formula}
    assert entries[1].detail == f"CSV export, month=2026-11, 1 exported: #{scene.formula}"


def test_claim_lines_list_and_its_export(app, scene, as_role, users):
    admin = as_role("admin")
    page = admin.get("/claims/lines").get_data(as_text=True)
    assert "claim-line-table" in page and "/claims/lines/export?format=csv" in page
    assert 'data-status="excluded"' not in page  # the claimed lines by default
    assert 'data-status="excluded"' in admin.get("/claims/lines?status=excluded").get_data(as_text=True)

    response, ws = xlsx(admin, "/claims/lines/export?format=xlsx")
    assert filename(response) == f"declaratieregels_{STAMP}.xlsx"
    rows = list(ws.iter_rows(min_row=2))
    assert {row[3].value for row in rows} == {scene.anna, scene.formula}
    assert all(row[11].value == 30 and row[11].number_format == spreadsheets.EURO_FORMAT for row in rows)
    assert all(row[0].value.startswith("3311-2026-") and row[1].value == "Zilveren Kruis" for row in rows)

    _, rows = csv_rows(admin, f"/claims/lines/export?format=csv&status=excluded&insurer_id={scene.insurer}")
    assert len(rows) == 2 and rows[1][3] == str(scene.dirk) and rows[1][13] == "uitgesloten" and rows[1][14]
    assert named(export_entries(app, "claim line list")[-1]) == {scene.dirk}

    therapist = signed_in(app, users["therapist"])
    assert therapist.get("/claims/lines/export?format=csv").status_code == 403  # claims.read only


def test_a_list_of_thousands_of_rows_exports_whole(app, as_role):
    count = 3000
    with app.app_context():
        db.session.execute(insert(Patient), [
            {"first_name": f"Pat{i:04d}", "last_name": f"Lijst{i:04d}", "date_of_birth": date(1980, 1, 1 + i % 28),
             "city": "Utrecht"} for i in range(count)])
        db.session.commit()
    admin = as_role("admin")
    _, ws = xlsx(admin, "/patients/export?format=xlsx&q=Lijst")
    names = [row[1] for row in values(ws)[1:]]
    assert names == [f"Lijst{i:04d}" for i in range(count)]
    _, rows = csv_rows(admin, "/patients/export?format=csv&q=Lijst")
    assert [row[1] for row in rows[1:]] == names
    entries = export_entries(app, "patient list")
    assert len(entries) == 2 and all(len(named(entry)) == count for entry in entries)


# ---- the shared writer, without an app -------------------------------------------------------------------------

DANGEROUS = ["=1+1", "+31 6 1234", "-2", "@SUM(A1)", "\tTab", "\rCR", "#N/A", "gewoon"]


def test_the_writer_keeps_text_text_money_numbers_and_dates_dates(tmp_path):
    columns = [spreadsheets.Column("Tekst", 20), spreadsheets.Column("Bedrag", 12, spreadsheets.Kind.MONEY),
               spreadsheets.Column("Datum", 12, spreadsheets.Kind.DATE),
               spreadsheets.Column("Aantal", 8, spreadsheets.Kind.NUMBER)]
    rows = [(text, D("1234.5"), date(2026, 11, 24), 3) for text in DANGEROUS] + [("a\x01b", None, None, None)]
    target = tmp_path / "lijst.xlsx"
    written = spreadsheets.write_table(target, sheet="Lijst", columns=columns, rows=iter(rows),
                                       created=datetime(2026, 12, 6, 10, 0))
    assert written == len(rows)
    ws = load_workbook(target).active
    assert [c.value for c in ws[1]] == ["Tekst", "Bedrag", "Datum", "Aantal"] and ws.freeze_panes == "A2"
    assert ws.column_dimensions["A"].width == 20
    body = list(ws.iter_rows(min_row=2))
    assert [row[0].value for row in body] == DANGEROUS + ["ab"]
    assert all(row[0].data_type == "s" for row in body)
    assert body[0][1].value == D("1234.5") and body[0][1].number_format == spreadsheets.EURO_FORMAT
    assert body[0][2].value == datetime(2026, 11, 24) and body[0][2].number_format == "dd-mm-yyyy"
    assert body[0][3].value == 3 and body[0][3].data_type == "n"
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left

    pieces = list(spreadsheets.csv_stream(["Tekst", "Bedrag", "Datum"],
                                          ((text, D("-1234.5"), date(2026, 11, 24)) for text in DANGEROUS * 60)))
    assert len(pieces) > 2 and pieces[0].startswith(BOM)  # streamed in pieces, the BOM first
    parsed = list(csv.reader(io.StringIO(b"".join(pieces).decode("utf-8-sig"), newline=""), delimiter=";"))
    assert parsed[0] == ["Tekst", "Bedrag", "Datum"] and len(parsed) == 1 + len(DANGEROUS) * 60
    assert [row[0] for row in parsed[1:9]] == ["'" + t for t in DANGEROUS[:6]] + ["#N/A", "gewoon"]
    assert parsed[1][1:] == ["-1234,50", "24-11-2026"]


def test_export_file_names_carry_the_clinic_day():
    # 00:30 in Amsterdam on 7 December is still 6 December in UTC: the file is dated the clinic's day.
    from backoffice.exports.services import filename as export_filename

    with clock.freeze(datetime(2026, 12, 6, 23, 30, tzinfo=UTC)):
        assert export_filename("patienten", "xlsx") == "patienten_2026-12-07.xlsx"
