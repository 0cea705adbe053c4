"""Background jobs: a detached worker runs the CLI and reports through the jobs table."""

from __future__ import annotations

import os
import signal
import time

import pytest

from lepton_core.jobs import JobStore, cancel_job, start_job
from lepton_core.training import TrainConfig


def _wait(store: JobStore, job_id: str, *, until, timeout: float = 180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = store.get(job_id)
        if until(job):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not reach the state in time: {store.get(job_id)}")


def test_job_runs_detached_and_registers_a_model(adult_csv, workspace):
    job = start_job(
        TrainConfig(data=str(adult_csv), target="Y", sensitive=["sex"], explain_rows=50),
        workspace=workspace,
        owner="t",
    )
    assert job.status == "running" and job.pid
    store = JobStore(workspace)
    done = _wait(store, job.id, until=lambda j: not j.active)
    assert done.status == "succeeded", store.read_log(job.id)
    assert done.progress["phase"] == "done"
    assert len(done.progress["history"]) == 100  # one entry per boosting round
    assert workspace.get_run(done.run_id).model_version == done.model_version
    assert job.id in [j.id for j in store.list(owner="t")]


def test_failed_job_keeps_the_one_sentence_cause(adult_csv, workspace):
    job = start_job(TrainConfig(data=str(adult_csv), target="no-such-column"), workspace=workspace)
    done = _wait(JobStore(workspace), job.id, until=lambda j: not j.active)
    assert done.status == "failed"
    assert "no-such-column" in done.error and "\n" not in done.error


@pytest.mark.parametrize("how", ["cancel", "kill"])
def test_cancelled_or_killed_job_ends_without_a_model(adult_csv, workspace, how):
    versions_before = len(workspace.model_versions())
    job = start_job(
        TrainConfig(
            data=str(adult_csv),
            target="Y",
            model="mlp",
            params={"max_epochs": 200, "patience": 200},
        ),
        workspace=workspace,
    )
    store = JobStore(workspace)
    _wait(store, job.id, until=lambda j: j.progress.get("phase") == "training")
    if how == "cancel":
        cancel_job(job.id, workspace=workspace)
    else:
        os.kill(job.pid, signal.SIGKILL)
    done = _wait(store, job.id, until=lambda j: not j.active, timeout=30)
    assert done.status == ("cancelled" if how == "cancel" else "interrupted")
    time.sleep(1)
    assert len(workspace.model_versions()) == versions_before
