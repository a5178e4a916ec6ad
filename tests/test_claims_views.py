"""Claim pages and commands: who may do what, the batch journey through the web, field errors, CSRF, the access log
for every export and import, remittance upload with preview, patient-submitted claims, outcomes, settings, and
`flask claims export` / `flask claims import-remittance`."""

from __future__ import annotations

import hashlib
import io
from datetime import date

import pytest
from conftest import csrf_token, post_form
from openpyxl import load_workbook
from sqlalchemy import func, select
from test_claims import ClaimClinic, claim_line
from test_remittance import csv_bytes, xlsx

from backoffice.claims import batches as claim_batches
from backoffice.claims import export as claim_export
from backoffice.claims import outcomes as claim_outcomes
from backoffice.claims.common import ClaimError
from backoffice.extensions import db
from backoffice.models import (
    AccessLog,
    ClaimBatch,
    ClaimLine,
    InsurerClaimSettings,
    PatientClaim,
    RemittanceImport,
    Therapist,
)


@pytest.fixture
def clinic(app, users, tmp_path):
    """The clinic's data; no app context stays open, so each request gets its own (and its own `g`): wrap
    database work in `with app.app_context():`."""
    app.config["CLAIMS_DIR"] = str(tmp_path / "claims")
    with app.app_context():
        clinic = ClaimClinic()
    return clinic


def sign_out(client) -> None:
    post_form(client, "/logout", {}, token_from="/")


def _batch_with_an_exclusion(clinic) -> tuple[int, int, int]:
    """Two lines in October: one fine, one by a therapist without a personal AGB. Returns (batch, good, bad)."""
    good = clinic.line(clinic.patient("Bakker"))
    other = clinic.therapist("Bas Visser", "90054321")
    bad = clinic.line(clinic.patient("Visser"), therapist_id=other)
    db.session.get(Therapist, other).agb_code = ""
    db.session.commit()
    batch = clinic.batch()
    return batch.id, good, bad


def test_roles_manager_reads_therapist_is_refused_admin_writes(app, clinic, client, as_role):
    with app.app_context():
        batch_id, _good, _bad = _batch_with_an_exclusion(clinic)
    pages = ["/claims/", f"/claims/{batch_id}", "/claims/outcomes", "/claims/patient-claims", "/claims/settings"]
    as_role("therapist")
    for url in pages:
        assert client.get(url).status_code == 403, url
    assert b'href="/claims/"' not in client.get("/").data

    sign_out(client)
    as_role("manager")
    for url in pages:
        assert client.get(url).status_code == 200, url
    page = client.get(f"/claims/{batch_id}").get_data(as_text=True)
    assert ">Export</button>" not in page and "Validate again" not in page
    for url in ("/claims/new", "/claims/remittances/new", f"/claims/settings/{clinic.insurer_id}",
                "/claims/patient-claims/new"):
        assert client.get(url).status_code == 403, url
    token = csrf_token(client, "/claims/")
    assert client.post(f"/claims/{batch_id}/export", data={"csrf_token": token}).status_code == 403
    assert b'href="/claims/"' in client.get("/").data

    sign_out(client)
    as_role("admin")
    response = post_form(client, f"/claims/{batch_id}/export", {}, token_from=f"/claims/{batch_id}")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(ClaimBatch, batch_id).status == "exported"


def test_posts_without_a_csrf_token_are_refused(app, clinic, client, as_role):
    with app.app_context():
        batch_id, _good, _bad = _batch_with_an_exclusion(clinic)
    as_role("admin")
    assert client.post(f"/claims/{batch_id}/export").status_code == 400
    assert client.post("/claims/new", data={"insurer_id": clinic.insurer_id, "period": "2026-10"}).status_code == 400
    with app.app_context():
        assert db.session.get(ClaimBatch, batch_id).status == "draft"


