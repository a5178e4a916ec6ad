"""The claim workbook: read back with openpyxl (sheets, template columns, types, formats, frozen header, text
that never becomes a formula), byte-identical exports, no half-written file, and LibreOffice's reading of it."""

from __future__ import annotations

import csv
import subprocess
import tempfile
import time
import zipfile
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import need_tool
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from backoffice.claims.workbook import (
    CLAIM_SHEET,
    DATE_FORMAT,
    EURO_FORMAT,
    EXCLUDED_SHEET,
    SUMMARY_SHEET,
    WorkbookHeader,
    default_filename,
    write_claim_workbook,
)
from backoffice.domain.claims import COLUMN_SPECS, ClaimRow, ClaimTemplate, ColumnKind, ExcludedRow, Reason

D = Decimal
HEADER = WorkbookHeader("Zilveren Kruis", "3311", "3311-2026-001", "januari 2026", "Huidtherapie Demo", "90001234",
                        datetime(2026, 2, 1, 9, 30, 15))
TEXT_KEYS = [k for k, spec in COLUMN_SPECS.items() if spec.kind is ColumnKind.TEXT]


def row(i: int = 1, **changes) -> ClaimRow:
    base = ClaimRow(
        patient_name=f"Eva Jansen {i}", date_of_birth=date(1990, 5, 17), bsn="111222333",
        insurer_name="Zilveren Kruis", uzovi="3311", policy_number=f"ZK-{i:03d}", treatment_date=date(2026, 1, i),
        prestatiecode="0123", description="Fractional laser, face", category="acne" if i % 2 else "scars",
        therapist_name="Anna de Vries" if i < 3 else "Bas Bakker", therapist_agb="01234567",
        practice_agb="90001234", kp_number="KP-77", kp_level="Kwaliteitsregister", nvh_number="NVH-12",
        technique="Laserontharing", referral="GP (huisarts) J. Jansen, 05-01-2026",
        amount=D("85.00"), expected_reimbursement=D("68.50"), invoice_number=f"2026-{i:05d}",
        claim_reference=f"3311-2026-001-{i:05d}",
    )
    return replace(base, **changes)


EXCLUDED = [ExcludedRow("Piet Pieters", date(2024, 11, 2), "2024-00450", "Laser", "Bas Bakker", D("90.00"),
                        (Reason("past_deadline", "Termijn verstreken.", "Deadline passed."),
                         Reason("missing_agb", "Geen AGB.", "No AGB.")))]


def write(path: Path, rows=None, template=None, excluded=EXCLUDED, **kwargs):
    return write_claim_workbook(path, header=HEADER, template=template or ClaimTemplate.default(),
                                rows=[row(1), row(2), row(3)] if rows is None else rows, excluded=excluded,
                                **kwargs)


def values(ws) -> list[tuple]:
    """The rows' values, without the empty cells openpyxl pads short rows with."""
    rows = []
    for cells in ws.iter_rows():
        found = [c.value for c in cells]
        while found and found[-1] is None:
            found.pop()
        rows.append(tuple(found))
    return rows


def test_sheets_columns_types_and_formats(tmp_path):
    path = tmp_path / "claims.xlsx"
    summary = write(path)
    wb = load_workbook(path)
    assert wb.sheetnames == [CLAIM_SHEET, SUMMARY_SHEET, EXCLUDED_SHEET]
    ws = wb[CLAIM_SHEET]
    template = ClaimTemplate.default()
    assert [c.value for c in ws[1]] == [c.header for c in template.columns]
    assert all(c.font.bold and c.data_type == "s" for c in ws[1])
    assert ws.freeze_panes == "A2" and wb[EXCLUDED_SHEET].freeze_panes == "A2"
    assert ws.max_row == 4
    for index, column in enumerate(template.columns, 1):
        letter = ws.cell(1, index).column_letter
        assert ws.column_dimensions[letter].width == column.spec.width
        cell = ws.cell(2, index)
        expected = getattr(row(1), column.key)
        if column.spec.kind is ColumnKind.DATE:
            assert cell.is_date and cell.value == datetime.combine(expected, datetime.min.time())
            assert cell.number_format == DATE_FORMAT
        elif column.spec.kind is ColumnKind.MONEY:
            assert cell.data_type == "n" and cell.value == float(expected) and cell.number_format == EURO_FORMAT
        else:
            assert cell.data_type == "s" and cell.value == expected
    assert ws["M2"].value == "01234567"  # leading zeros stay: codes are text
    # What an insurer's desk checks: technique, KP number and level, NVH number, referral (and the prestatiecode).
    headers = [c.value for c in ws[1]]
    for header, value in (("Prestatiecode", "0123"), ("Techniek", "Laserontharing"), ("KP-nummer", "KP-77"),
                          ("KP-niveau", "Kwaliteitsregister"), ("NVH-lidnummer", "NVH-12"),
                          ("Verwijzing", "GP (huisarts) J. Jansen, 05-01-2026")):
        assert ws.cell(2, headers.index(header) + 1).value == value, header
    assert summary.claimed.lines == 3 and summary.claimed.amount == D("255.00")
    assert summary.excluded.lines == 1 and summary.excluded.amount == D("90.00")


