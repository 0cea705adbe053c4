"""What every page shares: session-state keys, the workspace, pickers and the Python cell."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import ipaddress
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import streamlit as st

from app_pages._i18n import say, tr
from app_pages._team import team_mode
from lepton_core.core import LeptonError, cache_entries
from lepton_core.data import TABLE_EXTENSIONS
from lepton_core.workspace import DatasetInfo, ModelVersionInfo, RunSummary, Workspace

if TYPE_CHECKING:
    from lepton_core.explain import Explanation

    # Imported where used: the jobs package pulls in the training stack (about 1 s), which
    # the Data page, the first one a person sees, does not need.
    from lepton_core.jobs import Job, JobStore
    from lepton_core.runs import RunReports

T = TypeVar("T")


#: Every table format lepton_core.data reads.
TABLE_TYPES = [e.lstrip(".") for e in TABLE_EXTENSIONS]
#: The file types the upload boxes take: a table, or a zip or gzip file holding one.
UPLOAD_TYPES = [*TABLE_TYPES, "zip", "gz"]


class Keys:
    """Session-state keys; the state holds choices only, results live in the workspace."""

    DATASET_ID = "dataset_id"
    DRAFT = "draft"  # a loaded table not yet confirmed on the Data page
    # The Train page's job belongs to a data set: {dataset id: job id}, so switching data
    # sets never shows another data set's job or leaderboard.
    JOBS = "jobs_by_dataset"
    JOB_ID = "job_id"  # the job this session started last, on whichever data set
    MITIGATION_JOB = "mitigation_job_id"
    RUN_ID = "run_id"
    COMPARE_RUN_ID = "compare_run_id"
    ROUTED = "routed"  # set by app.py: this session's pages run through the router
    VISITOR = "visitor"  # set by app.py: this session came in through a share link


@st.cache_resource(show_spinner=False, max_entries=2)  # one per explainer
def _compiling_shap(explainer: str) -> threading.Thread:
    from lepton_core.explain import compile_shap

    thread = threading.Thread(
        target=compile_shap, kwargs={"only": explainer}, name="lepton-compile-shap", daemon=True
    )
    thread.start()
    return thread


def warm_explainer(model: Any) -> None:
    """Compile the shap code ``model``'s explanations need (text and model-agnostic SHAP) in
    the background, once per app process: a page shows this model's form, and the first
    prediction then does not wait for the compiler (5–10 s; longer on a busy machine)."""
    from lepton_core.explain import shap_to_compile

    with contextlib.suppress(LeptonError, ValueError):  # a model it cannot explain: no need
        explainer = shap_to_compile(model)
        if explainer is not None:
            _compiling_shap(explainer)


@st.cache_resource(show_spinner=False)
def _workspace() -> Workspace:
    return Workspace()


def workspace() -> Workspace:
    """The workspace of this server process."""
    return _workspace()


# ------------------------------------------------------------------ cached reads
# Pages rerun on every click, so what they read from the workspace is cached here, with
# bounds (max_entries, ttl) so a long session cannot grow the server without limit. A
# run's reports never change once written, so they are keyed on the run id alone; lists
# of runs and versions change with every training or publish, so they are keyed on the
# store's stamp (below) as well.
def store_stamp() -> tuple[int, ...]:
    """Changes whenever the MLflow store is written (a new run, version or tag).

    For the embedded SQLite store this is the modification time of its files; a shared
    tracking server has no file to look at, so its lists are at most 5 s old.
    """
    uri = workspace().tracking_uri
    if not uri.startswith("sqlite:///"):
        return (int(time.time() // 5),)
    db = uri.removeprefix("sqlite:///")
    stamps = []
    for path in (db, f"{db}-wal", f"{db}-journal"):
        try:
            info = os.stat(path)
            stamps += [info.st_mtime_ns, info.st_size]
        except OSError:
            stamps += [0, 0]
    return tuple(stamps)


@st.cache_data(show_spinner=False, max_entries=cache_entries(4), ttl=600)
def _runs(root: str, stamp: tuple[int, ...]) -> list[RunSummary]:
    return workspace().list_runs()


@st.cache_data(show_spinner=False, max_entries=cache_entries(4), ttl=600)
def _versions(root: str, stamp: tuple[int, ...]) -> list[ModelVersionInfo]:
    return workspace().model_versions()


def store_written() -> None:
    """Forget the cached lists after this session wrote to the store: a shared tracking
    server's stamp would otherwise show the old lists for up to 5 s after a publish."""
    _runs.clear()
    _versions.clear()


