"""Executors: what runs a job's CLI command — a local detached process, or a Ray job.

Every executor runs the same ``python -m lepton_core train … --job ID`` command;
the worker reports through the workspace's jobs table either way. An executor
only starts the command, says whether it is still running, stops it, and
fetches its log.

The local executor is the default. With ``LEPTON_RAY_ADDRESS`` set (a Ray
dashboard address such as ``http://head:8265``), new jobs are submitted to
that cluster through the Ray Jobs API instead.

Ray is an optional dependency: it is imported inside the methods that talk to a cluster.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from lepton_core.core import JobError

__all__ = [
    "Executor",
    "LocalExecutor",
    "RayExecutor",
    "default_executor",
    "env_fingerprint",
    "get_executor",
]

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
#: The spare worker's module, run as ``python -m``; its command line marks a spare.
_WORKER_MODULE = "lepton_core.worker"
#: Variables libraries set for themselves at run time (MLflow its tracking URI, torch's
#: OpenMP its flags, torch its compiler cache when imported); they differ between
#: processes without meaning anything. (The app imports torch for the Data page's token
#: counts: before TORCHINDUCTOR_ was here, no spare started earlier could run a job.)
_RUNTIME_PREFIXES = ("MLFLOW_", "KMP_", "TORCHINDUCTOR_")


def env_fingerprint(env: dict[str, str]) -> str:
    """What a job's environment must match for a spare worker to run it.

    Some settings, such as thread counts, are read once, when a library is imported.
    """
    kept = sorted((k, v) for k, v in env.items() if not k.startswith(_RUNTIME_PREFIXES))
    return hashlib.sha256(json.dumps(kept).encode()).hexdigest()


class Executor:
    """Runs job commands; ``handle`` is what :meth:`start` returned (a pid, a Ray id)."""

    name = ""

    def start(self, job_id: str, command: list[str], log_path: Path) -> str:
        """Start ``command`` for job ``job_id``; return the handle to find it again."""
        raise NotImplementedError

    def alive(self, job_id: str, handle: str) -> bool:
        """Whether the job's worker is still queued or running."""
        raise NotImplementedError

    def stop(self, job_id: str, handle: str) -> None:
        """Stop the worker (it may take a moment to end)."""
        raise NotImplementedError

    def log(self, job_id: str, handle: str, log_path: Path) -> str:
        """The worker's whole log so far."""
        return log_path.read_text(encoding="utf-8", errors="replace") if log_path.is_file() else ""