def test_summary_sheet_totals_per_category_and_therapist(tmp_path):
    path = tmp_path / "claims.xlsx"
    write(path, rows=[row(i) for i in range(1, 6)])
    rows = values(load_workbook(path)[SUMMARY_SHEET])
    assert rows[:6] == [("Declaratiebatch", "3311-2026-001"), ("Verzekeraar", "Zilveren Kruis"), ("UZOVI", "3311"),
                        ("Periode", "januari 2026"), ("Praktijk", "Huidtherapie Demo"), ("AGB praktijk", "90001234")]
    body = [r for r in rows[6:] if r]
    assert body == [
        ("Categorie", "Regels", "Bedrag", "Verwachte vergoeding"),
        ("acne", 3, 255, 205.5), ("scars", 2, 170, 137), ("Totaal", 5, 425, 342.5),
        ("Therapeut", "Regels", "Bedrag", "Verwachte vergoeding"),
        ("Anna de Vries", 2, 170, 137), ("Bas Bakker", 3, 255, 205.5), ("Totaal", 5, 425, 342.5),
        ("Uitgesloten regels", 1, 90),
    ]
    ws = load_workbook(path)[SUMMARY_SHEET]
    money = [c for r in ws.iter_rows() for c in r if isinstance(c.value, float)]
    assert money and all(c.number_format == EURO_FORMAT for c in money)


def test_excluded_sheet_lists_reasons_in_either_language(tmp_path):
    write(tmp_path / "nl.xlsx")
    write(tmp_path / "en.xlsx", language="en")
    nl = values(load_workbook(tmp_path / "nl.xlsx")[EXCLUDED_SHEET])
    en = values(load_workbook(tmp_path / "en.xlsx")[EXCLUDED_SHEET])
    assert nl[0] == ("Naam patiënt", "Behandeldatum", "Factuurnummer", "Omschrijving", "Therapeut", "Bedrag",
                     "Redencodes", "Redenen")
    assert nl[1] == ("Piet Pieters", datetime(2024, 11, 2), "2024-00450", "Laser", "Bas Bakker", 90,
                     "past_deadline; missing_agb", "Termijn verstreken. Geen AGB.")
    assert en[1][-1] == "Deadline passed. No AGB."


def test_columns_follow_the_insurer_template(tmp_path):
    template = ClaimTemplate.from_config([{"key": "claim_reference", "header": "Uw referentie"}, "amount",
                                          "treatment_date", "technique", "referral_date"])
    path = tmp_path / "claims.xlsx"
    write(path, rows=[row(1, technique="Laser hair removal")], template=template)
    ws = load_workbook(path)[CLAIM_SHEET]
    assert values(ws) == [("Uw referentie", "Bedrag", "Behandeldatum", "Techniek", "Verwijsdatum"),
                          ("3311-2026-001-00001", 85, datetime(2026, 1, 1), "Laser hair removal")]
    assert ws.max_column == 5
    single = tmp_path / "single.xlsx"
    write(single, template=ClaimTemplate.from_config(["patient_name"]))
    assert values(load_workbook(single)[CLAIM_SHEET])[1] == ("Eva Jansen 1",)


def test_an_empty_batch_still_gives_a_complete_workbook(tmp_path):
    path = tmp_path / "claims.xlsx"
    summary = write(path, rows=[], excluded=[])
    wb = load_workbook(path)
    assert values(wb[CLAIM_SHEET]) == [tuple(c.header for c in ClaimTemplate.default().columns)]
    assert ("Totaal", 0, 0, 0) in values(wb[SUMMARY_SHEET])
    assert summary.claimed.lines == 0


DANGEROUS = ["=1+1", "=HYPERLINK(\"http://x\",\"y\")", "=cmd|' /C calc'!A0", "+31 6 1234", "-2+3", "@SUM(A1)",
             "#N/A", "#REF!", "#DIV/0!", "=", " =1", "'=1"]


