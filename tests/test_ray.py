"""The Ray executor: the same CLI command as a Ray job on a small local Ray instance."""

from __future__ import annotations

import socket
import sys
import time

import pytest

from lepton_core.jobs import JobStore, cancel_job, start_job
from lepton_core.training import TrainConfig

ray = pytest.importorskip("ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_address():
    """A two-CPU Ray instance with its dashboard (the Jobs API), stopped after the module."""
    port = _free_port()
    try:
        ray.init(
            num_cpus=2,
            include_dashboard=True,
            dashboard_host="127.0.0.1",
            dashboard_port=port,
            object_store_memory=100 * 1024**2,
            log_to_driver=False,
            configure_logging=False,
        )
    except Exception as exc:
        pytest.skip(f"a local Ray instance cannot start here: {exc}")
    address = f"http://127.0.0.1:{port}"
    from ray.job_submission import JobSubmissionClient

    deadline = time.time() + 60
    while True:
        try:
            JobSubmissionClient(address).list_jobs()
            break
        except Exception as exc:
            if time.time() > deadline:
                ray.shutdown()
                pytest.skip(f"Ray's dashboard did not come up: {exc}")
            time.sleep(1)
    yield address
    ray.shutdown()


@pytest.fixture
def on_ray(ray_address, monkeypatch, tmp_path):
    from lepton_core.workspace import Workspace

    monkeypatch.setenv("LEPTON_RAY_ADDRESS", ray_address)
    monkeypatch.setenv("LEPTON_RAY_PYTHON", sys.executable)
    return Workspace(tmp_path / "ws")


def _wait(store, job_id, until, timeout=180):
    deadline = time.time() + timeout
    while not until(job := store.get(job_id)):
        assert time.time() < deadline, f"job {job_id} stuck: {job}"
        time.sleep(0.5)
    return job


def test_job_runs_as_a_ray_job_and_registers_its_model(adult_csv, on_ray, ray_address):
    from ray.job_submission import JobStatus, JobSubmissionClient

    config = TrainConfig(
        data=str(adult_csv), target="Y", sensitive=["sex"], model="tree", explain_rows=20
    )
    job = start_job(config, workspace=on_ray)
    assert job.executor == f"ray:{ray_address}" and job.handle == f"lepton-{job.id}"
    assert job.pid is None
    store = JobStore(on_ray)
    done = _wait(store, job.id, lambda j: not j.active)
    assert done.status == "succeeded", store.read_log(job.id)
    assert on_ray.get_run(done.run_id).model_version == done.model_version
    assert done.progress["phase"] == "done"
    client = JobSubmissionClient(ray_address)
    deadline = time.time() + 30
    while client.get_job_status(job.handle) == JobStatus.RUNNING and time.time() < deadline:
        time.sleep(0.5)
    assert client.get_job_status(job.handle) == JobStatus.SUCCEEDED
    assert "run " in store.read_log(job.id)  # Ray's log of the CLI, kept with the job


def test_cancel_stops_the_ray_job_without_a_model(adult_csv, on_ray, ray_address):
    from ray.job_submission import JobStatus, JobSubmissionClient

    config = TrainConfig(
        data=str(adult_csv), target="Y", model="mlp", params={"max_epochs": 200, "patience": 200}
    )
    job = start_job(config, workspace=on_ray)
    store = JobStore(on_ray)
    _wait(store, job.id, lambda j: j.progress.get("phase") == "training")
    assert cancel_job(job.id, workspace=on_ray).status == "cancelled"
    client = JobSubmissionClient(ray_address)
    deadline = time.time() + 60
    while client.get_job_status(job.handle) != JobStatus.STOPPED:
        assert time.time() < deadline
        time.sleep(0.5)
    assert on_ray.model_versions() == []


def test_a_ray_job_stopped_elsewhere_reads_as_interrupted(adult_csv, on_ray, ray_address):
    from ray.job_submission import JobSubmissionClient

    config = TrainConfig(
        data=str(adult_csv), target="Y", model="mlp", params={"max_epochs": 200, "patience": 200}
    )
    job = start_job(config, workspace=on_ray)
    store = JobStore(on_ray)
    _wait(store, job.id, lambda j: j.progress.get("phase") == "training")
    JobSubmissionClient(ray_address).stop_job(job.handle)  # as if the cluster lost the worker
    done = _wait(store, job.id, lambda j: not j.active, timeout=60)
    assert done.status == "interrupted"
    assert done.error.startswith("The training process stopped without finishing")
