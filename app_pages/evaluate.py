"""Step 3 · Evaluate: accuracy and fairness side by side, run comparison, outside audits."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages._common import (
    Keys,
    fmt,
    guard,
    header,
    job_status,
    list_runs,
    live_job_panel,
    metric_help,
    metric_labels,
    pick_run,
    python_cell,
    run_label,
    run_reports,
    workspace,
)
from app_pages._i18n import language, say, tr
from app_pages._team import actor, may

header(
    tr("3 · Evaluate"),
    tr(
        "How often the model is right on rows it never saw, and whether it treats groups of "
        "people alike. Fairness figures compare groups of each sensitive column; smaller gaps "
        "are fairer."
    ),
)

# Imported after the heading is on screen: the first visit imports the plotting stack.
from app_pages._energy import energy_line, notebook_button  # noqa: E402
from app_pages._fusion import fusion_section  # noqa: E402
from app_pages._privacy import privacy_row  # noqa: E402
from app_pages._recourse import recourse_section  # noqa: E402
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
from lepton_core.jobs import Job, JobStore, start_job  # noqa: E402
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
from lepton_core.workspace import Role  # noqa: E402


def group_columns() -> dict[str, tuple[str, str]]:
    """The by-group figures' column names, in words (fairlearn's short names as help)."""
    return {
        "count": (tr("test rows"), tr("How many test rows belong to the group.")),
        "selection_rate": (
            tr("predicted yes"),
            tr("Share of the group's rows the model says yes to."),
        ),
        "accuracy": (
            tr("right"),
            tr("Share of the group's rows the model gets right (accuracy)."),
        ),
        "tpr": (
            tr("yes found"),
            tr("Of the group's real yes-rows, the share the model says yes to (TPR)."),
        ),
        "fpr": (
            tr("false alarms"),
            tr("Of the group's real no-rows, the share it wrongly says yes to (FPR)."),
        ),
        "fnr": (
            tr("yes missed"),
            tr("Of the group's real yes-rows, the share it wrongly says no to (FNR)."),
        ),
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
            for name, (label, text) in group_columns().items()
            if name in table.columns
        },
    )


def fairness_tables(report: FairnessReport) -> None:
    """The groups the gaps compare, then the groups too small to count, listed apart."""
    show_groups(fairness_table(report, report.measured_groups))
    if report.small_groups:
        st.markdown(
            tr(
                "**Too small to judge** — fewer than {rows} test rows each, so their figures "
                "are mostly chance; they are left out of the gaps and the worst group:"
            ).format(rows=report.min_group_rows)
        )
        show_groups(fairness_table(report, report.small_groups))


def plain_metrics() -> dict[str, str]:
    """Metric name → "Name: what it means", in the reader's language."""
    return {
        "accuracy": tr("Accuracy: the share of test rows the model gets right."),
        "balanced_accuracy": tr(
            "Balanced accuracy: the average, over the answers, of the share of "
            "rows with that answer the model gets right (fair to rare answers)."
        ),
        "precision": tr(
            "Precision: of the rows the model says yes to, the share that really are yes."
        ),
        "recall": tr("Recall: of the rows that really are yes, the share the model finds."),
        "f1": tr("F1: one figure balancing precision and recall; 1 is perfect."),
        "roc_auc": tr(
            "ROC AUC: how well the model ranks yes-rows above no-rows; 0.5 is a coin toss, "
            "1 is perfect."
        ),
        "log_loss": tr(
            "Log loss: how far the model's probabilities are from the truth; lower is better."
        ),
        "rmse": tr("RMSE: the typical size of an error, with big errors weighing more."),
        "mae": tr("MAE: the average size of an error."),
        "r2": tr(
            "R²: the share of the target's variation the model explains; 0 is no better than "
            "guessing the average, 1 is perfect."
        ),
    }


def _likely(evaluation: EvalReport, name: str) -> str | None:
    pair = evaluation.interval(name)
    return (
        None
        if pair is None
        else tr("likely {low:.3f} – {high:.3f}").format(low=pair[0], high=pair[1])
    )


def verdict_box(evaluation: EvalReport) -> None:
    """The plain verdict (is it better than guessing? enough rows?) and the column warnings."""
    verdict = evaluation.verdict
    if verdict is not None:
        if verdict.level == "better":
            st.success(say(verdict.text), icon=":material/check_circle:")
        else:
            st.warning(say(verdict.text), icon=":material/warning:")
    for warning in evaluation.warnings:
        st.warning(say(warning.text), icon=":material/report:")


