"""Step 3 · Evaluate: accuracy and fairness side by side, run comparison, outside audits."""

from __future__ import annotations

import uuid

import pandas as pd
import streamlit as st

from app_pages._common import (
    METRIC_HELP,
    METRIC_LABELS,
    Keys,
    fmt,
    guard,
    header,
    job_status,
    list_runs,
    pick_run,
    python_cell,
    run_label,
    run_reports,
    workspace,
)

header(
    "3 · Evaluate",
    "How often the model is right on rows it never saw, and whether it treats groups of people "
    "alike. Fairness figures compare groups of each sensitive column; smaller gaps are fairer.",
)

# Imported after the heading is on screen: the first visit imports the plotting stack.
from app_pages._privacy import privacy_row  # noqa: E402
from lepton_core.data import load_table  # noqa: E402
from lepton_core.dp import load_privacy  # noqa: E402
from lepton_core.evaluation import (  # noqa: E402
    GAPS,
    EvalReport,
    FairnessReport,
    audit_predictions,
    compare_reports,
    tradeoff,
    tradeoff_figure,
)
from lepton_core.jobs import JobStore, start_job  # noqa: E402
from lepton_core.models import METHOD_TITLES, family_class, family_title  # noqa: E402
from lepton_core.plots import (  # noqa: E402
    calibration_figure,
    compare_figure,
    confusion_matrix_figure,
    fairness_group_figure,
    fairness_rates_figure,
    pr_figure,
    residual_figure,
    roc_figure,
)
from lepton_core.runs import MitigationConfig, headline_figures  # noqa: E402

#: The by-group figures' column names, in words (fairlearn's short names as help).
GROUP_COLUMNS = {
    "count": ("test rows", "How many test rows belong to the group."),
    "selection_rate": ("predicted yes", "Share of the group's rows the model says yes to."),
    "accuracy": ("right", "Share of the group's rows the model gets right (accuracy)."),
    "tpr": ("yes found", "Of the group's real yes-rows, the share the model says yes to (TPR)."),
    "fpr": ("false alarms", "Of the group's real no-rows, the share it wrongly says yes to (FPR)."),
    "fnr": ("yes missed", "Of the group's real yes-rows, the share it wrongly says no to (FNR)."),
}


def fairness_table(report: FairnessReport, groups: list[str] | None = None) -> pd.DataFrame:
    """Figures by group (all groups, or ``groups``), one row each."""
    chosen = report.groups if groups is None else groups
    table = pd.DataFrame.from_dict(report.by_group, orient="index").reindex(chosen)
    table.index.name = report.attribute
    return table


def show_groups(table: pd.DataFrame) -> None:
    """A by-group table with its columns named in words."""
    st.dataframe(
        table,
        column_config={
            name: st.column_config.NumberColumn(
                label, help=text, format="%d" if name == "count" else "%.3f"
            )
            for name, (label, text) in GROUP_COLUMNS.items()
            if name in table.columns
        },
    )


def fairness_tables(report: FairnessReport) -> None:
    """The groups the gaps compare, then the groups too small to count, listed apart."""
    show_groups(fairness_table(report, report.measured_groups))
    if report.small_groups:
        st.markdown(
            f"**Too small to judge** — fewer than {report.min_group_rows} test rows each, so "
            "their figures are mostly chance; they are left out of the gaps and the worst group:"
        )
        show_groups(fairness_table(report, report.small_groups))


_PLAIN_METRICS = {
    "accuracy": "Accuracy: the share of test rows the model gets right.",
    "balanced_accuracy": "Balanced accuracy: the average, over the answers, of the share of "
    "rows with that answer the model gets right (fair to rare answers).",
    "precision": "Precision: of the rows the model says yes to, the share that really are yes.",
    "recall": "Recall: of the rows that really are yes, the share the model finds.",
    "f1": "F1: one figure balancing precision and recall; 1 is perfect.",
    "roc_auc": "ROC AUC: how well the model ranks yes-rows above no-rows; 0.5 is a coin toss, "
    "1 is perfect.",
    "log_loss": "Log loss: how far the model's probabilities are from the truth; lower is better.",
    "rmse": "RMSE: the typical size of an error, with big errors weighing more.",
    "mae": "MAE: the average size of an error.",
    "r2": "R²: the share of the target's variation the model explains; 0 is no better than "
    "guessing the average, 1 is perfect.",
}


