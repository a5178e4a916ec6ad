"""Issue 10 on the claim and insurer pages: Dutch for a Dutch user, reasons as sentences (never the internal
code), months typed as people write them, confirmations before irreversible steps, Dutch amounts stored to the
cent (and an ambiguous one refused), rules ended or withdrawn instead of deleted, and no sideways scrolling."""

from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal

import factories
import pytest
from conftest import create_user, csrf_token, login, post_form
from sqlalchemy import select
from test_claims import ClaimClinic, claim_line
from test_remittance import csv_bytes, xlsx

from backoffice.claims import batches as claim_batches
from backoffice.claims import export as claim_export
from backoffice.claims.outcomes import record_line_outcome
from backoffice.domain.claim_reasons import Reason, ReasonCode, insurer_reason, stored_reason
from backoffice.extensions import db
from backoffice.models import ClaimBatch, ClaimLine, CoverageRule, Insurer, PatientClaim, RemittanceImport, Therapist
from backoffice.treatments.services import rules_for

NL_EMAIL, EN_EMAIL = "lotte@test.nl", "emma@test.nl"


@pytest.fixture
def clinic(app, tmp_path):
    app.config["CLAIMS_DIR"] = str(tmp_path / "claims")
    create_user(app, NL_EMAIL, "admin", language="nl")
    create_user(app, EN_EMAIL, "admin", language="en")
    with app.app_context():
        return ClaimClinic()


def sign_in(client, email: str):
    assert login(client, email).status_code == 302
    return client


def visible_text(html: str) -> str:
    """What a reader sees: the page without tags (and so without attribute values) and without scripts."""
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def _batch_with_an_exclusion(clinic) -> tuple[int, int, int]:
    good = clinic.line(clinic.patient("Bakker"))
    other = clinic.therapist("Bas Visser", "90054321")
    bad = clinic.line(clinic.patient("Visser"), therapist_id=other)
    db.session.get(Therapist, other).agb_code = ""
    db.session.commit()
    return clinic.batch().id, good, bad


def _submitted(clinic, count: int = 1, price: str = "300.00") -> tuple[int, list[str]]:
    patient = clinic.patient()
    for i in range(count):
        clinic.line(patient, day=date(2026, 10, 2 + i), price=price)
    batch = clinic.batch()
    claim_export.export_batch(batch, clinic.user)
    claim_batches.mark_submitted(batch, clinic.user)
    db.session.commit()
    return batch.id, [line.claim_reference for line in batch.lines]


# ---- Dutch pages, reasons as sentences ------------------------------------------------------------------------


def test_the_batch_page_is_dutch_for_a_dutch_user_with_reasons_as_sentences(app, clinic, client):
    with app.app_context():
        batch_id, _good, bad = _batch_with_an_exclusion(clinic)
        assert claim_line(db.session.get(ClaimBatch, batch_id), bad).reasons[0]["code"] == ReasonCode.MISSING_AGB
    sign_in(client, NL_EMAIL)
    html = client.get(f"/claims/{batch_id}").get_data(as_text=True)
    text = visible_text(html)
    assert '<html lang="nl">' in html
    assert "Declaratiebatch 3311-2026-001" in text and "Uitgesloten regels" in text and "Batch annuleren" in text
    assert "concept" in text and 'data-status="draft"' in html          # the status as a word, the code kept aside
    assert "Geen geldige persoonlijke AGB-code van Bas Visser (8 cijfers)." in text
    assert "missing_agb" not in text and "No valid personal AGB code" not in text
    assert "Controlegetal werkboek" in text and "SHA-256" not in text
    for english in ("Excluded lines", "Cancel batch", "Validate again", "Reasons"):
        assert english not in text, english


def test_an_english_user_reads_the_reason_in_english_never_the_code(app, clinic, client):
    with app.app_context():
        batch_id, _good, _bad = _batch_with_an_exclusion(clinic)
    sign_in(client, EN_EMAIL)
    text = visible_text(client.get(f"/claims/{batch_id}").get_data(as_text=True))
    assert "No valid personal AGB code for Bas Visser (8 digits)." in text
    assert "missing_agb" not in text and "Workbook checksum" in text and "draft" in text


def test_an_insurers_own_code_is_a_hint_beside_its_reason(app, clinic, client):
    with app.app_context():
        batch_id, _refs = _submitted(clinic)
        batch = db.session.get(ClaimBatch, batch_id)
        record_line_outcome(batch.lines[0], Decimal(0), "V12", "Niet verzekerd", user=clinic.user)
        db.session.commit()
    sign_in(client, NL_EMAIL)
    text = visible_text(client.get(f"/claims/{batch_id}").get_data(as_text=True))
    assert "Niet verzekerd" in text and "(code V12)" in text and "afgewezen" in text