def test_the_batch_journey_in_the_web(app, clinic, client, as_role):
    with app.app_context():
        good = clinic.line(clinic.patient("Bakker"))
        lapsed = clinic.therapist("Bas Visser", "90054321", kp_end=date(2026, 9, 30))
        bad = clinic.line(clinic.patient("Visser"), therapist_id=lapsed)
    as_role("admin")
    form = client.get("/claims/new").get_data(as_text=True)
    assert "Zilveren Kruis (3311)" in form

    response = post_form(client, "/claims/new", {"insurer_id": clinic.insurer_id, "period": "2026-10"})
    assert response.status_code == 302
    with app.app_context():
        batch_id = db.session.scalar(select(ClaimBatch.id))
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "1 line(s) included, 1 excluded" in page
    assert 'data-reasons="therapist_not_eligible"' in page
    assert "Bas Visser: KP registration ended on 30-09-2026." in page  # what is missing, and since when

    # The draft cannot be downloaded; exporting freezes it; every download has the same bytes and is logged.
    assert client.get(f"/claims/{batch_id}/workbook").status_code == 302
    response = post_form(client, f"/claims/{batch_id}/export", {}, token_from=f"/claims/{batch_id}")
    assert "exported: 1 line(s) claimed, 1 excluded" in client.get(response.headers["Location"]).get_data(as_text=True)
    first = client.get(f"/claims/{batch_id}/workbook")
    second = client.get(f"/claims/{batch_id}/workbook")
    first_bytes, second_bytes = first.data, second.data
    first.close()
    second.close()  # the file is streamed: close what the test client holds open
    assert first.status_code == 200 and first_bytes == second_bytes
    assert first.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "filename=declaratie-3311-2026-001.xlsx" in first.headers["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(first_bytes))
    assert len(list(workbook["Declaratie"].iter_rows())) == 2
    with app.app_context():
        exports = db.session.scalars(select(AccessLog).where(AccessLog.action == "export")).all()
        assert len(exports) == 3 * 2 and {e.user_email for e in exports} == {"admin@test.nl"}
        line_id = claim_line(db.session.get(ClaimBatch, batch_id), good).id

    post_form(client, f"/claims/{batch_id}/submit", {}, token_from=f"/claims/{batch_id}")

    def outcome(**fields):
        # Each line's form has its own prefix (one form per table row), its CSRF field too.
        prefix = f"line{line_id}-"
        token = csrf_token(client, f"/claims/{batch_id}")
        data = {prefix + key: value for key, value in {**fields, "csrf_token": token}.items()}
        return client.post(f"/claims/lines/{line_id}/outcome", data=data)

    response = outcome(paid="")
    assert response.status_code == 422 and "Enter what the insurer paid." in response.get_data(as_text=True)
    response = outcome(paid="0")
    assert response.status_code == 422 and "A rejection needs the insurer" in response.get_data(as_text=True)
    response = outcome(paid="0,00", reason_code="V40", reason_text="Geen verwijzing")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "batch 3311-2026-001 is closed" in page and "Resubmit rejected lines" in page

    response = post_form(client, f"/claims/{batch_id}/resubmit", {"line_id": str(line_id)},
                         token_from=f"/claims/{batch_id}")
    assert "resubmitted in the new batch 3311-2026-002" in client.get(response.headers["Location"]).get_data(
        as_text=True)
    with app.app_context():
        again = db.session.scalar(select(ClaimLine).where(ClaimLine.resubmission_of_id == line_id))
        assert again.invoice_line_id == good and again.live
        # The excluded line stayed in the first batch, with its reason.
        assert claim_line(db.session.get(ClaimBatch, batch_id), bad).reasons[0]["code"] == "therapist_not_eligible"


def test_new_batch_field_errors(app, clinic, client, as_role):
    as_role("admin")
    response = post_form(client, "/claims/new", {"insurer_id": clinic.insurer_id, "period": "2026-13"})
    assert response.status_code == 422
    assert "Type a month such as november 2026, 11-2026 or 2026-11." in response.get_data(as_text=True)
    response = post_form(client, "/claims/new", {"insurer_id": clinic.insurer_id, "period": "2026-10"})
    assert response.status_code == 422 and "Nothing to claim from Zilveren Kruis" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(ClaimBatch)) is None