def headline_row(evaluation: EvalReport, fairness: FairnessReport | None) -> None:
    """Accuracy-type and fairness figures, each with its likely range; the worst group last."""
    figures = headline_figures(evaluation, fairness)
    if fairness is not None and not fairness.comparable and fairness.task == "binary":
        # Say there is no gap to show rather than leave the figures out.
        figures["demographic_parity_difference"] = None
        figures["equalized_odds_difference"] = None
    left, right = st.columns([len(figures), 1.3])
    labels, helps, plain = metric_labels(), metric_help(), plain_metrics()
    with left:
        for col, (name, value) in zip(st.columns(len(figures)), figures.items(), strict=True):
            likely = _likely(evaluation, name)
            unmeasured = value is None and name in helps
            col.metric(
                labels.get(name, name),
                fmt(value),
                delta=likely or (tr("too few rows per group") if unmeasured else None),
                delta_color="off",
                delta_arrow="off",
                help=helps.get(name) or plain.get(name),
            )
    if fairness is not None:
        worst = fairness.worst_group
        # In running text: "accuracy" as a word, other metrics by their labels.
        metric = tr("accuracy") if worst["metric"] == "accuracy" else labels.get(worst["metric"])
        metric = metric or str(worst["metric"])
        label = tr("Worst group by {metric}").format(metric=metric)
        if worst.get("group") is None:
            right.metric(
                label,
                "—",
                delta=tr("too few rows per group"),
                delta_color="off",
                delta_arrow="off",
            )
        else:
            right.metric(
                label,
                str(worst["group"]),
                # The label names the metric: the line under the group stays short enough to show.
                delta=tr("{value}, {gap} below overall").format(
                    value=fmt(worst["value"]),
                    gap=fmt(worst.get("gap")),
                ),
                delta_color="off",
                delta_arrow="off",
                help=tr("Among groups with at least {rows} test rows.").format(
                    rows=fairness.min_group_rows
                ),
            )
    if evaluation.intervals:
        st.caption(
            tr(
                "Under each figure, the range the true figure is likely in: a "
                "{confidence:.0%} confidence interval, from {resamples} random resamples of "
                "the {rows:,} test rows. A wide range means the test rows are too few to pin "
                "the figure down; no range, that every resample scored the same, which tells "
                "nothing about it."
            ).format(
                confidence=evaluation.confidence,
                resamples=evaluation.n_resamples,
                rows=evaluation.n_rows,
            )
        )


def metrics_table(evaluation: EvalReport) -> pd.DataFrame:
    """Every metric with its likely range and what always giving one answer scores."""
    baseline = evaluation.baseline
    guess = (
        "—"
        if baseline is None
        else tr("always '{guess}'").format(guess=baseline.guess)
        if baseline.rule == "most common answer"
        else tr("always the average ({guess:.3g})").format(guess=baseline.guess)
    )
    plain = plain_metrics()
    rows = []
    for name, value in evaluation.metrics.items():
        pair = evaluation.interval(name)
        rows.append(
            {
                tr("metric"): plain.get(name, name).split(":")[0],
                tr("value"): fmt(value),
                tr("likely between"): "—" if pair is None else f"{pair[0]:.3f} – {pair[1]:.3f}",
                tr("guessing {guess}").format(guess=guess): fmt(
                    (baseline.metrics if baseline else {}).get(name)
                ),
                tr("what it means"): plain.get(name, "").split(": ", 1)[-1],
            }
        )
    return pd.DataFrame(rows)


def mitigation_panel(job_id: str) -> Job:
    """The mitigation job's state (redrawn while it runs: :func:`live_job_panel`)."""
    store = JobStore(workspace())
    job = guard(store.get, job_id)
    phase = job.progress.phase
    job_status(
        job,
        store,
        fraction=0.1 if phase == "starting" else 0.5,
        text=tr("Mitigating · {phase}").format(phase=phase),
    )
    if job.status == "succeeded":
        st.success(
            tr("Registered **{name}:{version}** in {seconds:.0f} s.").format(
                name=job.model_name,
                version=job.model_version,
                seconds=(job.ended or 0) - (job.started or 0),
            )
        )
        rows = guard(workspace().load_report, job.run_id, "mitigation")["rows"]
        st.dataframe(mitigation_table(rows), hide_index=True)
        energy_line(job.run_id)  # what the mitigation used, as for a trained run
        if st.button(tr("Show the new version"), key=f"show-{job.id}"):
            st.session_state[Keys.RUN_ID] = job.run_id
            st.session_state.pop(Keys.MITIGATION_JOB, None)
            st.rerun(scope="app")
    return job