def _likely(evaluation: EvalReport, name: str) -> str | None:
    pair = evaluation.interval(name)
    return None if pair is None else f"likely {pair[0]:.3f} – {pair[1]:.3f}"


def verdict_box(evaluation: EvalReport) -> None:
    """The plain verdict (is it better than guessing? enough rows?) and the column warnings."""
    verdict = evaluation.verdict
    if verdict is not None:
        if verdict.level == "better":
            st.success(verdict.text, icon=":material/check_circle:")
        else:
            st.warning(verdict.text, icon=":material/warning:")
    for warning in evaluation.warnings:
        st.warning(warning.text, icon=":material/report:")


def headline_row(evaluation: EvalReport, fairness: FairnessReport | None) -> None:
    """Accuracy-type and fairness figures, each with its likely range; the worst group last."""
    figures = headline_figures(evaluation, fairness)
    if fairness is not None and not fairness.comparable and fairness.task == "binary":
        # Say there is no gap to show rather than leave the figures out.
        figures["demographic_parity_difference"] = None
        figures["equalized_odds_difference"] = None
    left, right = st.columns([len(figures), 1.3])
    with left:
        for col, (name, value) in zip(st.columns(len(figures)), figures.items(), strict=True):
            likely = _likely(evaluation, name)
            unmeasured = value is None and name in METRIC_HELP
            col.metric(
                METRIC_LABELS.get(name, name),
                fmt(value),
                delta=likely or ("too few rows per group" if unmeasured else None),
                delta_color="off",
                delta_arrow="off",
                help=METRIC_HELP.get(name) or _PLAIN_METRICS.get(name),
            )
    if fairness is not None:
        worst = fairness.worst_group
        label = f"Worst group by {worst['metric']}"
        if worst.get("group") is None:
            right.metric(
                label, "—", delta="too few rows per group", delta_color="off", delta_arrow="off"
            )
        else:
            right.metric(
                label,
                str(worst["group"]),
                delta=f"{worst['metric']} {fmt(worst['value'])}, "
                f"{fmt(worst.get('gap'))} below overall",
                delta_color="off",
                delta_arrow="off",
                help=f"Among groups with at least {fairness.min_group_rows} test rows.",
            )
    if evaluation.intervals:
        st.caption(
            f"Under each figure, the range the true figure is likely in: a "
            f"{evaluation.confidence:.0%} confidence interval, from {evaluation.n_resamples} "
            f"random resamples of the {evaluation.n_rows:,} test rows. A wide range means "
            "the test rows are too few to pin the figure down."
        )


def metrics_table(evaluation: EvalReport) -> pd.DataFrame:
    """Every metric with its likely range and what always giving one answer scores."""
    baseline = evaluation.baseline
    guess = (
        "—"
        if baseline is None
        else f"always '{baseline.guess}'"
        if baseline.rule == "most common answer"
        else f"always the average ({baseline.guess:.3g})"
    )
    rows = []
    for name, value in evaluation.metrics.items():
        pair = evaluation.interval(name)
        rows.append(
            {
                "metric": _PLAIN_METRICS.get(name, name).split(":")[0],
                "value": fmt(value),
                "likely between": "—" if pair is None else f"{pair[0]:.3f} – {pair[1]:.3f}",
                f"guessing {guess}": fmt((baseline.metrics if baseline else {}).get(name)),
                "what it means": _PLAIN_METRICS.get(name, "").split(": ", 1)[-1],
            }
        )
    return pd.DataFrame(rows)


@st.fragment(run_every=1.0)
def mitigation_panel(job_id: str) -> None:
    """The mitigation job's state, re-drawn about once a second; it runs in the background."""
    store = JobStore(workspace())
    job = guard(store.get, job_id)
    phase = job.progress.phase
    job_status(
        job, store, fraction=0.1 if phase == "starting" else 0.5, text=f"Mitigating · {phase}"
    )
    if job.status == "succeeded":
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