class LocalExecutor(Executor):
    """A detached process per job on this machine (the default).

    :meth:`warm` starts a spare worker ahead of time (see :mod:`lepton_core.worker`);
    :meth:`start` hands the job to it when one is ready, else starts Python afresh.
    """

    name = "local"

    def start(self, job_id: str, command: list[str], log_path: Path) -> str:
        spare = self._claim_spare(job_id, command, log_path)
        if spare is None and self._spare_ready_soon(log_path.parent.parent / _SPARES):
            spare = self._claim_spare(job_id, command, log_path)
        if spare is not None:
            return spare
        try:
            with open(log_path, "ab") as log:
                proc = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=_worker_env(),
                    start_new_session=True,  # survives the Streamlit session and its signals
                )
        except OSError as exc:
            raise JobError(
                f"The training process could not start ({exc.strerror}); "
                "check that Python and lepton_core are installed where the app runs."
            ) from exc
        _reap_when_done(proc)
        return str(proc.pid)

    def warm(self, jobs_folder: Path) -> None:
        """Start a spare worker for the next job unless one is waiting or warming up.

        The spare lives while this process does (at most ``lepton_core.worker.IDLE_S``), so call
        it from a long-lived process (the app). ``LEPTON_WARM_WORKER=0`` turns it off;
        it needs Linux's ``/proc`` to tell a spare from a recycled process id.
        """
        if os.environ.get("LEPTON_WARM_WORKER", "1") == "0" or not _PROC.exists():
            return
        folder = jobs_folder / _SPARES
        folder.mkdir(parents=True, exist_ok=True)
        for path in folder.iterdir():
            pid = int(path.name.split(".", 1)[0]) if path.name[0].isdigit() else 0
            if not _is_spare(pid):
                path.unlink(missing_ok=True)  # what a killed spare left behind
            elif path.suffix in (".ready", ".tmp"):
                return  # one is waiting
        for pid, where in list(_starting.items()):
            if not _is_spare(pid) or (where / f"{pid}.claimed").exists():
                del _starting[pid]
            elif where == folder:
                return  # one is still importing
        proc = subprocess.Popen(
            [sys.executable, "-m", _WORKER_MODULE, str(folder), str(os.getpid())],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=_worker_env(),
            start_new_session=True,
        )
        _reap_when_done(proc)
        _starting[proc.pid] = folder

    def _spare_ready_soon(self, folder: Path) -> bool:
        """Wait, at most :data:`HANDOFF_S`, for a spare this process started to finish its
        imports; whether one did.

        A fresh Python would import the same stack from the start, beside the spare
        still importing: on 2 cores the two (and the app) took twice as long as one.
        """
        importing = [pid for pid, where in _starting.items() if where == folder]
        deadline = time.monotonic() + HANDOFF_S
        while importing and time.monotonic() < deadline:
            importing = [p for p in importing if _is_spare(p)]
            if any((folder / f"{p}.ready").exists() for p in importing):
                return True
            time.sleep(_POLL_S)
        return False

    def _claim_spare(self, job_id: str, command: list[str], log_path: Path) -> str | None:
        folder = log_path.parent.parent / _SPARES
        if command[:3] != [sys.executable, "-m", "lepton_core"] or not folder.is_dir():
            return None
        env = _worker_env()
        wanted = env_fingerprint(env)
        for ready in sorted(folder.glob("*.ready")):
            pid = int(ready.name.split(".", 1)[0])
            claimed = folder / f"{pid}.claimed"
            try:
                ready.rename(claimed)  # succeeds once: this spare is ours
            except FileNotFoundError:
                continue
            if not _is_spare(pid):
                claimed.unlink(missing_ok=True)
                continue
            if claimed.read_text(encoding="utf-8") != wanted:
                if _starting.pop(pid, None) is None:
                    claimed.rename(ready)  # another process's, with other settings
                else:  # ours, from before our settings changed: it would only compete
                    claimed.unlink(missing_ok=True)
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(pid, signal.SIGTERM)
                continue
            claimed.write_text(job_id, encoding="utf-8")
            order = folder / f"{pid}.job.tmp"
            # The environment may hold secrets: readable by this user only.
            with os.fdopen(os.open(order, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
                json.dump({"argv": command[3:], "log": str(log_path), "env": env}, f)
            order.rename(folder / f"{pid}.job")
            _starting.pop(pid, None)
            return str(pid)
        return None

    def alive(self, job_id: str, handle: str) -> bool:
        pid = int(handle)
        if _PROC.exists():
            try:
                # A zombie's cmdline is empty; a recycled pid runs some other command.
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                return False
            if job_id.encode() in cmdline:
                return True
            # A spare worker (python -m lepton_core.worker FOLDER CREATOR) running this job
            # keeps FOLDER/PID.claimed, which names the job, until it ends.
            args = cmdline.split(b"\0")
            if len(args) < 4 or args[2] != _WORKER_MODULE.encode():
                return False
            claimed = Path(os.fsdecode(args[3])) / f"{pid}.claimed"
            with contextlib.suppress(OSError):
                return claimed.read_text(encoding="utf-8") == job_id
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def stop(self, job_id: str, handle: str) -> None:
        if self.alive(job_id, handle):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(int(handle), signal.SIGTERM)


_SPARES = "spares"
#: How long a job waits for a spare that is still importing before starting its own Python.
HANDOFF_S = 30.0
_POLL_S = 0.05
_PROC = Path("/proc/self/cmdline")
_starting: dict[int, Path] = {}  # spares this process started (pid → folder)


def _reap_when_done(proc: subprocess.Popen) -> None:
    """Wait for ``proc`` in a daemon thread, so that a finished worker never stays a zombie.

    This process started it, so only this process can collect its exit status; without
    a wait it lingers in the process table (state Z) until this process ends.
    """
    threading.Thread(target=proc.wait, name=f"lepton-reap-{proc.pid}", daemon=True).start()


def _worker_env() -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # OpenMP threads (LightGBM, torch) that wait at a barrier sleep instead of spinning: on
    # a busy machine spinning threads take the cores the others need (a LightGBM fit on
    # Adult took 107 s instead of 3.3 s at load 20), and the results are the same.
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
    return env


def _is_spare(pid: int) -> bool:
    try:
        return _WORKER_MODULE.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


class RayExecutor(Executor):
    """Submits the command as a Ray job (Ray Jobs API) to the cluster at ``address``.

    The workspace folder must be the same path on the Ray workers (a shared
    file system), since the worker writes its progress and model there; the
    workers run ``$LEPTON_RAY_PYTHON`` (default ``python``) with lepton_core
    installed.
    """

    name = "ray"

    def __init__(self, address: str) -> None:
        self.address = address

    def _client(self):
        try:
            from ray.job_submission import JobSubmissionClient
        except ImportError as exc:
            raise JobError(
                "LEPTON_RAY_ADDRESS is set but Ray is not installed; "
                "pip install 'ray[default]' or unset LEPTON_RAY_ADDRESS."
            ) from exc
        try:
            return JobSubmissionClient(self.address)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise JobError(
                f"The Ray cluster at {self.address} does not answer; check LEPTON_RAY_ADDRESS "
                "(the dashboard address, e.g. http://head:8265) or unset it."
            ) from exc

    def start(self, job_id: str, command: list[str], log_path: Path) -> str:
        python = os.environ.get("LEPTON_RAY_PYTHON", "python")
        entrypoint = shlex.join([python, *command[1:]])  # the cluster's Python, same arguments
        submission = self._client().submit_job(
            entrypoint=entrypoint,
            submission_id=f"lepton-{job_id}",
            runtime_env={"env_vars": {"PYTHONUNBUFFERED": "1", "PYTHONPATH": _PACKAGE_ROOT}},
            metadata={"lepton_job": job_id},
            entrypoint_num_cpus=1,
        )
        log_path.write_text(f"submitted to Ray at {self.address} as {submission}\n")
        return submission

    def alive(self, job_id: str, handle: str) -> bool:
        from ray.job_submission import JobStatus

        try:
            status = self._client().get_job_status(handle)
        except JobError:
            return True  # an unreachable cluster is not proof that the job died
        except RuntimeError:
            return False  # the cluster does not know the job (e.g. it was restarted)
        return status in (JobStatus.PENDING, JobStatus.RUNNING)

    def stop(self, job_id: str, handle: str) -> None:
        with contextlib.suppress(RuntimeError):
            self._client().stop_job(handle)

    def log(self, job_id: str, handle: str, log_path: Path) -> str:
        try:
            text = self._client().get_job_logs(handle)
        except (JobError, RuntimeError):
            return super().log(job_id, handle, log_path)
        log_path.write_text(text, encoding="utf-8")  # keep a copy with the job
        return text


def default_executor() -> Executor:
    """Ray when ``LEPTON_RAY_ADDRESS`` is set, else local processes."""
    address = os.environ.get("LEPTON_RAY_ADDRESS")
    return RayExecutor(address) if address else LocalExecutor()


def get_executor(name: str, address: str | None = None) -> Executor:
    """The executor a stored job was started with."""
    if name == "ray":
        return RayExecutor(address or os.environ.get("LEPTON_RAY_ADDRESS", ""))
    return LocalExecutor()
