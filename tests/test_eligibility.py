"""One eligibility truth (backoffice/domain/eligibility.py): the assessment, the declaration and the claim check
agree on whether a therapist's line may be claimed, and name what is missing and since when.

The property test draws random therapists, credential histories (at recording time and as recorded now) and
insurer rules, and checks that a declaration never shows an expected reimbursement for a line the claim check
would exclude. Pure: no database (only the catalogue check uses the app).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backoffice.domain import eligibility
from backoffice.domain.claims import ClaimLineFacts, PolicyFacts, TherapistOnDate, validate_line
from backoffice.domain.coverage import InsuranceFacts, PolicyRule, TherapistFacts, TreatmentFacts, assess
from backoffice.domain.credentials import KpLevel, KpRegistration, NvhMembership
from backoffice.domain.eligibility import declaration_line, eligibility_on
from backoffice.domain.indications import BodyArea, Category, Indication, Technique

D = Decimal
KW, DIPLOMA = KpLevel.KWALITEITSREGISTER, KpLevel.DIPLOMAREGISTER
DAY = date(2026, 12, 3)
NVH = (NvhMembership("NVH-5120", date(2019, 9, 1)),)
KP_ENDED = (KpRegistration("KP-20431", KW, date(2021, 12, 1), date(2026, 11, 30)),)


def english(texts) -> list[str]:
    return [eligibility.english(text) for text in texts]


def dutch(texts) -> list[str]:
    return [eligibility.dutch(text) for text in texts]


# ---- what is missing, and since when --------------------------------------------------------------------


def test_a_lapsed_kp_with_a_valid_nvh_membership_names_only_the_kp_and_its_end_date():
    answer = eligibility_on(DAY, NVH, KP_ENDED)
    assert not answer.eligible and answer.nvh == NVH[0] and answer.kp is None
    assert english(answer.missing) == ["KP registration ended on 30-11-2026"]
    assert dutch(answer.missing) == ["KP-registratie verlopen op 30-11-2026"]
    assert english(answer.in_order) == ["NVH member (no. NVH-5120) on 03-12-2026."]


def test_the_claim_check_says_the_same_instead_of_not_an_nvh_member():
    therapist = TherapistOnDate.from_credentials("Eva Jansen", "90012345", DAY, NVH, KP_ENDED)
    [reason] = validate_line(_claim_line(therapist, D("60.00")), claim_date=DAY + timedelta(days=10))
    assert reason.code == "therapist_not_eligible"
    assert reason.nl == "Eva Jansen: KP-registratie verlopen op 30-11-2026."
    assert reason.en == "Eva Jansen: KP registration ended on 30-11-2026."
    assert "NVH" not in reason.nl


@pytest.mark.parametrize(("memberships", "registrations", "level", "english_missing", "dutch_missing"), [
    pytest.param(NVH, (KpRegistration("KP-1", DIPLOMA, date(2025, 7, 1), date(2030, 6, 30)),), None,
                 ["diplomaregister only; this insurer requires the kwaliteitsregister"],
                 ["alleen diplomaregister; deze verzekeraar eist kwaliteitsregister"], id="diploma-only"),
    pytest.param(NVH, (KpRegistration("KP-1", KW, date(2020, 1, 1), date(2026, 10, 31)),
                       KpRegistration("KP-1", DIPLOMA, date(2026, 11, 1), date(2031, 10, 31))), KW,
                 ["KP kwaliteitsregister ended on 31-10-2026; since then diplomaregister only, and this insurer "
                  "requires the kwaliteitsregister"],
                 ["KP-kwaliteitsregister verlopen op 31-10-2026; sindsdien alleen diplomaregister, en deze "
                  "verzekeraar eist kwaliteitsregister"], id="dropped-to-diploma"),
    pytest.param((NvhMembership("NVH-1", date(2019, 1, 1), date(2026, 6, 30)),),
                 (KpRegistration("KP-1", KW, date(2020, 1, 1), date(2030, 1, 1)),), None,
                 ["NVH membership ended on 30-06-2026"], ["NVH-lidmaatschap beëindigd op 30-06-2026"],
                 id="nvh-ended"),
    pytest.param((NvhMembership("NVH-1", date(2027, 1, 1)),), (), None,
                 ["NVH membership only from 01-01-2027", "no KP registration recorded"],
                 ["NVH-lidmaatschap pas vanaf 01-01-2027", "geen KP-registratie vastgelegd"], id="nothing-yet"),
    pytest.param((), (KpRegistration("KP-1", KW, date(2027, 1, 1), date(2031, 1, 1)),), None,
                 ["no NVH membership recorded", "KP registration only from 01-01-2027"],
                 ["geen NVH-lidmaatschap vastgelegd", "KP-registratie pas vanaf 01-01-2027"], id="kp-later"),
])
def test_each_missing_credential_is_named(memberships, registrations, level, english_missing, dutch_missing):
    answer = eligibility_on(DAY, memberships, registrations, level)
    assert not answer.eligible
    assert english(answer.missing) == english_missing
    assert dutch(answer.missing) == dutch_missing


def test_a_rule_naming_the_diplomaregister_accepts_either_level_and_none_means_kwaliteitsregister():
    diploma = (KpRegistration("KP-1", DIPLOMA, date(2025, 7, 1), date(2030, 6, 30)),)
    assert eligibility_on(DAY, NVH, diploma, DIPLOMA).eligible
    assert english(eligibility_on(DAY, NVH, diploma, DIPLOMA).in_order)[1] == \
        "KP diplomaregister (no. KP-1) on 03-12-2026."
    assert not eligibility_on(DAY, NVH, diploma, None).eligible
    assert not eligibility_on(DAY, NVH, diploma, "kwaliteitsregister").eligible
    assert eligibility_on(DAY, NVH, (KpRegistration("KP-1", KW, DAY, DAY),), None).eligible  # first = last day


def test_a_declaration_line_is_left_out_with_the_reasons_or_declared_with_its_amount():
    left_out = declaration_line(D("60.00"), eligibility_on(DAY, NVH, KP_ENDED))
    assert (left_out.declared, left_out.expected) == (False, D("0.00"))
    assert english(left_out.reasons) == ["KP registration ended on 30-11-2026"]
    kp = (KpRegistration("KP-1", KW, date(2021, 1, 1), date(2030, 1, 1)),)
    declared = declaration_line(D("60.00"), eligibility_on(DAY, NVH, kp))
    assert (declared.declared, declared.expected, declared.reasons) == (True, D("60.00"), ())
    bad_agb = declaration_line(D("60.00"), eligibility_on(DAY, NVH, kp), eligibility.agb_reason("Eva", "123"))
    assert not bad_agb.declared and english(bad_agb.reasons) == ["no valid personal AGB code of Eva"]


def test_the_dutch_words_of_the_domain_are_the_catalogue_translations(app):
    from flask_babel import gettext

    from backoffice.i18n import dutch as in_dutch

    with app.test_request_context(), in_dutch():
        assert {message: gettext(message) for message in eligibility.DUTCH} == eligibility.DUTCH


# ---- the property: never promised what the claim check excludes ----------------------------------------

treatment_days = st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31))
levels = st.sampled_from([KW, DIPLOMA])


@st.composite
def period(draw, day: date) -> tuple[date, date]:
    """A period around the treatment day, often starting or ending within a few weeks of it (lapses, renewals)."""
    start = day - timedelta(days=draw(st.integers(-30, 2000)))
    end = day + timedelta(days=draw(st.one_of(st.integers(-60, 60), st.just(3000))))
    return start, max(start, end)


@st.composite
def history(draw, day: date):
    memberships = []
    for number in range(draw(st.integers(0, 2))):
        start, end = draw(period(day))
        memberships.append(NvhMembership(f"NVH-{number}", start, None if draw(st.booleans()) else end))
    registrations = [KpRegistration("KP-7", draw(levels), *draw(period(day)))
                     for _ in range(draw(st.integers(0, 3)))]
    return tuple(memberships), tuple(registrations)


@st.composite
def cases(draw):
    """A treatment day, the history as recorded when the treatment was assessed, and as recorded now: the same,
    edited (a registration cut short or dropped to the diplomaregister, a membership ended: a lapse recorded after
    the assessment), or another one altogether."""
    day = draw(treatment_days)
    then = draw(history(day))
    change = draw(st.sampled_from(["same", "edited", "other"]))
    if change == "same":
        return day, then, then
    if change == "other":
        return day, then, draw(history(day))
    memberships, registrations = list(then[0]), list(then[1])
    cut = day - timedelta(days=draw(st.integers(1, 60)))
    if registrations and draw(st.booleans()):
        i = draw(st.integers(0, len(registrations) - 1))
        old = registrations[i]
        registrations[i] = (KpRegistration(old.kp_number, DIPLOMA, old.period_start, old.period_end)
                            if draw(st.booleans()) else
                            KpRegistration(old.kp_number, old.level, min(old.period_start, cut), cut))
    elif memberships:
        i = draw(st.integers(0, len(memberships) - 1))
        memberships[i] = NvhMembership(memberships[i].number, min(memberships[i].valid_from, cut), cut)
    return day, then, (tuple(memberships), tuple(registrations))


INSURANCE = InsuranceFacts(1, "Zilveren Kruis", "3311", 1, "Aanvullend", "ZK-1", date(2020, 1, 1), None)


def _claim_line(therapist: TherapistOnDate, expected: Decimal, day: date = DAY) -> ClaimLineFacts:
    """A line valid in every respect but the therapist's (policy, practice AGB, referral, deadline...)."""
    return ClaimLineFacts(
        line_id=1, patient_id=1, patient_name="Anna de Vries", date_of_birth=date(1990, 5, 17), treatment_date=day,
        indication=Indication.ACNE, description="Acnebehandeling", prestatiecode="1234", therapist=therapist,
        practice_agb="90001234", insurer_name="Zilveren Kruis", uzovi="3311",
        policy=PolicyFacts("ZK-1", date(2020, 1, 1)), amount=D("85.00"), expected_reimbursement=expected,
        invoice_number="2026-00001",
    )


