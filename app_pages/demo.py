"""The demo page a share link opens: a form, the prediction and why, and the model's figures."""

from __future__ import annotations

import streamlit as st

from app_pages._common import fmt, guard, metric_row, require_router, workspace
from app_pages._text import token_highlights
from lepton_core.core import LeptonError
from lepton_core.plots import waterfall_figure
from lepton_core.runs import cached_model_card, load_bundle
from lepton_core.workspace import ShareLinks

require_router()
# Only a signed, unexpired, unrevoked token opens a model: nothing else is read from the
# query, and nothing from the publisher's session.
try:
    link = ShareLinks(workspace()).verify(st.query_params.get("token"))
    bundle = load_bundle(workspace(), link.model, link.version, require_published=True)
except LeptonError:
    st.title("This link is not valid")
    st.error(
        "This demo link is expired, revoked or damaged, or its model was withdrawn; ask the "
        "person who shared it for a new link."
    )
    st.stop()

info = bundle.version
st.title(f"{info.name} · version {info.version}")
st.write("Fill in the form and press **Predict** to see what the model says and why.")
evaluation = bundle.reports.evaluation
metric_row(bundle.reports.headline())
st.caption(f"Measured on {evaluation.n_rows:,} test rows when the model was trained.")
with st.expander("Model card", icon=":material/description:"):
    st.markdown(guard(cached_model_card, workspace(), info.name, info.version).to_markdown())

with st.form("inputs"):
    record = {}
    fields = bundle.input_schema.fields
    columns = st.columns(1 if any(f.kind == "text" for f in fields) else 3)
    for i, field in enumerate(fields):
        col = columns[i % len(columns)]
        if field.kind == "text":
            record[field.name] = col.text_area(field.name, value=field.default or "")
        elif field.kind == "numeric":
            # Whole-number columns get a whole-number input (no "37.00").
            cast = int if field.integer else float
            record[field.name] = col.number_input(
                field.name,
                value=cast(field.default) if field.default is not None else cast(0),
                step=cast(1) if field.integer else None,
                help=f"Seen in training: {fmt(field.minimum, 2)} to {fmt(field.maximum, 2)}",
            )
        else:
            choices = field.choices or [""]
            index = choices.index(field.default) if field.default in choices else 0
            record[field.name] = col.selectbox(field.name, choices, index=index)
    submitted = st.form_submit_button("Predict", type="primary")

if submitted:
    prediction = guard(bundle.predict, [record])[0]
    left, right = st.columns([1, 2])
    with left:
        st.metric("Prediction", str(prediction.label))
        if prediction.probabilities:
            st.write("Probabilities")
            st.dataframe(
                {
                    "class": list(prediction.probabilities),
                    "probability": list(prediction.probabilities.values()),
                },
                hide_index=True,
            )
    with right:
        expl = prediction.explanation
        chosen = 0
        if len(expl.outputs) > 1 and str(prediction.label) in expl.outputs:
            chosen = expl.outputs.index(str(prediction.label))
        if expl.tokens is not None:
            st.write("Why: each word's SHAP contribution")
            token_highlights(expl, 0, chosen)
        else:
            st.plotly_chart(waterfall_figure(expl, 0, output=chosen))
