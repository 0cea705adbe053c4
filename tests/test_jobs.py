"""Background jobs: a detached worker runs the CLI and reports through the jobs table."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lepton_core.jobs import JobStore, cancel_job, start_job
from lepton_core.runs import TrainConfig, resolve_dataset


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
    assert done.progress.phase == "done"
    assert len(done.progress.history) == 100  # one entry per boosting round
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
    _wait(store, job.id, until=lambda j: j.progress.phase == "training")
    if how == "cancel":
        cancel_job(job.id, workspace=workspace)
    else:
        os.kill(job.pid, signal.SIGKILL)
    done = _wait(store, job.id, until=lambda j: not j.active, timeout=30)
    assert done.status == ("cancelled" if how == "cancel" else "interrupted")
    time.sleep(1)
    assert len(workspace.model_versions()) == versions_before


# -- queue and recovery -------------------------------------------------------------------


@pytest.fixture
def fresh_ws(tmp_path):
    """A workspace of its own, so no other test's job holds a slot of the queue."""
    from lepton_core.workspace import Workspace

    return Workspace(tmp_path / "ws")


def _sleeper(store: JobStore, seconds: float, limit: int) -> str:
    """A queued job whose worker only records that it started and sleeps (no training)."""
    from lepton_core.runs import TrainConfig

    code = f"import sys, time; open(sys.argv[2] + '.starts', 'a').write('x'); time.sleep({seconds})"
    return store.create(TrainConfig(data="unused"), [sys.executable, "-c", code], limit=limit).id


def test_five_jobs_at_once_with_one_slot_run_one_by_one(adult_csv, fresh_ws):
    config = TrainConfig(
        data=str(adult_csv), target="Y", sensitive=["sex"], model="tree", explain_rows=20
    )
    jobs = [start_job(config, workspace=fresh_ws, max_jobs=1) for _ in range(5)]
    assert [j.status for j in jobs] == ["running"] + ["queued"] * 4
    store = JobStore(fresh_ws)
    assert [store.queue_position(j.id) for j in jobs] == [None, 1, 2, 3, 4]
    done = [_wait(store, j.id, until=lambda j: not j.active) for j in jobs]
    assert [j.status for j in done] == ["succeeded"] * 5, [store.read_log(j.id) for j in done]
    # One at a time, in submission order: each started after the one before had ended.
    for before, after in itertools.pairwise(done):
        assert after.started >= before.ended
    assert len({j.model_version for j in done}) == 5


