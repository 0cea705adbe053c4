"""Text-model widgets shared by the Train, Explain and demo pages (the Train page draws the
text family's settings like any family's, with ``app_pages._settings``; here are its default
text family and the note on the texts' language)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from app_pages._common import fmt, guard, python_cell, workspace
from app_pages._i18n import tr
from lepton_core.explain import Explanation, explain
from lepton_core.models import family_class
from lepton_core.plots import token_highlight_html, token_importance_figure
from lepton_core.text import TextLanguage, default_text_family, detect_language
from lepton_core.workspace import DatasetInfo, RunSummary


@st.cache_data(show_spinner=False, max_entries=32)
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
    language = text_language(dataset)
    note = getattr(family_class(family), "language_note", None)
    said = note(language, params) if note is not None else ""
    if said:
        st.warning(tr("{note} Pick the n-gram model, or Auto.").format(note=said))
    else:
        st.caption(tr("The texts look {language}.").format(language=language.name))


def token_highlights(expl: Any, row: int, output: int | str) -> None:
    """A text with each token coloured by its SHAP contribution toward ``output``."""
    st.html(token_highlight_html(expl, row, output))


def explain_text(run: RunSummary, expl: Explanation, output: int) -> None:
    """The Explain page for a text model: top tokens, then one text's highlighted tokens."""
    st.plotly_chart(token_importance_figure(expl, output=output))
    st.subheader(tr("One text"))
    texts = [next(iter(record.values())) for record in expl.data]
    row = st.selectbox(
        tr("Text (one of the {count} explained test texts)").format(count=len(texts)),
        range(len(texts)),
        format_func=lambda i: _short(texts[i]),
    )
    token_highlights(expl, row, output)
    st.metric(
        tr("Model output ({space})").format(space=expl.output_space),
        fmt(expl.model_output[row][output]),
    )

    st.subheader(tr("Your own text"))
    own = st.text_area(tr("Text to explain"), placeholder=tr("Type or paste a text…"))
    if own.strip() and st.button(tr("Explain this text"), type="primary"):
        model = guard(workspace().load_model, run.model_name, run.model_version)
        frame = pd.DataFrame({expl.feature_names[0]: [own]})
        mine = guard(explain, model, frame)
        label = model.predict(frame)[0]
        st.markdown(tr("Predicted **{label}**").format(label=label))
        token_highlights(mine, 0, output)
    python_cell(
        f"""
from lepton_core.explain import explain
from lepton_core.workspace import Workspace
import pandas as pd
model = Workspace().load_model({run.model_name!r}, {run.model_version!r})
expl = explain(model, pd.DataFrame({{{expl.feature_names[0]!r}: ["a text to explain"]}}))
print(expl.row(0, {output}))  # (column, token, contribution), largest first
"""
    )


def _short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