def _submitted_batch(clinic, count=2) -> tuple[int, list[str]]:
    """A submitted batch of `count` lines of one patient: its id and claim references."""
    patient = clinic.patient()
    for i in range(count):
        clinic.line(patient, day=date(2026, 10, 2 + i), price="50.00")
    batch = clinic.batch()
    claim_export.export_batch(batch, clinic.user)
    claim_batches.mark_submitted(batch, clinic.user)
    db.session.commit()
    return batch.id, [line.claim_reference for line in batch.lines]


def test_remittance_upload_preview_and_apply_in_the_web(app, clinic, client, as_role):
    with app.app_context():
        batch_id, refs = _submitted_batch(clinic)
    as_role("admin")
    data = xlsx([(refs[0], 50, "", ""), (refs[1], 0, "V12", "Niet verzekerd"), ("0000-2026-001-00009", 3, "", "")],
                headers=["Kenmerk", "Bedrag", "Code", "Toelichting"])
    response = post_form(client, "/claims/remittances/new",
                         {"insurer_id": str(clinic.insurer_id), "file": (io.BytesIO(data), "antwoord.xlsx")},
                         content_type="multipart/form-data")
    assert response.status_code == 302
    page_url = response.headers["Location"]
    page = client.get(page_url).get_data(as_text=True)
    assert "Choose the column with the amount paid." in page   # "Bedrag" alone is not guessed
    with app.app_context():
        import_id = db.session.scalar(select(RemittanceImport.id))
    response = post_form(client, f"/claims/remittances/{import_id}/mapping",
                         {"reference": "Kenmerk", "paid": "Bedrag", "reason_code": "Code", "reason_text": "Code"},
                         token_from=page_url)
    assert response.status_code == 422 and "one field only" in response.get_data(as_text=True)
    post_form(client, f"/claims/remittances/{import_id}/mapping",
              {"reference": "Kenmerk", "paid": "Bedrag", "reason_code": "Code", "reason_text": "Toelichting"},
              token_from=page_url)
    page = client.get(page_url).get_data(as_text=True)
    assert 'data-testid="matched-count">2<' in page and 'data-testid="unmatched-count">1<' in page
    with app.app_context():
        assert {line.status for line in db.session.scalars(select(ClaimLine))} == {"pending"}

    response = post_form(client, f"/claims/remittances/{import_id}/apply", {}, token_from=page_url)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Applied: 2 line(s) recorded (EUR 50,00 paid); 1 unmatched" in page
    assert f"Closed: {refs[0][:13]}" in page
    with app.app_context():
        assert db.session.get(ClaimBatch, batch_id).status == "closed"
        assert db.session.get(InsurerClaimSettings, clinic.insurer_id).remittance_mapping["reference"] == "Kenmerk"
        logged = db.session.scalars(select(AccessLog).where(AccessLog.subject == f"remittance import {import_id}"))
        assert {(e.action, e.user_email) for e in logged} == {("create", "admin@test.nl"), ("update", "admin@test.nl")}


def test_remittance_upload_refuses_bad_files_with_a_field_error(app, clinic, client, as_role):
    with app.app_context():
        _submitted_batch(clinic, 1)
    as_role("admin")
    data = xlsx([("3311-2026-001-00001", 0, "", "")], formula="=SUM(1,2)")
    response = post_form(client, "/claims/remittances/new",
                         {"insurer_id": str(clinic.insurer_id), "file": (io.BytesIO(data), "antwoord.xlsx")},
                         content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Cell B2 holds a formula" in response.get_data(as_text=True)
    response = post_form(client, "/claims/remittances/new",
                         {"insurer_id": str(clinic.insurer_id), "file": (io.BytesIO(b"PK nonsense"), "a.xlsx")},
                         content_type="multipart/form-data")
    assert response.status_code == 422 and "not a readable .xlsx workbook" in response.get_data(as_text=True)
    token = csrf_token(client, "/claims/remittances/new")
    app.config["MAX_CONTENT_LENGTH"] = 2000
    response = client.post("/claims/remittances/new", content_type="multipart/form-data", data={
        "csrf_token": token, "insurer_id": str(clinic.insurer_id),
        "file": (io.BytesIO(csv_bytes([("x", "1,00", "", "")] * 200)), "big.csv")})
    assert response.status_code == 413 and "too large" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(RemittanceImport)) is None


