"""Random Unicode into every identifier check and every form field that uses one (issue 12, part 6).

Python's str.isdigit() and int() take digits of every script: full-width １, Arabic-Indic ١, Devanagari १, and
isdigit() also superscript ¹ and circled ① (on which int() then raises). A number field takes the digits 0-9
only: anything else gets a message, never a 500, and a BSN written in other digits never stores a second patient
with the same BSN.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

import pytest
from conftest import csrf_token, make_test_app
from flask_babel import gettext
from flask_wtf import FlaskForm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from backoffice import crypto
from backoffice.domain.texts import Text
from backoffice.domain.validators import (
    agb_error,
    bsn_error,
    foreign_digits,
    foreign_digits_error,
    holds_nine_digit_number,
    iban_error,
    kvk_error,
    normalise_bsn,
    normalise_postcode,
    postcode_error,
    uzovi_error,
    vat_id_error,
)
from backoffice.extensions import db
from backoffice.fields import DecimalNLField, DutchDateField, MoneyField, MonthField
from backoffice.models import Insurance, Insurer, Patient, Practice, Referral, Therapist

DIGITS_ONLY = "Use the digits 0-9 only."
PATIENT_BORN = date(1991, 4, 12)
CHECKS = [bsn_error, agb_error, uzovi_error, kvk_error, postcode_error, vat_id_error, iban_error, foreign_digits_error]
# Values each check accepts, written with at least one digit 0-9.
VALID = {
    bsn_error: ["111222333", "111 222 333", "1112.22.333", "12345672", "123456782"],
    agb_error: ["90012345", "0101 2345"],
    uzovi_error: ["3311", " 9664 "],
    kvk_error: ["81734562", "8173 4562"],
    postcode_error: ["1234 AB", "3511az", "NL-1015 EA"],
    vat_id_error: ["NL111222333B01", "NL000099998B57", "nl 862417399 b01"],
    iban_error: ["NL91ABNA0417164300", "NL91 ABNA 0417 1643 00", "DE89370400440532013000", "BE31435411161155"],
    foreign_digits_error: ["ZK-778899", "polis 12"],
}

# Digits other than 0-9. Decimal digits (Nd) come in runs of ten from their zero, so each has a look-alike of a
# given value; superscripts, circled and Roman numerals, fractions and CJK numbers are other numeric characters.
DECIMAL_DIGITS = st.characters(categories=("Nd",)).filter(lambda ch: not ch.isascii())
NUMERIC = st.characters(categories=("Nd", "No", "Nl")).filter(lambda ch: not ch.isascii())
# Text that looks like the numbers the checks take: ASCII digits, letters and separators mixed with other digits
# and any character a browser can send (a lone surrogate cannot be encoded in a request).
NUMBERISH = st.text(st.one_of(st.sampled_from("0123456789 .-ABNLSZabnlsz"), NUMERIC,
                              st.characters(exclude_categories=("Cs",))), max_size=30)
ANY_TEXT = st.one_of(st.text(), NUMBERISH)


def same_digit(ascii_digit: str, other: str) -> str:
    """The digit of `other`'s script with the value of `ascii_digit`: ('3', '٧') -> '٣'."""
    return chr(ord(other) - unicodedata.digit(other) + int(ascii_digit))


@st.composite
def with_foreign_digit(draw, valid: list[str]) -> str:
    """A valid value with one of its digits written in another script (same value) or as another numeric sign."""
    value = draw(st.sampled_from(valid))
    where = draw(st.sampled_from([i for i, ch in enumerate(value) if ch in "0123456789"]))
    other = draw(st.one_of(DECIMAL_DIGITS.map(lambda ch: same_digit(value[where], ch)), NUMERIC))
    return value[:where] + other + value[where + 1:]


@st.composite
def bsn_in_other_digits(draw, bsn: str) -> str:
    """The BSN with some of its digits (at least one) in another script, same values, maybe with separators."""
    script = draw(DECIMAL_DIGITS)
    foreign = draw(st.lists(st.booleans(), min_size=len(bsn), max_size=len(bsn)).filter(any))
    digits = [same_digit(d, script) if other else d for d, other in zip(bsn, foreign, strict=True)]
    separator = draw(st.sampled_from(["", " ", ".", "-", "\u00a0", "\u3000"]))
    return separator.join(["".join(digits[:4]), "".join(digits[4:6]), "".join(digits[6:])])  # 1112 22 333