def test_concurrent_promoters_never_start_a_job_twice(fresh_ws):
    store = JobStore(fresh_ws)
    ids = [_sleeper(store, 3, limit=3) for _ in range(6)]
    threads = [threading.Thread(target=store.promote) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        jobs = [store.get(i) for i in ids]
        assert [j.status for j in jobs] == ["running"] * 3 + ["queued"] * 3
        time.sleep(1)  # let the workers write their start marks
        starts = [Path(store.config_path(i).as_posix() + ".starts") for i in ids[:3]]
        assert [p.read_text() for p in starts] == ["x", "x", "x"]
    finally:
        for job_id in ids:
            cancel_job(job_id, workspace=fresh_ws)
    assert all(store.get(i).status == "cancelled" for i in ids)


def test_a_cancelled_queued_job_never_starts(fresh_ws):
    store = JobStore(fresh_ws)
    first, second = _sleeper(store, 30, limit=1), _sleeper(store, 0, limit=1)
    store.promote()
    assert cancel_job(second, workspace=fresh_ws).status == "cancelled"
    cancel_job(first, workspace=fresh_ws)
    time.sleep(0.5)
    assert store.get(second).pid is None
    assert not Path(store.config_path(second).as_posix() + ".starts").exists()


def test_server_restart_marks_orphans_interrupted_and_starts_the_queue(fresh_ws):
    store = JobStore(fresh_ws)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead, recycled, waiting = (_sleeper(store, 0.1, limit=1) for _ in range(3))
    # As the table looked when the server died: two "running" jobs whose workers are gone,
    # one with a pid now used by an unrelated process (this test).
    store.update(dead, status="running", pid=gone.pid, started=time.time())
    store.update(recycled, status="running", pid=os.getpid(), started=time.time())
    restarted = JobStore(fresh_ws)  # what a restarted app opens
    jobs = {j.id: j for j in restarted.list()}
    for job_id in (dead, recycled):
        assert jobs[job_id].status == "interrupted"
        assert jobs[job_id].error.startswith("The training process stopped without finishing")
    assert jobs[waiting].status == "running"  # the freed slot went to the queue
    _wait(restarted, waiting, until=lambda j: j.status == "interrupted", timeout=30)


def test_job_limit_comes_from_the_argument_or_the_environment(monkeypatch):
    from lepton_core.core import JobError
    from lepton_core.jobs import max_jobs

    monkeypatch.delenv("LEPTON_MAX_JOBS", raising=False)
    assert max_jobs() == 1
    monkeypatch.setenv("LEPTON_MAX_JOBS", "3")
    assert max_jobs() == 3 and max_jobs(2) == 2
    for bad in ("0", "two", "1.5"):
        monkeypatch.setenv("LEPTON_MAX_JOBS", bad)
        with pytest.raises(JobError, match="LEPTON_MAX_JOBS to 1 or more"):
            max_jobs()


def test_train_page_after_a_restart_shows_the_orphan_interrupted(adult_csv, fresh_ws, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from app_pages import _common
    from app_pages._common import Keys
    from tests.test_pages import ROOT

    monkeypatch.setenv("LEPTON_WORKSPACE", str(fresh_ws.root))
    _common._workspace.clear()
    info, _, _ = resolve_dataset(TrainConfig(data=str(adult_csv), target="Y"), fresh_ws)
    store = JobStore(fresh_ws)
    orphan = _sleeper(store, 0, limit=1)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    store.update(orphan, status="running", pid=gone.pid, started=time.time())
    try:
        at = AppTest.from_file(ROOT / "app.py", default_timeout=60).switch_page(
            "app_pages/train.py"
        )
        at.session_state[Keys.DATASET_ID] = info.id
        at.session_state[Keys.JOBS] = {info.id: orphan}  # this data set's job
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.subheader[0].value.endswith("interrupted")
        assert at.error[0].value.startswith("The training process stopped without finishing")
        assert not at.success
    finally:
        _common._workspace.clear()


def test_train_page_shows_a_queued_job_and_its_place(adult_csv, fresh_ws, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from app_pages import _common
    from app_pages._common import Keys
    from tests.test_pages import ROOT

    monkeypatch.setenv("LEPTON_WORKSPACE", str(fresh_ws.root))
    _common._workspace.clear()
    info, _, _ = resolve_dataset(TrainConfig(data=str(adult_csv), target="Y"), fresh_ws)
    store = JobStore(fresh_ws)
    first, second = _sleeper(store, 30, limit=1), _sleeper(store, 0, limit=1)
    store.promote()
    try:
        at = AppTest.from_file(ROOT / "app.py", default_timeout=60).switch_page(
            "app_pages/train.py"
        )
        at.session_state[Keys.DATASET_ID] = info.id
        at.session_state[Keys.JOBS] = {info.id: second}  # this data set's job
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.subheader[0].value.endswith("queued")
        assert at.info[0].value.startswith("Queued, number 1 in line; at most 1 job(s) run at once")
        next(b for b in at.button if b.label == "Cancel").click().run()
        assert store.get(second).status == "cancelled"
        assert store.get(first).status == "running"  # cancelling a queued job stops nothing else
    finally:
        cancel_job(first, workspace=fresh_ws)
        _common._workspace.clear()


# -- spare workers ------------------------------------------------------------------------


def _spare_ready(ws, timeout: float = 120) -> int:
    """Warm a spare worker for ``ws`` and wait until it has imported the stack."""
    folder = JobStore(ws).folder / "spares"
    deadline = time.time() + timeout
    while not (ready := list(folder.glob("*.ready"))):
        JobStore(ws).warm()  # starts one unless one is waiting or importing
        assert time.time() < deadline, "the spare worker never got ready"
        time.sleep(0.2)
    return int(ready[0].name.split(".")[0])


@pytest.mark.parametrize("how", ["finish", "kill"])
def test_a_spare_worker_runs_the_next_job_and_ends_like_any_worker(
    adult_csv, fresh_ws, monkeypatch, how
):
    monkeypatch.setenv("LEPTON_WARM_WORKER", "1")
    pid = _spare_ready(fresh_ws)
    params = {} if how == "finish" else {"max_epochs": 200, "patience": 200}
    job = start_job(
        TrainConfig(
            data=str(adult_csv),
            target="Y",
            sensitive=["sex"],
            model="tree" if how == "finish" else "mlp",
            params=params,
            explain_rows=20,
        ),
        workspace=fresh_ws,
    )
    assert job.pid == pid  # handed to the spare, not a new process
    store = JobStore(fresh_ws)
    if how == "kill":
        _wait(store, job.id, until=lambda j: j.progress.phase == "training")
        os.kill(pid, signal.SIGKILL)
    done = _wait(store, job.id, until=lambda j: not j.active)
    if how == "finish":
        assert done.status == "succeeded", store.read_log(job.id)
        assert "model" in store.read_log(job.id)  # the spare wrote to the job's log
    else:
        assert done.status == "interrupted"
        assert done.model_version is None
    # The next spare is a different process.
    spare = _spare_ready(fresh_ws)
    assert spare != pid
    os.killpg(spare, signal.SIGTERM)  # spares outlive a test otherwise


def test_a_job_started_while_the_spare_imports_waits_for_that_spare(
    adult_csv, fresh_ws, monkeypatch
):
    from lepton_core.jobs import _executors

    monkeypatch.setenv("LEPTON_WARM_WORKER", "1")
    store = JobStore(fresh_ws)
    store.warm()
    importing = [p for p, where in _executors._starting.items() if where == store.folder / "spares"]
    assert len(importing) == 1 and not list((store.folder / "spares").glob("*.ready"))
    job = start_job(
        TrainConfig(data=str(adult_csv), target="Y", model="tree", explain_rows=20),
        workspace=fresh_ws,
    )
    # Handed to the spare once it had imported, not to a second Python beside it.
    assert job.pid == importing[0]
    done = _wait(store, job.id, until=lambda j: not j.active)
    assert done.status == "succeeded", store.read_log(job.id)


def test_importing_the_text_stack_leaves_a_spare_able_to_run_the_job():
    # The app imports torch for the Data page's token counts after its spare has started;
    # torch sets variables of its own, which must not make the spare a misfit.
    code = (
        "import os; from lepton_core.jobs import env_fingerprint as f; "
        "a = f(dict(os.environ)); import torch, transformers; "
        "print(a == f(dict(os.environ)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True", out.stderr[-2000:]


@pytest.mark.parametrize("workspace_deleted", [False, True])
def test_a_spare_gives_itself_up_when_its_starter_ends(tmp_path, workspace_deleted):
    folder = tmp_path / "spares"
    folder.mkdir()
    starter = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time; subprocess.Popen([sys.executable, '-m', "
            f"'lepton_core.worker', {str(folder)!r}, str(__import__('os').getpid())], "
            "start_new_session=True); time.sleep(60)",
        ]
    )
    deadline = time.time() + 120
    while not list(folder.glob("*.ready")):
        assert time.time() < deadline
        time.sleep(0.2)
    pid = int(next(folder.glob("*.ready")).name.split(".")[0])
    if workspace_deleted:
        shutil.rmtree(folder)  # a temporary workspace removed while its spare waits
    starter.kill()
    starter.wait()
    deadline = time.time() + 10
    cmdline = Path(f"/proc/{pid}/cmdline")
    while cmdline.exists() and b"lepton_core.worker" in cmdline.read_bytes():
        assert time.time() < deadline, "the unclaimed spare outlived its starter"
        time.sleep(0.1)
    assert not folder.exists() if workspace_deleted else not list(folder.iterdir())


# -- finished workers are reaped ------------------------------------------------------------


def _zombie(pid: int) -> bool:
    """Whether ``pid`` is a finished child of this process that nobody waited for."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False  # gone: reaped
    state, ppid = stat.rsplit(")", 1)[1].split()[:2]
    return state == "Z" and int(ppid) == os.getpid()


def _reaped(pid: int, timeout: float = 10) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads Linux's /proc")
def test_a_finished_worker_is_reaped_not_left_a_zombie(fresh_ws):
    store = JobStore(fresh_ws)
    job_id = store.create(TrainConfig(data="unused"), [sys.executable, "-c", "pass"]).id
    (job,) = store.promote()  # started by this process, as the app starts its jobs
    assert job.id == job_id and job.pid
    assert _reaped(job.pid), "the finished worker stayed in the process table (a zombie)"
    assert not _zombie(job.pid)
    assert store.get(job_id).status == "interrupted"  # it never reported: gone, not running


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads Linux's /proc")
def test_a_finished_training_job_leaves_no_zombie(adult_csv, fresh_ws):
    job = start_job(
        TrainConfig(data=str(adult_csv), target="Y", model="tree", explain_rows=10),
        workspace=fresh_ws,
    )
    store = JobStore(fresh_ws)
    done = _wait(store, job.id, until=lambda j: not j.active)
    assert done.status == "succeeded", store.read_log(job.id)
    assert _reaped(job.pid), "the finished worker stayed in the process table (a zombie)"
