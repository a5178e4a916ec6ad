"""Claim batches in plain Python: validation rules, cumulative caps, lifecycle, remittance matching, statistics."""

from __future__ import annotations

import itertools
import random
from dataclasses import fields, replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backoffice.domain.claims import (
    BATCH_TRANSITIONS,
    COLUMN_SPECS,
    DEFAULT_COLUMN_KEYS,
    UNSPECIFIED_REJECTION,
    BatchStatus,
    ClaimAttempt,
    ClaimedLine,
    ClaimLineFacts,
    ClaimRoute,
    ClaimRow,
    ClaimRules,
    ClaimTemplate,
    DisputeCode,
    LineOutcome,
    LineStatus,
    OutcomeTally,
    PolicyFacts,
    Reason,
    ReasonCode,
    RemittanceRow,
    TemplateColumn,
    TemplateError,
    TherapistOnDate,
    TransitionError,
    already_claimed,
    batch_complete,
    batch_number,
    batch_transition,
    can_resubmit,
    claim_deadline,
    claim_is_live,
    claim_reference,
    claim_row,
    close_when_complete,
    excluded_row,
    lines_editable,
    match_remittance,
    normalise_reference,
    outcome_for,
    outcome_statistics,
    parse_amount,
    record_outcome,
    validate_batch,
    validate_line,
)
from backoffice.domain.credentials import KpLevel, KpRegistration, NvhMembership
from backoffice.domain.dutch import AmbiguousNumber
from backoffice.domain.indications import Indication
from backoffice.domain.referrals import Referral, ReferrerType

D = Decimal
DAY = date(2026, 3, 10)
CLAIM_DATE = date(2026, 4, 1)
NVH = (NvhMembership("NVH-1", date(2020, 1, 1)),)
KP = (KpRegistration("KP-77", KpLevel.KWALITEITSREGISTER, date(2022, 1, 1), date(2026, 12, 31)),)
THERAPIST = TherapistOnDate.from_credentials("Anna de Vries", "90012345", DAY, NVH, KP)
REFERRAL = Referral(ReferrerType.GP, "J. Jansen", "01234567", date(2026, 1, 5), "acne vulgaris", date(2027, 1, 4))


def line(**changes) -> ClaimLineFacts:
    """A line that can be claimed; each test changes what it is about."""
    base = ClaimLineFacts(
        line_id=1, patient_id=10, patient_name="Eva Jansen", date_of_birth=date(1990, 5, 17), treatment_date=DAY,
        indication=Indication.ACNE, description="Fractional laser, face", prestatiecode="1234",
        therapist=THERAPIST, practice_agb="90001234", insurer_name="Zilveren Kruis", uzovi="3311",
        policy=PolicyFacts("ZK-001", date(2026, 1, 1), date(2026, 12, 31)), amount=D("85.00"),
        expected_reimbursement=D("85.00"), invoice_number="2026-00001", bsn="111222333",
    )
    return replace(base, **changes)


def codes(reasons) -> list[str]:
    return [r.code for r in reasons]


# ---- each rule excludes a line with the right reason --------------------------------------------------------

INELIGIBLE_KP = (KpRegistration("KP-77", KpLevel.DIPLOMAREGISTER, date(2022, 1, 1), date(2026, 12, 31)),)
LAPSED_KP = (KpRegistration("KP-77", KpLevel.KWALITEITSREGISTER, date(2021, 3, 10), date(2026, 3, 9)),)
ENDS_ON_DAY_KP = (KpRegistration("KP-77", KpLevel.KWALITEITSREGISTER, date(2021, 3, 10), DAY),)