def test_reasons_default_to_the_readers_language(app):
    reason = Reason(ReasonCode.NO_POLICY, "Geen polis.", "No policy.")
    assert reason.insurer_code == "" and insurer_reason("V12", "Niet verzekerd").insurer_code == "V12"
    assert stored_reason("unspecified", "Afgewezen zonder opgegeven reden.").insurer_code == ""
    assert insurer_reason("", "") is None
    with app.test_request_context():
        from flask_babel import force_locale
        with force_locale("en"):
            assert reason.text() == "No policy." and str(stored_reason("unspecified", "")) == \
                "Rejected without a stated reason."
        with force_locale("nl"):
            assert reason.text() == "Geen polis." and reason.text("en") == "No policy."


@pytest.mark.parametrize("url", ["/claims/", "/claims/outcomes", "/claims/patient-claims", "/claims/settings",
                                 "/claims/new", "/claims/remittances/new", "/insurers/"])
def test_claim_and_insurer_pages_speak_dutch(app, clinic, client, url):
    sign_in(client, NL_EMAIL)
    response = client.get(url)
    assert response.status_code == 200
    text = visible_text(response.get_data(as_text=True))
    for english in ("Claim outcomes", "Insurer settings", "Import remittance", "Patient-submitted claims",
                    "New claim batch", "Claim settings per insurer", "No insurers found", "Build batch"):
        assert english not in text, (url, english)


def test_outcome_statistics_name_the_indication_in_the_readers_language(app, clinic, client):
    with app.app_context():
        _submitted(clinic)
    sign_in(client, NL_EMAIL)
    text = visible_text(client.get("/claims/outcomes").get_data(as_text=True))
    assert "Per zorgverzekeraar en indicatie" in text and "Acne" in text and "praktijk: 1" in text


# ---- the claim month -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["oktober 2026", "10-2026", "2026-10", "October 2026"])
def test_the_claim_month_is_typed_as_people_write_it(app, clinic, client, typed):
    with app.app_context():
        clinic.line(clinic.patient("Bakker"))
    sign_in(client, EN_EMAIL)
    response = post_form(client, "/claims/new", {"insurer_id": clinic.insurer_id, "period": typed})
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        batch = db.session.scalar(select(ClaimBatch))
        assert (batch.period_start, batch.period_end) == (date(2026, 10, 1), date(2026, 10, 31))


def test_the_claim_month_field_is_a_month_picker_shown_the_dutch_way(app, clinic, client):
    sign_in(client, NL_EMAIL)
    html = client.get("/claims/new").get_data(as_text=True)
    field = re.search(r'<input[^>]*name="period"[^>]*>', html).group(0)
    assert 'data-picker="month"' in field and 'type="number"' not in field
    assert re.search(r'value="[a-z]+ 20[0-9]{2}"', field), field   # e.g. value="oktober 2026"
    response = post_form(client, "/claims/new", {"insurer_id": clinic.insurer_id, "period": "dertien 2026"})
    assert response.status_code == 422
    assert "Typ een maand" in response.get_data(as_text=True) or "november 2026" in response.get_data(as_text=True)


# ---- confirmations ---------------------------------------------------------------------------------------------


def _confirm(html: str, action: str) -> str:
    form = re.search(r'<form[^>]*action="' + re.escape(action) + r'"[^>]*>', html)
    assert form, action
    confirm = re.search(r'data-confirm="([^"]+)"', form.group(0))
    assert confirm, form.group(0)
    return confirm.group(1)


def test_export_submit_and_cancel_ask_for_confirmation_saying_what_happens(app, clinic, client):
    with app.app_context():
        batch_id, _good, _bad = _batch_with_an_exclusion(clinic)
    sign_in(client, NL_EMAIL)
    html = client.get(f"/claims/{batch_id}").get_data(as_text=True)
    assert "geannuleerd" in _confirm(html, f"/claims/{batch_id}/cancel")
    assert "vastgezet" in _confirm(html, f"/claims/{batch_id}/export")
    post_form(client, f"/claims/{batch_id}/export", {}, token_from=f"/claims/{batch_id}")
    html = client.get(f"/claims/{batch_id}").get_data(as_text=True)
    assert "niet ongedaan" in _confirm(html, f"/claims/{batch_id}/submit")
    assert "Batch 3311-2026-001 annuleren?" in _confirm(html, f"/claims/{batch_id}/cancel")