def list_runs() -> list[RunSummary]:
    """The workspace's finished runs, newest first (cached until the store changes)."""
    return guard(_runs, str(workspace().root), store_stamp())


def model_versions() -> list[ModelVersionInfo]:
    """Every registered model version, newest first (cached until the store changes)."""
    return guard(_versions, str(workspace().root), store_stamp())


@st.cache_resource(show_spinner=False, max_entries=cache_entries(16), ttl=3600)
def _reports(root: str, run_id: str, complete: bool) -> RunReports:
    from lepton_core.runs import load_run_reports

    return load_run_reports(workspace(), run_id, complete=complete)


def run_reports(run_id: str, *, complete: bool = False) -> RunReports:
    """A run's evaluation and fairness reports (shared, read-only: do not change them)."""
    return guard(_reports, str(workspace().root), run_id, complete)


@st.cache_resource(show_spinner=False, max_entries=cache_entries(8), ttl=3600)
def _explanation(root: str, run_id: str, probability: bool) -> Explanation:
    from lepton_core.explain import to_probability
    from lepton_core.runs import load_explanation

    raw = load_explanation(workspace(), run_id)
    return to_probability(raw) if probability else raw


def run_explanation(run_id: str, *, probability: bool = True) -> Explanation:
    """A run's stored SHAP explanation, in chances (``probability``) or as the model
    computed it (shared, read-only)."""
    return guard(_explanation, str(workspace().root), run_id, probability)