RULES = [
    # (id, changes to the line, rules, expected codes)
    ("valid", {}, ClaimRules(), []),
    ("no policy", {"policy": None}, ClaimRules(), ["no_policy"]),
    ("policy ended the day before", {"policy": PolicyFacts("ZK-001", date(2025, 1, 1), DAY - timedelta(days=1))},
     ClaimRules(), ["policy_not_valid"]),
    ("policy ends on the day", {"policy": PolicyFacts("ZK-001", date(2025, 1, 1), DAY)}, ClaimRules(), []),
    ("policy starts the day after", {"policy": PolicyFacts("ZK-001", DAY + timedelta(days=1))}, ClaimRules(),
     ["policy_not_valid"]),
    ("policy starts on the day", {"policy": PolicyFacts("ZK-001", DAY)}, ClaimRules(), []),
    ("therapist diplomaregister only",
     {"therapist": TherapistOnDate.from_credentials("Anna de Vries", "90012345", DAY, NVH, INELIGIBLE_KP)},
     ClaimRules(), ["therapist_not_eligible"]),
    ("KP lapsed the day before",
     {"therapist": TherapistOnDate.from_credentials("Anna de Vries", "90012345", DAY, NVH, LAPSED_KP)},
     ClaimRules(), ["therapist_not_eligible"]),
    ("KP ends on the day",
     {"therapist": TherapistOnDate.from_credentials("Anna de Vries", "90012345", DAY, NVH, ENDS_ON_DAY_KP)},
     ClaimRules(), []),
    ("no NVH membership",
     {"therapist": TherapistOnDate.from_credentials("Anna de Vries", "90012345", DAY, (), KP)},
     ClaimRules(), ["therapist_not_eligible"]),
    ("no personal AGB", {"therapist": replace(THERAPIST, personal_agb="")}, ClaimRules(), ["missing_agb"]),
    ("personal AGB of 7 digits", {"therapist": replace(THERAPIST, personal_agb="9001234")}, ClaimRules(),
     ["missing_agb"]),
    ("no practice AGB", {"practice_agb": ""}, ClaimRules(), ["missing_agb"]),
    ("neither AGB", {"practice_agb": "", "therapist": replace(THERAPIST, personal_agb="")}, ClaimRules(),
     ["missing_agb", "missing_agb"]),
    ("BSN required, none", {"bsn": ""}, ClaimRules(bsn_required=True), ["missing_bsn"]),
    ("BSN required, fails the eleven-test", {"bsn": "111222334"}, ClaimRules(bsn_required=True), ["missing_bsn"]),
    ("BSN not required, none", {"bsn": ""}, ClaimRules(), []),
    ("referral required, none", {"referral_required": True}, ClaimRules(), ["referral_missing"]),
    ("referral required, present", {"referral_required": True, "referral": REFERRAL}, ClaimRules(), []),
    ("referral expired the day before",
     {"referral_required": True, "referral": replace(REFERRAL, valid_until=DAY - timedelta(days=1))},
     ClaimRules(), ["referral_expired"]),
    ("referral valid until the day", {"referral_required": True, "referral": replace(REFERRAL, valid_until=DAY)},
     ClaimRules(), []),
    ("referral dated after the treatment",
     {"referral_required": True, "referral": replace(REFERRAL, referral_date=DAY + timedelta(days=1))},
     ClaimRules(), ["referral_after_treatment"]),
    ("referral not required, expired one present",
     {"referral": replace(REFERRAL, valid_until=DAY - timedelta(days=1))}, ClaimRules(), []),
    ("already in a live batch", {"already_claimed": True, "claimed_in": "3311-2026-001"}, ClaimRules(),
     ["already_claimed"]),
    ("no prestatiecode (invoiced before the catalogue required one)", {"prestatiecode": ""}, ClaimRules(),
     ["missing_prestatiecode"]),
    ("prestatiecode of blanks", {"prestatiecode": "  "}, ClaimRules(), ["missing_prestatiecode"]),
    ("nothing to reimburse", {"expected_reimbursement": D("0.00")}, ClaimRules(), ["not_reimbursable"]),
    ("several at once", {"policy": None, "practice_agb": "", "already_claimed": True}, ClaimRules(),
     ["no_policy", "missing_agb", "already_claimed"]),
]


