"""Named-entity recognition on the pages: the Data page's preview of labelled sentences
(entities highlighted, counts per kind) and their confirmation, the Train page's entity
families and note, the Evaluate page's per-kind scores (and the ready-made kinds used)
and worst sentences, and the Explain page's words behind one name."""

from __future__ import annotations

import html
import time
from typing import Any

import pandas as pd
import streamlit as st

from app_pages._common import choose_dataset, guard, python_cell, workspace
from app_pages._i18n import language, say, tr
from app_pages._images import reads as _table_reads
from lepton_core.core import Message, cache_entries
from lepton_core.explain import Explanation
from lepton_core.models import family_class
from lepton_core.ner import NER_EXTENSIONS, NerData, looks_like_ner, ner_from_jsonl, read_conll
from lepton_core.workspace import DatasetInfo, RunSummary

#: Upload types the Data page accepts for labelled sentences, besides its table types.
NER_UPLOAD_TYPES = [e.lstrip(".") for e in NER_EXTENSIONS]
_SHOWN = 8  # sentences in the preview
_PICKABLE = 200  # test sentences offered on the Explain page
_SEARCHED = 500  # test sentences searched for names to offer (a second or so for MiniLM)
# Light backgrounds that keep dark text readable; a type keeps its colour on every page.
_COLOURS = ["#fde68a", "#bfdbfe", "#bbf7d0", "#fecaca", "#ddd6fe", "#fbcfe8", "#fed7aa", "#a5f3fc"]


def reads(dataset: DatasetInfo) -> str:
    """What the data set's models read: ``"ner"``, ``"image"``, ``"text"`` or ``"table"``."""
    from lepton_core.runs import is_ner_dataset

    return "ner" if is_ner_dataset(dataset) else _table_reads(dataset)


def model_task(dataset: DatasetInfo) -> str:
    """The task to build the data set's models with: entity families are built as
    ``multiclass`` (one tag per token)."""
    return "multiclass" if reads(dataset) == "ner" else dataset.task


def is_ner_upload(upload: Any) -> bool:
    """Whether an uploaded file holds labelled sentences (CoNLL/BIO or JSON lines with spans)."""
    return upload is not None and looks_like_ner(upload.getvalue(), upload.name)


@st.cache_data(show_spinner=False, max_entries=8)
def _read(raw: bytes, name: str) -> NerData:
    if name.lower().endswith(".jsonl"):
        return ner_from_jsonl(raw, name)
    return read_conll(raw, name)


def _colour(kind: str, types: list[str]) -> str:
    return _COLOURS[types.index(kind) % len(_COLOURS)] if kind in types else "#e5e7eb"


def highlight(text: str, entities: list[Any], types: list[str], label: str = "") -> str:
    """``text`` as HTML with each entity (an Entity or a dict) in a coloured span with its
    type, after ``label``; every piece of text is escaped."""
    spans = sorted(
        (e if isinstance(e, dict) else e.to_dict() for e in entities), key=lambda e: e["start"]
    )
    parts, at = [f"<small>{html.escape(label)}</small> " if label else ""], 0
    for e in spans:
        start, end, kind = int(e["start"]), int(e["end"]), str(e["type"])
        if start < at:  # overlapping spans cannot be drawn inline; keep the first
            continue
        parts.append(html.escape(text[at:start]))
        parts.append(
            f'<span style="background:{_colour(kind, types)};border-radius:4px;'
            f'padding:1px 4px;margin:0 1px">{html.escape(text[start:end])} '
            f'<b style="font-size:0.7em">{html.escape(kind)}</b></span>'
        )
        at = end
    parts.append(html.escape(text[at:]))
    return '<div style="line-height:2">' + "".join(parts) + "</div>"


def _counts_table(data: NerData) -> pd.DataFrame:
    return pd.DataFrame(
        {tr("Kind of name"): list(data.counts), tr("Names"): list(data.counts.values())}
    )