def mitigation_table(rows: list[dict]) -> pd.DataFrame:
    """The before/after rows with readable metric names."""
    table = pd.DataFrame(rows)
    table["metric"] = table["metric"].map(lambda m: METRIC_LABELS.get(m, m.replace("_", " ")))
    for column in ("before", "after", "change"):
        table[column] = table[column].map(fmt)
    return table


run = pick_run()
with st.spinner("Loading the model's test results…"):
    reports = run_reports(run.run_id, complete=True)
evaluation = reports.evaluation
verdict_box(evaluation)
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
elif fairness.note and not fairness.comparable:
    st.warning(fairness.note, icon=":material/groups:")

left, right = st.columns(2)
with left:
    if fairness is not None:
        st.subheader(f"By {fairness.attribute}")
        fairness_tables(fairness)
        if fairness.note and fairness.comparable:
            st.caption(fairness.note)
        metric = "selection_rate" if fairness.task == "binary" else next(iter(fairness.overall))
        st.plotly_chart(fairness_group_figure(fairness, metric))
    elif evaluation.task == "regression":
        st.plotly_chart(residual_figure(evaluation))
    else:
        st.plotly_chart(confusion_matrix_figure(evaluation))
with right:
    if fairness is None:
        # No fairness column (a text model, say): the figures fill this half.
        st.subheader("Every figure")
        st.dataframe(metrics_table(evaluation), hide_index=True)
    elif evaluation.task == "regression":
        st.plotly_chart(residual_figure(evaluation))
    else:
        st.plotly_chart(confusion_matrix_figure(evaluation))
        if fairness.task == "binary":
            st.plotly_chart(fairness_rates_figure(fairness))

if evaluation.task != "regression":
    st.subheader("Curves")
    c1, c2, c3 = st.columns(3)
    c1.plotly_chart(roc_figure(evaluation))
    c2.plotly_chart(pr_figure(evaluation))
    if evaluation.calibration:
        c3.plotly_chart(calibration_figure(evaluation))
if fairness is not None:
    st.subheader("Every figure")
    st.dataframe(metrics_table(evaluation), hide_index=True)

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
        "Make a fairer version of this model. One way keeps the model and sets a separate "
        "cut-off per group on its scores; the other trains it again, giving more weight to "
        "the rows it treats unfairly. Either way you get a new model version, evaluated on "
        "the same test rows, that deploys like any other."
    )
    with st.expander("Expert details"):
        st.write(
            "Both methods come from fairlearn: **ThresholdOptimizer** (a threshold per group "
            "on this model's scores) and **ExponentiatedGradient** (LightGBM retrained on "
            "reweighted rows under a fairness constraint)."
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
        "runs trained with differential privacy). Red points are the best trade-offs: no other "
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
    runs = [r for r in list_runs() if r.run_id != run.run_id]
    if not runs:
        st.write("Train a second model to compare.")
    else:
        other_id = st.selectbox(
            "Other run",
            [r.run_id for r in runs],
            format_func=lambda i: run_label(next(r for r in runs if r.run_id == i)),
            key=Keys.COMPARE_RUN_ID,
        )
        other = run_reports(other_id)
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
            verdict_box(audit.evaluation)
            headline_row(audit.evaluation, audit.fairness[0])
            for report in audit.fairness:
                fairness_tables(report)
                if report.note:
                    st.caption(report.note)

python_cell(
    f"""
from lepton_core.runs import load_run_reports
from lepton_core.workspace import Workspace
reports = load_run_reports(Workspace(), {run.run_id!r}, complete=True)
print(reports.evaluation.verdict.text)       # better than always guessing? enough rows?
print(reports.evaluation.metrics, reports.evaluation.intervals, reports.evaluation.baseline)
for warning in reports.evaluation.warnings:  # many columns, a leak, an identifier
    print(warning.text)
for report in reports.fairness:
    print(report.attribute, report.summary())
# a fairer version (new model version, same test rows):
from lepton_core.runs import mitigate_run
result = mitigate_run(Workspace(), {run.run_id!r}, sensitive={chosen!r}, method="threshold_dp")
print(result.rows)
# or as a background job: python -m lepton_core mitigate --run {run.run_id} --sensitive {chosen}
"""
)