@pytest.mark.parametrize(("changes", "rules", "expected"), [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_each_rule_excludes_a_line_with_its_reason(changes, rules, expected):
    reasons = validate_line(line(**changes), claim_date=CLAIM_DATE, rules=rules)
    assert codes(reasons) == expected
    for reason in reasons:
        assert reason.nl and reason.en and reason.nl != reason.en


def test_validate_batch_applies_the_same_rules():
    lines = [line(line_id=i, **changes) for i, (_, changes, rules, _) in enumerate(RULES) if rules == ClaimRules()]
    result = validate_batch(lines, claim_date=CLAIM_DATE)
    expected = {i: e for i, (_, _, rules, e) in enumerate(RULES) if rules == ClaimRules()}
    assert {v.line.line_id: list(v.codes) for v in result.verdicts} == expected
    assert all(v.claimable == 0 for v in result.excluded)


def test_every_reason_at_once_comes_in_the_order_of_the_rules():
    # The rules are separate checks now; the order of their reasons is part of what the batch shows.
    lapsed = TherapistOnDate.from_credentials("Anna de Vries", "", date(2024, 1, 2), NVH, (
        KpRegistration("KP-77", KpLevel.KWALITEITSREGISTER, date(2019, 1, 1), date(2023, 11, 30)),))
    worst = line(policy=None, therapist=lapsed,
                 practice_agb="", bsn="", prestatiecode="", referral_required=True, treatment_date=date(2024, 1, 2),
                 already_claimed=True, expected_reimbursement=D("0.00"), cap_group="laser", cap_year=2024)
    reasons = validate_line(worst, claim_date=CLAIM_DATE, rules=ClaimRules(bsn_required=True),
                            cap_remaining=D("0.00"))
    assert codes(reasons) == ["no_policy", "therapist_not_eligible", "missing_agb", "missing_agb", "missing_bsn",
                              "missing_prestatiecode", "referral_missing", "past_deadline", "already_claimed",
                              "not_reimbursable", "cap_used_up"]
    assert reasons[1].en == "Anna de Vries: KP registration ended on 30-11-2023."
    assert reasons[1].nl == "Anna de Vries: KP-registratie verlopen op 30-11-2023."
    assert "Fractional laser, face" in reasons[5].nl and "catalogus" in reasons[5].nl
    assert "laser" in reasons[-1].nl and "€ 0,00" in reasons[-1].nl and "EUR 0,00" in reasons[-1].en
    [batch_verdict] = validate_batch([worst], claim_date=CLAIM_DATE, rules=ClaimRules(bsn_required=True),
                                     cap_remaining={worst.cap_key: D("0.00")}).verdicts
    assert batch_verdict.codes == tuple(codes(reasons))


def test_referral_reasons_name_the_referrer():
    late = replace(REFERRAL, referral_date=DAY + timedelta(days=1))
    [reason] = validate_line(line(referral_required=True, referral=late), claim_date=CLAIM_DATE)
    assert "huisarts J. Jansen" in reason.nl and "11-03-2026" in reason.nl and "10-03-2026" in reason.nl
    assert "GP" not in reason.nl  # the Dutch reason names the referrer in Dutch
    assert "GP (huisarts) J. Jansen" in reason.en


def test_reason_texts_name_the_facts():
    [reason] = validate_line(line(policy=PolicyFacts("ZK-9", date(2025, 1, 1), date(2025, 12, 31))),
                             claim_date=CLAIM_DATE)
    assert reason.code == ReasonCode.POLICY_NOT_VALID == "policy_not_valid"
    assert "ZK-9" in reason.nl and "31-12-2025" in reason.nl and "10-03-2026" in reason.nl
    assert reason.text("en") == reason.en and reason.text() == reason.nl
    [claimed] = validate_line(line(already_claimed=True, claimed_in="3311-2026-004"), claim_date=CLAIM_DATE)
    assert "3311-2026-004" in claimed.nl and "3311-2026-004" in claimed.en


@pytest.mark.parametrize(("treated", "claimed_on", "months", "late"), [
    (date(2025, 1, 31), date(2026, 1, 31), 12, False),   # exactly 12 months: still in time
    (date(2025, 1, 31), date(2026, 2, 1), 12, True),
    (date(2024, 2, 29), date(2025, 2, 28), 12, False),   # leap day: the deadline clamps to the month's end
    (date(2024, 2, 29), date(2025, 3, 1), 12, True),
    (date(2025, 8, 31), date(2026, 2, 28), 6, False),    # 6-month insurer: 31 August + 6 = 28 February
    (date(2025, 8, 31), date(2026, 3, 1), 6, True),
    (date(2026, 3, 10), date(2026, 3, 10), 12, False),
])
def test_claim_deadline_boundaries(treated, claimed_on, months, late):
    reasons = validate_line(line(treatment_date=treated, policy=PolicyFacts("P", date(2020, 1, 1)),
                                 therapist=replace(THERAPIST, eligible=True)),
                            claim_date=claimed_on, rules=ClaimRules(deadline_months=months))
    assert codes(reasons) == (["past_deadline"] if late else [])
    if late:
        assert claim_deadline(treated, months).strftime("%d-%m-%Y") in reasons[0].nl


def test_default_deadline_is_twelve_months_and_at_least_one():
    assert ClaimRules().deadline_months == 12
    with pytest.raises(ValueError):
        ClaimRules(deadline_months=0)


@pytest.mark.parametrize(("remaining", "expected"), [
    (None, []), (D("0.01"), []), (D("0.00"), ["cap_used_up"]), (D("-5.00"), ["cap_used_up"]),
])
def test_validate_line_with_what_is_left_of_the_cap(remaining, expected):
    assert codes(validate_line(line(cap_group="zk-2026", cap_year=2026), claim_date=CLAIM_DATE,
                               cap_remaining=remaining)) == expected


# ---- caps are used up cumulatively, in date order ---------------------------------------------------------


def test_caps_are_consumed_in_date_order_whatever_the_input_order():
    key = (10, "zk-2026", 2026)
    lines = [line(line_id=i, treatment_date=date(2026, 2, d), cap_group="zk-2026", cap_year=2026,
                  expected_reimbursement=D("120.00"))
             for i, d in ((1, 20), (2, 3), (3, 10), (4, 27))]
    for order in itertools.permutations(lines):
        result = validate_batch(order, claim_date=CLAIM_DATE, cap_remaining={key: D("300.00")})
        assert [v.line.treatment_date.day for v in result.verdicts] == [3, 10, 20, 27]
        assert [v.claimable for v in result.verdicts] == [D("120.00"), D("120.00"), D("60.00"), D("0.00")]
        assert [v.codes for v in result.verdicts] == [(), (), (), ("cap_used_up",)]
        assert [v.cap_remaining_before for v in result.verdicts] == [D("300.00"), D("180.00"), D("60.00"), D("0.00")]
        assert result.cap_remaining == {key: D("0.00")}
        assert result.claimed_total == D("300.00")


def test_an_excluded_line_uses_no_cap_and_other_caps_are_separate():
    caps = {(10, "zk-2026", 2026): D("100.00"), (11, "zk-2026", 2026): D("50.00"),
            (10, "zk-2026", 2025): D("0.00")}
    lines = [
        line(line_id=1, treatment_date=date(2026, 1, 5), cap_group="zk-2026", cap_year=2026, policy=None),
        line(line_id=2, treatment_date=date(2026, 1, 6), cap_group="zk-2026", cap_year=2026),
        line(line_id=3, treatment_date=date(2026, 1, 6), patient_id=11, cap_group="zk-2026", cap_year=2026),
        line(line_id=4, treatment_date=date(2026, 1, 7)),                                    # no cap at all
        line(line_id=5, treatment_date=date(2026, 1, 7), cap_group="zk-2026", cap_year=2025),  # other year
    ]
    result = validate_batch(lines, claim_date=CLAIM_DATE, cap_remaining=caps)
    by_id = {v.line.line_id: v for v in result.verdicts}
    assert by_id[1].codes == ("no_policy",) and by_id[1].claimable == 0
    assert by_id[2].claimable == D("85.00") and by_id[2].cap_remaining_after == D("15.00")
    assert by_id[3].claimable == D("50.00")
    assert by_id[4].claimable == D("85.00") and by_id[4].cap_remaining_before is None
    assert by_id[5].codes == ("cap_used_up",)
    assert [v.line.line_id for v in result.included] == [2, 3, 4]
    assert [v.line.line_id for v in result.excluded] == [1, 5]


def test_same_day_lines_are_taken_by_line_id():
    lines = [line(line_id=i, cap_group="g", cap_year=2026, expected_reimbursement=D("70")) for i in (9, 3, 5)]
    result = validate_batch(lines, claim_date=CLAIM_DATE, cap_remaining={(10, "g", 2026): D("100")})
    assert [(v.line.line_id, v.claimable) for v in result.verdicts] == [
        (3, D("70.00")), (5, D("30.00")), (9, D("0.00"))]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 40), st.integers(0, 20_000), st.booleans()),
                max_size=25),
       st.lists(st.integers(0, 40_000), min_size=3, max_size=3), st.randoms(use_true_random=False))