def test_patient_submitted_claims_and_outcomes(app, clinic, client, as_role):
    with app.app_context():
        batch_id, _refs = _submitted_batch(clinic, 1)
        batch = db.session.get(ClaimBatch, batch_id)
        claim_outcomes.record_line_outcome(batch.lines[0], 0, "V12", "Niet verzekerd", user=clinic.user)
        db.session.commit()
        line = clinic.line(clinic.patient("Smit"), day=date(2026, 11, 2), price="80.00")
    as_role("admin")
    assert "Zilveren Kruis" in client.get("/claims/patient-claims/new").get_data(as_text=True)
    url = f"/claims/patient-claims/new?insurer_id={clinic.insurer_id}"
    response = post_form(client, url, {"invoice_line_id": str(line), "submitted_on": "2026-11-05",
                                       "outcome": "answered", "paid": ""})
    assert response.status_code == 422 and "Enter what the insurer paid" in response.get_data(as_text=True)
    response = post_form(client, url, {"invoice_line_id": str(line), "submitted_on": "2026-11-05",
                                       "outcome": "answered", "paid": "60,00", "paid_on": "2026-11-19"})
    assert response.status_code == 302
    with app.app_context():
        claim = db.session.scalar(select(PatientClaim))
        assert (claim.status, claim.paid_cents, claim.invoice_line_id) == ("partly_paid", 6_000, line)
        claim_id = claim.id
        # A line claimed by the patient is not offered to a batch.
        assert line not in list(db.session.scalars(
            claim_batches.candidate_lines(clinic.insurer_id, date(2026, 11, 1), date(2026, 11, 30))))
    assert "Anna Smit" in client.get("/claims/patient-claims").get_data(as_text=True)
    assert client.get(f"/claims/patient-claims/{claim_id}/edit").status_code == 200

    page = client.get("/claims/outcomes").get_data(as_text=True)
    assert "clinic: 1, patient: 1" in page and "V12" in page and "Niet verzekerd" in page


def test_insurer_settings(app, clinic, client, as_role):
    as_role("admin")
    url = f"/claims/settings/{clinic.insurer_id}"
    response = post_form(client, url, {"direct_billing": "y", "deadline_months": "0", "template": "colour"})
    text = response.get_data(as_text=True)
    assert response.status_code == 422 and "Enter 1 to 120 months." in text and "Unknown column “colour”" in text
    response = post_form(client, url, {"direct_billing": "", "deadline_months": "18", "bsn_required": "y",
                                       "template": "patient_name = Naam\nbsn\namount = Bedrag incl."})
    assert response.status_code == 302
    with app.app_context():
        settings = db.session.get(InsurerClaimSettings, clinic.insurer_id)
        assert (settings.direct_billing, settings.deadline_months, settings.bsn_required) == (False, 18, True)
        assert settings.template == [{"key": "patient_name", "header": "Naam"}, {"key": "bsn", "header": "BSN"},
                                     {"key": "amount", "header": "Bedrag incl."}]
    assert "Zilveren Kruis (3311)" not in client.get("/claims/new").get_data(as_text=True)
    assert "patient submits" in client.get("/claims/settings").get_data(as_text=True)