def ner_data_section(upload: Any, test_upload: Any = None) -> None:
    """The Data page for labelled sentences: notes, the first sentences highlighted,
    counts per type, and "Use this data"."""
    data = guard(_read, upload.getvalue(), upload.name)
    test = None
    if test_upload is not None and is_ner_upload(test_upload):
        test = guard(_read, test_upload.getvalue(), test_upload.name)
    elif test_upload is not None:
        st.warning(
            tr(
                "The test file {name} is a table, not labelled sentences, so it is not used; "
                "upload test sentences in the same form as the training file (CoNLL/BIO or "
                "JSON lines with spans), or remove it to test on part of these sentences."
            ).format(name=test_upload.name)
        )
    for note in data.notes + (test.notes if test is not None else []):
        st.info(say(note))
    entities = sum(data.counts.values())
    st.caption(
        tr(
            "Labelled sentences for entity recognition: {sentences:,} sentences, {entities:,} "
            "names of {types} kinds."
        ).format(sentences=len(data), entities=entities, types=len(data.types))
    )
    types = data.types
    st.subheader(tr("First sentences"))
    for sentence in data.sentences[:_SHOWN]:
        st.markdown(highlight(sentence.text, sentence.entities, types), unsafe_allow_html=True)
    st.subheader(tr("Names of each kind"))
    left, right = st.columns([1, 2])
    counts = _counts_table(data)
    left.dataframe(counts, hide_index=True)
    right.bar_chart(counts, x=tr("Kind of name"), y=tr("Names"), horizontal=True)
    name = st.text_input(tr("Name"), upload.name.rsplit(".", 1)[0])
    if st.button(tr("Use this data"), type="primary"):
        from lepton_core.runs import confirm_ner_dataset

        info = guard(
            confirm_ner_dataset, workspace(), data, name=name, test=test, source=upload.name
        )
        choose_dataset(info.id)
        st.success(
            tr(
                "Data set **{name}** is ready ({rows:,} sentences); next, train an entity model."
            ).format(name=info.name, rows=info.n_rows)
        )
        st.page_link(
            "app_pages/train.py", label=tr("Go to Train"), icon=":material/model_training:"
        )


def ner_families(dataset: DatasetInfo, choices: list[str]) -> list[str]:
    """The entity families that read the data set's language (spaCy's ready-made English
    names are left out for Chinese sentences, say)."""
    from app_pages._text import text_language

    texts = text_language(dataset)
    return [
        f for f in choices if not getattr(family_class(f), "language_note", lambda _: "")(texts)
    ]


def ner_train_note(dataset: DatasetInfo, family: str) -> None:
    """The Train page's line about what an entity model learns (or, for a ready-made one
    such as spaCy's, only matches)."""
    if not getattr(family_class(family), "learns_kinds", True):
        st.markdown(
            tr(
                "spaCy's ready-made English model finds people, organisations, places, "
                "products and more with no training; the sentences of **{name}** only show "
                "which of its kinds match yours, and it is scored on sentences kept apart."
            ).format(name=dataset.name)
        )
        return
    st.markdown(
        tr(
            "**{family}** learns to find names (people, places, …) in the sentences of "
            "**{name}**, and is scored name by name on sentences it never saw."
        ).format(family=say(family_class(family).title), name=dataset.name)
    )