def test_caps_never_overrun(specs, caps_cents, shuffle):
    lines = [line(line_id=i, patient_id=p, treatment_date=date(2026, 1, 1) + timedelta(days=d),
                  expected_reimbursement=D(c) / 100, cap_group="g", cap_year=2026, policy=None if bad else
                  line().policy) for i, (p, d, c, bad) in enumerate(specs)]
    caps = {(p, "g", 2026): D(c) / 100 for p, c in enumerate(caps_cents)}
    result = validate_batch(lines, claim_date=date(2026, 2, 15), cap_remaining=caps)
    shuffled = list(lines)
    shuffle.shuffle(shuffled)
    assert validate_batch(shuffled, claim_date=date(2026, 2, 15), cap_remaining=caps) == result
    for patient, cap in caps.items():
        used = sum((v.claimable for v in result.verdicts if v.line.cap_key == patient), D("0"))
        assert used <= cap
        assert result.cap_remaining[patient] == cap - used
    for verdict in result.verdicts:
        assert 0 <= verdict.claimable <= verdict.line.expected_reimbursement
        if verdict.included:
            assert verdict.cap_remaining_before > 0
        if "cap_used_up" in verdict.codes:
            assert verdict.cap_remaining_before <= 0


# ---- the claim sheet's columns ----------------------------------------------------------------------------