# ---- the checks themselves -----------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT | st.text(st.characters()))  # the checks themselves take lone surrogates too
def test_every_check_answers_any_text_with_a_message_or_none(text):
    for check in CHECKS:
        answer = check(text)
        assert answer is None or isinstance(answer, Text)
        if foreign_digits(text):
            assert str(answer) == DIGITS_ONLY, (check.__name__, text)
        elif answer is None and check is not foreign_digits_error:
            assert "".join(text.split()).isascii(), (check.__name__, text)
    if bsn_error(text) is None:
        assert re.fullmatch(r"[0-9]{9}", normalise_bsn(text), re.ASCII)
        assert bsn_error(normalise_bsn(text)) is None
    if postcode_error(text) is None:
        assert re.fullmatch(r"[1-9][0-9]{3} [A-Z]{2}", normalise_postcode(text), re.ASCII)


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_the_valid_examples_are_accepted(check):
    assert [value for value in VALID[check] if check(value) is not None] == []


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_a_valid_value_with_one_digit_of_another_script_is_refused(check, data):
    text = data.draw(with_foreign_digit(VALID[check]))
    assert str(check(text)) == DIGITS_ONLY


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_a_bsn_in_other_digits_is_refused(data):
    written = data.draw(bsn_in_other_digits("111222333"))
    assert str(bsn_error(written)) == DIGITS_ONLY


def test_the_digits_of_other_scripts_are_what_int_reads_as_the_same_number():
    # Why the refusal matters: int() and isdigit() read these as 111222333 (the BSN's blind index would differ).
    assert int("１１１２２２３３３") == int("١١١٢٢٢٣٣٣") == 111222333
    assert "²¹¹".isdigit() and "①".isdigit()
    assert same_digit("3", "٧") == "٣"


# ---- every form field that uses one, through the web UI ------------------------------------------

# Hypothesis runs many examples in one test (one app, one database): the state they leave is part of the property.
APP_SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
_WHOLE_NUMBER = re.compile(r"\s*[+-]?[0-9]+\s*", re.ASCII)
PATIENT = {
    "first_name": "Fleur", "infix": "", "last_name": "Berg", "date_of_birth": "1991-04-12",
    "street": "Keizersgracht 12", "postcode": "1015 CS", "city": "Amsterdam", "phone": "", "email": "",
    "bsn": "111222333", "id_document_type": "id_card", "id_document_number": "IXB12345",
}


def _post(client, url: str, token: str, data: dict):
    response = client.post(url, data={**data, "csrf_token": token})
    assert response.status_code != 500, response.get_data(as_text=True)[:2000]
    if response.status_code == 400:  # request_guards: a NUL byte, or a whole number no column can hold
        assert any("\x00" in value or _WHOLE_NUMBER.fullmatch(value) for value in map(str, data.values())), data
    else:
        assert response.status_code in (302, 422), response.status_code
    return response


def _refused_with(response, message: str, guarded: bool = False) -> None:
    """Refused with this message; `guarded`: a 400 from request_guards (checked by _post) is a refusal too."""
    if guarded and response.status_code == 400:
        return
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)


def _rows(app, model) -> list:
    with app.app_context():
        rows = db.session.scalars(db.select(model)).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def test_a_bsn_in_full_width_digits_never_stores_a_second_patient_with_that_bsn(app, as_role):
    client = as_role("admin")
    token = csrf_token(client, "/patients/new")
    assert _post(client, "/patients/new", token, PATIENT).status_code == 302

    @APP_SETTINGS
    @given(bsn_in_other_digits("111222333"))
    def same_bsn_in_other_digits(written):
        _refused_with(_post(client, "/patients/new", token, {**PATIENT, "first_name": "Other", "bsn": written}),
                      DIGITS_ONLY)

    same_bsn_in_other_digits()
    _refused_with(_post(client, "/patients/new", token, {**PATIENT, "bsn": "１１１２２２３３３"}), DIGITS_ONLY)
    _refused_with(_post(client, "/patients/new", token, {**PATIENT, "bsn": "111 222 333"}),
                  "Another patient already has this BSN.")
    patients = _rows(app, Patient)
    with app.app_context():
        assert len(patients) == 1 and patients[0].bsn_index == crypto.blind_index("111222333")