@settings(max_examples=200, deadline=None)
@given(case=cases(), rule_level=st.one_of(st.none(), levels),
       percentage=st.sampled_from([D("0"), D("50"), D("80"), D("100")]),
       agb=st.sampled_from(["90012345", "9001234", ""]), price=st.sampled_from([D("85.00"), D("0.00"), D("60.00")]))
def test_a_declaration_never_promises_what_the_claim_check_excludes(case, rule_level, percentage, agb, price):
    day, (nvh_then, kp_then), (nvh_now, kp_now) = case
    rule = PolicyRule(id=1, insurer_id=1, package_id=None, year=day.year, label="Huidtherapie",
                      categories=frozenset({Category.ACNE}), percentage=percentage, kp_level_required=rule_level)
    treatment = TreatmentFacts(day=day, indication=Indication.ACNE, body_area=BodyArea.FACE,
                               technique=Technique.FRACTIONAL_LASER, price=price)
    assessment = assess(treatment, TherapistFacts("Eva Jansen", agb, nvh_then, kp_then), INSURANCE, [rule], {})
    stored = assessment.insurer_amount  # frozen on the invoice line

    # The declaration, printed now, and the claim check, run now, both on the history as recorded now.
    shown = declaration_line(stored, eligibility_on(day, nvh_now, kp_now, rule_level),
                             eligibility.agb_reason("Eva Jansen", agb))
    therapist = TherapistOnDate.from_credentials("Eva Jansen", agb, day, nvh_now, kp_now, rule_level)
    excluded = validate_line(_claim_line(therapist, stored, day), claim_date=day + timedelta(days=30))

    if shown.declared and shown.expected > 0:
        assert excluded == [], (shown, excluded)
    if not excluded:
        assert shown.declared and shown.expected == stored
    if not shown.declared:
        assert shown.expected == 0 and shown.reasons
        assert {r.code for r in excluded} & {"therapist_not_eligible", "missing_agb"}

    # With one history, the assessment itself never promises what the claim check excludes, and vice versa.
    if (nvh_then, kp_then) == (nvh_now, kp_now):
        therapist_codes = {r.code for r in excluded} & {"therapist_not_eligible", "missing_agb"}
        assert assessment.reimbursable == (not therapist_codes), (assessment.reasons, excluded)