def test_every_row_value_has_a_column_and_the_default_follows_the_issue():
    assert set(COLUMN_SPECS) == {f.name for f in fields(ClaimRow)}
    assert ClaimTemplate.default().keys == DEFAULT_COLUMN_KEYS
    assert len(DEFAULT_COLUMN_KEYS) == 22  # issue 11: technique, KP level and NVH number added
    assert {"prestatiecode", "technique", "kp_number", "kp_level", "nvh_number", "referral"} <= set(DEFAULT_COLUMN_KEYS)
    assert "bsn" not in ClaimTemplate.default(bsn_required=False).keys
    assert ClaimTemplate.default().columns[0] == TemplateColumn("patient_name", "Naam patiënt")


def test_template_config_round_trip_and_errors():
    template = ClaimTemplate.from_config(["claim_reference", {"key": "amount", "header": "Bedrag incl."},
                                          {"key": "patient_name"}])
    assert template.keys == ("claim_reference", "amount", "patient_name")
    assert [c.header for c in template.columns] == ["Claimreferentie", "Bedrag incl.", "Naam patiënt"]
    assert ClaimTemplate.from_config(template.to_config()) == template
    for bad in ([], ["nope"], ["amount", "amount"], [{"key": "amount", "header": " "}]):
        with pytest.raises(TemplateError):
            ClaimTemplate.from_config(bad)


def test_claim_row_and_excluded_row_from_verdicts():
    key = (10, "g", 2026)
    result = validate_batch([line(cap_group="g", cap_year=2026, referral=REFERRAL, technique="Fractional laser"),
                             line(line_id=2, policy=None)], claim_date=CLAIM_DATE, cap_remaining={key: D("50")})
    row = claim_row(result.included[0], "3311-2026-001-00001")
    assert row.expected_reimbursement == D("50.00") and row.amount == D("85.00")
    assert row.claim_reference == "3311-2026-001-00001" and row.policy_number == "ZK-001"
    assert row.category == "Acne" and row.indication == "Acne" and row.kp_number == "KP-77"
    assert row.referral.startswith("GP (huisarts) J. Jansen (AGB 01234567), 05-01-2026: acne vulgaris")
    assert row.referral_date == date(2026, 1, 5) and row.referrer_agb == "01234567"
    excluded = excluded_row(result.excluded[0])
    assert excluded.reasons[0].code == "no_policy" and excluded.amount == D("85.00")


def test_numbers_and_references():
    assert batch_number("3311", 2026, 4) == "3311-2026-004"
    assert claim_reference("3311-2026-004", 12) == "3311-2026-004-00012"
    assert normalise_reference(" 3311-2026-004-00012 \n") == normalise_reference("3311-2026-004-00012")
    assert normalise_reference("ab 12") == "AB12"
    for bad in (lambda: batch_number("3311", 2026, 0), lambda: claim_reference("x", 0)):
        with pytest.raises(ValueError):
            bad()


# ---- lifecycle ---------------------------------------------------------------------------------------------

ALLOWED = {
    ("draft", "exported"), ("draft", "cancelled"), ("exported", "exported"), ("exported", "submitted"),
    ("exported", "cancelled"), ("submitted", "closed"),
}
PAID = LineOutcome(D("50"), LineStatus.PAID, D("50"))
PENDING = LineOutcome(D("50"))


@pytest.mark.parametrize(("current", "target"), list(itertools.product(BatchStatus, BatchStatus)))
def test_batch_transitions(current, target):
    if (current.value, target.value) in ALLOWED:
        assert batch_transition(current, target, [PAID]) is target
    else:
        with pytest.raises(TransitionError):
            batch_transition(current, target, [PAID])
    assert {(c.value, t.value) for c, ts in BATCH_TRANSITIONS.items() for t in ts} == ALLOWED


def test_a_batch_closes_only_when_every_line_has_an_outcome():
    with pytest.raises(TransitionError):
        batch_transition(BatchStatus.SUBMITTED, BatchStatus.CLOSED, [PAID, PENDING])
    with pytest.raises(TransitionError):
        batch_transition(BatchStatus.SUBMITTED, BatchStatus.CLOSED, [])
    assert close_when_complete(BatchStatus.SUBMITTED, [PAID, PENDING]) is BatchStatus.SUBMITTED
    assert close_when_complete(BatchStatus.SUBMITTED, [PAID]) is BatchStatus.CLOSED
    assert close_when_complete(BatchStatus.EXPORTED, [PAID]) is BatchStatus.EXPORTED
    assert not batch_complete([]) and batch_complete([PAID])


def test_only_a_draft_has_editable_lines():
    assert [s for s in BatchStatus if lines_editable(s)] == [BatchStatus.DRAFT]


REJECTION = Reason("V12", "Geen verwijzing ontvangen.", "No referral received.")


