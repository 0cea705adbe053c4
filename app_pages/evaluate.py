"""Step 3 · Evaluate: accuracy and fairness side by side, run comparison, outside audits."""

from __future__ import annotations

import uuid

import pandas as pd
import streamlit as st

from app_pages._common import (
    METRIC_LABELS,
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
from app_pages._privacy import privacy_row
from lepton_core.data import load_table
from lepton_core.dp import load_privacy
from lepton_core.evaluation import (
    GAPS,
    EvalReport,
    FairnessReport,
    audit_predictions,
    compare_reports,
    tradeoff,
    tradeoff_figure,
)
from lepton_core.jobs import JobStore, cancel_job, start_job
from lepton_core.models import METHOD_TITLES, family_class, family_title
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
from lepton_core.runs import MitigationConfig, headline_figures, load_run_reports

header(
    "3 · Evaluate",
    "How often the model is right on rows it never saw, and whether it treats groups of people "
    "alike. Fairness figures compare groups of each sensitive column; smaller gaps are fairer.",
)


def fairness_table(report: FairnessReport) -> pd.DataFrame:
    table = pd.DataFrame.from_dict(report.by_group, orient="index").reindex(report.groups)
    table.index.name = report.attribute
    return table


@st.fragment(run_every=1.0)
def mitigation_panel(job_id: str) -> None:
    """The mitigation job's state, re-drawn about once a second; it runs in the background."""
    store = JobStore(workspace())
    job = guard(store.get, job_id)
    if job.active:
        phase = job.progress.phase
        st.progress(0.5 if phase != "starting" else 0.1, text=f"Mitigating · {phase}")
        if st.button("Cancel", key=f"cancel-{job.id}"):
            guard(cancel_job, job.id, workspace=workspace())
            st.rerun(scope="fragment")
    elif job.status == "succeeded":
        st.success(
            f"Registered **{job.model_name}:{job.model_version}** in "
            f"{(job.ended or 0) - (job.started or 0):.0f} s."
        )
        rows = guard(workspace().load_report, job.run_id, "mitigation")["rows"]
        st.dataframe(mitigation_table(rows), hide_index=True)
        if st.button("Show the new version", key=f"show-{job.id}"):
            st.session_state[Keys.RUN_ID] = job.run_id
            st.session_state.pop(Keys.MITIGATION_JOB, None)
            st.rerun(scope="app")
    else:
        st.error(job.error or f"The mitigation ended as {job.status}.")
        with st.expander("Log"):
            st.code(store.read_log(job.id) or "(empty)")


def mitigation_table(rows: list[dict]) -> pd.DataFrame:
    """The before/after rows with readable metric names."""
    table = pd.DataFrame(rows)
    table["metric"] = table["metric"].map(lambda m: METRIC_LABELS.get(m, m.replace("_", " ")))
    for column in ("before", "after", "change"):
        table[column] = table[column].map(fmt)
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
if (privacy := load_privacy(workspace(), run.run_id)) is not None:
    privacy_row(privacy)
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

st.subheader("Mitigate")
mitigation = guard(workspace().find_report, run.run_id, "mitigation")
if mitigation:
    st.write(
        f"This model is **{mitigation['title']}** for **{mitigation['sensitive']}**, made from "
        f"{mitigation['parent_model']} (fitted on its {mitigation['fitted_on']}); same test rows."
    )
    st.dataframe(mitigation_table(mitigation["rows"]), hide_index=True)
elif evaluation.task != "binary" or not attributes:
    st.write("Mitigation needs a yes/no target and a sensitive column.")
elif not family_class(run.family).mitigable:
    st.write(
        f"Mitigation is not available for a {family_title(run.family).lower()}; compare its "
        "groups above and retrain with more varied examples for the group that fares worst."
    )
else:
    st.write(
        "Make a fairer version of this model with fairlearn: **ThresholdOptimizer** picks "
        "a threshold per group on this model's scores; **ExponentiatedGradient** retrains "
        "LightGBM on reweighted rows. Either way you get a new model version, evaluated on "
        "the same test rows, that deploys like any other."
    )
    m1, m2 = st.columns(2)
    method = m1.selectbox("Method", list(METHOD_TITLES), format_func=METHOD_TITLES.get)
    target_attr = m2.selectbox("For", attributes, index=attributes.index(chosen))
    if st.button("Mitigate", icon=":material/balance:"):
        owner = st.session_state.setdefault(Keys.OWNER, uuid.uuid4().hex[:8])
        config = MitigationConfig(run_id=run.run_id, sensitive=target_attr, method=method)
        job = guard(start_job, config, workspace=workspace(), owner=owner)
        st.session_state[Keys.MITIGATION_JOB] = job.id
    if st.session_state.get(Keys.MITIGATION_JOB):
        mitigation_panel(st.session_state[Keys.MITIGATION_JOB])

if attributes and evaluation.task != "regression":
    st.subheader("Trade-off across runs")
    st.write(
        f"Every run on data set **{run.dataset_name}**: accuracy against a fairness gap (ε marks "
        "runs trained with differential privacy). Red points are the Pareto front: no other "
        "run is both more accurate and fairer. Click a point to open its run."
    )
    t1, t2 = st.columns(2)
    gap = t1.selectbox("Gap", GAPS, format_func=lambda g: METRIC_LABELS.get(g, g))
    attribute = t2.selectbox("Of", attributes, index=attributes.index(chosen), key="tradeoff_of")
    trade = guard(tradeoff, workspace(), run.dataset_id, attribute=attribute, gap=gap)
    event = st.plotly_chart(
        tradeoff_figure(trade), on_select="rerun", selection_mode="points", key="tradeoff"
    )
    picked = [p.get("customdata") for p in (event.selection.points if event else [])]
    if picked and picked[0] and picked[0] != run.run_id:
        st.session_state[Keys.RUN_ID] = picked[0]
        st.rerun()
    if trade.skipped:
        st.caption(f"{trade.skipped} run(s) without figures for {attribute} are left out.")

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
from lepton_core.runs import load_run_reports
from lepton_core.workspace import Workspace
reports = load_run_reports(Workspace(), {run.run_id!r})
print(reports.evaluation.metrics)
for report in reports.fairness:
    print(report.attribute, report.summary())
# a fairer version (new model version, same test rows):
from lepton_core.runs import mitigate_run
result = mitigate_run(Workspace(), {run.run_id!r}, sensitive={chosen!r}, method="threshold_dp")
print(result.rows)
# or as a background job: python -m lepton_core mitigate --run {run.run_id} --sensitive {chosen}
"""
)
