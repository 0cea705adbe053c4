"""The Train page's federated section: train without pooling the rows, as a background job."""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
import streamlit as st

from app_pages._common import guard, job_status, live_job_panel, status_word, workspace
from app_pages._i18n import tr
from app_pages._privacy import plain_terms, privacy_row
from app_pages._team import actor
from lepton_core.dp import PrivacyOptions, load_privacy
from lepton_core.jobs import Job, JobStore, start_job
from lepton_core.runs import FederatedConfig
from lepton_core.workspace import DatasetInfo

__all__ = ["federated_section"]

RANDOM = ""  # the split choice that is not a column: rows go to clients at random
#: What each kind of data set may train federated: tables a network, texts the Quick head.
MODELS = {"table": ["logistic", "mlp"], "text": ["text"]}
#: The most distinct values a column may have to be offered as the split (hospital, region).
MAX_GROUPS = 100


class State:
    """Session-state keys of this section."""

    JOBS = "federated_jobs_by_dataset"  # {data set id: its federated job's id}


@st.cache_data(show_spinner=False, max_entries=8)
def _group_columns(root: str, dataset_id: str, target: str) -> list[str]:
    """The data set's columns with 2 to :data:`MAX_GROUPS` values (not the target)."""
    table, _ = workspace().load_dataset(dataset_id)
    return [c for c in table.columns if c != target and 2 <= table[c].nunique() <= MAX_GROUPS]


def _model_title(model: str) -> str:
    return {
        "logistic": tr("logistic regression"),
        "mlp": tr("neural network"),
        "text": tr("text model, Quick mode (each group reads only its own texts)"),
    }[model]


def federated_section(dataset: DatasetInfo, reads: str) -> None:
    """An expander that starts a federated job on ``dataset`` and follows it; tables and
    text columns."""
    if reads not in MODELS:
        return
    with st.expander(tr("Train without pooling the data (federated)"), icon=":material/hub:"):
        st.caption(
            tr(
                "Federated: each group's rows stay in their own process; only model weights "
                "are averaged, round after round."
            )
        )
        columns = _group_columns(str(workspace().root), dataset.id, dataset.target)
        cols = st.columns(4)
        split_by = cols[0].selectbox(
            tr("Groups (clients) by"),
            [RANDOM, *columns],
            format_func=lambda c: tr("at random") if c == RANDOM else c,
            help=tr(
                "The column that says where each row lives, e.g. hospital or region. The "
                "largest groups get a client each; the rest share the last one."
            ),
            key="federated_split",
        )
        clients = cols[1].number_input(
            tr("Clients"), 2, 20, 3, key="federated_clients", help=tr("How many groups.")
        )
        rounds = cols[2].number_input(
            tr("Rounds"),
            1,
            200,
            10,
            key="federated_rounds",
            help=tr("How many times the groups train and their weights are averaged."),
        )
        model = cols[3].selectbox(
            tr("Model"), MODELS[reads], format_func=_model_title, key=f"federated_model_{reads}"
        )
        private = st.toggle(
            tr("Differential privacy in every group"),
            key="federated_private",
            help=tr(
                "Each group adds privacy noise while it trains, to this budget; every row is in "
                "one group, so the model's budget is the largest any group spent."
            ),
        )
        epsilon = (
            st.number_input(
                tr("Privacy budget ε (lower is more private)"),
                0.1,
                50.0,
                3.0,
                step=0.5,
                key="federated_epsilon",
                help=plain_terms()["epsilon"],
            )
            if private
            else None
        )
        jobs = st.session_state.setdefault(State.JOBS, {})
        if st.button(tr("Start federated training"), icon=":material/hub:"):
            config = FederatedConfig(
                data=f"dataset:{dataset.id}",
                model=model,
                clients=int(clients),
                split_by=split_by or None,
                rounds=int(rounds),
                privacy=PrivacyOptions(epsilon=float(epsilon)) if epsilon is not None else None,
            )
            job = guard(start_job, config, workspace=workspace(), owner=actor())
            jobs[dataset.id] = job.id
        if jobs.get(dataset.id):
            live_job_panel(federated_panel, jobs[dataset.id])