@pytest.mark.parametrize(("paid", "reason", "status"), [
    (D("50.00"), None, LineStatus.PAID),
    (D("20.00"), None, LineStatus.PARTLY_PAID),
    (D("0.01"), REJECTION, LineStatus.PARTLY_PAID),
    (D("49.99"), None, LineStatus.PARTLY_PAID),
    (D("0.00"), REJECTION, LineStatus.REJECTED),
])
def test_outcomes_follow_from_the_payment(paid, reason, status):
    outcome = record_outcome(BatchStatus.SUBMITTED, PENDING, paid=paid, reason=reason)
    assert outcome.status is status and outcome.paid == paid and outcome.reason == reason
    assert outcome.shortfall == D("50") - paid


@pytest.mark.parametrize(("paid", "reason"), [(D("0"), None), (D("-1"), REJECTION), (D("50.01"), None)])
def test_impossible_outcomes_are_refused(paid, reason):
    with pytest.raises(ValueError):
        record_outcome(BatchStatus.SUBMITTED, PENDING, paid=paid, reason=reason)


@pytest.mark.parametrize("status", [s for s in BatchStatus if s is not BatchStatus.SUBMITTED])
def test_outcomes_only_on_submitted_batches(status):
    with pytest.raises(TransitionError):
        record_outcome(status, PENDING, paid=D("50"))


def test_outcome_invariants_and_corrections():
    rejected = record_outcome(BatchStatus.SUBMITTED, PENDING, paid=D("0"), reason=REJECTION)
    corrected = record_outcome(BatchStatus.SUBMITTED, rejected, paid=D("50"))
    assert corrected.status is LineStatus.PAID
    for status, paid in ((LineStatus.PENDING, D("1")), (LineStatus.REJECTED, D("0")), (LineStatus.PAID, D("49")),
                         (LineStatus.PARTLY_PAID, D("50"))):
        with pytest.raises(ValueError):
            LineOutcome(D("50"), status, paid)
    with pytest.raises(ValueError):
        Reason("", "text")
    with pytest.raises(ValueError):
        Reason("x", "", "")


@pytest.mark.parametrize(("batch", "line_status", "live"), [
    (BatchStatus.DRAFT, LineStatus.PENDING, True),
    (BatchStatus.EXPORTED, LineStatus.PENDING, True),
    (BatchStatus.SUBMITTED, LineStatus.PENDING, True),
    (BatchStatus.SUBMITTED, LineStatus.PAID, True),
    (BatchStatus.CLOSED, LineStatus.PARTLY_PAID, True),
    (BatchStatus.SUBMITTED, LineStatus.REJECTED, False),
    (BatchStatus.CLOSED, LineStatus.REJECTED, False),
    (BatchStatus.CANCELLED, LineStatus.PENDING, False),
])
def test_which_claims_are_live(batch, line_status, live):
    assert claim_is_live(batch, line_status) is live


def test_a_rejected_line_is_resubmitted_in_a_new_batch_keeping_its_history():
    first = ClaimAttempt("3311-2026-001", "3311-2026-001-00003", BatchStatus.SUBMITTED, PENDING)
    assert already_claimed([first]) == first and not can_resubmit([first])
    rejected = replace(first, outcome=record_outcome(BatchStatus.SUBMITTED, PENDING, paid=D("0"), reason=REJECTION))
    history = [replace(rejected, batch_status=BatchStatus.CLOSED)]
    assert already_claimed(history) is None and can_resubmit(history)
    # The fix is validated like any line: the history tells the validation it is not claimed any more.
    assert validate_line(line(already_claimed=already_claimed(history) is not None), claim_date=CLAIM_DATE) == []
    second = ClaimAttempt("3311-2026-002", claim_reference("3311-2026-002", 1), BatchStatus.DRAFT, PENDING)
    history.append(second)
    assert already_claimed(history) == second and not can_resubmit(history)
    assert [a.claim_reference for a in history] == ["3311-2026-001-00003", "3311-2026-002-00001"]
    paid = [replace(second, batch_status=BatchStatus.CLOSED, outcome=PAID)]
    assert not can_resubmit(paid) and not can_resubmit([])
    cancelled = [replace(second, batch_status=BatchStatus.CANCELLED)]
    assert already_claimed(cancelled) is None and can_resubmit(cancelled)


# ---- remittance --------------------------------------------------------------------------------------------


def claims(*amounts, settled: dict | None = None):
    settled = settled or {}
    return [ClaimedLine(f"3311-2026-001-{i:05d}", settled.get(i, LineOutcome(D(a))))
            for i, a in enumerate(amounts, 1)]


