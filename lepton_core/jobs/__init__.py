"""jobs."""

from lepton_core.jobs._executors import (
    Executor,
    LocalExecutor,
    RayExecutor,
    default_executor,
    get_executor,
)
from lepton_core.jobs._jobs import (
    Job,
    JobProgressCallback,
    JobStore,
    cancel_job,
    max_jobs,
    run_job,
    start_job,
)

__all__ = [
    "Executor",
    "Job",
    "JobProgressCallback",
    "JobStore",
    "LocalExecutor",
    "RayExecutor",
    "cancel_job",
    "default_executor",
    "get_executor",
    "max_jobs",
    "run_job",
    "start_job",
]
