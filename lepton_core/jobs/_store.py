"""The jobs table: one row per background job, shared by every process of a workspace.

A job outlives the browser tab and the Streamlit session that started it. Its
state lives in the ``jobs`` table of Lepton's database (the workspace's ``lepton.db``
or the team's PostgreSQL: see :func:`lepton_core.workspace.open_database`), which
the worker updates as it goes and any page can read.

Jobs are queued and at most ``max_jobs`` run at once. No daemon is needed: the
submitter, a worker as it finishes, a cancel, and any reader that notices a free
slot promote the oldest queued job inside one locked transaction (SQLite's
``BEGIN IMMEDIATE``; on PostgreSQL an advisory lock, with the head row taken ``FOR
UPDATE SKIP LOCKED``), so two processes never start the same job or more than the
limit.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from lepton_core.core import JobError, JsonMixin, Message, whole_number_setting
from lepton_core.jobs._executors import (
    Executor,
    LocalExecutor,
    RayExecutor,
    default_executor,
    get_executor,
)
from lepton_core.jobs._progress import JobProgress, progress_for
from lepton_core.workspace import Workspace, jobs_table, open_database, record_in

__all__ = ["Job", "JobStore", "max_jobs"]

ACTIVE = ("queued", "running")
_T = jobs_table
_SPAWN_GRACE = 60.0  # a claimed job whose worker never recorded a pid is given up after this
_GONE = Message("jobs.gone")


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

    ``kind`` is ``"train"`` (one model), ``"auto"`` (a search, then the winner),
    ``"mitigate"`` (a fairer version of a trained model) or ``"federated"``;
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
    error: Message | str | None = None
    log_path: str = ""

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def family(self) -> str:
        """The model family, ``"auto"`` for a search, ``"mitigated"`` for a mitigation,
        ``"federated · logistic"`` (its model) for a federated training."""
        if self.kind in _KIND_FAMILY:
            return _KIND_FAMILY[self.kind]
        model = str(self.config.get("model", ""))
        return f"{self.kind} · {model}" if self.kind in _KIND_PREFIXED else model


_KIND_FAMILY = {"auto": "auto", "mitigate": "mitigated"}
#: Kinds whose model is a family trained another way: the list says both.
_KIND_PREFIXED = ("federated",)


class JobStore:
    """The jobs table of one workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.folder = workspace.root / "jobs"
        self._db = open_database(workspace.root)

    def log_path(self, job_id: str) -> Path:
        return self.folder / job_id / "log.txt"

    def config_path(self, job_id: str) -> Path:
        return self.folder / job_id / "config.json"

    def read_log(self, job_id: str, *, tail: int = 5000) -> str:
        """The last ``tail`` characters of a job's log."""
        query = sa.select(_T.c.executor, _T.c.handle).where(_T.c.id == job_id)
        with self._db.begin() as conn:
            row = conn.execute(query).mappings().first()
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
        """Queue a job that will run ``command`` with ``--config FILE --job ID`` appended.

        Recorded in the audit log as ``job.started`` by ``owner``.
        """
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
        with self._db.begin() as conn:
            conn.execute(
                sa.insert(_T).values(
                    id=job.id,
                    status=job.status,
                    owner=owner,
                    config=json.dumps(job.config),
                    command=json.dumps(job.command),
                    created=job.created,
                    kind=kind,
                    max_jobs=limit,
                    executor=job.executor,
                )
            )
            record_in(conn, owner, "job.started", job.id, {"kind": kind, "family": job.family})
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
        with self._db.begin() as conn:
            conn.execute(sa.update(_T).where(_T.c.id == job_id).values(values))

    def finish(self, job_id: str, status: str, **values: Any) -> bool:
        """Move an active job to ``status``; False when it had already ended (e.g. cancelled)."""
        values = {"status": status, "ended": time.time(), **values}
        if isinstance(
            values.get("error"), Message
        ):  # kept as its id and values, to show in any language
            values["error"] = json.dumps(values["error"].to_dict())
        query = sa.update(_T).where(_T.c.id == job_id, _T.c.status.in_(ACTIVE)).values(values)
        with self._db.begin() as conn:
            return conn.execute(query).rowcount == 1

    def status(self, job_id: str) -> str:
        """Just the stored status (no liveness check): cheap enough for every step."""
        with self._db.begin() as conn:
            status = conn.execute(sa.select(_T.c.status).where(_T.c.id == job_id)).scalar()
        if status is None:
            raise JobError(f"There is no job '{job_id}'; it may belong to another workspace.")
        return str(status)

    def get(self, job_id: str) -> Job:
        row = self._row(job_id)
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
        query = sa.select(_T).order_by(_T.c.created.desc(), _T.c.seq.desc()).limit(limit)
        if owner is not None:
            query = query.where(_T.c.owner == owner)
        with self._db.begin() as conn:
            rows = conn.execute(query).mappings().all()
        return [self._job(r) for r in rows]

    def running(self) -> int:
        """How many jobs are running now."""
        with self._db.begin() as conn:
            return int(conn.execute(_count_running()).scalar_one())

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
        q, j = _T.alias("q"), _T.alias("j")
        query = (
            sa.select(sa.func.count())
            .select_from(q)
            .join(j, sa.tuple_(q.c.created, q.c.seq) <= sa.tuple_(j.c.created, j.c.seq))
            .where(j.c.id == job_id, j.c.status == "queued", q.c.status == "queued")
        )
        with self._db.begin() as conn:
            return int(conn.execute(query).scalar_one()) or None

    def recover(self) -> list[Job]:
        """Mark running jobs whose worker is gone as interrupted, then fill free slots.

        Any reader calls this, so a server restart, a ``kill -9`` or a machine
        reboot is noticed the next time someone looks; no daemon is involved.
        """
        running = sa.select(_T.c.id, _T.c.pid, _T.c.started, _T.c.executor, _T.c.handle).where(
            _T.c.status == "running"
        )
        with self._db.begin() as conn:
            rows = conn.execute(running).mappings().all()
            queued = conn.execute(
                sa.select(sa.literal(1)).where(_T.c.status == "queued").limit(1)
            ).first()
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
        # The lock makes the count and the claim one step: two promoters never both see
        # a free slot for the same job, nor fill one slot twice. SKIP LOCKED passes over
        # a row another transaction holds on PostgreSQL (SQLite has no row locks).
        head_query = (
            sa.select(_T)
            .where(_T.c.status == "queued")
            .order_by(_T.c.created, _T.c.seq)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        with self._db.begin(lock="lepton.jobs.claim") as conn:
            head = conn.execute(head_query).mappings().first()
            if head is None or conn.execute(_count_running()).scalar_one() >= head["max_jobs"]:
                return None
            now = time.time()
            claimed = conn.execute(
                sa.update(_T)
                .where(_T.c.id == head["id"], _T.c.status == "queued")
                .values(status="running", started=now, heartbeat=now)
            )
            if claimed.rowcount != 1:  # cannot happen under the lock; never start it unclaimed
                return None
        job = self._job(head)
        job.status, job.started = "running", now
        return job

    def _spawn(self, job: Job) -> Job:
        executor = _executor(job.executor)
        try:
            handle = executor.start(job.id, job.command, self.log_path(job.id))
        except JobError as exc:
            self.finish(job.id, "failed", error=_sentence(exc))
            return self.get(job.id)
        pid = int(handle) if executor.name == "local" else None
        self.update(job.id, handle=handle, pid=pid)
        job.handle, job.pid = handle, pid
        return job

    def _row(self, job_id: str) -> Mapping[str, Any] | None:
        with self._db.begin() as conn:
            return conn.execute(sa.select(_T).where(_T.c.id == job_id)).mappings().first()

    def _job(self, row: Mapping[str, Any]) -> Job:
        data = dict(row)
        for key in ("progress", "config", "command"):
            data[key] = json.loads(data[key]) if data[key] else {}
        if (data.get("error") or "").startswith('{"id": '):  # a Message (see finish)
            data["error"] = json.loads(data["error"])
        data["progress"] = progress_for(data["kind"], data["progress"])
        job = Job.from_dict(data)
        job.log_path = str(self.log_path(job.id))
        return job


def _sentence(exc: BaseException) -> Message | str:
    """An error's sentence: its Message where it was raised with one, else its text."""
    return exc.args[0] if exc.args and isinstance(exc.args[0], Message) else str(exc)


def _count_running() -> sa.Select:
    return sa.select(sa.func.count()).select_from(_T).where(_T.c.status == "running")


def _spec(executor: Executor) -> str:
    return f"ray:{executor.address}" if isinstance(executor, RayExecutor) else executor.name


def _executor(spec: str) -> Executor:
    name, _, address = spec.partition(":")
    return get_executor(name, address or None)
