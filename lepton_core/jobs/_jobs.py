"""Background training jobs: the CLI's ``train`` command in a detached worker process.

A job outlives the browser tab and the Streamlit session that started it. Its
state lives in a small SQLite table in the workspace (WAL, busy timeout), which
the worker updates as it goes and any page can read.

Jobs are queued and at most ``max_jobs`` run at once. No daemon is needed: the
submitter, a worker as it finishes, a cancel, and any reader that notices a free
slot promote the oldest queued job inside one ``BEGIN IMMEDIATE`` transaction,
so two processes never start the same job.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import sys
import time
import uuid
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lepton_core.core import (
    JobError,
    JsonMixin,
    LeptonError,
    TrainerCallback,
    TrainerControl,
    TrainerState,
)
from lepton_core.jobs._executors import (
    Executor,
    LocalExecutor,
    RayExecutor,
    default_executor,
    get_executor,
)
from lepton_core.runs import TrainConfig
from lepton_core.workspace import Workspace

__all__ = [
    "Job",
    "JobProgressCallback",
    "JobStore",
    "cancel_job",
    "max_jobs",
    "run_job",
    "start_job",
]

ACTIVE = ("queued", "running")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    config TEXT NOT NULL,
    command TEXT NOT NULL,
    pid INTEGER,
    created REAL NOT NULL,
    started REAL,
    ended REAL,
    heartbeat REAL,
    progress TEXT NOT NULL DEFAULT '{}',
    run_id TEXT,
    model_name TEXT,
    model_version INTEGER,
    error TEXT
)
"""
# Columns added after the first release; older workspaces get them on open.
_ADDED_COLUMNS = {
    "kind": "TEXT NOT NULL DEFAULT 'train'",
    "max_jobs": "INTEGER NOT NULL DEFAULT 1",
    "executor": "TEXT NOT NULL DEFAULT 'local'",
    "handle": "TEXT",
}
_PROGRESS_EVERY = 0.5  # seconds between progress writes; the page polls about once a second
_SPAWN_GRACE = 60.0  # a claimed job whose worker never recorded a pid is given up after this
_GONE = "The training process stopped without finishing; start the job again."


def max_jobs(value: int | None = None) -> int:
    """How many jobs may run at once: ``value``, else ``$LEPTON_MAX_JOBS``, else 1.

    Raises
    ------
    JobError
        The setting is not a whole number of at least 1.
    """
    raw: Any = value if value is not None else os.environ.get("LEPTON_MAX_JOBS", "1")
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        limit = 0
    if limit < 1 or str(raw).strip() != str(limit):
        raise JobError(
            f"The job limit {raw!r} is not a whole number of at least 1; "
            "set LEPTON_MAX_JOBS to 1 or more."
        )
    return limit


@dataclass
class Job(JsonMixin):
    """One training job as stored in the jobs table.

    ``kind`` is ``"train"`` (one model), ``"auto"`` (a search, then the winner) or
    ``"mitigate"`` (a fairer version of a trained model);
    ``max_jobs`` is the concurrency limit the job was queued under; ``executor`` is
    ``local`` or ``ray:ADDRESS`` and ``handle`` its id for the job (a pid, a Ray id).
    """

    id: str
    status: str
    owner: str
    config: dict[str, Any]
    command: list[str]
    created: float
    kind: str = "train"
    max_jobs: int = 1
    executor: str = "local"
    handle: str | None = None
    pid: int | None = None
    started: float | None = None
    ended: float | None = None
    heartbeat: float | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    model_name: str | None = None
    model_version: int | None = None
    error: str | None = None
    log_path: str = ""

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def family(self) -> str:
        """The model family, ``"auto"`` for a search, ``"mitigated"`` for a mitigation."""
        if self.kind in _KIND_FAMILY:
            return _KIND_FAMILY[self.kind]
        return str(self.config.get("model", ""))


_KIND_FAMILY = {"auto": "auto", "mitigate": "mitigated"}


