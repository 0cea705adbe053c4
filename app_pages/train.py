"""Step 2 · Train: pick a model family and start a background training job."""

from __future__ import annotations

import time
import uuid

import pandas as pd
import streamlit as st

from app_pages._common import (
    Keys,
    current_dataset,
    guard,
    header,
    metric_row,
    python_cell,
    when,
    workspace,
)
from app_pages._privacy import privacy_row
from app_pages._settings import family_settings
from lepton_core.dp import PrivacyOptions, default_delta, load_privacy
from lepton_core.jobs import AutoProgress, JobStore, cancel_job, start_job
from lepton_core.models import family_class, family_names, family_title, make_model
from lepton_core.plots import training_curves_figure
from lepton_core.runs import (
    FAIRNESS_LIMITS,
    AutoConfig,
    TrainConfig,
    default_metric,
    leaderboard_table,
    load_run_reports,
)

AUTO = "auto"  # not a family: the search over the families Auto may search

header(
    "2 · Train",
    "Pick a model family, or Auto to search families and settings within a time budget, and "
    "start training. It runs as a background job, so it keeps going if you close the tab; the "
    "model is evaluated, checked for fairness and explained as it finishes.",
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
            "Auto: search families and settings" if f == AUTO else family_title(f)
        ),
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
else:
    budget = cols[0].number_input(
        "Time budget (s)",
        10,
        3600,
        60,
        step=10,
        help="Seconds of search; the best model is "
        "then trained, tested once on the test part, explained and registered.",
    )
    classification = dataset.task in ("binary", "multiclass")
    if classification and dataset.sensitive and cols[1].toggle("Fairness limit"):
        fairness_metric = cols[1].selectbox(
            "Gap to limit",
            FAIRNESS_LIMITS,
            format_func={
                "demographic_parity_difference": "Parity gap (DPD)",
                "equalized_odds_difference": "Odds gap (EOD)",
            }.get,
        )
        fairness_limit = cols[2].number_input(
            "At most",
            0.0,
            1.0,
            0.1,
            step=0.01,
            help="Measured on validation data, worst "
            "sensitive column; models within the limit rank first.",
        )
    st.caption(
        f"Auto ranks models by validation {default_metric(dataset.task)}; the test part is "
        "used once, by the winner."
    )
seed = cols[-1].number_input("Seed", 0, 2**31 - 1, 0, help="Same seed, same split and model.")
privacy = None
# Differential privacy, for the families that have a private variant.
if family != AUTO and family_class(family).private_variant:
    with st.expander("Differential privacy", icon=":material/shield_lock:"):
        if st.toggle("Train with differential privacy (Opacus)"):
            d1, d2, d3 = st.columns(3)
            privacy = PrivacyOptions(
                epsilon=d1.number_input(
                    "Target ε", 0.1, 50.0, 3.0, step=0.5, help="Smaller is more private."
                ),
                delta=d2.number_input(
                    "δ",
                    1e-12,
                    0.1,
                    value=None,
                    format="%.0e",
                    placeholder=f"{default_delta(dataset.n_rows):.0e} (1/n, rounded down)",
                ),
                max_grad_norm=d3.number_input("Clipping norm", 0.01, 100.0, 1.0),
            )
            st.caption(
                "Noise is calibrated to reach ε; Poisson sampling and per-sample clipping. "
                "ε spent is reported with the model. "
                + make_model(family, dataset.task, **params).privacy_note().strip()
            )
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
if st.button("Start training", type="primary"):
    job = guard(start_job, auto or config, workspace=workspace(), owner=owner)
    st.session_state[Keys.JOB_ID] = job.id
    st.query_params["job"] = job.id  # a reload or a shared URL comes back to this job
elif Keys.JOB_ID not in st.session_state and st.query_params.get("job"):
    st.session_state[Keys.JOB_ID] = st.query_params["job"]


@st.fragment(run_every=1.0)
def job_panel() -> None:
    """The current job's progress, re-drawn about once a second without rerunning the page."""
    job_id = st.session_state.get(Keys.JOB_ID)
    if not job_id:
        jobs = store.list(limit=1)
        if not jobs:
            return
        job_id = jobs[0].id
    job = guard(store.get, job_id)
    progress = job.progress
    phase = progress.phase
    search = progress if isinstance(progress, AutoProgress) else None
    title = "Auto search" if job.kind == "auto" else family_title(job.family)
    st.subheader(f"Job {job.id} · {title} · {job.status}")
    if job.status == "queued":
        st.info(
            f"Queued, number {store.queue_position(job.id) or 1} in line; at most "
            f"{job.max_jobs} job(s) run at once. It starts by itself when a slot frees."
        )
    if job.status == "running":
        if search is not None and phase == "searching":
            elapsed = time.time() - (search.search_started or time.time())
            budget_s = search.budget_s or 1.0
            fraction, left = elapsed / budget_s, max(0.0, budget_s - elapsed)
            text = f"searching · trial {search.trials} · about {left:.0f} s left"
        else:
            fraction = progress.step / (progress.total_steps or 1)
            eta = progress.eta_seconds
            eta_text = (
                f" · about {eta:.0f} s left" if eta is not None and phase == "training" else ""
            )
            text = f"{'winner: ' if job.kind == 'auto' else ''}{phase}{eta_text}"
        st.progress(min(fraction, 1.0), text=text)
    if job.active and st.button("Cancel", key=f"cancel-{job.id}"):
        guard(cancel_job, job.id, workspace=workspace())
        st.rerun(scope="fragment")
    if job.status == "succeeded":
        st.success(
            f"Model **{job.model_name}:{job.model_version}** trained in "
            f"{(job.ended or 0) - (job.started or 0):.0f} s."
        )
        metric_row(guard(load_run_reports, workspace(), job.run_id).headline())
        if (privacy_report := load_privacy(workspace(), job.run_id)) is not None:
            privacy_row(privacy_report)
        st.session_state[Keys.RUN_ID] = job.run_id
        st.page_link(
            "app_pages/evaluate.py", label="See accuracy and fairness", icon=":material/balance:"
        )
    elif not job.active:
        st.error(job.error or f"The job ended as {job.status}.")
        with st.expander("Log"):
            st.code(store.read_log(job.id) or "(empty)")
    if search is not None and search.leaderboard:
        board = search.leaderboard
        st.markdown(
            f"**Leaderboard** · {len(board)} best of {search.trials} trials, "
            "scored on validation data"
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
    if len(history) > 1 and phase != "searching":  # a single tree has no curve to draw
        st.plotly_chart(training_curves_figure(history))


job_panel()

with st.expander("Recent jobs"):
    jobs = store.list(limit=10)
    if jobs:
        st.dataframe(
            pd.DataFrame(
                {
                    "job": [j.id for j in jobs],
                    "status": [j.status for j in jobs],
                    "model": [j.family for j in jobs],
                    "started": [when(j.created) for j in jobs],
                    "seconds": [
                        round((j.ended or time.time()) - (j.started or j.created)) for j in jobs
                    ],
                    "result": [
                        f"{j.model_name}:{j.model_version}" if j.model_name else (j.error or "")
                        for j in jobs
                    ],
                }
            ),
            hide_index=True,
        )
    else:
        st.write("No jobs yet.")

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
