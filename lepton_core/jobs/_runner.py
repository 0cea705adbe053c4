"""Running a job: queue it, cancel it, and the worker's side that trains and reports.

:func:`start_job` queues ``python -m lepton_core train|mitigate|federated … --job ID`` in the
jobs table; the worker that runs it calls :func:`run_job`, which trains (or searches)
with a :class:`JobProgressCallback` writing a :class:`JobProgress` to the table.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from typing import Any

from lepton_core.core import (
    JobError,
    LeptonError,
    Message,
    TrainerCallback,
    TrainerControl,
    TrainerState,
    disk_full_error,
)
from lepton_core.jobs._executors import Executor
from lepton_core.jobs._progress import AutoProgress, JobProgress
from lepton_core.jobs._store import Job, JobStore, _executor, _sentence, max_jobs
from lepton_core.runs import (
    AutoConfig,
    FederatedConfig,
    MitigationConfig,
    TrainConfig,
    run_auto,
    run_federated,
    train,
)
from lepton_core.workspace import Workspace

__all__ = ["JobProgressCallback", "cancel_job", "run_job", "start_job"]

_PROGRESS_EVERY = 0.5  # seconds between progress writes; the page polls about once a second
_HISTORY = 500  # logged steps kept with the progress: enough for the curves, a small row

_limit = max_jobs  # start_job's parameter shadows the function's name


def start_job(
    config: TrainConfig | Any,
    *,
    workspace: Workspace | None = None,
    owner: str = "",
    max_jobs: int | None = None,
    executor: Executor | None = None,
) -> Job:
    """Queue ``python -m lepton_core train`` for ``config``; it starts when a slot is free.

    Parameters
    ----------
    config : TrainConfig, AutoConfig or MitigationConfig
        One model to train, an Auto search (:class:`lepton_core.runs.AutoConfig`) or a
        fairness mitigation of a trained run (:class:`lepton_core.runs.MitigationConfig`,
        run by ``python -m lepton_core mitigate``), or a federated training
        (:class:`lepton_core.runs.FederatedConfig`, run by ``python -m lepton_core
        federated``; its model is registered).
    max_jobs : int, optional
        How many jobs may run at once (default ``$LEPTON_MAX_JOBS`` or 1).
    executor : Executor, optional
        What runs the command (default: Ray when ``$LEPTON_RAY_ADDRESS`` is set,
        else a local process; see :class:`lepton_core.jobs.Executor`).

    Returns
    -------
    Job
        The job, ``running`` when a slot was free and ``queued`` otherwise.
    """
    limit = _limit(max_jobs)
    workspace = workspace or Workspace()
    store = JobStore(workspace)
    kind = _kind(config)
    subcommand = kind if kind in ("mitigate", "federated") else "train"
    if kind == "federated":  # the job ends in a registered model, as a training job does
        config = dataclasses.replace(config, register=True)
    command = [sys.executable, "-m", "lepton_core", subcommand, "--workspace", str(workspace.root)]
    if kind == "auto":
        command.append("--auto")
    job = store.create(config, command, owner=owner, kind=kind, limit=limit, executor=executor)
    store.recover()
    return store.get(job.id)


def _kind(config: Any) -> str:
    if isinstance(config, TrainConfig):
        return "train"
    if isinstance(config, AutoConfig):
        return "auto"
    if isinstance(config, MitigationConfig):
        return "mitigate"
    if isinstance(config, FederatedConfig):
        return "federated"
    raise ValueError(f"Cannot run a {type(config).__name__} as a job.")


def cancel_job(job_id: str, *, workspace: Workspace | None = None) -> Job:
    """Stop a job's worker (or take it off the queue) and mark it cancelled."""
    store = JobStore(workspace or Workspace())
    job = store.get(job_id)
    if not store.finish(job_id, "cancelled", error=Message("jobs.cancelled")):
        return store.get(job_id)
    handle = job.handle or (str(job.pid) if job.pid else None)
    if handle:
        _executor(job.executor).stop(job.id, handle)
    store.promote()
    return store.get(job_id)