def test_remittance_happy_path():
    rows = [RemittanceRow(2, "3311-2026-001-00001", D("50.00")),
            RemittanceRow(3, "3311-2026-001-00002", D("30.00"), "P1", "Maximum bereikt"),
            RemittanceRow(4, "3311-2026-001-00003", D("0"), "V12", "Geen verwijzing")]
    result = match_remittance(claims("50", "40", "60"), rows)
    assert [m.outcome.status for m in result.matched] == [LineStatus.PAID, LineStatus.PARTLY_PAID,
                                                          LineStatus.REJECTED]
    assert result.matched[2].outcome.reason == Reason("V12", "Geen verwijzing")
    assert result.matched[1].outcome.reason.code == "P1"
    assert (result.matched_claimed, result.matched_paid, result.matched_shortfall) == (D("150"), D("80"), D("70"))
    assert result.unmatched == result.disputed == result.missing == result.unchanged == ()


def test_remittance_unmatched_missing_and_normalised_references():
    rows = [RemittanceRow(2, " 3311-2026-001-00001", D("50")), RemittanceRow(3, "9999-2026-001-00001", D("12.50")),
            RemittanceRow(4, "3311-2026-001- 00002\t", D("40"))]
    result = match_remittance(claims("50", "40", "60"), rows)
    assert [m.claim.reference for m in result.matched] == ["3311-2026-001-00001", "3311-2026-001-00002"]
    assert [r.row_number for r in result.unmatched] == [3] and result.unmatched_amount == D("12.50")
    assert [c.reference for c in result.missing] == ["3311-2026-001-00003"] and result.missing_claimed == D("60")


def test_remittance_disputes():
    settled = {4: LineOutcome(D("10"), LineStatus.PAID, D("10")), 5: LineOutcome(D("10"), LineStatus.PAID, D("10"))}
    rows = [RemittanceRow(2, "3311-2026-001-00001", D("20")), RemittanceRow(3, "3311-2026-001-00001", D("20")),
            RemittanceRow(4, "3311-2026-001-00002", D("40.01")), RemittanceRow(5, "3311-2026-001-00003", D("-5")),
            RemittanceRow(6, "3311-2026-001-00004", D("0"), "X", "Dubbel"),
            RemittanceRow(7, "3311-2026-001-00005", D("10"))]
    result = match_remittance(claims("20", "40", "60", "10", "10", settled=settled), rows)
    assert [(d.row.row_number, d.code) for d in result.disputed] == [
        (2, DisputeCode.DUPLICATE_REFERENCE), (3, DisputeCode.DUPLICATE_REFERENCE), (4, DisputeCode.OVERPAID),
        (5, DisputeCode.NEGATIVE_AMOUNT), (6, DisputeCode.OUTCOME_CONFLICT)]
    assert result.disputed_amount == D("75.01")
    assert [m.row.row_number for m in result.unchanged] == [7]
    assert result.matched == () and result.missing == ()


def test_a_rejection_without_reason_gets_the_unspecified_reason():
    result = match_remittance(claims("50"), [RemittanceRow(2, "3311-2026-001-00001", D("0"))])
    assert result.matched[0].outcome.reason == UNSPECIFIED_REJECTION
    only_text = RemittanceRow(2, "x", D("0"), reason_text="Polis beëindigd").reason()
    assert only_text == Reason("unspecified", "Polis beëindigd")


@pytest.mark.parametrize(("text", "amount"), [
    ("12,50", "12.50"), ("12.5", "12.50"), ("1.234,56", "1234.56"), ("1,234.56", "1234.56"),
    ("€ 12,50", "12.50"), ("EUR 7", "7.00"), ("-3,00", "-3.00"), ("+3", "3.00"), ("1.234,00", "1234.00"),
    ("199,50", "199.50"), ("1 234,50", "1234.50"), ("12.345.678,9", "12345678.90"), (5, "5.00"), (2.675, "2.68"),
    (D("0.005"), "0.01"),
])
def test_parse_amount(text, amount):
    assert parse_amount(text) == D(amount)


@pytest.mark.parametrize("text", ["", "abc", "1.2345", "1,23,45", "--1", "1.234.5", "=1+2", "١٢", True, None])
def test_parse_amount_refuses_what_it_cannot_read(text):
    with pytest.raises(ValueError):
        parse_amount(text)


@pytest.mark.parametrize("text", ["1.234", "1,234", "€ 12,345"])
def test_parse_amount_refuses_an_ambiguous_amount(text):
    with pytest.raises(AmbiguousNumber):
        parse_amount(text)


def test_outcome_for_refuses_disputes():
    with pytest.raises(ValueError):
        outcome_for(D("10"), D("11"))
    assert outcome_for(D("10"), D("10.004")).status is LineStatus.PAID


# ---- outcome statistics --------------------------------------------------------------------------------------

