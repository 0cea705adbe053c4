"""The demo page a share link opens: what the model predicts, a short form, the prediction
and why, in plain words.

A visitor sees the inputs that matter most (the rest sit at typical values under "Other
details"), chances rather than log-odds, and accuracy-type figures only: fairness figures
are for the model's owner, on the Evaluate page and in the model card.
"""

from __future__ import annotations

import re
import time
from typing import Any

import streamlit as st

from app_pages._common import guard, require_router, warm_explainer, workspace
from app_pages._i18n import language, say, tr
from app_pages._text import token_highlights
from lepton_core.core import LeptonError
from lepton_core.explain import (
    friendly_name,
    key_features,
    prediction_title,
    reason_sentences,
    to_probability,
    usual_range,
)
from lepton_core.plots import waterfall_figure
from lepton_core.runs import cached_model_card, load_bundle
from lepton_core.workspace import (
    ShareLinks,
    capture_enabled,
    predicted_probability,
    prediction_log,
)

#: The model card says this until the owner describes the model on the Deploy page.
_NOT_STATED = "Not stated yet"

_MARKUP = re.compile(r"[\\`*_\[\]~$#|&]")
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_BLOCK_START = re.compile(r"^(\s*)([>+=-]|\d+(?=[.)]))")
_CODE_START = re.compile(r"([:@])(?=[\w/+-])")
_WWW = re.compile(r"(?i)\b(www)\.")


def _plain(text: str) -> str:
    """``text`` as Streamlit markdown that shows it literally, character for character.

    Titles come from the owner and from the data's class names: no emphasis, links,
    HTML, maths, colours, icons or emoji codes. Markdown's own escapes handle most; a
    word joiner (invisible) after ``:`` or ``@`` breaks ``:smile:``, URLs and e-mail links.
    """
    text = _MARKUP.sub(r"\\\g<0>", str(text))
    text = _TAG_START.sub(r"\\<", text)
    # "1. x" starts a list: escape the dot; "> x", "- x" and the like: the marker.
    text = _BLOCK_START.sub(
        lambda m: m[1] + (m[2] + "\\" if m[2][0].isdigit() else "\\" + m[2]), text
    )
    text = _CODE_START.sub("\\1\u2060", text)
    return _WWW.sub("\\1\u2060.", text)


require_router()
# Only a signed, unexpired, unrevoked token opens a model: nothing else is read from the
# query, and nothing from the publisher's session.
try:
    # Loading and checking the model takes a second or more: say so at once.
    with st.spinner(tr("Opening the demo…")):
        link = ShareLinks(workspace()).verify(st.query_params.get("token"))
        bundle = load_bundle(workspace(), link.model, link.version, require_published=True)
except LeptonError:
    st.title(tr("This link is not valid"))
    st.error(
        tr(
            "This demo link is expired, revoked or damaged, or its model was withdrawn; ask "
            "the person who shared it for a new link."
        )
    )
    st.stop()
warm_explainer(bundle.model)  # while the visitor fills in the form


def _log(record: dict, label: Any, probabilities: dict | None, started: float) -> None:
    """The Monitor page sees demo traffic too, by its link: the ``record`` sent and the
    answer (an entity model's: the kinds of name found, as the API logs it)."""
    if capture_enabled():
        prediction_log(workspace()).record(
            bundle.version.name,
            bundle.version.version,
            [record],
            [label],
            [predicted_probability(label, probabilities)],
            source="demo",
            caller=link.id,
            latency_ms=(time.perf_counter() - started) * 1000,
        )


if getattr(bundle.model, "reads", "") == "ner":  # names in a sentence: a page of its own
    from app_pages._ner import ner_demo

    ner_demo(bundle, _plain, _log)
    st.stop()
info = bundle.version
card = guard(cached_model_card, workspace(), info.name, info.version)
evaluation = bundle.reports.evaluation
task = evaluation.task
classes = [str(c) for c in bundle.model.classes_] if task != "regression" else None
# The owner's title (Deploy page) when set, else what the model predicts.
automatic_title = say(prediction_title(card.dataset.get("target") or "", task, classes))
st.title(_plain(bundle.demo_title or automatic_title))
if bundle.demo_description:
    st.markdown(_plain(bundle.demo_description))
if card.intended_use and not card.intended_use.startswith(_NOT_STATED):
    st.write(card.intended_use)
reads_images = getattr(bundle.model, "reads", "") == "image"
if not reads_images:
    st.write(tr("Fill in the details and press **Predict** to see what the model says and why."))

# How good it is, in words: accuracy-type figures only, with their likely range.
intervals = {m.name: m for m in card.metrics}


def _likely(name: str, percent: bool) -> str:
    m = intervals.get(name)
    if m is None or m.low is None:
        return ""
    shown = (lambda v: f"{v:.0%}") if percent else (lambda v: f"{v:.3g}")
    return tr(" Likely between {low} and {high} on other, similar cases.").format(
        low=shown(m.low), high=shown(m.high)
    )


