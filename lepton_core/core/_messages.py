"""Engine text as data, so that a page can show it in the reader's language.

A :class:`Message` is a ``str`` whose value is the English text, so the CLI, logs and
every caller that prints, compares or formats engine text keep working unchanged; it
also carries the catalogue ``id`` and the ``values`` of its placeholders, from which
:meth:`Message.render` writes it in another language::

    note = Message("evaluation.many_columns", columns=5000, rows=80)
    str(note)            # "The model learns from 5,000 columns but there are only 80 rows. …"
    note.render("zh")    # "模型从 5,000 列中学习，但只有 80 行。…"

The templates live in one folder per language, ``locales/<language>/*.json`` next to
this module (one file per part of the engine, merged): id → :meth:`str.format`
template. Values keep their type, so numbers are formatted by the template
(``{rows:,}``) identically in every language; a value that is itself a Message is
rendered in the same language. An id missing from a translation falls back to English;
``tests/test_engine_i18n.py`` keeps the catalogues complete.

Errors carry a Message the same way: ``raise DataError(Message(...))`` keeps
``str(error)`` English. Functions that write whole texts themselves (chart titles, the
model card) take a ``language`` argument.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["LANGUAGES", "Message", "Translated", "in_language", "message_catalogue"]

#: The languages the engine can write, by code.
LANGUAGES = ("en", "zh")
_LOCALES = Path(__file__).parent / "locales"


@functools.cache
def message_catalogue(language: str) -> dict[str, str]:
    """Every template in ``language``: id → template (empty for a language with none)."""
    merged: dict[str, str] = {}
    for path in sorted((_LOCALES / language).glob("*.json")):
        merged.update(json.loads(path.read_text(encoding="utf-8")))
    return merged


class Message(str):
    """English text from the engine that knows its catalogue id and placeholder values.

    Parameters
    ----------
    id : str
        The template's key in the catalogues; a literal at the call site, so that the
        catalogue test can find every one.
    **values
        The placeholders' values: numbers, text, or other Messages.
    """

    id: str
    values: Mapping[str, Any]

    def __new__(cls, id: str, /, **values: Any) -> Message:
        self = super().__new__(cls, _fill(message_catalogue("en")[id], values, "en"))
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "values", dict(values))
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a Message cannot be changed")

    def __reduce__(self) -> tuple[Any, ...]:
        # Copies and pickles rebuild the Message, not a bare str.
        return (_rebuild, (self.id, dict(self.values)))

    def __repr__(self) -> str:
        return f"Message({self.id!r}, {str(self)!r})"

    def render(self, language: str = "en") -> str:
        """The text in ``language`` (English where that language has no template)."""
        if language == "en":
            return str(self)
        template = message_catalogue(language).get(self.id) or message_catalogue("en")[self.id]
        return _fill(template, self.values, language)

    def to_dict(self) -> dict[str, Any]:
        """``{"id", "text", "values"}`` for JSON: the English text for people and scripts
        that read the file, the id and values (nested Messages included) to render it."""
        return {
            "id": self.id,
            "text": str(self),
            "values": {k: _saved(v) for k, v in self.values.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Message:
        """The Message that :meth:`to_dict` wrote."""
        values = {k: _loaded(v) for k, v in data["values"].items()}
        return cls(data["id"], **values)


class Translated(str):
    """A placeholder value that comes in each language from elsewhere (a library's own
    translations of country names, say): ``str()`` is the English, and a Message renders
    the reader's language, or English where it has none."""

    names: Mapping[str, str]

    def __new__(cls, names: Mapping[str, str]) -> Translated:
        self = super().__new__(cls, names["en"])
        object.__setattr__(self, "names", dict(names))
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a Translated value cannot be changed")

    def __reduce__(self) -> tuple[Any, ...]:
        # Copies and pickles rebuild it with every language.
        return (Translated, (dict(self.names),))

    def render(self, language: str = "en") -> str:
        """The value in ``language``."""
        return self.names.get(language) or self.names["en"]


def in_language(text: object, language: str) -> str:
    """``text`` in ``language``: a Message rendered, an error raised with a Message rendered
    from it, anything else (text saved before the engine kept Messages) as ``str(text)``."""
    if isinstance(text, BaseException) and text.args and isinstance(text.args[0], Message):
        text = text.args[0]
    return text.render(language) if isinstance(text, Message) else str(text)


def _saved(value: Any) -> Any:
    """A placeholder value as JSON (:meth:`Message.to_dict`)."""
    if isinstance(value, Message):
        return value.to_dict()
    if isinstance(value, Translated):
        return {"languages": dict(value.names)}
    return value


def _loaded(value: Any) -> Any:
    """What :func:`_saved` wrote, back."""
    if isinstance(value, Mapping) and {"id", "values"} <= set(value):
        return Message.from_dict(value)
    if isinstance(value, Mapping) and set(value) == {"languages"}:
        return Translated(value["languages"])
    return value


def _rebuild(id: str, values: dict[str, Any]) -> Message:
    return Message(id, **values)


def _fill(template: str, values: Mapping[str, Any], language: str) -> str:
    rendered = {
        k: v.render(language) if isinstance(v, Message | Translated) else v
        for k, v in values.items()
    }
    return template.format(**rendered)