def run_job(
    job_id: str, *, workspace: Workspace, callbacks: list[TrainerCallback] | None = None
) -> dict[str, Any]:
    """The worker's side of a job: train (or search), record the outcome, start the next one.

    Called by ``python -m lepton_core train --job ID``; returns the result as a dict.
    """
    store = JobStore(workspace)
    job = store.get(job_id)
    if job.status != "running":
        raise JobError(f"Job {job_id} is {job.status}, not waiting to run; start a new job.")
    progress = JobProgressCallback(store, job_id, auto=job.kind == "auto", since=job.created)
    progress.mark("started")  # the time to here is the worker's start (spare or fresh)
    callbacks = [*(callbacks or []), progress]
    # No background pre-import here: importing scikit-learn, shap or MLflow from two
    # threads at once can fail with "partially initialized module" errors.
    try:
        if job.kind == "auto":
            auto = run_auto(
                AutoConfig.from_dict(job.config),
                callbacks=callbacks,
                workspace=workspace,
                on_leaderboard=progress.set_search,
            )
            result = auto.winner
        elif job.kind == "mitigate":
            result = MitigationConfig.from_dict(job.config).run(workspace, callbacks)
        elif job.kind == "federated":
            federated = dataclasses.replace(FederatedConfig.from_dict(job.config), register=True)
            result = run_federated(federated, callbacks=callbacks, workspace=workspace)
        else:
            config = TrainConfig.from_dict(job.config)
            result = train(config, callbacks=callbacks, workspace=workspace)
    except LeptonError as exc:
        store.finish(job_id, "failed", error=_sentence(exc))
        store.promote()
        raise
    except BaseException as exc:
        full = disk_full_error(exc)
        store.finish(
            job_id,
            "failed",
            error=_sentence(full) if full else Message("jobs.unexpected"),
        )
        store.promote()
        raise
    if not store.finish(
        job_id,
        "succeeded",
        run_id=result.run_id,
        model_name=result.model_name,
        model_version=result.model_version,
    ):
        # Cancelled while saving: the run exists but must not stay registered.
        workspace.client.delete_model_version(result.model_name, str(result.model_version))
    progress.mark("finished")
    store.promote()
    return result.to_dict()


class JobProgressCallback(TrainerCallback):
    """Writes a :class:`JobProgress` to the jobs table and stops when the job was cancelled.

    With ``auto=True`` it writes an :class:`AutoProgress`; :meth:`set_search` records
    the search's leaderboard and settings, kept in every later write. Each phase also
    leaves a line in the job's log with the seconds since ``since`` (the job's creation,
    i.e. the click), so the log tells where a job's time went.
    """

    def __init__(
        self, store: JobStore, job_id: str, *, auto: bool = False, since: float | None = None
    ) -> None:
        self.store = store
        self.job_id = job_id
        self.since = time.time() if since is None else since
        self.progress: JobProgress = AutoProgress() if auto else JobProgress()
        self._last = 0.0
        self._state = TrainerState()

    def _write(self, state: TrainerState, *, force: bool = False) -> bool:
        now = time.time()
        self._state = state
        if not force and now - self._last < _PROGRESS_EVERY:
            return False
        self._last = now
        progress = self.progress
        progress.phase, progress.step = state.phase, state.step
        progress.total_steps, progress.eta_seconds = state.total_steps, state.eta_seconds()
        progress.history = state.log_history[-_HISTORY:]
        progress.figures = dict(state.figures)
        self.store.update(self.job_id, progress=progress, heartbeat=now)
        return True

    def set_search(self, **values: Any) -> bool:
        """Record the Auto search's ``values`` (fields of :class:`AutoProgress`) now.

        Returns True when the job was cancelled; a name that is not a field is a TypeError.
        """
        self.progress = dataclasses.replace(self.progress, **values)
        self._write(self._state, force=True)
        return self.store.status(self.job_id) == "cancelled"

    def mark(self, what: str) -> None:
        """Write ``[  12.34 s] what`` to the job's log: seconds since the job was created."""
        print(f"\n[{time.time() - self.since:8.2f} s] {what}", file=sys.stderr, flush=True)

    def on_phase(self, state: TrainerState, control: TrainerControl) -> None:
        self.mark(state.phase)
        self._write(state, force=True)

    def on_step_end(self, state: TrainerState, control: TrainerControl) -> None:
        # Check for a cancel only as often as progress is written.
        if self._write(state) and self.store.status(self.job_id) == "cancelled":
            control.should_stop = True

    def on_train_end(self, state: TrainerState, control: TrainerControl) -> None:
        self._write(state, force=True)