def test_the_patient_service_refuses_a_bsn_the_form_would_refuse(app):
    from backoffice.patients.services import InvalidBsn, PatientInput, create_patient

    with app.app_context():
        create_patient(PatientInput(first_name="Fleur", last_name="Berg", date_of_birth=PATIENT_BORN,
                                    bsn="111222333"))
        db.session.commit()
        for written in ("１１１２２２３３３", "١١١٢٢٢٣٣٣", "²¹¹²²²³³³", "123456789"):
            with pytest.raises(InvalidBsn):
                create_patient(PatientInput(first_name="Other", last_name="Berg", date_of_birth=PATIENT_BORN,
                                            bsn=written))
            db.session.rollback()
        assert db.session.scalar(db.select(db.func.count()).select_from(Patient)) == 1


def test_superscript_and_circled_digits_in_a_bsn_are_refused_on_the_patient_form_and_in_search(app, as_role):
    client = as_role("admin")
    token = csrf_token(client, "/patients/new")
    for written in ("²¹¹²²²³³³", "①①①②②②③③③", "١١١٢٢٢٣٣٣"):
        _refused_with(_post(client, "/patients/new", token, {**PATIENT, "bsn": written}), DIGITS_ONLY)
        # Nine digits in any script (NFKC reads ² and ① as digits): perhaps a BSN, so a GET search refuses them.
        refused = client.get("/patients/", query_string={"q": written})
        assert refused.status_code == 303 and refused.headers["Location"] == "/patients/"
    assert _rows(app, Patient) == []


def test_random_bsn_and_postcode_on_the_patient_forms(app, as_role):
    client = as_role("admin")
    token = csrf_token(client, "/patients/new")

    @APP_SETTINGS
    @given(ANY_TEXT | with_foreign_digit(VALID[bsn_error]), ANY_TEXT | with_foreign_digit(VALID[postcode_error]))
    def patient_form(bsn, postcode):
        response = _post(client, "/patients/new", token, {**PATIENT, "bsn": bsn, "postcode": postcode})
        if foreign_digits(bsn) or foreign_digits(postcode):
            _refused_with(response, DIGITS_ONLY, guarded=True)

    patient_form()
    for patient in _rows(app, Patient):
        assert re.fullmatch(r"[1-9][0-9]{3} [A-Z]{2}", patient.postcode, re.ASCII)
        assert patient.bsn_last3 is None or re.fullmatch(r"[0-9]{3}", patient.bsn_last3, re.ASCII)
    indexes = [patient.bsn_index for patient in _rows(app, Patient) if patient.bsn_index]
    assert len(indexes) == len(set(indexes))


def test_a_date_of_birth_in_other_digits_is_refused(app, as_role):
    client = as_role("admin")
    token = csrf_token(client, "/patients/new")
    for written in ("１２-０４-１９９１", "12-04-199١", "¹²-04-1991"):
        # The field's "digits 0-9" message gives way to the required date's own (DataRequired clears it).
        _refused_with(_post(client, "/patients/new", token, {**PATIENT, "date_of_birth": written}),
                      "Enter a valid date.")
    assert _rows(app, Patient) == []


@pytest.fixture(scope="module")
def form_app():
    """An app for a request context only: the fields need no database."""
    return make_test_app("sqlite")


class NumbersForm(FlaskForm):
    amount = MoneyField()
    fluence = DecimalNLField()
    day = DutchDateField()
    month = MonthField()


@settings(max_examples=100, deadline=None)
@given(st.fixed_dictionaries({name: ANY_TEXT | with_foreign_digit(examples) for name, examples in {
    "amount": ["199,50", "1.234,56", "€ 12,5"], "fluence": ["12,5", "3"], "day": ["24-11-2026", "2026-11-24"],
    "month": ["11-2026", "2026-11", "november 2026"]}.items()}))
def test_money_decimal_date_and_month_fields_take_the_digits_0_9_only(form_app, values):
    with form_app.test_request_context("/", method="POST"):
        form = NumbersForm(formdata=MultiDict(values), meta={"csrf": False})
        form.validate()
        for name, text in values.items():
            field = form[name]
            if foreign_digits(text):
                # In a request the message is in the interface language (Dutch by default).
                assert field.errors == [gettext(DIGITS_ONLY)] and field.data is None, (name, text)
            elif field.data is not None:
                assert "".join(text.split()).isascii(), (name, text)


def test_random_words_in_the_patient_search(app, as_role):
    client = as_role("admin")

    @APP_SETTINGS
    @given(ANY_TEXT | with_foreign_digit(VALID[bsn_error]))
    def search(words):
        response = client.get("/patients/", query_string={"q": words})
        # A nine-digit number (perhaps a BSN) is refused before the search: sent back without it (303).
        assert response.status_code == (400 if "\x00" in words else 303 if holds_nine_digit_number(words) else 200)

    search()