def mitigation_table(rows: list[dict]) -> pd.DataFrame:
    """The before/after rows with readable metric names."""
    table = pd.DataFrame(rows)
    labels = metric_labels()
    table["metric"] = table["metric"].map(lambda m: labels.get(m, m.replace("_", " ")))
    for column in ("before", "after", "change"):
        table[column] = table[column].map(fmt)
    return table.rename(
        columns={
            "metric": tr("metric"),
            "before": tr("before"),
            "after": tr("after"),
            "change": tr("change"),
        }
    )


run = pick_run()
if run.task == "ner":  # entity runs: per-type scores and worst sentences, no fairness
    from app_pages._ner import ner_evaluate_section

    ner_evaluate_section(run.run_id)
    st.stop()
with st.spinner(tr("Loading the model's test results…")):
    reports = run_reports(run.run_id, complete=True)
evaluation = reports.evaluation
verdict_box(evaluation)
attributes = [r.attribute for r in reports.fairness]
chosen = (
    st.selectbox(
        tr("Fairness by"), attributes, help=tr("Sensitive columns chosen on the Data page.")
    )
    if attributes
    else None
)
fairness = reports.fairness_for(chosen) if chosen else None
headline_row(evaluation, fairness)
if (privacy := load_privacy(workspace(), run.run_id)) is not None:
    privacy_row(privacy)
energy_line(run.run_id)
notebook_button(run.run_id)
if fairness is None:
    st.info(
        tr("No sensitive column was chosen for this data set, so there are no fairness figures.")
    )
elif fairness.note and not fairness.comparable:
    st.warning(say(fairness.note), icon=":material/groups:")

curves = [roc_figure, pr_figure] + ([calibration_figure] if evaluation.calibration else [])
# Figures two to a row; the group table above them at full width, where its columns fit.
grid = []
if fairness is not None:
    st.subheader(tr("By {column}").format(column=fairness.attribute))
    fairness_tables(fairness)
    if fairness.note and fairness.comparable:
        st.caption(say(fairness.note))
    metric = "selection_rate" if fairness.task == "binary" else next(iter(fairness.overall))
    grid.append(fairness_group_figure(fairness, metric, language=language()))
    if fairness.task == "binary":
        grid.append(fairness_rates_figure(fairness, language=language()))
if evaluation.task == "regression":
    grid.append(residual_figure(evaluation, language=language()))
else:
    grid.append(confusion_matrix_figure(evaluation, language=language()))
    if len(grid) % 2:  # the last curve fills the row
        grid.append(curves.pop()(evaluation, language=language()))
for first in range(0, len(grid), 2):
    row = grid[first : first + 2]
    for column, figure in zip(st.columns(len(row)), row, strict=True):
        column.plotly_chart(figure)
if fairness is not None and evaluation.task != "regression":
    recourse_section(run, chosen)

if evaluation.task != "regression":
    st.subheader(tr("Curves"))
    for column, figure in zip(st.columns(len(curves)), curves, strict=True):
        column.plotly_chart(figure(evaluation, language=language()))
# Full width: the last column names the most common answer and needs the room.
st.subheader(tr("Every figure"))
st.dataframe(metrics_table(evaluation), hide_index=True)

st.subheader(tr("Mitigate"))
mitigation = guard(workspace().find_report, run.run_id, "mitigation")
if mitigation:
    st.write(
        tr(
            "This model is **{title}** for **{sensitive}**, made from {parent} (fitted on its "
            "{fitted_on}); same test rows."
        ).format(
            title=mitigation["title"],
            sensitive=mitigation["sensitive"],
            parent=mitigation["parent_model"],
            fitted_on=mitigation["fitted_on"],
        )
    )
    st.dataframe(mitigation_table(mitigation["rows"]), hide_index=True)
elif evaluation.task != "binary":
    st.write(
        tr(
            "Mitigation needs a yes/no target; this model predicts more than two answers or a "
            "number."
        )
    )
elif not attributes:
    st.write(
        tr("Mitigation needs a sensitive column; choose one on the Data page and train again.")
    )
elif not family_class(run.family).mitigable:
    st.write(
        tr(
            "Mitigation is not available for a {family}; compare its groups above and retrain "
            "with more varied examples for the group that fares worst."
        ).format(family=say(family_title(run.family)).lower())
    )
elif not may(Role.EDITOR):
    st.write(tr("An editor of this workspace can make a fairer version of this model here."))
