"""Words the domain writes for people (labels, reasons), kept translatable without Flask.

The domain stays pure: it marks a fixed label with `N_` (the English text is its own message id) and words a
sentence with parameters as `msg("... %(date)s ...", date=...)`, a `Text` that is rendered when it is shown, in
the language of whoever reads it. backoffice/i18n.py plugs Flask-Babel's gettext in with `set_translator`;
without it (the domain's own tests, a script) texts render in English. Printed documents render inside
`i18n.dutch()`, so they are always Dutch.

A `Text` stores as JSON (`to_json` / `from_json`), so a stored assessment can be shown in either language later.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Translator = Callable[[str], str]


def _untranslated(message: str) -> str:
    return message


_translate: Translator = _untranslated


def set_translator(translator: Translator | None) -> None:
    """Plug in the translation of message ids (Flask-Babel's gettext); None restores English."""
    global _translate
    _translate = translator or _untranslated


def translate(message: str) -> str:
    """The text of a message id in the current language."""
    return _translate(message)


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark for translation, translate later"
    """Mark a fixed label for the message catalogue; it is translated where it is shown (`translate`)."""
    return message


@dataclass(frozen=True)
class Text:
    """A sentence with parameters, rendered in the current language when turned into a string.

    Parameters may be Texts themselves (a label inside a sentence); they are rendered first. A list parameter is
    the concatenation of its items (Texts or strings; `join` and `names` build such lists). `lower_first` starts
    the rendered text with a lower-case letter: a label (Face, Scars) inside a sentence (of the face)."""

    msgid: str
    params: Mapping[str, Any] = field(default_factory=dict)
    lower_first: bool = False

    def render(self, translator: Translator | None = None) -> str:
        words = (translator or _translate)(self.msgid)
        if self.params:
            words = words % {name: _render(value, translator) for name, value in self.params.items()}
        return words[:1].lower() + words[1:] if self.lower_first else words

    def __str__(self) -> str:
        return self.render()

    def __hash__(self) -> int:
        return hash((self.msgid, self.lower_first, tuple(sorted((k, str(v)) for k, v in self.params.items()))))

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"msgid": self.msgid,
                                "params": {name: _value_to_json(value) for name, value in self.params.items()}}
        if self.lower_first:
            data["lower_first"] = True
        return data

    @classmethod
    def from_json(cls, data: Any) -> Text | str:
        """A stored Text; a plain string (stored before texts were translatable) stays as it was."""
        if isinstance(data, dict) and "msgid" in data:
            params = {name: _value_from_json(value) for name, value in (data.get("params") or {}).items()}
            return cls(data["msgid"], params, bool(data.get("lower_first", False)))
        return str(data)


def _render(value: Any, translator: Translator | None) -> Any:
    if isinstance(value, Text):
        return value.render(translator)
    if isinstance(value, list | tuple):
        return "".join(str(_render(item, translator)) for item in value)
    return value


def _value_to_json(value: Any) -> Any:
    if isinstance(value, Text):
        return value.to_json()
    if isinstance(value, list | tuple):
        return [_value_to_json(item) for item in value]
    return value


def _value_from_json(value: Any) -> Any:
    if isinstance(value, dict):
        return Text.from_json(value)
    if isinstance(value, list):
        return [_value_from_json(item) for item in value]
    return value


def msg(message: str, **params: Any) -> Text:
    """A sentence for people: msg("Waiting period until %(date)s.", date=nl_date(day))."""
    return Text(message, params)


def label(message: str | Text) -> Text:
    """A fixed label (marked with N_) as a Text, rendered translated."""
    return message if isinstance(message, Text) else Text(message)


def lowered(message: str | Text) -> Text:
    """A label inside a sentence, starting lower-case in every language: "Face" -> "face", "Gezicht" -> "gezicht"."""
    text = label(message)
    return Text(text.msgid, text.params, lower_first=True)


Words = Text | str  # what the domain hands out for people: a Text, or a plain string stored before Texts existed


def join(items: Iterable[Words], separator: str = "; ") -> list[Words]:
    """Items with `separator` between them, as a list parameter of a Text (rendered when the Text is)."""
    joined: list[Words] = []
    for item in items:
        if joined:
            joined.append(separator)
        joined.append(item)
    return joined


def names(items: Sequence[Words]) -> Words:
    """'face', 'face and neck', 'arms, face and neck': the "and" in the reader's language."""
    if len(items) < 2:
        return items[0] if items else ""
    return msg("%(items)s and %(last)s", items=join(items[:-1], ", "), last=items[-1])


def as_json(words: Words) -> Any:
    """A Text as its JSON form, a plain string as it is: for storing what the domain said."""
    return words.to_json() if isinstance(words, Text) else words


def english(words: Words) -> str:
    """The English wording, whatever the current language (logs, and data written for English readers)."""
    return words.render(_untranslated) if isinstance(words, Text) else words
