"""Text-model widgets shared by the Train, Explain and demo pages (the Train page draws the
text family's settings like any family's, with ``app_pages._settings``; here are its default
text family and the note on the texts' language)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from app_pages._common import workspace
from app_pages._i18n import language, say, tr
from lepton_core.core import cache_entries
from lepton_core.models import family_class
from lepton_core.plots import token_highlight_html
from lepton_core.text import TextLanguage, default_text_family, detect_language
from lepton_core.workspace import DatasetInfo


@st.cache_data(show_spinner=False, max_entries=cache_entries(32))
def _language(dataset_id: str, column: str) -> dict[str, Any]:
    df, _ = workspace().load_dataset(dataset_id)
    return detect_language(df[column]).to_dict()


def text_language(dataset: DatasetInfo) -> TextLanguage:
    """The guessed language of the data set's text column (read once per data set)."""
    return TextLanguage.from_dict(_language(dataset.id, dataset.text_column))


def default_family_index(choices: list[str], dataset: DatasetInfo) -> int:
    """Where the engine's default text family (``ngram``, in every language) is among the
    Train page's family choices: the selectbox's ``index``."""
    first = default_text_family(text_language(dataset))
    return choices.index(first) if first in choices else 0


def language_note(dataset: DatasetInfo, family: str, params: dict[str, Any]) -> None:
    """The texts' language, and a warning when the chosen family with ``params`` does not
    read it (MiniLM on Chinese reviews)."""
    texts = text_language(dataset)
    note = getattr(family_class(family), "language_note", None)
    said = note(texts, params) if note is not None else ""
    if said:
        st.warning(tr("{note} Pick the n-gram model, or Auto.").format(note=say(said)))
    else:
        st.caption(tr("The texts look {language}.").format(language=say(texts.name)))


def token_highlights(expl: Any, row: int, output: int | str) -> None:
    """A text with each token coloured by its SHAP contribution toward ``output``."""
    st.html(token_highlight_html(expl, row, output, language=language()))