def test_applying_a_remittance_asks_for_confirmation(app, clinic, client):
    with app.app_context():
        _batch_id, refs = _submitted(clinic)
    sign_in(client, EN_EMAIL)
    response = post_form(client, "/claims/remittances/new",
                         {"insurer_id": str(clinic.insurer_id), "file": (io.BytesIO(csv_bytes([(refs[0], "300,00",
                                                                                                 "", "")])), "r.csv")},
                         content_type="multipart/form-data")
    with app.app_context():
        import_id = db.session.scalar(select(RemittanceImport.id))
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "cannot be undone" in _confirm(html, f"/claims/remittances/{import_id}/apply")


# ---- amounts typed or read the Dutch way -------------------------------------------------------------------------


def _outcome(client, batch_id: int, line_id: int, **fields):
    token = csrf_token(client, f"/claims/{batch_id}")
    data = {f"line{line_id}-{key}": value for key, value in {**fields, "csrf_token": token}.items()}
    return client.post(f"/claims/lines/{line_id}/outcome", data=data)


def test_a_claim_outcome_takes_a_dutch_amount_and_refuses_an_ambiguous_one(app, clinic, client):
    with app.app_context():
        batch_id, _refs = _submitted(clinic)
        line_id = db.session.get(ClaimBatch, batch_id).lines[0].id
    sign_in(client, EN_EMAIL)
    response = _outcome(client, batch_id, line_id, paid="1.234")
    assert response.status_code == 422 and "is ambiguous" in response.get_data(as_text=True)
    assert _outcome(client, batch_id, line_id, paid="199,50").status_code == 302
    with app.app_context():
        line = db.session.get(ClaimLine, line_id)
        assert (line.paid_cents, line.status) == (19_950, "partly_paid")


def test_a_patient_claim_takes_a_dutch_amount(app, clinic, client):
    with app.app_context():
        line = clinic.line(clinic.patient("Smit"), day=date(2026, 11, 2), price="1500.00")
    sign_in(client, EN_EMAIL)
    url = f"/claims/patient-claims/new?insurer_id={clinic.insurer_id}"
    fields = {"invoice_line_id": str(line), "submitted_on": "05-11-2026", "outcome": "answered"}
    response = post_form(client, url, {**fields, "paid": "1,234"})
    assert response.status_code == 422 and "is ambiguous" in response.get_data(as_text=True)
    assert post_form(client, url, {**fields, "paid": "99,95", "paid_on": "19-11-2026"}).status_code == 302
    with app.app_context():
        assert db.session.scalar(select(PatientClaim.paid_cents)) == 9_995


@pytest.mark.parametrize("make", [csv_bytes, xlsx], ids=["csv", "xlsx"])
def test_remittance_amounts_written_the_dutch_way_are_stored_to_the_cent(app, clinic, client, make):
    with app.app_context():
        db.session.get(CoverageRule, clinic.rule_id).cap_cents = None  # both lines claimed in full
        db.session.commit()
        batch_id, refs = _submitted(clinic, 2, price="1500.00")
    sign_in(client, EN_EMAIL)
    data = make([(refs[0], "199,50", "", ""), (refs[1], "€ 1.234,56", "", "")])
    name = "antwoord.csv" if make is csv_bytes else "antwoord.xlsx"
    response = post_form(client, "/claims/remittances/new",
                         {"insurer_id": str(clinic.insurer_id), "file": (io.BytesIO(data), name)},
                         content_type="multipart/form-data")
    assert response.status_code == 302
    with app.app_context():
        import_id = db.session.scalar(select(RemittanceImport.id))
    post_form(client, f"/claims/remittances/{import_id}/apply", {}, token_from=response.headers["Location"])
    with app.app_context():
        paid = {line.claim_reference: line.paid_cents for line in db.session.scalars(select(ClaimLine))}
        assert paid == {refs[0]: 19_950, refs[1]: 123_456}


