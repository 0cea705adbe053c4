"""Step 2 · Train: pick a model family and start a background training job."""

from __future__ import annotations

import time
import uuid

import pandas as pd
import streamlit as st

from app_pages._common import (
    METRIC_HELP,
    METRIC_LABELS,
    Keys,
    current_dataset,
    dataset_jobs,
    guard,
    header,
    job_dataset_id,
    job_status,
    metric_row,
    python_cell,
    run_reports,
    when,
    workspace,
)

AUTO = "auto"  # not a family: the search over the families Auto may search
#: What each phase of a job is doing, in words.
PHASES = {
    "starting": "starting",
    "loading": "reading the data",
    "searching": "trying models",
    "training": "training",
    "evaluating": "testing on rows it never saw",
    "explaining": "working out which inputs matter",
    "saving": "saving",
    "done": "finishing",
}

header(
    "2 · Train",
    "Pick a kind of model, or Auto to try several and keep the best within a time limit, and "
    "start training. It runs in the background, so it keeps going if you close the tab; the "
    "model is then tested, checked for fairness and explained.",
)

# Imported after the heading is on screen: a first visit imports the engine's heavy parts.
from app_pages._privacy import dp_options, privacy_row  # noqa: E402
from app_pages._settings import expert_details, family_settings  # noqa: E402
from app_pages._text import default_family_index, language_note  # noqa: E402
from lepton_core.core import LeptonError  # noqa: E402
from lepton_core.dp import load_privacy  # noqa: E402
from lepton_core.jobs import AutoProgress, Job, JobProgress, JobStore, start_job  # noqa: E402
from lepton_core.models import family_class, family_names, family_title, make_model  # noqa: E402
from lepton_core.plots import training_curves_figure  # noqa: E402
from lepton_core.runs import (  # noqa: E402
    FAIRNESS_LIMITS,
    AutoConfig,
    TrainConfig,
    default_metric,
    leaderboard_table,
)

dataset = current_dataset()
if dataset is None:
    st.info("There is no data set yet; confirm one on the **Data** page first.")
    st.page_link("app_pages/data.py", label="Go to Data", icon=":material/table:")
    st.stop()
st.markdown(
    f"Data set **{dataset.name}** · {dataset.n_rows:,} rows · target `{dataset.target}` "
    f"({dataset.task}) · sensitive: {', '.join(dataset.sensitive) or 'none'}"
)
store = JobStore(workspace())
# While the user sets a job up, a spare worker imports the training stack (not while
# a job runs), so the job starts in well under a second.
store.warm()

# Each family's few settings (its class lists them); everything else keeps its defaults.
reads = "text" if dataset.text_column else "table"
choices = family_names(reads=reads)
if family_names(reads=reads, searchable=True):
    choices.append(AUTO)
family = (
    choices[0]
    if len(choices) == 1
    else st.selectbox(
        "Model family",
        choices,
        format_func=lambda f: (
            "Auto: try several kinds of model and settings, keep the best"
            if f == AUTO
            else family_title(f)
        ),
        # Texts start on the fast n-gram family in every language (the engine's default).
        index=default_family_index(choices, dataset) if reads == "text" else 0,
        help="The kind of model to train. Not sure? Keep the first one, or pick Auto.",
    )
)
if reads == "text":
    st.markdown(
        f"The model learns to classify the text column `{dataset.text_column}` "
        "(other columns are not read)."
    )
settings = () if family == AUTO else family_class(family).settings
params: dict[str, object] = {}
cols = st.columns([2, 1, 1, 1] if any(s.other for s in settings) else 4)  # room for names
budget, fairness_metric, fairness_limit = 60, FAIRNESS_LIMITS[0], None
if family != AUTO:
    params.update(family_settings(settings, cols[:-1]))
    if reads == "text":
        language_note(dataset, family, params)  # e.g. MiniLM reads English only