def guard(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call ``func``; on a user error show its sentence and stop this page, keeping all state."""
    try:
        return func(*args, **kwargs)
    except LeptonError as exc:
        st.error(say(exc))
        st.stop()
        raise  # unreachable: st.stop() raises


#: Seconds between the app's full garbage collections (see ``.streamlit/config.toml``).
GC_EVERY_S = 60.0
_last_gc = [time.monotonic()]


def collect_garbage() -> None:
    """A full garbage collection when the last is over :data:`GC_EVERY_S` old: cycles
    are still freed, but not after every rerun (each costs about 0.45 s)."""
    now = time.monotonic()
    if now - _last_gc[0] >= GC_EVERY_S:
        _last_gc[0] = now
        gc.collect()


def require_router() -> None:
    """Stop a page started without ``app.py``: the router draws the menu and decides access."""
    if not st.session_state.get(Keys.ROUTED):
        st.error(tr("This page is one step of Lepton; start the app with `streamlit run app.py`."))
        st.stop()


# ------------------------------------------------------------------------ access
# Without team sign-in (_team.py), the notebook belongs to whoever runs the app on this
# computer. A share-link visitor gets the demo page alone: app.py gives its session no
# other page, and every notebook page refuses it again itself (header()).
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
# A proxy or tunnel in front of the app names the real client in one of these.
_FORWARDED = ("forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip")
#: What a visitor sees on a notebook page, in English (``refusal()`` in their language).
REFUSAL = (
    "This page is part of the Lepton notebook, which only the person running Lepton on this "
    "computer can open; a share link opens its demo page alone."
)
_EVERY_INTERFACE = "every network interface"
_LOG = logging.getLogger("lepton")


def exposed_address() -> str | None:
    """The address the server listens on when that reaches beyond this computer, else None."""
    address = (st.get_option("server.address") or "").strip()
    if address.startswith("unix://"):
        return None
    if address.strip("[]").lower() in _LOOPBACK_NAMES:
        return None
    # Unset, Streamlit listens on every interface.
    return address or _EVERY_INTERFACE


def is_local_request(headers: Mapping[str, str]) -> bool:
    """Whether a session's HTTP request came straight from this computer.

    The ``Host`` must name this computer (``localhost``, ``127.0.0.1``, ``::1``) and no
    proxy may have forwarded the request: a share link opened through a tunnel or a reverse
    proxy, or a web page rebinding its own name to 127.0.0.1, is not local. A session
    without a request at all (``AppTest``) is local.
    """
    lower = {str(k).lower(): str(v) for k, v in headers.items()}
    if not lower:
        return True
    if any(name in lower for name in _FORWARDED):
        return False
    try:
        host = urlsplit("//" + lower.get("host", "")).hostname or ""
    except ValueError:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def visitor_session() -> bool:
    """Whether this session may see the demo page only.

    It is when it came in through a share link, or, while the server listens on loopback
    only, when its request did not come straight from this computer.
    """
    if st.session_state.get(Keys.VISITOR):
        return True
    if team_mode():  # sign-in decides who gets the notebook, wherever they are
        return False
    return exposed_address() is None and not is_local_request(st.context.headers)


@st.cache_resource(show_spinner=False, max_entries=4)
def announce_exposure(address: str) -> None:
    """Say once per server process, in its log, that the notebook is open to the network."""
    _LOG.warning(
        "Lepton is listening on %s without sign-in: anyone who can reach this computer can "
        "use the notebook. Start it with --server.address 127.0.0.1 unless you mean that.",
        address,
    )


def refusal() -> str:
    """:data:`REFUSAL` in the reader's language."""
    return tr(
        "This page is part of the Lepton notebook, which only the person running Lepton on this "
        "computer can open; a share link opens its demo page alone."
    )


def require_notebook() -> None:
    """Stop a notebook page in a session that may see the demo page only."""
    if visitor_session():
        st.error(refusal())
        st.stop()


def header(title: str, purpose: str) -> None:
    """The top of every notebook page; it refuses a share-link visitor before anything runs."""
    require_router()
    require_notebook()
    st.title(title)
    st.write(purpose)
    address = exposed_address()
    if address is not None and not team_mode():
        st.warning(
            tr(
                "Lepton is listening on {address}, so anyone who can reach this computer can "
                "use this notebook without signing in; restart it with `--server.address "
                "127.0.0.1` unless that is what you want."
            ).format(
                address=tr("every network interface") if address == _EVERY_INTERFACE else address
            ),
            icon=":material/warning:",
        )


def python_cell(code: str) -> None:
    """The expandable cell with the ``lepton_core`` calls that reproduce this page."""
    with st.expander(tr("Python"), icon=":material/code:"):
        st.code(code.strip(), language="python")


def choose_dataset(dataset_id: str) -> None:
    """Make ``dataset_id`` this session's data set; the run picked for another data set
    is forgotten, so the next pages open on this one's runs."""
    if st.session_state.get(Keys.DATASET_ID) != dataset_id:
        for key in (Keys.RUN_ID, Keys.COMPARE_RUN_ID):
            st.session_state.pop(key, None)
    st.session_state[Keys.DATASET_ID] = dataset_id


def current_dataset() -> DatasetInfo | None:
    """The data set chosen in this session, else the newest one in the workspace.

    A session that has chosen none and opens a job's address (``?job=ID``, a reload of
    the Train page or a shared link) takes that job's data set.
    """
    ws = workspace()
    if not st.session_state.get(Keys.DATASET_ID) and st.query_params.get("job"):
        from lepton_core.jobs import JobStore

        with contextlib.suppress(LeptonError):
            job = JobStore(ws).get(st.query_params["job"])
            if (dataset_id := job_dataset_id(job)) is not None:
                st.session_state[Keys.DATASET_ID] = dataset_id
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
    # The headline figure of its task: accuracy, R² (numbers) or F1 (named entities).
    headline = [("test_accuracy", tr("accuracy")), ("test_r2", "R²"), ("test_f1", "F1")]
    found = [(name, run.metrics[key]) for key, name in headline if key in run.metrics]
    shown = f"{found[0][0]} {found[0][1]:.3f}" if found else ""
    return f"{run.model_name}:{run.model_version} · {run.family} · {shown} · {when(run.started)}"


def pick_run(
    label: str | None = None, *, key: str = Keys.RUN_ID, exclude: str | None = None
) -> RunSummary:
    """A run picker (labelled ``label``, else "Run") defaulting to this session's last run,
    else to the current data set's newest; that data set's runs come first. Stops the page
    when there is none."""
    runs = [r for r in list_runs() if r.run_id != exclude]
    dataset = current_dataset()
    if dataset is not None:  # sorted() keeps the newest-first order within each part
        runs = sorted(runs, key=lambda r: r.dataset_id != dataset.id)
    if not runs:
        st.info(tr("There is no trained model yet; train one on the **Train** page first."))
        st.page_link(
            "app_pages/train.py", label=tr("Go to Train"), icon=":material/model_training:"
        )
        st.stop()
    ids = [r.run_id for r in runs]
    current = st.session_state.get(key)
    by_id = {r.run_id: r for r in runs}
    # A fixed widget key: an unkeyed picker's id changes with its options, so with every
    # new run, and Streamlit keeps the metadata of every id a session ever drew (with this
    # closure and all the runs it holds) until the session ends. The widget's value follows
    # ``key``, which other steps set too; a pick in the widget is copied there first.
    widget = f"{key}:picker"
    st.session_state[widget] = current if current in ids else ids[0]
    chosen = st.selectbox(
        label or tr("Run"),
        ids,
        key=widget,
        format_func=lambda i: run_label(by_id[i]),
        on_change=_copy_state,
        args=(widget, key),
    )
    st.session_state[key] = chosen
    return by_id[chosen]


def _copy_state(source: str, target: str) -> None:
    st.session_state[target] = st.session_state[source]


def metric_labels() -> dict[str, str]:
    """Metric name → its label, in the reader's language."""
    return {
        "accuracy": tr("Accuracy"),
        "roc_auc": tr("ROC AUC"),
        "f1": tr("F1"),
        "rmse": tr("RMSE"),
        "mae": tr("MAE"),
        "r2": tr("R²"),
        "demographic_parity_difference": tr("Parity gap (DPD)"),
        "equalized_odds_difference": tr("Odds gap (EOD)"),
    }


def metric_help() -> dict[str, str]:
    """Metric name → what it means, in the reader's language (the fairness gaps only)."""
    return {
        "demographic_parity_difference": tr(
            "Demographic parity difference: the largest gap between groups in the share of "
            "rows predicted positive; 0 means every group gets the same share."
        ),
        "equalized_odds_difference": tr(
            "Equalized odds difference: the largest gap between groups in true- or "
            "false-positive rate; 0 means the model errs alike for every group."
        ),
    }


def metric_row(figures: dict[str, Any]) -> None:
    """One row of headline figures; keys are metric names from the result objects."""
    if not figures:
        return
    labels, helps = metric_labels(), metric_help()
    for col, (name, value) in zip(st.columns(len(figures)), figures.items(), strict=True):
        col.metric(labels.get(name, name), fmt(value), help=helps.get(name))


def task_word(task: str) -> str:
    """A task (``binary``, ``multiclass``, ``regression``, ``ner``) in the reader's language."""
    words = {
        "binary": tr("binary"),
        "multiclass": tr("multiclass"),
        "regression": tr("regression"),
        "ner": tr("named entities"),
    }
    return words.get(task, task)


def status_word(status: str) -> str:
    """A job's status in the reader's language."""
    words = {
        "queued": tr("queued"),
        "running": tr("running"),
        "succeeded": tr("succeeded"),
        "failed": tr("failed"),
        "cancelled": tr("cancelled"),
        "interrupted": tr("interrupted"),
    }
    return words.get(status, status)


def fmt(value: Any, digits: int = 3) -> str:
    """A figure for display; a dash for a missing one."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


# ------------------------------------------------------------------------ jobs
def job_dataset_id(job: Job) -> str | None:
    """The workspace data set a training or Auto job learns from; None for other jobs
    (a mitigation, or a CLI job given a file)."""
    config = (job.config.get("base") or {}) if job.kind == "auto" else job.config
    data = str(config.get("data") or "")
    return data.removeprefix("dataset:") if data.startswith("dataset:") else None


def dataset_jobs(store: JobStore, dataset_id: str, *, limit: int = 10) -> list[Job]:
    """The newest training and Auto jobs of one data set, newest first."""
    return [j for j in store.list(limit=200) if job_dataset_id(j) == dataset_id][:limit]


def progress_bar(fraction: Any, text: str) -> None:
    """``st.progress`` that never refuses a value: clamped to [0, 1], NaN shown as 0."""
    from lepton_core.jobs import clamp_fraction

    st.progress(clamp_fraction(fraction), text=text)


#: Seconds between redraws of a job's panel while the job waits or runs.
JOB_REFRESH_SECONDS = 1.0


def live_job_panel(panel: Callable[[str], Job], job_id: str) -> None:
    """``panel(job_id)``, which draws a job and returns it, as a fragment redrawn every
    second while the job waits or runs, and drawn once when it has ended.

    When the job ends, the page reruns once: an open tab then stops re-reading a finished
    job every second, and the page around the panel learns that it ended.
    """
    from lepton_core.jobs import JobStore

    active = guard(JobStore(workspace()).get, job_id).active

    @st.fragment(run_every=JOB_REFRESH_SECONDS if active else None)
    def redraw() -> None:
        if panel(job_id).active != active:
            st.rerun(scope="app")

    redraw()


def job_status(job: Job, store: JobStore, *, fraction: Any, text: str) -> None:
    """What every job panel shows while a job waits, runs or fails.

    Its place in the queue, a progress bar at ``fraction`` with ``text`` while it runs, a
    Cancel button while it is active, and the one-sentence cause and the log once it
    failed, was cancelled or was interrupted. A panel adds what its job's success means.
    """
    from lepton_core.jobs import cancel_job

    if job.status == "queued":
        st.info(
            tr(
                "Queued, number {position} in line; at most {max_jobs} job(s) run at once. "
                "It starts by itself when a slot frees."
            ).format(position=store.queue_position(job.id) or 1, max_jobs=job.max_jobs)
        )
    if job.status == "running":
        progress_bar(fraction, text)
    if job.active and st.button(tr("Cancel"), key=f"cancel-{job.id}"):
        guard(cancel_job, job.id, workspace=workspace())
        st.rerun(scope="fragment")
    if not job.active and job.status != "succeeded":
        st.error(
            say(job.error)
            if job.error
            else tr("The job ended as {status}.").format(status=status_word(job.status))
        )
        with st.expander(tr("Log")):
            st.code(store.read_log(job.id) or tr("(empty)"))


def compression_methods(family: str) -> dict[str, str]:
    """The int8 compressions a family supports (``int8_methods``), method → title; empty
    when it has none, so a page offers Compress only where it works."""
    from lepton_core.models import COMPRESSION_METHODS, family_class

    try:
        supported = family_class(family).int8_methods
    except ValueError:  # a family this installation does not have
        return {}
    return {m: say(title) for m, title in COMPRESSION_METHODS.items() if m in supported}
