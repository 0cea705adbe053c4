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
from app_pages._text import text_model_options
from lepton_core.dp import PrivacyOptions, default_delta, load_privacy
from lepton_core.jobs import JobStore, cancel_job, start_job
from lepton_core.models import FAMILIES, FAMILY_TITLES
from lepton_core.plots import training_curves_figure
from lepton_core.runs import (
    FAIRNESS_LIMITS,
    TEXT_FAMILY,
    AutoConfig,
    TrainConfig,
    default_metric,
    leaderboard_table,
    load_run_reports,
)

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

# Key settings per family; everything else keeps the library's defaults.
if dataset.text_column:
    family = TEXT_FAMILY
    st.markdown(
        f"A pretrained language model learns to classify the text column "
        f"`{dataset.text_column}` (other columns are not read)."
    )
else:
    family = st.selectbox(
        "Model family",
        (*FAMILIES, "auto"),
        format_func=lambda f: (
            "Auto: search families and settings" if f == "auto" else FAMILY_TITLES[f]
        ),
    )
params: dict[str, object] = {}
cols = st.columns([2, 1, 1, 1] if family == TEXT_FAMILY else 4)  # room for model names
budget, fairness_metric, fairness_limit = 60, FAIRNESS_LIMITS[0], None
if family == TEXT_FAMILY:
    params.update(text_model_options(cols))
elif family == "auto":
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
elif family == "lightgbm":
    params["n_estimators"] = cols[0].number_input("Boosting rounds", 10, 5000, 100, step=10)
    params["learning_rate"] = cols[1].number_input("Learning rate", 0.001, 1.0, 0.1, format="%.3f")
    params["num_leaves"] = cols[2].number_input("Leaves per tree", 2, 1024, 31)
elif family == "logistic":
    params["C"] = cols[0].number_input("Inverse regularisation C", 0.001, 1000.0, 1.0)
elif family == "tree":
    params["max_depth"] = cols[0].number_input("Maximum depth", 1, 20, 5)
else:
    params["max_epochs"] = cols[0].number_input("Maximum epochs", 1, 500, 30)
seed = cols[-1].number_input("Seed", 0, 2**31 - 1, 0, help="Same seed, same split and model.")
privacy = None
_PRIVACY_NOTES = {
    "quick": " The pretrained encoder stays frozen; only the head learns from your rows.",
    "finetune": " The encoder's biases and layer norms and the head learn with DP-SGD "
    "(texts cut at 128 tokens; 3 epochs when Epochs is left at 1); it takes 2–3 times a "
    "plain fine-tune (about 2.5 minutes for 4,000 short texts on one CPU core).",
}
# Differential privacy (issue 6): the MLP, or a text model (Quick head or Fine-tune).
if family in ("mlp", TEXT_FAMILY):
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
                "ε spent is reported with the model." + _PRIVACY_NOTES.get(params.get("mode"), "")
            )
config = TrainConfig(
    data=f"dataset:{dataset.id}",
    model="lightgbm" if family == "auto" else family,
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
    if family == "auto"
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
    progress = job.progress or {}
    phase = progress.get("phase", "starting")
    title = "Auto search" if job.kind == "auto" else FAMILY_TITLES.get(job.family, job.family)
    st.subheader(f"Job {job.id} · {title} · {job.status}")
    if job.status == "queued":
        st.info(
            f"Queued, number {store.queue_position(job.id) or 1} in line; at most "
            f"{job.max_jobs} job(s) run at once. It starts by itself when a slot frees."
        )
    if job.status == "running":
        if phase == "searching":
            elapsed = time.time() - progress.get("search_started", time.time())
            budget_s = progress.get("budget_s") or 1.0
            fraction, left = elapsed / budget_s, max(0.0, budget_s - elapsed)
            text = f"searching · trial {progress.get('trials', 0)} · about {left:.0f} s left"
        else:
            fraction = (progress.get("step") or 0) / (progress.get("total_steps") or 1)
            eta = progress.get("eta_seconds")
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
    if progress.get("leaderboard"):
        st.markdown(
            f"**Leaderboard** · {len(progress['leaderboard'])} best of "
            f"{progress.get('trials', 0)} trials, scored on validation data"
        )
        st.dataframe(leaderboard_table(progress), hide_index=True)
        board = progress["leaderboard"]
        if progress.get("fairness_limit") is not None and not board[0]["meets_limit"]:
            st.warning(
                (
                    "No model meets the fairness limit yet"
                    if job.active
                    else "No model met the fairness limit, so the fairest one found was trained"
                )
                + "; give Auto more time or loosen the limit."
            )
    history = progress.get("history") or []
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
