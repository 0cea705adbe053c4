"""Page text in the reader's language: English in the code, Simplified Chinese from a catalogue.

Every string a page shows goes through :func:`tr`, written in English, the way gettext's
``_()`` is used: ``tr("Load sample")``, and for text with values
``tr("Data set **{name}** is ready").format(name=...)`` (placeholders stay in the
translation). The catalogue is ``app_pages/locales/<language>/*.json``: one JSON object
per page, English text → translation; a missing entry falls back to English, and
``tests/test_i18n.py`` fails on any string a page wraps that has no translation.

Text from the engine (``lepton_core``: verdicts, warnings, family names, errors) arrives
as :class:`lepton_core.core.Message` and is shown through :func:`say`, which renders it
from the engine's own catalogue (``lepton_core/core/locales``); the CLI stays in English.

The language follows the browser (``st.context.locale``) until the reader picks one in
the sidebar.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import streamlit as st

from lepton_core.core import in_language

__all__ = ["LANGUAGES", "catalogue", "language", "language_switch", "say", "tr"]

#: Language code → its own name, for the sidebar switch.
LANGUAGES = {"en": "English", "zh": "简体中文"}
_LOCALES = Path(__file__).parent / "locales"
_CHOSEN = "language"  # session state: the reader's choice in the sidebar


@functools.cache
def catalogue(code: str) -> dict[str, str]:
    """Every translation into ``code``, from all the catalogue files of that language."""
    merged: dict[str, str] = {}
    for path in sorted((_LOCALES / code).glob("*.json")):
        merged.update(json.loads(path.read_text(encoding="utf-8")))
    return merged


def language() -> str:
    """The reader's language: their choice, else the browser's when Lepton speaks it."""
    chosen = st.session_state.get(_CHOSEN)
    if chosen in LANGUAGES:
        return chosen
    locale = (st.context.locale or "en").lower()
    code = locale.split("-")[0]
    return code if code in LANGUAGES else "en"


def tr(text: str) -> str:
    """``text`` in the reader's language (``text`` itself in English or when untranslated)."""
    code = language()
    return text if code == "en" else catalogue(code).get(text, text)


def say(text: object) -> str:
    """Engine text in the reader's language: a Message, or an error raised with one.

    Anything else (text saved before the engine kept Messages, a plain value) is shown
    as ``str(text)``.
    """
    return in_language(text, language())


def language_switch() -> None:
    """The sidebar's language picker."""
    codes = list(LANGUAGES)
    st.sidebar.selectbox(
        "Language / 语言",
        codes,
        index=codes.index(language()),
        format_func=LANGUAGES.get,
        key=_CHOSEN,
    )