def test_insurer_settings_offer_the_desk_columns_and_the_bsn_only_when_required(app, clinic, client, as_role):
    as_role("admin")
    url = f"/claims/settings/{clinic.insurer_id}"
    page = client.get(url).get_data(as_text=True)
    for key, header in (("technique", "Techniek"), ("kp_number", "KP-nummer"), ("kp_level", "KP-niveau"),
                        ("nvh_number", "NVH-lidnummer"), ("prestatiecode", "Prestatiecode"),
                        ("referral", "Verwijzing"), ("bsn", "BSN")):
        assert f"<code>{key}</code>" in page and header in page
    assert "only when the insurer requires the BSN" in page
    response = post_form(client, url, {"direct_billing": "y", "deadline_months": "12",
                                       "template": "patient_name\nbsn\nkp_level"})
    assert response.status_code == 422
    assert "does not require the BSN" in response.get_data(as_text=True)
    response = post_form(client, url, {"direct_billing": "y", "deadline_months": "12",
                                       "template": "patient_name\ntechnique\nkp_number\nkp_level\nnvh_number"})
    assert response.status_code == 302
    with app.app_context():
        from backoffice.claims.settings import claim_template, settings_for

        settings = settings_for(clinic.insurer_id)
        assert claim_template(settings).keys == ("patient_name", "technique", "kp_number", "kp_level", "nvh_number")
        # A template saved with the BSN loses that column once the insurer no longer requires the BSN.
        settings.template = [{"key": "bsn", "header": "BSN"}, {"key": "amount", "header": "Bedrag"}]
        settings.bsn_required = False
        assert claim_template(settings).keys == ("amount",)
        settings.bsn_required = True
        assert claim_template(settings).keys == ("bsn", "amount")
        db.session.rollback()


def test_the_claim_sheet_fills_the_therapists_kp_level_and_nvh_number(app, clinic, tmp_path):
    with app.app_context():
        clinic.line(clinic.patient("Bakker", bsn="111222333"))
        batch = clinic.batch()
        result = claim_export.export_batch(batch, clinic.user)
        db.session.commit()
    ws = load_workbook(result.path)["Declaratie"]
    headers = [c.value for c in ws[1]]
    row = {header: ws.cell(2, index).value for index, header in enumerate(headers, 1)}
    assert row["KP-nummer"] == "KP-2345" and row["KP-niveau"] == "Kwaliteitsregister"
    assert row["NVH-lidnummer"] == "NVH-1" and row["Techniek"]
    assert "BSN" not in headers  # Zilveren Kruis's settings do not require it here
    assert result.claimed_amount == sum((v for k, v in row.items() if k == "Bedrag"), start=0)


# ---- command line ---------------------------------------------------------------------------------------------

def test_cli_export_writes_the_workbook_and_reports_exclusions(app, clinic, tmp_path):
    with app.app_context():
        clinic.line(clinic.patient("Bakker"))
        other = clinic.therapist("Bas Visser", "90054321")
        clinic.line(clinic.patient("Visser"), therapist_id=other)
        db.session.get(Therapist, other).agb_code = ""
        db.session.commit()
    out = tmp_path / "zk.xlsx"
    runner = app.test_cli_runner()
    result = runner.invoke(args=["claims", "export", "--insurer", "3311", "--period", "2026-10", "--out", str(out),
                                 "--user", "admin@test.nl"])
    assert result.exit_code == 3, result.output
    assert "1 line(s) claimed, 1 excluded" in result.output and "No valid personal AGB code" in result.output
    assert load_workbook(out).sheetnames == ["Declaratie", "Samenvatting", "Uitgesloten"]
    with app.app_context():
        assert db.session.scalar(select(ClaimBatch)).status == "exported"
        exports = db.session.scalars(select(AccessLog).where(AccessLog.action == "export"))
        assert {e.user_email for e in exports} == {"admin@test.nl"}

    result = runner.invoke(args=["claims", "export", "--insurer", "Menzis", "--period", "2026-10", "--out", str(out)])
    assert result.exit_code == 2 and "No insurer named “Menzis”" in result.output
    result = runner.invoke(args=["claims", "export", "--insurer", "3311", "--period", "13-2026", "--out", str(out)])
    assert result.exit_code == 2 and "not a month" in result.output
    # The month again: no line came since, so the exported batch is written again (the same bytes, still with its
    # exclusion), and no new batch is made of the excluded line.
    first = hashlib.sha256(out.read_bytes()).hexdigest()
    again = tmp_path / "again.xlsx"
    result = runner.invoke(args=["claims", "export", "--insurer", "3311", "--period", "2026-10", "--out", str(again)])
    assert result.exit_code == 3, result.output
    assert "exported before: the same workbook again" in result.output and "does not exist" not in result.output
    assert hashlib.sha256(again.read_bytes()).hexdigest() == first
    result = runner.invoke(args=["claims", "export", "--insurer", "3311", "--period", "2026-09", "--out", str(out)])
    assert result.exit_code == 1 and "Nothing to claim" in result.output
    with app.app_context():
        assert len(db.session.scalars(select(ClaimBatch)).all()) == 1