def _xml_of(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        return "".join(archive.read(n).decode() for n in archive.namelist() if n.startswith("xl/worksheets/"))


@pytest.mark.parametrize("text", DANGEROUS)
def test_text_that_looks_like_a_formula_stays_text(tmp_path, text):
    path = tmp_path / "claims.xlsx"
    write(path, rows=[row(1, **dict.fromkeys(TEXT_KEYS, text))],
          template=ClaimTemplate.from_config(list(COLUMN_SPECS)),
          excluded=[replace(EXCLUDED[0], patient_name=text, description=text)])
    wb = load_workbook(path)
    ws = wb[CLAIM_SHEET]
    for index, key in enumerate(COLUMN_SPECS, 1):
        if key in TEXT_KEYS:
            cell = ws.cell(2, index)
            assert (cell.value, cell.data_type) == (text, "s"), key
    assert wb[EXCLUDED_SHEET]["A2"].value == text and wb[EXCLUDED_SHEET]["A2"].data_type == "s"
    assert "<f>" not in _xml_of(path) and "<f " not in _xml_of(path)


# Any text XML can hold (the characters it cannot are dropped, tested below), after a formula-ish prefix.
XML_CHARACTERS = st.characters(blacklist_categories=("Cs",),
                               blacklist_characters=[chr(c) for c in (*range(9), 11, 12, *range(14, 32))] + [
                                   "\ufffe", "\uffff"])
PREFIXED = st.tuples(st.sampled_from(["=", "+", "-", "@", "#", "#N/A", ""]),
                     st.text(XML_CHARACTERS, max_size=40)).map("".join)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PREFIXED, min_size=len(TEXT_KEYS), max_size=len(TEXT_KEYS)))
def test_any_text_reads_back_as_the_same_text(texts):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "claims.xlsx"
        write(path, rows=[row(1, **dict(zip(TEXT_KEYS, texts, strict=True)))],
              template=ClaimTemplate.from_config(list(COLUMN_SPECS)), excluded=[])
        ws = load_workbook(path)[CLAIM_SHEET]
        got = {key: ws.cell(2, index) for index, key in enumerate(COLUMN_SPECS, 1) if key in TEXT_KEYS}
        assert "<f>" not in _xml_of(path)
    for key, text in zip(TEXT_KEYS, texts, strict=True):
        if text:
            assert (got[key].value, got[key].data_type) == (text, "s"), key
        else:
            assert got[key].value is None


def test_characters_xml_cannot_hold_are_dropped_not_fatal(tmp_path):
    path = tmp_path / "claims.xlsx"
    write(path, rows=[row(1, patient_name="Eva\x00 Jan\x1bsen\uffff", description="=A1\x07",
                          referral="a\r\nb\tc\x85")])
    ws = load_workbook(path)[CLAIM_SHEET]
    assert ws["A2"].value == "Eva Jansen"
    assert ws["R2"].value == "a\r\nb\tc\x85"
    assert ws["I2"].value == "=A1" and ws["I2"].data_type == "s"


def test_the_same_data_gives_the_same_bytes(tmp_path, monkeypatch):
    first, second = tmp_path / "first.xlsx", tmp_path / "second.xlsx"
    write(first)
    # Were the clock used anywhere (zip entry times, document properties), a later one would show.
    later = time.time() + 86400 * 400
    monkeypatch.setattr(time, "time", lambda: later)
    write(second)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert {i.date_time for i in archive.infolist()} == {(2026, 2, 1, 9, 30, 14)}  # zip keeps even seconds
        core = archive.read("docProps/core.xml").decode()
    assert core.count("2026-02-01T09:30:15Z") == 2
    third = tmp_path / "third.xlsx"
    write(third, rows=[row(1), row(2), row(4)])
    assert third.read_bytes() != first.read_bytes()


