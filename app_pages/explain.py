"""Step 4 · Explain: why the model predicts what it does, overall and for one row (SHAP)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages._common import fmt, guard, header, pick_run, python_cell, workspace
from app_pages._text import explain_text
from lepton_core.plots import (
    beeswarm_figure,
    dependence_figure,
    importance_figure,
    waterfall_figure,
)
from lepton_core.runs import load_explanation

header(
    "4 · Explain",
    "SHAP values split each prediction into one contribution per column (per word for a text "
    "model): how much it pushed this prediction up or down from the average prediction.",
)

run = pick_run()
expl = guard(load_explanation, workspace(), run.run_id)
output = 0
if len(expl.outputs) > 1:
    output = st.selectbox(
        "Explain the score of class",
        range(len(expl.outputs)),
        format_func=lambda i: expl.outputs[i],
    )
st.caption(
    f"{expl.explainer} on {len(expl.values):,} test rows; values are in {expl.output_space} "
    f"of “{expl.outputs[output]}”. Additivity check: base value + contributions match the "
    f"model's output to within {expl.additivity_error():.1e}. {expl.note}"
)

if expl.tokens is not None:  # a text model: tokens instead of columns
    explain_text(run, expl, output)
    st.stop()

left, right = st.columns(2)
left.plotly_chart(importance_figure(expl, output=output))
right.plotly_chart(beeswarm_figure(expl, output=output))

st.subheader("One column's effect")
ranked = [name for name, _ in expl.global_importance(output)]
feature = st.selectbox("Column", ranked)
st.plotly_chart(dependence_figure(expl, feature, output=output))

st.subheader("One row")
row = st.number_input(f"Row (0–{len(expl.values) - 1})", 0, len(expl.values) - 1, 0)
values = expl.data[row]
model_output = expl.model_output[row][output]
c1, c2 = st.columns([2, 1])
c1.plotly_chart(waterfall_figure(expl, row, output=output))
with c2:
    st.metric(f"Model output ({expl.output_space})", fmt(model_output))
    st.dataframe(pd.DataFrame({"value": {k: str(v) for k, v in values.items()}}))

python_cell(
    f"""
from lepton_core.runs import load_explanation
from lepton_core.workspace import Workspace
expl = load_explanation(Workspace(), {run.run_id!r})
print(expl.global_importance({output}))
print(expl.row({row}, {output}))
"""
)
