"""Message templates for e-mails to patients (backoffice/domain/patient_mail.py): the Dutch defaults, which
placeholders a template may hold, and filling in that never reaches past the values given. No app needed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backoffice.domain.patient_mail import (
    DEFAULT_TEXTS,
    EXAMPLE_VALUES,
    KIND_PLACEHOLDERS,
    PLACEHOLDERS,
    MessageKind,
    MessageText,
    TemplateError,
    compose,
    fill,
    placeholders_in,
    template_problems,
)


def _problems(kind: MessageKind, body: str) -> list[str]:
    return [str(problem) for problem in template_problems(kind, "Onderwerp", body)]


def test_every_kind_has_a_dutch_default_that_uses_only_its_own_placeholders():
    assert set(DEFAULT_TEXTS) == set(MessageKind) == set(KIND_PLACEHOLDERS)
    for kind, text in DEFAULT_TEXTS.items():
        assert template_problems(kind, text.subject, text.body) == [], kind
        assert set(KIND_PLACEHOLDERS[kind]) <= set(PLACEHOLDERS)
        filled = compose(text, EXAMPLE_VALUES)
        assert "{" not in filled.subject + filled.body, kind  # every placeholder filled in
        assert filled.body.startswith("Beste Anna de Vries,") and "Met vriendelijke groet" in filled.body
    assert "bsn" not in " ".join(PLACEHOLDERS)  # a BSN is never offered to an e-mail
    formal = compose(DEFAULT_TEXTS[MessageKind.REMINDER_FORMAL], EXAMPLE_VALUES).body
    assert "binnen 14 dagen" in formal and "EUR 40,00" in formal and "22-12-2026" in formal


@pytest.mark.parametrize(("body", "says"), [
    ("Beste {patient_name}, uw BSN is {bsn}.", "Unknown placeholder {bsn}"),
    ("{patient_name.__class__}", "{patient_name.__class__} is not allowed"),
    ("{patient_name[0]}", "{patient_name[0]} is not allowed"),
    ("{patient_name!r}", "{patient_name!r} is not allowed"),
    ("{amount:>20}", "{amount:>20} is not allowed"),
    ("{0}", "{0} is not allowed"),
    ("Beste {}", "{} is not allowed"),
    ("Beste {patient_name", "A brace without its partner"),
    ("Beste patient_name}", "A brace without its partner"),
    ("Betaal voor {deadline}", "{deadline} has no value in this message"),
])
def test_a_template_is_refused_with_a_reason_for_anything_but_its_plain_placeholders(body, says):
    problems = _problems(MessageKind.INVOICE, body)
    assert problems and says in problems[0]
    if "Possible here" in problems[0]:
        possible = problems[0].split("Possible here:")[1]
        assert "{invoice_number}" in possible and "{deadline}" not in possible


def test_placeholders_differ_per_kind_and_braces_are_written_doubled():
    assert _problems(MessageKind.REMINDER_FORMAL, "Uiterlijk {deadline}, kosten {collection_costs}.") == []
    assert _problems(MessageKind.AFTERCARE, "Factuur {invoice_number}") != []
    assert placeholders_in("{{letterlijk}} {patient_name}") == ["patient_name"]
    assert fill("{{letterlijk}} {patient_name}", {"patient_name": "Anna"}) == "{letterlijk} Anna"
    assert [str(p) for p in template_problems(MessageKind.INVOICE, " ", "")] == \
        ["Enter a subject.", "Enter the text of the message."]


def test_filling_in_refuses_a_placeholder_without_a_value_and_makes_the_subject_one_line():
    with pytest.raises(TemplateError, match="has no value"):
        fill("{amount}", {})
    text = compose(MessageText("Factuur\r\n{invoice_number}  van {practice_name}", "Beste {patient_name}\r\n"),
                   {"invoice_number": "2026-00001", "practice_name": "Huid\nkliniek", "patient_name": "Anna"})
    assert text.subject == "Factuur 2026-00001 van Huid kliniek"  # a mail header: never a line break
    assert text.body == "Beste Anna\n"


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=40), st.text(max_size=40))
def test_values_are_inserted_as_they_are_and_never_read_as_a_template(name, number):
    # A patient called "{invoice_number}" or "{0.__class__}" gets exactly that name, nothing looked up.
    filled = fill("Beste {patient_name}, factuur {invoice_number}.", {"patient_name": name, "invoice_number": number})
    assert filled == f"Beste {name}, factuur {number}."
