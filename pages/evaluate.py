"""Step 3 · Evaluate: accuracy and fairness side by side, run comparison, outside audits."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lepton_core.data import load_table
from lepton_core.evaluation import EvalReport, compare_reports
from lepton_core.fairness import FairnessReport, audit_predictions
from lepton_core.plots import (
    calibration_figure,
    compare_figure,
    confusion_matrix_figure,
    fairness_group_figure,
    fairness_rates_figure,
    pr_figure,
    residual_figure,
    roc_figure,
)
from lepton_core.reports import headline_figures, load_run_reports
from pages._common import (
    Keys,
    fmt,
    guard,
    header,
    metric_row,
    pick_run,
    python_cell,
    run_label,
    workspace,
)

header(
    "3 · Evaluate",
    "How often the model is right on rows it never saw, and whether it treats groups of people "
    "alike. Fairness figures compare groups of each sensitive column; smaller gaps are fairer.",
)


def fairness_table(report: FairnessReport) -> pd.DataFrame:
    table = pd.DataFrame.from_dict(report.by_group, orient="index").reindex(report.groups)
    table.index.name = report.attribute
    return table


def headline_row(evaluation: EvalReport, fairness: FairnessReport | None) -> None:
    """Accuracy-type and fairness figures in one row, worst group last."""
    figures = headline_figures(evaluation, fairness)
    left, right = st.columns([len(figures), 1.3])
    with left:
        metric_row(figures)
    if fairness is not None:
        worst = fairness.worst_group
        right.metric(
            f"Worst group by {worst['metric']}",
            str(worst["group"]),
            delta=f"{worst['metric']} {fmt(worst['value'])}, {fmt(worst.get('gap'))} below overall",
            delta_color="off",
            delta_arrow="off",
        )


run = pick_run()
reports = guard(load_run_reports, workspace(), run.run_id)
evaluation = reports.evaluation
attributes = [r.attribute for r in reports.fairness]
chosen = (
    st.selectbox("Fairness by", attributes, help="Sensitive columns chosen on the Data page.")
    if attributes
    else None
)
fairness = reports.fairness_for(chosen) if chosen else None
headline_row(evaluation, fairness)
if fairness is None:
    st.info("No sensitive column was chosen for this data set, so there are no fairness figures.")

left, right = st.columns(2)
with left:
    if fairness is not None:
        st.subheader(f"By {fairness.attribute}")
        st.dataframe(fairness_table(fairness), column_config=None)
        if fairness.small_groups:
            st.caption(
                f"Groups with fewer than 30 rows ({', '.join(fairness.small_groups)}) give "
                "unreliable figures."
            )
        metric = "selection_rate" if fairness.task == "binary" else next(iter(fairness.overall))
        st.plotly_chart(fairness_group_figure(fairness, metric))
with right:
    if evaluation.task == "regression":
        st.plotly_chart(residual_figure(evaluation))
    else:
        st.plotly_chart(confusion_matrix_figure(evaluation))
        if fairness is not None and fairness.task == "binary":
            st.plotly_chart(fairness_rates_figure(fairness))

if evaluation.task != "regression":
    st.subheader("Curves")
    c1, c2, c3 = st.columns(3)
    c1.plotly_chart(roc_figure(evaluation))
    c2.plotly_chart(pr_figure(evaluation))
    if evaluation.calibration:
        c3.plotly_chart(calibration_figure(evaluation))
st.dataframe(
    pd.DataFrame({"metric": evaluation.metrics.keys(), "value": evaluation.metrics.values()}),
    hide_index=True,
)

with st.expander("Compare with another run", icon=":material/compare_arrows:"):
    runs = [r for r in guard(workspace().list_runs) if r.run_id != run.run_id]
    if not runs:
        st.write("Train a second model to compare.")
    else:
        other_id = st.selectbox(
            "Other run",
            [r.run_id for r in runs],
            format_func=lambda i: run_label(next(r for r in runs if r.run_id == i)),
            key=Keys.COMPARE_RUN_ID,
        )
        other = guard(load_run_reports, workspace(), other_id)
        st.dataframe(pd.DataFrame(compare_reports(evaluation, other.evaluation)), hide_index=True)
        st.plotly_chart(compare_figure(evaluation, other.evaluation, labels=("this run", "other")))

with st.expander("Audit predictions made elsewhere", icon=":material/fact_check:"):
    st.write(
        "Upload a table with true labels and another model's predictions (or scores) to get "
        "the same accuracy and fairness figures for a model Lepton did not train."
    )
    upload = st.file_uploader("Predictions table", type=["csv", "tsv", "txt", "parquet", "jsonl"])
    if upload is not None:
        table = guard(load_table, upload.getvalue(), filename=upload.name)
        cols = list(table.columns)
        a1, a2, a3 = st.columns(3)
        label = a1.selectbox("Label column", cols)
        prediction = a2.selectbox("Prediction or score column", cols, index=len(cols) - 1)
        scores = a3.toggle("It holds scores", help="Probabilities are turned into labels.")
        threshold = a3.number_input("Threshold", 0.0, 1.0, 0.5) if scores else None
        sensitive = st.multiselect(
            "Sensitive columns", [c for c in cols if c not in (label, prediction)]
        )
        if st.button("Audit") and sensitive:
            audit = guard(
                audit_predictions,
                table,
                label=label,
                prediction=prediction,
                sensitive=sensitive,
                threshold=threshold,
            )
            headline_row(audit.evaluation, audit.fairness[0])
            for report in audit.fairness:
                st.dataframe(fairness_table(report))

python_cell(
    f"""
from lepton_core.reports import load_run_reports
from lepton_core.workspace import Workspace
reports = load_run_reports(Workspace(), {run.run_id!r})
print(reports.evaluation.metrics)
for report in reports.fairness:
    print(report.attribute, report.summary())
"""
)
