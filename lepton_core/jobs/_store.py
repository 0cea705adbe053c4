"""The jobs table: one row per background job, shared by every process of a workspace.

A job outlives the browser tab and the Streamlit session that started it. Its
state lives in a small SQLite table in the workspace (opened with
:func:`lepton_core.core.sqlite_connection`: WAL, busy timeout), which the worker
updates as it goes and any page can read.

Jobs are queued and at most ``max_jobs`` run at once. No daemon is needed: the
submitter, a worker as it finishes, a cancel, and any reader that notices a free
slot promote the oldest queued job inside one ``BEGIN IMMEDIATE`` transaction,
so two processes never start the same job.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lepton_core.core import JobError, JsonMixin, sqlite_connection, whole_number_setting
from lepton_core.jobs._executors import (
    Executor,
    LocalExecutor,
    RayExecutor,
    default_executor,
    get_executor,
)
from lepton_core.jobs._progress import JobProgress, progress_for
from lepton_core.workspace import Workspace

__all__ = ["Job", "JobStore", "max_jobs"]

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
_SPAWN_GRACE = 60.0  # a claimed job whose worker never recorded a pid is given up after this
_GONE = "The training process stopped without finishing; start the job again."


def max_jobs(value: int | None = None) -> int:
    """How many jobs may run at once: ``value``, else ``$LEPTON_MAX_JOBS``, else 1.

    Raises
    ------
    JobError
        The setting is not a whole number of at least 1.
    """
    return whole_number_setting(
        "LEPTON_MAX_JOBS", 1, value, what="The job limit", hint="1 or more", error=JobError
    )


@dataclass
class Job(JsonMixin):
    """One training job as stored in the jobs table.

    ``kind`` is ``"train"`` (one model), ``"auto"`` (a search, then the winner) or
    ``"mitigate"`` (a fairer version of a trained model);
    ``max_jobs`` is the concurrency limit the job was queued under; ``executor`` is
    ``local`` or ``ray:ADDRESS`` and ``handle`` its id for the job (a pid, a Ray id).
    ``progress`` is a :class:`JobProgress`, an :class:`AutoProgress` for an Auto job.
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
    progress: JobProgress = field(default_factory=JobProgress)
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
        with self._connect() as conn:
            conn.execute(_SCHEMA)
            have = {row["name"] for row in conn.execute("PRAGMA table_info(jobs)")}
            for name, spec in _ADDED_COLUMNS.items():
                if name not in have:
                    conn.execute(f"ALTER TABLE jobs ADD COLUMN {name} {spec}")

    @contextlib.contextmanager
    def _connect(self, *, autocommit: bool = False) -> Iterator[sqlite3.Connection]:
        with sqlite_connection(self.path, row_factory=sqlite3.Row, autocommit=autocommit) as conn:
            yield conn

    def log_path(self, job_id: str) -> Path:
        return self.folder / job_id / "log.txt"

    def config_path(self, job_id: str) -> Path:
        return self.folder / job_id / "config.json"

    def read_log(self, job_id: str, *, tail: int = 5000) -> str:
        """The last ``tail`` characters of a job's log."""
        with self._connect() as conn:
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
        with self._connect() as conn:
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
            if isinstance(values.get(key), JsonMixin):
                values[key] = values[key].to_json()
            elif key in values:
                values[key] = json.dumps(values[key], allow_nan=False)
        columns = ", ".join(f"{k} = ?" for k in values)
        with self._connect() as conn:
            conn.execute(f"UPDATE jobs SET {columns} WHERE id = ?", (*values.values(), job_id))

    def finish(self, job_id: str, status: str, **values: Any) -> bool:
        """Move an active job to ``status``; False when it had already ended (e.g. cancelled)."""
        values = {"status": status, "ended": time.time(), **values}
        columns = ", ".join(f"{k} = ?" for k in values)
        with self._connect() as conn:
            cursor = conn.execute(
                f"UPDATE jobs SET {columns} WHERE id = ? AND status IN ('queued', 'running')",
                (*values.values(), job_id),
            )
        return cursor.rowcount == 1

    def status(self, job_id: str) -> str:
        """Just the stored status (no liveness check): cheap enough for every step."""
        with self._connect() as conn:
            row = conn.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobError(f"There is no job '{job_id}'; it may belong to another workspace.")
        return str(row["status"])

    def get(self, job_id: str) -> Job:
        with self._connect() as conn:
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
        with self._connect() as conn:
            rows = conn.execute(
                query + " ORDER BY created DESC, rowid DESC LIMIT ?", (*args, limit)
            ).fetchall()
        return [self._job(r) for r in rows]

    def running(self) -> int:
        """How many jobs are running now."""
        with self._connect() as conn:
            return conn.execute("SELECT COUNT(*) FROM jobs WHERE status = 'running'").fetchone()[0]

    def warm(self, executor: Executor | None = None) -> None:
        """Have a spare worker ready for the next local job (see :mod:`lepton_core.worker`).

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
        with self._connect() as conn:
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
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT id, pid, started, executor, handle FROM jobs WHERE status = 'running'"
            ).fetchall()
            queued = conn.execute("SELECT 1 FROM jobs WHERE status = 'queued' LIMIT 1").fetchone()
        now = time.time()
        interrupted = False
        for row in rows:
            handle = row["handle"] or (str(row["pid"]) if row["pid"] else None)
            if handle:
                gone = not _executor(row["executor"]).alive(row["id"], handle)
            else:
                gone = now - (row["started"] or now) > _SPAWN_GRACE
            if gone:
                self.finish(row["id"], "interrupted", error=_GONE)
                interrupted = True
        if interrupted:
            self.workspace.recover()  # the run the worker was writing, if any
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
        with self._connect(autocommit=True) as conn:  # the explicit transaction below
            try:
                # IMMEDIATE takes the write lock before reading, so the count and the claim
                # are one step: two promoters never both see a free slot for the same job.
                conn.execute("BEGIN IMMEDIATE")
                head = conn.execute(
                    "SELECT * FROM jobs WHERE status = 'queued' ORDER BY created, rowid LIMIT 1"
                ).fetchone()
                running = conn.execute(
                    "SELECT COUNT(*) FROM jobs WHERE status = 'running'"
                ).fetchone()
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
        with self._connect() as conn:
            return conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()

    def _job(self, row: sqlite3.Row) -> Job:
        data = dict(row)
        for key in ("progress", "config", "command"):
            data[key] = json.loads(data[key]) if data[key] else {}
        data["progress"] = progress_for(data["kind"], data["progress"])
        job = Job.from_dict(data)
        job.log_path = str(self.log_path(job.id))
        return job


def _spec(executor: Executor) -> str:
    return f"ray:{executor.address}" if isinstance(executor, RayExecutor) else executor.name


def _executor(spec: str) -> Executor:
    name, _, address = spec.partition(":")
    return get_executor(name, address or None)
