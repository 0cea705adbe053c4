"""Step 2 · Train: pick a model family and start a background training job."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from app_pages._common import (
    Keys,
    current_dataset,
    dataset_jobs,
    guard,
    header,
    job_dataset_id,
    job_status,
    live_job_panel,
    metric_help,
    metric_labels,
    metric_row,
    python_cell,
    run_reports,
    status_word,
    task_word,
    when,
    workspace,
)
from app_pages._i18n import language, say, tr
from app_pages._team import actor

AUTO = "auto"  # not a family: the search over the families Auto may search


def phases() -> dict[str, str]:
    """What each phase of a job is doing, in words (the reader's language)."""
    return {
        "starting": tr("starting"),
        "loading": tr("reading the data"),
        "searching": tr("trying models"),
        "training": tr("training"),
        "evaluating": tr("testing on rows it never saw"),
        "explaining": tr("working out which inputs matter"),
        "saving": tr("saving"),
        "done": tr("finishing"),
    }


header(
    tr("2 · Train"),
    tr(
        "Pick a kind of model, or Auto to try several and keep the best within a time limit, "
        "and start training. It runs in the background, so it keeps going if you close the "
        "tab; the model is then tested, checked for fairness and explained."
    ),
)

# Imported after the heading is on screen: a first visit imports the engine's heavy parts.
from app_pages._energy import energy_line, notebook_button  # noqa: E402
from app_pages._federated import federated_section  # noqa: E402
from app_pages._ner import model_task, ner_families, ner_train_note  # noqa: E402
from app_pages._ner import reads as dataset_reads  # noqa: E402
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
    st.info(tr("There is no data set yet; confirm one on the **Data** page first."))
    st.page_link("app_pages/data.py", label=tr("Go to Data"), icon=":material/table:")
    st.stop()
# A row of an image data set is a picture, and of a text data set a text: say so.
counted = {"image": tr("{n:,} images"), "text": tr("{n:,} texts"), "ner": tr("{n:,} sentences")}
st.markdown(
    tr(
        "Data set **{name}** · {count} · target `{target}` ({task}) · sensitive: {sensitive}"
    ).format(
        name=dataset.name,
        count=counted.get(dataset_reads(dataset), tr("{n:,} rows")).format(n=dataset.n_rows),
        target=dataset.target,
        task=task_word(dataset.task),
        sensitive=", ".join(dataset.sensitive) or tr("none"),
    )
)
store = JobStore(workspace())
# While the user sets a job up, a spare worker imports the training stack (not while
# a job runs), so the job starts in well under a second.
store.warm()

# Each family's few settings (its class lists them); everything else keeps its defaults.
reads = dataset_reads(dataset)  # "ner", "image", "text" or "table"
choices = family_names(reads=reads)
if reads == "ner":
    choices = ner_families(dataset, choices)  # spaCy's ready-made names: English only
if family_names(reads=reads, searchable=True):
    choices.append(AUTO)
family = (
    choices[0]
    if len(choices) == 1
    else st.selectbox(
        tr("Model family"),
        choices,
        format_func=lambda f: (
            tr("Auto: try several kinds of model and settings, keep the best")
            if f == AUTO
            else say(family_title(f))
        ),
        # Texts start on the fast n-gram family in every language (the engine's default).
        index=default_family_index(choices, dataset) if reads == "text" else 0,
        help=tr("The kind of model to train. Not sure? Keep the first one, or pick Auto."),
    )
)
if reads == "text":
    st.markdown(
        tr(
            "The model learns to classify the text column `{column}` (other columns are not read)."
        ).format(column=dataset.text_column)
    )
elif reads == "ner":
    ner_train_note(dataset, family)
elif reads == "image":
    st.markdown(
        tr(
            "**{family}** learns to classify the pictures in `{column}` (other columns are "
            "not read; they can still be sensitive columns for fairness)."
        ).format(family=say(family_title(family)), column=dataset.text_column)
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
        tr("Time budget (s)"),
        10,
        3600,
        60,
        step=10,
        help=tr(
            "How long Auto may spend trying models. The best one is then trained again, "
            "tested once on rows kept apart and explained, which takes extra time."
        ),
    )
    classification = dataset.task in ("binary", "multiclass")
    if (
        classification
        and dataset.sensitive
        and cols[1].toggle(
            tr("Fairness limit"),
            help=tr(
                "Prefer models whose predictions differ little between the groups of a "
                "sensitive column."
            ),
        )
    ):
        labels, helps = metric_labels(), metric_help()
        fairness_metric = cols[1].selectbox(
            tr("Which gap"),
            FAIRNESS_LIMITS,
            format_func=labels.get,
            help=" ".join(helps[m] for m in FAIRNESS_LIMITS if m in helps),
        )
        fairness_limit = cols[2].number_input(
            tr("At most"),
            0.0,
            1.0,
            0.1,
            step=0.01,
            help=tr(
                "The largest gap allowed: 0 is no difference between groups. Measured on "
                "rows kept apart from training, for the worst sensitive column; models within "
                "the limit rank first."
            ),
        )
    metric = default_metric(dataset.task)
    st.caption(
        tr(
            "Auto ranks the models it tries by {metric} on rows kept apart from training "
            "(validation rows); the final test rows are used once, by the winner."
        ).format(metric=metric_labels().get(metric, metric))
    )
seed = cols[-1].number_input(
    tr("Seed"),
    0,
    2**31 - 1,
    0,
    help=tr(
        "Any whole number: the same number gives the same split of the rows and the same "
        "model; another one shows how much results vary by chance."
    ),
)
if family != AUTO:
    expert_details(family, model_task(dataset), settings)
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
# The job shown belongs to this data set: switching data sets never shows another's job.
jobs = st.session_state.setdefault(Keys.JOBS, {})
if st.button(tr("Start training"), type="primary"):
    # A spare worker still importing is waited for (seconds): say that something happens.
    with st.spinner(tr("Starting the job…")):
        job = guard(start_job, auto or config, workspace=workspace(), owner=actor())
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
    phase = phases().get(progress.phase, progress.phase)
    left = progress.seconds_left()
    if isinstance(progress, AutoProgress) and progress.searching:
        if left is None:
            return progress.fraction(), tr("{phase} · the first one is running").format(phase=phase)
        return progress.fraction(), tr("{phase} · {trials} tried · about {left:.0f} s left").format(
            phase=phase, trials=progress.trials, left=left
        )
    if progress.phase == "explaining" and progress.total_steps:
        reads_what = job.family in family_names() and family_class(job.family).reads
        counted = {
            "text": tr("{done:,} of {total:,} texts"),
            "image": tr("{done:,} of {total:,} images"),
        }.get(reads_what or "", tr("{done:,} of {total:,} rows"))
        phase += " (" + counted.format(done=progress.step, total=progress.total_steps) + ")"
    eta = (
        tr(" · about {left:.0f} s left").format(left=left)
        if left is not None and progress.phase in ("training", "explaining")
        else ""
    )
    prefix = tr("training the best model: ") if job.kind == "auto" else ""
    return progress.fraction(), f"{prefix}{phase}{eta}"


def job_panel(job_id: str) -> Job:
    """The data set's job and its progress (redrawn while it runs: :func:`live_job_panel`)."""
    job = guard(store.get, job_id)
    progress = job.progress
    search = progress if isinstance(progress, AutoProgress) else None
    title = tr("Auto search") if job.kind == "auto" else say(family_title(job.family))
    st.subheader(
        tr("Job {id} · {title} · {status}").format(
            id=job.id, title=title, status=status_word(job.status)
        )
    )
    fraction, text = _progress_text(job, progress)
    job_status(job, store, fraction=fraction, text=text)
    if job.status == "running" and progress.figures:  # measured; explaining and saving
        st.caption(tr("Measured on the test part; the model is being explained and saved."))
        metric_row(progress.figures)
    if job.status == "succeeded":
        # First: a click on the next page as soon as the result shows stops this run.
        st.session_state[Keys.RUN_ID] = job.run_id
        reports = run_reports(job.run_id, complete=True)
        done = tr("Model **{name}:{version}** trained in {seconds:.0f} s.").format(
            name=job.model_name,
            version=job.model_version,
            seconds=(job.ended or 0) - (job.started or 0),
        )
        # Green only when the model is clearly better than always guessing; else say why not.
        verdict = reports.evaluation.verdict
        if verdict is None or verdict.better:
            st.success(f"{done} {say(verdict.text) if verdict else ''}")
        else:
            st.warning(f"{done} {say(verdict.text)}")
        for warning in reports.evaluation.warnings:
            st.warning(say(warning.text))
        metric_row(reports.headline())
        if (privacy_report := load_privacy(workspace(), job.run_id)) is not None:
            privacy_row(privacy_report)
        energy_line(job.run_id)
        notebook_button(job.run_id)
        st.page_link(
            "app_pages/evaluate.py",
            label=tr("See accuracy and fairness"),
            icon=":material/balance:",
        )
    if search is not None and search.leaderboard:
        board = search.leaderboard
        st.markdown(
            tr(
                "**Leaderboard** · the {best} best of {trials} models tried, "
                "scored on rows kept apart from training"
            ).format(best=len(board), trials=search.trials)
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
                tr(
                    "No model meets the fairness limit yet; give Auto more time or loosen the "
                    "limit."
                )
                if job.active
                else tr(
                    "No model met the fairness limit, so the fairest one found was trained; "
                    "give Auto more time or loosen the limit."
                )
            )
    history = progress.history
    if len(history) > 1 and not (search and search.searching):  # one tree: no curve to draw
        st.plotly_chart(training_curves_figure(history, language=language()))
    return job


if jobs.get(dataset.id):
    live_job_panel(job_panel, jobs[dataset.id])
federated_section(dataset, reads)

with st.expander(tr("Recent jobs on {name}").format(name=dataset.name)):
    recent = dataset_jobs(store, dataset.id)
    if recent:
        st.dataframe(
            pd.DataFrame(
                {
                    tr("job"): [j.id for j in recent],
                    tr("status"): [j.status for j in recent],
                    tr("model"): [j.family for j in recent],
                    tr("started"): [when(j.created) for j in recent],
                    tr("seconds"): [
                        round((j.ended or time.time()) - (j.started or j.created)) for j in recent
                    ],
                    tr("result"): [
                        f"{j.model_name}:{j.model_version}" if j.model_name else (j.error or "")
                        for j in recent
                    ],
                }
            ),
            hide_index=True,
        )
    else:
        st.write(tr("No jobs on this data set yet."))

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