def test_an_ambiguous_remittance_amount_refuses_the_file_with_a_message(app, clinic, client):
    with app.app_context():
        _batch_id, refs = _submitted(clinic)
    sign_in(client, NL_EMAIL)
    data = csv_bytes([(refs[0], "1.234", "", "")])
    response = post_form(client, "/claims/remittances/new",
                         {"insurer_id": str(clinic.insurer_id), "file": (io.BytesIO(data), "r.csv")},
                         content_type="multipart/form-data")
    page = visible_text(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "rij 2: “1.234” is dubbelzinnig" in page and "Er is niets verwerkt." in page
    with app.app_context():
        assert {line.paid_cents for line in db.session.scalars(select(ClaimLine))} == {0}


# ---- coverage rules: ended or withdrawn, never deleted when history depends on them ------------------------------


def _rule_setup(app) -> tuple[int, int, int]:
    """An insurer with two 2026 rules; the first was used to assess a treatment. Returns (insurer, used, unused)."""
    with app.app_context():
        insurer = factories.insurer()
        used = factories.coverage_rule(insurer, 2026, label="Acne", cap_cents=30_000, cap_group="zk-acne")
        unused = factories.coverage_rule(insurer, 2026, label="Tweede", cap_cents=10_000, cap_group="zk-2")
        patient = factories.patient("Jansen", date_of_birth=date(1990, 1, 1))
        therapist = factories.therapist("Sanne", "90012345", kp=None, nvh_number=None)
        item = factories.catalogue_item("IPL", "IPL", technique=None, prestatiecode="", price_cents=9000)
        factories.treatment(patient.id, therapist.id, item.id, date(2026, 3, 1), price="90.00", indication="acne",
                            rule=used)
        db.session.commit()
        return insurer.id, used.id, unused.id


def test_a_used_rule_offers_end_or_withdraw_and_an_unused_one_a_confirmed_delete(app, client, users):
    insurer_id, used, unused = _rule_setup(app)
    create_user(app, NL_EMAIL, "admin", language="nl")
    sign_in(client, NL_EMAIL)
    html = client.get(f"/insurers/{insurer_id}").get_data(as_text=True)
    assert f"/rules/{used}/delete" not in html and f"/rules/{used}/retire" in html
    assert "definitief verwijderd" in _confirm(html, f"/insurers/{insurer_id}/rules/{unused}/delete")
    assert "Vergoedingsregels" in visible_text(html) and "Beëindigen of intrekken" in visible_text(html)
    refused = post_form(client, f"/insurers/{insurer_id}/rules/{used}/delete", {},
                        token_from=f"/insurers/{insurer_id}", follow_redirects=True)
    assert "kan niet verwijderd worden" in refused.get_data(as_text=True)
    retire = client.get(f"/insurers/{insurer_id}/rules/{used}/retire").get_data(as_text=True)
    assert "niet ongedaan" in _confirm(retire, f"/insurers/{insurer_id}/rules/{used}/withdraw")
    assert _confirm(retire, f"/insurers/{insurer_id}/rules/{used}/end")


def test_a_withdrawn_rule_is_never_used_again_but_stays_visible(app, client, users):
    insurer_id, used, unused = _rule_setup(app)
    client = sign_in(client, users["admin"])
    with app.app_context():
        assert {rule.id for rule in rules_for(insurer_id, 2026)} == {used, unused}
    url = f"/insurers/{insurer_id}/rules/{used}/withdraw"
    response = post_form(client, url, {"withdraw-reason": ""}, token_from=f"/insurers/{insurer_id}/rules/{used}/retire")
    assert response.status_code == 422 and "Say why the rule is withdrawn." in response.get_data(as_text=True)
    response = post_form(client, url, {"withdraw-reason": "Entered for the wrong insurer"},
                         token_from=f"/insurers/{insurer_id}/rules/{used}/retire")
    assert response.status_code == 302
    with app.app_context():
        rule = db.session.get(CoverageRule, used)
        assert rule.withdrawn and rule.withdrawn_reason == "Entered for the wrong insurer"
        assert rule.withdrawn_by.email == users["admin"]
        assert {r.id for r in rules_for(insurer_id, 2026)} == {unused}     # new assessments never use it
    html = client.get(f"/insurers/{insurer_id}").get_data(as_text=True)
    row = re.search(rf'<tr data-rule="{used}".*?</tr>', html, re.S).group(0)
    assert 'data-testid="rule-withdrawn"' in row and "Entered for the wrong insurer" in row
    assert f"/rules/{used}/edit" not in row                                  # history, not to be changed
    token_page = f"/insurers/{insurer_id}"
    response = post_form(client, f"/insurers/{insurer_id}/rules/{used}/edit",
                         {"package_id": "", "year": "2026", "label": "Again", "categories": ["acne"],
                          "cap_period": "year", "percentage": "100", "waiting_months": "0", "kp_level_required": ""},
                         token_from=token_page)
    assert response.status_code == 422 and "was withdrawn" in response.get_data(as_text=True)


def test_an_ended_rule_is_not_used_after_its_end_date(app, client, users):
    insurer_id, used, unused = _rule_setup(app)
    client = sign_in(client, users["admin"])
    retire = f"/insurers/{insurer_id}/rules/{unused}/retire"
    response = post_form(client, f"/insurers/{insurer_id}/rules/{unused}/end", {"end-ends_on": "30-06-2027"},
                         token_from=retire)
    assert response.status_code == 422 and "ends on a day in 2026" in response.get_data(as_text=True)
    response = post_form(client, f"/insurers/{insurer_id}/rules/{unused}/end", {"end-ends_on": "30-06-2026"},
                         token_from=retire)
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(CoverageRule, unused).ends_on == date(2026, 6, 30)
        assert {r.id for r in rules_for(insurer_id, 2026, date(2026, 6, 30))} == {used, unused}
        assert {r.id for r in rules_for(insurer_id, 2026, date(2026, 7, 1))} == {used}
    assert "ends 30-06-2026" in client.get(f"/insurers/{insurer_id}").get_data(as_text=True)


def test_a_rule_cap_takes_a_dutch_amount_and_refuses_an_ambiguous_one(app, client, users):
    with app.app_context():
        insurer = factories.insurer()
        db.session.commit()
        insurer_id = insurer.id
    client = sign_in(client, users["admin"])
    rule = {"package_id": "", "year": "2026", "label": "Acne", "categories": ["acne"], "cap_period": "year",
            "percentage": "100", "waiting_months": "0", "kp_level_required": ""}
    response = post_form(client, f"/insurers/{insurer_id}/rules/new", {**rule, "cap": "1.234"})
    assert response.status_code == 422 and "is ambiguous" in response.get_data(as_text=True)
    assert post_form(client, f"/insurers/{insurer_id}/rules/new", {**rule, "cap": "1.234,56"}).status_code == 302
    with app.app_context():
        assert db.session.scalar(select(CoverageRule.cap_cents)) == 123_456
        assert db.session.get(Insurer, insurer_id) is not None
    html = client.get(f"/insurers/{insurer_id}/rules/new").get_data(as_text=True)
    assert re.search(r'type="checkbox"\s+name="body_areas"', html) and "<select multiple" not in html


# ---- small screens -----------------------------------------------------------------------------------------------


def test_claim_and_insurer_tables_collapse_to_cards_on_a_phone(app, clinic, client):
    with app.app_context():
        batch_id, _good, _bad = _batch_with_an_exclusion(clinic)
    sign_in(client, NL_EMAIL)
    for url in ("/claims/", f"/claims/{batch_id}", "/claims/settings", "/insurers/",
                f"/insurers/{clinic.insurer_id}"):
        html = client.get(url).get_data(as_text=True)
        for table in re.findall(r"<table[^>]*>.*?</table>", html, re.S):
            opening = table[:table.index(">") + 1]
            assert "table-responsive-cards" in opening, (url, opening)
            cells = re.findall(r"<td[^>]*>", table)
            labelled = [c for c in cells if "data-label" in c or "colspan" in c]
            # Every cell is labelled, except an action column (buttons need no label).
            assert len(labelled) >= len(cells) - table.count("<tr") , (url, cells)


# ---- the workbook for the insurer stays Dutch ----------------------------------------------------------------------


def test_the_claim_row_names_category_and_indication_in_dutch_whoever_exports(app):
    from dataclasses import replace

    from test_domain_claims import line

    from backoffice.domain.claims import claim_row, validate_batch
    from backoffice.domain.indications import Indication, Technique
    from backoffice.i18n import dutch

    facts = replace(line(), indication=Indication.ACNE_SCAR, technique=Technique.FRACTIONAL_LASER.value)
    verdict = validate_batch([facts], claim_date=date(2026, 11, 20)).included[0]
    with app.test_request_context(), dutch():
        row = claim_row(verdict, "3311-2026-001-00001")
    assert (row.category, row.indication) == ("Littekens", "Acnelittekens")
    assert row.technique == "Fractionele laser"


def test_an_english_user_exports_a_dutch_workbook(app, clinic, client):
    from openpyxl import load_workbook

    with app.app_context():
        batch_id, _good, _bad = _batch_with_an_exclusion(clinic)
    sign_in(client, EN_EMAIL)
    post_form(client, f"/claims/{batch_id}/export", {}, token_from=f"/claims/{batch_id}")
    response = client.get(f"/claims/{batch_id}/workbook")
    data = response.data
    response.close()
    workbook = load_workbook(io.BytesIO(data))
    claimed = [[c.value for c in r] for r in workbook["Declaratie"].iter_rows()]
    excluded = [[c.value for c in r] for r in workbook["Uitgesloten"].iter_rows()]
    category = claimed[0].index("Indicatiecategorie")
    assert claimed[1][category] == "Acne"                      # the label, not the stored code
    assert "Geen geldige persoonlijke AGB-code van Bas Visser (8 cijfers)." in excluded[1][-1]
