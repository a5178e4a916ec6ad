"""The month-end pack for the accountant: the invoice register and the payments list as sheets of the report
workbook and as CSV in the pack (Dutch Excel's ';' and decimal comma, UTF-8 with BOM), the contents list naming
every file with its total, and file names that carry numbers, never patient names.

Read back with openpyxl and zipfile; the totals are checked against the invoices, credit notes and payments in the
database."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import factories
import ledger_oracle
import pytest
from openpyxl import load_workbook
from pypdf import PdfWriter
from sqlalchemy import func, select

from backoffice.documents.spreadsheets import csv_cell
from backoffice.domain.money import from_cents
from backoffice.domain.reporting import Month
from backoffice.extensions import db
from backoffice.invoicing import services as invoicing
from backoffice.models import CreditNote, Invoice, Patient, Payment
from backoffice.reporting import pack, queries, workbook
from backoffice.reporting.books import MonthBooks

D = Decimal
OCTOBER = Month(2026, 10)
TODAY = date(2026, 11, 24)
NAMES = ("Jansen", "Öztürk", "van der Berg")


def blank_pdf(doc) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_metadata({"/Title": doc.number})
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


@pytest.fixture
def books(app, tmp_path):
    """Three patients without insurance: October invoices with exempt (medical) and 21 % (cosmetic) lines, a
    credit note, payments in October (one refunded in part) and one in November; a September invoice paid in
    October."""
    app.instance_path = str(tmp_path / "instance")
    Path(app.instance_path).mkdir()
    with app.app_context():
        factories.practice()
        user = factories.user(factories.ADMIN_EMAIL, "admin", name="Ada Admin")
        item = factories.catalogue_item("FL", "Fractional laser")
        eva = factories.therapist("Eva Jansen", "90012345")
        db.session.commit()
        patients = [factories.patient(name) for name in NAMES]
        db.session.commit()

        def invoice(patient, issued_on, *kinds):
            ids = [factories.treatment(patient.id, eva.id, item.id, issued_on, medical=medical,
                                       reimbursable=False).id for medical in kinds]
            db.session.commit()
            made = factories.issued_invoice(patient.id, ids, user, issued_on, blank_pdf)
            db.session.commit()
            return made

        september = invoice(patients[0], date(2026, 9, 20), True)
        first = invoice(patients[0], date(2026, 10, 5), True, False)
        second = invoice(patients[1], date(2026, 10, 12), False, False)
        third = invoice(patients[2], date(2026, 10, 30), True)
        factories.credit_note(second, [second.lines[0].id], user, date(2026, 10, 20), renderer=blank_pdf)
        db.session.commit()
        for target, day, amount in ((september, date(2026, 10, 2), "175.00"), (first, date(2026, 10, 8), "100.00"),
                                    (third, date(2026, 11, 3), "50.00")):
            invoicing.record_payment(target, day, "bank_transfer", D(amount), user=user)
        invoicing.record_payment(second, date(2026, 10, 14), "pin", D("60.50"), user=user)
        db.session.commit()
        yield {"user": user}


def _rows(ws, first_row: int = workbook.FIRST_DATA_ROW) -> list[tuple]:
    return [r for r in ws.iter_rows(min_row=first_row, values_only=True) if any(v is not None for v in r)]


def _cents(value) -> int:
    return round(D(str(value)) * 100)


def _nl_amount(text: str) -> Decimal:
    assert "." not in text, text  # no thousands separator, decimal comma
    return D(text.replace(",", "."))


def test_the_register_and_payments_reconcile_with_the_database(books):
    book = ledger_oracle.month_ledger(OCTOBER, OCTOBER.last)
    invoices = db.session.scalars(select(Invoice).where(Invoice.issue_date.between(OCTOBER.first, OCTOBER.last))
                                  .order_by(Invoice.number)).all()
    notes = db.session.scalars(select(CreditNote).where(
        CreditNote.issue_date.between(OCTOBER.first, OCTOBER.last))).all()
    assert [r.number for r in book.register] == [i.number for i in invoices] + [n.number for n in notes]
    total = sum(i.total_gross_cents for i in invoices) + sum(n.total_gross_cents for n in notes)
    assert book.total == from_cents(total)
    assert book.vat == from_cents(sum(i.total_vat_cents for i in invoices) + sum(n.total_vat_cents for n in notes))
    for row in book.register:
        assert sum(row.net_by_rate.values(), D(0)) + row.vat == row.total, row.number
    assert set(book.rates) == {0, 21}
    by_number = {r.number: r for r in book.register}
    for invoice in invoices:
        row = by_number[invoice.number]
        paid = sum(p.amount_cents for p in invoice.payments if p.paid_on <= OCTOBER.last)
        credited = sum(n.total_gross_cents for n in invoice.credit_notes if n.issue_date <= OCTOBER.last)
        assert (row.paid, row.open) == (from_cents(paid), from_cents(invoice.total_gross_cents + credited - paid))
        assert row.patient_number == invoice.patient_id
    assert by_number[notes[0].number].credits == notes[0].invoice.number and by_number[notes[0].number].total < 0
    payments = db.session.scalars(select(Payment).where(Payment.paid_on.between(OCTOBER.first, OCTOBER.last))).all()
    assert len(book.payments) == len(payments) == 3  # the November payment is left out
    assert book.payments_total == from_cents(sum(p.amount_cents for p in payments)) == D("335.50")


def test_the_report_workbook_has_the_register_and_payments_sheets(books, tmp_path):
    report = queries.build_report(OCTOBER, today=TODAY)
    assert load_workbook(workbook.write_report(report, tmp_path / "plain.xlsx")).sheetnames[-1] == "Registraties"
    target = workbook.write_report(report, tmp_path / "r.xlsx", MonthBooks.of(OCTOBER, report.as_of))
    wb = load_workbook(target)
    assert wb.sheetnames[-2:] == ["Factuurregister", "Betalingen"]
    register = wb["Factuurregister"]
    headers = [c.value for c in register[workbook.HEADER_ROW]]
    assert headers[:4] == ["Soort", "Nummer", "Datum", "Patiëntnummer"]
    assert "Btw" in headers and "Betaald" in headers and "Openstaand" in headers
    rows = _rows(register)
    body, total = rows[:-1], rows[-1]
    assert total[0] == "Totaal"
    column = headers.index("Totaal incl. btw")
    db_total = db.session.scalar(select(func.sum(Invoice.total_gross_cents)).where(
        Invoice.issue_date.between(OCTOBER.first, OCTOBER.last)))
    db_total += db.session.scalar(select(func.sum(CreditNote.total_gross_cents)).where(
        CreditNote.issue_date.between(OCTOBER.first, OCTOBER.last)))
    assert sum(_cents(r[column]) for r in body) == _cents(total[column]) == db_total
    assert {r[0] for r in body} == {"Factuur", "Creditnota"}
    assert register.cell(workbook.FIRST_DATA_ROW, column + 1).number_format == workbook.EURO_FORMAT
    assert register.cell(workbook.FIRST_DATA_ROW, 3).is_date
    assert register.cell(workbook.FIRST_DATA_ROW, 3).number_format == workbook.DATE_FORMAT  # dd-mm-jjjj
    assert register.cell(workbook.FIRST_DATA_ROW, 2).number_format == "General"  # a column without a format
    first = wb["Betalingen"]
    assert first.cell(workbook.FIRST_DATA_ROW, 1).number_format == workbook.DATE_FORMAT
    assert first.cell(workbook.FIRST_DATA_ROW, 5).number_format == workbook.EURO_FORMAT
    assert first.cell(workbook.FIRST_DATA_ROW, 2).data_type == "s"  # invoice numbers stay text
    payments = _rows(wb["Betalingen"])
    assert payments[-1][0] == "Totaal" and _cents(payments[-1][4]) == sum(_cents(r[4]) for r in payments[:-1])
    methods = {r[3] for r in payments[:-1]}
    assert len(methods) == 2 and not methods & {"Bank transfer", "Debit card (pin)", "bank_transfer", "pin"}
    text = " ".join(str(v) for r in rows + payments for v in r if v is not None)
    for name in NAMES:
        assert name not in text  # patients by number only


def test_the_pack_holds_the_csvs_and_a_contents_list_with_every_file_and_its_total(books, tmp_path):
    target = tmp_path / "pack.zip"
    result = pack.build_pack(OCTOBER, target, user=books["user"], today=TODAY,
                             documents_list=tmp_path / "documents.tsv")
    db.session.commit()
    book = ledger_oracle.month_ledger(OCTOBER, OCTOBER.last)
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        contents = archive.read("inhoud.txt").decode("utf-8")
        register = archive.read("factuurregister-2026-10.csv")
        payments = archive.read("betalingen-2026-10.csv")
    # Every file is named in the contents list with its total; the list names nothing that is not there.
    listed = {}
    for line in contents.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[0] != "Bestand":
            listed[parts[0]] = parts[2]
    assert set(listed) == set(names) - {"inhoud.txt"}
    documents = {name for name in listed if name.startswith("facturen/")}
    assert {f.name for f in result.files} == set(listed) - documents  # the documents' lines come from a scratch file
    assert result.documents_list == tmp_path / "documents.tsv"
    kept = list(pack.read_documents_list(result.documents_list))
    assert len(documents) == result.documents == len(kept) == 4
    prefix = {"invoice": "factuur", "credit note": "creditnota"}
    assert sorted(f"facturen/{prefix[subject.rsplit(' ', 1)[0]]}-{subject.rsplit(' ', 1)[1]}.pdf"
                  for _patient, subject in kept) == sorted(documents)
    assert all(patient for patient, _subject in kept)
    assert result.entries == len(names)
    assert listed["factuurregister-2026-10.csv"] == "EUR " + f"{book.total:.2f}".replace(".", ",")
    assert listed["betalingen-2026-10.csv"] == "EUR 335,50"
    for invoice in db.session.scalars(select(Invoice).where(
            Invoice.issue_date.between(OCTOBER.first, OCTOBER.last))):
        name = f"facturen/factuur-{invoice.number}.pdf"
        assert name in names
        assert listed[name] == "EUR " + f"{from_cents(invoice.total_gross_cents):.2f}".replace(".", ",")
    note = db.session.scalar(select(CreditNote))
    assert listed[f"facturen/creditnota-{note.number}.pdf"].startswith("EUR -")
    # File names carry numbers, never patient names.
    slugs = {"jansen", "ozturk", "van-der-berg", "anna"}
    for name in names:
        assert not any(slug in name.lower() for slug in slugs), name
    for patient in db.session.scalars(select(Patient)):
        assert patient.last_name not in contents

    # The CSVs: UTF-8 with BOM, ';' between fields, decimal comma; totals equal the database's.
    assert register.startswith(b"\xef\xbb\xbf") and payments.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(register.decode("utf-8-sig")), delimiter=";"))
    header, body, total = rows[0], rows[1:-1], rows[-1]
    assert header[:4] == ["Soort", "Nummer", "Datum", "Patiëntnummer"] and total[0] == "Totaal"
    column = header.index("Totaal incl. btw")
    assert sum(_nl_amount(r[column]) for r in body) == _nl_amount(total[column]) == book.total
    assert [r[1] for r in body] == [r.number for r in book.register]
    assert all(len(r[2]) == 10 and r[2][2] == "-" for r in body)  # dd-mm-jjjj
    paid_rows = list(csv.reader(io.StringIO(payments.decode("utf-8-sig")), delimiter=";"))
    assert sum(_nl_amount(r[4]) for r in paid_rows[1:-1]) == _nl_amount(paid_rows[-1][4]) == D("335.50")


def test_csv_cells_keep_numbers_numbers_and_text_text():
    assert csv_cell(D("-60.50")) == "-60,50" and csv_cell(D("1234.5")) == "1234,50"
    assert csv_cell(date(2026, 10, 5)) == "05-10-2026" and csv_cell(None) == ""
    assert csv_cell("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")"
    assert csv_cell("-reversal") == "'-reversal" and csv_cell("2026-00001") == "2026-00001"


def test_a_data_row_keeps_text_text_and_each_column_its_format(tmp_path):
    """workbook._Rows.data_row (the register and payments sheets, a row per document): a note that starts with '='
    stays text, characters Excel refuses are dropped, dates and euros get their column's format."""
    from datetime import date as day

    from openpyxl import Workbook

    book = Workbook(write_only=True)
    rows = workbook._Rows(book.create_sheet("Betalingen"))
    styles = rows.column_styles([workbook.DATE_FORMAT, None, workbook.EURO_FORMAT, None])
    rows.data_row(1, [day(2026, 10, 3), '=HYPERLINK("http://evil.example","klik")', D("1234.56"), "a\x01b"], styles)
    rows.data_row(3, [day(2026, 10, 4), "2026-00002", D("-5.00"), None], styles)  # row 2 left empty
    book.save(tmp_path / "rows.xlsx")
    sheet = load_workbook(tmp_path / "rows.xlsx")["Betalingen"]
    note = sheet.cell(1, 2)
    assert note.data_type == "s" and note.value.startswith("=HYPERLINK")
    assert sheet.cell(1, 4).value == "ab"
    assert sheet.cell(1, 1).number_format == workbook.DATE_FORMAT and sheet.cell(1, 1).is_date
    assert sheet.cell(1, 3).number_format == workbook.EURO_FORMAT and sheet.cell(1, 3).value == 1234.56
    assert sheet.cell(2, 1).value is None and sheet.cell(3, 2).value == "2026-00002"
    assert sheet.cell(3, 3).value == -5