else:
    st.write(
        tr(
            "Make a fairer version of this model. One way keeps the model and sets a separate "
            "cut-off per group on its scores; the other trains it again, giving more weight to "
            "the rows it treats unfairly. Either way you get a new model version, evaluated on "
            "the same test rows, that deploys like any other."
        )
    )
    with st.expander(tr("Expert details")):
        st.write(
            tr(
                "Both methods come from fairlearn: **ThresholdOptimizer** (a threshold per "
                "group on this model's scores) and **ExponentiatedGradient** (LightGBM "
                "retrained on reweighted rows under a fairness constraint)."
            )
        )
    m1, m2 = st.columns(2)
    method = m1.selectbox(
        tr("Method"), list(METHOD_TITLES), format_func=lambda m: say(METHOD_TITLES[m])
    )
    target_attr = m2.selectbox(tr("For"), attributes, index=attributes.index(chosen))
    if st.button(tr("Mitigate"), icon=":material/balance:"):
        config = MitigationConfig(run_id=run.run_id, sensitive=target_attr, method=method)
        job = guard(start_job, config, workspace=workspace(), owner=actor())
        st.session_state[Keys.MITIGATION_JOB] = job.id
    if st.session_state.get(Keys.MITIGATION_JOB):
        live_job_panel(mitigation_panel, st.session_state[Keys.MITIGATION_JOB])

if attributes and evaluation.task != "regression":
    st.subheader(tr("Trade-off across runs"))
    st.write(
        tr(
            "Every run on data set **{name}**: accuracy against a fairness gap (ε marks runs "
            "trained with differential privacy). Red points are the best trade-offs: no other "
            "run is both more accurate and fairer. Click a point to open its run."
        ).format(name=run.dataset_name)
    )
    t1, t2 = st.columns(2)
    labels = metric_labels()
    gap = t1.selectbox(tr("Gap"), GAPS, format_func=lambda g: labels.get(g, g))
    attribute = t2.selectbox(
        tr("Of"), attributes, index=attributes.index(chosen), key="tradeoff_of"
    )
    trade = guard(tradeoff, workspace(), run.dataset_id, attribute=attribute, gap=gap)
    event = st.plotly_chart(
        tradeoff_figure(trade, language=language()),
        on_select="rerun",
        selection_mode="points",
        key="tradeoff",
    )
    picked = [p.get("customdata") for p in (event.selection.points if event else [])]
    if picked and picked[0] and picked[0] != run.run_id:
        st.session_state[Keys.RUN_ID] = picked[0]
        st.rerun()
    if any(p.energy_wh is not None for p in trade.points):
        st.caption(tr("A larger point used more energy to train (hover for its watt-hours)."))
    if trade.skipped:
        st.caption(
            tr("{count} run(s) without figures for {column} are left out.").format(
                count=trade.skipped, column=attribute
            )
        )

fusion_section(run)

with st.expander(tr("Compare with another run"), icon=":material/compare_arrows:"):
    runs = [r for r in list_runs() if r.run_id != run.run_id]
    if not runs:
        st.write(tr("Train a second model to compare."))
    else:
        other_id = st.selectbox(
            tr("Other run"),
            [r.run_id for r in runs],
            format_func=lambda i: run_label(next(r for r in runs if r.run_id == i)),
            key=Keys.COMPARE_RUN_ID,
        )
        other = run_reports(other_id)
        st.dataframe(pd.DataFrame(compare_reports(evaluation, other.evaluation)), hide_index=True)
        st.plotly_chart(
            compare_figure(
                evaluation,
                other.evaluation,
                labels=(tr("this run"), tr("other")),
                language=language(),
            )
        )

with st.expander(tr("Audit predictions made elsewhere"), icon=":material/fact_check:"):
    st.write(
        tr(
            "Upload a table with true labels and another model's predictions (or scores) to "
            "get the same accuracy and fairness figures for a model Lepton did not train."
        )
    )
    upload = st.file_uploader(
        tr("Predictions table"), type=["csv", "tsv", "txt", "parquet", "jsonl"]
    )
    if upload is not None:
        table = guard(load_table, upload.getvalue(), filename=upload.name)
        cols = list(table.columns)
        a1, a2, a3 = st.columns(3)
        label = a1.selectbox(tr("Label column"), cols)
        prediction = a2.selectbox(tr("Prediction or score column"), cols, index=len(cols) - 1)
        scores = a3.toggle(tr("It holds scores"), help=tr("Probabilities are turned into labels."))
        threshold = a3.number_input(tr("Threshold"), 0.0, 1.0, 0.5) if scores else None
        sensitive = st.multiselect(
            tr("Sensitive columns"), [c for c in cols if c not in (label, prediction)]
        )
        if st.button(tr("Audit")) and sensitive:
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
                    st.caption(say(report.note))

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
