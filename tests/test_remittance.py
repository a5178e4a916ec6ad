"""Remittance import: the insurer's reply as .xlsx or .csv, mapped, matched by claim reference, previewed and
applied in one transaction; malformed, formula-laden and oversized files are refused and change nothing."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from test_claims import ClaimClinic, _submitted, claim_line

from backoffice.claims import remittance
from backoffice.claims.remittance import RemittanceError
from backoffice.extensions import db
from backoffice.models import AccessLog, ClaimLine, InsurerClaimSettings, RemittanceImport

HEADERS = ["Claimreferentie", "Betaald", "Code", "Reden"]


def xlsx(rows, headers=HEADERS, formula: str | None = None) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(headers)
    for row in rows:
        sheet.append(list(row))
    if formula:
        sheet["B2"] = formula
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows, headers=HEADERS) -> bytes:
    lines = [";".join(headers)] + [";".join(str(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8-sig")


@pytest.fixture
def clinic(app, tmp_path):
    app.config["CLAIMS_DIR"] = str(tmp_path / "claims")
    with app.app_context():
        yield ClaimClinic()


def outcomes(batch, lines):
    return [(claim_line(batch, i).status, claim_line(batch, i).paid_cents) for i in lines]


def nothing_changed(batch, lines):
    assert outcomes(batch, lines) == [("pending", 0)] * len(lines)
    assert db.session.scalar(select(func.count(RemittanceImport.id))) == 0


def test_happy_path_preview_then_apply_closes_the_batch(clinic):
    batch, lines = _submitted(clinic, 3)
    refs = [claim_line(batch, i).claim_reference for i in lines]
    data = xlsx([(refs[0], 50, "", ""), (refs[1].lower() + " ", "20,00", "P1", "Deels"),
                 (refs[2], 0, "V12", "Niet aanvullend verzekerd")])
    imported = remittance.upload(clinic.insurer, data, "antwoord.xlsx", clinic.user)
    db.session.commit()
    assert imported.mapping == {"reference": "Claimreferentie", "paid": "Betaald", "reason_code": "Code",
                                "reason_text": "Reden"}
    shown = remittance.preview(imported)
    assert (len(shown.match.matched), len(shown.match.unmatched), len(shown.match.disputed)) == (3, 0, 0)
    assert shown.match.matched_paid == Decimal("70.00")
    assert outcomes(batch, lines) == [("pending", 0)] * 3   # a preview changes nothing

    applied = remittance.apply(imported, clinic.user)
    db.session.commit()
    assert (applied.matched, applied.paid_cents, applied.closed_batches) == (3, 7_000, [batch.number])
    assert outcomes(batch, lines) == [("paid", 5_000), ("partly_paid", 2_000), ("rejected", 0)]
    assert claim_line(batch, lines[2]).rejection_code == "V12"
    assert batch.status == "closed" and imported.status == "applied"
    # The mapping is kept for the insurer; the import is in the access log per patient.
    assert db.session.get(InsurerClaimSettings, clinic.insurer_id).remittance_mapping["paid"] == "Betaald"
    logged = db.session.scalars(select(AccessLog).where(AccessLog.subject == f"remittance import {imported.id}"))
    assert any(entry.patient_id is not None and refs[0] in entry.detail for entry in logged)
    with pytest.raises(RemittanceError, match="not applied twice"):
        remittance.apply(imported, clinic.user)
    # The refusal names the moment in the clinic's time, not the stored UTC (23:30 UTC is 00:30 the next day).
    imported.applied_at = datetime(2026, 3, 5, 23, 30, tzinfo=UTC)
    with pytest.raises(RemittanceError, match="applied on 06-03-2026 00:30; it is not applied twice"):
        remittance.apply(imported, clinic.user)


def test_unmatched_and_disputed_rows_are_shown_and_not_applied(clinic):
    batch, lines = _submitted(clinic, 3)
    refs = [claim_line(batch, i).claim_reference for i in lines]
    data = csv_bytes([(refs[0], "50,00", "", ""), ("9999-2026-001-00001", "12,00", "", ""),
                      (refs[1], "75,00", "", "")])
    imported = remittance.upload(clinic.insurer, data, "antwoord.csv", clinic.user)
    shown = remittance.preview(imported)
    assert [r.reference for r in shown.match.unmatched] == ["9999-2026-001-00001"]
    assert [d.code.value for d in shown.match.disputed] == ["overpaid"]
    assert [c.reference for c in shown.match.missing] == [refs[2]]
    applied = remittance.apply(imported, clinic.user)
    db.session.commit()
    assert (applied.matched, applied.unmatched, applied.disputed) == (1, 1, 1)
    assert outcomes(batch, lines) == [("paid", 5_000), ("pending", 0), ("pending", 0)]
    assert batch.status == "submitted"


def test_the_mapping_is_chosen_once_and_reused(clinic):
    batch, lines = _submitted(clinic, 1)
    ref = claim_line(batch, lines[0]).claim_reference
    headers = ["Uw kenmerk nr", "Uitbetaald bedrag", "Opmerking"]
    first = remittance.upload(clinic.insurer, xlsx([(ref, 50, "")], headers), "a.xlsx", clinic.user)
    assert remittance.preview(first).errors.keys() == {"reference", "paid"}
    assert remittance.set_mapping(first, {"reference": "Nope"})["reference"].startswith("The file has no column")
    assert remittance.set_mapping(first, {"reference": "Uw kenmerk nr", "paid": "Uitbetaald bedrag",
                                          "reason_text": "Opmerking"}) == {}
    remittance.apply(first, clinic.user)
    db.session.commit()
    again = remittance.upload(clinic.insurer, xlsx([(ref, 50, "")], headers), "b.xlsx", clinic.user)
    assert again.mapping["reference"] == "Uw kenmerk nr" and again.mapping["paid"] == "Uitbetaald bedrag"
    assert len(remittance.preview(again).match.unchanged) == 1   # the same reply twice changes nothing


def _corrupt_xlsx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types")
        archive.writestr("xl/workbook.xml", "not xml at all")
    return buffer.getvalue()


BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><Types>&lol2;</Types>')


def _entity_xlsx() -> bytes:
    data = io.BytesIO(xlsx([("x", 1, "", "")]))
    out = io.BytesIO()
    with zipfile.ZipFile(data) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = BILLION_LAUGHS
            target.writestr(item, content)
    return out.getvalue()


@pytest.mark.parametrize(("data", "filename", "message"), [
    (b"PK\x03\x04 this is no zip", "reply.xlsx", "not a readable .xlsx workbook"),
    (_corrupt_xlsx(), "reply.xlsx", "not a readable .xlsx workbook"),
    (_entity_xlsx(), "reply.xlsx", "not a readable .xlsx workbook"),
    (b"%PDF-1.7 \x00\x01", "reply.csv", "binary data"),
    (b"", "reply.csv", "empty"),
    (b"Claimreferentie;Betaald\n", "reply.csv", "no rows"),
    (b"a,b\n1,2\n", "reply.pdf", ".xlsx workbook or a .csv file"),
], ids=["not a zip", "broken xml", "xml entities", "binary csv", "empty", "header only", "wrong type"])
def test_a_malformed_file_is_refused_with_a_clear_message_and_changes_nothing(clinic, data, filename, message):
    batch, lines = _submitted(clinic, 1)
    with pytest.raises(RemittanceError, match=message):
        remittance.upload(clinic.insurer, data, filename, clinic.user)
    db.session.rollback()
    nothing_changed(batch, lines)


def test_an_unreadable_amount_refuses_the_whole_file(clinic):
    batch, lines = _submitted(clinic, 2)
    refs = [claim_line(batch, i).claim_reference for i in lines]
    imported = remittance.upload(clinic.insurer, csv_bytes([(refs[0], "50,00", "", ""), (refs[1], "vijftig", "", ""),
                                                            ("", "1,00", "", "")]), "r.csv", clinic.user)
    shown = remittance.preview(imported)
    assert shown.match is None and "row 3: “vijftig” is not an amount such as 199,50 or 1.234,56" in shown.problem
    assert "row 4: no claim reference" in shown.problem
    with pytest.raises(RemittanceError, match="not an amount"):
        remittance.apply(imported, clinic.user)
    db.session.rollback()
    assert outcomes(batch, lines) == [("pending", 0)] * 2


@pytest.mark.parametrize(("data", "filename"), [
    (xlsx([("3311-2026-001-00001", 0, "", "")], formula="=SUM(1,2)"), "reply.xlsx"),
    (csv_bytes([("3311-2026-001-00001", "=1+1", "", "")]), "reply.csv"),
    (csv_bytes([("@SUM(A1)", "1,00", "", "")]), "reply.csv"),
    (csv_bytes([("3311-2026-001-00001", "1,00", "", "+cmd|' /C calc'!A0")]), "reply.csv"),
], ids=["xlsx formula", "csv formula", "csv at-sign", "csv DDE"])
def test_a_formula_laden_file_is_refused(clinic, data, filename):
    batch, lines = _submitted(clinic, 1)
    with pytest.raises(RemittanceError, match="formula"):
        remittance.upload(clinic.insurer, data, filename, clinic.user)
    db.session.rollback()
    nothing_changed(batch, lines)


def test_negative_amounts_are_values_not_formulas(clinic):
    batch, lines = _submitted(clinic, 1)
    ref = claim_line(batch, lines[0]).claim_reference
    imported = remittance.upload(clinic.insurer, csv_bytes([(ref, "-5,00", "", "")]), "r.csv", clinic.user)
    assert [d.code.value for d in remittance.preview(imported).match.disputed] == ["negative_amount"]


def test_an_oversized_file_is_refused(clinic, app):
    batch, lines = _submitted(clinic, 1)
    ref = claim_line(batch, lines[0]).claim_reference
    data = csv_bytes([(ref, "50,00", "", "")] * 50)
    with pytest.raises(RemittanceError, match="largest file accepted is 1 kB"):
        remittance.upload(clinic.insurer, data, "big.csv", clinic.user, max_bytes=1024)
    app.config["MAX_CONTENT_LENGTH"] = 512
    with pytest.raises(RemittanceError, match="largest file accepted"):
        remittance.upload(clinic.insurer, data, "big.csv", clinic.user)
    db.session.rollback()
    nothing_changed(batch, lines)


def test_a_file_for_an_exported_but_unsubmitted_batch_matches_nothing(clinic):
    from backoffice.claims import export as claim_export

    patient = clinic.patient()
    line = clinic.line(patient, day=date(2026, 10, 3))
    batch = clinic.batch()
    claim_export.export_batch(batch, clinic.user)
    db.session.commit()
    ref = db.session.scalar(select(ClaimLine.claim_reference).where(ClaimLine.invoice_line_id == line))
    imported = remittance.upload(clinic.insurer, csv_bytes([(ref, "50,00", "", "")]), "r.csv", clinic.user)
    assert [r.reference for r in remittance.preview(imported).match.unmatched] == [ref]
