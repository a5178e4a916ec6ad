"""The assessment of one treatment: classification, VAT, therapist, insurance, matching rule, caps, who pays.

The insurer examples from shared/domain.md are the fixtures (rules are data, not code).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from backoffice.domain.coverage import (
    Assessment,
    CapPeriod,
    InsuranceFacts,
    PolicyRule,
    TherapistFacts,
    TreatmentFacts,
    Usage,
    assess,
    describe_rule,
    matching_rules,
)
from backoffice.domain.credentials import KpLevel, KpRegistration, NvhMembership
from backoffice.domain.indications import INDICATIONS, BodyArea, Category, Indication, Technique
from backoffice.domain.referrals import Referral, ReferrerType
from backoffice.domain.vat import EXEMPTION_GROUND

D = Decimal
KWALITEIT = KpLevel.KWALITEITSREGISTER
DIPLOMA = KpLevel.DIPLOMAREGISTER
FACE, NECK, LEGS = BodyArea.FACE, BodyArea.NECK, BodyArea.LEGS

# ---- insurers, packages and their rules (shared/domain.md) ---------------------------------------

ZK, ONVZ, ANDERZORG, FBTO, CZ = 1, 2, 3, 4, 5
ZK_AANVULLEND, ONVZ_OPTIFIT, ONVZ_TOPFIT, ANDERZORG_EXTRA, FBTO_MODULE, CZ_PLUS = 11, 21, 22, 31, 41, 51

ZK_2025 = PolicyRule(
    id=1, insurer_id=ZK, package_id=None, year=2025, label="Zilveren Kruis huidtherapie 2025",
    categories=frozenset({Category.ACNE, Category.HAIR_REMOVAL}), cap=D("300"), cap_group="zk-2025-huid",
    kp_level_required=KWALITEIT,
)
ONVZ_CAMO_OPTIFIT = PolicyRule(
    id=2, insurer_id=ONVZ, package_id=ONVZ_OPTIFIT, year=2026, label="ONVZ camouflage Optifit",
    categories=frozenset({Category.CAMOUFLAGE}), cap=D("70"), max_sessions=2,
)
ONVZ_CAMO_TOPFIT = PolicyRule(
    id=3, insurer_id=ONVZ, package_id=ONVZ_TOPFIT, year=2026, label="ONVZ camouflage Topfit",
    categories=frozenset({Category.CAMOUFLAGE}), cap=D("120"), max_sessions=2,
)
ONVZ_EPILATION = PolicyRule(
    id=4, insurer_id=ONVZ, package_id=ONVZ_OPTIFIT, year=2026, label="ONVZ epilation Optifit",
    categories=frozenset({Category.HAIR_REMOVAL}), cap=D("450"), cap_period=CapPeriod.LIFETIME,
    cap_group="onvz-epilation", waiting_months=12, body_areas=frozenset({FACE, NECK}),
)
ANDERZORG_2018 = PolicyRule(
    id=5, insurer_id=ANDERZORG, package_id=None, year=2018, label="Anderzorg facial epilation",
    categories=frozenset({Category.HAIR_REMOVAL}), cap=D("500"), cap_period=CapPeriod.LIFETIME,
    cap_group="anderzorg-epilation", percentage=D("80"), body_areas=frozenset({FACE, NECK}),
)
FBTO_ACNE = PolicyRule(
    id=6, insurer_id=FBTO, package_id=None, year=2026, label="FBTO acne",
    categories=frozenset({Category.ACNE}), cap=D("250"), referral_required=True,
)
CZ_HAIR = PolicyRule(
    id=7, insurer_id=CZ, package_id=None, year=2026, label="CZ hair removal",
    categories=frozenset({Category.HAIR_REMOVAL}), technique_required=True,
)
ALL_RULES = (ZK_2025, ONVZ_CAMO_OPTIFIT, ONVZ_CAMO_TOPFIT, ONVZ_EPILATION, ANDERZORG_2018, FBTO_ACNE, CZ_HAIR)


def insurance(insurer_id, package_id, name, package, valid_from=date(2020, 1, 1), valid_until=None):
    uzovi = {ZK: "3311", ONVZ: "3343", ANDERZORG: "3313", FBTO: "3351", CZ: "9664"}[insurer_id]
    return InsuranceFacts(insurer_id=insurer_id, insurer_name=name, uzovi=uzovi, package_id=package_id,
                          package_name=package, policy_number="POL-123", valid_from=valid_from,
                          valid_until=valid_until)


ZK_INS = insurance(ZK, ZK_AANVULLEND, "Zilveren Kruis", "Aanvullend 2 sterren")
ONVZ_OPTIFIT_INS = insurance(ONVZ, ONVZ_OPTIFIT, "ONVZ", "Optifit", valid_from=date(2025, 6, 1))
ONVZ_TOPFIT_INS = insurance(ONVZ, ONVZ_TOPFIT, "ONVZ", "Topfit")
ANDERZORG_INS = insurance(ANDERZORG, ANDERZORG_EXTRA, "Anderzorg", "Extra", valid_from=date(2015, 1, 1))
FBTO_INS = insurance(FBTO, FBTO_MODULE, "FBTO", "Module Huid")
CZ_INS = insurance(CZ, CZ_PLUS, "CZ", "Plus")

# ---- therapists ----------------------------------------------------------------------------------

NVH = NvhMembership("NVH-77", date(2020, 1, 1), date(2030, 12, 31))
KP_K = KpRegistration("KP-500", KWALITEIT, date(2021, 1, 1), date(2030, 12, 31))
KP_D = KpRegistration("KP-500", DIPLOMA, date(2021, 1, 1), date(2030, 12, 31))

ANNA = TherapistFacts("Anna de Vries", "90012345", (NVH,), (KP_K,))
DIPLOMA_ONLY = TherapistFacts("Bram Bakker", "90054321", (NVH,), (KP_D,))
NO_NVH = TherapistFacts("Cleo Claes", "90011111", (), (KP_K,))
BAD_AGB = TherapistFacts("Dirk Dekker", "9001234", (NVH,), (KP_K,))
# Registered since 2015: the Anderzorg 2018 rule names no KP level, so it gets the kwaliteitsregister (as claims do).
VETERAN = TherapistFacts("Anna de Vries", "90012345", (NvhMembership("NVH-77", date(2015, 1, 1)),),
                         (KpRegistration("KP-500", KWALITEIT, date(2015, 1, 1), date(2030, 12, 31)),))


def treat(day, indication=Indication.ACNE, area=FACE, price="85.00", technique=Technique.FRACTIONAL_LASER,
          referral=None):
    return TreatmentFacts(day=day, indication=indication, body_area=area, technique=technique, price=D(price),
                          referral=referral)


def gp_referral(on, valid_until):
    return Referral(ReferrerType.GP, "Dr. Jansen", "01012345", on, "Acne vulgaris", valid_until)


def run(treatment, therapist=ANNA, ins=ZK_INS, rules=ALL_RULES, usage=None):
    return assess(treatment, therapist, ins, rules, usage or {})


def assert_consistent(a: Assessment):
    assert a.insurer_amount + a.patient_amount == a.vat.gross
    assert a.insurer_amount >= 0 and a.patient_amount >= 0
    for amount in (a.insurer_amount, a.patient_amount, a.cap_used_before, a.vat.net, a.vat.vat):
        assert amount.as_tuple().exponent == -2
    if not a.reimbursable:
        assert a.insurer_amount == 0
    assert Assessment.from_dict(json.loads(json.dumps(a.to_dict()))) == a


def said(texts) -> tuple[str, ...]:
    """The sentences as people read them (English: no translator is installed in the domain's tests)."""
    return tuple(str(t) for t in texts)


def has_reason(a: Assessment, text: str) -> bool:
    return any(text in r for r in said(a.reasons))


# ---- classification and VAT ----------------------------------------------------------------------


@pytest.mark.parametrize("indication", list(Indication))
def test_classification_follows_the_indication(indication):
    info = INDICATIONS[indication]
    a = run(treat(date(2025, 5, 1), indication=indication, price="121.00"))
    assert a.medical is info.medical
    assert a.category is info.category
    assert str(a.classification).startswith("medical: " if info.medical else "cosmetic: ")
    assert info.label in str(a.classification)
    assert a.vat.exempt is info.medical
    assert_consistent(a)


def test_classification_texts():
    assert str(run(treat(date(2025, 5, 1), Indication.ACNE_SCAR)).classification) == (
        "medical: Acne scars (scars) is health care within the skin therapist's field")
    assert str(run(treat(date(2025, 5, 1), Indication.FINE_LINES)).classification) == (
        "cosmetic: Fine lines and wrinkles is purely aesthetic treatment")


def test_cosmetic_is_never_reimbursed_and_carries_vat():
    a = run(treat(date(2025, 5, 1), Indication.FINE_LINES, price="121.00"))
    assert not a.reimbursable
    assert a.insurer_amount == D("0.00") and a.patient_amount == D("121.00")
    assert (a.vat.net, a.vat.vat, a.vat.rate) == (D("100.00"), D("21.00"), D("21"))
    assert "Cosmetic treatment is never reimbursed." in said(a.reasons)
    assert a.rule is None and a.cap is None
    assert_consistent(a)


def test_cosmetic_hair_removal_is_not_covered_by_the_hair_removal_rule():
    a = run(treat(date(2025, 5, 1), Indication.COSMETIC_HAIR_REMOVAL, area=LEGS))
    assert a.category is Category.COSMETIC
    assert not a.reimbursable and a.rule is None


def test_medical_treatment_is_vat_exempt_with_the_legal_ground():
    a = run(treat(date(2025, 5, 1), Indication.ACNE))
    assert a.vat.exempt and a.vat.legal_ground == EXEMPTION_GROUND
    assert a.vat.net == a.vat.gross == D("85.00") and a.vat.vat == D("0.00")
    assert has_reason(a, "exempt")


# ---- rule matching -------------------------------------------------------------------------------


def test_matching_rules_filters_insurer_package_year_and_category():
    t = treat(date(2026, 4, 1), Indication.CAMOUFLAGE)
    assert matching_rules(t, ONVZ_OPTIFIT_INS, ALL_RULES) == [ONVZ_CAMO_OPTIFIT]
    assert matching_rules(t, ONVZ_TOPFIT_INS, ALL_RULES) == [ONVZ_CAMO_TOPFIT]
    assert matching_rules(t, ZK_INS, ALL_RULES) == []
    assert matching_rules(t, None, ALL_RULES) == []
    # Another year: nothing.
    assert matching_rules(treat(date(2025, 4, 1), Indication.CAMOUFLAGE), ONVZ_OPTIFIT_INS, ALL_RULES) == []


def test_package_specific_rules_come_first_then_by_id():
    general_low = replace(FBTO_ACNE, id=1, package_id=None, label="general low id")
    general_high = replace(FBTO_ACNE, id=9, package_id=None, label="general high id")
    specific = replace(FBTO_ACNE, id=20, package_id=FBTO_MODULE, label="package")
    other_package = replace(FBTO_ACNE, id=2, package_id=999, label="other package")
    t = treat(date(2026, 4, 1))
    rules = [general_high, other_package, specific, general_low]
    assert matching_rules(t, FBTO_INS, rules) == [specific, general_low, general_high]
    assert run(t, ins=FBTO_INS, rules=rules).rule == specific


def test_no_insurance_is_not_reimbursable():
    a = run(treat(date(2025, 5, 1)), ins=None)
    assert not a.reimbursable and a.insurance is None and a.rule is None
    assert a.patient_amount == D("85.00")
    assert has_reason(a, "No insurance recorded on 01-05-2025")
    assert_consistent(a)


def test_insurance_that_does_not_cover_the_date_is_not_reimbursable():
    ended = replace(ZK_INS, valid_until=date(2025, 4, 30))
    a = run(treat(date(2025, 5, 1)), ins=ended)
    assert not a.reimbursable
    assert has_reason(a, "does not cover 01-05-2025")


def test_no_matching_rule_names_insurer_package_category_and_year():
    a = run(treat(date(2025, 5, 1), Indication.OEDEMA), ins=ZK_INS)
    assert not a.reimbursable and a.rule is None
    assert "No rule of Zilveren Kruis for package Aanvullend 2 sterren covers oedema in 2025." in said(a.reasons)
    assert a.patient_amount == D("85.00")


# ---- Zilveren Kruis 2025: EUR 300 a year shared by acne and hair removal, KP kwaliteitsregister ------


def test_zk_first_treatment_is_paid_in_full_with_reasons():
    a = run(treat(date(2025, 5, 1), Indication.ACNE), usage={"zk-2025-huid": Usage()})
    assert a.reimbursable and a.therapist_eligible
    assert a.rule == ZK_2025
    assert (a.cap_group, a.cap_period, a.cap) == ("zk-2025-huid", CapPeriod.YEAR, D("300"))
    assert (a.insurer_amount, a.patient_amount) == (D("85.00"), D("0.00"))
    assert (a.cap_used_before, a.cap_remaining_after) == (D("0.00"), D("215.00"))
    assert said(a.reasons) == (
        "Medical: Acne (acne) is health care within the skin therapist's field.",
        f"VAT: exempt ({EXEMPTION_GROUND}).",
        "Therapist Anna de Vries: NVH member (no. NVH-77) on 01-05-2025.",
        "Therapist Anna de Vries: KP kwaliteitsregister (no. KP-500) on 01-05-2025.",
        "Therapist Anna de Vries: Personal AGB code 90012345 is valid.",
        "Insurance: Zilveren Kruis (UZOVI 3311), package Aanvullend 2 sterren, policy POL-123, from 01-01-2020.",
        f"Rule: {describe_rule(ZK_2025)}.",
        "Zilveren Kruis pays EUR 85,00 (100 % of EUR 85,00); EUR 215,00 of the EUR 300,00 yearly cap left.",
        "The patient pays EUR 0,00.",
    )
    assert_consistent(a)


@pytest.mark.parametrize(
    ("indication", "used", "insurer", "patient", "left", "reimbursable"),
    [
        (Indication.ACNE, "0", "85.00", "0.00", "215.00", True),
        (Indication.HIRSUTISM, "255.00", "45.00", "40.00", "0.00", True),   # acne used most of the shared cap
        (Indication.PCOS, "299.99", "0.01", "84.99", "0.00", True),
        (Indication.HYPERTRICHOSIS, "300.00", "0.00", "85.00", "0.00", False),   # cap used up
        (Indication.ACNE, "350.00", "0.00", "85.00", "0.00", False),
    ],
)
def test_zk_shared_yearly_cap(indication, used, insurer, patient, left, reimbursable):
    a = run(treat(date(2025, 9, 1), indication), usage={"zk-2025-huid": Usage(D(used), 4)})
    assert a.rule == ZK_2025 and a.cap_group == "zk-2025-huid"
    assert a.reimbursable is reimbursable
    assert (a.insurer_amount, a.patient_amount, a.cap_remaining_after) == (D(insurer), D(patient), D(left))
    assert a.cap_used_before == D(used).quantize(D("0.01"))
    assert a.sessions_used_before == 4
    if not reimbursable:
        assert has_reason(a, "Yearly cap used up")
    assert_consistent(a)


def test_zk_acne_and_hair_removal_draw_on_the_same_cap_group():
    acne = matching_rules(treat(date(2025, 5, 1), Indication.ACNE), ZK_INS, ALL_RULES)
    hair = matching_rules(treat(date(2025, 5, 1), Indication.HIRSUTISM), ZK_INS, ALL_RULES)
    assert acne[0].group == hair[0].group == "zk-2025-huid"
    # Usage of a different group does not touch this cap.
    a = run(treat(date(2025, 5, 1), Indication.HIRSUTISM), usage={"rule-99": Usage(D("300"), 9)})
    assert a.insurer_amount == D("85.00") and a.cap_used_before == D("0.00")


def test_zk_partial_payment_is_explained_as_limited_by_the_cap():
    a = run(treat(date(2025, 9, 1), Indication.ACNE), usage={"zk-2025-huid": Usage(D("255"), 3)})
    assert ("Zilveren Kruis pays EUR 45,00 (100 % of EUR 85,00, limited by the cap); "
            "EUR 0,00 of the EUR 300,00 yearly cap left.") in said(a.reasons)
    assert "The patient pays EUR 40,00." in said(a.reasons)


def test_zk_rule_is_for_2025_only():
    a = run(treat(date(2026, 1, 2), Indication.ACNE))
    assert a.rule is None and not a.reimbursable


# ---- therapist: KP level and AGB -----------------------------------------------------------------


def test_diplomaregister_therapist_fails_a_kwaliteitsregister_rule():
    a = run(treat(date(2025, 5, 1)), therapist=DIPLOMA_ONLY)
    assert not a.therapist_eligible
    assert not a.reimbursable
    assert a.rule == ZK_2025
    assert a.insurer_amount == D("0.00") and a.patient_amount == D("85.00")
    assert a.cap_remaining_after == D("300.00")   # cap info still shown
    assert any("diplomaregister only" in r for r in said(a.therapist_reasons))
    assert has_reason(a, "requires a therapist who is an NVH member and in the KP kwaliteitsregister on 01-05-2025")
    assert_consistent(a)


def test_a_rule_naming_no_level_requires_the_kwaliteitsregister_as_the_claim_check_does():
    # CZ's rule names no KP level: insurers want the kwaliteitsregister, and the claim check would exclude a
    # diplomaregister-only therapist's line, so the assessment promises nothing (one truth: domain.eligibility).
    a = run(treat(date(2026, 5, 1), Indication.HIRSUTISM, technique=Technique.ELECTROLYSIS), therapist=DIPLOMA_ONLY,
            ins=CZ_INS)
    assert not a.therapist_eligible and not a.reimbursable
    assert a.insurer_amount == D("0.00") and a.patient_amount == D("85.00")
    assert has_reason(a, "CZ hair removal requires a therapist who is an NVH member and in the KP kwaliteitsregister "
                         "on 01-05-2026; Bram Bakker: diplomaregister only; this insurer requires the "
                         "kwaliteitsregister.")
    assert_consistent(a)


def test_a_diplomaregister_level_rule_accepts_either_level_but_needs_some_kp_registration():
    rule = replace(CZ_HAIR, kp_level_required=DIPLOMA, technique_required=False)
    t = treat(date(2026, 5, 1), Indication.HIRSUTISM)
    a = run(t, therapist=DIPLOMA_ONLY, ins=CZ_INS, rules=[rule])
    assert a.reimbursable and a.therapist_eligible
    assert "KP diplomaregister (no. KP-500) on 01-05-2026." in said(a.therapist_reasons)
    no_kp = TherapistFacts("Eva", "90022222", (NVH,), ())
    a = run(t, therapist=no_kp, ins=CZ_INS, rules=[rule])
    assert not a.reimbursable
    assert has_reason(a, "requires a therapist who is an NVH member with a KP registration on 01-05-2026; Eva: no KP "
                         "registration recorded.")


def test_a_lapsed_kp_is_named_with_its_end_date_not_as_a_missing_nvh_membership():
    lapsed = TherapistFacts("Anna de Vries", "90012345", (NVH,),
                            (KpRegistration("KP-500", KWALITEIT, date(2021, 12, 1), date(2025, 4, 30)),))
    a = run(treat(date(2025, 5, 1)), therapist=lapsed)
    assert not a.reimbursable
    assert "NVH member (no. NVH-77) on 01-05-2025." in said(a.therapist_reasons)
    assert "KP registration ended on 30-04-2025" in said(a.therapist_reasons)
    assert has_reason(a, "Anna de Vries: KP registration ended on 30-04-2025.")
    assert not has_reason(a, "No NVH")


def test_therapist_without_nvh_fails_the_kwaliteitsregister_rule():
    a = run(treat(date(2025, 5, 1)), therapist=NO_NVH)
    assert not a.therapist_eligible and not a.reimbursable


@pytest.mark.parametrize("rules", [(ZK_2025,), (replace(ZK_2025, kp_level_required=None),)])
def test_invalid_personal_agb_always_blocks_reimbursement(rules):
    a = run(treat(date(2025, 5, 1)), therapist=BAD_AGB, rules=rules)
    assert not a.therapist_eligible
    assert not a.reimbursable
    assert str(a.therapist_reasons[-1]).startswith("Personal AGB code is not valid")
    assert has_reason(a, "valid personal AGB code")


NVH_PERIOD = NvhMembership("NVH-9", date(2021, 3, 1), date(2025, 8, 31))
KP_PERIOD = KpRegistration("KP-9", KWALITEIT, date(2021, 1, 15), date(2026, 1, 14))
EDGE = TherapistFacts("Fenna", "90033333", (NVH_PERIOD,), (KP_PERIOD,))


@pytest.mark.parametrize(
    ("day", "eligible"),
    [
        (date(2021, 2, 28), False),  # KP valid, NVH not yet
        (date(2021, 3, 1), True),    # first day of NVH
        (date(2025, 8, 31), True),   # last day of NVH
        (date(2025, 9, 1), False),   # day after NVH ends
    ],
)
def test_nvh_period_boundaries(day, eligible):
    rule = replace(ZK_2025, year=day.year)
    a = run(treat(day), therapist=EDGE, rules=[rule])
    assert a.therapist_eligible is eligible
    assert a.reimbursable is eligible


@pytest.mark.parametrize(
    ("day", "eligible"),
    [
        (date(2021, 1, 14), False),  # day before KP starts
        (date(2021, 1, 15), True),   # first day of KP
        (date(2026, 1, 14), True),   # last day of KP
        (date(2026, 1, 15), False),  # day after KP ends
    ],
)
def test_kp_period_boundaries(day, eligible):
    therapist = replace(EDGE, memberships=(NvhMembership("NVH-9", date(2020, 1, 1)),))
    rule = replace(ZK_2025, year=day.year)
    a = run(treat(day), therapist=therapist, rules=[rule])
    assert a.therapist_eligible is eligible
    assert a.reimbursable is eligible


# ---- ONVZ 2026 camouflage: 2 lessons, EUR 70 (Optifit) or EUR 120 (Topfit) -----------------------


@pytest.mark.parametrize(
    ("ins", "sessions", "used", "price", "insurer", "left", "reimbursable"),
    [
        (ONVZ_OPTIFIT_INS, 0, "0", "60.00", "60.00", "10.00", True),
        (ONVZ_OPTIFIT_INS, 1, "60.00", "60.00", "10.00", "0.00", True),
        (ONVZ_OPTIFIT_INS, 2, "70.00", "60.00", "0.00", "0.00", False),   # both sessions and cap used
        (ONVZ_TOPFIT_INS, 0, "0", "60.00", "60.00", "60.00", True),
        (ONVZ_TOPFIT_INS, 1, "60.00", "60.00", "60.00", "0.00", True),
        (ONVZ_TOPFIT_INS, 2, "100.00", "60.00", "0.00", "20.00", False),  # sessions used, cap not
    ],
)
def test_onvz_camouflage_sessions_and_cap_by_package(ins, sessions, used, price, insurer, left, reimbursable):
    t = treat(date(2026, 4, 1), Indication.CAMOUFLAGE, technique=Technique.CAMOUFLAGE_LESSON, price=price)
    rule = ONVZ_CAMO_OPTIFIT if ins is ONVZ_OPTIFIT_INS else ONVZ_CAMO_TOPFIT
    a = run(t, ins=ins, usage={rule.group: Usage(D(used), sessions)})
    assert a.rule == rule and a.cap_group == f"rule-{rule.id}"
    assert a.reimbursable is reimbursable
    assert a.insurer_amount == D(insurer)
    assert a.cap_remaining_after == D(left)
    assert a.sessions_used_before == sessions
    if sessions >= 2:
        assert has_reason(a, "All 2 sessions already used this year (2 used).")
    else:
        assert has_reason(a, f"session {sessions + 1} of 2")
    assert_consistent(a)


# ---- ONVZ 2026 epilation: lifetime cap, 12-month waiting period, face/neck ------------------------


@pytest.mark.parametrize(
    ("day", "waiting"),
    [
        (date(2026, 5, 31), True),   # policy from 01-06-2025: waiting until 01-06-2026
        (date(2026, 6, 1), False),
    ],
)
def test_onvz_epilation_waiting_period(day, waiting):
    a = run(treat(day, Indication.HIRSUTISM, technique=Technique.ELECTROLYSIS), ins=ONVZ_OPTIFIT_INS)
    assert a.rule == ONVZ_EPILATION
    assert a.reimbursable is (not waiting)
    assert has_reason(a, "Waiting period until 01-06-2026") is waiting


def test_waiting_period_clamps_to_the_month_end():
    ins = replace(ONVZ_OPTIFIT_INS, valid_from=date(2025, 1, 31))
    rule = replace(ONVZ_EPILATION, waiting_months=1, year=2025)
    t = treat(date(2025, 2, 27), Indication.HIRSUTISM)
    assert not run(t, ins=ins, rules=[rule]).reimbursable
    assert run(replace(t, day=date(2025, 2, 28)), ins=ins, rules=[rule]).reimbursable


@pytest.mark.parametrize(
    ("used", "insurer", "left", "reimbursable"),
    [
        ("0", "85.00", "365.00", True),
        ("400.00", "50.00", "0.00", True),        # earlier years count towards a lifetime cap
        ("450.00", "0.00", "0.00", False),
    ],
)
def test_onvz_epilation_lifetime_cap(used, insurer, left, reimbursable):
    a = run(treat(date(2026, 7, 1), Indication.PCOS), ins=ONVZ_OPTIFIT_INS,
            usage={"onvz-epilation": Usage(D(used), 6)})
    assert a.cap_period is CapPeriod.LIFETIME
    assert a.reimbursable is reimbursable
    assert (a.insurer_amount, a.cap_remaining_after) == (D(insurer), D(left))
    if reimbursable:
        assert has_reason(a, "lifetime cap left")
    else:
        assert has_reason(a, "Lifetime cap used up")
    assert_consistent(a)


@pytest.mark.parametrize(("area", "covered"), [(FACE, True), (NECK, True), (LEGS, False),
                                                (BodyArea.ARMPITS, False), (BodyArea.BIKINI_LINE, False)])
def test_body_area_restriction_face_and_neck(area, covered):
    a = run(treat(date(2026, 7, 1), Indication.HIRSUTISM, area=area), ins=ONVZ_OPTIFIT_INS)
    assert a.reimbursable is covered
    assert has_reason(a, "covers only face and neck") is (not covered)


# ---- Anderzorg 2018: 80 % up to EUR 500 lifetime for facial epilation ----------------------------


@pytest.mark.parametrize(
    ("price", "used", "insurer", "patient", "left"),
    [
        ("85.00", "0", "68.00", "17.00", "432.00"),
        ("99.99", "0", "79.99", "20.00", "420.01"),     # 79.992 rounds down
        ("10.01", "0", "8.01", "2.00", "491.99"),       # 8.008 rounds up
        ("0.05", "0", "0.04", "0.01", "499.96"),        # 0.04 exactly
        ("85.00", "480.00", "20.00", "65.00", "0.00"),  # the cap limits the 80 %
    ],
)
def test_anderzorg_percentage_with_lifetime_cap(price, used, insurer, patient, left):
    a = run(treat(date(2018, 3, 1), Indication.HIRSUTISM, price=price), therapist=VETERAN, ins=ANDERZORG_INS,
            usage={"anderzorg-epilation": Usage(D(used), 3)})
    assert a.rule == ANDERZORG_2018 and a.reimbursable
    assert (a.insurer_amount, a.patient_amount, a.cap_remaining_after) == (D(insurer), D(patient), D(left))
    assert has_reason(a, "(80 % of ")
    assert_consistent(a)


def test_percentage_rounds_half_up():
    rule = replace(CZ_HAIR, percentage=D("50"), technique_required=False)
    a = run(treat(date(2026, 3, 1), Indication.HIRSUTISM, price="0.05"), ins=CZ_INS, rules=[rule])
    assert a.insurer_amount == D("0.03")   # 0.025 half-up, not banker's 0.02
    assert a.patient_amount == D("0.02")


def test_fractional_percentage_is_written_with_a_decimal_comma():
    rule = replace(CZ_HAIR, percentage=D("82.50"), technique_required=False)
    a = run(treat(date(2026, 3, 1), Indication.HIRSUTISM, price="100.00"), ins=CZ_INS, rules=[rule])
    assert a.insurer_amount == D("82.50")
    assert has_reason(a, "CZ pays EUR 82,50 (82,5 % of EUR 100,00).")


# ---- FBTO acne: EUR 250 a year, referral required ------------------------------------------------

TREAT_DAY = date(2026, 4, 15)


@pytest.mark.parametrize(
    ("referral", "reimbursable", "reason"),
    [
        (None, False, "requires a referral"),
        (gp_referral(date(2025, 3, 1), date(2026, 2, 28)), False, "expired on 28-02-2026"),
        (gp_referral(date(2026, 4, 16), date(2027, 4, 15)), False, "dated 16-04-2026, after the treatment"),
        (gp_referral(date(2026, 1, 10), date(2027, 1, 9)), True, "valid until 09-01-2027"),
        (gp_referral(date(2025, 4, 16), date(2026, 4, 15)), True, "Referral by GP (huisarts) Dr. Jansen"),  # last day
        (gp_referral(TREAT_DAY, date(2027, 4, 14)), True, "of 15-04-2026"),                                 # same day
    ],
)
def test_fbto_referral_required(referral, reimbursable, reason):
    a = run(treat(TREAT_DAY, Indication.ACNE, referral=referral), ins=FBTO_INS,
            usage={"rule-6": Usage(D("100"), 2)})
    assert a.rule == FBTO_ACNE
    assert a.reimbursable is reimbursable
    assert has_reason(a, reason)
    if reimbursable:
        assert (a.insurer_amount, a.cap_remaining_after) == (D("85.00"), D("65.00"))
    else:
        assert (a.insurer_amount, a.patient_amount, a.cap_remaining_after) == (D("0.00"), D("85.00"), D("150.00"))
    assert_consistent(a)


def test_referral_is_ignored_when_not_required():
    expired = gp_referral(date(2020, 1, 1), date(2020, 12, 31))
    assert run(treat(date(2025, 5, 1), referral=expired)).reimbursable


# ---- CZ hair removal: the technique must be named -------------------------------------------------


@pytest.mark.parametrize(
    ("technique", "reimbursable"),
    [
        (Technique.LASER_HAIR_REMOVAL, True),
        (Technique.ELECTROLYSIS, True),
        (Technique.IPL, True),
        (None, False),
        (Technique.OTHER, False),
    ],
)
def test_cz_technique_required(technique, reimbursable):
    a = run(treat(date(2026, 2, 1), Indication.HYPERTRICHOSIS, technique=technique), ins=CZ_INS)
    assert a.rule == CZ_HAIR
    assert a.reimbursable is reimbursable
    assert has_reason(a, "requires the technique to be named") is (not reimbursable)
    assert a.cap is None and a.cap_remaining_after is None
    if reimbursable:
        assert "CZ pays EUR 85,00 (100 % of EUR 85,00)." in said(a.reasons)


# ---- several failures, determinism and storage ---------------------------------------------------


def test_every_failed_condition_is_listed():
    rule = replace(ONVZ_EPILATION, referral_required=True, technique_required=True, max_sessions=3,
                   kp_level_required=KWALITEIT)
    t = treat(date(2026, 1, 10), Indication.HIRSUTISM, area=LEGS, technique=None)
    a = run(t, therapist=DIPLOMA_ONLY, ins=ONVZ_OPTIFIT_INS, rules=[rule],
            usage={"onvz-epilation": Usage(D("450"), 3)})
    assert not a.reimbursable
    for text in ("kwaliteitsregister on 10-01-2026", "Waiting period until 01-06-2026", "requires a referral",
                 "covers only face and neck", "requires the technique", "All 3 sessions already used",
                 "Lifetime cap used up"):
        assert has_reason(a, text), text
    assert str(a.reasons[-1]) == "Not reimbursed: the patient pays EUR 85,00."


def test_zero_price_is_handled():
    a = run(treat(date(2025, 5, 1), price="0"))
    assert a.reimbursable and a.insurer_amount == D("0.00") and a.patient_amount == D("0.00")
    assert a.cap_remaining_after == D("300.00")


SCENARIOS = [
    pytest.param(treat(date(2025, 5, 1)), ANNA, ZK_INS, {"zk-2025-huid": Usage(D("20"), 1)}, id="zk"),
    pytest.param(treat(date(2025, 5, 1), Indication.SUN_DAMAGE), ANNA, ZK_INS, {}, id="cosmetic"),
    pytest.param(treat(date(2025, 5, 1)), ANNA, None, {}, id="uninsured"),
    pytest.param(treat(date(2025, 5, 1)), DIPLOMA_ONLY, ZK_INS, {}, id="diploma"),
    pytest.param(treat(date(2018, 5, 1), Indication.PCOS), ANNA, ANDERZORG_INS,
                 {"anderzorg-epilation": Usage(D("1"), 1)}, id="anderzorg"),
    pytest.param(treat(TREAT_DAY, referral=gp_referral(date(2026, 1, 1), date(2026, 12, 31))), ANNA, FBTO_INS, {},
                 id="fbto"),
    pytest.param(treat(date(2026, 4, 1), Indication.CAMOUFLAGE), ANNA, ONVZ_TOPFIT_INS, {}, id="onvz"),
]


@pytest.mark.parametrize(("treatment", "therapist", "ins", "usage"), SCENARIOS)
def test_assessment_is_deterministic_and_roundtrips_through_json(treatment, therapist, ins, usage):
    a = assess(treatment, therapist, ins, ALL_RULES, usage)
    b = assess(treatment, therapist, ins, list(reversed(ALL_RULES)), dict(usage))
    assert a == b
    assert isinstance(a.reasons, tuple) and isinstance(a.therapist_reasons, tuple)
    data = a.to_dict()
    text = json.dumps(data)
    restored = Assessment.from_dict(json.loads(text))
    assert restored == a
    assert restored.to_dict() == data
    assert hash(restored.rule) == hash(a.rule)
    assert_consistent(a)


def test_to_dict_uses_plain_json_values():
    a = run(treat(date(2025, 5, 1)), usage={"zk-2025-huid": Usage(D("20"), 1)})
    data = a.to_dict()
    assert data["insurer_amount"] == "85.00"
    assert data["cap_remaining_after"] == "195.00"
    assert data["category"] == "acne"
    assert data["cap_period"] == "year"
    assert data["insurance"]["valid_from"] == "2020-01-01"
    assert data["rule"]["categories"] == ["acne", "hair_removal"]
    assert data["rule"]["kp_level_required"] == "kwaliteitsregister"
    assert data["vat"]["legal_ground"] == EXEMPTION_GROUND


# ---- stacked rules (issue 12): chronic list, prior authorisation, per-treatment maximum, fallback --------------

from backoffice.domain.authorisations import Authorisation  # noqa: E402
from backoffice.domain.coverage import PackageKind, ReferrerKind, SessionPeriod  # noqa: E402

MENZIS, MENZIS_BASIS, MENZIS_EXTRA = 8, 80, 81
MENZIS_INS = InsuranceFacts(insurer_id=MENZIS, insurer_name="Menzis", uzovi="3332", package_id=MENZIS_EXTRA,
                            package_name="ExtraVerzorgd 2", policy_number="MZ-1", valid_from=date(2026, 1, 1),
                            valid_until=None, covered_since=date(2024, 1, 1), insurer_covered_since=date(2024, 1, 1))
# The chronic list: scars are paid by basic insurance from the 21st treatment; the first 20 by the supplementary
# package (EUR 500 a year, at most EUR 45 per treatment) and, when that cap is used up, by a fallback rule.
CHRONIC = PolicyRule(
    id=81, insurer_id=MENZIS, package_id=MENZIS_BASIS, year=2026, label="Menzis chronische lijst",
    categories=frozenset({Category.SCARS}), priority=1, from_treatment_number=21,
    package_kind=PackageKind.BASIC,
)
SCARS_EXTRA = PolicyRule(
    id=82, insurer_id=MENZIS, package_id=MENZIS_EXTRA, year=2026, label="Menzis littekens aanvullend",
    categories=frozenset({Category.SCARS}), priority=2, cap=D("500"), cap_group="menzis-huid",
    percentage=D("82.5"), max_per_treatment=D("45"),
)
SCARS_FALLBACK = PolicyRule(
    id=83, insurer_id=MENZIS, package_id=MENZIS_EXTRA, year=2026, label="Menzis restitutie huidtherapie",
    categories=frozenset({Category.SCARS}), priority=3, cap=D("200"), cap_group="menzis-rest",
    percentage=D("50"), applies_after_rule_id=82,
)
# Transgender facial epilation: basic insurance with a prior authorisation (machtiging), else the package.
EPILATION_BASIC = PolicyRule(
    id=84, insurer_id=MENZIS, package_id=MENZIS_BASIS, year=2026, label="Menzis epilatie machtiging",
    categories=frozenset({Category.HAIR_REMOVAL}), priority=1, authorisation_required=True,
    package_kind=PackageKind.BASIC, body_areas=frozenset({FACE, NECK}),
)
EPILATION_EXTRA = PolicyRule(
    id=85, insurer_id=MENZIS, package_id=MENZIS_EXTRA, year=2026, label="Menzis epilatie aanvullend",
    categories=frozenset({Category.HAIR_REMOVAL}), priority=2, cap=D("100"), cap_group="menzis-epilatie",
)
MENZIS_RULES = (CHRONIC, SCARS_EXTRA, SCARS_FALLBACK, EPILATION_BASIC, EPILATION_EXTRA)
SCAR_DAY = date(2026, 6, 1)


def scar(number, price="120.00", **more):
    return replace(treat(SCAR_DAY, Indication.BURN_SCAR, price=price), treatment_number=number, **more)


def menzis(treatment, usage=None):
    a = assess(treatment, ANNA, MENZIS_INS, MENZIS_RULES, usage or {})
    assert_consistent(a)
    return a


def test_the_first_twenty_scar_treatments_come_from_the_package_with_a_maximum_per_treatment():
    a = menzis(scar(5))
    assert a.reimbursable and a.rule == SCARS_EXTRA
    # 82,5 % of EUR 120 is EUR 99, limited to EUR 45 per treatment.
    assert a.insurer_amount == D("45.00") and a.patient_amount == D("75.00")
    assert [p.rule.id for p in a.parts] == [82] and a.parts[0].cap_remaining_after == D("455.00")
    assert has_reason(a, "Menzis chronische lijst pays from treatment 21 of scars; this is treatment 5.")
    assert has_reason(a, "at most EUR 45,00 per treatment")
    assert "82,5 %" in str(describe_rule(SCARS_EXTRA))


def test_from_the_21st_treatment_basic_insurance_pays_with_the_own_risk_noted():
    a = menzis(scar(21))
    assert a.rule == CHRONIC and a.insurer_amount == D("120.00") and a.patient_amount == D("0.00")
    assert a.parts[0].own_risk and a.own_risk_amount == D("120.00")
    assert has_reason(a, "own risk (eigen risico) applies to EUR 120,00")


def test_a_fallback_rule_pays_the_rest_when_the_first_rule_cap_runs_out():
    # EUR 30 left of the package's cap: it pays 30, the fallback pays 50 % of the price up to what is unpaid.
    a = menzis(scar(7), {"menzis-huid": Usage(D("470.00"), 12)})
    assert [p.rule.id for p in a.parts] == [82, 83] and a.stacked
    assert [p.amount for p in a.parts] == [D("30.00"), D("60.00")]
    assert a.insurer_amount == D("90.00") and a.patient_amount == D("30.00")
    assert a.rule == SCARS_EXTRA and a.cap_group == "menzis-huid"
    assert has_reason(a, "Menzis restitutie huidtherapie applies: Menzis littekens aanvullend is used up.")
    # Used up completely: the fallback alone pays.
    b = menzis(scar(8), {"menzis-huid": Usage(D("500.00"), 13), "menzis-rest": Usage(D("180.00"), 3)})
    assert [(p.rule.id, p.amount) for p in b.parts] == [(83, D("20.00"))]
    assert b.rule == SCARS_FALLBACK and b.insurer_amount == D("20.00")


def test_a_fallback_does_not_pay_when_the_first_rule_fails_for_another_reason():
    rules = (replace(SCARS_EXTRA, body_areas=frozenset({LEGS})), SCARS_FALLBACK)
    a = assess(scar(3), ANNA, MENZIS_INS, rules, {"menzis-huid": Usage(D("500.00"), 13)})
    assert not a.reimbursable and a.rule is not None and a.rule.id == 82


def test_a_prior_authorisation_lets_basic_insurance_pay_facial_epilation():
    auth = Authorisation(1, MENZIS, "MZ-M-2026-77", date(2026, 1, 1), date(2026, 12, 31),
                         frozenset({Indication.HIRSUTISM}), max_treatments=10, used=3)
    treatment = replace(treat(SCAR_DAY, Indication.HIRSUTISM, price="90.00"), authorisations=(auth,))
    a = menzis(treatment)
    assert a.rule == EPILATION_BASIC and a.insurer_amount == D("90.00")
    assert a.parts[0].authorisation == "MZ-M-2026-77"
    assert has_reason(a, "Prior authorisation MZ-M-2026-77 of Menzis, valid from 01-01-2026 to 31-12-2026.")
    # Without one (or used up), the supplementary rule pays up to its cap.
    b = menzis(treat(SCAR_DAY, Indication.HIRSUTISM, price="90.00"))
    assert b.rule == EPILATION_EXTRA and b.insurer_amount == D("90.00")
    assert has_reason(b, "requires a prior authorisation (machtiging) of Menzis")
    used_up = replace(treatment, authorisations=(replace(auth, used=10),))
    c = menzis(used_up)
    assert c.rule == EPILATION_EXTRA and has_reason(c, "covers at most 10 treatments and all are used")


def test_age_limits_select_the_rule_on_the_treatment_date():
    young = replace(SCARS_EXTRA, max_age=17)
    treatment = replace(scar(2), birth_date=date(2008, 6, 2))  # 17 on 01-06-2026, 18 the next day
    assert assess(treatment, ANNA, MENZIS_INS, (young,), {}).reimbursable
    older = replace(treatment, day=date(2026, 6, 2))
    a = assess(older, ANNA, MENZIS_INS, (young,), {})
    assert not a.reimbursable and has_reason(a, "applies up to age 17; the patient is 18 on 02-06-2026.")


def test_sessions_counted_over_their_own_period():
    rule = replace(SCARS_EXTRA, max_sessions=2, session_period=SessionPeriod.PER_REFERRAL)
    assert rule.sessions_key == "menzis-huid@per_referral"
    a = assess(scar(2), ANNA, MENZIS_INS, (rule,), {"menzis-huid": Usage(D("90"), 9),
                                                    "menzis-huid@per_referral": Usage(sessions=2)})
    assert not a.reimbursable and has_reason(a, "All 2 sessions under this referral already used")
    b = assess(scar(2), ANNA, MENZIS_INS, (rule,), {"menzis-huid": Usage(D("90"), 9)})
    assert b.reimbursable


def test_referrer_type_validity_and_indication_per_rule():
    rule = replace(SCARS_EXTRA, referral_required=True, referrer_kind=ReferrerKind.SPECIALIST,
                   referral_valid_months=3, referral_indication_must_match=True)
    gp = Referral(ReferrerType.GP, "Dr. Jansen", "01012345", date(2026, 5, 1), "", date(2027, 4, 30),
                  Indication.BURN_SCAR)
    a = assess(scar(1, referral=gp), ANNA, MENZIS_INS, (rule,), {})
    assert not a.reimbursable and has_reason(a, "requires a referral by a medical specialist; this one is by GP")
    derm = replace(gp, referrer_type=ReferrerType.DERMATOLOGIST, referral_date=date(2026, 2, 1))
    b = assess(scar(1, referral=derm), ANNA, MENZIS_INS, (rule,), {})
    assert not b.reimbursable and has_reason(b, "expired on 30-04-2026")
    other = replace(derm, referral_date=date(2026, 5, 1), indication=Indication.ACNE_SCAR)
    c = assess(scar(1, referral=other), ANNA, MENZIS_INS, (rule,), {})
    assert not c.reimbursable and has_reason(c, "is for acne scar")
    ok = replace(other, indication=Indication.BURN_SCAR)
    assert assess(scar(1, referral=ok), ANNA, MENZIS_INS, (rule,), {}).reimbursable


def test_a_rule_may_demand_the_kp_registration_without_nvh_membership():
    rule = replace(SCARS_EXTRA, nvh_required=False)
    assert assess(scar(1), NO_NVH, MENZIS_INS, (rule,), {}).reimbursable
    assert not assess(scar(1), NO_NVH, MENZIS_INS, (SCARS_EXTRA,), {}).reimbursable


def test_the_waiting_period_counts_from_uninterrupted_cover_so_a_renewal_does_not_restart_it():
    rule = replace(SCARS_EXTRA, waiting_months=12)
    renewed = replace(MENZIS_INS, valid_from=date(2026, 1, 1), covered_since=date(2025, 3, 1))
    assert assess(scar(1), ANNA, renewed, (rule,), {}).reimbursable
    new = replace(renewed, covered_since=date(2026, 1, 1))
    a = assess(scar(1), ANNA, new, (rule,), {})
    assert not a.reimbursable and has_reason(a, "Waiting period until 01-01-2027")
    recent = replace(renewed, covered_since=date(2025, 9, 1))
    b = assess(scar(1), ANNA, recent, (rule,), {})
    assert has_reason(b, "from the start of uninterrupted cover on 01-09-2025")


def test_an_assessment_stored_before_rules_stacked_still_loads_with_its_rule_as_its_part():
    a = run(treat(date(2025, 3, 1)))
    old = json.loads(json.dumps(a.to_dict()))
    del old["parts"]
    for key in ("priority", "max_per_treatment", "session_period", "nvh_required", "package_kind"):
        del old["rule"][key]
    for key in ("package_kind", "covered_since", "insurer_covered_since"):
        del old["insurance"][key]
    loaded = Assessment.from_dict(old)
    assert loaded.insurer_amount == a.insurer_amount and [p.amount for p in loaded.parts] == [a.insurer_amount]
    assert loaded.rule == a.rule
