"""Background jobs: the CLI's ``train`` or ``mitigate`` command in a detached worker.

The jobs table (:class:`JobStore`) queues and records them; executors run them (a
local process or a Ray job); :func:`run_job` is the worker's side, which writes a
:class:`JobProgress` (an :class:`AutoProgress` for an Auto search) as it goes.
"""

from lepton_core.jobs._executors import (
    Executor,
    LocalExecutor,
    RayExecutor,
    default_executor,
    env_fingerprint,
    get_executor,
)
from lepton_core.jobs._progress import (
    AutoProgress,
    JobProgress,
    clamp_fraction,
    clean_seconds,
)
from lepton_core.jobs._runner import (
    JobProgressCallback,
    cancel_job,
    run_job,
    start_job,
)
from lepton_core.jobs._store import (
    Job,
    JobStore,
    max_jobs,
)

__all__ = [
    "AutoProgress",
    "Executor",
    "Job",
    "JobProgress",
    "JobProgressCallback",
    "JobStore",
    "LocalExecutor",
    "RayExecutor",
    "cancel_job",
    "clamp_fraction",
    "clean_seconds",
    "default_executor",
    "env_fingerprint",
    "get_executor",
    "max_jobs",
    "run_job",
    "start_job",
]
