"""Remittance uploads are bounded by the work they ask for, not only by their bytes: a small .xlsx can hold
millions of empty rows (a zip compresses them about 1000:1), a row of a million cells, a sheet that jumps to row
1.048.576 or a cell with megabytes of text. Each is refused fast, in little memory, with a message."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest
from conftest import post_form
from sqlalchemy import select
from test_claims import ClaimClinic
from test_remittance import csv_bytes, xlsx

from backoffice.claims import remittance
from backoffice.claims.remittance import RemittanceError
from backoffice.extensions import db
from backoffice.models import RemittanceImport

SHEET = "xl/worksheets/sheet1.xml"
HEADER_ROW = (b'<row r="1"><c r="A1" t="inlineStr"><is><t>Claimreferentie</t></is></c>'
              b'<c r="B1" t="inlineStr"><is><t>Betaald</t></is></c></row>')


def with_sheet(sheet_data: bytes | None = None, *, dimension: str = "", chunks=None) -> bytes:
    """A real workbook (openpyxl's own parts) whose first sheet is replaced by the XML given, written straight into
    the zip so millions of rows cost the test little: `chunks` streams the sheetData's content."""
    source = io.BytesIO(xlsx([("x", 1, "", "")]))
    out = io.BytesIO()
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in original.infolist():
            if item.filename != SHEET:
                target.writestr(item, original.read(item))
                continue
            info = zipfile.ZipInfo(SHEET)
            info.compress_type = zipfile.ZIP_DEFLATED
            with target.open(info, "w") as sheet:
                sheet.write(b'<?xml version="1.0" encoding="UTF-8"?>'
                            b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
                if dimension:
                    sheet.write(f'<dimension ref="{dimension}"/>'.encode())
                sheet.write(b"<sheetData>")
                for chunk in chunks or [sheet_data or b""]:
                    sheet.write(chunk)
                sheet.write(b"</sheetData></worksheet>")
    return out.getvalue()


def row_bomb(rows: int = 6_000_000, dimension: str = "") -> bytes:
    """The issue's file: a header, then millions of empty rows, about 80 kB."""
    empty = b"<row/>" * 100_000
    return with_sheet(dimension=dimension, chunks=[HEADER_ROW, *[empty] * (rows // 100_000)])


@pytest.fixture
def clinic(app, tmp_path):
    app.config["CLAIMS_DIR"] = str(tmp_path / "claims")
    with app.app_context():
        yield ClaimClinic()


def refused(clinic, data: bytes, filename: str = "antwoord.xlsx") -> tuple[str, float]:
    started = time.perf_counter()
    with pytest.raises(RemittanceError) as raised:
        remittance.upload(clinic.insurer, data, filename, clinic.user)
    seconds = time.perf_counter() - started
    db.session.rollback()
    assert db.session.scalar(select(RemittanceImport)) is None
    return str(raised.value), seconds


def test_the_row_bomb_is_small_and_refused_in_under_a_second(clinic):
    data = row_bomb()
    assert len(data) < 200_000
    message, seconds = refused(clinic, data)
    assert "more than 101.000 rows, empty rows included" in message
    assert seconds < 1


def test_a_declared_dimension_over_the_limits_is_refused_before_a_row_is_read(clinic):
    message, seconds = refused(clinic, row_bomb(dimension="A1:B6000000"))
    assert "more than 101.000 rows" in message and seconds < 0.5
    message, _ = refused(clinic, with_sheet(HEADER_ROW, dimension="A1:ZZ10"))
    assert "more than 100 columns (at A1:ZZ10)" in message


@pytest.mark.parametrize(("sheet", "expected"), [
    (HEADER_ROW + b'<row r="1048576"><c r="A1048576"><v>1</v></c></row>', "more than 101.000 rows"),
    (HEADER_ROW + b'<row r="2"><c r="XFD2"><v>1</v></c></row>', "more than 100 columns (at XFD2)"),
    (HEADER_ROW + b"<row>" + b"<c/>" * 1_000_000 + b"</row>", "more than 100 columns"),
    (HEADER_ROW + b'<row><c r="CV2"/></row>' * 10_500, "more than 1.000.000 cells, empty cells included"),
    (HEADER_ROW + b'<row><c t="inlineStr"><is><t>' + b"x" * 5_000_000 + b"</t></is></c></row>",
     "more than 32.767 characters"),
], ids=["jump to the last row", "last column", "a million cells in a row", "cells", "huge text"])
def test_other_bombs_are_refused_fast(clinic, sheet, expected):
    data = with_sheet(sheet)
    assert len(data) < 100_000
    message, seconds = refused(clinic, data)
    assert expected in message
    assert seconds < 1


def test_a_workbook_with_too_many_elements_is_refused(clinic, monkeypatch):
    monkeypatch.setattr(remittance, "MAX_ELEMENTS", 1_000)
    shared = b"<si><t>x</t></si>" * 2_000
    data = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx([("x", 1, "", "")]))) as source, zipfile.ZipFile(data, "w") as target:
        for item in source.infolist():
            target.writestr(item, source.read(item))
        target.writestr("xl/extra.xml", b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                        + shared + b"</sst>")
    message, _ = refused(clinic, data.getvalue())
    assert "too much to read (more than 1.000 parts)" in message


def test_the_time_budget_refuses_a_slow_read(clinic, app):
    app.config["REMITTANCE_READ_SECONDS"] = 0.000_001
    rows = [(f"3311-2026-001-{n:05d}", "1,00", "", "") for n in range(500)]
    for data, filename in ((xlsx(rows), "a.xlsx"), (csv_bytes(rows), "a.csv")):
        message, _ = refused(clinic, data, filename)
        assert "took longer than 1e-06 seconds; split it into smaller files" in message


def test_a_stored_file_is_read_again_without_the_clock(clinic, app):
    """The budget guards the upload; a file accepted once is not refused later because the server is busy."""
    imported = remittance.upload(clinic.insurer, xlsx([("3311-2026-001-00001", 1, "", "")]), "a.xlsx", clinic.user)
    app.config["REMITTANCE_READ_SECONDS"] = 0.000_001
    assert remittance.preview(imported).headers[:2] == ["Claimreferentie", "Betaald"]


def test_a_csv_of_empty_lines_or_endless_columns_is_refused(clinic):
    message, seconds = refused(clinic, b"Claimreferentie;Betaald\n" + b"\n" * 4_000_000, "a.csv")
    assert "more than 101.000 rows" in message and seconds < 1
    message, seconds = refused(clinic, b"Claimreferentie;Betaald\n" + b";" * 1_000_000 + b"\n", "a.csv")
    assert "Row 2 has 1000001 columns" in message and seconds < 1


def test_an_understated_dimension_loses_no_rows(clinic):
    """Some tools write dimension "A1" whatever the sheet holds: every row is still read."""
    rows = b"".join(f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>3311-2026-001-{n:05d}</t></is></c>'
                    f'<c r="B{n}"><v>12.5</v></c></row>'.encode() for n in range(2, 12))
    imported = remittance.upload(clinic.insurer, with_sheet(HEADER_ROW + rows, dimension="A1"), "a.xlsx", clinic.user)
    assert imported.row_count == 10


def test_the_row_bomb_in_the_web_is_a_form_error_not_a_500(app, users, client, as_role, tmp_path):
    app.config["CLAIMS_DIR"] = str(tmp_path / "claims")
    with app.app_context():
        insurer_id = ClaimClinic().insurer.id
        db.session.commit()
    as_role("admin")
    response = post_form(client, "/claims/remittances/new",
                         {"insurer_id": str(insurer_id), "file": (io.BytesIO(row_bomb()), "antwoord.xlsx")},
                         content_type="multipart/form-data")
    assert response.status_code == 422
    assert "empty rows included" in response.get_data(as_text=True)


MEASURE = textwrap.dedent("""
    import json, resource, sys, time
    sys.path.insert(0, {tests!r})
    from backoffice import create_app
    from backoffice.claims.remittance import RemittanceError, read_table
    from test_remittance import xlsx
    from test_remittance_limits import row_bomb
    app = create_app({{"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"}})
    bomb = row_bomb()
    with app.app_context():
        read_table(xlsx([("3311-2026-001-00001", 1, "", "")]), "warm.xlsx")  # imports and caches paid for
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        try:
            read_table(bomb, "bomb.xlsx")
            refused = False
        except RemittanceError:
            refused = True
        seconds = time.perf_counter() - started
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(json.dumps({{"refused": refused, "seconds": seconds, "peak_growth_mib": grown / 1024}}))
""")


def measure_row_bomb() -> dict:
    """Time and peak memory (growth of the process's maximum resident size) of refusing the row bomb, in a fresh
    process so nothing the test run allocated before hides the peak."""
    tests = str(Path(__file__).parent)
    result = subprocess.run([sys.executable, "-c", MEASURE.format(tests=tests)], capture_output=True, text=True,
                            check=True, timeout=120, cwd=Path(tests).parent)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_row_bomb_costs_under_a_second_and_50_mib():
    figures = measure_row_bomb()
    assert figures["refused"]
    assert figures["seconds"] < 1
    assert figures["peak_growth_mib"] < 50
