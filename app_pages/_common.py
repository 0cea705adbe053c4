"""What every page shares: session-state keys, the workspace, pickers and the Python cell."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from lepton_core.core import LeptonError
from lepton_core.workspace import DatasetInfo, RunSummary, Workspace

T = TypeVar("T")


class Keys:
    """Session-state keys; the state holds choices only, results live in the workspace."""

    DATASET_ID = "dataset_id"
    DRAFT = "draft"  # a loaded table not yet confirmed on the Data page
    JOB_ID = "job_id"
    MITIGATION_JOB = "mitigation_job_id"
    RUN_ID = "run_id"
    COMPARE_RUN_ID = "compare_run_id"
    OWNER = "owner"
    ROUTED = "routed"  # set by app.py: this session's pages run through the router


@st.cache_resource(show_spinner=False)
def _workspace() -> Workspace:
    return Workspace()


def workspace() -> Workspace:
    """The workspace of this server process."""
    return _workspace()


def guard(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call ``func``; on a user error show its sentence and stop this page, keeping all state."""
    try:
        return func(*args, **kwargs)
    except LeptonError as exc:
        st.error(str(exc))
        st.stop()
        raise  # unreachable: st.stop() raises


def require_router() -> None:
    """Stop a page started without ``app.py``: the router draws the menu and decides access."""
    if not st.session_state.get(Keys.ROUTED):
        st.error("This page is one step of Lepton; start the app with `streamlit run app.py`.")
        st.stop()


def header(title: str, purpose: str) -> None:
    require_router()
    st.title(title)
    st.write(purpose)


def python_cell(code: str) -> None:
    """The expandable cell with the ``lepton_core`` calls that reproduce this page."""
    with st.expander("Python", icon=":material/code:"):
        st.code(code.strip(), language="python")


def current_dataset() -> DatasetInfo | None:
    """The data set chosen in this session, else the newest one in the workspace."""
    ws = workspace()
    chosen = st.session_state.get(Keys.DATASET_ID)
    if chosen:
        try:
            return ws.get_dataset(chosen)
        except LeptonError:
            st.session_state.pop(Keys.DATASET_ID, None)
    datasets = ws.list_datasets()
    return datasets[0] if datasets else None


def when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def run_label(run: RunSummary) -> str:
    figure = run.metrics.get("test_accuracy", run.metrics.get("test_r2"))
    name = "accuracy" if "test_accuracy" in run.metrics else "R²"
    shown = f"{name} {figure:.3f}" if figure is not None else ""
    return f"{run.model_name}:{run.model_version} · {run.family} · {shown} · {when(run.started)}"


def pick_run(
    label: str = "Run", *, key: str = Keys.RUN_ID, exclude: str | None = None
) -> RunSummary:
    """A run picker defaulting to this session's last run; stops the page when there is none."""
    runs = [r for r in guard(workspace().list_runs) if r.run_id != exclude]
    if not runs:
        st.info("There is no trained model yet; train one on the **Train** page first.")
        st.page_link("app_pages/train.py", label="Go to Train", icon=":material/model_training:")
        st.stop()
    ids = [r.run_id for r in runs]
    current = st.session_state.get(key)
    index = ids.index(current) if current in ids else 0
    by_id = {r.run_id: r for r in runs}
    chosen = st.selectbox(label, ids, index=index, format_func=lambda i: run_label(by_id[i]))
    st.session_state[key] = chosen
    return by_id[chosen]


METRIC_LABELS = {
    "accuracy": "Accuracy",
    "roc_auc": "ROC AUC",
    "f1": "F1",
    "rmse": "RMSE",
    "mae": "MAE",
    "r2": "R²",
    "demographic_parity_difference": "Parity gap (DPD)",
    "equalized_odds_difference": "Odds gap (EOD)",
}
METRIC_HELP = {
    "demographic_parity_difference": "Demographic parity difference: the largest gap between "
    "groups in the share of rows predicted positive; 0 means every group gets the same share.",
    "equalized_odds_difference": "Equalized odds difference: the largest gap between groups in "
    "true- or false-positive rate; 0 means the model errs alike for every group.",
}


def metric_row(figures: dict[str, Any]) -> None:
    """One row of headline figures; keys are metric names from the result objects."""
    if not figures:
        return
    for col, (name, value) in zip(st.columns(len(figures)), figures.items(), strict=True):
        col.metric(METRIC_LABELS.get(name, name), fmt(value), help=METRIC_HELP.get(name))


def fmt(value: Any, digits: int = 3) -> str:
    """A figure for display; a dash for a missing one."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)
