"""Executors: what runs a job's CLI command — a local detached process, or a Ray job.

Every executor runs the same ``python -m lepton_core train … --job ID`` command;
the worker reports through the workspace's jobs table either way. An executor
only starts the command, says whether it is still running, stops it, and
fetches its log.

The local executor is the default. With ``LEPTON_RAY_ADDRESS`` set (a Ray
dashboard address such as ``http://head:8265``), new jobs are submitted to
that cluster through the Ray Jobs API instead.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
from pathlib import Path

from lepton_core.exceptions import JobError

__all__ = ["Executor", "LocalExecutor", "RayExecutor", "default_executor", "get_executor"]

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])


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
    """A detached process per job on this machine (the default)."""

    name = "local"

    def start(self, job_id: str, command: list[str], log_path: Path) -> str:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        try:
            with open(log_path, "ab") as log:
                proc = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,  # survives the Streamlit session and its signals
                )
        except OSError as exc:
            raise JobError(
                f"The training process could not start ({exc.strerror}); "
                "check that Python and lepton_core are installed where the app runs."
            ) from exc
        return str(proc.pid)

    def alive(self, job_id: str, handle: str) -> bool:
        pid = int(handle)
        if Path("/proc/self/cmdline").exists():
            try:
                # A zombie's cmdline is empty; a recycled pid runs some other command.
                return job_id.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
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