def test_a_failure_leaves_no_file_behind(tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"   # where openpyxl buffers the sheets while writing
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    target_dir = tmp_path / "out"
    target_dir.mkdir()

    def rows():
        yield row(1)
        yield row(2)
        raise OSError("database went away")

    with pytest.raises(OSError, match="database went away"):
        write(target_dir / "claims.xlsx", rows=rows())
    assert list(target_dir.iterdir()) == []
    assert list(scratch.iterdir()) == []

    # An earlier complete export under the same name survives a failed one untouched.
    write(target_dir / "claims.xlsx")
    before = (target_dir / "claims.xlsx").read_bytes()

    def bad_excluded():
        raise ValueError("boom")
        yield

    with pytest.raises(ValueError, match="boom"):
        write(target_dir / "claims.xlsx", excluded=bad_excluded())
    assert (target_dir / "claims.xlsx").read_bytes() == before
    assert [p.name for p in target_dir.iterdir()] == ["claims.xlsx"]
    assert list(scratch.iterdir()) == []


def test_default_filename():
    assert default_filename(HEADER) == "declaratie-3311-2026-001.xlsx"
    assert default_filename(replace(HEADER, batch_number="../x y")) == "declaratie-..-x-y.xlsx"


# ---- LibreOffice reads it (Debian's libreoffice-calc-nogui, installed by `make test`) -------------------------

def test_libreoffice_converts_every_sheet_to_the_expected_csv(tmp_path):
    soffice = need_tool("soffice", "libreoffice", package="libreoffice-calc-nogui")
    path = tmp_path / "claims.xlsx"
    write(path, rows=[row(1, patient_name="=cmd|' /C calc'!A0"), row(2, patient_name="@Jansen, \"Eva\"")])
    out = tmp_path / "csv"
    # Comma, double quote, UTF-8, raw values (not as shown), every sheet to its own file (token 12 = -1).
    options = "44,34,76,1,,1033,false,true,false,false,false,-1"
    result = subprocess.run(
        [soffice, f"-env:UserInstallation={(tmp_path / 'lo-profile').as_uri()}", "--headless", "--norestore",
         "--convert-to", f"csv:Text - txt - csv (StarCalc):{options}", "--outdir", str(out), str(path)],
        capture_output=True, text=True, timeout=180, check=False,
    )
    assert result.returncode == 0, result.stderr

    def read(sheet):
        with open(out / f"claims-{sheet}.csv", encoding="utf-8", newline="") as handle:
            return list(csv.reader(handle))

    claims = read(CLAIM_SHEET)
    assert claims[0] == [c.header for c in ClaimTemplate.default().columns]
    assert claims[1] == ["=cmd|' /C calc'!A0", "05/17/1990", "111222333", "Zilveren Kruis", "3311", "ZK-001",
                         "01/01/2026", "0123", "Fractional laser, face", "acne", "Laserontharing",
                         "Anna de Vries", "01234567", "90001234", "KP-77", "Kwaliteitsregister", "NVH-12",
                         "GP (huisarts) J. Jansen, 05-01-2026", "85", "68.5", "2026-00001", "3311-2026-001-00001"]
    assert claims[2][0] == "@Jansen, \"Eva\"" and claims[2][6] == "01/02/2026" and len(claims) == 3
    summary = read(SUMMARY_SHEET)
    assert ["Totaal", "2", "170", "137"] in summary and ["acne", "1", "85", "68.5"] in summary
    assert read(EXCLUDED_SHEET)[1] == ["Piet Pieters", "11/02/2024", "2024-00450", "Laser", "Bas Bakker", "90",
                                       "past_deadline; missing_agb", "Termijn verstreken. Geen AGB."]


# ---- the insurer's template: which columns it may offer -------------------------------------------------------

def test_the_template_offers_the_desk_columns_and_the_bsn_only_when_required():
    from backoffice.domain.claim_sheet import column_choices
    from backoffice.domain.claims import TemplateError

    with_bsn = [spec.key for spec in column_choices(bsn_required=True)]
    without = [spec.key for spec in column_choices(bsn_required=False)]
    for key in ("prestatiecode", "technique", "kp_number", "kp_level", "nvh_number", "referral"):
        assert key in with_bsn and key in without
        assert key in ClaimTemplate.default(bsn_required=False).keys
    assert "bsn" in with_bsn and "bsn" not in without
    assert "bsn" in ClaimTemplate.default().keys and "bsn" not in ClaimTemplate.default(bsn_required=False).keys
    asking = ClaimTemplate.from_config(["patient_name", "bsn", "kp_level"])
    assert asking.check_for(bsn_required=True) is asking
    with pytest.raises(TemplateError, match="does not require the BSN"):
        asking.check_for(bsn_required=False)
    assert asking.without_bsn().keys == ("patient_name", "kp_level")


def test_a_row_frozen_before_the_new_columns_reads_back_with_their_defaults(app):
    from backoffice.claims.export import _row_from_snapshot, _row_snapshot

    with app.app_context():
        snapshot = _row_snapshot(row(1))
        assert snapshot["kp_level"] == "Kwaliteitsregister" and snapshot["nvh_number"] == "NVH-12"
        old = {k: v for k, v in snapshot.items() if k not in ("kp_level", "nvh_number", "technique")}
        back = _row_from_snapshot(old)
    assert (back.kp_level, back.nvh_number, back.technique) == ("", "", "")
    assert back.kp_number == "KP-77" and back.bsn == "111222333"