else:
    budget = cols[0].number_input(
        "Time budget (s)",
        10,
        3600,
        60,
        step=10,
        help="How long Auto may spend trying models. The best one is then trained again, "
        "tested once on rows kept apart and explained, which takes extra time.",
    )
    classification = dataset.task in ("binary", "multiclass")
    if (
        classification
        and dataset.sensitive
        and cols[1].toggle(
            "Fairness limit",
            help="Prefer models whose predictions differ little between the groups of a "
            "sensitive column.",
        )
    ):
        fairness_metric = cols[1].selectbox(
            "Which gap",
            FAIRNESS_LIMITS,
            format_func=METRIC_LABELS.get,
            help=" ".join(METRIC_HELP[m] for m in FAIRNESS_LIMITS if m in METRIC_HELP),
        )
        fairness_limit = cols[2].number_input(
            "At most",
            0.0,
            1.0,
            0.1,
            step=0.01,
            help="The largest gap allowed: 0 is no difference between groups. Measured on "
            "rows kept apart from training, for the worst sensitive column; models within "
            "the limit rank first.",
        )
    metric = default_metric(dataset.task)
    st.caption(
        f"Auto ranks the models it tries by {METRIC_LABELS.get(metric, metric)} on rows kept "
        "apart from training (validation rows); the final test rows are used once, by the "
        "winner."
    )
seed = cols[-1].number_input(
    "Seed",
    0,
    2**31 - 1,
    0,
    help="Any whole number: the same number gives the same split of the rows and the same "
    "model; another one shows how much results vary by chance.",
)
if family != AUTO:
    expert_details(family, dataset.task, settings)
privacy = None
# Differential privacy, for the families that have a private variant.
if family != AUTO and family_class(family).private_variant:
    privacy = dp_options(dataset.n_rows, make_model(family, dataset.task, **params).privacy_note())
config = TrainConfig(
    data=f"dataset:{dataset.id}",
    model="lightgbm" if family == AUTO else family,
    params=params,
    seed=int(seed),
    privacy=privacy,
)
auto = (
    AutoConfig(
        base=config,
        budget_s=float(budget),
        fairness_metric=fairness_metric,
        fairness_limit=fairness_limit,
    )
    if family == AUTO
    else None
)

owner = st.session_state.setdefault(Keys.OWNER, uuid.uuid4().hex[:8])
# The job shown belongs to this data set: switching data sets never shows another's job.
jobs = st.session_state.setdefault(Keys.JOBS, {})
if st.button("Start training", type="primary"):
    job = guard(start_job, auto or config, workspace=workspace(), owner=owner)
    jobs[dataset.id] = st.session_state[Keys.JOB_ID] = job.id
elif dataset.id not in jobs:
    # A reload or a shared URL comes back to its job, else this data set's newest job.
    wanted = st.query_params.get("job")
    try:
        linked = store.get(wanted) if wanted else None
    except LeptonError:
        linked = None
    if linked is not None and job_dataset_id(linked) == dataset.id:
        jobs[dataset.id] = linked.id
    elif newest := dataset_jobs(store, dataset.id, limit=1):
        jobs[dataset.id] = newest[0].id
if jobs.get(dataset.id):
    st.query_params["job"] = jobs[dataset.id]
elif "job" in st.query_params:
    del st.query_params["job"]  # another data set's job


def _progress_text(job: Job, progress: JobProgress) -> tuple[float, str]:
    """The bar's fraction (checked in ``lepton_core.jobs``) and its line, in words."""
    phase = PHASES.get(progress.phase, progress.phase)
    left = progress.seconds_left()
    if isinstance(progress, AutoProgress) and progress.searching:
        if left is None:
            return progress.fraction(), f"{phase} · the first one is running"
        return progress.fraction(), f"{phase} · {progress.trials} tried · about {left:.0f} s left"
    eta = f" · about {left:.0f} s left" if left is not None and progress.phase == "training" else ""
    prefix = "training the best model: " if job.kind == "auto" else ""
    return progress.fraction(), f"{prefix}{phase}{eta}"