class JobStore:
    """The jobs table of one workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.folder = workspace.root / "jobs"
        self.path = workspace.root / "jobs.db"
        with closing(self._connect()) as conn, conn:
            conn.execute(_SCHEMA)
            have = {row["name"] for row in conn.execute("PRAGMA table_info(jobs)")}
            for name, spec in _ADDED_COLUMNS.items():
                if name not in have:
                    conn.execute(f"ALTER TABLE jobs ADD COLUMN {name} {spec}")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA busy_timeout=10000")
        return conn

    def log_path(self, job_id: str) -> Path:
        return self.folder / job_id / "log.txt"

    def config_path(self, job_id: str) -> Path:
        return self.folder / job_id / "config.json"

    def read_log(self, job_id: str, *, tail: int = 5000) -> str:
        """The last ``tail`` characters of a job's log."""
        with closing(self._connect()) as conn:
            row = conn.execute(
                "SELECT executor, handle FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
        path = self.log_path(job_id)
        if row is None or not row["handle"]:
            text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
        else:
            text = _executor(row["executor"]).log(job_id, row["handle"], path)
        return text[-tail:]

    def create(
        self,
        config: JsonMixin,
        command: list[str],
        owner: str = "",
        *,
        kind: str = "train",
        limit: int = 1,
        executor: Executor | None = None,
    ) -> Job:
        """Queue a job that will run ``command`` with ``--config FILE --job ID`` appended."""
        job = Job(
            id=uuid.uuid4().hex[:12],
            status="queued",
            owner=owner,
            config=config.to_dict(),
            command=command,
            created=time.time(),
            kind=kind,
            max_jobs=limit,
            executor=_spec(executor or default_executor()),
        )
        (self.folder / job.id).mkdir(parents=True, exist_ok=True)
        # The config file goes first: a worker may be promoted the moment the row exists.
        self.config_path(job.id).write_text(config.to_json(), encoding="utf-8")
        job.command = [*command, "--config", str(self.config_path(job.id)), "--job", job.id]
        with closing(self._connect()) as conn, conn:
            conn.execute(
                "INSERT INTO jobs (id, status, owner, config, command, created, kind, max_jobs, "
                "executor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job.id,
                    job.status,
                    owner,
                    json.dumps(job.config),
                    json.dumps(job.command),
                    job.created,
                    kind,
                    limit,
                    job.executor,
                ),
            )
        job.log_path = str(self.log_path(job.id))
        return job

    def update(self, job_id: str, **values: Any) -> None:
        if not values:
            return
        for key in ("progress", "config", "command"):
            if key in values:
                values[key] = json.dumps(values[key], allow_nan=False)
        columns = ", ".join(f"{k} = ?" for k in values)
        with closing(self._connect()) as conn, conn:
            conn.execute(f"UPDATE jobs SET {columns} WHERE id = ?", (*values.values(), job_id))

    def finish(self, job_id: str, status: str, **values: Any) -> bool:
        """Move an active job to ``status``; False when it had already ended (e.g. cancelled)."""
        values = {"status": status, "ended": time.time(), **values}
        columns = ", ".join(f"{k} = ?" for k in values)
        with closing(self._connect()) as conn, conn:
            cursor = conn.execute(
                f"UPDATE jobs SET {columns} WHERE id = ? AND status IN ('queued', 'running')",
                (*values.values(), job_id),
            )
        return cursor.rowcount == 1

    def status(self, job_id: str) -> str:
        """Just the stored status (no liveness check): cheap enough for every step."""
        with closing(self._connect()) as conn:
            row = conn.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobError(f"There is no job '{job_id}'; it may belong to another workspace.")
        return str(row["status"])

    def get(self, job_id: str) -> Job:
        with closing(self._connect()) as conn:
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobError(f"There is no job '{job_id}'; it may belong to another workspace.")
        job = self._job(row)
        if job.active:
            self.recover()
            job = self._job(self._row(job_id))
        return job

    def list(self, *, owner: str | None = None, limit: int = 20) -> list[Job]:
        """Most recent jobs first (all owners when ``owner`` is None)."""
        self.recover()
        query = "SELECT * FROM jobs"
        args: tuple[Any, ...] = ()
        if owner is not None:
            query += " WHERE owner = ?"
            args = (owner,)
        with closing(self._connect()) as conn:
            rows = conn.execute(
                query + " ORDER BY created DESC, rowid DESC LIMIT ?", (*args, limit)
            ).fetchall()
        return [self._job(r) for r in rows]

    def running(self) -> int:
        """How many jobs are running now."""
        with closing(self._connect()) as conn:
            return conn.execute("SELECT COUNT(*) FROM jobs WHERE status = 'running'").fetchone()[0]

    def warm(self, executor: Executor | None = None) -> None:
        """Have a spare worker ready for the next local job (see :mod:`lepton_core.jobs._spare`).

        Call it from the long-lived process that starts jobs (the app) while the user
        sets a job up: a job handed to a spare skips starting Python and importing the
        training stack. Nothing happens while a job runs, so the spare's imports never
        take a running job's CPU.
        """
        chosen = executor or default_executor()
        if isinstance(chosen, LocalExecutor) and not self.running():
            chosen.warm(self.folder)

    def queue_position(self, job_id: str) -> int | None:
        """1 for the next queued job to start, None when the job is not queued."""
        with closing(self._connect()) as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM jobs q, jobs j WHERE j.id = ? AND j.status = 'queued' "
                "AND q.status = 'queued' AND (q.created, q.rowid) <= (j.created, j.rowid)",
                (job_id,),
            ).fetchone()
        return int(row[0]) or None

    def recover(self) -> list[Job]:
        """Mark running jobs whose worker is gone as interrupted, then fill free slots.

        Any reader calls this, so a server restart, a ``kill -9`` or a machine
        reboot is noticed the next time someone looks; no daemon is involved.
        """
        with closing(self._connect()) as conn:
            rows = conn.execute(
                "SELECT id, pid, started, executor, handle FROM jobs WHERE status = 'running'"
            ).fetchall()
            queued = conn.execute("SELECT 1 FROM jobs WHERE status = 'queued' LIMIT 1").fetchone()
        now = time.time()
        for row in rows:
            handle = row["handle"] or (str(row["pid"]) if row["pid"] else None)
            if handle:
                gone = not _executor(row["executor"]).alive(row["id"], handle)
            else:
                gone = now - (row["started"] or now) > _SPAWN_GRACE
            if gone:
                self.finish(row["id"], "interrupted", error=_GONE)
        if queued is None:
            return []
        return self.promote()

    def promote(self) -> list[Job]:
        """Start queued jobs, oldest first, while fewer than their limit are running."""
        started = []
        while (job := self._claim_next()) is not None:
            started.append(self._spawn(job))
        return started

    def _claim_next(self) -> Job | None:
        conn = self._connect()
        conn.isolation_level = None  # explicit transaction below
        try:
            # IMMEDIATE takes the write lock before reading, so the count and the claim
            # are one step: two promoters never both see a free slot for the same job.
            conn.execute("BEGIN IMMEDIATE")
            head = conn.execute(
                "SELECT * FROM jobs WHERE status = 'queued' ORDER BY created, rowid LIMIT 1"
            ).fetchone()
            running = conn.execute("SELECT COUNT(*) FROM jobs WHERE status = 'running'").fetchone()
            if head is None or running[0] >= head["max_jobs"]:
                conn.execute("COMMIT")
                return None
            now = time.time()
            conn.execute(
                "UPDATE jobs SET status = 'running', started = ?, heartbeat = ? WHERE id = ?",
                (now, now, head["id"]),
            )
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()
        job = self._job(head)
        job.status, job.started = "running", now
        return job

    def _spawn(self, job: Job) -> Job:
        executor = _executor(job.executor)
        try:
            handle = executor.start(job.id, job.command, self.log_path(job.id))
        except JobError as exc:
            self.finish(job.id, "failed", error=str(exc))
            return self.get(job.id)
        pid = int(handle) if executor.name == "local" else None
        self.update(job.id, handle=handle, pid=pid)
        job.handle, job.pid = handle, pid
        return job

    def _row(self, job_id: str) -> sqlite3.Row:
        with closing(self._connect()) as conn:
            return conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()

    def _job(self, row: sqlite3.Row) -> Job:
        data = dict(row)
        for key in ("progress", "config", "command"):
            data[key] = json.loads(data[key]) if data[key] else {}
        job = Job.from_dict(data)
        job.log_path = str(self.log_path(job.id))
        return job