def test_cli_export_twice_writes_the_same_bytes(app, clinic, tmp_path):
    with app.app_context():
        clinic.line(clinic.patient("Bakker"))
        clinic.line(clinic.patient("Smit"))
    runner = app.test_cli_runner()
    outs = [tmp_path / "first.xlsx", tmp_path / "second.xlsx"]
    results = [runner.invoke(args=["claims", "export", "--insurer", "3311", "--period", "2026-10", "--out", str(o)])
               for o in outs]
    assert [r.exit_code for r in results] == [0, 0], [r.output for r in results]
    assert "2 line(s) claimed, 0 excluded." in results[0].output
    assert "exported before: the same workbook again" in results[1].output
    digests = {hashlib.sha256(o.read_bytes()).hexdigest() for o in outs}
    assert len(digests) == 1
    with app.app_context():
        batch = db.session.scalar(select(ClaimBatch))
        assert db.session.scalar(select(func.count()).select_from(ClaimBatch)) == 1
        assert batch.status == "exported" and batch.file_sha256 in digests
    # A line that comes later makes a new batch of its own.
    with app.app_context():
        clinic.line(clinic.patient("Later"))
    third = tmp_path / "third.xlsx"
    result = runner.invoke(args=["claims", "export", "--insurer", "3311", "--period", "2026-10", "--out", str(third)])
    assert result.exit_code == 0 and "1 line(s) claimed, 0 excluded." in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ClaimBatch)) == 2


def test_cli_export_of_a_month_with_only_excluded_lines_writes_the_excluded_sheet(app, clinic, tmp_path):
    with app.app_context():
        other = clinic.therapist("Bas Visser", "90054321")
        clinic.line(clinic.patient("Visser"), therapist_id=other)
        clinic.line(clinic.patient("Vos"), therapist_id=other)
        db.session.get(Therapist, other).agb_code = ""
        db.session.commit()
    out = tmp_path / "zk.xlsx"
    runner = app.test_cli_runner()
    result = runner.invoke(args=["claims", "export", "--insurer", "3311", "--period", "2026-10", "--out", str(out)])
    assert result.exit_code == 3, result.output
    assert "no line can be claimed; all 2 line(s) excluded" in result.output
    assert "sheet Uitgesloten" in result.output and result.output.count("excluded: invoice") == 2
    book = load_workbook(out)
    assert book.sheetnames == ["Declaratie", "Samenvatting", "Uitgesloten"]
    assert book["Declaratie"].max_row == 1  # the header only: nothing is claimed
    excluded = list(book["Uitgesloten"].iter_rows(min_row=2, values_only=True))
    assert len(excluded) == 2 and all("missing_agb" in r[6] for r in excluded)
    assert all("AGB" in r[7] for r in excluded)  # the reasons, in Dutch
    with app.app_context():
        batch = db.session.scalar(select(ClaimBatch))
        assert batch.status == "draft" and batch.file_sha256 is None  # nothing frozen, nothing sent
        assert db.session.scalar(select(func.count()).select_from(AccessLog).where(AccessLog.action == "export")) == 2
    # Again: the same draft is used, not a new batch.
    result = runner.invoke(args=["claims", "export", "--insurer", "3311", "--period", "2026-10", "--out", str(out)])
    assert result.exit_code == 3
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ClaimBatch)) == 1