metrics, n = evaluation.metrics, evaluation.n_rows
figures: list[tuple[str, str, str]] = []
if task == "regression":
    if "mae" in metrics:
        figures.append(
            (
                tr("Typical error"),
                f"{metrics['mae']:.3g}",
                tr(
                    "On average its prediction was this far from the truth on {n:,} test cases."
                ).format(n=n)
                + _likely("mae", False),
            )
        )
    if "r2" in metrics:
        figures.append(
            (
                "R²",
                f"{metrics['r2']:.2f}",
                tr(
                    "How much of the variation it explains: 0 is no better than always "
                    "guessing the average, 1 is perfect."
                )
                + _likely("r2", False),
            )
        )
else:
    if "accuracy" in metrics:
        figures.append(
            (
                tr("Accuracy"),
                f"{metrics['accuracy']:.0%}",
                tr("The share of {n:,} test cases it got right.").format(n=n)
                + _likely("accuracy", True),
            )
        )
    if "roc_auc" in metrics:
        figures.append(
            (
                "ROC AUC",
                f"{metrics['roc_auc']:.2f}",
                tr("How well it ranks cases: 0.5 is guessing, 1 is perfect.")
                + _likely("roc_auc", False),
            )
        )
for col, (label, value, help_text) in zip(st.columns(3), figures, strict=False):
    col.metric(label, value, help=help_text)
st.caption(tr("Measured on {n:,} test cases the model did not learn from.").format(n=n))


if reads_images:  # a picture in, the prediction and its heat map out
    from app_pages._images import demo_section

    demo_section(bundle, _log)
    st.stop()

fields = bundle.input_schema.fields
by_name = {f.name: f for f in fields}
if any(f.kind == "text" for f in fields):
    main, other = fields, []
else:
    key = [name for name in key_features(card.top_features) if name in by_name]
    main = [by_name[name] for name in key] or fields
    other = [f for f in fields if f not in main]


def _field(col: Any, field: Any) -> Any:
    """One input with a friendly label and a hint drawn from the training data."""
    label = friendly_name(field.name)
    key = f"input:{field.name}"
    if field.kind == "text":
        return col.text_area(label, value=field.default or "", key=key)
    if field.kind == "numeric":
        cast = int if field.integer else float
        seen = bundle.background.get(field.name, [])
        hint = usual_range(list(seen), integer=field.integer)
        if hint is None and field.minimum is not None:
            hint = tr("From {low:g} to {high:g} in the examples it learned from").format(
                low=field.minimum, high=field.maximum
            )
        return col.number_input(
            label,
            value=cast(field.default) if field.default is not None else cast(0),
            step=cast(1) if field.integer else None,
            help=say(hint) if hint else None,
            key=key,
        )
    choices = field.choices or [""]
    index = choices.index(field.default) if field.default in choices else 0
    return col.selectbox(
        label,
        choices,
        index=index,
        help=tr("Most common: {value}").format(value=field.default) if field.default else None,
        key=key,
    )


with st.form("inputs"):
    record = {}
    columns = st.columns(1 if any(f.kind == "text" for f in main) else 3)
    for i, field in enumerate(main):
        record[field.name] = _field(columns[i % len(columns)], field)
    if other:
        with st.expander(tr("Other details ({n}), set to typical values").format(n=len(other))):
            st.caption(tr("These matter less to the model; change them if you know them."))
            more = st.columns(3)
            for i, field in enumerate(other):
                record[field.name] = _field(more[i % 3], field)
    submitted = st.form_submit_button(tr("Predict"), type="primary")

if submitted:
    started = time.perf_counter()
    prediction = guard(bundle.predict, [record])[0]
    _log(record, prediction.label, prediction.probabilities, started)
    expl = to_probability(prediction.explanation)
    label = str(prediction.label)
    chosen = expl.outputs.index(label) if len(expl.outputs) > 1 and label in expl.outputs else 0
    left, right = st.columns([1, 2])
    with left:
        st.metric(tr("Prediction"), label)
        if prediction.probabilities:
            chance = prediction.probabilities.get(label)
            if chance is not None:
                st.metric(
                    tr("Chance of {label}").format(label=label),
                    f"{chance:.0%}",
                    help=tr("How sure the model is; 50% would be a coin toss between two answers."),
                )
            st.dataframe(
                {
                    tr("answer"): list(prediction.probabilities),
                    tr("chance"): [f"{p:.0%}" for p in prediction.probabilities.values()],
                },
                hide_index=True,
            )
    with right:
        reasons = reason_sentences(expl, 0, chosen)
        if reasons:
            st.markdown(
                tr("**Why**")
                + "".join("\n- " + tr("{reason}.").format(reason=say(r)) for r in reasons)
            )
        if expl.is_text:
            st.caption(tr("Red words pushed toward this answer, blue words away from it."))
            token_highlights(expl, 0, chosen)
        else:
            title = (
                tr("How these details move the chance of {label}").format(
                    label=expl.outputs[chosen]
                )
                if expl.output_space == "probability"
                else tr("How these details move the prediction")
            )
            st.plotly_chart(
                waterfall_figure(expl, 0, output=chosen, title=title, language=language())
            )
    with st.expander(tr("Expert details"), icon=":material/science:"):
        st.caption(
            tr(
                "Model {name} version {version} ({family}). {explainer}: SHAP values, "
                "converted to chances. {note}"
            ).format(
                name=info.name,
                version=info.version,
                family=card.family,
                explainer=expl.explainer,
                note=say(expl.note),
            )
        )