def ner_evaluate_section(run_id: str) -> bool:
    """The Evaluate page for an entity run: figures, per-type scores and the worst
    sentences; False when the run is no entity run."""
    report = workspace().find_report(run_id, "ner")
    if report is None:
        return False
    st.caption(
        tr(
            "Scored on {n:,} test sentences: a name counts as right only when its words and "
            "its kind both match."
        ).format(n=report["sentences"])
    )
    kinds = workspace().find_report(run_id, "ner_kinds")
    if kinds is not None:  # ready-made kinds (spaCy's): which stand for the data set's
        st.info(say(Message.from_dict(kinds["note"])))
    a, b, c = st.columns(3)
    a.metric(tr("Precision"), f"{report['precision']:.3f}")
    b.metric(tr("Recall"), f"{report['recall']:.3f}")
    c.metric(tr("F1"), f"{report['f1']:.3f}")
    st.subheader(tr("Scores for each kind of name"))
    rows = [
        {
            tr("Kind of name"): kind,
            tr("Precision"): v["precision"],
            tr("Recall"): v["recall"],
            tr("F1"): v["f1"],
            tr("Names"): v["support"],
        }
        for kind, v in report["by_type"].items()
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    if report["confusion"]:
        from lepton_core.ner import NONE_TYPE
        from lepton_core.plots import kinds_confusion_figure

        st.plotly_chart(
            kinds_confusion_figure(report["confusion"], none=NONE_TYPE, language=language())
        )
        st.caption(
            tr(
                "Each true name of the test sentences against the name the model found over "
                "the most of its words: off the diagonal, a kind taken for another; in the "
                "last column, names it missed; in the last row, names it found where there "
                "were none."
            )
        )
    st.subheader(tr("Sentences with the most errors"))
    types = sorted(report["by_type"])
    if not report["worst"]:
        st.success(tr("Every name in the test sentences was found, with exactly its words."))
    for item in report["worst"]:
        st.markdown(tr("**{errors}** names wrong or missed").format(errors=item["errors"]))
        st.markdown(
            highlight(item["text"], item["true"], types, tr("True:"))
            + highlight(item["text"], item["predicted"], types, tr("Predicted:")),
            unsafe_allow_html=True,
        )
    st.caption(tr("The **Explain** page shows which words made the model find a name."))
    return True


@st.cache_data(show_spinner=False, max_entries=cache_entries(8), ttl=3600)
def _test_texts(root: str, run_id: str, name: str, version: int) -> list[str]:
    """Test sentences in which the model finds at least one name: the ones worth explaining."""
    from lepton_core.runs import ner_test_sentences

    texts = [s.text for s in ner_test_sentences(workspace(), run_id)[:_SEARCHED]]
    found = workspace().load_model(name, version).predict(texts) if texts else []
    return [t for t, names in zip(texts, found, strict=True) if len(names)][:_PICKABLE]


@st.cache_resource(show_spinner=False, max_entries=cache_entries(32), ttl=3600)
def _explain(name: str, version: int, text: str, start: int, end: int, kind: str) -> Explanation:
    from lepton_core.ner import Entity, explain_entity

    model = workspace().load_model(name, version)
    return explain_entity(model, text, Entity(start, end, kind))


def _short(text: str) -> str:
    return text if len(text) <= 90 else text[:89] + "…"


def ner_explain_section(run: RunSummary) -> None:
    """The Explain page for an entity run: a test sentence (or one typed), one of the names
    the model found in it, and its words coloured by how much they pushed that name."""
    from app_pages._text import token_highlights
    from lepton_core.explain import reason_sentences

    st.subheader(tr("Why the model found a name"))
    st.write(
        tr(
            "Pick a sentence and one of the names the model found in it: each word is "
            "coloured by how much it raised (red) or lowered (blue) the model's chance that "
            "these words are a name of that kind."
        )
    )
    with st.spinner(tr("Finding names in the test sentences…")):
        texts = guard(
            _test_texts, str(workspace().root), run.run_id, run.model_name, run.model_version
        )
    picked = ""
    if texts:
        picked = st.selectbox(
            tr("Test sentence with names found (one of {n:,})").format(n=len(texts)),
            texts,
            format_func=_short,
        )
    own = st.text_area(
        tr("Or type a sentence"), max_chars=2000, placeholder=tr("Type or paste a sentence…")
    )
    text = own.strip() or picked
    if not text:
        st.info(tr("Type a sentence to see which names the model finds in it and why."))
        return
    model = guard(workspace().load_model, run.model_name, run.model_version)
    types = [str(t) for t in model.classes_]
    found = list(guard(model.predict, [text])[0])
    st.markdown(highlight(text, found, types), unsafe_allow_html=True)
    if not found:
        st.info(tr("The model found no names in this sentence; pick or type another one."))
        return
    chosen = found[
        st.selectbox(
            tr("Name to explain"),
            range(len(found)),
            format_func=lambda i: f"{found[i]['text']} ({found[i]['type']})",
        )
    ]
    with st.spinner(tr("Working out which words mattered…")):
        expl = guard(
            _explain,
            run.model_name,
            run.model_version,
            text,
            int(chosen["start"]),
            int(chosen["end"]),
            str(chosen["type"]),
        )
    token_highlights(expl, 0, 0)
    reasons = reason_sentences(expl, 0, 0)
    if reasons:
        st.markdown(
            tr("**Top reasons:** {reasons}.").format(reasons="; ".join(say(r) for r in reasons))
        )
    with st.expander(tr("Expert details"), icon=":material/science:"):
        st.caption(
            tr(
                "{explainer}; the additivity check (starting point + word contributions = the "
                "model's chance) holds to within {error:.1e}. {note}"
            ).format(explainer=expl.explainer, error=expl.additivity_error(), note=say(expl.note))
        )
    python_cell(
        f"""
from lepton_core.explain import reason_sentences
from lepton_core.ner import explain_entity
from lepton_core.workspace import Workspace
model = Workspace().load_model({run.model_name!r}, {run.model_version!r})
text = {text!r}
name = model.predict([text])[0][{found.index(chosen)}]
print(reason_sentences(explain_entity(model, text, name), 0))
"""
    )


def ner_demo(bundle: Any, plain: Any, log: Any) -> None:
    """The demo page of an entity model: a sentence in, its names highlighted by kind.

    ``plain`` makes the owner's title and description safe to show (the demo page's);
    ``log(record, label, probabilities, started)`` logs each answer as the kinds of name
    found, as the REST API does, so the Monitor page follows the demo's traffic too.
    """
    from lepton_core.ner import TEXT_COLUMN
    from lepton_core.runs import found_kinds

    types = [str(t) for t in bundle.model.classes_]
    title = tr("Finds names in text: {types}").format(types=", ".join(types))
    st.title(plain(bundle.demo_title or title))
    if bundle.demo_description:
        st.markdown(plain(bundle.demo_description))
    evaluation = bundle.reports.evaluation
    if "f1" in evaluation.metrics:
        st.metric(
            "F1",
            f"{evaluation.metrics['f1']:.2f}",
            help=tr(
                "How well it found the names in {n:,} test sentences: 1 means every name found, "
                "with its kind, and nothing else; 0 means none."
            ).format(n=evaluation.n_rows),
        )
    text = st.text_area(tr("Your sentence"), max_chars=2000)
    if st.button(tr("Predict"), type="primary") and text.strip():
        started = time.perf_counter()
        found = guard(bundle.model.predict, pd.DataFrame({TEXT_COLUMN: [text]}))[0]
        log({TEXT_COLUMN: text}, found_kinds(e["type"] for e in found), None, started)
        st.markdown(highlight(text, list(found), types), unsafe_allow_html=True)
        if not found:
            st.info(tr("It found no names in this sentence."))


def api_answer(bundle: Any, record: dict[str, Any]) -> None:
    """The Deploy page's example answer of an entity model: the names it finds in the
    example ``record``'s text, as the REST API gives them."""
    import json

    from lepton_core.ner import TEXT_COLUMN

    found = guard(bundle.model.predict, [str(record.get(TEXT_COLUMN, ""))])[0]
    answer = {"predictions": [{"label": None, "entities": list(found)}]}
    st.caption(
        tr(
            "It answers each text with the names found in it, in text order: where each "
            "starts and ends (in characters), its kind and its words. For the text above:"
        )
    )
    st.code(json.dumps(answer, indent=2, ensure_ascii=False), language="json")