def test_cli_import_remittance_previews_then_applies(app, clinic, tmp_path):
    with app.app_context():
        batch_id, refs = _submitted_batch(clinic)
        number = db.session.get(ClaimBatch, batch_id).number
    reply = tmp_path / "reply.csv"
    reply.write_bytes(csv_bytes([(refs[0], "50,00", "", ""), (refs[1], "0", "V12", "Niet verzekerd")]))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["claims", "import-remittance", "--insurer", "zilveren kruis", str(reply)])
    assert result.exit_code == 0, result.output
    assert "2 matched" in result.output and "Preview only" in result.output
    with app.app_context():
        assert {line.status for line in db.session.scalars(select(ClaimLine))} == {"pending"}
    result = runner.invoke(args=["claims", "import-remittance", "--insurer", "3311", str(reply), "--apply"])
    assert result.exit_code == 0, result.output
    assert f"Applied 2 outcome(s), EUR 50,00 paid. Closed: {number}." in result.output

    odd = tmp_path / "odd.csv"
    odd.write_bytes(csv_bytes([(refs[0], "50,00")], headers=["Ref", "Euro"]))
    result = runner.invoke(args=["claims", "import-remittance", "--insurer", "3311", str(odd)])
    assert result.exit_code == 1 and "The file's columns: Ref, Euro" in result.output
    result = runner.invoke(args=["claims", "import-remittance", "--insurer", "3311", str(odd),
                                 "--column", "reference=Ref", "--column", "paid=Euro"])
    assert result.exit_code == 0 and "1 already recorded" in result.output
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"not a workbook")
    result = runner.invoke(args=["claims", "import-remittance", "--insurer", "3311", str(bad), "--apply"])
    assert result.exit_code == 1 and "not a readable .xlsx workbook" in result.output


def test_the_cli_wrapper_rolls_back_when_a_command_fails_after_writing(app, clinic, tmp_path, monkeypatch):
    """`claims import-remittance --apply` is one unit of work: when applying fails after the upload was stored
    and the outcomes were flushed, nothing of it is kept (no import row, no outcome, no access-log entry)."""
    from backoffice.claims import remittance

    with app.app_context():
        batch_id, refs = _submitted_batch(clinic)
        logged = db.session.scalar(select(func.count(AccessLog.id)))
    real_apply = remittance.apply
    flushed = []

    def apply_then_fail(imported, user=None):
        real_apply(imported, user)
        flushed.append(db.session.scalar(select(func.count(ClaimLine.id)).where(ClaimLine.status == "paid")))
        raise remittance.RemittanceError("The disk is full.")

    monkeypatch.setattr(remittance, "apply", apply_then_fail)
    reply = tmp_path / "reply.csv"
    reply.write_bytes(csv_bytes([(refs[0], "50,00", "", "")]))
    result = app.test_cli_runner().invoke(args=["claims", "import-remittance", "--insurer", "3311", str(reply),
                                                "--apply"])
    assert result.exit_code == 1 and "The disk is full." in result.output
    assert flushed == [1]  # the outcome was written to the transaction before the failure
    with app.app_context():
        assert db.session.scalars(select(RemittanceImport)).all() == []
        assert {line.status for line in db.session.scalars(select(ClaimLine).where(ClaimLine.batch_id == batch_id))} \
            == {"pending"}
        assert db.session.scalar(select(func.count(AccessLog.id))) == logged


def test_a_refused_web_action_stores_nothing_it_flushed(app, clinic, client, as_role, monkeypatch):
    """The unit of work of a request: a service that flushes and then refuses leaves nothing behind; the error
    handler answers the form post with the message, back on the page the form was on."""
    with app.app_context():
        batch_id, _good, _bad = _batch_with_an_exclusion(clinic)
    real_cancel = claim_batches.cancel_batch

    def cancel_then_refuse(batch, user=None):
        real_cancel(batch, user)
        assert db.session.get(ClaimBatch, batch.id).status == "cancelled"  # flushed
        raise ClaimError("Refused after flushing.")

    monkeypatch.setattr(claim_batches, "cancel_batch", cancel_then_refuse)
    client = as_role("admin")
    page = f"http://localhost/claims/{batch_id}"
    response = post_form(client, f"/claims/{batch_id}/cancel", {}, token_from=f"/claims/{batch_id}",
                         headers={"Referer": page})
    assert response.status_code == 302 and response.headers["Location"] == page
    assert "Refused after flushing." in client.get(page).get_data(as_text=True)
    with app.app_context():
        assert db.session.get(ClaimBatch, batch_id).status == "draft"
        assert all(line.live for line in db.session.scalars(select(ClaimLine).where(
            ClaimLine.batch_id == batch_id, ClaimLine.included)))