@st.fragment(run_every=1.0)
def job_panel(job_id: str) -> None:
    """The data set's job and its progress, re-drawn about once a second without rerunning
    the page."""
    job = guard(store.get, job_id)
    progress = job.progress
    search = progress if isinstance(progress, AutoProgress) else None
    title = "Auto search" if job.kind == "auto" else family_title(job.family)
    st.subheader(f"Job {job.id} · {title} · {job.status}")
    fraction, text = _progress_text(job, progress)
    job_status(job, store, fraction=fraction, text=text)
    if job.status == "succeeded":
        reports = run_reports(job.run_id, complete=True)
        done = (
            f"Model **{job.model_name}:{job.model_version}** trained in "
            f"{(job.ended or 0) - (job.started or 0):.0f} s."
        )
        # Green only when the model is clearly better than always guessing; else say why not.
        verdict = reports.evaluation.verdict
        if verdict is None or verdict.better:
            st.success(f"{done} {verdict.text if verdict else ''}")
        else:
            st.warning(f"{done} {verdict.text}")
        for warning in reports.evaluation.warnings:
            st.warning(warning.text)
        metric_row(reports.headline())
        if (privacy_report := load_privacy(workspace(), job.run_id)) is not None:
            privacy_row(privacy_report)
        st.session_state[Keys.RUN_ID] = job.run_id
        st.page_link(
            "app_pages/evaluate.py", label="See accuracy and fairness", icon=":material/balance:"
        )
    if search is not None and search.leaderboard:
        board = search.leaderboard
        st.markdown(
            f"**Leaderboard** · the {len(board)} best of {search.trials} models tried, "
            "scored on rows kept apart from training"
        )
        table = leaderboard_table(
            board,
            metric=search.metric,
            fairness_metric=search.fairness_metric,
            fairness_limit=search.fairness_limit,
        )
        st.dataframe(table, hide_index=True)
        if search.fairness_limit is not None and not board[0]["meets_limit"]:
            st.warning(
                (
                    "No model meets the fairness limit yet"
                    if job.active
                    else "No model met the fairness limit, so the fairest one found was trained"
                )
                + "; give Auto more time or loosen the limit."
            )
    history = progress.history
    if len(history) > 1 and not (search and search.searching):  # one tree: no curve to draw
        st.plotly_chart(training_curves_figure(history))


if jobs.get(dataset.id):
    job_panel(jobs[dataset.id])

with st.expander(f"Recent jobs on {dataset.name}"):
    recent = dataset_jobs(store, dataset.id)
    if recent:
        st.dataframe(
            pd.DataFrame(
                {
                    "job": [j.id for j in recent],
                    "status": [j.status for j in recent],
                    "model": [j.family for j in recent],
                    "started": [when(j.created) for j in recent],
                    "seconds": [
                        round((j.ended or time.time()) - (j.started or j.created)) for j in recent
                    ],
                    "result": [
                        f"{j.model_name}:{j.model_version}" if j.model_name else (j.error or "")
                        for j in recent
                    ],
                }
            ),
            hide_index=True,
        )
    else:
        st.write("No jobs on this data set yet.")

if auto is not None:
    limit_flags = (
        f" --fairness-limit {auto.fairness_limit} --fairness-metric {auto.fairness_metric}"
        if auto.fairness_limit is not None
        else ""
    )
    python_cell(
        f"""
from lepton_core.runs import AutoConfig, run_auto
from lepton_core.runs import TrainConfig
config = AutoConfig(base=TrainConfig(data="dataset:{dataset.id}", seed={int(seed)}),
                    budget_s={auto.budget_s}, fairness_metric={auto.fairness_metric!r},
                    fairness_limit={auto.fairness_limit!r})
result = run_auto(config)
print(result.leaderboard[0], result.winner.headline())
# or, from a shell: python -m lepton_core train --data dataset:{dataset.id} --auto \\
#   --budget {auto.budget_s:g}{limit_flags}
"""
    )
else:
    python_cell(
        f"""
from lepton_core.runs import TrainConfig, train
config = TrainConfig(data="dataset:{dataset.id}", model={family!r}, params={params!r},
                     seed={int(seed)})
result = train(config)
print(result.headline())
# or, from a shell: python -m lepton_core train --data dataset:{dataset.id} --model {family}
"""
    )