def test_random_policy_numbers_on_the_insurance_form(app, as_role):
    client = as_role("admin")
    with app.app_context():
        patient = Patient(first_name="Fleur", last_name="Berg", date_of_birth=PATIENT_BORN)
        insurer = Insurer(name="Zilveren Kruis", uzovi="3311")
        db.session.add_all([patient, insurer])
        db.session.commit()
        url, insurer_id = f"/patients/{patient.id}/insurances/new", insurer.id
    token = csrf_token(client, url)

    @APP_SETTINGS
    @given(ANY_TEXT | with_foreign_digit(VALID[foreign_digits_error]))
    def insurance_form(policy_number):
        response = _post(client, url, token, {"insurer_id": insurer_id, "package_id": "",
                                              "policy_number": policy_number, "valid_from": "2026-01-01"})
        if foreign_digits(policy_number):
            _refused_with(response, DIGITS_ONLY, guarded=True)

    insurance_form()
    assert [row.policy_number for row in _rows(app, Insurance) if foreign_digits(row.policy_number)] == []


def test_random_identifiers_on_the_practice_form(app, as_role):
    client = as_role("admin")
    token = csrf_token(client, "/practice/edit")
    base = {"name": "Huidtherapie Oudegracht", "street": "", "city": "", "phone": "", "email": "", "website": ""}
    fields = {"postcode": postcode_error, "kvk_number": kvk_error, "vat_id": vat_id_error, "agb_code": agb_error,
              "iban": iban_error}

    @APP_SETTINGS
    @given(st.fixed_dictionaries({name: ANY_TEXT | with_foreign_digit(VALID[check]) for name, check in fields.items()}))
    def practice_form(values):
        response = _post(client, "/practice/edit", token, {**base, **values})
        if any(foreign_digits(value) for value in values.values()):
            _refused_with(response, DIGITS_ONLY, guarded=True)

    practice_form()
    for practice in _rows(app, Practice):
        for name, check in fields.items():
            value = getattr(practice, name)
            assert value == "" or (check(value) is None and value.isascii()), (name, value)


def test_random_agb_codes_on_the_therapist_and_referral_forms(app, as_role):
    client = as_role("admin")
    with app.app_context():
        patient = Patient(first_name="Fleur", last_name="Berg", date_of_birth=PATIENT_BORN)
        db.session.add(patient)
        db.session.commit()
        referral_url = f"/patients/{patient.id}/referrals/new"
    therapist_token, referral_token = csrf_token(client, "/therapists/new"), csrf_token(client, referral_url)

    @APP_SETTINGS
    @given(ANY_TEXT | with_foreign_digit(VALID[agb_error]))
    def agb_fields(agb):
        therapist = _post(client, "/therapists/new", therapist_token,
                          {"name": "Sanne de Vries", "agb_code": agb, "email": "", "active": "y", "user_id": ""})
        referral = _post(client, referral_url, referral_token,
                         {"referrer_type": "gp", "referrer_name": "Dr. A. de Wit", "referrer_agb": agb,
                          "referral_date": "2026-09-01", "diagnosis": "", "valid_until": ""})
        if foreign_digits(agb):
            _refused_with(therapist, DIGITS_ONLY, guarded=True)
            _refused_with(referral, DIGITS_ONLY, guarded=True)

    agb_fields()
    codes = [t.agb_code for t in _rows(app, Therapist)] + [r.referrer_agb for r in _rows(app, Referral)]
    assert [code for code in codes if code and agb_error(code) is not None] == []


def test_random_uzovi_codes_on_the_insurer_form(app, as_role):
    client = as_role("admin")
    token = csrf_token(client, "/insurers/new")

    @APP_SETTINGS
    @given(ANY_TEXT | with_foreign_digit(VALID[uzovi_error]))
    def insurer_form(uzovi):
        response = _post(client, "/insurers/new", token, {"name": "Zilveren Kruis", "uzovi": uzovi,
                                                          "claim_address": "", "claim_email": "", "active": "y"})
        if foreign_digits(uzovi):
            _refused_with(response, DIGITS_ONLY, guarded=True)

    insurer_form()
    assert [i.uzovi for i in _rows(app, Insurer) if uzovi_error(i.uzovi) is not None] == []
