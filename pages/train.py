"""Step 2 · Train: pick a model family and start a background training job."""

from __future__ import annotations

import time
import uuid

import pandas as pd
import streamlit as st

from lepton_core.jobs import JobStore, cancel_job, start_job
from lepton_core.models import FAMILIES, FAMILY_TITLES
from lepton_core.plots import training_curves_figure
from lepton_core.reports import load_run_reports
from lepton_core.training import TrainConfig
from pages._common import (
    Keys,
    current_dataset,
    guard,
    header,
    metric_row,
    python_cell,
    when,
    workspace,
)

header(
    "2 · Train",
    "Pick a model family and start training. It runs as a background job, so it keeps going "
    "if you close the tab; the model is evaluated, checked for fairness and explained as it "
    "finishes.",
)
dataset = current_dataset()
if dataset is None:
    st.info("There is no data set yet; confirm one on the **Data** page first.")
    st.page_link("pages/data.py", label="Go to Data", icon=":material/table:")
    st.stop()
st.markdown(
    f"Data set **{dataset.name}** · {dataset.n_rows:,} rows · target `{dataset.target}` "
    f"({dataset.task}) · sensitive: {', '.join(dataset.sensitive) or 'none'}"
)

# Key settings per family; everything else keeps the library's defaults.
family = st.selectbox("Model family", FAMILIES, format_func=FAMILY_TITLES.get)
params: dict[str, object] = {}
cols = st.columns(4)
if family == "lightgbm":
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
config = TrainConfig(data=f"dataset:{dataset.id}", model=family, params=params, seed=int(seed))

owner = st.session_state.setdefault(Keys.OWNER, uuid.uuid4().hex[:8])
if st.button("Start training", type="primary"):
    job = guard(start_job, config, workspace=workspace(), owner=owner)
    st.session_state[Keys.JOB_ID] = job.id

store = JobStore(workspace())


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
    st.subheader(f"Job {job.id} · {job.status}")
    if job.active:
        fraction = (progress.get("step") or 0) / (progress.get("total_steps") or 1)
        eta = progress.get("eta_seconds")
        eta_text = f" · about {eta:.0f} s left" if eta is not None and phase == "training" else ""
        st.progress(min(fraction, 1.0), text=f"{phase}{eta_text}")
        if st.button("Cancel", key=f"cancel-{job.id}"):
            guard(cancel_job, job.id, workspace=workspace())
            st.rerun(scope="fragment")
    elif job.status == "succeeded":
        st.success(
            f"Model **{job.model_name}:{job.model_version}** trained in "
            f"{(job.ended or 0) - (job.started or 0):.0f} s."
        )
        metric_row(guard(load_run_reports, workspace(), job.run_id).headline())
        st.session_state[Keys.RUN_ID] = job.run_id
        st.page_link(
            "pages/evaluate.py", label="See accuracy and fairness", icon=":material/balance:"
        )
    else:
        st.error(job.error or f"The job ended as {job.status}.")
        with st.expander("Log"):
            st.code(store.read_log(job.id) or "(empty)")
    history = progress.get("history") or []
    if history:
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
                    "model": [j.config.get("model") for j in jobs],
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

python_cell(
    f"""
from lepton_core.training import TrainConfig, train
config = TrainConfig(data="dataset:{dataset.id}", model={family!r}, params={params!r},
                     seed={int(seed)})
result = train(config)
print(result.headline())
# or, from a shell: python -m lepton_core train --data dataset:{dataset.id} --model {family}
"""
)