def _spec(executor: Executor) -> str:
    return f"ray:{executor.address}" if isinstance(executor, RayExecutor) else executor.name


def _executor(spec: str) -> Executor:
    name, _, address = spec.partition(":")
    return get_executor(name, address or None)


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
        One model to train, an Auto search (:class:`lepton_core.runs._auto.AutoConfig`) or a
        fairness mitigation of a trained run (:class:`lepton_core.runs._mitigate.MitigationConfig`,
        run by ``python -m lepton_core mitigate``).
    max_jobs : int, optional
        How many jobs may run at once (default ``$LEPTON_MAX_JOBS`` or 1).
    executor : Executor, optional
        What runs the command (default: Ray when ``$LEPTON_RAY_ADDRESS`` is set,
        else a local process; see :mod:`lepton_core.jobs._executors`).

    Returns
    -------
    Job
        The job, ``running`` when a slot was free and ``queued`` otherwise.
    """
    limit = _limit(max_jobs)
    workspace = workspace or Workspace()
    store = JobStore(workspace)
    kind = _kind(config)
    subcommand = "mitigate" if kind == "mitigate" else "train"
    command = [sys.executable, "-m", "lepton_core", subcommand, "--workspace", str(workspace.root)]
    if kind == "auto":
        command.append("--auto")
    job = store.create(config, command, owner=owner, kind=kind, limit=limit, executor=executor)
    store.recover()
    return store.get(job.id)


def _kind(config: Any) -> str:
    if isinstance(config, TrainConfig):
        return "train"
    from lepton_core.runs import AutoConfig

    if isinstance(config, AutoConfig):
        return "auto"
    from lepton_core.runs import MitigationConfig

    if isinstance(config, MitigationConfig):
        return "mitigate"
    raise ValueError(f"Cannot run a {type(config).__name__} as a job.")


def cancel_job(job_id: str, *, workspace: Workspace | None = None) -> Job:
    """Stop a job's worker (or take it off the queue) and mark it cancelled."""
    store = JobStore(workspace or Workspace())
    job = store.get(job_id)
    if not store.finish(job_id, "cancelled", error="Cancelled by the user."):
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
    progress = JobProgressCallback(store, job_id)
    callbacks = [*(callbacks or []), progress]
    # No background pre-import here: importing scikit-learn, shap or MLflow from two
    # threads at once can fail with "partially initialized module" errors.
    try:
        if job.kind == "auto":
            from lepton_core.runs import AutoConfig, run_auto

            auto = run_auto(
                AutoConfig.from_dict(job.config),
                callbacks=callbacks,
                workspace=workspace,
                on_leaderboard=progress.set_extra,
            )
            result = auto.winner
        elif job.kind == "mitigate":
            from lepton_core.runs import MitigationConfig

            result = MitigationConfig.from_dict(job.config).run(workspace, callbacks)
        else:
            from lepton_core.runs import train

            config = TrainConfig.from_dict(job.config)
            result = train(config, callbacks=callbacks, workspace=workspace)
    except LeptonError as exc:
        store.finish(job_id, "failed", error=str(exc))
        store.promote()
        raise
    except BaseException:
        store.finish(
            job_id,
            "failed",
            error="An unexpected error stopped training; open the job's log for the details.",
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
    store.promote()
    return result.to_dict()


class JobProgressCallback(TrainerCallback):
    """Writes progress to the jobs table and stops when the job was cancelled.

    ``set_extra`` adds fields (e.g. Auto mode's leaderboard) kept in every later write.
    """

    def __init__(self, store: JobStore, job_id: str) -> None:
        self.store = store
        self.job_id = job_id
        self.extra: dict[str, Any] = {}
        self._last = 0.0
        self._state = TrainerState()

    def _write(self, state: TrainerState, *, force: bool = False) -> bool:
        now = time.time()
        self._state = state
        if not force and now - self._last < _PROGRESS_EVERY:
            return False
        self._last = now
        progress = {
            **self.extra,
            "phase": state.phase,
            "step": state.step,
            "total_steps": state.total_steps,
            "eta_seconds": state.eta_seconds(),
            "history": state.log_history[-500:],
        }
        self.store.update(self.job_id, progress=progress, heartbeat=now)
        return True

    def set_extra(self, **values: Any) -> bool:
        """Record ``values`` with the progress now; True when the job was cancelled."""
        self.extra.update(values)
        self._write(self._state, force=True)
        return self.store.status(self.job_id) == "cancelled"

    def on_phase(self, state: TrainerState, control: TrainerControl) -> None:
        self._write(state, force=True)

    def on_step_end(self, state: TrainerState, control: TrainerControl) -> None:
        # Check for a cancel only as often as progress is written.
        if self._write(state) and self.store.status(self.job_id) == "cancelled":
            control.should_stop = True

    def on_train_end(self, state: TrainerState, control: TrainerControl) -> None:
        self._write(state, force=True)
