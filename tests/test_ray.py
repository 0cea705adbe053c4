"""The Ray executor: the same CLI command as a Ray job on a small local Ray instance."""

from __future__ import annotations

import socket
import sys
import time

import pytest

from lepton_core.jobs import JobStore, cancel_job, start_job
from lepton_core.runs import TrainConfig

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
    assert done.progress.phase == "done"
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
    _wait(store, job.id, lambda j: j.progress.phase == "training")
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
    _wait(store, job.id, lambda j: j.progress.phase == "training")
    JobSubmissionClient(ray_address).stop_job(job.handle)  # as if the cluster lost the worker
    done = _wait(store, job.id, lambda j: not j.active, timeout=60)
    assert done.status == "interrupted"
    assert done.error.startswith("The training process stopped without finishing")


def test_auto_runs_its_trials_in_parallel_on_ray_tune(adult_csv, on_ray, monkeypatch):
    """Auto on the local Ray instance: parallel Tune trials, a leaderboard, the winner."""
    import pandas as pd
    from ray import tune

    import lepton_core.runs._search as search_module
    from lepton_core.data import infer_schema, load_table, prepare_features, split_table
    from lepton_core.runs import AutoConfig, run_auto

    shipped, tune_configs, scored_here = [], [], []
    with_parameters, tuner = tune.with_parameters, tune.Tuner

    def recording_with_parameters(trainable, **kwargs):
        shipped.append(kwargs["data"])
        return with_parameters(trainable, **kwargs)

    def recording_tuner(*args, **kwargs):
        tune_configs.append(kwargs["tune_config"])
        return tuner(*args, **kwargs)

    monkeypatch.setattr(tune, "with_parameters", recording_with_parameters)
    monkeypatch.setattr(tune, "Tuner", recording_tuner)
    monkeypatch.setattr(search_module, "evaluate", lambda *a, **k: scored_here.append(a))
    boards: list[int] = []

    def on_leaderboard(leaderboard, **info):
        boards.append(len(leaderboard))
        return False

    base = TrainConfig(data=str(adult_csv), target="Y", sensitive=["sex"], explain_rows=20)
    started = time.time()
    result = run_auto(
        # A generous budget for a busy machine: the search ends after 4 trials anyway.
        # The ensemble of trials is scored here, on validation rows: off (test_ensemble.py).
        AutoConfig(
            base=base,
            budget_s=90,
            max_trials=4,
            families=["lightgbm", "logistic"],
            ensemble=False,
        ),
        workspace=on_ray,  # LEPTON_RAY_ADDRESS is set: the search runs on Ray Tune
        on_leaderboard=on_leaderboard,
    )
    assert time.time() - started < 150
    assert result.backend == "ray" and 2 <= result.n_trials <= 4
    assert boards == list(range(1, result.n_trials + 1))  # the board grew after every trial
    (config,) = tune_configs
    assert config.max_concurrent_trials == 2 and config.time_budget_s <= 90
    board = result.leaderboard
    assert [row["rank"] for row in board] == list(range(1, len(board) + 1))
    assert next(r for r in board if r["trial"] == 0)["params"]["learning_rate"] == 0.1
    winner = result.winner
    assert winner.family == board[0]["model"]
    assert on_ray.get_run(winner.run_id).model_version == winner.model_version
    # This process started Ray, so its workers are its descendants: their energy counts.
    search = winner.energy.search
    assert search.measured and search.trials == result.n_trials, search
    # Trials were scored in Ray's workers, on data holding the training and validation
    # parts only: the test part is the winner's alone.
    assert scored_here == []
    (data,) = shipped
    df = load_table(str(adult_csv))
    split = split_table(df, "Y", task="binary", seed=0)
    schema = infer_schema(df)
    pd.testing.assert_frame_equal(data.x_train, prepare_features(split.train, schema, "Y"))
    pd.testing.assert_frame_equal(data.x_valid, prepare_features(split.valid, schema, "Y"))
    assert len(data.x_train) + len(data.x_valid) + winner.n_test == len(df)


def test_an_auto_job_on_ray_runs_its_trials_on_that_cluster(adult_csv, on_ray):
    from lepton_core.runs import AutoConfig

    base = TrainConfig(data=str(adult_csv), target="Y", sensitive=["sex"], explain_rows=20)
    config = AutoConfig(base=base, budget_s=90, max_trials=3, families=["lightgbm"])
    job = start_job(config, workspace=on_ray)  # a Ray job: LEPTON_RAY_ADDRESS is set
    assert job.kind == "auto" and job.executor.startswith("ray:")
    store = JobStore(on_ray)
    done = _wait(store, job.id, lambda j: not j.active)
    assert done.status == "succeeded", store.read_log(job.id)
    assert len(done.progress.leaderboard) == 3
    # The job did not need LEPTON_RAY_ADDRESS on the cluster: it searched with Tune there.
    tags = on_ray.client.get_run(done.run_id).data.tags
    assert tags["lepton.auto_backend"] == "ray" and tags["lepton.auto_trials"] == "3"
    # The job's own process did not start the workers: it says their energy is not counted.
    search = on_ray.find_report(done.run_id, "energy")["search"]
    assert not search["measured"] and search["reason"]["id"] == "energy.trials_elsewhere"


def test_cancelling_an_auto_search_on_ray_stops_its_trials(adult_csv, on_ray):
    from lepton_core.core import TrainingError
    from lepton_core.runs import AutoConfig, run_auto

    base = TrainConfig(data=str(adult_csv), target="Y", sensitive=["sex"], explain_rows=20)
    config = AutoConfig(base=base, budget_s=120, families=["lightgbm", "tree"])
    started = time.time()
    with pytest.raises(TrainingError, match="The Auto search was cancelled"):
        run_auto(config, workspace=on_ray, on_leaderboard=lambda **info: True)
    assert time.time() - started < 60  # well within the budget: Tune stopped every trial
    assert on_ray.model_versions() == []