CAP = Reason("cap", "Maximum bereikt", "Cap reached")
NO_REF = Reason("V12", "Geen verwijzing", "No referral")


def tallies():
    zk, cz = "Zilveren Kruis", "CZ"
    return [
        OutcomeTally(zk, "Acne", LineStatus.PAID, D("80"), D("80")),
        OutcomeTally(zk, "Acne", LineStatus.PARTLY_PAID, D("80"), D("30")),
        OutcomeTally(zk, "Acne", LineStatus.REJECTED, D("80"), reason=NO_REF),
        OutcomeTally(zk, "Acne", LineStatus.REJECTED, D("80"), reason=CAP),
        OutcomeTally(zk, "Acne", LineStatus.REJECTED, D("70"), reason=NO_REF, route=ClaimRoute.PATIENT),
        OutcomeTally(zk, "Acne", LineStatus.PENDING, D("80")),
        OutcomeTally(zk, "Hirsutism", LineStatus.REJECTED, D("50")),
        OutcomeTally(cz, "Acne", LineStatus.PAID, D("60"), D("60"), route=ClaimRoute.PATIENT),
    ]


def test_outcome_statistics_per_insurer_and_indication():
    stats = outcome_statistics(tallies(), top=2)
    assert [(s.insurer, s.indication) for s in stats] == [("CZ", "Acne"), ("Zilveren Kruis", "Acne"),
                                                           ("Zilveren Kruis", "Hirsutism")]
    acne = stats[1]
    assert (acne.lines, acne.claimed, acne.paid) == (6, D("470"), D("110"))
    assert (acne.paid_lines, acne.partly_paid_lines, acne.rejected_lines, acne.pending_lines) == (1, 1, 3, 1)
    assert acne.rejected_amount == D("230") and acne.pending_amount == D("80")
    assert acne.settled_claimed == D("390") and acne.paid_share == D("28.21")
    assert [(r.code, r.lines) for r in acne.top_reasons] == [("V12", 2), ("cap", 1)]
    assert acne.top_reasons[0].text == "Geen verwijzing"
    assert acne.by_route == {"batch": 5, "patient": 1}
    assert [(r.code, r.lines) for r in stats[2].top_reasons] == [("unspecified", 1)]
    assert stats[0].paid_share == D("100.00")


def test_outcome_statistics_per_insurer_and_from_grouped_rows():
    per_insurer = outcome_statistics(tallies(), per_indication=False)
    assert [(s.insurer, s.indication, s.lines, s.rejected_lines) for s in per_insurer] == [
        ("CZ", "", 1, 0), ("Zilveren Kruis", "", 7, 4)]
    # What a SQL GROUP BY hands over (count and sums per group) gives the same figures as line by line.
    grouped = [OutcomeTally("ZK", "Acne", LineStatus.REJECTED, D("160"), reason=NO_REF, lines=2),
               OutcomeTally("ZK", "Acne", LineStatus.PAID, D("240"), D("240"), lines=3)]
    per_line = [OutcomeTally("ZK", "Acne", LineStatus.REJECTED, D("80"), reason=NO_REF)] * 2 + \
               [OutcomeTally("ZK", "Acne", LineStatus.PAID, D("80"), D("80"))] * 3
    random.Random(1).shuffle(per_line)
    assert outcome_statistics(grouped) == outcome_statistics(per_line)
    assert outcome_statistics([]) == []
    assert outcome_statistics([OutcomeTally("ZK", "Acne", LineStatus.PENDING, D("5"))])[0].paid_share is None


# ---- the split: one module per use case, claims.py re-exports them -------------------------------------------


def test_claims_re_exports_the_use_case_modules_and_defines_nothing_itself():
    from backoffice.domain import (
        claim_facts,
        claim_lifecycle,
        claim_outcomes,
        claim_reasons,
        claim_sheet,
        claim_validation,
        claims,
        remittance_matching,
    )

    homes = (claim_reasons, claim_facts, claim_validation, claim_sheet, claim_lifecycle, remittance_matching,
             claim_outcomes)
    public = {name for name in vars(claims) if not name.startswith("_") and name != "annotations"}
    assert sorted(claims.__all__) == sorted(public)
    assert len(set(claims.__all__)) == len(claims.__all__)
    for name in claims.__all__:
        defined_in = [m for m in homes if name in vars(m) and getattr(m, name) is getattr(claims, name)]
        assert defined_in, f"{name} is not one of the use-case modules' names"
    # the names the claims services, the bench and these tests use
    assert {"validate_batch", "ClaimTemplate", "BatchStatus", "LineStatus", "match_remittance",
            "outcome_statistics", "CapKey", "DEFAULT_DEADLINE_MONTHS", "Reason"} <= set(claims.__all__)