def federated_panel(job_id: str) -> Job:
    """The federated job's progress and loss curve per round, then its results."""
    store = JobStore(workspace())
    job = guard(store.get, job_id)
    progress = job.progress
    st.markdown(
        tr("**Federated job {id}** · {status}").format(id=job.id, status=status_word(job.status))
    )
    rounds = int(job.config.get("rounds") or 0)
    text = (
        tr("round {round} of {rounds}").format(round=progress.step, rounds=rounds)
        if progress.phase == "training" and progress.step
        else tr("preparing the groups")
        if progress.phase in ("starting", "loading", "training")
        else tr("testing and saving the federated model")
    )
    job_status(job, store, fraction=progress.fraction(), text=text)
    history = [h for h in progress.history if "train_loss" in h]
    if history:
        st.plotly_chart(_curve(history), key=f"federated-curve-{job.id}")
    if job.status == "succeeded" and job.run_id:
        _results(job)
    return job


def _curve(history: list[dict[str, Any]]) -> Any:
    """Training and validation loss by round."""
    import plotly.graph_objects as go

    rounds = [int(h["step"]) for h in history]
    figure = go.Figure()
    for key, name in (("train_loss", tr("training loss")), ("valid_loss", tr("validation loss"))):
        figure.add_scatter(
            x=rounds, y=[h.get(key) for h in history], mode="lines+markers", name=name
        )
    figure.update_layout(
        title=tr("Loss per round (lower is better)"),
        xaxis_title=tr("round"),
        yaxis_title=tr("loss"),
        height=300,
        margin={"t": 40, "b": 40},
    )
    return figure


def _size(n_bytes: float) -> str:
    """Bytes in KB or MB."""
    return f"{n_bytes / 1e6:,.1f} MB" if n_bytes >= 1e6 else f"{n_bytes / 1e3:,.1f} KB"


def _results(job: Job) -> None:
    """Centralised next to federated, per group, rounds and data exchanged."""
    result = workspace().load_report(job.run_id, "federated")  # type: ignore[arg-type]
    st.success(
        tr("Federated model **{name}:{version}** trained in {seconds:.0f} s.").format(
            name=job.model_name,
            version=job.model_version,
            seconds=(job.ended or time.time()) - (job.started or job.created),
        )
    )
    if (privacy := load_privacy(workspace(), job.run_id)) is not None:  # type: ignore[arg-type]
        privacy_row(privacy)
    metric = "accuracy" if "accuracy" in result["federated"] else "r2"
    label = tr("accuracy") if metric == "accuracy" else "R²"

    def score(value: Any) -> str:
        return "–" if value is None else f"{value:.1%}" if metric == "accuracy" else f"{value:.3f}"

    st.dataframe(
        pd.DataFrame(
            {
                tr("model"): [
                    tr("centralised (all rows pooled in one place)"),
                    tr("federated (rows stayed in their groups)"),
                ],
                tr("test {metric}").format(metric=label): [
                    score(result["centralised"].get(metric)),
                    score(result["federated"].get(metric)),
                ],
            }
        ),
        hide_index=True,
    )
    clients = result["clients"]
    st.dataframe(
        pd.DataFrame(
            {
                tr("group"): [str(c["name"]) for c in clients],
                tr("training rows"): [c["n_train"] for c in clients],
                tr("test rows"): [c["n_test"] for c in clients],
                tr("federated accuracy"): [score(c["accuracy"]) for c in clients],
            }
        ),
        hide_index=True,
    )
    st.markdown(
        tr("{rounds} rounds (the best, round {best}, was kept) · data exchanged: {size}").format(
            rounds=len(result["history"]),
            best=result["best_round"],
            size=_size(result["bytes_exchanged"]),
        )
    )
