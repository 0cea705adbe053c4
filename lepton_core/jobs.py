"""Background training jobs: the CLI's ``train`` command in a detached worker process.

A job outlives the browser tab and the Streamlit session that started it. Its
state lives in a small SQLite table in the workspace (WAL, busy timeout), which
the worker updates as it goes and any page can read.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lepton_core._serde import JsonMixin
from lepton_core.callbacks import TrainerCallback, TrainerControl, TrainerState
from lepton_core.exceptions import JobError
from lepton_core.training import TrainConfig
from lepton_core.workspace import Workspace

__all__ = ["Job", "JobProgressCallback", "JobStore", "cancel_job", "start_job"]

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
_PROGRESS_EVERY = 0.5  # seconds between progress writes; the page polls about once a second


@dataclass
class Job(JsonMixin):
    """One training job as stored in the jobs table."""

    id: str
    status: str
    owner: str
    config: dict[str, Any]
    command: list[str]
    created: float
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


class JobStore:
    """The jobs table of one workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.folder = workspace.root / "jobs"
        self.path = workspace.root / "jobs.db"
        with closing(self._connect()) as conn, conn:
            conn.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA busy_timeout=10000")
        return conn

    def log_path(self, job_id: str) -> Path:
        return self.folder / job_id / "log.txt"

    def read_log(self, job_id: str, *, tail: int = 5000) -> str:
        """The last ``tail`` characters of a job's log."""
        path = self.log_path(job_id)
        if not path.is_file():
            return ""
        return path.read_text(encoding="utf-8", errors="replace")[-tail:]

    def create(self, config: TrainConfig, command: list[str], owner: str = "") -> Job:
        job = Job(
            id=uuid.uuid4().hex[:12],
            status="queued",
            owner=owner,
            config=config.to_dict(),
            command=command,
            created=time.time(),
        )
        (self.folder / job.id).mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as conn, conn:
            conn.execute(
                "INSERT INTO jobs (id, status, owner, config, command, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    job.id,
                    job.status,
                    owner,
                    json.dumps(job.config),
                    json.dumps(command),
                    job.created,
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

    def get(self, job_id: str) -> Job:
        with closing(self._connect()) as conn:
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobError(f"There is no job '{job_id}'; it may belong to another workspace.")
        return self._check_alive(self._job(row))

    def list(self, *, owner: str | None = None, limit: int = 20) -> list[Job]:
        """Most recent jobs first (all owners when ``owner`` is None)."""
        query = "SELECT * FROM jobs"
        args: tuple[Any, ...] = ()
        if owner is not None:
            query += " WHERE owner = ?"
            args = (owner,)
        with closing(self._connect()) as conn:
            rows = conn.execute(query + " ORDER BY created DESC LIMIT ?", (*args, limit)).fetchall()
        return [self._check_alive(self._job(r)) for r in rows]

    def _job(self, row: sqlite3.Row) -> Job:
        data = dict(row)
        for key in ("progress", "config", "command"):
            data[key] = json.loads(data[key]) if data[key] else {}
        job = Job.from_dict(data)
        job.log_path = str(self.log_path(job.id))
        return job

    def _check_alive(self, job: Job) -> Job:
        # A worker killed hard (kill -9, machine restart) never writes its end state.
        if job.status == "running" and job.pid and not _pid_alive(job.pid):
            job.status, job.ended = "interrupted", time.time()
            job.error = "The training process stopped without finishing; start the job again."
            self.update(job.id, status=job.status, ended=job.ended, error=job.error)
        return job


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A finished child not yet reaped by its parent is a zombie: treat as gone.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def start_job(config: TrainConfig, *, workspace: Workspace | None = None, owner: str = "") -> Job:
    """Start ``python -m lepton_core train`` for ``config`` in a detached process."""
    workspace = workspace or Workspace()
    store = JobStore(workspace)
    command = [sys.executable, "-m", "lepton_core", "train", "--workspace", str(workspace.root)]
    job = store.create(config, command, owner=owner)
    config_path = store.folder / job.id / "config.json"
    config_path.write_text(config.to_json(), encoding="utf-8")
    full = [*command, "--config", str(config_path), "--job", job.id]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    package_root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    try:
        with open(store.log_path(job.id), "ab") as log:
            proc = subprocess.Popen(
                full,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # survives the Streamlit session and its signals
            )
    except OSError as exc:
        store.update(job.id, status="failed", error=str(exc), ended=time.time())
        raise JobError(f"The training process could not start ({exc.strerror}).") from exc
    store.update(
        job.id,
        status="running",
        pid=proc.pid,
        started=time.time(),
        heartbeat=time.time(),
        command=full,
    )
    return store.get(job.id)


def cancel_job(job_id: str, *, workspace: Workspace | None = None) -> Job:
    """Stop a job's worker and mark it cancelled."""
    store = JobStore(workspace or Workspace())
    job = store.get(job_id)
    if not job.active:
        return job
    store.update(job_id, status="cancelled", ended=time.time(), error="Cancelled by the user.")
    if job.pid and _pid_alive(job.pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(job.pid, signal.SIGTERM)
    return store.get(job_id)


class JobProgressCallback(TrainerCallback):
    """Writes progress to the jobs table and stops when the job was cancelled."""

    def __init__(self, store: JobStore, job_id: str) -> None:
        self.store = store
        self.job_id = job_id
        self._last = 0.0

    def _write(self, state: TrainerState, *, force: bool = False) -> bool:
        now = time.time()
        if not force and now - self._last < _PROGRESS_EVERY:
            return False
        self._last = now
        progress = {
            "phase": state.phase,
            "step": state.step,
            "total_steps": state.total_steps,
            "eta_seconds": state.eta_seconds(),
            "history": state.log_history[-500:],
        }
        self.store.update(self.job_id, progress=progress, heartbeat=now)
        return True

    def on_phase(self, state: TrainerState, control: TrainerControl) -> None:
        self._write(state, force=True)

    def on_step_end(self, state: TrainerState, control: TrainerControl) -> None:
        # Check for a cancel only as often as progress is written.
        if self._write(state) and self.store.get(self.job_id).status == "cancelled":
            control.should_stop = True

    def on_train_end(self, state: TrainerState, control: TrainerControl) -> None:
        self._write(state, force=True)
